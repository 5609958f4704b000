// Package auditlog keeps the audit log: one append-only, hash-chained
// sequence of records per tenant, stored in Postgres under row-level
// security. Each record carries the hash of the record before it, so that
// changing, removing or reordering stored records breaks the chain, and
// Verify finds where.
package auditlog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

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

// recordColumns are the columns scanRecord reads, in its order.
const recordColumns = `seq, id, actor, action, subject, occurred_at, attributes,
  prev_hash, hash, recorded_at`

// Log appends to, lists and verifies the tenants' audit chains. Every
// statement runs through pgdb.WithTenant, so row-level security confines it
// to one tenant. A Log is safe for concurrent use.
type Log struct {
	pool *pgxpool.Pool
}

// New returns a Log on pool. The schema must have been migrated (package
// schema).
func New(pool *pgxpool.Pool) *Log {
	return &Log{pool: pool}
}

// Append adds e to the end of tenant's chain and returns its place. When the
// tenant already has a record with e.ID, nothing is written and the receipt
// describes that record (Duplicate is true), so that redelivered events are
// harmless. Concurrent appends to one tenant run one after the other: each
// holds the lock on the tenant's chain head until it commits.
//
// Append returns ErrInvalidEntry when e cannot be stored and
// pgdb.ErrNoTenant when tenant is empty; other errors come from Postgres and
// are worth retrying.
func (l *Log) Append(ctx context.Context, tenant string, e Entry) (Receipt, error) {
	e, err := normalize(e)
	if err != nil {
		return Receipt{}, err
	}

	var rc Receipt
	err = pgdb.WithTenant(ctx, l.pool, tenant, func(tx pgx.Tx) error {
		head, err := lockHead(ctx, tx, tenant)
		if err != nil {
			return err
		}

		// Looked up under the head lock, so that two appenders of one ID
		// cannot both miss the other's record.
		err = tx.QueryRow(ctx,
			"SELECT seq, hash FROM audit_records WHERE tenant_id = $1 AND id = $2",
			tenant, e.ID,
		).Scan(&rc.Seq, &rc.Hash)
		if err == nil {
			rc.Duplicate = true
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("look up record id: %w", err)
		}

		r := Record{
			Seq:        head.seq + 1,
			ID:         e.ID,
			Actor:      e.Actor,
			Action:     e.Action,
			Subject:    e.Subject,
			OccurredAt: e.OccurredAt,
			Attributes: e.Attributes,
			PrevHash:   head.hash,
		}
		r.Hash = ComputeHash(r)
		if err := insertRecord(ctx, tx, tenant, r); err != nil {
			return err
		}
		_, err = tx.Exec(ctx,
			"UPDATE audit_heads SET seq = $2, hash = $3 WHERE tenant_id = $1",
			tenant, r.Seq, r.Hash)
		if err != nil {
			return fmt.Errorf("advance chain head: %w", err)
		}
		rc = Receipt{Seq: r.Seq, Hash: r.Hash}
		return nil
	})
	if err != nil {
		return Receipt{}, fmt.Errorf("append audit record: %w", err)
	}
	return rc, nil
}

// List returns up to limit of tenant's records with seq greater than
// afterSeq, in seq order. A non-empty subject keeps only the records about
// that subject. It returns pgdb.ErrNoTenant when tenant is empty.
func (l *Log) List(ctx context.Context, tenant, subject string, afterSeq int64, limit int) ([]Record, error) {
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)

	var records []Record
	err := pgdb.WithTenant(ctx, l.pool, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+recordColumns+`
FROM audit_records
WHERE tenant_id = $1 AND seq > $2 AND ($3 = '' OR subject = $3)
ORDER BY seq
LIMIT $4`, tenant, afterSeq, subject, limit)
		if err != nil {
			return err
		}
		records, err = pgx.CollectRows(rows, scanRecord)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list audit records: %w", err)
	}
	return records, nil
}

