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
	policy     CopilotPolicy
	nats       *nats.Conn
	temporal   client.Client
	logger     *slog.Logger
}

// runner returns the Run function of service name, configured to reach the
// others in this process and to serve on lis.
func (e serviceEnv) runner(name string, lis net.Listener) (func(context.Context) error, error) {
	log := e.logger.With("service", name)
	// Each service first takes its defaults and the environment (for
	// example KEEL_ROUTER_ROUTES_FILE), then the addresses of this stack.
	switch name {
	case "audit":
		cfg := auditsvc.DefaultConfig()
		if err := config.Load("", &cfg); err != nil {
			return nil, err
		}
		cfg.ServiceKey = e.serviceKey
		cfg.NATS.URL = e.info.NATSURL
		cfg.Database.URL = e.info.DatabaseURL
		cfg.GRPC.Addr = lis.Addr().String()
		deps := auditsvc.Deps{Logger: log, NATS: e.nats, Listener: lis}
		return func(ctx context.Context) error { return auditsvc.Run(ctx, cfg, deps) }, nil
	case "ingest":
		cfg := ingestsvc.DefaultConfig()
		if err := config.Load("", &cfg); err != nil {
			return nil, err
		}
		cfg.ServiceKey = e.serviceKey
		cfg.NATS.URL = e.info.NATSURL
		cfg.Database.URL = e.info.DatabaseURL
		cfg.GRPC.Addr = lis.Addr().String()
		cfg.Vault.Key = e.vaultKey
		deps := ingestsvc.Deps{Logger: log, NATS: e.nats, Listener: lis}
		return func(ctx context.Context) error { return ingestsvc.Run(ctx, cfg, deps) }, nil
	case "embed":
		cfg := embedsvc.DefaultConfig()
		if err := config.Load("", &cfg); err != nil {
			return nil, err
		}
		cfg.ServiceKey = e.serviceKey
		cfg.NATS.URL = e.info.NATSURL
		cfg.GRPC.Addr = lis.Addr().String()
		deps := embedsvc.Deps{Logger: log, NATS: e.nats, Listener: lis}
		return func(ctx context.Context) error { return embedsvc.Run(ctx, cfg, deps) }, nil
	case "retrieve":
		cfg := retrievesvc.DefaultConfig()
		if err := config.Load("", &cfg); err != nil {
			return nil, err
		}
		cfg.ServiceKey = e.serviceKey
		cfg.NATS.URL = e.info.NATSURL
		cfg.GRPC.Addr = lis.Addr().String()
		cfg.Embed.Addr = e.info.GRPC["embed"]
		cfg.Index.DataDir = filepath.Join(e.dataDir, "retrieve")
		deps := retrievesvc.Deps{Logger: log, NATS: e.nats, Listener: lis}
		return func(ctx context.Context) error { return retrievesvc.Run(ctx, cfg, deps) }, nil
	case "router":
		cfg := routersvc.DefaultConfig()
		if err := config.Load("", &cfg); err != nil {
			return nil, err
		}
		cfg.ServiceKey = e.serviceKey
		cfg.NATS.URL = e.info.NATSURL
		cfg.GRPC.Addr = lis.Addr().String()
		deps := routersvc.Deps{Logger: log, NATS: e.nats, Listener: lis}
		return func(ctx context.Context) error { return routersvc.Run(ctx, cfg, deps) }, nil
	case "eval":
		cfg := evalsvc.DefaultConfig()
		if err := config.Load("", &cfg); err != nil {
			return nil, err
		}
		cfg.ServiceKey = e.serviceKey
		cfg.NATS.URL = e.info.NATSURL
		cfg.GRPC.Addr = lis.Addr().String()
		deps := evalsvc.Deps{Logger: log, NATS: e.nats, Listener: lis}
		return func(ctx context.Context) error { return evalsvc.Run(ctx, cfg, deps) }, nil
	case "workflows":
		cfg := workflowssvc.DefaultConfig()
		if err := config.Load("", &cfg); err != nil {
			return nil, err
		}
		cfg.ServiceKey = e.serviceKey
		cfg.NATS.URL = e.info.NATSURL
		cfg.Temporal.Addr = e.info.TemporalAddr
		cfg.Services.IngestAddr = e.info.GRPC["ingest"]
		cfg.Services.RetrieveAddr = e.info.GRPC["retrieve"]
		cfg.Services.RouterAddr = e.info.GRPC["router"]
		cfg.Services.EvalAddr = e.info.GRPC["eval"]
		cfg.Health.Addr = lis.Addr().String()
		if e.ordersFile != "" {
			cfg.Orders.File = e.ordersFile
		}
		if e.policy.RiskThreshold > 0 {
			cfg.Review.RiskThreshold = e.policy.RiskThreshold
		}
		if len(e.policy.AlwaysReview) > 0 {
			cfg.Review.AlwaysReview = e.policy.AlwaysReview
		}
		deps := workflowssvc.Deps{Logger: log, NATS: e.nats, Temporal: e.temporal, Listener: lis}
		return func(ctx context.Context) error { return workflowssvc.Run(ctx, cfg, deps) }, nil
	case "gateway":
		cfg := gatewaysvc.DefaultConfig()
		if err := config.Load("", &cfg); err != nil {
			return nil, err
		}
		cfg.ServiceKey = e.serviceKey
		cfg.HTTPAddr = lis.Addr().String()
		cfg.TokenKey = e.tokenKey
		cfg.IngestAddr = e.info.GRPC["ingest"]
		cfg.TemporalAddr = e.info.TemporalAddr
		cfg.NATSURL = e.info.NATSURL
		deps := gatewaysvc.Deps{Logger: log, NATS: e.nats, Listener: lis, Temporal: e.temporal}
		return func(ctx context.Context) error { return gatewaysvc.Run(ctx, cfg, deps) }, nil
	default:
		return nil, fmt.Errorf("unknown service %q", name)
	}
}
