// Package pgdb opens Postgres pools, applies a service's embedded migrations
// and runs statements as the row-level-security role scoped to one tenant.
package pgdb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// AppRole is the role every tenant-scoped statement runs as. It cannot bypass
// row-level security, whatever role the pool logged in with.
const AppRole = "keel_app"

// TenantSetting is the Postgres setting that row-level-security policies
// compare tenant_id against: current_setting('keel.tenant').
const TenantSetting = "keel.tenant"

// ErrNoTenant is returned by WithTenant when the tenant is empty.
var ErrNoTenant = errors.New("pgdb: tenant is required")

// Open connects a pool to url and checks that the server answers.
func Open(ctx context.Context, url string) (*pgxpool.Pool, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("open postgres pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ping postgres: %w", err)
	}
	return pool, nil
}

// EnsureAppRole creates AppRole when it does not exist and grants it to the
// pool's login role so that transactions can SET ROLE to it.
func EnsureAppRole(ctx context.Context, pool *pgxpool.Pool) error {
	const stmt = `
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'keel_app') THEN
    CREATE ROLE keel_app NOLOGIN NOSUPERUSER NOBYPASSRLS;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
  NULL;
END
$$;`
	// Roles are shared by every database of the server, and concurrent
	// GRANTs of one role can fail: serialise on a server-wide lock.
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('keel_app_role'))"); err != nil {
			return fmt.Errorf("lock role setup: %w", err)
		}
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("create role %s: %w", AppRole, err)
		}
		if _, err := tx.Exec(ctx, "GRANT "+AppRole+" TO CURRENT_USER"); err != nil {
			return fmt.Errorf("grant role %s: %w", AppRole, err)
		}
		return nil
	})
}

// Migrate applies, in name order, every *.sql file of migrations that the
// database has not yet recorded for service. Each file runs in its own
// transaction together with its bookkeeping row.
func Migrate(ctx context.Context, pool *pgxpool.Pool, service string, migrations fs.FS) error {
	if err := EnsureAppRole(ctx, pool); err != nil {
		return err
	}
	const ledger = `CREATE TABLE IF NOT EXISTS keel_migrations (
  service text NOT NULL,
  name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (service, name))`
	// CREATE TABLE IF NOT EXISTS is not safe against a concurrent creator,
	// and services of one stack migrate at the same time: serialise it.
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('keel_migrations'))"); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, ledger)
		return err
	})
	if err != nil {
		return fmt.Errorf("create migration ledger: %w", err)
	}

	names, err := fs.Glob(migrations, "*.sql")
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := applyMigration(ctx, pool, service, migrations, name); err != nil {
			return err
		}
	}
	return nil
}

func applyMigration(ctx context.Context, pool *pgxpool.Pool, service string, migrations fs.FS, name string) error {
	body, err := fs.ReadFile(migrations, name)
	if err != nil {
		return fmt.Errorf("read migration %s: %w", name, err)
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		// Serialise concurrent migrators of the same service.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext($1))", service); err != nil {
			return fmt.Errorf("lock migrations: %w", err)
		}
		var done bool
		err := tx.QueryRow(ctx,
			"SELECT EXISTS (SELECT 1 FROM keel_migrations WHERE service = $1 AND name = $2)",
			service, name).Scan(&done)
		if err != nil {
			return fmt.Errorf("check migration %s: %w", name, err)
		}
		if done {
			return nil
		}
		if _, err := tx.Exec(ctx, string(body)); err != nil {
			return fmt.Errorf("apply migration %s: %w", name, err)
		}
		_, err = tx.Exec(ctx, "INSERT INTO keel_migrations (service, name) VALUES ($1, $2)", service, name)
		if err != nil {
			return fmt.Errorf("record migration %s: %w", name, err)
		}
		return nil
	})
}

// WithTenant runs fn in a transaction that has switched to AppRole and set
// TenantSetting to tenant, so row-level-security policies confine every
// statement in fn to that tenant. The transaction commits when fn returns nil.
// It returns ErrNoTenant when tenant is empty.
func WithTenant(ctx context.Context, pool *pgxpool.Pool, tenant string, fn func(pgx.Tx) error) error {
	if strings.TrimSpace(tenant) == "" {
		return ErrNoTenant
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL ROLE "+AppRole); err != nil {
			return fmt.Errorf("set role: %w", err)
		}
		if _, err := tx.Exec(ctx, "SELECT set_config($1, $2, true)", TenantSetting, tenant); err != nil {
			return fmt.Errorf("set tenant: %w", err)
		}
		return fn(tx)
	})
}
