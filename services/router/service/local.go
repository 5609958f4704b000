package service

import (
	"context"
	"sync/atomic"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

// Local serves the ModelRouterService calls in process, for a caller that
// runs in the same binary (the gateway under `keel dev`): the same checks,
// limits, routing and records as over gRPC, without the network hop. The
// tenant comes from the context (tenant.With), as the gRPC server takes it
// from the verified metadata.
//
// Create it with NewLocal, pass it in Deps.Local, and hand it to the
// caller; until Run has loaded the routes, its calls fail with Unavailable.
type Local struct {
	server atomic.Pointer[modelRouterServer]
}

// NewLocal returns a Local that Run will bind.
func NewLocal() *Local { return &Local{} }

func (l *Local) get() (*modelRouterServer, error) {
	s := l.server.Load()
	if s == nil {
		return nil, status.Error(codes.Unavailable, "router is starting")
	}
	return s, nil
}

// Generate is ModelRouterService.Generate.
func (l *Local) Generate(ctx context.Context, req *keelv1.GenerateRequest) (*keelv1.GenerateResponse, error) {
	s, err := l.get()
	if err != nil {
		return nil, err
	}
	return s.Generate(ctx, req)
}

// GenerateStream is ModelRouterService.GenerateStream, with send in place of
// the server stream.
func (l *Local) GenerateStream(
	ctx context.Context,
	req *keelv1.GenerateRequest,
	send func(*keelv1.GenerateStreamResponse) error,
) error {
	s, err := l.get()
	if err != nil {
		return err
	}
	if err := requireTenant(ctx); err != nil {
		return err
	}
	preq, err := toProviderRequest(req)
	if err != nil {
		return err
	}
	return s.generateStream(ctx, req, preq, send)
}

// ListRoutes is ModelRouterService.ListRoutes.
func (l *Local) ListRoutes(ctx context.Context, req *keelv1.ListRoutesRequest) (*keelv1.ListRoutesResponse, error) {
	s, err := l.get()
	if err != nil {
		return nil, err
	}
	return s.ListRoutes(ctx, req)
}
