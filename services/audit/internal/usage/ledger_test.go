package usage

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/keelhq/keel/pkg/pgdb"
	"github.com/keelhq/keel/pkg/pgtest"
	"github.com/keelhq/keel/services/audit/internal/schema"
)

var baseTime = time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)

func newLedger(t *testing.T) (*Ledger, func(tenant string, fn func(pgx.Tx) error) error) {
	t.Helper()
	ctx := context.Background()
	pool, err := pgdb.Open(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatalf("open database: %v", err)
	}
	t.Cleanup(pool.Close)
	if err := schema.Migrate(ctx, pool); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	asTenant := func(tenant string, fn func(pgx.Tx) error) error {
		return pgdb.WithTenant(ctx, pool, tenant, fn)
	}
	return New(pool), asTenant
}

func call(id string, hour int, tokens, cost int64) Record {
	return Record{
		ID: id, UseCase: "support-copilot", Route: "draft", Provider: "local", Model: "echo",
		InputTokens: tokens, OutputTokens: tokens / 2, CostMicros: cost, LatencyMS: 40,
		OccurredAt: baseTime.Add(time.Duration(hour) * time.Hour),
	}
}

func TestLedgerAddListSum(t *testing.T) {
	t.Parallel()
	l, _ := newLedger(t)
	ctx := context.Background()
	calls := []Record{call("c1", 0, 100, 1000), call("c2", 1, 200, 2000), call("c3", 2, 400, 4000)}
	for _, c := range calls {
		added, err := l.Add(ctx, "acme", c)
		if err != nil || !added {
			t.Fatalf("add %s: added %v, err %v", c.ID, added, err)
		}
	}
	added, err := l.Add(ctx, "acme", call("c2", 5, 9999, 9999))
	if err != nil || added {
		t.Fatalf("add duplicate c2: added %v, err %v; want not added", added, err)
	}
	if _, err := l.Add(ctx, "globex", call("c1", 0, 7, 7)); err != nil {
		t.Fatalf("add globex c1: %v", err)
	}

	got, err := l.List(ctx, "acme", Window{}, 0)
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if diff := cmp.Diff(calls, got); diff != "" {
		t.Errorf("records mismatch (-want +got):\n%s", diff)
	}

	tests := []struct {
		name   string
		tenant string
		window Window
		want   Totals
	}{
		{"all of acme", "acme", Window{}, Totals{Calls: 3, InputTokens: 700, OutputTokens: 350, CostMicros: 7000}},
		{"from hour 1", "acme", Window{From: baseTime.Add(time.Hour)},
			Totals{Calls: 2, InputTokens: 600, OutputTokens: 300, CostMicros: 6000}},
		{"before hour 1", "acme", Window{To: baseTime.Add(time.Hour)},
			Totals{Calls: 1, InputTokens: 100, OutputTokens: 50, CostMicros: 1000}},
		{"globex", "globex", Window{}, Totals{Calls: 1, InputTokens: 7, OutputTokens: 3, CostMicros: 7}},
		{"nobody", "initech", Window{}, Totals{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := l.Sum(ctx, tt.tenant, tt.window)
			if err != nil {
				t.Fatalf("sum: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("totals mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLedgerIsolatesTenants(t *testing.T) {
	t.Parallel()
	l, asTenant := newLedger(t)
	ctx := context.Background()
	if _, err := l.Add(ctx, "acme", call("c1", 0, 100, 1000)); err != nil {
		t.Fatalf("add: %v", err)
	}

	var n int
	err := asTenant("globex", func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, "SELECT count(*) FROM usage_records").Scan(&n)
	})
	if err != nil || n != 0 {
		t.Errorf("globex sees %d usage rows (err %v), want 0", n, err)
	}

	err = asTenant("globex", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO usage_records
  (tenant_id, id, use_case, route, provider, model, input_tokens, output_tokens,
   cost_micros, latency_ms, occurred_at)
VALUES ('acme', 'forged', '', '', '', '', 0, 0, 0, 0, now())`)
		return err
	})
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
		t.Errorf("insert for acme as globex: error %v, want row-level security violation", err)
	}
}

func TestLedgerRejectsInvalidRecord(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*Record)
	}{
		{"missing id", func(r *Record) { r.ID = "" }},
		{"missing time", func(r *Record) { r.OccurredAt = time.Time{} }},
		{"negative cost", func(r *Record) { r.CostMicros = -1 }},
		{"nul in model", func(r *Record) { r.Model = "a\x00" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := call("c1", 0, 1, 1)
			tt.change(&r)
			if err := validate(r); !errors.Is(err, ErrInvalidRecord) {
				t.Errorf("validate error = %v, want ErrInvalidRecord", err)
			}
		})
	}
	if err := validate(call("c1", 0, 1, 1)); err != nil {
		t.Errorf("validate valid record: %v", err)
	}
}
