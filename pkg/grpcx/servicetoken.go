package grpcx

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/keelhq/keel/pkg/auth"
	"github.com/keelhq/keel/pkg/tenant"
)

// Service tokens are auth tokens that one Keel process mints for each call
// to another, signed with a key every service shares. They carry the
// tenant of the call, so a caller without the key cannot act for a tenant.
const (
	// ServiceScope is the one scope of a service token. User tokens never
	// carry it: auth.AllScopes leaves it out.
	ServiceScope = "internal"
	// ServiceSubjectPrefix starts the subject of every service token; the
	// calling service's name follows it.
	ServiceSubjectPrefix = "service:"
	// ServiceTokenTTL is the lifetime of each service token.
	ServiceTokenTTL = 60 * time.Second
)

// authorizationKey is the metadata key of the bearer token.
const authorizationKey = "authorization"

// WithServiceToken returns a dial option that sends, with every call whose
// context carries a tenant, a fresh service token for that tenant signed
// with key, naming service as the caller. A call without a tenant carries
// no token. A call fails with codes.Unauthenticated before it is sent when
// the token cannot be minted, for example for a malformed tenant.
//
// TODO: mTLS; tokens travel in plaintext, which is only safe on loopback.
func WithServiceToken(key []byte, service string) grpc.DialOption {
	return grpc.WithPerRPCCredentials(serviceCredentials{key: key, service: service, now: time.Now})
}

// serviceCredentials mints service tokens; it implements
// credentials.PerRPCCredentials.
type serviceCredentials struct {
	key     []byte
	service string
	now     func() time.Time
}

var _ credentials.PerRPCCredentials = serviceCredentials{}

// GetRequestMetadata returns the authorization metadata of one call. gRPC
// passes it the context of the call, so the tenant is the call's own.
func (c serviceCredentials) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	t, ok := tenant.From(ctx)
	if !ok {
		return nil, nil
	}
	tok, err := auth.Mint(c.key, t, ServiceSubjectPrefix+c.service, []string{ServiceScope}, ServiceTokenTTL, c.now())
	if err != nil {
		return nil, status.Errorf(codes.Unauthenticated, "mint service token: %v", err)
	}
	return map[string]string{authorizationKey: "Bearer " + tok}, nil
}

// RequireTransportSecurity reports false: services talk plaintext on
// loopback until they have mTLS.
func (serviceCredentials) RequireTransportSecurity() bool { return false }

// RequireServiceTokens returns the server options that make every call,
// except health checks and reflection, carry a service token signed with
// key (see WithServiceToken) whose tenant is the call's keel-tenant. Other
// calls fail with codes.Unauthenticated. Pass the options to NewServer,
// which runs them before it takes the tenant from the metadata:
//
//	srv := grpcx.NewServer(logger, grpcx.RequireServiceTokens(key)...)
func RequireServiceTokens(key []byte) []grpc.ServerOption {
	v := tokenVerifier{key: key, now: time.Now}
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(v.unary),
		grpc.ChainStreamInterceptor(v.stream),
	}
}

// tokenVerifier checks the service token of each call.
type tokenVerifier struct {
	key []byte
	now func() time.Time
}

// verify returns a codes.Unauthenticated error unless the call to method
// may go on.
func (v tokenVerifier) verify(ctx context.Context, method string) error {
	if exempt(method) {
		return nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	values := md.Get(authorizationKey)
	switch len(values) {
	case 0:
		return status.Error(codes.Unauthenticated, "the call carries no service token")
	case 1:
	default:
		return status.Error(codes.Unauthenticated, "the call carries more than one authorization value")
	}
	scheme, token, found := strings.Cut(values[0], " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return status.Error(codes.Unauthenticated, "the authorization is not a bearer token")
	}

	claims, err := auth.Verify(v.key, token, v.now())
	if err != nil {
		return status.Errorf(codes.Unauthenticated, "service token refused: %v", err)
	}
	if !claims.HasScope(ServiceScope) || !strings.HasPrefix(claims.Subject, ServiceSubjectPrefix) {
		return status.Error(codes.Unauthenticated, "the token is not a service token")
	}
	switch tenants := md.Get(tenant.MetadataKey); {
	case len(tenants) == 0:
		return status.Errorf(codes.Unauthenticated, "the call names no tenant (%s metadata)", tenant.MetadataKey)
	case len(tenants) > 1:
		return status.Errorf(codes.Unauthenticated, "the call names more than one tenant (%s metadata)", tenant.MetadataKey)
	case tenants[0] != claims.Tenant:
		return status.Error(codes.Unauthenticated, "the service token is for another tenant")
	}
	return nil
}

func (v tokenVerifier) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	if err := v.verify(ctx, info.FullMethod); err != nil {
		return nil, err
	}
	return next(ctx, req)
}

func (v tokenVerifier) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) error {
	if err := v.verify(ss.Context(), info.FullMethod); err != nil {
		return err
	}
	return next(srv, ss)
}

// ServiceAuth is one process's use of the shared service key: the server
// options that require service tokens and the dial options that send them.
// The zero ServiceAuth is off: its servers trust the keel-tenant metadata
// and its clients send no token.
type ServiceAuth struct {
	key     []byte
	service string
}

// NewServiceAuth returns the ServiceAuth of the process named service for
// the base64 key encodedKey (see auth.DecodeKey). An empty key gives the
// zero ServiceAuth. It returns the error of auth.DecodeKey for a malformed
// key.
func NewServiceAuth(encodedKey, service string) (ServiceAuth, error) {
	if encodedKey == "" {
		return ServiceAuth{}, nil
	}
	key, err := auth.DecodeKey(encodedKey)
	if err != nil {
		return ServiceAuth{}, fmt.Errorf("decode service key: %w", err)
	}
	return ServiceAuth{key: key, service: service}, nil
}

// StartServiceAuth is NewServiceAuth for a service that is starting: when
// the key is empty it says so in logger, once, since every server of the
// process then trusts the tenant any caller claims.
//
// TODO: refuse to start without a service key in production.
func StartServiceAuth(encodedKey, service string, logger *slog.Logger) (ServiceAuth, error) {
	a, err := NewServiceAuth(encodedKey, service)
	if err != nil {
		return ServiceAuth{}, err
	}
	if !a.Enabled() {
		logger.Warn("internal gRPC without service tokens: any caller may claim any tenant; set KEEL_SERVICE_KEY")
	}
	return a, nil
}

// Enabled reports whether a requires and sends service tokens.
func (a ServiceAuth) Enabled() bool { return a.key != nil }

// ServerOptions returns RequireServiceTokens for NewServer, or nothing when
// a is off.
func (a ServiceAuth) ServerOptions() []grpc.ServerOption {
	if !a.Enabled() {
		return nil
	}
	return RequireServiceTokens(a.key)
}

// DialOptions returns WithServiceToken for Dial, or nothing when a is off.
func (a ServiceAuth) DialOptions() []grpc.DialOption {
	if !a.Enabled() {
		return nil
	}
	return []grpc.DialOption{WithServiceToken(a.key, a.service)}
}
