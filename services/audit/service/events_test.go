package service

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/logging"
	"github.com/keelhq/keel/pkg/pgdb"
	"github.com/keelhq/keel/pkg/pgtest"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/audit/internal/auditlog"
	"github.com/keelhq/keel/services/audit/internal/schema"
	"github.com/keelhq/keel/services/audit/internal/usage"
)

var clock = time.Date(2025, 8, 1, 12, 0, 0, 0, time.UTC)

func newHandlers(pool *pgxpool.Pool) *eventHandlers {
	return &eventHandlers{
		chain:  auditlog.New(pool),
		ledger: usage.New(pool),
		now:    func() time.Time { return clock },
		logger: logging.Discard(),
	}
}

func migratedPool(t *testing.T) *pgxpool.Pool {
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
	return pool
}

func auditDelivery(ev *keelv1.AuditEvent, msgID string) bus.Delivery[*keelv1.AuditEvent] {
	return bus.Delivery[*keelv1.AuditEvent]{
		Subject: bus.AuditSubject("acme"), Tenant: "acme", MsgID: msgID, Msg: ev, NumDelivered: 1,
	}
}

func TestAppendAuditEventErrors(t *testing.T) {
	t.Parallel()
	h := newHandlers(migratedPool(t))
	ctx := context.Background()

	tests := []struct {
		name      string
		event     *keelv1.AuditEvent
		wantErr   error
		permanent bool
	}{
		{name: "valid", event: &keelv1.AuditEvent{Id: "a", Actor: "ingest", Action: "x"}},
		{name: "own tenant named",
			event: &keelv1.AuditEvent{Id: "b", TenantId: "acme", Actor: "ingest", Action: "x"}},
		{name: "other tenant named",
			event:   &keelv1.AuditEvent{Id: "c", TenantId: "globex", Actor: "ingest", Action: "x"},
			wantErr: ErrTenantMismatch, permanent: true},
		{name: "no actor", event: &keelv1.AuditEvent{Id: "d", Action: "x"},
			wantErr: auditlog.ErrInvalidEntry, permanent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := h.appendAuditEvent(ctx, auditDelivery(tt.event, "msg-"+tt.event.GetId()))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if got := bus.IsPermanent(err); got != tt.permanent {
				t.Errorf("permanent = %v, want %v (err %v)", got, tt.permanent, err)
			}
		})
	}
}

func TestAppendAuditEventFillsIDAndTime(t *testing.T) {
	t.Parallel()
	pool := migratedPool(t)
	h := newHandlers(pool)
	ctx := context.Background()
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

	events := []bus.Delivery[*keelv1.AuditEvent]{
		auditDelivery(&keelv1.AuditEvent{Actor: "gateway", Action: "x"}, "msg-1"),
		auditDelivery(&keelv1.AuditEvent{Id: "ev-2", Actor: "gateway", Action: "y",
			OccurredAt: timestamppb.New(at)}, "msg-2"),
	}
	for _, d := range events {
		if err := h.appendAuditEvent(ctx, d); err != nil {
			t.Fatalf("append: %v", err)
		}
	}

	records, err := auditlog.New(pool).List(ctx, "acme", "", 0, 0)
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	type stamp struct {
		ID string
		At time.Time
	}
	var got []stamp
	for _, r := range records {
		got = append(got, stamp{r.ID, r.OccurredAt})
	}
	want := []stamp{{"msg-1", clock}, {"ev-2", at}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records mismatch (-want +got):\n%s", diff)
	}
}

