package pgdb_test

import (
	"context"
	"errors"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"

	"github.com/keelhq/keel/pkg/pgdb"
	"github.com/keelhq/keel/pkg/pgtest"
)

const notesMigration = `
CREATE TABLE notes (tenant_id text NOT NULL, body text NOT NULL);
ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
ALTER TABLE notes FORCE ROW LEVEL SECURITY;
CREATE POLICY notes_tenant ON notes
  USING (tenant_id = current_setting('keel.tenant', true))
  WITH CHECK (tenant_id = current_setting('keel.tenant', true));
GRANT SELECT, INSERT ON notes TO keel_app;
`

func TestWithTenantConfinesStatementsToTheTenant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgdb.Open(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	migrations := fstest.MapFS{"001_notes.sql": {Data: []byte(notesMigration)}}
	for range 2 { // the second run must be a no-op
		if err := pgdb.Migrate(ctx, pool, "test", migrations); err != nil {
			t.Fatalf("Migrate() = %v", err)
		}
	}

	insert := func(tenantID, rowTenant string) error {
		return pgdb.WithTenant(ctx, pool, tenantID, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, "INSERT INTO notes (tenant_id, body) VALUES ($1, 'x')", rowTenant)
			return err
		})
	}
	count := func(tenantID string) int {
		var n int
		err := pgdb.WithTenant(ctx, pool, tenantID, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, "SELECT count(*) FROM notes").Scan(&n)
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	if err := insert("acme", "acme"); err != nil {
		t.Fatal(err)
	}
	if err := insert("globex", "acme"); err == nil {
		t.Fatal("globex inserted a row for acme")
	}
	if got := count("acme"); got != 1 {
		t.Fatalf("acme sees %d rows, want 1", got)
	}
	if got := count("globex"); got != 0 {
		t.Fatalf("globex sees %d rows, want 0", got)
	}
	if err := pgdb.WithTenant(ctx, pool, "", func(pgx.Tx) error { return nil }); !errors.Is(err, pgdb.ErrNoTenant) {
		t.Fatalf("empty tenant: %v", err)
	}
}
