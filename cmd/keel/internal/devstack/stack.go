// Package devstack runs the whole of Keel in one process on embedded
// infrastructure: a NATS server with JetStream, a Temporal server on SQLite,
// Postgres from a URL or a private cluster, and every service.
package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.temporal.io/sdk/client"
	"golang.org/x/sync/errgroup"

	"github.com/keelhq/keel/cmd/keel/internal/devpg"
	"github.com/keelhq/keel/cmd/keel/internal/devtemporal"
	"github.com/keelhq/keel/cmd/keel/internal/keys"
	"github.com/keelhq/keel/pkg/auth"
	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/natsserver"
	"github.com/keelhq/keel/pkg/pgdb"
	"github.com/keelhq/keel/pkg/temporalx"
	routersvc "github.com/keelhq/keel/services/router/service"
)

// Fixed loopback ports of `keel dev`, so that other keel commands find it.
const (
	DefaultNATSPort     = 4322
	DefaultTemporalPort = 7233
	DefaultGatewayPort  = 8480
	defaultGRPCBase     = 7401 // ingest; embed, retrieve, router, eval, audit follow
)

// Service names in start order.
var serviceNames = []string{"ingest", "embed", "retrieve", "router", "eval", "audit", "workflows", "gateway"}

// Options configures a stack.
type Options struct {
	// DataDir holds JetStream data, the Temporal database, the retrieval
	// index, keys and, without DatabaseURL, the private Postgres cluster.
	DataDir string
	// DatabaseURL, when set, is used instead of a private cluster.
	DatabaseURL string
	// Ephemeral picks free ports for everything instead of the fixed ones,
	// so that a test or demo can run beside `keel dev`.
	Ephemeral bool
	// OrdersFile backs the copilot's order tools.
	OrdersFile string
	// Logger receives the services' logs.
	Logger *slog.Logger
}

// Info is what other keel commands need to reach a running stack; keel dev
// writes it to <data dir>/stack.json.
type Info struct {
	NATSURL      string            `json:"nats_url"`
	TemporalAddr string            `json:"temporal_addr"`
	GatewayURL   string            `json:"gateway_url"`
	GRPC         map[string]string `json:"grpc"`
	DatabaseURL  string            `json:"-"`
}

// Stack is a running stack.
type Stack struct {
	Info Info
	// TokenKey signs the bearer tokens the gateway accepts.
	TokenKey []byte
	// ServiceKey signs the service tokens every internal gRPC call carries;
	// keel's own clients dial with grpcx.WithServiceToken(ServiceKey, ...).
	ServiceKey []byte
	NATS       *nats.Conn
	JS         jetstream.JetStream
	Temporal   client.Client

	cancel   context.CancelFunc
	group    *errgroup.Group
	closers  []func()
	dataDir  string
	stopOnce bool
}

