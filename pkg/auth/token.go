// Package auth mints and verifies Keel's bearer tokens: compact JWTs signed
// with HMAC-SHA256 that carry a tenant, a subject and scopes, and live
// minutes to hours, never longer than MaxTTL.
package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keelhq/keel/pkg/tenant"
)

// Scopes a token may carry.
const (
	ScopeEmailsWrite  = "emails:write"
	ScopeReviewsRead  = "reviews:read"
	ScopeReviewsWrite = "reviews:write"
	ScopeAuditRead    = "audit:read"
	// ScopeModelsInvoke allows the OpenAI-compatible chat endpoints.
	ScopeModelsInvoke = "models:invoke"
)

// AllScopes lists every scope, for an operator token.
var AllScopes = []string{ScopeEmailsWrite, ScopeReviewsRead, ScopeReviewsWrite, ScopeAuditRead, ScopeModelsInvoke}

// MaxTTL is the longest lifetime a token may have.
const MaxTTL = 24 * time.Hour

// MinKeyLen is the shortest signing key accepted.
const MinKeyLen = 32

// clockSkew tolerates small differences between clocks.
const clockSkew = 30 * time.Second

// issuer is the iss claim of every Keel token.
const issuer = "keel"

var (
	// ErrTokenMalformed is returned when a token is not a well-formed Keel JWT.
	ErrTokenMalformed = errors.New("auth: malformed token")
	// ErrTokenSignature is returned when the signature does not verify.
	ErrTokenSignature = errors.New("auth: bad token signature")
	// ErrTokenExpired is returned when a token is past its expiry.
	ErrTokenExpired = errors.New("auth: token expired")
	// ErrTokenLifetime is returned for a token whose lifetime exceeds MaxTTL
	// or that is issued in the future.
	ErrTokenLifetime = errors.New("auth: token lifetime not allowed")
	// ErrKeyTooShort is returned when the signing key is shorter than MinKeyLen.
	ErrKeyTooShort = errors.New("auth: signing key too short")
)

// Claims is what a token asserts.
type Claims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Tenant    string   `json:"tenant"`
	Scopes    []string `json:"scope"`
	IssuedAt  int64    `json:"iat"`
	ExpiresAt int64    `json:"exp"`
	ID        string   `json:"jti"`
}

// HasScope reports whether c grants scope.
func (c Claims) HasScope(scope string) bool { return slices.Contains(c.Scopes, scope) }

var header = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

// Mint signs a token for subject in tenantID with scopes, valid for ttl from
// now. It returns ErrTokenLifetime when ttl is not in (0, MaxTTL].
func Mint(key []byte, tenantID, subject string, scopes []string, ttl time.Duration, now time.Time) (string, error) {
	if len(key) < MinKeyLen {
		return "", ErrKeyTooShort
	}
	if err := tenant.Valid(tenantID); err != nil {
		return "", err
	}
	if ttl <= 0 || ttl > MaxTTL {
		return "", fmt.Errorf("%w: ttl %s, want more than 0 and at most %s", ErrTokenLifetime, ttl, MaxTTL)
	}
	if subject == "" {
		return "", errors.New("auth: subject is required")
	}
	var jti [12]byte
	_, _ = rand.Read(jti[:])
	claims := Claims{
		Issuer:    issuer,
		Subject:   subject,
		Tenant:    tenantID,
		Scopes:    scopes,
		IssuedAt:  now.Unix(),
		ExpiresAt: now.Add(ttl).Unix(),
		ID:        hex.EncodeToString(jti[:]),
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("encode claims: %w", err)
	}
	signing := header + "." + base64.RawURLEncoding.EncodeToString(payload)
	return signing + "." + sign(key, signing), nil
}

// Verify checks token's signature, issuer, tenant and lifetime at now and
// returns its claims. It returns ErrTokenMalformed, ErrTokenSignature,
// ErrTokenExpired or ErrTokenLifetime.
func Verify(key []byte, token string, now time.Time) (Claims, error) {
	if len(key) < MinKeyLen {
		return Claims{}, ErrKeyTooShort
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[0] != header {
		return Claims{}, ErrTokenMalformed
	}
	want := sign(key, parts[0]+"."+parts[1])
	if !hmac.Equal([]byte(want), []byte(parts[2])) {
		return Claims{}, ErrTokenSignature
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return Claims{}, ErrTokenMalformed
	}
	var c Claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return Claims{}, ErrTokenMalformed
	}
	if c.Issuer != issuer || c.Subject == "" || tenant.Valid(c.Tenant) != nil {
		return Claims{}, ErrTokenMalformed
	}
	iat, exp := time.Unix(c.IssuedAt, 0), time.Unix(c.ExpiresAt, 0)
	if iat.After(now.Add(clockSkew)) || exp.Sub(iat) > MaxTTL {
		return Claims{}, ErrTokenLifetime
	}
	if !now.Before(exp.Add(clockSkew)) {
		return Claims{}, ErrTokenExpired
	}
	return c, nil
}

func sign(key []byte, s string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(s))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// DecodeKey decodes a base64 (standard or URL, padded or not) signing key
// and checks its length.
func DecodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) < MinKeyLen {
				return nil, ErrKeyTooShort
			}
			return b, nil
		}
	}
	return nil, errors.New("auth: signing key is not base64")
}

// Verifier verifies tokens with one key and remembers the claims of tokens
// it verified, so that a client sending the same token on every request
// costs a map lookup instead of an HMAC and a JSON decode. The lifetime is
// still checked on every call. It is safe for concurrent use.
type Verifier struct {
	key []byte
	max int

	mu     sync.Mutex
	claims map[string]Claims
}

// DefaultVerifierCache is how many tokens a Verifier remembers.
const DefaultVerifierCache = 4096

// NewVerifier returns a Verifier for key remembering up to size tokens.
func NewVerifier(key []byte, size int) *Verifier {
	return &Verifier{key: key, max: max(size, 1), claims: make(map[string]Claims)}
}

// Verify is Verify with the Verifier's key.
func (v *Verifier) Verify(token string, now time.Time) (Claims, error) {
	v.mu.Lock()
	c, ok := v.claims[token]
	v.mu.Unlock()
	if ok {
		if !now.Before(time.Unix(c.ExpiresAt, 0).Add(clockSkew)) {
			return Claims{}, ErrTokenExpired
		}
		return c, nil
	}
	c, err := Verify(v.key, token, now)
	if err != nil {
		return Claims{}, err
	}
	v.mu.Lock()
	if len(v.claims) >= v.max {
		// Forget everything rather than track recency: verified again
		// on their next use, the tokens in use come straight back.
		clear(v.claims)
	}
	v.claims[token] = c
	v.mu.Unlock()
	return c, nil
}
