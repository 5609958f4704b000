package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/keelhq/keel/cmd/keel/internal/demo"
	"github.com/keelhq/keel/cmd/keel/internal/devstack"
	"github.com/keelhq/keel/pkg/config"
	"github.com/keelhq/keel/pkg/logging"
)

// runDev runs the whole stack in this process until interrupted.
func runDev(ctx context.Context, args []string) error {
	fs := newFlags("dev")
	dataDir := fs.String("data-dir", defaultDataDir(), "where JetStream, Temporal, Postgres, the index and keys are kept")
	dbURL := fs.String("database-url", config.DatabaseURL(), "Postgres to use instead of a private cluster (default $KEEL_DATABASE_URL or $DATABASE_URL)")
	if err := fs.Parse(args); err != nil {
		return parseError(err)
	}
	// Each service tags its own records; keel dev's own say service=keel.
	base := logging.NewProcess(version)
	logger := base.With("service", "keel")
	orders, _ := demoOrders()

	abs, err := filepath.Abs(*dataDir)
	if err != nil {
		return err
	}
	st, err := devstack.Start(ctx, devstack.Options{
		DataDir:     abs,
		DatabaseURL: *dbURL,
		OrdersFile:  orders,
		Logger:      base,
	})
	if err != nil {
		return err
	}
	defer st.Stop()
	if err := st.WriteInfo(); err != nil {
		return err
	}
	defer st.RemoveInfo()
	logger.Info("keel dev running",
		"nats", st.Info.NATSURL, "temporal", st.Info.TemporalAddr, "gateway", st.Info.GatewayURL,
		"data_dir", abs)
	fmt.Fprintf(os.Stderr, "\nkeel dev is up. Gateway %s, NATS %s, Temporal %s.\n"+
		"Mint a token: keel token --tenant larkspur --subject you\n"+
		"Stop with Ctrl-C.\n\n", st.Info.GatewayURL, st.Info.NATSURL, st.Info.TemporalAddr)

	errc := make(chan error, 1)
	go func() { errc <- st.Wait() }()
	select {
	case <-ctx.Done():
		logger.Info("shutting down")
		return nil
	case err := <-errc:
		return err
	}
}

// runDemo starts a private stack, runs the demo on it and stops it.
func runDemo(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("demo")
	dataDir := fs.String("data-dir", "", "keep the stack's state here (default: a temporary directory removed afterwards)")
	dbURL := fs.String("database-url", config.DatabaseURL(), "Postgres to use instead of a private cluster")
	verbose := fs.Bool("v", false, "print the services' logs")
	if err := fs.Parse(args); err != nil {
		return parseError(err)
	}
	root, err := demo.DataRoot()
	if err != nil {
		return err
	}

	dir := *dataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "keel-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	// A private Postgres cluster runs as the postgres user when keel runs as
	// root, so the directory must be reachable by it.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}

	logger := slog.New(slog.DiscardHandler)
	if *verbose {
		logger = logging.NewProcess(version)
	}
	fmt.Fprintln(out, "starting Keel on embedded NATS, Temporal and Postgres...")
	started := time.Now()
	st, err := devstack.Start(ctx, devstack.Options{
		DataDir:     dir,
		DatabaseURL: *dbURL,
		Ephemeral:   true,
		OrdersFile:  filepath.Join(root, "orders.json"),
		Logger:      logger,
	})
	if err != nil {
		return err
	}
	defer st.Stop()
	fmt.Fprintf(out, "stack up in %s (gateway %s)\n", time.Since(started).Round(time.Millisecond), st.Info.GatewayURL)

	errc := make(chan error, 1)
	go func() { errc <- st.Wait() }()
	resc := make(chan error, 1)
	go func() {
		_, err := demo.Run(ctx, demo.Config{
			DataRoot:     root,
			JS:           st.JS,
			GatewayURL:   st.Info.GatewayURL,
			TokenKey:     st.TokenKey,
			ServiceKey:   st.ServiceKey,
			RetrieveAddr: st.Info.GRPC["retrieve"],
			AuditAddr:    st.Info.GRPC["audit"],
			Out:          out,
		})
		resc <- err
	}()
	select {
	case err := <-resc:
		return err
	case err := <-errc:
		return fmt.Errorf("a service stopped during the demo: %w", err)
	}
}

// demoOrders returns the demo order book if the repository is at hand.
func demoOrders() (string, error) {
	root, err := demo.DataRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "orders.json"), nil
}
