package auth

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestMintVerify(t *testing.T) {
	t.Parallel()
	key := []byte(strings.Repeat("k", 32))
	other := []byte(strings.Repeat("o", 32))
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

	tok, err := Mint(key, "acme", "user:ana", []string{ScopeReviewsRead}, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Verify(key, tok, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if c.Tenant != "acme" || c.Subject != "user:ana" || !c.HasScope(ScopeReviewsRead) || c.HasScope(ScopeReviewsWrite) {
		t.Fatalf("claims = %+v", c)
	}

	parts := strings.Split(tok, ".")
	payload := []byte(parts[1])
	payload[10] ^= 1
	forged := parts[0] + "." + string(payload) + "." + parts[2]
	tests := []struct {
		name  string
		key   []byte
		token string
		at    time.Time
		want  error
	}{
		{name: "expired", key: key, token: tok, at: now.Add(2 * time.Hour), want: ErrTokenExpired},
		{name: "other key", key: other, token: tok, at: now, want: ErrTokenSignature},
		{name: "garbage", key: key, token: "abc", at: now, want: ErrTokenMalformed},
		{name: "tampered payload", key: key, token: forged, at: now, want: ErrTokenSignature},
		{name: "issued in future", key: key, token: tok, at: now.Add(-time.Hour), want: ErrTokenLifetime},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := Verify(tc.key, tc.token, tc.at); !errors.Is(err, tc.want) {
				t.Fatalf("Verify() error = %v, want %v", err, tc.want)
			}
		})
	}

	if _, err := Mint(key, "acme", "u", nil, 48*time.Hour, now); !errors.Is(err, ErrTokenLifetime) {
		t.Fatalf("long ttl: %v", err)
	}
	if _, err := Mint(key[:8], "acme", "u", nil, time.Hour, now); !errors.Is(err, ErrKeyTooShort) {
		t.Fatalf("short key: %v", err)
	}
}

func TestVerifierCache(t *testing.T) {
	t.Parallel()

	key := []byte(strings.Repeat("k", MinKeyLen))
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	tok, err := Mint(key, "acme", "ana", []string{ScopeModelsInvoke}, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	v := NewVerifier(key, 2)

	for range 3 {
		c, err := v.Verify(tok, now)
		if err != nil || c.Tenant != "acme" || !c.HasScope(ScopeModelsInvoke) {
			t.Fatalf("Verify = %+v, %v", c, err)
		}
	}
	// A remembered token still expires.
	if _, err := v.Verify(tok, now.Add(2*time.Hour)); !errors.Is(err, ErrTokenExpired) {
		t.Errorf("expired remembered token: %v", err)
	}
	// A forged token is never remembered as good.
	forged := tok[:len(tok)-2] + "xx"
	for range 2 {
		if _, err := v.Verify(forged, now); !errors.Is(err, ErrTokenSignature) {
			t.Errorf("forged token: %v", err)
		}
	}
	// More tokens than the cache holds still verify.
	for i := range 5 {
		other, _ := Mint(key, "acme", fmt.Sprintf("user%d", i), nil, time.Hour, now)
		if _, err := v.Verify(other, now); err != nil {
			t.Errorf("token %d: %v", i, err)
		}
	}
}