func TestRecordUsageEventErrors(t *testing.T) {
	t.Parallel()
	h := newHandlers(migratedPool(t))
	ctx := context.Background()
	deliver := func(ev *keelv1.UsageEvent) error {
		return h.recordUsageEvent(ctx, bus.Delivery[*keelv1.UsageEvent]{
			Subject: bus.UsageSubject("acme"), Tenant: "acme", MsgID: "m", Msg: ev,
		})
	}

	if err := deliver(&keelv1.UsageEvent{Id: "u1", TenantId: "acme", InputTokens: 5}); err != nil {
		t.Errorf("valid usage: %v", err)
	}
	err := deliver(&keelv1.UsageEvent{Id: "u2", TenantId: "globex"})
	if !errors.Is(err, ErrTenantMismatch) || !bus.IsPermanent(err) {
		t.Errorf("foreign tenant: error %v, want permanent ErrTenantMismatch", err)
	}
	err = deliver(&keelv1.UsageEvent{Id: "u3", CostMicros: -1})
	if !errors.Is(err, usage.ErrInvalidRecord) || !bus.IsPermanent(err) {
		t.Errorf("negative cost: error %v, want permanent ErrInvalidRecord", err)
	}
	// The audit event a usage event carries must be of the same tenant and
	// a valid entry.
	err = deliver(&keelv1.UsageEvent{Id: "u4", TenantId: "acme",
		Audit: &keelv1.AuditEvent{Id: "a4", TenantId: "globex", Actor: "router", Action: "model.generated"}})
	if !errors.Is(err, ErrTenantMismatch) || !bus.IsPermanent(err) {
		t.Errorf("audit event of another tenant: error %v, want permanent ErrTenantMismatch", err)
	}
	err = deliver(&keelv1.UsageEvent{Id: "u5", TenantId: "acme", Audit: &keelv1.AuditEvent{Id: "a5"}})
	if !bus.IsPermanent(err) {
		t.Errorf("audit event without actor or action: error %v, want a permanent error", err)
	}
}

// While Postgres cannot be reached the handlers fail with a retryable error,
// so pkg/bus redelivers the event later instead of dead-lettering it.
func TestHandlersRetryWhilePostgresIsDown(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1 of the loopback interface.
	pool, err := pgxpool.New(context.Background(),
		"postgres://postgres@127.0.0.1:1/keel?sslmode=disable&connect_timeout=2")
	if err != nil {
		t.Fatalf("create pool: %v", err)
	}
	t.Cleanup(pool.Close)
	h := newHandlers(pool)
	ctx := context.Background()

	err = h.appendAuditEvent(ctx, auditDelivery(&keelv1.AuditEvent{Id: "a", Actor: "x", Action: "y"}, "m"))
	if err == nil || bus.IsPermanent(err) {
		t.Errorf("audit append error = %v, want a retryable error", err)
	}
	err = h.recordUsageEvent(ctx, bus.Delivery[*keelv1.UsageEvent]{
		Tenant: "acme", MsgID: "m", Msg: &keelv1.UsageEvent{Id: "u"},
	})
	if err == nil || bus.IsPermanent(err) {
		t.Errorf("usage error = %v, want a retryable error", err)
	}
}

