// Command gateway serves Keel's edge HTTP API. Configuration comes from the
// YAML file named by KEEL_CONFIG, if any, and KEEL_* environment variables.
package main

import (
	"context"
	"log/slog"

	"github.com/keelhq/keel/pkg/lifecycle"
	"github.com/keelhq/keel/services/gateway/service"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	lifecycle.Main("gateway", version, service.DefaultConfig,
		func(ctx context.Context, cfg service.Config, logger *slog.Logger) error {
			return service.Run(ctx, cfg, service.Deps{Logger: logger})
		})
}
