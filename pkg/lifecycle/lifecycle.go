// Package lifecycle runs a Keel service as a process: configuration, a
// context cancelled by SIGINT or SIGTERM, a JSON logger, telemetry, and one
// place that turns a failure into an exit code.
package lifecycle

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
)

// ConfigFileEnv names the environment variable that points at a service's
// optional YAML configuration file.
const ConfigFileEnv = "KEEL_CONFIG"

// Main runs a service until it stops or a signal arrives. Its configuration
// starts from defaults(), is overlaid by the file named by KEEL_CONFIG and by
// the environment, and is handed to run with a logger tagged with service
// and version. Main exits the process with status 1 when run fails; call it
// only from main.
func Main[C any](service, version string, defaults func() C, run func(context.Context, C, *slog.Logger) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	logger := logging.New(service, version)

	err := Run(ctx, service, version, defaults, run, logger)
	stop()
	if err != nil {
		logger.Error("service stopped", "error", err)
		os.Exit(1)
	}
}

// Run is Main without the signals and the exit: it loads the configuration,
// sets up telemetry, calls run and flushes telemetry when run returns.
func Run[C any](
	ctx context.Context,
	service, version string,
	defaults func() C,
	run func(context.Context, C, *slog.Logger) error,
	logger *slog.Logger,
) error {
	cfg := defaults()
	if err := config.Load(os.Getenv(ConfigFileEnv), &cfg); err != nil {
		return fmt.Errorf("load config: %w", err)
	}
	shutdown, err := telemetry.FromEnv(ctx, service, version)
	if err != nil {
		return err
	}
	defer func() {
		if err := shutdown(context.WithoutCancel(ctx)); err != nil {
			logger.Warn("flush telemetry failed", "error", err)
		}
	}()
	return run(ctx, cfg, logger)
}
