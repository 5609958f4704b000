// Command gateway serves Keel's edge HTTP API. Configuration comes from the
// YAML file named by KEEL_CONFIG, if any, and KEEL_* environment variables.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/keelhq/keel/pkg/config"
	"github.com/keelhq/keel/pkg/logging"
	"github.com/keelhq/keel/pkg/telemetry"
	"github.com/keelhq/keel/services/gateway/service"
)

const version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	logger := logging.New("gateway", version)

	err := run(ctx, service.Deps{Logger: logger})
	stop()
	if err != nil {
		logger.Error("gateway stopped", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, deps service.Deps) error {
	shutdown, err := telemetry.FromEnv(ctx, "gateway", version)
	if err != nil {
		return err
	}
	defer func() { _ = shutdown(context.WithoutCancel(ctx)) }()

	cfg := service.DefaultConfig()
	if err := config.Load(os.Getenv("KEEL_CONFIG"), &cfg); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	return service.Run(ctx, cfg, deps)
}
