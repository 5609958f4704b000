// Command workflows runs the workflows service: the support copilot's
// Temporal worker and the consumer that starts a copilot run per redacted
// email. Configuration comes from the YAML file named by KEEL_CONFIG, if
// any, and from the environment (see service.Config).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/keelhq/keel/pkg/config"
	"github.com/keelhq/keel/pkg/logging"
	"github.com/keelhq/keel/pkg/telemetry"
	"github.com/keelhq/keel/services/workflows/service"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	logger := logging.New(service.Name, version)
	if err := run(ctx, logger); err != nil {
		logger.Error("workflows service failed", "error", err)
		stop()
		os.Exit(1)
	}
}

func run(ctx context.Context, logger *slog.Logger) error {
	shutdown, err := telemetry.FromEnv(ctx, service.Name, version)
	if err != nil {
		return err
	}
	defer func() { _ = shutdown(context.WithoutCancel(ctx)) }()

	cfg := service.DefaultConfig()
	if err := config.Load(os.Getenv("KEEL_CONFIG"), &cfg); err != nil {
		return fmt.Errorf("load config: %w", err)
	}
	return service.Run(ctx, cfg, service.Deps{Logger: logger})
}
