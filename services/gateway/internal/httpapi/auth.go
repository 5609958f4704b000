package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/keelhq/keel/pkg/auth"
	"github.com/keelhq/keel/pkg/tenant"
)

// realm names the protection space in WWW-Authenticate challenges.
const realm = "keel"

type claimsKey struct{}

// claimsFrom returns the verified claims that authorize put in ctx.
func claimsFrom(ctx context.Context) auth.Claims {
	c, _ := ctx.Value(claimsKey{}).(auth.Claims)
	return c
}

// authorize verifies the bearer token of the request and its scope, then
// calls next with the claims and the token's tenant in the context. The
// tenant never comes from anywhere else: not the body, not the path.
func (h *handler) authorize(scope string, next apiFunc) apiFunc {
	return h.authenticate(scope, func(w http.ResponseWriter, r *http.Request) error {
		ctx, cancel := context.WithTimeout(r.Context(), h.requestTimeout)
		defer cancel()
		return next(w, r.WithContext(ctx))
	})
}

// authenticate verifies the bearer token and the scope like authorize, and
// sets no deadline of its own.
func (h *handler) authenticate(scope string, next apiFunc) apiFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		token, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok {
			return &apiError{
				status:    http.StatusUnauthorized,
				kind:      "token-missing",
				title:     "Authentication required",
				detail:    "send a bearer token in the Authorization header",
				challenge: fmt.Sprintf("Bearer realm=%q", realm),
			}
		}

		claims, err := h.verifier.Verify(token, h.now())
		if err != nil {
			return tokenError(err)
		}
		if info := requestInfoFrom(r.Context()); info != nil {
			info.tenant = claims.Tenant
		}

		if !claims.HasScope(scope) {
			return &apiError{
				status: http.StatusForbidden,
				kind:   "insufficient-scope",
				title:  "Insufficient scope",
				detail: fmt.Sprintf("the token lacks the %s scope", scope),
				challenge: fmt.Sprintf("Bearer realm=%q, error=\"insufficient_scope\", scope=%q",
					realm, scope),
			}
		}

		ctx := context.WithValue(r.Context(), claimsKey{}, claims)
		ctx = tenant.With(ctx, claims.Tenant)
		return next(w, r.WithContext(ctx))
	}
}

// bearerToken returns the token of an "Authorization: Bearer <token>"
// header. It reports false when the header is absent or uses another
// scheme; an empty token is returned as "" with true so that it is refused
// as malformed.
func bearerToken(header string) (string, bool) {
	scheme, token, _ := strings.Cut(strings.TrimSpace(header), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// tokenError describes why a token was refused. Each reason has its own
// problem type, so a client can tell "refresh the token" (expired) from "the
// token is wrong" (everything else).
func tokenError(err error) *apiError {
	e := &apiError{
		status: http.StatusUnauthorized,
		title:  "Invalid token",
		cause:  err,
	}
	switch {
	case errors.Is(err, auth.ErrTokenExpired):
		e.kind, e.detail = "token-expired", "the token has expired"
	case errors.Is(err, auth.ErrTokenSignature):
		e.kind, e.detail = "token-signature", "the token signature does not verify"
	case errors.Is(err, auth.ErrTokenLifetime):
		e.kind, e.detail = "token-lifetime", "the token is issued in the future or lives too long"
	default:
		e.kind, e.detail = "token-malformed", "the token is not a well-formed Keel token"
	}
	e.challenge = fmt.Sprintf("Bearer realm=%q, error=\"invalid_token\", error_description=%q",
		realm, e.detail)
	return e
}
