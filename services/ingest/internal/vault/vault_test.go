package vault

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keelhq/keel/pkg/pgdb"
	"github.com/keelhq/keel/pkg/pgtest"
)

var testKey = bytes.Repeat([]byte{7}, KeySize)

// testClock is a clock that tests move by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newTestPool returns a pool on a fresh, migrated database.
func newTestPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	pool, err := pgdb.Open(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatalf("open database: %v", err)
	}
	t.Cleanup(pool.Close)
	if err := Migrate(ctx, pool); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	// Migrating twice must be harmless.
	if err := Migrate(ctx, pool); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}
	return pool
}

func newTestVault(t *testing.T, pool *pgxpool.Pool, opts ...Option) *Vault {
	t.Helper()
	v, err := New(pool, testKey, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v
}

func TestVault(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := newTestPool(t)
	clock := &testClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	v := newTestVault(t, pool, WithClock(clock.Now))

	originals := map[string]string{
		"[EMAIL_1]":  "jane.doe@example.com",
		"[PERSON_1]": "Jane Doe",
		"[CARD_1]":   "4111 1111 1111 1111",
	}
	if err := v.Put(ctx, "acme", "evt-1", nil, originals, time.Hour); err != nil {
		t.Fatalf("Put: %v", err)
	}

	t.Run("round trip", func(t *testing.T) {
		got, unknown, err := v.Restore(ctx, "acme", "evt-1", "Dear [PERSON_1], card [CARD_1] ([EMAIL_1]); [PHONE_1]")
		if err != nil {
			t.Fatalf("Restore: %v", err)
		}
		// A card comes back only as its last four digits.
		want := "Dear Jane Doe, card ending 1111 (jane.doe@example.com); [PHONE_1]"
		if got != want {
			t.Errorf("Restore = %q, want %q", got, want)
		}
		if diff := cmp.Diff([]string{"[PHONE_1]"}, unknown); diff != "" {
			t.Errorf("unknown mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("put again is idempotent", func(t *testing.T) {
		if err := v.Put(ctx, "acme", "evt-1", nil, originals, time.Hour); err != nil {
			t.Fatalf("Put again: %v", err)
		}
		got, err := v.Originals(ctx, "acme", "evt-1")
		if err != nil {
			t.Fatalf("Originals: %v", err)
		}
		if diff := cmp.Diff(originals, got); diff != "" {
			t.Errorf("Originals mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("a different document cannot take the reference", func(t *testing.T) {
		if err := v.Put(ctx, "acme", "evt-taken", []byte("first"), map[string]string{"[EMAIL_1]": "denise@example.com"}, time.Hour); err != nil {
			t.Fatalf("Put first: %v", err)
		}
		err := v.Put(ctx, "acme", "evt-taken", []byte("second"), map[string]string{"[EMAIL_1]": "mallory@evil.example"}, time.Hour)
		if !errors.Is(err, ErrRefConflict) {
			t.Fatalf("Put of another document = %v, want ErrRefConflict", err)
		}
		got, err := v.Originals(ctx, "acme", "evt-taken")
		if err != nil {
			t.Fatalf("Originals: %v", err)
		}
		if got["[EMAIL_1]"] != "denise@example.com" {
			t.Fatalf("originals after the refused put = %v, want the first document's", got)
		}
		if err := v.Put(ctx, "acme", "evt-taken", []byte("first"), map[string]string{"[EMAIL_1]": "denise@example.com"}, time.Hour); err != nil {
			t.Fatalf("Put of the first document again: %v", err)
		}
	})

	t.Run("other tenant cannot restore", func(t *testing.T) {
		_, _, err := v.Restore(ctx, "globex", "evt-1", "Dear [PERSON_1]")
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("Restore as other tenant: err = %v, want ErrNotFound", err)
		}
		var visible int
		err = pgdb.WithTenant(ctx, pool, "globex", func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, "SELECT count(*) FROM vault_entries").Scan(&visible)
		})
		if err != nil || visible != 0 {
			t.Errorf("other tenant sees %d vault rows (err %v), want 0", visible, err)
		}
	})

	t.Run("same reference in two tenants stays apart", func(t *testing.T) {
		if err := v.Put(ctx, "globex", "evt-1", nil, map[string]string{"[PERSON_1]": "Hank Scorpio"}, time.Hour); err != nil {
			t.Fatalf("Put globex: %v", err)
		}
		for tenant, want := range map[string]string{"acme": "Jane Doe", "globex": "Hank Scorpio"} {
			got, _, err := v.Restore(ctx, tenant, "evt-1", "[PERSON_1]")
			if err != nil || got != want {
				t.Errorf("Restore for %s = %q, %v; want %q", tenant, got, err, want)
			}
		}
	})

	t.Run("unknown reference", func(t *testing.T) {
		_, _, err := v.Restore(ctx, "acme", "evt-missing", "[EMAIL_1]")
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("Restore of unknown reference: err = %v, want ErrNotFound", err)
		}
	})

	t.Run("ciphertext holds no plaintext", func(t *testing.T) {
		// The test connects as the database owner, which row-level security
		// does not restrict, to read the raw rows.
		rows, err := pool.Query(ctx, "SELECT ciphertext, nonce FROM vault_entries")
		if err != nil {
			t.Fatalf("query: %v", err)
		}
		var n int
		var ciphertext, nonce []byte
		_, err = pgx.ForEachRow(rows, []any{&ciphertext, &nonce}, func() error {
			n++
			for _, plain := range []string{"jane.doe@example.com", "Jane Doe", "4111 1111", "Hank", "denise@example.com"} {
				if bytes.Contains(ciphertext, []byte(plain)) {
					t.Errorf("ciphertext contains %q", plain)
				}
			}
			if len(nonce) != 12 {
				t.Errorf("nonce has %d bytes, want 12", len(nonce))
			}
			return nil
		})
		if err != nil || n != 5 {
			t.Fatalf("read %d rows (err %v), want 5", n, err)
		}
	})

	t.Run("moved ciphertext does not open", func(t *testing.T) {
		// The additional data binds each ciphertext to its placeholder.
		if err := v.Put(ctx, "acme", "evt-swap", nil, map[string]string{"[EMAIL_1]": "a@x.io", "[EMAIL_2]": "b@y.io"}, time.Hour); err != nil {
			t.Fatalf("Put: %v", err)
		}
		_, err := pool.Exec(ctx, `UPDATE vault_entries e SET ciphertext = o.ciphertext, nonce = o.nonce
FROM vault_entries o
WHERE e.vault_ref = 'evt-swap' AND o.vault_ref = 'evt-swap' AND e.placeholder <> o.placeholder`)
		if err != nil {
			t.Fatalf("swap rows: %v", err)
		}
		if _, _, err := v.Restore(ctx, "acme", "evt-swap", "[EMAIL_1]"); err == nil || errors.Is(err, ErrNotFound) {
			t.Errorf("Restore of swapped rows: err = %v, want a decryption error", err)
		}
	})

	t.Run("other master key does not open", func(t *testing.T) {
		other, err := New(pool, bytes.Repeat([]byte{9}, KeySize), WithClock(clock.Now))
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		if _, _, err := other.Restore(ctx, "acme", "evt-1", "[EMAIL_1]"); err == nil {
			t.Error("Restore with another master key succeeded, want an error")
		}
	})

	t.Run("delete erases", func(t *testing.T) {
		if err := v.Put(ctx, "acme", "evt-forget", nil, originals, time.Hour); err != nil {
			t.Fatalf("Put: %v", err)
		}
		if err := v.Delete(ctx, "acme", "evt-forget"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		var left int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM vault_entries WHERE vault_ref = 'evt-forget'").Scan(&left); err != nil {
			t.Fatalf("count: %v", err)
		}
		if left != 0 {
			t.Errorf("%d entries left after Delete, want 0", left)
		}
		if _, _, err := v.Restore(ctx, "acme", "evt-forget", "[EMAIL_1]"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Restore after Delete: err = %v, want ErrNotFound", err)
		}
	})

	t.Run("expired entries are not restored", func(t *testing.T) {
		if err := v.Put(ctx, "acme", "evt-short", nil, originals, time.Minute); err != nil {
			t.Fatalf("Put: %v", err)
		}
		if _, _, err := v.Restore(ctx, "acme", "evt-short", "[EMAIL_1]"); err != nil {
			t.Fatalf("Restore before expiry: %v", err)
		}
		clock.Advance(2 * time.Minute)
		if _, _, err := v.Restore(ctx, "acme", "evt-short", "[EMAIL_1]"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Restore after expiry: err = %v, want ErrNotFound", err)
		}
	})
}

func TestVaultEmptyDocument(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	v := newTestVault(t, newTestPool(t))

	if err := v.Put(ctx, "acme", "evt-plain", nil, nil, time.Hour); err != nil {
		t.Fatalf("Put: %v", err)
	}
	got, unknown, err := v.Restore(ctx, "acme", "evt-plain", "nothing to restore")
	if err != nil || got != "nothing to restore" || len(unknown) != 0 {
		t.Errorf("Restore = %q, %v, %v; want the text unchanged", got, unknown, err)
	}
}

func TestVaultArguments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// No database is reached: every call fails on its arguments first.
	v, err := New(nil, testKey)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	tests := []struct {
		name string
		call func() error
		want error
	}{
		{name: "put without tenant", want: ErrRefEmpty,
			call: func() error { return v.Put(ctx, "", "r", nil, nil, time.Hour) }},
		{name: "put without reference", want: ErrRefEmpty,
			call: func() error { return v.Put(ctx, "acme", "", nil, nil, time.Hour) }},
		{name: "put without ttl", want: ErrTTLInvalid,
			call: func() error { return v.Put(ctx, "acme", "r", nil, nil, 0) }},
		{name: "restore without reference", want: ErrRefEmpty,
			call: func() error { _, _, err := v.Restore(ctx, "acme", "", "x"); return err }},
		{name: "delete without tenant", want: ErrRefEmpty,
			call: func() error { return v.Delete(ctx, "", "r") }},
		{name: "short master key", want: ErrKeyInvalid,
			call: func() error { _, err := New(nil, testKey[:16]); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := tc.call(); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		wantErr bool
	}{
		{name: "standard padded", in: "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc="},
		{name: "standard raw", in: "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc"},
		{name: "surrounding space", in: " BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n"},
		{name: "too short", in: "BwcHBwcHBwcHBwcHBwcHBw==", wantErr: true},
		{name: "not base64", in: "not a key at all, not a key at all!!", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			key, err := ParseKey(tc.in)
			if tc.wantErr {
				if !errors.Is(err, ErrKeyInvalid) {
					t.Errorf("ParseKey(%q) err = %v, want ErrKeyInvalid", tc.in, err)
				}
				return
			}
			if err != nil || !bytes.Equal(key, testKey) {
				t.Errorf("ParseKey(%q) = %x, %v; want %x", tc.in, key, err, testKey)
			}
		})
	}
}
