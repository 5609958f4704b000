// Package qdranttest runs an in-process stand-in for Qdrant's gRPC API, for
// tests of code that talks to Qdrant on a machine that cannot run it.
//
// The server registers the go-client's generated Collections, Points and
// Qdrant services and implements the calls Keel makes, with Qdrant's
// documented semantics: collections with named dense (cosine, dot, euclid)
// and sparse vectors (with the IDF modifier), payload indexes, filters
// (must, should, must_not, min_should, nested filters and nested objects,
// match keyword, any and except, ranges, datetime ranges, is_empty,
// is_null, has_id, has_vector), nearest queries, prefetches with their own
// filters and limits, reciprocal rank fusion, counts and facets. Errors carry
// the status codes and messages a Qdrant 1.17 server sends. Calls it does not
// implement answer Unimplemented.
//
// Tests can require an API key, make the next calls fail or slow down, and
// read back every request the server received.
package qdranttest

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Version is the Qdrant version the server reports in its health check.
const Version = "1.17.1"

// Messages of the authentication errors, as Qdrant words them.
const (
	msgMissingKey = "Must provide an API key or an Authorization bearer token"
	msgInvalidKey = "Invalid API key or JWT"
)

// Option configures a Server.
type Option func(*Server)

// WithAPIKey makes the server refuse every call, but the health check,
// whose api-key metadata is not key.
func WithAPIKey(key string) Option {
	return func(s *Server) { s.apiKey = key }
}

// Request is one call the server received.
type Request struct {
	// Method is the full gRPC method name, such as "/qdrant.Points/Query".
	Method string
	// Message is a copy of the request message.
	Message proto.Message
}

// fault makes calls fail with code.
type fault struct {
	method string
	left   int
	code   codes.Code
}

// Server is an in-process Qdrant gRPC server on a loopback port.
type Server struct {
	apiKey string
	grpc   *grpc.Server
	lis    net.Listener
	done   chan struct{}

	mu          sync.Mutex
	collections map[string]*collection
	requests    []Request
	faults      []*fault
	delay       time.Duration

	qdrant.UnimplementedCollectionsServer
	points pointsService
	health healthService
}

// Start runs a server for the length of test t.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := New(opts...)
	if err != nil {
		t.Fatalf("start qdrant test server: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// New starts a server listening on 127.0.0.1 at a free port. Close stops
// it.
func New(opts ...Option) (*Server, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s := &Server{
		lis:         lis,
		done:        make(chan struct{}),
		collections: make(map[string]*collection),
	}
	for _, opt := range opts {
		opt(s)
	}
	s.points.s = s
	s.grpc = grpc.NewServer(grpc.ChainUnaryInterceptor(s.intercept))
	qdrant.RegisterCollectionsServer(s.grpc, s)
	qdrant.RegisterPointsServer(s.grpc, &s.points)
	qdrant.RegisterQdrantServer(s.grpc, &s.health)
	go func() {
		defer close(s.done)
		_ = s.grpc.Serve(lis)
	}()
	return s, nil
}

// Addr returns the host:port the server listens on.
func (s *Server) Addr() string {
	return s.lis.Addr().String()
}

// Close stops the server, ending calls in flight.
func (s *Server) Close() {
	s.grpc.Stop()
	<-s.done
}

// FailNext makes the next n calls of method (a full method name such as
// "/qdrant.Points/Query", or "" for any method) fail with code before they
// touch any data.
func (s *Server) FailNext(method string, n int, code codes.Code) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{method: method, left: n, code: code})
}

// SetDelay makes every later call wait d before it runs; a call whose
// context ends first fails as Qdrant's server does when its client gives
// up.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// Requests returns copies of the requests received so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	copy(out, s.requests)
	return out
}

// ResetRequests forgets the requests received so far.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

// intercept checks the API key, records the request and applies faults
// and delays before the handler runs.
func (s *Server) intercept(
	ctx context.Context,
	req any,
	info *grpc.UnaryServerInfo,
	handler grpc.UnaryHandler,
) (any, error) {
	if err := s.authorize(ctx, info.FullMethod); err != nil {
		return nil, err
	}

	s.mu.Lock()
	if m, ok := req.(proto.Message); ok {
		s.requests = append(s.requests, Request{Method: info.FullMethod, Message: proto.Clone(m)})
	}
	delay := s.delay
	err := s.takeFault(info.FullMethod)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}

	if delay > 0 {
		timer := time.NewTimer(delay)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
	return handler(ctx, req)
}

// authorize checks the api-key metadata when the server requires one.
// Qdrant answers a missing or wrong key with PermissionDenied.
func (s *Server) authorize(ctx context.Context, method string) error {
	if s.apiKey == "" || method == qdrant.Qdrant_HealthCheck_FullMethodName {
		return nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	keys := md.Get("api-key")
	if len(keys) == 0 {
		return status.Error(codes.PermissionDenied, msgMissingKey)
	}
	if subtle.ConstantTimeCompare([]byte(keys[0]), []byte(s.apiKey)) != 1 {
		return status.Error(codes.PermissionDenied, msgInvalidKey)
	}
	return nil
}

// takeFault returns the error of the first pending fault matching method
// and counts it down. The caller holds mu.
func (s *Server) takeFault(method string) error {
	for i, f := range s.faults {
		if f.method != "" && f.method != method {
			continue
		}
		f.left--
		if f.left <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		return status.Errorf(f.code, "injected fault: %s", f.code)
	}
	return nil
}

// healthService answers Qdrant's health check.
type healthService struct {
	qdrant.UnimplementedQdrantServer
}

// HealthCheck reports the server's title and version.
func (healthService) HealthCheck(context.Context, *qdrant.HealthCheckRequest) (*qdrant.HealthCheckReply, error) {
	return &qdrant.HealthCheckReply{Title: "qdrant - vector search engine", Version: Version}, nil
}

// Error helpers with Qdrant's wording.

func errCollectionNotFound(name string) error {
	return status.Errorf(codes.NotFound, "Not found: Collection `%s` doesn't exist!", name)
}

func errWrongInput(format string, args ...any) error {
	return status.Error(codes.InvalidArgument, "Wrong input: "+fmt.Sprintf(format, args...))
}

func errDimension(expected, got int) error {
	return errWrongInput("Vector dimension error: expected dim: %d, got %d", expected, got)
}

func errVectorName(name string) error {
	return errWrongInput("Not existing vector name error: %s", name)
}

func errUnimplemented(what string) error {
	return status.Errorf(codes.Unimplemented, "qdranttest: %s is not implemented", what)
}
