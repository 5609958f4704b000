package grpcx_test

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/keelhq/keel/pkg/grpcx"
	"github.com/keelhq/keel/pkg/logging"
	"github.com/keelhq/keel/pkg/tenant"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

// echoEvaluator reports the tenant it was called for in the first finding,
// and panics when asked to.
type echoEvaluator struct {
	keelv1.UnimplementedEvaluatorServiceServer
}

func (echoEvaluator) Evaluate(ctx context.Context, req *keelv1.EvaluateRequest) (*keelv1.EvaluateResponse, error) {
	if req.GetDraft() == "panic" {
		panic("poison draft")
	}
	t, _ := tenant.From(ctx)
	_, hasDeadline := ctx.Deadline()
	reason := "no deadline"
	if hasDeadline {
		reason = "deadline"
	}
	return &keelv1.EvaluateResponse{Findings: []*keelv1.Finding{{Category: t, Reason: reason}}}, nil
}

func start(t *testing.T) keelv1.EvaluatorServiceClient {
	t.Helper()
	return keelv1.NewEvaluatorServiceClient(startServer(t, nil))
}

// startServer serves echoEvaluator and echoRouter with serverOpts on a
// loopback port and returns a connection to it dialled with dialOpts, after
// checking that health checks pass without a tenant or a token.
func startServer(t *testing.T, serverOpts []grpc.ServerOption, dialOpts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	srv := grpcx.NewServer(logging.Discard(), serverOpts...)
	keelv1.RegisterEvaluatorServiceServer(srv, echoEvaluator{})
	keelv1.RegisterModelRouterServiceServer(srv, echoRouter{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- grpcx.Serve(ctx, srv, lis) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve() = %v", err)
		}
	})

	conn, err := grpcx.Dial(lis.Addr().String(), dialOpts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	healthy, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil || healthy.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health check without tenant = %v, %v", healthy, err)
	}
	return conn
}

func TestTenantTravelsFromClientContextToHandler(t *testing.T) {
	t.Parallel()
	client := start(t)

	res, err := client.Evaluate(tenant.With(context.Background(), "acme"), &keelv1.EvaluateRequest{Draft: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.GetFindings()[0]; got.GetCategory() != "acme" || got.GetReason() != "deadline" {
		t.Fatalf("handler saw tenant %q with %s, want acme with a deadline", got.GetCategory(), got.GetReason())
	}
}

func TestServerRefusesCallsWithoutValidTenant(t *testing.T) {
	t.Parallel()
	client := start(t)
	tests := []struct {
		name string
		ctx  context.Context
	}{
		{name: "no tenant", ctx: context.Background()},
		{name: "malformed tenant", ctx: tenant.With(context.Background(), "ACME.*")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := client.Evaluate(tc.ctx, &keelv1.EvaluateRequest{})
			if status.Code(err) != codes.Unauthenticated {
				t.Fatalf("Evaluate() error = %v, want Unauthenticated", err)
			}
		})
	}
}

func TestPanicBecomesInternalAndServerSurvives(t *testing.T) {
	t.Parallel()
	client := start(t)
	ctx := tenant.With(context.Background(), "acme")

	_, err := client.Evaluate(ctx, &keelv1.EvaluateRequest{Draft: "panic"})
	if status.Code(err) != codes.Internal {
		t.Fatalf("Evaluate(panic) error = %v, want Internal", err)
	}
	if _, err := client.Evaluate(ctx, &keelv1.EvaluateRequest{Draft: "fine"}); err != nil {
		t.Fatalf("call after panic: %v", err)
	}
}
