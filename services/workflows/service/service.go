// Package service runs the workflows service: the Temporal worker of the
// support copilot and the consumer that starts one copilot run per redacted
// inbound email. Run is the whole process; cmd/workflows and `keel dev` both
// call it.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/nats-io/nats.go"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"

	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/config"
	"github.com/keelhq/keel/pkg/grpcx"
	"github.com/keelhq/keel/pkg/temporalx"
	"github.com/keelhq/keel/pkg/tenant"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/workflows/internal/copilot"
	"github.com/keelhq/keel/services/workflows/internal/starter"
)

// Name is the service's name: its durable consumer, dead-letter stage and
// log tag.
const Name = "workflows"

// Config is the workflows service's configuration.
type Config struct {
	NATS     NATSConfig     `yaml:"nats"`
	Temporal TemporalConfig `yaml:"temporal"`
	Services ServicesConfig `yaml:"services"`
	Orders   OrdersConfig   `yaml:"orders"`
	Review   ReviewConfig   `yaml:"review"`
	Health   HealthConfig   `yaml:"health"`
	// ServiceKey is the base64 key, shared by every service, that signs and
	// verifies the tokens of internal gRPC calls, at least auth.MinKeyLen
	// bytes once decoded (KEEL_SERVICE_KEY). Empty turns the tokens off:
	// servers then trust the tenant any caller claims. It is a secret.
	ServiceKey string `yaml:"service_key" env:"KEEL_SERVICE_KEY"`
}

// HealthConfig is where the gRPC health service listens. The service has no
// API of its own; the health endpoint lets a supervisor see that it runs.
type HealthConfig struct {
	// Addr to listen on (KEEL_WORKFLOWS_HEALTH_ADDR). Empty, and no
	// Deps.Listener, means no health endpoint.
	Addr string `yaml:"addr" env:"KEEL_WORKFLOWS_HEALTH_ADDR"`
}

// NATSConfig locates the NATS server.
type NATSConfig = config.NATS

// TemporalConfig locates the Temporal frontend.
type TemporalConfig struct {
	// Addr is the frontend's host:port (KEEL_TEMPORAL_ADDR).
	Addr string `yaml:"addr" env:"KEEL_TEMPORAL_ADDR"`
	// Namespace the worker polls (KEEL_TEMPORAL_NAMESPACE).
	Namespace string `yaml:"namespace" env:"KEEL_TEMPORAL_NAMESPACE"`
}

// ServicesConfig locates the gRPC services the copilot calls.
type ServicesConfig struct {
	// IngestAddr serves RedactorService, which restores approved replies
	// (KEEL_INGEST_ADDR).
	IngestAddr string `yaml:"ingest_addr" env:"KEEL_INGEST_ADDR"`
	// RetrieveAddr serves RetrieverService (KEEL_RETRIEVE_ADDR).
	RetrieveAddr string `yaml:"retrieve_addr" env:"KEEL_RETRIEVE_ADDR"`
	// RouterAddr serves ModelRouterService (KEEL_ROUTER_ADDR).
	RouterAddr string `yaml:"router_addr" env:"KEEL_ROUTER_ADDR"`
	// EvalAddr serves EvaluatorService (KEEL_EVAL_ADDR).
	EvalAddr string `yaml:"eval_addr" env:"KEEL_EVAL_ADDR"`
}

// OrdersConfig backs the copilot's order tools.
type OrdersConfig struct {
	// File is a JSON file mapping each tenant to its orders
	// (KEEL_ORDERS_FILE); see copilot.LoadOrderBook. Empty means the tools
	// find no orders.
	File string `yaml:"file" env:"KEEL_ORDERS_FILE"`
}

// ReviewConfig is when a draft waits for a reviewer and for how long.
type ReviewConfig struct {
	// RiskThreshold: drafts whose risk score reaches it wait for a reviewer
	// (KEEL_REVIEW_RISK_THRESHOLD).
	RiskThreshold float64 `yaml:"risk_threshold" env:"KEEL_REVIEW_RISK_THRESHOLD"`
	// TenantThresholds override RiskThreshold per tenant (YAML only).
	TenantThresholds map[string]float64 `yaml:"tenant_thresholds"`
	// AlwaysReview lists tenants whose every reply waits for a reviewer
	// (KEEL_REVIEW_ALWAYS, comma-separated).
	AlwaysReview []string `yaml:"always_review" env:"KEEL_REVIEW_ALWAYS"`
	// Timeout is how long a draft waits before it is escalated
	// (KEEL_REVIEW_TIMEOUT).
	Timeout time.Duration `yaml:"timeout" env:"KEEL_REVIEW_TIMEOUT"`
	// EscalationTimeout is how long an escalated draft waits before it is
	// rejected (KEEL_REVIEW_ESCALATION_TIMEOUT).
	EscalationTimeout time.Duration `yaml:"escalation_timeout" env:"KEEL_REVIEW_ESCALATION_TIMEOUT"`
}

