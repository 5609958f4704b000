// Package service runs the gateway: Keel's edge HTTP API for client apps and
// reviewers. It verifies bearer tokens, hands submitted emails to the ingest
// service over gRPC, and reads and signals support copilot runs in Temporal.
package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"go.temporal.io/sdk/client"

	"github.com/keelhq/keel/pkg/auth"
	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/grpcx"
	"github.com/keelhq/keel/pkg/logging"
	"github.com/keelhq/keel/pkg/temporalx"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/gateway/internal/h1"
	"github.com/keelhq/keel/services/gateway/internal/httpapi"
)

// ShutdownTimeout bounds the graceful stop of the HTTP server; requests
// still running then are cut off.
const ShutdownTimeout = 10 * time.Second

// Config is the gateway's configuration.
type Config struct {
	// HTTPAddr is where the API listens (KEEL_GATEWAY_HTTP_ADDR).
	HTTPAddr string `yaml:"http_addr" env:"KEEL_GATEWAY_HTTP_ADDR"`
	// TokenKey is the base64 HMAC key that verifies bearer tokens, at least
	// auth.MinKeyLen bytes once decoded (KEEL_TOKEN_KEY). It is a secret.
	TokenKey string `yaml:"token_key" env:"KEEL_TOKEN_KEY"`
	// IngestAddr is the ingest service's gRPC address (KEEL_INGEST_ADDR).
	IngestAddr string `yaml:"ingest_addr" env:"KEEL_INGEST_ADDR"`
	// RouterAddr is the router service's gRPC address, for the
	// OpenAI-compatible chat endpoints, used when Deps.Router is nil
	// (KEEL_ROUTER_ADDR).
	RouterAddr string `yaml:"router_addr" env:"KEEL_ROUTER_ADDR"`
	// TemporalAddr is the Temporal frontend, used when Deps.Temporal is nil
	// (KEEL_TEMPORAL_ADDR).
	TemporalAddr string `yaml:"temporal_addr" env:"KEEL_TEMPORAL_ADDR"`
	// Namespace is the Temporal namespace (KEEL_TEMPORAL_NAMESPACE).
	Namespace string `yaml:"namespace" env:"KEEL_TEMPORAL_NAMESPACE"`
	// NATSURL is the NATS server for audit events, used when Deps.NATS is
	// nil; empty turns auditing off (KEEL_NATS_URL).
	NATSURL string `yaml:"nats_url" env:"KEEL_NATS_URL"`
	// ServiceKey is the base64 key, shared by every service, that signs and
	// verifies the tokens of internal gRPC calls, at least auth.MinKeyLen
	// bytes once decoded (KEEL_SERVICE_KEY). Empty turns the tokens off:
	// servers then trust the tenant any caller claims. It is a secret.
	ServiceKey string `yaml:"service_key" env:"KEEL_SERVICE_KEY"`
	// HTTPServer is the HTTP/1.1 server implementation: "keel" (the
	// default, internal/h1: less work per request) or "net/http"
	// (KEEL_GATEWAY_HTTP_SERVER).
	HTTPServer string `yaml:"http_server" env:"KEEL_GATEWAY_HTTP_SERVER"`
	// ModelAPIOnly serves the OpenAI-compatible endpoints and health only:
	// the ingest service and Temporal are not dialled, and the email and
	// review endpoints answer 404 saying so (KEEL_GATEWAY_MODEL_API_ONLY).
	ModelAPIOnly bool `yaml:"model_api_only" env:"KEEL_GATEWAY_MODEL_API_ONLY"`
}

// LogValue hides the token and service keys when a Config is logged.
func (c Config) LogValue() slog.Value {
	redacted := func(key string) string {
		if key == "" {
			return ""
		}
		return "[redacted]"
	}
	return slog.GroupValue(
		slog.String("http_addr", c.HTTPAddr),
		slog.String("token_key", redacted(c.TokenKey)),
		slog.String("service_key", redacted(c.ServiceKey)),
		slog.String("ingest_addr", c.IngestAddr),
		slog.String("router_addr", c.RouterAddr),
		slog.String("temporal_addr", c.TemporalAddr),
		slog.String("namespace", c.Namespace),
		slog.String("nats_url", c.NATSURL),
		slog.String("http_server", c.HTTPServer),
		slog.Bool("model_api_only", c.ModelAPIOnly),
	)
}

