package vault

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// countAsPurger counts the reference rows the purge role can see.
func countAsPurger(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(context.Background(), "SET LOCAL ROLE "+purgeRole); err != nil {
			return err
		}
		return tx.QueryRow(context.Background(), "SELECT count(*) FROM vault_refs").Scan(&n)
	})
	if err != nil {
		t.Fatalf("count as purger: %v", err)
	}
	return n
}

func TestPurgeForgetsExpiredOriginalsOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := newTestPool(t)
	// Writing with a clock two days behind stores originals that expired
	// yesterday by the database's clock.
	past := &testClock{now: time.Now().Add(-48 * time.Hour)}
	old := newTestVault(t, pool, WithClock(past.Now))
	live := newTestVault(t, pool)

	originals := map[string]string{"[EMAIL_1]": "ann@example.com"}
	for _, tenant := range []string{"acme", "globex"} {
		if err := old.Put(ctx, tenant, "old-1", []byte("a"), originals, time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := old.Put(ctx, tenant, "old-2", []byte("b"), originals, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if err := live.Put(ctx, "acme", "live-1", []byte("c"), originals, time.Hour); err != nil {
		t.Fatal(err)
	}

	// The purge role sees the four expired references and not the live one.
	if n := countAsPurger(t, pool); n != 4 {
		t.Fatalf("purge role sees %d references, want the 4 expired ones", n)
	}
	n, err := live.Purge(ctx)
	if err != nil {
		t.Fatalf("Purge: %v", err)
	}
	if n != 4 {
		t.Errorf("Purge deleted %d references, want 4", n)
	}
	if n := countAsPurger(t, pool); n != 0 {
		t.Errorf("after Purge the purge role still sees %d references", n)
	}
	// Entries went with their references.
	var entries int
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL ROLE "+purgeRole); err != nil {
			return err
		}
		return tx.QueryRow(ctx, "SELECT count(*) FROM vault_entries").Scan(&entries)
	})
	if err != nil || entries != 0 {
		t.Errorf("expired entries left: %d (%v)", entries, err)
	}

	if got, _, err := live.Restore(ctx, "acme", "live-1", "[EMAIL_1]"); err != nil || got != "ann@example.com" {
		t.Errorf("Restore of the live reference = %q, %v", got, err)
	}
	if _, _, err := live.Restore(ctx, "acme", "old-1", "[EMAIL_1]"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Restore of a purged reference = %v, want ErrNotFound", err)
	}
	if n, err := live.Purge(ctx); err != nil || n != 0 {
		t.Errorf("second Purge = %d, %v; want nothing left to do", n, err)
	}
}
