// Package tenant carries the tenant of a request through contexts, gRPC
// metadata and NATS headers, and checks that tenant ids are well formed.
package tenant

import (
	"context"
	"errors"
	"fmt"
	"regexp"
)

// MetadataKey is the gRPC metadata key that carries the tenant between Keel
// services.
const MetadataKey = "keel-tenant"

// Header is the NATS message header that carries the tenant. It must agree
// with the tenant token of the subject.
const Header = "Keel-Tenant"

var (
	// ErrMissing is returned by Require when the context carries no tenant.
	ErrMissing = errors.New("tenant: missing")
	// ErrInvalid is returned by Valid for a malformed tenant id.
	ErrInvalid = errors.New("tenant: invalid id")
)

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

type contextKey struct{}

// With returns a copy of ctx that carries tenant id.
func With(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, contextKey{}, id)
}

// From returns the tenant carried by ctx, if any.
func From(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(contextKey{}).(string)
	return id, ok && id != ""
}

// Require returns the tenant carried by ctx, or ErrMissing.
func Require(ctx context.Context) (string, error) {
	id, ok := From(ctx)
	if !ok {
		return "", ErrMissing
	}
	return id, nil
}

// Valid reports whether id is a well-formed tenant id: lowercase letters,
// digits, '-' and '_', starting with a letter or digit, at most 63 long. Tenant
// ids become NATS subject tokens, so dots, wildcards and spaces are refused.
// It returns an error wrapping ErrInvalid.
func Valid(id string) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("%w: %q", ErrInvalid, id)
	}
	return nil
}
