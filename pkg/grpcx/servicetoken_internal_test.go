package grpcx

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keelhq/keel/pkg/auth"
	"github.com/keelhq/keel/pkg/tenant"
)

func TestServiceCredentialsMintATokenForTheContextsTenant(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte("k"), auth.MinKeyLen)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	creds := serviceCredentials{key: key, service: "workflows", now: func() time.Time { return now }}

	md, err := creds.GetRequestMetadata(context.Background())
	if err != nil || md != nil {
		t.Fatalf("metadata without tenant = %v, %v; want none", md, err)
	}

	md, err = creds.GetRequestMetadata(tenant.With(context.Background(), "acme"))
	if err != nil {
		t.Fatal(err)
	}
	token, ok := strings.CutPrefix(md["authorization"], "Bearer ")
	if !ok {
		t.Fatalf("authorization = %q, want a bearer token", md["authorization"])
	}
	claims, err := auth.Verify(key, token, now)
	if err != nil {
		t.Fatal(err)
	}
	want := auth.Claims{
		Issuer:    "keel",
		Subject:   "service:workflows",
		Tenant:    "acme",
		Scopes:    []string{ServiceScope},
		IssuedAt:  now.Unix(),
		ExpiresAt: now.Add(ServiceTokenTTL).Unix(),
		ID:        claims.ID,
	}
	if diff := cmp.Diff(want, claims); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}
	if creds.RequireTransportSecurity() {
		t.Error("RequireTransportSecurity() = true; services talk plaintext on loopback")
	}
}