// DefaultConfig returns the loopback defaults of the local stack. TokenKey
// has no default.
func DefaultConfig() Config {
	return Config{
		HTTPAddr:     "127.0.0.1:8480",
		IngestAddr:   "127.0.0.1:7401",
		RouterAddr:   "127.0.0.1:7404",
		TemporalAddr: "127.0.0.1:7233",
		Namespace:    temporalx.Namespace,
		NATSURL:      "nats://127.0.0.1:4322",
	}
}

// Validate reports every problem of c together.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		errs = append(errs, fmt.Errorf("http_addr %q: %w", c.HTTPAddr, err))
	}
	if c.TokenKey == "" {
		errs = append(errs, errors.New("token_key is required (KEEL_TOKEN_KEY)"))
	} else if _, err := auth.DecodeKey(c.TokenKey); err != nil {
		errs = append(errs, fmt.Errorf("token_key: %w", err))
	}
	if c.IngestAddr == "" && !c.ModelAPIOnly {
		errs = append(errs, errors.New("ingest_addr is required"))
	}
	if c.RouterAddr == "" {
		errs = append(errs, errors.New("router_addr is required"))
	}
	if c.TemporalAddr == "" && !c.ModelAPIOnly {
		errs = append(errs, errors.New("temporal_addr is required"))
	}
	if c.Namespace == "" && !c.ModelAPIOnly {
		errs = append(errs, errors.New("namespace is required"))
	}
	if _, err := grpcx.NewServiceAuth(c.ServiceKey, "gateway"); err != nil {
		errs = append(errs, fmt.Errorf("%w (KEEL_SERVICE_KEY)", err))
	}
	return errors.Join(errs...)
}

// Deps are the gateway's optional, already open dependencies. A nil field is
// opened from Config, and closed again when Run returns; a given one is left
// open.
type Deps struct {
	Logger *slog.Logger
	// NATS carries audit events; nil dials Config.NATSURL.
	NATS *nats.Conn
	// Listener is where the API is served; nil listens on Config.HTTPAddr.
	Listener net.Listener
	// Temporal reads and signals copilot runs; nil dials Config.TemporalAddr.
	Temporal client.Client
	// Router serves the chat endpoints in process (the router service's
	// Local under `keel dev`); nil dials Config.RouterAddr.
	Router httpapi.ModelRouter
}

// Run serves the API until ctx ends, then shuts the server down gracefully
// within ShutdownTimeout. It returns nil after a stop caused by ctx.
func Run(ctx context.Context, cfg Config, deps Deps) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid gateway config: %w", err)
	}
	logger := deps.Logger
	if logger == nil {
		logger = logging.New("gateway", "dev")
	}
	serviceAuth, err := grpcx.StartServiceAuth(cfg.ServiceKey, "gateway", logger)
	if err != nil {
		return err
	}
	key, err := auth.DecodeKey(cfg.TokenKey)
	if err != nil {
		return fmt.Errorf("decode token key: %w", err)
	}

	var ingest keelv1.IngestServiceClient
	if !cfg.ModelAPIOnly {
		conn, err := grpcx.Dial(cfg.IngestAddr, serviceAuth.DialOptions()...)
		if err != nil {
			return err
		}
		defer conn.Close()
		ingest = keelv1.NewIngestServiceClient(conn)
	}

	router := deps.Router
	if router == nil {
		routerConn, err := grpcx.Dial(cfg.RouterAddr, serviceAuth.DialOptions()...)
		if err != nil {
			return err
		}
		defer routerConn.Close()
		router = grpcRouter{keelv1.NewModelRouterServiceClient(routerConn)}
	}

	temporal := deps.Temporal
	if temporal == nil && !cfg.ModelAPIOnly {
		temporal, err = temporalx.Dial(cfg.TemporalAddr, cfg.Namespace, logger)
		if err != nil {
			return err
		}
		defer temporal.Close()
	}

	auditor, closeNATS, err := openAuditor(cfg, deps.NATS, logger)
	if err != nil {
		return err
	}
	defer closeNATS()

	handler, err := httpapi.NewHandler(httpapi.Options{
		TokenKey:     key,
		Ingest:       ingest,
		Temporal:     temporal,
		ModelAPIOnly: cfg.ModelAPIOnly,
		Auditor:      auditor,
		Logger:       logger,
		Router:       router,
	})
	if err != nil {
		return fmt.Errorf("build api: %w", err)
	}

	lis := deps.Listener
	if lis == nil {
		lis, err = net.Listen("tcp", cfg.HTTPAddr)
		if err != nil {
			return fmt.Errorf("listen %s: %w", cfg.HTTPAddr, err)
		}
	}
	srv, err := newServer(cfg.HTTPServer, handler, logger)
	if err != nil {
		return err
	}
	return serve(ctx, srv, lis, logger)
}

