// Package devtemporal runs a Temporal server inside the keel process for
// `keel dev` and tests: every Temporal service in one process, SQLite for
// persistence (a file, or memory when no data directory is given), the
// frontend on a loopback address and the other services on free loopback
// ports found when it starts.
package devtemporal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
)

const (
	// DefaultNamespace is the namespace created when Options.Namespaces is
	// empty.
	DefaultNamespace = "default"

	// DatabaseFile is the name of the SQLite file inside Options.DataDir.
	DatabaseFile = "temporal.db"

	loopback    = "127.0.0.1"
	clusterName = "active"
)

// ErrNotReady is returned by Start when the frontend does not answer a
// health check before the context ends.
var ErrNotReady = errors.New("temporal server not ready")

// Options configures an embedded server. The zero value is usable: memory
// persistence, the namespace "default", the frontend on a free loopback port
// and no logs.
type Options struct {
	// FrontendAddr is the host:port the frontend listens on. The host must be
	// a loopback address; port 0 (or an empty string) picks a free port.
	FrontendAddr string

	// DataDir holds the SQLite database (DatabaseFile). Empty keeps
	// everything in memory, lost when the process ends.
	DataDir string

	// Namespaces are registered before the server starts; existing ones are
	// left as they are. Empty means DefaultNamespace.
	Namespaces []string

	// Logger receives the server's own logs at LogLevel and above. Nil
	// discards them.
	Logger *slog.Logger

	// LogLevel is the least severe level passed to Logger. The zero value is
	// slog.LevelInfo; keel dev uses slog.LevelWarn.
	LogLevel slog.Level
}

// Server is a running embedded Temporal server.
type Server struct {
	server   temporal.Server
	hostPort string

	stopOnce sync.Once
	stopErr  error
}

// Start registers the namespaces, starts every Temporal service and waits
// until the frontend answers a health check. It returns ErrNotReady (wrapped)
// when ctx ends first; the server is then stopped again.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if len(opts.Namespaces) == 0 {
		opts.Namespaces = []string{DefaultNamespace}
	}

	frontend, err := frontendAddr(opts.FrontendAddr)
	if err != nil {
		return nil, err
	}

	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	grpcPorts := map[primitives.ServiceName]int{
		primitives.FrontendService: frontend.Port,
		primitives.HistoryService:  ports[0],
		primitives.MatchingService: ports[1],
		primitives.WorkerService:   ports[2],
	}

	sqlCfg, err := prepareDatabase(opts.DataDir)
	if err != nil {
		return nil, err
	}
	if err := registerNamespaces(sqlCfg, opts.Namespaces); err != nil {
		return nil, err
	}

	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	cfg := serverConfig(sqlCfg, frontend.String(), grpcPorts)
	srv, err := newServer(cfg, grpcPorts, newSlogLogger(logger, opts.LogLevel))
	if err != nil {
		return nil, err
	}

	s := &Server{server: srv, hostPort: frontend.String()}
	if err := s.waitReady(ctx, opts.Namespaces[0]); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

// newServer creates and starts the server. The server reports some startup
// failures, such as a port that is taken, through its logger's Fatal, which
// panics here; that panic is returned as an error.
func newServer(
	cfg *config.Config,
	grpcPorts map[primitives.ServiceName]int,
	logger *slogLogger,
) (srv temporal.Server, err error) {
	defer func() {
		if r := recover(); r != nil {
			srv, err = nil, fmt.Errorf("start temporal server: %v", r)
		}
	}()

	srv, err = temporal.NewServer(
		temporal.WithConfig(cfg),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(staticHosts(grpcPorts)),
		temporal.WithLogger(logger),
		temporal.WithDynamicConfigClient(dynamicconfig.StaticClient{
			// Search attributes registered by tests become visible at once.
			dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): []dynamicconfig.ConstrainedValue{
				{Value: true},
			},
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("create temporal server: %w", err)
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("start temporal server: %w", err)
	}
	return srv, nil
}

// HostPort returns the frontend's host:port for client.Dial.
func (s *Server) HostPort() string {
	return s.hostPort
}

// Stop shuts every service down. It is safe to call more than once; later
// calls return the first call's result.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		if err := s.server.Stop(); err != nil {
			s.stopErr = fmt.Errorf("stop temporal server: %w", err)
		}
	})
	return s.stopErr
}

// waitReady polls the frontend until it answers a health check and knows the
// namespace.
func (s *Server) waitReady(ctx context.Context, namespace string) error {
	ticker := time.NewTicker(50 * time.Millisecond)
	defer ticker.Stop()

	var lastErr error
	for {
		if lastErr = s.check(ctx, namespace); lastErr == nil {
			return nil
		}

		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrNotReady, errors.Join(ctx.Err(), lastErr))
		case <-ticker.C:
		}
	}
}

func (s *Server) check(ctx context.Context, namespace string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()

	c, err := client.DialContext(ctx, client.Options{
		HostPort:  s.hostPort,
		Namespace: namespace,
		Logger:    sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
	})
	if err != nil {
		return err
	}
	defer c.Close()

	req := &workflowservice.DescribeNamespaceRequest{Namespace: namespace}
	if _, err := c.WorkflowService().DescribeNamespace(ctx, req); err != nil {
		return err
	}
	return nil
}

