// Package service runs the eval service: it serves EvaluatorService, which
// scores a drafted reply for risk before a person sees it, and records each
// evaluation in the audit log when NATS is configured. Run is the whole
// process; cmd/eval and `keel dev` both call it.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/nats-io/nats.go"
	"golang.org/x/sync/errgroup"

	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/config"
	"github.com/keelhq/keel/pkg/grpcx"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

// Name is the service's name: its audit actor and log tag.
const Name = "eval"

// Config is the eval service's configuration.
type Config struct {
	NATS NATSConfig `yaml:"nats"`
	GRPC GRPCConfig `yaml:"grpc"`
	// ServiceKey is the base64 key, shared by every service, that signs and
	// verifies the tokens of internal gRPC calls, at least auth.MinKeyLen
	// bytes once decoded (KEEL_SERVICE_KEY). Empty turns the tokens off:
	// servers then trust the tenant any caller claims. It is a secret.
	ServiceKey string `yaml:"service_key" env:"KEEL_SERVICE_KEY"`
}

// NATSConfig locates the NATS server that receives audit events. An empty
// URL runs without audit events, for offline evaluation runs.
type NATSConfig = config.NATS

// GRPCConfig is where EvaluatorService listens.
type GRPCConfig struct {
	// Addr to listen on (KEEL_EVAL_GRPC_ADDR).
	Addr string `yaml:"addr" env:"KEEL_EVAL_GRPC_ADDR"`
}

// DefaultConfig returns the configuration for a local run on loopback.
func DefaultConfig() Config {
	return Config{
		NATS: NATSConfig{URL: "nats://127.0.0.1:4322"},
		GRPC: GRPCConfig{Addr: "127.0.0.1:7405"},
	}
}

// Validate reports every problem of c together.
func (c Config) Validate() error {
	var errs []error
	if c.GRPC.Addr == "" {
		errs = append(errs, errors.New("grpc addr is required (KEEL_EVAL_GRPC_ADDR)"))
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
	// NATS is the connection to publish audit events on; when nil, Run
	// dials Config.NATS.URL, or publishes none if that is empty.
	NATS *nats.Conn
	// Listener serves gRPC; Run listens on Config.GRPC.Addr when nil.
	Listener net.Listener
}

// Run serves EvaluatorService until ctx ends. It returns nil after a clean
// stop and an error when a part cannot start or fails. With NATS, the AUDIT
// stream must exist (bus.DeclareStreams).
func Run(ctx context.Context, cfg Config, deps Deps) error {
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

	// NATS, optional, for audit events.
	var auditor auditor
	if deps.NATS != nil || cfg.NATS.URL != "" {
		js, closeNATS, err := bus.Open(deps.NATS, cfg.NATS.URL, Name)
		if err != nil {
			return err
		}
		defer closeNATS()
		auditor = bus.NewPublisher(js)
	} else {
		logger.Warn("no nats url; evaluations are not audited")
	}

	// gRPC.
	lis, err := grpcx.Listen(cfg.GRPC.Addr, deps.Listener)
	if err != nil {
		return err
	}
	srv := grpcx.NewServer(logger, serviceAuth.ServerOptions()...)
	keelv1.RegisterEvaluatorServiceServer(srv, newEvaluatorServer(auditor, logger))

	// TODO: consume keel.drafts.> to score drafts that arrive without a
	// call; only the gRPC path exists so far.
	logger.Info("eval serving", "addr", lis.Addr().String())
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return grpcx.Serve(gctx, srv, lis)
	})
	return g.Wait()
}
