package auditlog

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/keelhq/keel/pkg/pgdb"
)

// Verification is the outcome of walking one tenant's chain.
type Verification struct {
	// Intact is true when every record links to the one before, matches its
	// hash, and the chain reaches the head recorded for the tenant.
	Intact bool
	// Records is the number of records walked, broken ones included.
	Records int64
	// FirstBrokenSeq is the seq of the first record that is missing or does
	// not match; 0 when Intact.
	FirstBrokenSeq int64
	// Reason says what is wrong at FirstBrokenSeq; empty when Intact.
	Reason string
}

// Verify walks tenant's chain in seq order and checks that seqs follow each
// other without a gap from 1, that each record's prev_hash is the hash of the
// record before (GenesisHash for the first), that each hash matches the
// record's content, and that the chain reaches the tenant's head. Records
// stream from the database one at a time, so a long chain does not have to
// fit in memory. Evidence of tampering is reported in the Verification, not
// as an error; errors mean the chain could not be read (pgdb.ErrNoTenant
// when tenant is empty).
func (l *Log) Verify(ctx context.Context, tenant string) (Verification, error) {
	var v Verification
	err := pgdb.WithTenant(ctx, l.pool, tenant, func(tx pgx.Tx) error {
		// The head is read before the records: every record it counts is
		// committed and visible to the later query; records appended in
		// between are walked too.
		h, err := readHead(ctx, tx, tenant)
		if err != nil {
			return err
		}

		rows, err := tx.Query(ctx, `SELECT `+recordColumns+`
FROM audit_records
WHERE tenant_id = $1
ORDER BY seq`, tenant)
		if err != nil {
			return fmt.Errorf("query records: %w", err)
		}
		defer rows.Close()

		c := newChainCheck(h)
		for rows.Next() {
			r, attrs, err := scanRawRecord(rows)
			if err != nil {
				return err
			}
			c.add(r, decodeAttributes(attrs, &r))
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read records: %w", err)
		}
		v = c.finish()
		return nil
	})
	if err != nil {
		return Verification{}, fmt.Errorf("verify audit chain: %w", err)
	}
	return v, nil
}

// chainCheck checks records handed to it in seq order against each other
// and against the chain head. It remembers only the previous record.
type chainCheck struct {
	head     head
	nextSeq  int64
	prevHash string
	result   Verification
}

func newChainCheck(h head) *chainCheck {
	return &chainCheck{head: h, nextSeq: 1, prevHash: GenesisHash}
}

// add checks r, the next record in seq order. decodeErr is the error, if
// any, met while reading r's attributes. After the first break add only
// counts.
func (c *chainCheck) add(r Record, decodeErr error) {
	c.result.Records++
	if c.result.FirstBrokenSeq != 0 {
		return
	}

	switch {
	case r.Seq != c.nextSeq:
		c.fail(c.nextSeq, fmt.Sprintf("record %d is missing: the next record is %d", c.nextSeq, r.Seq))
	case r.PrevHash != c.prevHash && r.Seq == 1:
		c.fail(r.Seq, "prev_hash of the first record is not the genesis hash")
	case r.PrevHash != c.prevHash:
		c.fail(r.Seq, fmt.Sprintf("prev_hash does not match the hash of record %d", r.Seq-1))
	case decodeErr != nil:
		c.fail(r.Seq, "attributes are unreadable: "+decodeErr.Error())
	case ComputeHash(r) != r.Hash:
		c.fail(r.Seq, "hash does not match the record's content")
	case r.Seq == c.head.seq && r.Hash != c.head.hash:
		c.fail(r.Seq, "hash does not match the chain head")
	}
	c.nextSeq = r.Seq + 1
	c.prevHash = r.Hash
}

// finish reports the outcome once every record has been added.
func (c *chainCheck) finish() Verification {
	if last := c.nextSeq - 1; c.result.FirstBrokenSeq == 0 && last < c.head.seq {
		c.fail(c.nextSeq, fmt.Sprintf("records %d to %d are missing: the chain head is at %d",
			c.nextSeq, c.head.seq, c.head.seq))
	}
	c.result.Intact = c.result.FirstBrokenSeq == 0
	return c.result
}

func (c *chainCheck) fail(seq int64, reason string) {
	c.result.FirstBrokenSeq = seq
	c.result.Reason = reason
}
