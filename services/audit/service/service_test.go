package service

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/grpcx"
	"github.com/keelhq/keel/pkg/logging"
	"github.com/keelhq/keel/pkg/natstest"
	"github.com/keelhq/keel/pkg/pgdb"
	"github.com/keelhq/keel/pkg/pgtest"
	"github.com/keelhq/keel/pkg/tenant"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/audit/internal/usage"
)

// harness is a running audit service with its NATS server and database.
type harness struct {
	client keelv1.AuditLogServiceClient
	pub    *bus.Publisher
	js     jetstream.JetStream
	dbURL  string
}

func startService(t *testing.T) harness {
	t.Helper()
	nc, js := natstest.Start(t)
	dbURL := pgtest.NewDatabase(t)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}

	cfg := DefaultConfig()
	cfg.NATS.URL = natstest.URL(nc)
	cfg.Database.URL = dbURL
	cfg.GRPC.Addr = lis.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, Deps{Logger: logging.Discard(), NATS: nc, Listener: lis})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})

	conn, err := grpcx.Dial(lis.Addr().String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return harness{
		client: keelv1.NewAuditLogServiceClient(conn),
		pub:    bus.NewPublisher(js),
		js:     js,
		dbURL:  dbURL,
	}
}

// eventually polls cond until it holds, failing the test after a while.
func eventually(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, err := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s (last error: %v)", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func auditEvent(tenantID, id string) *keelv1.AuditEvent {
	return &keelv1.AuditEvent{
		Id:         id,
		TenantId:   tenantID,
		Actor:      "ingest",
		Action:     "email.redacted",
		Subject:    "doc-" + id,
		OccurredAt: timestamppb.New(time.Date(2025, 7, 1, 9, 0, 0, 0, time.UTC)),
		Attributes: map[string]string{"kind": "email"},
	}
}

func listAll(
	ctx context.Context,
	c keelv1.AuditLogServiceClient,
	tenantID string,
) ([]*keelv1.AuditRecord, error) {
	resp, err := c.ListRecords(tenant.With(ctx, tenantID), &keelv1.ListRecordsRequest{Limit: 1000})
	return resp.GetRecords(), err
}

func ids(records []*keelv1.AuditRecord) []string {
	var out []string
	for _, r := range records {
		out = append(out, r.GetId())
	}
	return out
}

func TestServiceStoresAuditEventsPerTenant(t *testing.T) {
	h := startService(t)
	ctx := context.Background()

	// Events for two tenants, published the way every service does.
	for i := range 4 {
		if err := h.pub.Audit(ctx, auditEvent("acme", fmt.Sprintf("acme-%d", i))); err != nil {
			t.Fatalf("publish acme event: %v", err)
		}
	}
	for i := range 3 {
		if err := h.pub.Audit(ctx, auditEvent("globex", fmt.Sprintf("globex-%d", i))); err != nil {
			t.Fatalf("publish globex event: %v", err)
		}
	}
	// An event on acme's subject that claims to be globex's is dead-lettered.
	forged := auditEvent("globex", "forged")
	if _, err := h.pub.Publish(ctx, bus.AuditSubject("acme"), "forged", "acme", forged); err != nil {
		t.Fatalf("publish forged event: %v", err)
	}
	// A second message with an event id already stored changes nothing.
	again := auditEvent("acme", "acme-0")
	again.Action = "replayed"
	if _, err := h.pub.Publish(ctx, bus.AuditSubject("acme"), "another-msg-id", "acme", again); err != nil {
		t.Fatalf("publish repeated event: %v", err)
	}
	// The consumer works in stream order: once this one is stored, every
	// message above has been handled.
	if err := h.pub.Audit(ctx, auditEvent("acme", "acme-last")); err != nil {
		t.Fatalf("publish last acme event: %v", err)
	}

	var acme []*keelv1.AuditRecord
	eventually(t, "acme's last record", func() (bool, error) {
		var err error
		acme, err = listAll(ctx, h.client, "acme")
		return slices.Contains(ids(acme), "acme-last"), err
	})
	wantIDs := []string{"acme-0", "acme-1", "acme-2", "acme-3", "acme-last"}
	if diff := cmp.Diff(wantIDs, ids(acme)); diff != "" {
		t.Errorf("acme records mismatch (-want +got):\n%s", diff)
	}
	if acme[0].GetAction() != "email.redacted" {
		t.Errorf("acme-0 action = %q, the repeated event overwrote it", acme[0].GetAction())
	}

	verify, err := h.client.VerifyChain(tenant.With(ctx, "acme"), &keelv1.VerifyChainRequest{})
	if err != nil {
		t.Fatalf("verify acme: %v", err)
	}
	want := &keelv1.VerifyChainResponse{Intact: true, Records: 5}
	if diff := cmp.Diff(want, verify, protocmp.Transform()); diff != "" {
		t.Errorf("acme verification mismatch (-want +got):\n%s", diff)
	}

	var globex []*keelv1.AuditRecord
	eventually(t, "globex's records", func() (bool, error) {
		var err error
		globex, err = listAll(ctx, h.client, "globex")
		return len(globex) == 3, err
	})
	for _, r := range globex {
		if !strings.HasPrefix(r.GetId(), "globex-") {
			t.Errorf("globex listed record %q", r.GetId())
		}
	}

	dlq, err := h.js.Stream(ctx, bus.StreamDLQ)
	if err != nil {
		t.Fatalf("open dead-letter stream: %v", err)
	}
	dead, err := dlq.GetLastMsgForSubject(ctx, bus.DLQSubject("acme", AuditDurable))
	if err != nil {
		t.Fatalf("read dead letter: %v", err)
	}
	if reason := dead.Header.Get(bus.HeaderDLQError); !strings.Contains(reason, "tenant_id") {
		t.Errorf("dead letter reason = %q, want the tenant mismatch", reason)
	}
}

