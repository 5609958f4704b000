package routing

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/router/internal/provider"
)

type published struct {
	subject, msgID, tenant string
	msg                    proto.Message
}

type fakePublisher struct {
	published []published
	audits    []*keelv1.AuditEvent
	failWith  error
}

func (f *fakePublisher) Publish(_ context.Context, subject, msgID, tenantID string, m proto.Message) (bool, error) {
	if f.failWith != nil {
		return false, f.failWith
	}
	f.published = append(f.published, published{subject, msgID, tenantID, m})
	if u, ok := m.(*keelv1.UsageEvent); ok && u.GetAudit() != nil {
		f.audits = append(f.audits, u.GetAudit())
	}
	return false, nil
}

func testRecorder(pub *fakePublisher, at time.Time) *BusRecorder {
	r := NewBusRecorder(pub, "")
	r.now = func() time.Time { return at }
	r.newID = func() string { return "id1" }
	return r
}

func TestBusRecorderSuccess(t *testing.T) {
	t.Parallel()

	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	pub := &fakePublisher{}
	err := testRecorder(pub, at).Record(context.Background(), Record{
		Tenant: "acme", UseCase: "support_reply", Route: "support_reply", Provider: "local",
		Model: "keel-local-1", Usage: provider.Usage{InputTokens: 40, OutputTokens: 12},
		CostMicros: 3, Latency: 1500 * time.Millisecond, FinishReason: provider.FinishStop,
		Citations: 2, Attempts: 1,
	})
	if err != nil {
		t.Fatalf("Record: %v", err)
	}

	if len(pub.published) != 1 {
		t.Fatalf("published %d messages, want 1", len(pub.published))
	}
	p := pub.published[0]
	if p.subject != "keel.usage.acme" || p.msgID != "id1" || p.tenant != "acme" {
		t.Errorf("published to %q id %q tenant %q", p.subject, p.msgID, p.tenant)
	}
	wantUsage := &keelv1.UsageEvent{
		Id: "id1", TenantId: "acme", UseCase: "support_reply", Route: "support_reply",
		Provider: "local", Model: "keel-local-1", InputTokens: 40, OutputTokens: 12,
		CostMicros: 3, LatencyMs: 1500, OccurredAt: timestamppb.New(at), Attempts: 1,
		FinishReason: "stop", Citations: 2,
	}
	if diff := cmp.Diff(wantUsage, p.msg, protocmp.Transform(),
		protocmp.IgnoreFields(&keelv1.UsageEvent{}, "audit")); diff != "" {
		t.Errorf("usage event (-want +got):\n%s", diff)
	}

	// The audit event carries no attributes: the audit service derives
	// them from the usage event (services/audit/service, modelCallAttributes).
	wantAudit := &keelv1.AuditEvent{
		Id: "audit-id1", TenantId: "acme", Actor: "router", Action: ActionGenerated,
		Subject: "usage:id1", OccurredAt: timestamppb.New(at),
	}
	if len(pub.audits) != 1 {
		t.Fatalf("audits = %d, want 1", len(pub.audits))
	}
	if diff := cmp.Diff(wantAudit, pub.audits[0], protocmp.Transform()); diff != "" {
		t.Errorf("audit event (-want +got):\n%s", diff)
	}
}

func TestBusRecorderFailure(t *testing.T) {
	t.Parallel()

	pub := &fakePublisher{}
	err := testRecorder(pub, time.Now()).Record(context.Background(), Record{
		Tenant: "acme", UseCase: "support_reply", Route: "support_reply",
		Err: &provider.Error{Class: provider.ErrRateLimited},
	})
	if err != nil {
		t.Fatalf("Record: %v", err)
	}
	// Every call publishes usage, a failed one with no tokens and its class.
	if len(pub.published) != 1 {
		t.Fatalf("published = %+v, want one usage event", pub.published)
	}
	if u, ok := pub.published[0].msg.(*keelv1.UsageEvent); !ok || u.GetErrorClass() != "rate_limited" ||
		u.GetInputTokens() != 0 || u.GetCostMicros() != 0 {
		t.Errorf("usage event = %v", pub.published[0].msg)
	}
	if len(pub.audits) != 1 || pub.audits[0].GetAction() != ActionFailed {
		t.Errorf("audits = %+v", pub.audits)
	}
}

func TestBusRecorderErrors(t *testing.T) {
	t.Parallel()

	if err := testRecorder(&fakePublisher{}, time.Now()).Record(context.Background(), Record{}); err == nil {
		t.Error("a record without tenant was accepted")
	}
	down := errors.New("nats down")
	err := testRecorder(&fakePublisher{failWith: down}, time.Now()).Record(context.Background(), Record{Tenant: "acme"})
	if !errors.Is(err, down) {
		t.Errorf("error = %v, want %v", err, down)
	}
}

func TestBusRecorderUsesCallSubject(t *testing.T) {
	t.Parallel()

	pub := &fakePublisher{}
	err := testRecorder(pub, time.Now()).Record(context.Background(), Record{
		Tenant: "acme", UseCase: "support_reply", Route: "support_reply", Provider: "local",
		Subject: "copilot/acme/e1",
	})
	if err != nil {
		t.Fatalf("Record: %v", err)
	}
	if len(pub.audits) != 1 || pub.audits[0].GetSubject() != "copilot/acme/e1" {
		t.Fatalf("audit events = %v, want one about copilot/acme/e1", pub.audits)
	}
}

func TestSubjectTravelsInContext(t *testing.T) {
	t.Parallel()
	if got := SubjectFrom(context.Background()); got != "" {
		t.Fatalf("SubjectFrom(empty) = %q", got)
	}
	if got := SubjectFrom(WithSubject(context.Background(), "w1")); got != "w1" {
		t.Fatalf("SubjectFrom = %q, want w1", got)
	}
}

// A record carries the time of its call: published late (after a bus
// outage), its event still counts in the period the call was made in.
func TestBusRecorderKeepsCallTime(t *testing.T) {
	t.Parallel()
	pub := &fakePublisher{}
	called := time.Date(2026, 1, 1, 23, 59, 59, 0, time.UTC)
	err := testRecorder(pub, called.Add(time.Hour)).Record(context.Background(), Record{Tenant: "acme", At: called})
	if err != nil {
		t.Fatal(err)
	}
	u := pub.published[0].msg.(*keelv1.UsageEvent)
	if !u.GetOccurredAt().AsTime().Equal(called) || !u.GetAudit().GetOccurredAt().AsTime().Equal(called) {
		t.Errorf("occurred at %v (audit %v), want the call's time %v", u.GetOccurredAt().AsTime(),
			u.GetAudit().GetOccurredAt().AsTime(), called)
	}
}
