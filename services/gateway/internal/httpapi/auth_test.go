package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel/pkg/auth"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

func TestAuthRefusesBadCredentials(t *testing.T) {
	t.Parallel()

	mint := func(key string, issued time.Time, ttl time.Duration, scopes ...string) string {
		t.Helper()
		tok, err := auth.Mint([]byte(key), "acme", "ana", scopes, ttl, issued)
		if err != nil {
			t.Fatalf("mint: %v", err)
		}
		return tok
	}
	// A reviewer's signature over an operator's claims.
	reviewer := strings.Split(mint(testKey, testNow(), time.Hour, auth.ScopeReviewsRead), ".")
	operator := strings.Split(mint(testKey, testNow(), time.Hour, auth.AllScopes...), ".")
	swapped := reviewer[0] + "." + operator[1] + "." + reviewer[2]

	tests := []struct {
		name          string
		authorization string
		status        int
		problemType   string
		challenge     string
	}{
		{
			name:        "no header",
			status:      http.StatusUnauthorized,
			problemType: "urn:keel:problem:token-missing",
			challenge:   `Bearer realm="keel"`,
		},
		{
			name:          "other scheme",
			authorization: "Basic YW5hOnNlY3JldA==",
			status:        http.StatusUnauthorized,
			problemType:   "urn:keel:problem:token-missing",
			challenge:     `Bearer realm="keel"`,
		},
		{
			name:          "empty bearer",
			authorization: "Bearer ",
			status:        http.StatusUnauthorized,
			problemType:   "urn:keel:problem:token-malformed",
			challenge:     `error="invalid_token"`,
		},
		{
			name:          "malformed",
			authorization: "Bearer not-a-jwt",
			status:        http.StatusUnauthorized,
			problemType:   "urn:keel:problem:token-malformed",
			challenge:     `error="invalid_token"`,
		},
		{
			name: "expired",
			authorization: "Bearer " + mint(testKey, testNow().Add(-2*time.Hour), time.Hour,
				auth.ScopeReviewsRead),
			status:      http.StatusUnauthorized,
			problemType: "urn:keel:problem:token-expired",
			challenge:   `error="invalid_token"`,
		},
		{
			name: "signed with another key",
			authorization: "Bearer " + mint("another-key-0123456789abcdef0123456", testNow(), time.Hour,
				auth.ScopeReviewsRead),
			status:      http.StatusUnauthorized,
			problemType: "urn:keel:problem:token-signature",
			challenge:   `error="invalid_token"`,
		},
		{
			name:          "payload swapped",
			authorization: "Bearer " + swapped,
			status:        http.StatusUnauthorized,
			problemType:   "urn:keel:problem:token-signature",
			challenge:     `error="invalid_token"`,
		},
		{
			name: "issued in the future",
			authorization: "Bearer " + mint(testKey, testNow().Add(time.Hour), time.Hour,
				auth.ScopeReviewsRead),
			status:      http.StatusUnauthorized,
			problemType: "urn:keel:problem:token-lifetime",
			challenge:   `error="invalid_token"`,
		},
		{
			name: "missing scope",
			authorization: "Bearer " + mint(testKey, testNow(), time.Hour,
				auth.ScopeEmailsWrite, auth.ScopeReviewsWrite),
			status:      http.StatusForbidden,
			problemType: "urn:keel:problem:insufficient-scope",
			challenge:   `error="insufficient_scope", scope="reviews:read"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newTestEnv(t)
			env.temporal.AddRun("copilot/acme/e1", &keelv1.CopilotStatus{Stage: "awaiting_review"})

			req := httptest.NewRequest(http.MethodGet, "/v1/reviews/e1", nil)
			if tt.authorization != "" {
				req.Header.Set("Authorization", tt.authorization)
			}
			rec := httptest.NewRecorder()
			env.handler.ServeHTTP(rec, req)

			p := decodeProblem(t, rec, tt.status)
			if p.Type != tt.problemType {
				t.Errorf("problem type = %q, want %q (detail %q)", p.Type, tt.problemType, p.Detail)
			}
			if got := rec.Header().Get("WWW-Authenticate"); !strings.Contains(got, tt.challenge) {
				t.Errorf("WWW-Authenticate = %q, want it to contain %q", got, tt.challenge)
			}
			if q := env.temporal.Queried(); len(q) != 0 {
				t.Errorf("temporal was queried for %v before the token was accepted", q)
			}
		})
	}
}

func TestAuthAcceptsValidToken(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.temporal.AddRun("copilot/acme/e1", &keelv1.CopilotStatus{Stage: "awaiting_review"})

	// The scheme is case-insensitive (RFC 9110).
	req := httptest.NewRequest(http.MethodGet, "/v1/reviews/e1", nil)
	req.Header.Set("Authorization", "bearer "+token(t, "acme", "ana", auth.ScopeReviewsRead))
	rec := httptest.NewRecorder()
	env.handler.ServeHTTP(rec, req)

	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", rec.Code, rec.Body)
	}
}

func TestHealthzNeedsNoToken(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)

	got := decodeJSON[map[string]string](t, env.do(t, http.MethodGet, "/healthz", "", ""), http.StatusOK)

	if got["status"] != "ok" {
		t.Errorf("status = %q, want ok", got["status"])
	}
}
