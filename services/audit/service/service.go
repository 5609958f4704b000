// Package service runs the audit service: it appends the audit events of
// every tenant to their hash chains, records model usage, and answers
// AuditLogService calls for the caller's tenant. Run is the whole process;
// cmd/audit and `keel dev` both call it.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/sync/errgroup"

	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/config"
	"github.com/keelhq/keel/pkg/grpcx"
	"github.com/keelhq/keel/pkg/pgdb"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/audit/internal/auditlog"
	"github.com/keelhq/keel/services/audit/internal/schema"
	"github.com/keelhq/keel/services/audit/internal/usage"
)

// Name is the service's name: its durable consumer, dead-letter stage and
// log tag.
const Name = "audit"

// Consumer names and the subjects they read.
const (
	AuditDurable      = Name
	UsageDurable      = Name + "-usage"
	UsageBatchDurable = Name + "-usage-batch"
	auditFilter       = "keel." + bus.RootAudit + ".>"
	// Single usage events come on keel.usage.<tenant>, batches of them on
	// keel.usage.<tenant>.batch; each consumer decodes one message type.
	usageFilter      = "keel." + bus.RootUsage + ".*"
	usageBatchFilter = "keel." + bus.RootUsage + ".*." + bus.KindBatch
)

// Config is the audit service's configuration.
type Config struct {
	NATS     NATSConfig     `yaml:"nats"`
	Database DatabaseConfig `yaml:"database"`
	GRPC     GRPCConfig     `yaml:"grpc"`
	Consumer ConsumerConfig `yaml:"consumer"`
	// ServiceKey is the base64 key, shared by every service, that signs and
	// verifies the tokens of internal gRPC calls, at least auth.MinKeyLen
	// bytes once decoded (KEEL_SERVICE_KEY). Empty turns the tokens off:
	// servers then trust the tenant any caller claims. It is a secret.
	ServiceKey string `yaml:"service_key" env:"KEEL_SERVICE_KEY"`
}

// NATSConfig locates the NATS server.
type NATSConfig = config.NATS

// DatabaseConfig locates Postgres.
type DatabaseConfig = config.Database

// GRPCConfig is where the AuditLogService listens.
type GRPCConfig struct {
	// Addr to listen on (KEEL_AUDIT_GRPC_ADDR).
	Addr string `yaml:"addr" env:"KEEL_AUDIT_GRPC_ADDR"`
}

// ConsumerConfig tunes redelivery of events that could not be stored.
type ConsumerConfig struct {
	// MaxDeliver bounds deliveries of one event before it is dead-lettered
	// (KEEL_AUDIT_MAX_DELIVER). Postgres being away is the usual reason a
	// delivery fails, so the default rides out an outage of about a day.
	// TODO: pause the consumers while Postgres is unreachable; now every
	// waiting event uses up its deliveries, and one dead-lettered after a
	// longer outage must be replayed from the AUDIT stream by hand.
	MaxDeliver int `yaml:"max_deliver" env:"KEEL_AUDIT_MAX_DELIVER"`
	// MaxBackoff is the longest wait between deliveries
	// (KEEL_AUDIT_MAX_BACKOFF).
	MaxBackoff time.Duration `yaml:"max_backoff" env:"KEEL_AUDIT_MAX_BACKOFF"`
}

// DefaultConfig returns the configuration for a local run on loopback. The
// database URL is left empty: it has no sensible default.
func DefaultConfig() Config {
	return Config{
		NATS: NATSConfig{URL: "nats://127.0.0.1:4322"},
		GRPC: GRPCConfig{Addr: "127.0.0.1:7406"},
		Consumer: ConsumerConfig{
			MaxDeliver: 1500,
			MaxBackoff: time.Minute,
		},
	}
}

// Validate reports every problem of c together.
func (c Config) Validate() error {
	var errs []error
	if c.NATS.URL == "" {
		errs = append(errs, errors.New("nats url is required (KEEL_NATS_URL)"))
	}
	if c.Database.URL == "" {
		errs = append(errs, errors.New("database url is required (KEEL_DATABASE_URL or DATABASE_URL)"))
	}
	if c.GRPC.Addr == "" {
		errs = append(errs, errors.New("grpc addr is required (KEEL_AUDIT_GRPC_ADDR)"))
	}
	if c.Consumer.MaxDeliver < 1 {
		errs = append(errs, errors.New("consumer max_deliver must be at least 1"))
	}
	if c.Consumer.MaxBackoff < time.Second {
		errs = append(errs, errors.New("consumer max_backoff must be at least 1s"))
	}
	if _, err := grpcx.NewServiceAuth(c.ServiceKey, Name); err != nil {
		errs = append(errs, fmt.Errorf("%w (KEEL_SERVICE_KEY)", err))
	}
	return errors.Join(errs...)
}