// head is a tenant's chain head: the seq and hash of its last record, or 0
// and GenesisHash for an empty chain.
type head struct {
	seq  int64
	hash string
}

// lockHead returns tenant's chain head locked until tx ends, creating it on
// the tenant's first append.
func lockHead(ctx context.Context, tx pgx.Tx, tenant string) (head, error) {
	const lock = "SELECT seq, hash FROM audit_heads WHERE tenant_id = $1 FOR UPDATE"

	var h head
	err := tx.QueryRow(ctx, lock, tenant).Scan(&h.seq, &h.hash)
	if err == nil {
		return h, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return head{}, fmt.Errorf("lock chain head: %w", err)
	}

	// First append: a concurrent first appender may insert the head too;
	// this insert then waits for it and does nothing, and the lock below
	// queues behind it.
	_, err = tx.Exec(ctx, `INSERT INTO audit_heads (tenant_id, seq, hash) VALUES ($1, 0, $2)
ON CONFLICT (tenant_id) DO NOTHING`, tenant, GenesisHash)
	if err != nil {
		return head{}, fmt.Errorf("create chain head: %w", err)
	}
	if err := tx.QueryRow(ctx, lock, tenant).Scan(&h.seq, &h.hash); err != nil {
		return head{}, fmt.Errorf("lock chain head: %w", err)
	}
	return h, nil
}

// readHead returns tenant's chain head without locking it.
func readHead(ctx context.Context, tx pgx.Tx, tenant string) (head, error) {
	h := head{hash: GenesisHash}
	err := tx.QueryRow(ctx,
		"SELECT seq, hash FROM audit_heads WHERE tenant_id = $1", tenant,
	).Scan(&h.seq, &h.hash)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return head{}, fmt.Errorf("read chain head: %w", err)
	}
	return h, nil
}

func insertRecord(ctx context.Context, tx pgx.Tx, tenant string, r Record) error {
	_, err := tx.Exec(ctx, `INSERT INTO audit_records
  (tenant_id, seq, id, actor, action, subject, occurred_at, attributes, prev_hash, hash)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		tenant, r.Seq, r.ID, r.Actor, r.Action, r.Subject, r.OccurredAt, r.Attributes,
		r.PrevHash, r.Hash)
	if err != nil {
		return fmt.Errorf("insert record %d: %w", r.Seq, err)
	}
	return nil
}

// scanRecord reads the columns named by recordColumns. It returns an error
// when the stored attributes are not a JSON object of strings.
func scanRecord(row pgx.CollectableRow) (Record, error) {
	r, attrs, err := scanRawRecord(row)
	if err != nil {
		return Record{}, err
	}
	if err := decodeAttributes(attrs, &r); err != nil {
		return Record{}, fmt.Errorf("read record %d: %w", r.Seq, err)
	}
	return r, nil
}

// scanRawRecord reads the columns named by recordColumns, leaving the
// attributes as the JSON text stored.
func scanRawRecord(row pgx.CollectableRow) (Record, []byte, error) {
	var (
		r     Record
		attrs []byte
	)
	err := row.Scan(&r.Seq, &r.ID, &r.Actor, &r.Action, &r.Subject, &r.OccurredAt,
		&attrs, &r.PrevHash, &r.Hash, &r.RecordedAt)
	if err != nil {
		return Record{}, nil, fmt.Errorf("scan audit record: %w", err)
	}
	r.OccurredAt = r.OccurredAt.UTC()
	r.RecordedAt = r.RecordedAt.UTC()
	return r, attrs, nil
}

// decodeAttributes sets r.Attributes from the stored JSON, never to nil.
func decodeAttributes(raw []byte, r *Record) error {
	r.Attributes = map[string]string{}
	if err := json.Unmarshal(raw, &r.Attributes); err != nil {
		return fmt.Errorf("decode attributes: %w", err)
	}
	if r.Attributes == nil {
		// The JSON was null.
		r.Attributes = map[string]string{}
	}
	return nil
}
