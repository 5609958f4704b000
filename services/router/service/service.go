// Package service runs the router service: it serves ModelRouterService,
// sending each request to the providers of its use case's route, and
// publishes the usage and an audit event of every model call. Run is the
// whole process; cmd/router and `keel dev` both call it.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/sync/errgroup"

	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/config"
	"github.com/keelhq/keel/pkg/grpcx"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/router/internal/routing"
)

// Name is the service's name: its audit actor and log tag.
const Name = "router"

// Config is the router service's configuration.
type Config struct {
	NATS   NATSConfig   `yaml:"nats"`
	GRPC   GRPCConfig   `yaml:"grpc"`
	Routes RoutesConfig `yaml:"routes"`
	// ServiceKey is the base64 key, shared by every service, that signs and
	// verifies the tokens of internal gRPC calls, at least auth.MinKeyLen
	// bytes once decoded (KEEL_SERVICE_KEY). Empty turns the tokens off:
	// servers then trust the tenant any caller claims. It is a secret.
	ServiceKey string `yaml:"service_key" env:"KEEL_SERVICE_KEY"`
}

// NATSConfig locates the NATS server that receives usage and audit events.
type NATSConfig = config.NATS

// GRPCConfig is where ModelRouterService listens.
type GRPCConfig struct {
	// Addr to listen on (KEEL_ROUTER_GRPC_ADDR).
	Addr string `yaml:"addr" env:"KEEL_ROUTER_GRPC_ADDR"`
	// StreamStall ends a streamed call whose caller, still connected, has
	// not taken a piece for this long (KEEL_ROUTER_STREAM_STALL;
	// DefaultStreamStall when zero). gRPC lets a blocked send go on only
	// once the reader has taken a part of its flow-control window (some
	// 16-64 KB), so the bound must exceed the time the slowest reader
	// served takes to read that much.
	StreamStall time.Duration `yaml:"stream_stall" env:"KEEL_ROUTER_STREAM_STALL"`
}

// RoutesConfig locates the routes file.
type RoutesConfig struct {
	// File is the path of the routes file (KEEL_ROUTER_ROUTES_FILE); empty
	// uses the embedded default, which routes everything to the local
	// provider. API keys are read from the environment variables the file
	// names.
	File string `yaml:"file" env:"KEEL_ROUTER_ROUTES_FILE"`
}

// DefaultConfig returns the configuration for a local run on loopback.
func DefaultConfig() Config {
	return Config{
		NATS: NATSConfig{URL: "nats://127.0.0.1:4322"},
		GRPC: GRPCConfig{Addr: "127.0.0.1:7404"},
	}
}

// Validate reports every problem of c together.
func (c Config) Validate() error {
	var errs []error
	if c.NATS.URL == "" {
		errs = append(errs, errors.New("nats url is required (KEEL_NATS_URL)"))
	}
	if c.GRPC.Addr == "" {
		errs = append(errs, errors.New("grpc addr is required (KEEL_ROUTER_GRPC_ADDR)"))
	}
	if c.GRPC.StreamStall < 0 {
		errs = append(errs, errors.New("grpc stream_stall must not be negative (KEEL_ROUTER_STREAM_STALL)"))
	}
	if _, err := grpcx.NewServiceAuth(c.ServiceKey, Name); err != nil {
		errs = append(errs, fmt.Errorf("%w (KEEL_SERVICE_KEY)", err))
	}
	return errors.Join(errs...)
}

// Deps are the parts of the process that a caller may provide. Nil fields
// are created from the Config.
type Deps struct {
	// Logger receives the service's logs; slog.Default() when nil.
	Logger *slog.Logger
	// NATS is the connection to publish on; Run dials Config.NATS.URL and
	// closes its own connection when nil.
	NATS *nats.Conn
	// Listener serves gRPC; Run listens on Config.GRPC.Addr when nil.
	Listener net.Listener
	// Getenv reads the API keys the routes file names; os.Getenv when nil.
	Getenv func(string) string
	// Local, when set, is bound to the running router so that a caller in
	// the same process can use it without gRPC.
	Local *Local
}

// catchUpWait bounds how long Run holds calls back while limits count the
// usage already in the stream.
const catchUpWait = 10 * time.Second

// Run loads the routes and serves ModelRouterService until ctx ends. It
// returns nil after a clean stop and an error when a part cannot start or
// fails. The USAGE and AUDIT streams must exist (bus.DeclareStreams).
func Run(ctx context.Context, cfg Config, deps Deps) error {
	if deps.Local != nil {
		// Calls waiting for a router that fails to start fail too.
		defer deps.Local.unbind()
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid config: %w", err)
	}
	logger := deps.Logger
	if logger == nil {
		logger = slog.Default()
	}
	serviceAuth, err := grpcx.StartServiceAuth(cfg.ServiceKey, Name, logger)
	if err != nil {
		return err
	}
	getenv := deps.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}

	// Routes and the providers they name.
	file, err := routing.LoadFile(cfg.Routes.File)
	if err != nil {
		return err
	}
	providers, err := file.BuildProviders(getenv, os.ReadFile, nil)
	if err != nil {
		return fmt.Errorf("build providers: %w", err)
	}

	// NATS, for usage and audit events.
	js, closeNATS, err := bus.Open(deps.NATS, cfg.NATS.URL, Name)
	if err != nil {
		return err
	}
	defer closeNATS()

	// Usage and audit events leave through an outbox, off the request
	// path; it is drained before NATS closes.
	instance := bus.NewID()
	outbox := routing.NewOutbox(routing.NewBusRecorder(bus.NewPublisher(js).WithOrigin(instance), instance), routing.OutboxConfig{
		Size:    routing.DefaultOutboxSize,
		Workers: 2,
		Linger:  routing.DefaultOutboxLinger,
		Logger:  logger,
	})
	defer outbox.Close()
	router, err := routing.New(file, providers, routing.Options{
		Recorder: outbox,
		Logger:   logger,
	})
	if err != nil {
		return err
	}
	server := newModelRouterServer(router, logger, cfg.GRPC.StreamStall)
	lis, err := grpcx.Listen(cfg.GRPC.Addr, deps.Listener)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)

	// Limits count the other replicas' calls, and after a restart the
	// period's earlier ones, from the USAGE stream. Calls wait until what
	// is already there has been counted (up to catchUpWait), so that a
	// restart does not reopen a spent budget.
	caughtUp := make(chan struct{})
	g.Go(func() error {
		return router.FollowUsage(gctx, js, instance, caughtUp)
	})
	select {
	case <-caughtUp:
	case <-gctx.Done():
		_ = lis.Close()
		return g.Wait()
	case <-time.After(catchUpWait):
		logger.Warn("limits have not caught up with the usage stream; serving anyway", "waited", catchUpWait)
	}

	if deps.Local != nil {
		// Unbound, after waiting for its calls in flight, before the
		// outbox closes (defers run last first).
		deps.Local.bind(server)
		defer deps.Local.unbind()
	}
	srv := grpcx.NewServer(logger, serviceAuth.ServerOptions()...)
	keelv1.RegisterModelRouterServiceServer(srv, server)

	logger.Info("router serving", "addr", lis.Addr().String(), "routes", len(file.Routes))
	g.Go(func() error {
		return grpcx.Serve(gctx, srv, lis)
	})
	g.Go(func() error {
		router.RunHealthChecks(gctx)
		return nil
	})
	return g.Wait()
}