// Start brings up the infrastructure and every service, returning once all
// of them listen. Stop the stack with Stop; Wait returns when a service
// fails or the stack is stopped.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(opts.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	s := &Stack{dataDir: opts.DataDir}
	if err := s.start(ctx, opts); err != nil {
		// Undo whatever had started: a private Postgres must not outlive
		// a failed start.
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Stack) start(ctx context.Context, opts Options) error {
	// Keys: from the environment, else generated once under the data dir.
	keyDir := filepath.Join(opts.DataDir, "keys")
	tokenKey, err := keys.LoadOrCreate(keys.TokenKeyEnv, keyDir, "token.key")
	if err != nil {
		return err
	}
	if s.TokenKey, err = auth.DecodeKey(tokenKey); err != nil {
		return fmt.Errorf("token key: %w", err)
	}
	vaultKey, err := keys.LoadOrCreate(keys.VaultKeyEnv, keyDir, "vault.key")
	if err != nil {
		return err
	}
	serviceKey, err := keys.LoadOrCreate(keys.ServiceKeyEnv, keyDir, "service.key")
	if err != nil {
		return err
	}
	if s.ServiceKey, err = auth.DecodeKey(serviceKey); err != nil {
		return fmt.Errorf("service key: %w", err)
	}

	// Postgres.
	dbURL := opts.DatabaseURL
	if dbURL == "" {
		pg, err := devpg.Start(ctx, filepath.Join(opts.DataDir, "postgres"))
		if err != nil {
			return err
		}
		s.closers = append(s.closers, func() { _ = pg.Stop(context.Background()) })
		dbURL = pg.URL()
	}
	// Fail now, with the reason, rather than after "up" when a service
	// first needs the database.
	pool, err := pgdb.Open(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("database: %w", err)
	}
	pool.Close()
	s.Info.DatabaseURL = dbURL

	// NATS with JetStream.
	natsPort := DefaultNATSPort
	if opts.Ephemeral {
		natsPort = 0
	}
	ns, err := natsserver.Start(natsserver.Options{Port: natsPort, StoreDir: filepath.Join(opts.DataDir, "jetstream")})
	if err != nil {
		return fmt.Errorf("start nats: %w", err)
	}
	s.closers = append(s.closers, func() { shutdownNATS(ns) })
	s.Info.NATSURL = ns.ClientURL()
	if s.NATS, err = nats.Connect(s.Info.NATSURL, nats.Name("keel-dev")); err != nil {
		return fmt.Errorf("connect nats: %w", err)
	}
	s.closers = append(s.closers, s.NATS.Close)
	if s.JS, err = jetstream.New(s.NATS); err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	if err := bus.DeclareStreams(ctx, s.JS); err != nil {
		return err
	}

	// Temporal.
	temporalAddr := fmt.Sprintf("127.0.0.1:%d", DefaultTemporalPort)
	if opts.Ephemeral {
		temporalAddr = "127.0.0.1:0"
	}
	ts, err := devtemporal.Start(ctx, devtemporal.Options{
		FrontendAddr: temporalAddr,
		DataDir:      filepath.Join(opts.DataDir, "temporal"),
		Logger:       opts.Logger.With("service", "temporal"),
		LogLevel:     slog.LevelError,
	})
	if err != nil {
		return fmt.Errorf("start temporal: %w", err)
	}
	s.closers = append(s.closers, func() { _ = ts.Stop() })
	s.Info.TemporalAddr = ts.HostPort()
	clientLog := opts.Logger.With("service", "temporal-client")
	if s.Temporal, err = temporalx.Dial(s.Info.TemporalAddr, temporalx.Namespace, clientLog); err != nil {
		return err
	}
	s.closers = append(s.closers, s.Temporal.Close)

	// Listeners first, so every service knows every address before any starts.
	lis, err := listenAll(opts.Ephemeral)
	if err != nil {
		return err
	}
	s.Info.GRPC = map[string]string{}
	for name, l := range lis {
		if name != "gateway" {
			s.Info.GRPC[name] = l.Addr().String()
		}
	}
	s.Info.GatewayURL = "http://" + lis["gateway"].Addr().String()

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	group, gctx := errgroup.WithContext(runCtx)
	s.group = group
	env := serviceEnv{
		info:       s.Info,
		dataDir:    opts.DataDir,
		vaultKey:   vaultKey,
		tokenKey:   tokenKey,
		serviceKey: serviceKey,
		ordersFile: opts.OrdersFile,
		nats:       s.NATS,
		temporal:   s.Temporal,
		logger:     opts.Logger,
		router:     routersvc.NewLocal(),
	}
	// Every service is configured, and its configuration checked, before
	// any starts.
	runs := make([]func(context.Context) error, len(serviceNames))
	for i, name := range serviceNames {
		run, err := env.runner(name, lis[name])
		if err != nil {
			return fmt.Errorf("configure %s: %w", name, err)
		}
		runs[i] = run
	}
	for i, name := range serviceNames {
		run := runs[i]
		group.Go(func() error {
			if err := run(gctx); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			return nil
		})
	}
	return nil
}

// Wait blocks until the stack stops and returns the first service error.
func (s *Stack) Wait() error {
	if s.group == nil {
		return nil
	}
	return s.group.Wait()
}

