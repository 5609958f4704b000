package starter

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/logging"
	"github.com/keelhq/keel/pkg/natstest"
	"github.com/keelhq/keel/pkg/temporalx"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/workflows/internal/copilot"
)

// fakeTemporal records workflow starts and, like Temporal with a
// reject-duplicate policy, refuses a second start under one id.
type fakeTemporal struct {
	mu      sync.Mutex
	starts  []start
	started map[string]bool
}

type start struct {
	Options  client.StartWorkflowOptions
	Workflow any
	Input    copilot.Input
}

type fakeRun struct{ client.WorkflowRun }

func (fakeRun) GetRunID() string { return "run-1" }

func (f *fakeTemporal) ExecuteWorkflow(_ context.Context, opts client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	f.mu.Lock()
	defer f.mu.Unlock()

	f.starts = append(f.starts, start{Options: opts, Workflow: wf, Input: args[0].(copilot.Input)})
	if f.started[opts.ID] {
		return nil, serviceerror.NewWorkflowExecutionAlreadyStarted("already started", "", "run-1")
	}
	f.started[opts.ID] = true
	return fakeRun{}, nil
}

func (f *fakeTemporal) snapshot() []start {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]start(nil), f.starts...)
}

func runStarter(t *testing.T, policies Policies) (jetstream.JetStream, *fakeTemporal) {
	t.Helper()
	_, js := natstest.Start(t)
	fake := &fakeTemporal{started: map[string]bool{}}
	s := New(js, fake, policies, logging.Discard())

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return js, fake
}

func publish(t *testing.T, js jetstream.JetStream, subject, msgID string, ev *keelv1.RedactedEvent) {
	t.Helper()
	p := bus.NewPublisher(js)
	tenantID, err := bus.SubjectTenant(subject)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Publish(context.Background(), subject, msgID, tenantID, ev); err != nil {
		t.Fatalf("publish %s: %v", subject, err)
	}
}

// waitFor polls cond until it holds or the test has waited too long.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func redactedEmail(eventID string) *keelv1.RedactedEvent {
	return &keelv1.RedactedEvent{
		EventId:  eventID,
		TenantId: "acme",
		Kind:     "email",
		Subject:  "Where is <ORDER_1>?",
		Body:     "Hello, it has not arrived. <NAME_1>",
		Customer: &keelv1.Customer{Email: "<EMAIL_1>", Name: "<NAME_1>", AccountId: "acct-7"},
		VaultRef: "vault-" + eventID,
	}
}

func TestStarterStartsOneRunPerEvent(t *testing.T) {
	js, fake := runStarter(t, Policies{
		TenantThresholds: map[string]float64{"acme": 0.3},
		AlwaysReview:     []string{"acme"},
		ReviewTimeout:    time.Hour,
	})

	// The same event arrives twice (an upstream retry with a new message
	// id), then a second event.
	publish(t, js, "keel.redacted.acme.email", "m1", redactedEmail("evt-1"))
	publish(t, js, "keel.redacted.acme.email", "m2", redactedEmail("evt-1"))
	publish(t, js, "keel.redacted.acme.email", "m3", redactedEmail("evt-2"))
	waitFor(t, "three start attempts", func() bool { return len(fake.snapshot()) == 3 })

	starts := fake.snapshot()
	wantIDs := []string{"copilot/acme/evt-1", "copilot/acme/evt-1", "copilot/acme/evt-2"}
	var gotIDs []string
	for _, s := range starts {
		gotIDs = append(gotIDs, s.Options.ID)
		if s.Options.TaskQueue != temporalx.CopilotTaskQueue || s.Workflow != temporalx.CopilotWorkflow ||
			s.Options.WorkflowIDReusePolicy != enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE ||
			s.Options.WorkflowIDConflictPolicy != enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING {
			t.Errorf("start options = %+v workflow %v", s.Options, s.Workflow)
		}
	}
	if diff := cmp.Diff(wantIDs, gotIDs); diff != "" {
		t.Errorf("workflow ids (-want +got):\n%s", diff)
	}

	want := copilot.Input{
		TenantID:     "acme",
		EventID:      "evt-1",
		Kind:         "email",
		VaultRef:     "vault-evt-1",
		Subject:      "Where is <ORDER_1>?",
		Body:         "Hello, it has not arrived. <NAME_1>",
		CustomerRef:  "<EMAIL_1>",
		CustomerName: "<NAME_1>",
		AccountID:    "acct-7",
		Policy: copilot.Policy{
			RiskThreshold:     0.3,
			AlwaysReview:      true,
			ReviewCategories:  copilot.DefaultReviewCategories,
			MinConfidence:     copilot.DefaultMinConfidence,
			ReviewTimeout:     time.Hour,
			EscalationTimeout: copilot.DefaultEscalationTimeout,
		},
	}
	if diff := cmp.Diff(want, starts[0].Input); diff != "" {
		t.Errorf("copilot input (-want +got):\n%s", diff)
	}

	// The refused duplicate was acked, not dead-lettered.
	assertNoDeadLetter(t, js)
}

