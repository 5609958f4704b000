// Package grpcx builds Keel's gRPC servers and clients: tenant metadata in
// both directions, signed service tokens, panic recovery, logging, default
// deadlines, health and reflection.
package grpcx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/keelhq/keel/pkg/tenant"
)

// ShutdownTimeout bounds the graceful stop of Serve; unfinished calls are
// then cancelled.
const ShutdownTimeout = 10 * time.Second

// NewServer returns a gRPC server whose every call, except health checks and
// reflection, must carry a valid tenant in the keel-tenant metadata; the
// tenant is then available through tenant.From. Panics in handlers become
// codes.Internal. Health and reflection services are registered.
//
// The interceptors of opts run before those of NewServer: with the options
// of RequireServiceTokens, the keel-tenant metadata is taken only once a
// service token signed for that tenant vouches for it. Without them the
// metadata is trusted as it stands, which is only safe on a private network.
//
// TODO: take the tenant from the caller's mTLS identity.
func NewServer(logger *slog.Logger, opts ...grpc.ServerOption) *grpc.Server {
	opts = append(opts,
		grpc.ChainUnaryInterceptor(unaryRecover(logger), unaryTenant, unaryLog(logger)),
		grpc.ChainStreamInterceptor(streamRecover(logger), streamTenant, streamLog(logger)),
	)
	srv := grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	reflection.Register(srv)
	return srv
}

// Serve serves srv on lis until ctx ends, then stops gracefully, cancelling
// calls still running after ShutdownTimeout. It returns nil after a stop
// caused by ctx.
func Serve(ctx context.Context, srv *grpc.Server, lis net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()

	select {
	case err := <-errc:
		return fmt.Errorf("serve grpc on %s: %w", lis.Addr(), err)
	case <-ctx.Done():
	}

	stopped := make(chan struct{})
	go func() {
		srv.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(ShutdownTimeout):
		srv.Stop()
	}
	if err := <-errc; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("serve grpc: %w", err)
	}
	return nil
}

// Listen opens a TCP listener on addr, or returns lis when it is not nil.
func Listen(addr string, lis net.Listener) (net.Listener, error) {
	if lis != nil {
		return lis, nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	return l, nil
}

// exempt reports whether method may be called without a tenant.
func exempt(method string) bool {
	return strings.HasPrefix(method, "/grpc.health.v1.") ||
		strings.HasPrefix(method, "/grpc.reflection.")
}

func tenantContext(ctx context.Context, method string) (context.Context, error) {
	if exempt(method) {
		return ctx, nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get(tenant.MetadataKey)
	if len(vals) != 1 || vals[0] == "" {
		return nil, status.Error(codes.Unauthenticated, "the call carries no tenant")
	}
	if err := tenant.Valid(vals[0]); err != nil {
		return nil, status.Error(codes.Unauthenticated, err.Error())
	}
	return tenant.With(ctx, vals[0]), nil
}

func unaryTenant(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	ctx, err := tenantContext(ctx, info.FullMethod)
	if err != nil {
		return nil, err
	}
	return next(ctx, req)
}

type wrappedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (w wrappedStream) Context() context.Context { return w.ctx }

func streamTenant(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) error {
	ctx, err := tenantContext(ss.Context(), info.FullMethod)
	if err != nil {
		return err
	}
	return next(srv, wrappedStream{ServerStream: ss, ctx: ctx})
}

func unaryRecover(logger *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if r := recover(); r != nil {
				logger.Error("grpc handler panic", "method", info.FullMethod, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = status.Error(codes.Internal, "internal error")
			}
		}()
		return next(ctx, req)
	}
}

func streamRecover(logger *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) (err error) {
		defer func() {
			if r := recover(); r != nil {
				logger.Error("grpc stream panic", "method", info.FullMethod, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = status.Error(codes.Internal, "internal error")
			}
		}()
		return next(srv, ss)
	}
}

func unaryLog(logger *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := next(ctx, req)
		logCall(ctx, logger, info.FullMethod, start, err)
		return resp, err
	}
}

func streamLog(logger *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) error {
		start := time.Now()
		err := next(srv, ss)
		logCall(ss.Context(), logger, info.FullMethod, start, err)
		return err
	}
}

func logCall(ctx context.Context, logger *slog.Logger, method string, start time.Time, err error) {
	code := status.Code(err)
	level := slog.LevelDebug
	switch code {
	case codes.Internal, codes.Unknown, codes.DataLoss:
		level = slog.LevelError
	}
	t, _ := tenant.From(ctx)
	logger.Log(ctx, level, "grpc call", "method", method, "tenant", t, "code", code.String(),
		"duration_ms", time.Since(start).Milliseconds())
}
