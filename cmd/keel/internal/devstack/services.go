package devstack

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"

	"github.com/nats-io/nats.go"
	"go.temporal.io/sdk/client"

	"github.com/keelhq/keel/pkg/config"
	auditsvc "github.com/keelhq/keel/services/audit/service"
	embedsvc "github.com/keelhq/keel/services/embed/service"
	evalsvc "github.com/keelhq/keel/services/eval/service"
	gatewaysvc "github.com/keelhq/keel/services/gateway/service"
	ingestsvc "github.com/keelhq/keel/services/ingest/service"
	retrievesvc "github.com/keelhq/keel/services/retrieve/service"
	routersvc "github.com/keelhq/keel/services/router/service"
	workflowssvc "github.com/keelhq/keel/services/workflows/service"
)

// serviceEnv is what every in-process service is configured from.
type serviceEnv struct {
	info       Info
	dataDir    string
	vaultKey   string
	tokenKey   string
	serviceKey string
	ordersFile string
	nats       *nats.Conn
	temporal   client.Client
	logger     *slog.Logger
	// router lets the gateway call the router in process.
	router *routersvc.Local
}

// configure returns a service's Run bound to its configuration: its
// defaults, then the environment (for example KEEL_ROUTER_ROUTES_FILE or
// KEEL_REVIEW_RISK_THRESHOLD), then wire, which points it at this stack.
// A configuration the service would refuse is refused here, before
// anything starts.
func configure[C, D any](
	defaults func() C,
	wire func(*C),
	run func(context.Context, C, D) error,
	deps D,
) (func(context.Context) error, error) {
	cfg := defaults()
	if err := config.Load("", &cfg); err != nil {
		return nil, err
	}
	wire(&cfg)
	if v, ok := any(cfg).(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return nil, fmt.Errorf("invalid config: %w", err)
		}
	}
	return func(ctx context.Context) error { return run(ctx, cfg, deps) }, nil
}

// runner returns the Run function of service name, configured to reach the
// others in this process and to serve on lis.
func (e serviceEnv) runner(name string, lis net.Listener) (func(context.Context) error, error) {
	log := e.logger.With("service", name)
	addr := lis.Addr().String()
	switch name {
	case "audit":
		return configure(auditsvc.DefaultConfig, func(c *auditsvc.Config) {
			c.ServiceKey, c.NATS.URL, c.GRPC.Addr = e.serviceKey, e.info.NATSURL, addr
			c.Database.URL = e.info.DatabaseURL
		}, auditsvc.Run, auditsvc.Deps{Logger: log, NATS: e.nats, Listener: lis})
	case "ingest":
		return configure(ingestsvc.DefaultConfig, func(c *ingestsvc.Config) {
			c.ServiceKey, c.NATS.URL, c.GRPC.Addr = e.serviceKey, e.info.NATSURL, addr
			c.Database.URL = e.info.DatabaseURL
			c.Vault.Key = e.vaultKey
		}, ingestsvc.Run, ingestsvc.Deps{Logger: log, NATS: e.nats, Listener: lis})
	case "embed":
		return configure(embedsvc.DefaultConfig, func(c *embedsvc.Config) {
			c.ServiceKey, c.NATS.URL, c.GRPC.Addr = e.serviceKey, e.info.NATSURL, addr
		}, embedsvc.Run, embedsvc.Deps{Logger: log, NATS: e.nats, Listener: lis})
	case "retrieve":
		return configure(retrievesvc.DefaultConfig, func(c *retrievesvc.Config) {
			c.ServiceKey, c.NATS.URL, c.GRPC.Addr = e.serviceKey, e.info.NATSURL, addr
			c.Embed.Addr = e.info.GRPC["embed"]
			c.Index.DataDir = filepath.Join(e.dataDir, "retrieve")
		}, retrievesvc.Run, retrievesvc.Deps{Logger: log, NATS: e.nats, Listener: lis})
	case "router":
		return configure(routersvc.DefaultConfig, func(c *routersvc.Config) {
			c.ServiceKey, c.NATS.URL, c.GRPC.Addr = e.serviceKey, e.info.NATSURL, addr
		}, routersvc.Run, routersvc.Deps{Logger: log, NATS: e.nats, Listener: lis, Local: e.router})
	case "eval":
		return configure(evalsvc.DefaultConfig, func(c *evalsvc.Config) {
			c.ServiceKey, c.NATS.URL, c.GRPC.Addr = e.serviceKey, e.info.NATSURL, addr
		}, evalsvc.Run, evalsvc.Deps{Logger: log, NATS: e.nats, Listener: lis})
	case "workflows":
		return configure(workflowssvc.DefaultConfig, func(c *workflowssvc.Config) {
			c.ServiceKey, c.NATS.URL, c.Health.Addr = e.serviceKey, e.info.NATSURL, addr
			c.Temporal.Addr = e.info.TemporalAddr
			c.Services.IngestAddr = e.info.GRPC["ingest"]
			c.Services.RetrieveAddr = e.info.GRPC["retrieve"]
			c.Services.RouterAddr = e.info.GRPC["router"]
			c.Services.EvalAddr = e.info.GRPC["eval"]
			if e.ordersFile != "" {
				c.Orders.File = e.ordersFile
			}
		}, workflowssvc.Run, workflowssvc.Deps{Logger: log, NATS: e.nats, Temporal: e.temporal, Listener: lis})
	case "gateway":
		return configure(gatewaysvc.DefaultConfig, func(c *gatewaysvc.Config) {
			c.ServiceKey, c.NATSURL, c.HTTPAddr = e.serviceKey, e.info.NATSURL, addr
			c.TokenKey = e.tokenKey
			c.IngestAddr = e.info.GRPC["ingest"]
			c.RouterAddr = e.info.GRPC["router"]
			c.TemporalAddr = e.info.TemporalAddr
		}, gatewaysvc.Run, gatewaysvc.Deps{
			Logger: log, NATS: e.nats, Listener: lis, Temporal: e.temporal, Router: e.router,
		})
	default:
		return nil, fmt.Errorf("unknown service %q", name)
	}
}