func TestRecordUsageBatch(t *testing.T) {
	t.Parallel()
	pool := migratedPool(t)
	h := newHandlers(pool)
	ctx := context.Background()
	batch := &keelv1.UsageBatch{Events: []*keelv1.UsageEvent{
		{Id: "u1", TenantId: "acme", InputTokens: 5, CostMicros: 10},
		{Id: "u2", TenantId: "globex", InputTokens: 7},
		{Id: "u3", TenantId: "acme", OutputTokens: 3, CostMicros: 20,
			Audit: &keelv1.AuditEvent{Id: "audit-u3", TenantId: "acme", Actor: "router", Action: "model.generated"}},
	}}
	deliver := func() error {
		return h.recordUsageBatch(ctx, bus.Delivery[*keelv1.UsageBatch]{
			Subject: bus.UsageBatchSubject("acme"), Tenant: "acme", MsgID: "b1", Msg: batch,
		})
	}

	// The event of another tenant is refused for good, naming it; the
	// others are recorded all the same.
	err := deliver()
	if !errors.Is(err, ErrTenantMismatch) || !bus.IsPermanent(err) {
		t.Fatalf("batch with a foreign event: error %v, want permanent ErrTenantMismatch", err)
	}
	if !strings.Contains(err.Error(), `event 1 ("u2")`) {
		t.Errorf("error %q does not name the refused event", err)
	}
	// Replaying the batch (from the dead letters, say) counts nothing twice.
	if err := deliver(); !bus.IsPermanent(err) {
		t.Fatalf("second delivery: error %v, want the same permanent error", err)
	}
	got, err := usage.New(pool).Sum(ctx, "acme", usage.Window{})
	if err != nil {
		t.Fatalf("sum: %v", err)
	}
	want := usage.Totals{Calls: 2, InputTokens: 5, OutputTokens: 3, CostMicros: 30}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("totals mismatch (-want +got):\n%s", diff)
	}
	records, err := h.chain.List(ctx, "acme", "", 0, 10)
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if len(records) != 1 || records[0].ID != "audit-u3" {
		t.Errorf("chain holds %+v, want the one audit event once", records)
	}

	// An event without an id takes one from its place in the message, so
	// that it too counts once.
	anon := &keelv1.UsageBatch{Events: []*keelv1.UsageEvent{{CostMicros: 1}, {CostMicros: 2}}}
	for range 2 {
		if err := h.recordUsageBatch(ctx, bus.Delivery[*keelv1.UsageBatch]{
			Subject: bus.UsageBatchSubject("acme"), Tenant: "acme", MsgID: "b2", Msg: anon,
		}); err != nil {
			t.Fatalf("batch of events without ids: %v", err)
		}
	}
	if got, err := usage.New(pool).Sum(ctx, "acme", usage.Window{}); err != nil || got.Calls != 4 || got.CostMicros != 33 {
		t.Errorf("after the id-less batch twice: %+v, %v; want 4 calls costing 33", got, err)
	}
}

// The audit record of a model call gets the usage event's fields as
// attributes; the router sends them once, in the usage event.
func TestModelCallAttributes(t *testing.T) {
	t.Parallel()

	ok := &keelv1.UsageEvent{
		Id: "id1", UseCase: "support_reply", Route: "support_reply", Provider: "local",
		Model: "keel-local-1", InputTokens: 40, OutputTokens: 12, CostMicros: 3, LatencyMs: 1500,
		FinishReason: "stop", Citations: 2, Attempts: 1,
	}
	want := map[string]string{
		"use_case": "support_reply", "route": "support_reply", "provider": "local",
		"model": "keel-local-1", "input_tokens": "40", "output_tokens": "12",
		"cost_micros": "3", "latency_ms": "1500", "finish_reason": "stop",
		"citations": "2", "attempts": "1", "usage_id": "id1",
	}
	if diff := cmp.Diff(want, modelCallAttributes(ok, "id1", nil)); diff != "" {
		t.Errorf("successful call (-want +got):\n%s", diff)
	}

	flagged := &keelv1.UsageEvent{
		Id: "id2", Route: "extract", Provider: "p", Model: "m", Attempts: 2, Estimated: true, Degraded: true,
		Cached: true, Shadow: true, SchemaRepaired: true, Template: "greet", TemplateVersion: 3,
	}
	got := modelCallAttributes(flagged, "id2", map[string]string{"route": "given", "extra": "x"})
	for k, v := range map[string]string{
		"usage_estimated": "true", "degraded": "true", "cached": "true", "shadow": "true",
		"schema_repaired": "true", "template": "greet", "template_version": "3",
		"route": "given", "extra": "x",
	} {
		if got[k] != v {
			t.Errorf("flagged call: %s = %q, want %q", k, got[k], v)
		}
	}

	failed := &keelv1.UsageEvent{Id: "id3", Route: "chat", Provider: "p", ErrorClass: "rate_limited", LatencyMs: 7}
	want = map[string]string{"use_case": "", "route": "chat", "latency_ms": "7", "usage_id": "id3",
		"error_class": "rate_limited"}
	if diff := cmp.Diff(want, modelCallAttributes(failed, "id3", nil)); diff != "" {
		t.Errorf("failed call (-want +got):\n%s", diff)
	}
}
