// Package usage keeps the usage ledger: the tokens, cost and latency of every
// model call, per tenant, in Postgres under row-level security. Recording is
// idempotent on the call's id, so redelivered usage events count once.
package usage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keelhq/keel/pkg/pgdb"
)

// List limits: a limit of zero or less means DefaultListLimit; larger limits
// are cut to MaxListLimit.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// maxFieldLen bounds every text field of a Record.
const maxFieldLen = 256

// ErrInvalidRecord is returned by Add when a record lacks its id or time,
// holds a negative amount or text Postgres cannot store. Retrying cannot help.
var ErrInvalidRecord = errors.New("invalid usage record")

// Record is the usage of one model call.
type Record struct {
	// ID identifies the call; adding an ID already stored is a no-op.
	ID           string
	UseCase      string
	Route        string
	Provider     string
	Model        string
	InputTokens  int64
	OutputTokens int64
	// CostMicros is the cost in millionths of the billing currency unit.
	CostMicros int64
	LatencyMS  int64
	// OccurredAt is stored with microsecond precision.
	OccurredAt time.Time
}

// Window selects records by OccurredAt: From inclusive, To exclusive. A zero
// bound leaves that side open.
type Window struct {
	From time.Time
	To   time.Time
}

// Totals sums the records of a window.
type Totals struct {
	Calls        int64
	InputTokens  int64
	OutputTokens int64
	CostMicros   int64
}

// Ledger adds, lists and sums usage records. Every statement runs through
// pgdb.WithTenant. A Ledger is safe for concurrent use.
type Ledger struct {
	pool *pgxpool.Pool
}

// New returns a Ledger on pool. The schema must have been migrated (package
// schema).
func New(pool *pgxpool.Pool) *Ledger {
	return &Ledger{pool: pool}
}

// Add stores r for tenant and reports whether it was new; a record whose ID
// the tenant already has is left as it is. Add returns ErrInvalidRecord when
// r cannot be stored and pgdb.ErrNoTenant when tenant is empty; other
// errors come from Postgres and are worth retrying.
func (l *Ledger) Add(ctx context.Context, tenant string, r Record) (bool, error) {
	if err := validate(r); err != nil {
		return false, err
	}

	var added bool
	err := pgdb.WithTenant(ctx, l.pool, tenant, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO usage_records
  (tenant_id, id, use_case, route, provider, model, input_tokens, output_tokens,
   cost_micros, latency_ms, occurred_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (tenant_id, id) DO NOTHING`,
			tenant, r.ID, r.UseCase, r.Route, r.Provider, r.Model, r.InputTokens,
			r.OutputTokens, r.CostMicros, r.LatencyMS,
			r.OccurredAt.UTC().Truncate(time.Microsecond))
		added = tag.RowsAffected() == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("add usage record: %w", err)
	}
	return added, nil
}

// List returns up to limit of tenant's records in w, oldest first.
func (l *Ledger) List(ctx context.Context, tenant string, w Window, limit int) ([]Record, error) {
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)

	var records []Record
	err := pgdb.WithTenant(ctx, l.pool, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, use_case, route, provider, model, input_tokens,
  output_tokens, cost_micros, latency_ms, occurred_at
FROM usage_records
WHERE tenant_id = $1
  AND ($2::timestamptz IS NULL OR occurred_at >= $2)
  AND ($3::timestamptz IS NULL OR occurred_at < $3)
ORDER BY occurred_at, id
LIMIT $4`, tenant, bound(w.From), bound(w.To), limit)
		if err != nil {
			return err
		}
		records, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (Record, error) {
			var r Record
			err := row.Scan(&r.ID, &r.UseCase, &r.Route, &r.Provider, &r.Model, &r.InputTokens,
				&r.OutputTokens, &r.CostMicros, &r.LatencyMS, &r.OccurredAt)
			r.OccurredAt = r.OccurredAt.UTC()
			return r, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list usage records: %w", err)
	}
	return records, nil
}

// Sum adds up tenant's records in w.
func (l *Ledger) Sum(ctx context.Context, tenant string, w Window) (Totals, error) {
	var t Totals
	err := pgdb.WithTenant(ctx, l.pool, tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*), coalesce(sum(input_tokens), 0),
  coalesce(sum(output_tokens), 0), coalesce(sum(cost_micros), 0)
FROM usage_records
WHERE tenant_id = $1
  AND ($2::timestamptz IS NULL OR occurred_at >= $2)
  AND ($3::timestamptz IS NULL OR occurred_at < $3)`,
			tenant, bound(w.From), bound(w.To),
		).Scan(&t.Calls, &t.InputTokens, &t.OutputTokens, &t.CostMicros)
	})
	if err != nil {
		return Totals{}, fmt.Errorf("sum usage records: %w", err)
	}
	return t, nil
}

// bound is a window bound as a query argument: NULL when open.
func bound(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// validate returns ErrInvalidRecord, wrapped with every problem found, when r
// cannot be stored.
func validate(r Record) error {
	var problems []string
	if strings.TrimSpace(r.ID) == "" {
		problems = append(problems, "id is required")
	}
	if r.OccurredAt.IsZero() {
		problems = append(problems, "occurred_at is required")
	}
	texts := []struct{ name, value string }{
		{"id", r.ID}, {"use_case", r.UseCase}, {"route", r.Route},
		{"provider", r.Provider}, {"model", r.Model},
	}
	for _, f := range texts {
		if len(f.value) > maxFieldLen || !utf8.ValidString(f.value) || strings.ContainsRune(f.value, 0) {
			problems = append(problems, f.name+" is not short UTF-8 text")
		}
	}
	amounts := []struct {
		name  string
		value int64
	}{
		{"input_tokens", r.InputTokens}, {"output_tokens", r.OutputTokens},
		{"cost_micros", r.CostMicros}, {"latency_ms", r.LatencyMS},
	}
	for _, a := range amounts {
		if a.value < 0 {
			problems = append(problems, a.name+" is negative")
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidRecord, strings.Join(problems, "; "))
	}
	return nil
}
