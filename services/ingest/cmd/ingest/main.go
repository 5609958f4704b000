// Command ingest runs the ingest service: validation, redaction and the
// encrypted vault of originals, with RedactorService and IngestService.
// Configuration comes from the YAML file named by KEEL_CONFIG, if any, and
// from the environment (see service.Config).
package main

import (
	"context"
	"log/slog"

	"github.com/keelhq/keel/pkg/config"
	"github.com/keelhq/keel/pkg/lifecycle"
	"github.com/keelhq/keel/services/ingest/service"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	lifecycle.Main(service.Name, version, defaults,
		func(ctx context.Context, cfg service.Config, logger *slog.Logger) error {
			return service.Run(ctx, cfg, service.Deps{Logger: logger})
		})
}

// defaults is the service's default configuration with the database from
// KEEL_DATABASE_URL or DATABASE_URL.
func defaults() service.Config {
	cfg := service.DefaultConfig()
	cfg.Database.URL = config.DatabaseURL()
	return cfg
}
