package qdrant

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

var (
	// ErrUnavailable is returned when Qdrant cannot be reached or sheds
	// load (gRPC Unavailable, ResourceExhausted or Aborted). The call may
	// succeed when retried; the error still carries the gRPC status, so
	// status.Code reports the original code.
	ErrUnavailable = errors.New("qdrant: unavailable")
	// ErrUnauthorized is returned when Qdrant refuses the API key.
	ErrUnauthorized = errors.New("qdrant: api key refused")
)

// callError wraps the error of a call to Qdrant with the action that
// failed. An ended context is reported as its own error, and the status
// codes callers must tell apart as ErrUnavailable, ErrUnauthorized,
// context.DeadlineExceeded or context.Canceled; the gRPC status stays in
// the chain.
func callError(ctx context.Context, action string, err error) error {
	if err == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s: %w: %w", action, ctxErr, err)
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.ResourceExhausted, codes.Aborted:
		return fmt.Errorf("%s: %w: %w", action, ErrUnavailable, err)
	case codes.PermissionDenied, codes.Unauthenticated:
		return fmt.Errorf("%s: %w: %w", action, ErrUnauthorized, err)
	case codes.DeadlineExceeded:
		return fmt.Errorf("%s: %w: %w", action, context.DeadlineExceeded, err)
	case codes.Canceled:
		return fmt.Errorf("%s: %w: %w", action, context.Canceled, err)
	default:
		return fmt.Errorf("%s: %w", action, err)
	}
}

// isNotFound reports whether err is Qdrant's answer for a missing
// collection.
func isNotFound(err error) bool {
	return status.Code(err) == codes.NotFound
}

// isAlreadyExists reports whether err is Qdrant's answer for creating a
// collection that exists.
func isAlreadyExists(err error) bool {
	return status.Code(err) == codes.AlreadyExists
}
