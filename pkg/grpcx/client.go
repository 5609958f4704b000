package grpcx

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/keelhq/keel/pkg/tenant"
)

// DefaultCallTimeout is the deadline Dial's clients give a call whose
// context has none: every RPC takes a deadline.
const DefaultCallTimeout = 10 * time.Second

// Dial returns a client connection to target that copies the tenant of each
// call's context into the keel-tenant metadata and adds DefaultCallTimeout
// when the context has no deadline. Servers built with RequireServiceTokens
// also need the option WithServiceToken.
//
// TODO: mTLS between services; connections are plaintext on loopback.
func Dial(target string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	opts = append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(unaryClient),
		grpc.WithChainStreamInterceptor(streamClient),
	}, opts...)
	conn, err := grpc.NewClient(target, opts...)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", target, err)
	}
	return conn, nil
}

func outgoing(ctx context.Context) context.Context {
	if t, ok := tenant.From(ctx); ok {
		ctx = metadata.AppendToOutgoingContext(ctx, tenant.MetadataKey, t)
	}
	return ctx
}

func unaryClient(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	ctx = outgoing(ctx)
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultCallTimeout)
		defer cancel()
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

func streamClient(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	// Streams run as long as their caller's context: a default deadline would
	// cut long generations, so only the tenant is added here.
	return streamer(outgoing(ctx), desc, cc, method, opts...)
}