// backoff is the redelivery schedule: quick retries first, then every
// MaxBackoff.
func (c ConsumerConfig) backoff() []time.Duration {
	var out []time.Duration
	for _, d := range []time.Duration{time.Second, 5 * time.Second, 30 * time.Second} {
		if d < c.MaxBackoff {
			out = append(out, d)
		}
	}
	return append(out, c.MaxBackoff)
}

// Deps are the parts of the process that a caller may provide. Nil fields
// are created from the Config.
type Deps struct {
	// Logger receives the service's logs; slog.Default() when nil.
	Logger *slog.Logger
	// NATS is the connection to consume on; Run dials Config.NATS.URL and
	// closes its own connection when nil.
	NATS *nats.Conn
	// Listener serves gRPC; Run listens on Config.GRPC.Addr when nil.
	Listener net.Listener
}

// Run migrates the database, then consumes the AUDIT and USAGE streams and
// serves AuditLogService until ctx ends. It returns nil after a clean stop
// and an error when a part cannot start or fails. The streams must exist
// (bus.DeclareStreams).
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

	// Postgres: the chain and the usage ledger.
	pool, err := pgdb.Open(ctx, cfg.Database.URL)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := schema.Migrate(ctx, pool); err != nil {
		return err
	}
	chain := auditlog.New(pool)
	ledger := usage.New(pool)

	// NATS.
	js, closeNATS, err := bus.Open(deps.NATS, cfg.NATS.URL, Name)
	if err != nil {
		return err
	}
	defer closeNATS()

	// gRPC.
	lis, err := grpcx.Listen(cfg.GRPC.Addr, deps.Listener)
	if err != nil {
		return err
	}
	srv := grpcx.NewServer(logger, serviceAuth.ServerOptions()...)
	keelv1.RegisterAuditLogServiceServer(srv, newAuditLogServer(chain, logger))

	handlers := &eventHandlers{chain: chain, ledger: ledger, now: time.Now, logger: logger}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return grpcx.Serve(gctx, srv, lis)
	})
	g.Go(func() error {
		return bus.Consume(gctx, js, bus.ConsumerConfig{
			Stream:         bus.StreamAudit,
			Durable:        AuditDurable,
			Stage:          AuditDurable,
			FilterSubjects: []string{auditFilter},
			MaxDeliver:     cfg.Consumer.MaxDeliver,
			Backoff:        cfg.Consumer.backoff(),
		}, newAuditEvent, handlers.appendAuditEvent, logger)
	})
	g.Go(func() error {
		return bus.Consume(gctx, js, bus.ConsumerConfig{
			Stream:         bus.StreamUsage,
			Durable:        UsageDurable,
			Stage:          UsageDurable,
			FilterSubjects: []string{usageFilter},
			MaxDeliver:     cfg.Consumer.MaxDeliver,
			Backoff:        cfg.Consumer.backoff(),
		}, newUsageEvent, handlers.recordUsageEvent, logger)
	})
	g.Go(func() error {
		return bus.Consume(gctx, js, bus.ConsumerConfig{
			Stream:         bus.StreamUsage,
			Durable:        UsageBatchDurable,
			Stage:          UsageBatchDurable,
			FilterSubjects: []string{usageBatchFilter},
			MaxDeliver:     cfg.Consumer.MaxDeliver,
			Backoff:        cfg.Consumer.backoff(),
		}, newUsageBatch, handlers.recordUsageBatch, logger)
	})
	logger.Info("audit service started", "grpc_addr", lis.Addr().String())

	err = g.Wait()
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		// Stopped while a consumer was still being set up: bus.Consume
		// then reports the cancellation as its error.
		err = nil
	}
	logger.Info("audit service stopped")
	return err
}

func newAuditEvent() *keelv1.AuditEvent { return new(keelv1.AuditEvent) }

func newUsageEvent() *keelv1.UsageEvent { return new(keelv1.UsageEvent) }

func newUsageBatch() *keelv1.UsageBatch { return new(keelv1.UsageBatch) }
