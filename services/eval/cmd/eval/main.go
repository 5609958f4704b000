// Command eval runs the eval service: EvaluatorService, which scores drafted
// replies for risk. Configuration comes from the YAML file named by
// KEEL_CONFIG, if any, and from the environment (see service.Config).
package main

import (
	"context"
	"log/slog"

	"github.com/keelhq/keel/pkg/lifecycle"
	"github.com/keelhq/keel/services/eval/service"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	lifecycle.Main(service.Name, version, service.DefaultConfig,
		func(ctx context.Context, cfg service.Config, logger *slog.Logger) error {
			return service.Run(ctx, cfg, service.Deps{Logger: logger})
		})
}
