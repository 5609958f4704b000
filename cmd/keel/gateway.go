package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/keelhq/keel/cmd/keel/internal/devstack"
	"github.com/keelhq/keel/cmd/keel/internal/keys"
	"github.com/keelhq/keel/pkg/auth"
	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/natsserver"
	gatewaysvc "github.com/keelhq/keel/services/gateway/service"
	routersvc "github.com/keelhq/keel/services/router/service"
)

// runGateway serves Keel as a model gateway alone: the OpenAI-compatible
// chat endpoints of the gateway over the router in one process, with an
// embedded NATS for the usage and audit events. It is what the gateway
// benchmark measures, and a way to use Keel's router from OpenAI clients
// without the rest of the stack.
func runGateway(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("gateway")
	addr := fs.String("addr", "127.0.0.1:8480", "address of the HTTP API")
	routes := fs.String("routes", os.Getenv("KEEL_ROUTER_ROUTES_FILE"), "routes file (default: the embedded local routes)")
	dataDir := fs.String("data-dir", defaultDataDir(), "where JetStream and keys are kept")
	tokenTenant := fs.String("print-token", "", "print a bearer token for this tenant (scope models:invoke) and go on")
	pprofAddr := fs.String("pprof", "", "serve net/http/pprof on this loopback address")
	quiet := fs.Bool("quiet", false, "log warnings and errors only, not every request")
	httpServer := fs.String("http-server", os.Getenv("KEEL_GATEWAY_HTTP_SERVER"), "HTTP server: keel (default) or net/http")
	if err := fs.Parse(args); err != nil {
		return parseError(err)
	}
	level := slog.LevelInfo
	if *quiet {
		level = slog.LevelWarn
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	keyDir := filepath.Join(*dataDir, "keys")
	tokenKey, err := keys.LoadOrCreate(keys.TokenKeyEnv, keyDir, "token.key")
	if err != nil {
		return err
	}
	serviceKey, err := keys.LoadOrCreate(keys.ServiceKeyEnv, keyDir, "service.key")
	if err != nil {
		return err
	}
	if *tokenTenant != "" {
		raw, err := auth.DecodeKey(tokenKey)
		if err != nil {
			return err
		}
		tok, err := auth.Mint(raw, *tokenTenant, "gateway-user", []string{auth.ScopeModelsInvoke}, auth.MaxTTL, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintln(out, tok)
	}

	ns, err := natsserver.Start(natsserver.Options{StoreDir: filepath.Join(*dataDir, "gateway-jetstream")})
	if err != nil {
		return err
	}
	defer ns.Shutdown()
	nc, err := nats.Connect(ns.ClientURL(), nats.Name("keel-gateway"))
	if err != nil {
		return fmt.Errorf("connect nats: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	if err := bus.DeclareStreams(ctx, js); err != nil {
		return err
	}

	routerLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	httpLis, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", *addr, err)
	}

	local := routersvc.NewLocal()
	rcfg := routersvc.DefaultConfig()
	rcfg.Routes.File, rcfg.ServiceKey = *routes, serviceKey
	rcfg.GRPC.Addr, rcfg.NATS.URL = routerLis.Addr().String(), ns.ClientURL()
	gcfg := gatewaysvc.DefaultConfig()
	gcfg.HTTPAddr, gcfg.TokenKey, gcfg.ServiceKey = httpLis.Addr().String(), tokenKey, serviceKey
	gcfg.RouterAddr, gcfg.NATSURL = routerLis.Addr().String(), ns.ClientURL()
	gcfg.HTTPServer, gcfg.ModelAPIOnly = *httpServer, true

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return routersvc.Run(gctx, rcfg, routersvc.Deps{
			Logger: logger.With("service", "router"), NATS: nc, Listener: routerLis, Local: local,
		})
	})
	// The API is served once the router is: a route file that cannot be
	// served (a key missing) ends the command before anything says it
	// listens. Connections made meanwhile wait in the listener's queue.
	defer func() { _ = httpLis.Close() }()
	g.Go(func() error {
		select {
		case <-local.Ready():
		case <-gctx.Done():
			return nil
		}
		if !local.Serving() {
			return nil // the router's error ends the group
		}
		return gatewaysvc.Run(gctx, gcfg, gatewaysvc.Deps{
			Logger: logger.With("service", "gateway"), NATS: nc, Listener: httpLis, Router: local,
		})
	})
	if *pprofAddr != "" {
		g.Go(func() error { return servePprof(gctx, *pprofAddr) })
	}
	// Said once the router serves, so that a script waiting for the line
	// never sends a call that finds no routes.
	select {
	case <-local.Ready():
		if !local.Serving() {
			break
		}
		fmt.Fprintf(os.Stderr, "keel gateway: OpenAI-compatible API on http://%s/v1 (routes: %s; usage events on %s)\n",
			httpLis.Addr(), cmp.Or(*routes, "embedded local"), ns.ClientURL())
		// keel streams finds the NATS here while the gateway runs.
		remove, err := devstack.WriteGatewayInfo(*dataDir, devstack.GatewayInfo{
			NATSURL: ns.ClientURL(), APIURL: "http://" + httpLis.Addr().String() + "/v1",
		})
		if err != nil {
			logger.Warn("gateway info not recorded; keel streams needs --nats", "error", err)
		} else {
			defer remove()
		}
	case <-gctx.Done():
	}
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

func servePprof(ctx context.Context, addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || !net.ParseIP(host).IsLoopback() {
		return fmt.Errorf("pprof address %q must be on loopback", addr)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
