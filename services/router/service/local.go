package service

import (
	"context"
	"sync"
	"time"

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
// caller. Calls made before Run serves wait for it (up to the call's
// context, or startWait); calls after Run has stopped fail with
// Unavailable.
type Local struct {
	// mu is held for reading by every call in flight, so that unbind, which
	// takes it for writing, returns only once they are all done and Run
	// can close what they record into.
	mu     sync.RWMutex
	server *modelRouterServer

	// ready is closed at the first bind or at unbind, whichever comes
	// first; after it, server says whether Run serves.
	ready     chan struct{}
	readyOnce sync.Once
	// done is mu.RUnlock, made once: a method value made per call is an
	// allocation per call.
	done func()
}

// startWait bounds how long a call waits for a router that has not started
// serving: its catch-up wait, and a little more.
const startWait = catchUpWait + 5*time.Second

// NewLocal returns a Local that Run will bind.
func NewLocal() *Local {
	l := &Local{ready: make(chan struct{})}
	l.done = l.mu.RUnlock
	return l
}

// Ready is closed once Run serves calls through l (the routes are loaded
// and limits have counted the usage already published), or has ended
// without serving; Serving tells which.
func (l *Local) Ready() <-chan struct{} { return l.ready }

// Serving reports whether Run serves calls through l now.
func (l *Local) Serving() bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.server != nil
}

func (l *Local) bind(s *modelRouterServer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.server = s
	l.readyOnce.Do(func() { close(l.ready) })
}

// unbind makes new calls fail with Unavailable and waits for those in
// flight. Run calls it when it ends, bound or not.
func (l *Local) unbind() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.server = nil
	// Calls waiting for a start that will not come fail now.
	l.readyOnce.Do(func() { close(l.ready) })
}

// get returns the bound server and the function that ends the call,
// waiting for Run to start serving when it has not yet.
func (l *Local) get(ctx context.Context) (*modelRouterServer, func(), error) {
	select {
	case <-l.ready:
	default:
		t := time.NewTimer(startWait)
		defer t.Stop()
		select {
		case <-l.ready:
		case <-ctx.Done():
			return nil, nil, status.FromContextError(ctx.Err()).Err()
		case <-t.C:
			return nil, nil, status.Error(codes.Unavailable, "router is still starting")
		}
	}
	l.mu.RLock()
	if l.server == nil {
		l.mu.RUnlock()
		return nil, nil, status.Error(codes.Unavailable, "router is not running")
	}
	return l.server, l.done, nil
}

// Generate is ModelRouterService.Generate.
func (l *Local) Generate(ctx context.Context, req *keelv1.GenerateRequest) (*keelv1.GenerateResponse, error) {
	s, done, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	return s.Generate(ctx, req)
}

// GenerateStream is ModelRouterService.GenerateStream, with send in place of
// the server stream.
func (l *Local) GenerateStream(
	ctx context.Context,
	req *keelv1.GenerateRequest,
	send func(*keelv1.GenerateStreamResponse) error,
) error {
	s, done, err := l.get(ctx)
	if err != nil {
		return err
	}
	defer done()
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
	s, done, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	return s.ListRoutes(ctx, req)
}