// DefaultConfig returns the configuration for a local run on loopback.
func DefaultConfig() Config {
	return Config{
		NATS:     NATSConfig{URL: "nats://127.0.0.1:4322"},
		Temporal: TemporalConfig{Addr: "127.0.0.1:7233", Namespace: temporalx.Namespace},
		Services: ServicesConfig{
			IngestAddr:   "127.0.0.1:7401",
			RetrieveAddr: "127.0.0.1:7403",
			RouterAddr:   "127.0.0.1:7404",
			EvalAddr:     "127.0.0.1:7405",
		},
		Review: ReviewConfig{
			RiskThreshold:     copilot.DefaultRiskThreshold,
			Timeout:           copilot.DefaultReviewTimeout,
			EscalationTimeout: copilot.DefaultEscalationTimeout,
		},
	}
}

// Validate reports every problem of c together.
func (c Config) Validate() error {
	var errs []error
	required := []struct{ value, what string }{
		{c.NATS.URL, "nats url is required (KEEL_NATS_URL)"},
		{c.Temporal.Addr, "temporal addr is required (KEEL_TEMPORAL_ADDR)"},
		{c.Temporal.Namespace, "temporal namespace is required (KEEL_TEMPORAL_NAMESPACE)"},
		{c.Services.IngestAddr, "ingest addr is required (KEEL_INGEST_ADDR)"},
		{c.Services.RetrieveAddr, "retrieve addr is required (KEEL_RETRIEVE_ADDR)"},
		{c.Services.RouterAddr, "router addr is required (KEEL_ROUTER_ADDR)"},
		{c.Services.EvalAddr, "eval addr is required (KEEL_EVAL_ADDR)"},
	}
	for _, r := range required {
		if r.value == "" {
			errs = append(errs, errors.New(r.what))
		}
	}

	r := c.Review
	if r.RiskThreshold <= 0 || r.RiskThreshold > 1 {
		errs = append(errs, fmt.Errorf("review risk_threshold %v must be in (0, 1]", r.RiskThreshold))
	}
	for t, v := range r.TenantThresholds {
		if err := tenant.Valid(t); err != nil {
			errs = append(errs, fmt.Errorf("review tenant_thresholds: %w", err))
		}
		if v <= 0 || v > 1 {
			errs = append(errs, fmt.Errorf("review tenant_thresholds[%s] %v must be in (0, 1]", t, v))
		}
	}
	for _, t := range r.AlwaysReview {
		if err := tenant.Valid(t); err != nil {
			errs = append(errs, fmt.Errorf("review always_review: %w", err))
		}
	}
	if r.Timeout <= 0 || r.EscalationTimeout <= 0 {
		errs = append(errs, errors.New("review timeout and escalation_timeout must be positive"))
	}
	if _, err := grpcx.NewServiceAuth(c.ServiceKey, Name); err != nil {
		errs = append(errs, fmt.Errorf("%w (KEEL_SERVICE_KEY)", err))
	}
	return errors.Join(errs...)
}

// policies turns the review configuration into the starter's policies.
func (c ReviewConfig) policies() starter.Policies {
	return starter.Policies{
		RiskThreshold:     c.RiskThreshold,
		TenantThresholds:  c.TenantThresholds,
		AlwaysReview:      c.AlwaysReview,
		ReviewTimeout:     c.Timeout,
		EscalationTimeout: c.EscalationTimeout,
	}
}

// Deps are the parts of the process that a caller may provide. Nil fields
// are created from the Config.
type Deps struct {
	// Logger receives the service's logs; slog.Default() when nil.
	Logger *slog.Logger
	// NATS is the connection to publish and consume on; Run dials
	// Config.NATS.URL and closes its own connection when nil.
	NATS *nats.Conn
	// Temporal is the client the worker and the starter use; Run dials
	// Config.Temporal and closes its own client when nil.
	Temporal client.Client
	// Listener serves the gRPC health service; Run listens on
	// Config.Health.Addr when nil, and serves none when that is empty too.
	Listener net.Listener
}

