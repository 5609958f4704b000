package grpcx_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/keelhq/keel/pkg/auth"
	"github.com/keelhq/keel/pkg/grpcx"
	"github.com/keelhq/keel/pkg/tenant"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

// echoRouter streams back the tenant it was called for.
type echoRouter struct {
	keelv1.UnimplementedModelRouterServiceServer
}

func (echoRouter) GenerateStream(_ *keelv1.GenerateStreamRequest, stream keelv1.ModelRouterService_GenerateStreamServer) error {
	t, _ := tenant.From(stream.Context())
	return stream.Send(&keelv1.GenerateStreamResponse{Delta: t})
}

var (
	serviceKey = bytes.Repeat([]byte("k"), auth.MinKeyLen)
	otherKey   = bytes.Repeat([]byte("o"), auth.MinKeyLen)
)

// evaluateTenant returns the tenant the evaluator saw for a call with ctx.
func evaluateTenant(ctx context.Context, conn *grpc.ClientConn) (string, error) {
	res, err := keelv1.NewEvaluatorServiceClient(conn).Evaluate(ctx, &keelv1.EvaluateRequest{Draft: "hi"})
	if err != nil {
		return "", err
	}
	return res.GetFindings()[0].GetCategory(), nil
}

// streamTenant returns the tenant the router's stream saw for a call with
// ctx.
func streamTenant(ctx context.Context, conn *grpc.ClientConn) (string, error) {
	stream, err := keelv1.NewModelRouterServiceClient(conn).GenerateStream(ctx, &keelv1.GenerateStreamRequest{})
	if err != nil {
		return "", err
	}
	msg, err := stream.Recv()
	if err != nil {
		return "", err
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		return "", err
	}
	return msg.GetDelta(), nil
}

// Each call mints its token from its own context: two tenants in turn on
// one connection both get through, which they could not if the credentials
// saw another context than the call's (the token's tenant must equal the
// keel-tenant metadata).
func TestServiceTokensCarryEachCallsTenant(t *testing.T) {
	t.Parallel()
	conn := startServer(t, grpcx.RequireServiceTokens(serviceKey), grpcx.WithServiceToken(serviceKey, "test"))

	for _, want := range []string{"acme", "globex"} {
		ctx := tenant.With(context.Background(), want)
		if got, err := evaluateTenant(ctx, conn); err != nil || got != want {
			t.Errorf("unary call for %s: handler saw %q, %v", want, got, err)
		}
		if got, err := streamTenant(ctx, conn); err != nil || got != want {
			t.Errorf("stream for %s: handler saw %q, %v", want, got, err)
		}
	}
}

func TestServerRefusesCallsWithoutValidServiceToken(t *testing.T) {
	t.Parallel()
	opts := grpcx.RequireServiceTokens(serviceKey)
	plain := startServer(t, opts)
	wrongKey := startServer(t, opts, grpcx.WithServiceToken(otherKey, "test"))
	rightKey := startServer(t, opts, grpcx.WithServiceToken(serviceKey, "test"))

	mint := func(tenantID, subject string, scopes []string, now time.Time) string {
		t.Helper()
		tok, err := auth.Mint(serviceKey, tenantID, subject, scopes, time.Minute, now)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	now := time.Now()
	internal := []string{grpcx.ServiceScope}
	tests := []struct {
		name          string
		conn          *grpc.ClientConn
		tenant        string
		authorization string
		// message, when set, is a part of the status message: it says
		// what is wrong.
		message string
	}{
		{name: "no token", conn: plain, tenant: "acme", message: "carries no service token"},
		{name: "token of another tenant", conn: plain, tenant: "globex",
			authorization: "Bearer " + mint("acme", "service:test", internal, now), message: "for another tenant"},
		{name: "two tokens", conn: rightKey, tenant: "acme",
			authorization: "Bearer " + mint("acme", "service:test", internal, now), message: "more than one authorization"},
		{name: "token signed with another key", conn: wrongKey, tenant: "acme"},
		{name: "expired token", conn: plain, tenant: "acme",
			authorization: "Bearer " + mint("acme", "service:test", internal, now.Add(-10*time.Minute))},
		{name: "user token", conn: plain, tenant: "acme",
			authorization: "Bearer " + mint("acme", "riley", auth.AllScopes, now)},
		{name: "internal scope without service subject", conn: plain, tenant: "acme",
			authorization: "Bearer " + mint("acme", "riley", internal, now)},
		{name: "not a bearer token", conn: plain, tenant: "acme",
			authorization: "Basic " + mint("acme", "service:test", internal, now)},
		{name: "valid token but no tenant metadata", conn: plain,
			authorization: "Bearer " + mint("acme", "service:test", internal, now), message: "names no tenant"},
		{name: "malformed tenant", conn: rightKey, tenant: "ACME.*"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.tenant != "" {
				ctx = tenant.With(ctx, tc.tenant)
			}
			if tc.authorization != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, "authorization", tc.authorization)
			}
			if got, err := evaluateTenant(ctx, tc.conn); status.Code(err) != codes.Unauthenticated ||
				!strings.Contains(status.Convert(err).Message(), tc.message) {
				t.Errorf("unary call: handler saw %q, error %v; want Unauthenticated saying %q", got, err, tc.message)
			}
			if got, err := streamTenant(ctx, tc.conn); status.Code(err) != codes.Unauthenticated {
				t.Errorf("stream: handler saw %q, error %v; want Unauthenticated", got, err)
			}
		})
	}
}

func TestHealthCheckNeedsNoServiceToken(t *testing.T) {
	t.Parallel()
	conn := startServer(t, grpcx.RequireServiceTokens(serviceKey))

	for _, ctx := range []context.Context{context.Background(), tenant.With(context.Background(), "acme")} {
		res, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		if err != nil || res.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health check without token = %v, %v; want SERVING", res, err)
		}
	}
	if _, err := evaluateTenant(tenant.With(context.Background(), "acme"), conn); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("Evaluate without token: %v, want Unauthenticated", err)
	}
}

func TestServiceAuth(t *testing.T) {
	t.Parallel()
	off, err := grpcx.NewServiceAuth("", "test")
	if err != nil || off.Enabled() || off.ServerOptions() != nil || off.DialOptions() != nil {
		t.Fatalf("NewServiceAuth(\"\") = %+v, %v; want it off with no options", off, err)
	}
	if _, err := grpcx.NewServiceAuth("not base64!", "test"); err == nil {
		t.Fatal("NewServiceAuth accepted a malformed key")
	}
	if _, err := grpcx.NewServiceAuth("c2hvcnQ=", "test"); !errors.Is(err, auth.ErrKeyTooShort) {
		t.Fatalf("NewServiceAuth(short key) error = %v, want ErrKeyTooShort", err)
	}

	encoded := "a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s=" // 32 times "k": serviceKey
	on, err := grpcx.NewServiceAuth(encoded, "test")
	if err != nil || !on.Enabled() {
		t.Fatalf("NewServiceAuth(key) = %+v, %v; want it on", on, err)
	}
	conn := startServer(t, on.ServerOptions(), on.DialOptions()...)
	if got, err := evaluateTenant(tenant.With(context.Background(), "acme"), conn); err != nil || got != "acme" {
		t.Fatalf("call with ServiceAuth on both sides: handler saw %q, %v", got, err)
	}
	plain := startServer(t, on.ServerOptions())
	if _, err := evaluateTenant(tenant.With(context.Background(), "acme"), plain); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("call without token to a ServiceAuth server: %v, want Unauthenticated", err)
	}
}
