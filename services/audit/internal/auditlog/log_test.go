package auditlog

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keelhq/keel/pkg/pgdb"
	"github.com/keelhq/keel/pkg/pgtest"
	"github.com/keelhq/keel/services/audit/internal/schema"
)

var baseTime = time.Date(2025, 5, 4, 3, 2, 1, 0, time.UTC)

// newLog returns a Log on a fresh, migrated database and the pool it uses.
// The pool logs in as the Postgres superuser, so statements sent through it
// directly (not through the Log) bypass row-level security.
func newLog(t *testing.T) (*Log, *pgxpool.Pool) {
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
	return New(pool), pool
}

func entry(i int) Entry {
	return Entry{
		ID:         fmt.Sprintf("ev-%03d", i),
		Actor:      "ingest",
		Action:     "email.redacted",
		Subject:    fmt.Sprintf("doc-%d", i%3),
		OccurredAt: baseTime.Add(time.Duration(i) * time.Second),
		Attributes: map[string]string{"kind": "email", "n": fmt.Sprint(i)},
	}
}

func appendN(t *testing.T, l *Log, tenant string, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		rc, err := l.Append(context.Background(), tenant, entry(i))
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		if rc.Seq != int64(i) || rc.Duplicate {
			t.Fatalf("append %d: receipt %+v, want seq %d, not duplicate", i, rc, i)
		}
	}
}

// superuserExec runs stmt as the superuser with triggers switched off, the
// way an attacker with full database access would tamper with the log.
func superuserExec(t *testing.T, pool *pgxpool.Pool, stmt string, args ...any) {
	t.Helper()
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL session_replication_role = replica"); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, stmt, args...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("%d rows affected, want 1", tag.RowsAffected())
		}
		return nil
	})
	if err != nil {
		t.Fatalf("tamper %q: %v", stmt, err)
	}
}

func verify(t *testing.T, l *Log, tenant string) Verification {
	t.Helper()
	v, err := l.Verify(context.Background(), tenant)
	if err != nil {
		t.Fatalf("verify %s: %v", tenant, err)
	}
	return v
}