// Stop stops every service, then the infrastructure in reverse order.
func (s *Stack) Stop() {
	if s.stopOnce {
		return
	}
	s.stopOnce = true
	if s.cancel != nil {
		s.cancel()
		done := make(chan struct{})
		go func() { _ = s.group.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
		}
	}
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

// WriteInfo records the stack's addresses in <data dir>/stack.json.
func (s *Stack) WriteInfo() error {
	raw, err := json.MarshalIndent(s.Info, "", "  ")
	if err != nil {
		return fmt.Errorf("encode stack info: %w", err)
	}
	if err := os.WriteFile(filepath.Join(s.dataDir, "stack.json"), raw, 0o644); err != nil {
		return fmt.Errorf("write stack info: %w", err)
	}
	return nil
}

// RemoveInfo deletes <data dir>/stack.json, so that other commands do not
// look for a stack that has stopped.
func (s *Stack) RemoveInfo() {
	_ = os.Remove(filepath.Join(s.dataDir, "stack.json"))
}

// ReadInfo returns the stack info in dataDir, or the fixed addresses of
// `keel dev` when there is none.
func ReadInfo(dataDir string) Info {
	raw, err := os.ReadFile(filepath.Join(dataDir, "stack.json"))
	if err == nil {
		var info Info
		if json.Unmarshal(raw, &info) == nil && info.NATSURL != "" {
			return info
		}
	}
	info := Info{
		NATSURL:      fmt.Sprintf("nats://127.0.0.1:%d", DefaultNATSPort),
		TemporalAddr: fmt.Sprintf("127.0.0.1:%d", DefaultTemporalPort),
		GatewayURL:   fmt.Sprintf("http://127.0.0.1:%d", DefaultGatewayPort),
		GRPC:         map[string]string{},
	}
	for i, name := range serviceNames[:6] {
		info.GRPC[name] = fmt.Sprintf("127.0.0.1:%d", defaultGRPCBase+i)
	}
	return info
}

func listenAll(ephemeral bool) (map[string]net.Listener, error) {
	out := map[string]net.Listener{}
	addr := func(i int, name string) string {
		switch {
		case ephemeral:
			return "127.0.0.1:0"
		case name == "gateway":
			return fmt.Sprintf("127.0.0.1:%d", DefaultGatewayPort)
		case name == "workflows":
			// The worker serves no gRPC API; its listener only reserves a
			// health port.
			return "127.0.0.1:0"
		default:
			return fmt.Sprintf("127.0.0.1:%d", defaultGRPCBase+i)
		}
	}
	for i, name := range serviceNames {
		l, err := net.Listen("tcp", addr(i, name))
		if err != nil {
			for _, o := range out {
				o.Close()
			}
			return nil, fmt.Errorf("listen for %s: %w", name, err)
		}
		out[name] = l
	}
	return out, nil
}

func shutdownNATS(s *server.Server) {
	s.Shutdown()
	s.WaitForShutdown()
}

// GatewayInfo is what `keel gateway` records in <data dir>/gateway.json
// while it runs, for the commands that look for its NATS.
type GatewayInfo struct {
	NATSURL string `json:"nats_url"`
	APIURL  string `json:"api_url"`
}

// WriteGatewayInfo records info in dataDir and returns the function that
// removes it again.
func WriteGatewayInfo(dataDir string, info GatewayInfo) (remove func(), err error) {
	raw, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode gateway info: %w", err)
	}
	path := filepath.Join(dataDir, "gateway.json")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		return nil, fmt.Errorf("write gateway info: %w", err)
	}
	return func() { _ = os.Remove(path) }, nil
}

// NATSURL returns the NATS URL of what runs on dataDir: a `keel dev`
// stack, else a `keel gateway`, else the fixed address of `keel dev`.
func NATSURL(dataDir string) string {
	if raw, err := os.ReadFile(filepath.Join(dataDir, "stack.json")); err == nil {
		var info Info
		if json.Unmarshal(raw, &info) == nil && info.NATSURL != "" {
			return info.NATSURL
		}
	}
	if raw, err := os.ReadFile(filepath.Join(dataDir, "gateway.json")); err == nil {
		var info GatewayInfo
		if json.Unmarshal(raw, &info) == nil && info.NATSURL != "" {
			return info.NATSURL
		}
	}
	return ReadInfo(dataDir).NATSURL
}