// openAuditor returns the audit publisher on nc, or on a connection to
// cfg.NATSURL when nc is nil, and a function that closes what it opened.
// Without either it returns a nil auditor: auditing is off.
func openAuditor(cfg Config, nc *nats.Conn, logger *slog.Logger) (httpapi.Auditor, func(), error) {
	if nc == nil && cfg.NATSURL == "" {
		logger.Warn("no nats configured; audit events of the gateway are not published")
		return nil, func() {}, nil
	}
	js, closeNATS, err := bus.Open(nc, cfg.NATSURL, "gateway")
	if err != nil {
		return nil, nil, err
	}
	return bus.NewPublisher(js), closeNATS, nil
}

// httpServer is what serve needs of an HTTP server.
type httpServer interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
}

// The servers' limits: headers within 10 s and 64 KiB, a whole request
// within 30 s, an idle connection kept 2 minutes. No write timeout, so
// that SSE streams can run as long as their route allows; slow readers
// are bounded by the handlers' write deadlines.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10
)

func newServer(kind string, handler http.Handler, logger *slog.Logger) (httpServer, error) {
	switch kind {
	case "", "keel":
		return &h1.Server{
			Handler:           handler,
			ReadHeaderTimeout: readHeaderTimeout,
			ReadTimeout:       readTimeout,
			IdleTimeout:       idleTimeout,
			MaxHeaderBytes:    maxHeaderBytes,
			Logger:            logger,
		}, nil
	case "net/http":
		return &http.Server{
			Handler:           handler,
			ReadHeaderTimeout: readHeaderTimeout,
			ReadTimeout:       readTimeout,
			IdleTimeout:       idleTimeout,
			MaxHeaderBytes:    maxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		}, nil
	}
	return nil, fmt.Errorf("http_server %q: want keel or net/http", kind)
}

// serve runs srv on lis until ctx ends, then shuts it down.
func serve(ctx context.Context, srv httpServer, lis net.Listener, logger *slog.Logger) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	logger.Info("gateway listening", "addr", lis.Addr().String())

	select {
	case err := <-errc:
		return fmt.Errorf("serve http on %s: %w", lis.Addr(), err)
	case <-ctx.Done():
	}

	shutdownCtx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down http: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve http: %w", err)
	}
	return nil
}

// grpcRouter is httpapi.ModelRouter over a gRPC connection to the router.
type grpcRouter struct {
	client keelv1.ModelRouterServiceClient
}

// routerCallTimeout bounds a non-streamed chat call to the router over gRPC
// whose context has no deadline. Without it grpcx.Dial's client would give
// the call grpcx.DefaultCallTimeout (10 s), far shorter than a route's own
// deadlines (2 minutes for a whole call by default), and cut every slow
// answer; the route and the client's hanging up govern instead.
const routerCallTimeout = time.Hour

func (g grpcRouter) Generate(ctx context.Context, req *keelv1.GenerateRequest) (*keelv1.GenerateResponse, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, routerCallTimeout)
		defer cancel()
	}
	return g.client.Generate(ctx, req)
}

func (g grpcRouter) GenerateStream(
	ctx context.Context,
	req *keelv1.GenerateRequest,
	send func(*keelv1.GenerateStreamResponse) error,
) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := g.client.GenerateStream(ctx, &keelv1.GenerateStreamRequest{Request: req})
	if err != nil {
		return err
	}
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := send(msg); err != nil {
			return err
		}
	}
}

func (g grpcRouter) ListRoutes(ctx context.Context, req *keelv1.ListRoutesRequest) (*keelv1.ListRoutesResponse, error) {
	return g.client.ListRoutes(ctx, req)
}