func TestAppendListVerify(t *testing.T) {
	t.Parallel()
	l, _ := newLog(t)
	ctx := context.Background()
	appendN(t, l, "acme", 5)

	if diff := cmp.Diff(Verification{Intact: true, Records: 5}, verify(t, l, "acme")); diff != "" {
		t.Errorf("verification mismatch (-want +got):\n%s", diff)
	}

	all, err := l.List(ctx, "acme", "", 0, 0)
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if len(all) != 5 {
		t.Fatalf("listed %d records, want 5", len(all))
	}
	want := Record{
		Seq: 2, ID: "ev-002", Actor: "ingest", Action: "email.redacted", Subject: "doc-2",
		OccurredAt: baseTime.Add(2 * time.Second),
		Attributes: map[string]string{"kind": "email", "n": "2"},
		PrevHash:   all[0].Hash,
	}
	want.Hash = ComputeHash(want)
	if diff := cmp.Diff(want, all[1], cmpopts.IgnoreFields(Record{}, "RecordedAt")); diff != "" {
		t.Errorf("record 2 mismatch (-want +got):\n%s", diff)
	}
	if all[0].PrevHash != GenesisHash {
		t.Errorf("first prev_hash = %s, want genesis", all[0].PrevHash)
	}

	tests := []struct {
		name     string
		subject  string
		afterSeq int64
		limit    int
		wantSeqs []int64
	}{
		{name: "all", wantSeqs: []int64{1, 2, 3, 4, 5}},
		{name: "after seq", afterSeq: 3, wantSeqs: []int64{4, 5}},
		{name: "limit", limit: 2, wantSeqs: []int64{1, 2}},
		{name: "subject", subject: "doc-1", wantSeqs: []int64{1, 4}},
		{name: "subject after seq", subject: "doc-1", afterSeq: 1, wantSeqs: []int64{4}},
		{name: "unknown subject", subject: "nope", wantSeqs: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := l.List(ctx, "acme", tt.subject, tt.afterSeq, tt.limit)
			if err != nil {
				t.Fatalf("list: %v", err)
			}
			var got []int64
			for _, r := range rs {
				got = append(got, r.Seq)
			}
			if diff := cmp.Diff(tt.wantSeqs, got); diff != "" {
				t.Errorf("seqs mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAppendIsIdempotentOnID(t *testing.T) {
	t.Parallel()
	l, _ := newLog(t)
	ctx := context.Background()
	appendN(t, l, "acme", 3)

	again := entry(2)
	again.Action = "something else"
	rc, err := l.Append(ctx, "acme", again)
	if err != nil {
		t.Fatalf("append duplicate: %v", err)
	}
	stored, err := l.List(ctx, "acme", "", 1, 1)
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	want := Receipt{Seq: 2, Hash: stored[0].Hash, Duplicate: true}
	if diff := cmp.Diff(want, rc); diff != "" {
		t.Errorf("receipt mismatch (-want +got):\n%s", diff)
	}
	if stored[0].Action != "email.redacted" {
		t.Errorf("stored action = %q, duplicate overwrote it", stored[0].Action)
	}
	if diff := cmp.Diff(Verification{Intact: true, Records: 3}, verify(t, l, "acme")); diff != "" {
		t.Errorf("verification mismatch (-want +got):\n%s", diff)
	}

	// The same ID in another tenant is another record.
	rc, err = l.Append(ctx, "globex", entry(2))
	if err != nil {
		t.Fatalf("append to globex: %v", err)
	}
	if rc.Seq != 1 || rc.Duplicate {
		t.Errorf("globex receipt = %+v, want seq 1, not duplicate", rc)
	}
}

func TestAppendRejectsInvalidEntry(t *testing.T) {
	t.Parallel()
	l, _ := newLog(t)
	bad := entry(1)
	bad.Subject = "nul\x00byte"

	_, err := l.Append(context.Background(), "acme", bad)
	if !errors.Is(err, ErrInvalidEntry) {
		t.Fatalf("append error = %v, want ErrInvalidEntry", err)
	}
	_, err = l.Append(context.Background(), "", entry(1))
	if !errors.Is(err, pgdb.ErrNoTenant) {
		t.Fatalf("append without tenant error = %v, want pgdb.ErrNoTenant", err)
	}
	if v := verify(t, l, "acme"); v.Records != 0 {
		t.Errorf("records after rejected appends = %d, want 0", v.Records)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		tamper string
		want   Verification
	}{
		{
			name:   "changed action",
			tamper: "UPDATE audit_records SET action = 'email.ignored' WHERE tenant_id = 'acme' AND seq = 3",
			want: Verification{Records: 5, FirstBrokenSeq: 3,
				Reason: "hash does not match the record's content"},
		},
		{
			name: "changed attribute",
			tamper: `UPDATE audit_records SET attributes = '{"kind": "email", "n": "9"}'
WHERE tenant_id = 'acme' AND seq = 4`,
			want: Verification{Records: 5, FirstBrokenSeq: 4,
				Reason: "hash does not match the record's content"},
		},
		{
			name: "changed time",
			tamper: `UPDATE audit_records SET occurred_at = occurred_at + interval '1 microsecond'
WHERE tenant_id = 'acme' AND seq = 1`,
			want: Verification{Records: 5, FirstBrokenSeq: 1,
				Reason: "hash does not match the record's content"},
		},
		{
			name:   "attributes no longer strings",
			tamper: `UPDATE audit_records SET attributes = '{"n": 2}' WHERE tenant_id = 'acme' AND seq = 2`,
			want:   Verification{Records: 5, FirstBrokenSeq: 2},
		},
		{
			name:   "deleted middle record",
			tamper: "DELETE FROM audit_records WHERE tenant_id = 'acme' AND seq = 3",
			want: Verification{Records: 4, FirstBrokenSeq: 3,
				Reason: "record 3 is missing: the next record is 4"},
		},
		{
			name:   "deleted last record",
			tamper: "DELETE FROM audit_records WHERE tenant_id = 'acme' AND seq = 5",
			want: Verification{Records: 4, FirstBrokenSeq: 5,
				Reason: "records 5 to 5 are missing: the chain head is at 5"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, pool := newLog(t)
			appendN(t, l, "acme", 5)
			appendN(t, l, "globex", 5)

			superuserExec(t, pool, tt.tamper)

			got := verify(t, l, "acme")
			ignoreReason := cmpopts.IgnoreFields(Verification{}, "Reason")
			if tt.want.Reason != "" {
				ignoreReason = nil
			}
			if diff := cmp.Diff(tt.want, got, ignoreReason); diff != "" {
				t.Errorf("verification mismatch (-want +got):\n%s", diff)
			}
			if v := verify(t, l, "globex"); !v.Intact {
				t.Errorf("globex chain reported broken by acme's tampering: %+v", v)
			}
		})
	}
}

func TestRecordsAreAppendOnly(t *testing.T) {
	t.Parallel()
	l, pool := newLog(t)
	ctx := context.Background()
	appendN(t, l, "acme", 2)

	statements := []string{
		"UPDATE audit_records SET action = 'x' WHERE seq = 1",
		"DELETE FROM audit_records WHERE seq = 1",
		"TRUNCATE audit_records",
	}
	for _, stmt := range statements {
		t.Run("app role/"+stmt, func(t *testing.T) {
			err := pgdb.WithTenant(ctx, pool, "acme", func(tx pgx.Tx) error {
				_, err := tx.Exec(ctx, stmt)
				return err
			})
			assertSQLState(t, err, "42501") // insufficient_privilege
		})
		t.Run("superuser/"+stmt, func(t *testing.T) {
			_, err := pool.Exec(ctx, stmt)
			assertSQLState(t, err, "42501") // raised by the trigger
		})
	}
	if diff := cmp.Diff(Verification{Intact: true, Records: 2}, verify(t, l, "acme")); diff != "" {
		t.Errorf("verification mismatch (-want +got):\n%s", diff)
	}
}

func assertSQLState(t *testing.T, err error, code string) {
	t.Helper()
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != code {
		t.Errorf("error = %v, want SQLSTATE %s", err, code)
	}
}

func TestTenantsAreIsolated(t *testing.T) {
	t.Parallel()
	l, pool := newLog(t)
	ctx := context.Background()
	appendN(t, l, "acme", 3)

	rs, err := l.List(ctx, "globex", "", 0, 0)
	if err != nil {
		t.Fatalf("list as globex: %v", err)
	}
	if len(rs) != 0 {
		t.Errorf("globex listed %d of acme's records", len(rs))
	}
	if diff := cmp.Diff(Verification{Intact: true}, verify(t, l, "globex")); diff != "" {
		t.Errorf("globex verification mismatch (-want +got):\n%s", diff)
	}

	// Without the tenant filter of List, row-level security alone hides
	// acme's rows from a transaction set to globex.
	for _, table := range []string{"audit_records", "audit_heads"} {
		var n int
		err := pgdb.WithTenant(ctx, pool, "globex", func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n)
		})
		if err != nil {
			t.Fatalf("count %s as globex: %v", table, err)
		}
		if n != 0 {
			t.Errorf("globex sees %d rows of %s, want 0", n, table)
		}
	}

	// Writing a row for acme while set to globex is refused.
	err = pgdb.WithTenant(ctx, pool, "globex", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO audit_records
  (tenant_id, seq, id, actor, action, subject, occurred_at, prev_hash, hash)
VALUES ('acme', 4, 'forged', 'x', 'x', '', now(), '', '')`)
		return err
	})
	assertSQLState(t, err, "42501")
	err = pgdb.WithTenant(ctx, pool, "globex", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "UPDATE audit_heads SET seq = 0 WHERE tenant_id = 'acme'")
		return err
	})
	if err != nil {
		t.Fatalf("update acme head as globex: %v", err)
	}
	if diff := cmp.Diff(Verification{Intact: true, Records: 3}, verify(t, l, "acme")); diff != "" {
		t.Errorf("acme verification mismatch (-want +got):\n%s", diff)
	}
}

func TestConcurrentAppendsFormOneChain(t *testing.T) {
	t.Parallel()
	l, _ := newLog(t)
	ctx := context.Background()
	const workers, perWorker = 8, 25

	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				e := entry(w*perWorker + i)
				// Every worker also repeats an ID another worker appends.
				if _, err := l.Append(ctx, "acme", e); err != nil {
					errs <- err
				}
				if _, err := l.Append(ctx, "acme", entry((w+1)%workers*perWorker+i)); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("append: %v", err)
	}

	const total = workers * perWorker
	if diff := cmp.Diff(Verification{Intact: true, Records: total}, verify(t, l, "acme")); diff != "" {
		t.Errorf("verification mismatch (-want +got):\n%s", diff)
	}
	rs, err := l.List(ctx, "acme", "", 0, MaxListLimit)
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	ids := map[string]bool{}
	for i, r := range rs {
		if r.Seq != int64(i+1) {
			t.Fatalf("record %d has seq %d: the chain has a gap", i, r.Seq)
		}
		ids[r.ID] = true
	}
	if len(ids) != total {
		t.Errorf("stored %d distinct ids, want %d", len(ids), total)
	}
}