// frontendAddr parses addr and fills in a free port when it asks for one.
func frontendAddr(addr string) (*net.TCPAddr, error) {
	if addr == "" {
		addr = net.JoinHostPort(loopback, "0")
	}

	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("parse frontend address %q: %w", addr, err)
	}
	ip := net.ParseIP(host)
	if host == "localhost" {
		ip = net.ParseIP(loopback)
	}
	if ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("frontend address %q: host must be a loopback address", addr)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("frontend address %q: invalid port", addr)
	}

	if port == 0 {
		ports, err := freePortsOn(ip.String(), 1)
		if err != nil {
			return nil, err
		}
		port = ports[0]
	}
	return &net.TCPAddr{IP: ip, Port: port}, nil
}

func freePorts(n int) ([]int, error) {
	return freePortsOn(loopback, n)
}

// freePortsOn asks the kernel for n distinct free ports on host. The
// listeners stay open until all ports are chosen so none is handed out
// twice.
//
// TODO: a port can be taken by another process between this call and the
// server binding it; the server's listeners are created inside its fx graph,
// so there is no way to hand it an open listener.
func freePortsOn(host string, n int) ([]int, error) {
	listeners := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()

	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, fmt.Errorf("find free port: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// prepareDatabase returns the SQLite configuration for dataDir and creates
// the schema when the database file does not exist yet.
func prepareDatabase(dataDir string) (*config.SQL, error) {
	if dataDir == "" {
		// The plugin creates the schema for in-memory databases itself and
		// keeps the connection for the life of the process. A unique name
		// keeps two servers in one process apart.
		return &config.SQL{
			PluginName:   sqliteplugin.PluginName,
			DatabaseName: "keel-" + primitives.NewUUID().String(),
			ConnectAttributes: map[string]string{
				"mode":  "memory",
				"cache": "shared",
			},
		}, nil
	}

	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create temporal data dir: %w", err)
	}
	path := filepath.Join(dataDir, DatabaseFile)
	cfg := &config.SQL{
		PluginName:   sqliteplugin.PluginName,
		DatabaseName: path,
		ConnectAttributes: map[string]string{
			"mode":         "rwc",
			"journal_mode": "wal",
			"synchronous":  "normal",
		},
	}

	_, err := os.Stat(path)
	if err == nil {
		return cfg, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("inspect temporal database: %w", err)
	}
	if err := sqliteschema.SetupSchema(cfg); err != nil {
		_ = os.Remove(path)
		return nil, fmt.Errorf("create temporal schema: %w", err)
	}
	return cfg, nil
}

func registerNamespaces(sqlCfg *config.SQL, names []string) error {
	namespaces := make([]*sqliteschema.NamespaceConfig, 0, len(names))
	for _, name := range names {
		ns, err := sqliteschema.NewNamespaceConfig(clusterName, name, false, nil)
		if err != nil {
			return fmt.Errorf("configure namespace %q: %w", name, err)
		}
		namespaces = append(namespaces, ns)
	}

	if err := sqliteschema.CreateNamespaces(sqlCfg, namespaces...); err != nil {
		return fmt.Errorf("register namespaces: %w", err)
	}
	return nil
}

// serverConfig is the static configuration of a one-process, one-shard
// cluster without archival, metrics endpoints or pprof.
func serverConfig(
	sqlCfg *config.SQL,
	frontend string,
	grpcPorts map[primitives.ServiceName]int,
) *config.Config {
	services := make(map[string]config.Service, len(grpcPorts))
	for name, port := range grpcPorts {
		services[string(name)] = config.Service{RPC: config.RPC{
			GRPCPort: port,
			BindOnIP: loopback,
		}}
	}

	return &config.Config{
		Global: config.Global{
			Membership: config.Membership{
				MaxJoinDuration:  10 * time.Second,
				BroadcastAddress: loopback,
			},
		},
		Persistence: config.Persistence{
			DefaultStore:     sqliteplugin.PluginName,
			VisibilityStore:  sqliteplugin.PluginName,
			NumHistoryShards: 1,
			DataStores: map[string]config.DataStore{
				sqliteplugin.PluginName: {SQL: sqlCfg},
			},
		},
		ClusterMetadata: &cluster.Config{
			EnableGlobalNamespace:    false,
			FailoverVersionIncrement: 10,
			MasterClusterName:        clusterName,
			CurrentClusterName:       clusterName,
			ClusterInformation: map[string]cluster.ClusterInformation{
				clusterName: {
					Enabled:                true,
					InitialFailoverVersion: 1,
					RPCAddress:             frontend,
				},
			},
		},
		DCRedirectionPolicy: config.DCRedirectionPolicy{Policy: "noop"},
		Services:            services,
		Archival: config.Archival{
			History:    config.HistoryArchival{State: "disabled"},
			Visibility: config.VisibilityArchival{State: "disabled"},
		},
		NamespaceDefaults: config.NamespaceDefaults{
			Archival: config.ArchivalNamespaceDefaults{
				History:    config.HistoryArchivalNamespaceDefaults{State: "disabled"},
				Visibility: config.VisibilityArchivalNamespaceDefaults{State: "disabled"},
			},
		},
		PublicClient: config.PublicClient{HostPort: frontend},
	}
}

// staticHosts pins every service to its own address, so the server needs no
// gossip ring (and no membership ports).
func staticHosts(grpcPorts map[primitives.ServiceName]int) map[primitives.ServiceName]static.Hosts {
	hosts := make(map[primitives.ServiceName]static.Hosts, len(grpcPorts))
	for name, port := range grpcPorts {
		hosts[name] = static.SingleLocalHost(net.JoinHostPort(loopback, strconv.Itoa(port)))
	}
	return hosts
}