func TestStarterDeadLettersBadEvents(t *testing.T) {
	js, fake := runStarter(t, Policies{})

	noVault := redactedEmail("evt-bad")
	noVault.VaultRef = ""
	otherTenant := redactedEmail("evt-other")
	otherTenant.TenantId = "globex"
	publish(t, js, "keel.redacted.acme.email", "bad-1", noVault)
	publish(t, js, "keel.redacted.acme.email", "bad-2", otherTenant)

	stream, err := js.Stream(context.Background(), bus.StreamDLQ)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "two dead letters", func() bool {
		info, err := stream.Info(context.Background())
		return err == nil && info.State.Msgs == 2
	})
	msg, err := stream.GetLastMsgForSubject(context.Background(), bus.DLQSubject("acme", Stage))
	if err != nil {
		t.Fatalf("read dead letter: %v", err)
	}
	if msg.Header.Get(bus.HeaderDLQStage) != Stage || msg.Header.Get(bus.HeaderDLQError) == "" {
		t.Errorf("dead letter headers = %v, want the stage and the error", msg.Header)
	}
	if got := len(fake.snapshot()); got != 0 {
		t.Errorf("started %d runs for bad events, want none", got)
	}
}

func TestStarterIgnoresOtherKinds(t *testing.T) {
	js, fake := runStarter(t, Policies{})

	article := redactedEmail("kb-1")
	article.Kind = "article"
	publish(t, js, "keel.redacted.acme.article", "a1", article)
	publish(t, js, "keel.redacted.acme.email", "e1", redactedEmail("evt-1"))
	ticket := redactedEmail("T-3101")
	ticket.Kind = "ticket"
	publish(t, js, "keel.redacted.acme.ticket", "t1", ticket)
	waitFor(t, "the email's and the ticket's runs", func() bool { return len(fake.snapshot()) >= 2 })

	var ids []string
	for _, s := range fake.snapshot() {
		ids = append(ids, s.Options.ID)
	}
	slices.Sort(ids)
	if diff := cmp.Diff([]string{"copilot/acme/T-3101", "copilot/acme/evt-1"}, ids); diff != "" {
		t.Errorf("started runs (-want +got):\n%s", diff)
	}
}

func TestPoliciesFor(t *testing.T) {
	t.Parallel()

	p := Policies{
		RiskThreshold:    0.6,
		TenantThresholds: map[string]float64{"strict": 0.2},
		AlwaysReview:     []string{"careful"},
	}
	tests := []struct {
		name   string
		tenant string
		want   copilot.Policy
	}{
		{name: "default", tenant: "acme", want: copilot.Policy{RiskThreshold: 0.6}},
		{name: "own threshold", tenant: "strict", want: copilot.Policy{RiskThreshold: 0.2}},
		{name: "always review", tenant: "careful", want: copilot.Policy{RiskThreshold: 0.6, AlwaysReview: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			tt.want.ReviewCategories = copilot.DefaultReviewCategories
			tt.want.MinConfidence = copilot.DefaultMinConfidence
			tt.want.ReviewTimeout = copilot.DefaultReviewTimeout
			tt.want.EscalationTimeout = copilot.DefaultEscalationTimeout
			if diff := cmp.Diff(tt.want, p.For(tt.tenant)); diff != "" {
				t.Errorf("For(%q) (-want +got):\n%s", tt.tenant, diff)
			}
		})
	}
}

func assertNoDeadLetter(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	stream, err := js.Stream(context.Background(), bus.StreamDLQ)
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 0 {
		t.Errorf("dead-letter stream holds %d messages, want 0", info.State.Msgs)
	}
}