func TestServiceRecordsUsage(t *testing.T) {
	h := startService(t)
	ctx := context.Background()

	ev := &keelv1.UsageEvent{
		Id: "call-1", TenantId: "acme", UseCase: "copilot", Route: "draft", Provider: "local",
		Model: "echo", InputTokens: 120, OutputTokens: 30, CostMicros: 450, LatencyMs: 12,
		OccurredAt: timestamppb.New(time.Date(2025, 7, 1, 9, 0, 0, 0, time.UTC)),
	}
	for _, msgID := range []string{"m1", "m2"} { // the second is a redelivery by id
		if _, err := h.pub.Publish(ctx, bus.UsageSubject("acme"), msgID, "acme", ev); err != nil {
			t.Fatalf("publish usage: %v", err)
		}
	}
	last := &keelv1.UsageEvent{Id: "call-2", CostMicros: 50, OccurredAt: ev.GetOccurredAt()}
	if _, err := h.pub.Publish(ctx, bus.UsageSubject("acme"), "m3", "acme", last); err != nil {
		t.Fatalf("publish usage: %v", err)
	}

	pool, err := pgdb.Open(ctx, h.dbURL)
	if err != nil {
		t.Fatalf("open database: %v", err)
	}
	t.Cleanup(pool.Close)
	ledger := usage.New(pool)
	var got usage.Totals
	eventually(t, "usage totals", func() (bool, error) {
		var err error
		got, err = ledger.Sum(ctx, "acme", usage.Window{})
		return got.Calls == 2, err
	})
	want := usage.Totals{Calls: 2, InputTokens: 120, OutputTokens: 30, CostMicros: 500}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("totals mismatch (-want +got):\n%s", diff)
	}
}

func TestServiceRejectsBadCalls(t *testing.T) {
	h := startService(t)
	ctx := context.Background()

	tests := []struct {
		name string
		call func() error
		want codes.Code
	}{
		{
			name: "list without tenant",
			call: func() error {
				_, err := h.client.ListRecords(ctx, &keelv1.ListRecordsRequest{})
				return err
			},
			want: codes.Unauthenticated,
		},
		{
			name: "verify without tenant",
			call: func() error {
				_, err := h.client.VerifyChain(ctx, &keelv1.VerifyChainRequest{})
				return err
			},
			want: codes.Unauthenticated,
		},
		{
			name: "negative after_seq",
			call: func() error {
				_, err := h.client.ListRecords(tenant.With(ctx, "acme"), &keelv1.ListRecordsRequest{AfterSeq: -1})
				return err
			},
			want: codes.InvalidArgument,
		},
		{
			name: "empty chain",
			call: func() error {
				resp, err := h.client.VerifyChain(tenant.With(ctx, "acme"), &keelv1.VerifyChainRequest{})
				if err == nil && (!resp.GetIntact() || resp.GetRecords() != 0) {
					return fmt.Errorf("empty chain verified as %v", resp)
				}
				return err
			},
			want: codes.OK,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if got := status.Code(err); got != tt.want {
				t.Errorf("code = %v (err %v), want %v", got, err, tt.want)
			}
		})
	}
}

