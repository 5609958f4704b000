// Package schema holds the Postgres migrations of the tables the audit
// service owns (the audit chain, its heads and the usage ledger) and applies
// them.
package schema

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keelhq/keel/pkg/pgdb"
)

// Service is the name the migrations are recorded under in keel_migrations.
const Service = "audit"

//go:embed migrations/*.sql
var migrations embed.FS

// Migrate applies every migration of the audit service that pool's database
// has not recorded yet. The pool must log in as a role that may create
// tables, roles and triggers.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	files, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("open embedded migrations: %w", err)
	}
	if err := pgdb.Migrate(ctx, pool, Service, files); err != nil {
		return fmt.Errorf("migrate audit schema: %w", err)
	}
	return nil
}