// Run starts the copilot worker and the consumer that starts copilot runs,
// and blocks until ctx ends. It returns nil after a clean stop and an error
// when a part cannot start or fails. The streams must exist
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

	orders, err := orderBook(cfg.Orders)
	if err != nil {
		return err
	}

	// NATS.
	js, closeNATS, err := bus.Open(deps.NATS, cfg.NATS.URL, Name)
	if err != nil {
		return err
	}
	defer closeNATS()

	// The services the activities call.
	conns, err := dialServices(cfg.Services, serviceAuth)
	if err != nil {
		return err
	}
	defer conns.close()

	// Temporal.
	tc := deps.Temporal
	if tc == nil {
		tc, err = dialTemporal(ctx, cfg.Temporal, logger)
		if err != nil {
			return err
		}
		defer tc.Close()
	}

	acts := copilot.NewActivities(copilot.ActivityDeps{
		Retriever: keelv1.NewRetrieverServiceClient(conns.retrieve),
		Router:    keelv1.NewModelRouterServiceClient(conns.router),
		Evaluator: keelv1.NewEvaluatorServiceClient(conns.eval),
		Redactor:  keelv1.NewRedactorServiceClient(conns.ingest),
		Publisher: bus.NewPublisher(js),
		Orders:    orders,
	})
	w := worker.New(tc, temporalx.CopilotTaskQueue, worker.Options{})
	copilot.Register(w, acts)
	st := starter.New(js, tc, cfg.Review.policies(), logger)

	// Health, when asked for.
	// TODO: report NOT_SERVING while the worker cannot poll Temporal; the
	// health service now says SERVING as long as the process runs.
	var health *grpc.Server
	var lis net.Listener
	if deps.Listener != nil || cfg.Health.Addr != "" {
		if lis, err = grpcx.Listen(cfg.Health.Addr, deps.Listener); err != nil {
			return err
		}
		health = grpcx.NewServer(logger, serviceAuth.ServerOptions()...)
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return runWorker(gctx, w)
	})
	if health != nil {
		g.Go(func() error {
			return grpcx.Serve(gctx, health, lis)
		})
	}
	g.Go(func() error {
		return st.Run(gctx)
	})
	logger.Info("workflows service started",
		"temporal_addr", cfg.Temporal.Addr, "task_queue", temporalx.CopilotTaskQueue)

	err = g.Wait()
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		// Stopped while the consumer was still being set up.
		err = nil
	}
	logger.Info("workflows service stopped")
	return err
}

// runWorker polls the copilot task queue until ctx ends.
func runWorker(ctx context.Context, w worker.Worker) error {
	if err := w.Start(); err != nil {
		return fmt.Errorf("start copilot worker: %w", err)
	}
	<-ctx.Done()
	w.Stop()
	return nil
}

func orderBook(cfg OrdersConfig) (copilot.OrderBook, error) {
	if cfg.File == "" {
		return copilot.EmptyOrderBook{}, nil
	}
	return copilot.LoadOrderBook(cfg.File)
}

// dialTemporal connects to Temporal, retrying while the frontend is not up
// yet (a service started together with it) until ctx ends.
func dialTemporal(ctx context.Context, cfg TemporalConfig, logger *slog.Logger) (client.Client, error) {
	const retryEvery = 2 * time.Second
	for {
		c, err := temporalx.Dial(cfg.Addr, cfg.Namespace, logger)
		if err == nil {
			return c, nil
		}
		logger.Warn("temporal not reachable, retrying", "error", err, "retry_in", retryEvery)

		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("dial temporal: %w", errors.Join(ctx.Err(), err))
		case <-time.After(retryEvery):
		}
	}
}

type serviceConns struct {
	ingest, retrieve, router, eval *grpc.ClientConn
}

// dialServices creates the client connections; they connect lazily, on the
// first call.
func dialServices(cfg ServicesConfig, serviceAuth grpcx.ServiceAuth) (*serviceConns, error) {
	c := &serviceConns{}
	targets := []struct {
		addr string
		conn **grpc.ClientConn
	}{
		{cfg.IngestAddr, &c.ingest},
		{cfg.RetrieveAddr, &c.retrieve},
		{cfg.RouterAddr, &c.router},
		{cfg.EvalAddr, &c.eval},
	}
	for _, t := range targets {
		conn, err := grpcx.Dial(t.addr, serviceAuth.DialOptions()...)
		if err != nil {
			c.close()
			return nil, err
		}
		*t.conn = conn
	}
	return c, nil
}

func (c *serviceConns) close() {
	for _, conn := range []*grpc.ClientConn{c.ingest, c.retrieve, c.router, c.eval} {
		if conn != nil {
			_ = conn.Close()
		}
	}
}