func TestServiceAppendsTheAuditEventOfAModelCall(t *testing.T) {
	h := startService(t)
	ctx := context.Background()

	ev := &keelv1.UsageEvent{
		Id: "call-9", TenantId: "acme", Route: "chat", Provider: "local", Model: "echo",
		InputTokens: 10, OutputTokens: 5,
		OccurredAt: timestamppb.New(time.Date(2025, 7, 1, 9, 0, 0, 0, time.UTC)),
		Audit: &keelv1.AuditEvent{
			Id: "audit-call-9", TenantId: "acme", Actor: "router", Action: "model.generated",
			Subject: "usage:call-9", Attributes: map[string]string{"usage_id": "call-9", "route": "chat"},
			OccurredAt: timestamppb.New(time.Date(2025, 7, 1, 9, 0, 0, 0, time.UTC)),
		},
	}
	for _, msgID := range []string{"m1", "m2"} { // the second is a redelivery
		if _, err := h.pub.Publish(ctx, bus.UsageSubject("acme"), msgID, "acme", ev); err != nil {
			t.Fatalf("publish usage: %v", err)
		}
	}

	var records []*keelv1.AuditRecord
	eventually(t, "the model call's audit record", func() (bool, error) {
		var err error
		records, err = listAll(ctx, h.client, "acme")
		return len(records) > 0, err
	})
	if len(records) != 1 || records[0].GetId() != "audit-call-9" || records[0].GetAction() != "model.generated" ||
		records[0].GetAttributes()["usage_id"] != "call-9" {
		t.Errorf("records = %v, want the one audit event, once", records)
	}
	// Attributes the event did not give come from the usage event.
	if a := records[0].GetAttributes(); a["provider"] != "local" || a["input_tokens"] != "10" || a["model"] != "echo" {
		t.Errorf("attributes = %v, want the usage event's provider, model and tokens", a)
	}
	resp, err := h.client.VerifyChain(tenant.With(ctx, "acme"), &keelv1.VerifyChainRequest{})
	if err != nil || !resp.GetIntact() {
		t.Errorf("chain after the model call: %+v, %v", resp, err)
	}
}

// A router under load publishes its usage events in batches; the service
// records each event of a batch once, beside single events of the same
// calls.
func TestServiceRecordsUsageBatches(t *testing.T) {
	h := startService(t)
	ctx := context.Background()
	at := timestamppb.New(time.Date(2025, 7, 1, 9, 0, 0, 0, time.UTC))
	call := func(id string, cost int64) *keelv1.UsageEvent {
		return &keelv1.UsageEvent{
			Id: id, TenantId: "acme", Route: "chat", Provider: "local", Model: "echo",
			CostMicros: cost, OccurredAt: at,
			Audit: &keelv1.AuditEvent{
				Id: "audit-" + id, TenantId: "acme", Actor: "router", Action: "model.generated",
				Subject: "usage:" + id, OccurredAt: at,
			},
		}
	}
	// call-1 arrives alone first, then again inside a batch: a router
	// publishes a batch's events one by one when the batch seemed lost.
	if _, err := h.pub.Publish(ctx, bus.UsageSubject("acme"), "call-1", "acme", call("call-1", 100)); err != nil {
		t.Fatalf("publish usage: %v", err)
	}
	batch := &keelv1.UsageBatch{Events: []*keelv1.UsageEvent{call("call-1", 100), call("call-2", 20), call("call-3", 3)}}
	if _, err := h.pub.Publish(ctx, bus.UsageBatchSubject("acme"), "batch-call-1-3", "acme", batch); err != nil {
		t.Fatalf("publish batch: %v", err)
	}

	var records []*keelv1.AuditRecord
	eventually(t, "the audit records of three calls", func() (bool, error) {
		var err error
		records, err = listAll(ctx, h.client, "acme")
		return len(records) >= 3, err
	})
	if got, want := ids(records), []string{"audit-call-1", "audit-call-2", "audit-call-3"}; !slices.Equal(got, want) {
		t.Errorf("audit records %v, want %v", got, want)
	}
	pool, err := pgdb.Open(ctx, h.dbURL)
	if err != nil {
		t.Fatalf("open database: %v", err)
	}
	t.Cleanup(pool.Close)
	got, err := usage.New(pool).Sum(ctx, "acme", usage.Window{})
	if err != nil || got.Calls != 3 || got.CostMicros != 123 {
		t.Errorf("usage totals %+v, %v; want 3 calls costing 123", got, err)
	}
	resp, err := h.client.VerifyChain(tenant.With(ctx, "acme"), &keelv1.VerifyChainRequest{})
	if err != nil || !resp.GetIntact() {
		t.Errorf("chain: %+v, %v", resp, err)
	}
}
