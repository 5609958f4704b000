package copilot

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/keelhq/keel/pkg/temporalx"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

const testWorkflowID = "copilot/acme/evt-1"

// acts names activity methods for env.OnActivity.
var acts *Activities

func testInput() Input {
	return Input{
		TenantID:    "acme",
		EventID:     "evt-1",
		Kind:        "email",
		VaultRef:    "vault-1",
		Subject:     "Where is my order ORD-10421?",
		Body:        "Hello, my order ORD-10421 has not arrived. <NAME_1>",
		CustomerRef: "<EMAIL_1>",
		AccountID:   "acct-7",
	}
}

// newEnv returns a test environment running SupportCopilot against the
// real activities over b's fakes.
func newEnv(t *testing.T, b *backends, orders OrderBook) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{
		ID:        testWorkflowID,
		TaskQueue: temporalx.CopilotTaskQueue,
	})
	Register(env, b.activities(orders))
	return env
}

// run executes the workflow and returns its final status.
func runCopilot(t *testing.T, env *testsuite.TestWorkflowEnvironment, in Input) *keelv1.CopilotStatus {
	t.Helper()
	env.ExecuteWorkflow(temporalx.CopilotWorkflow, in)
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("workflow failed: %v", err)
	}
	var st *keelv1.CopilotStatus
	if err := env.GetWorkflowResult(&st); err != nil {
		t.Fatalf("workflow result: %v", err)
	}
	return st
}

func signalLater(env *testsuite.TestWorkflowEnvironment, after time.Duration, d *keelv1.ReviewDecision) {
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(temporalx.ReviewSignal, d)
	}, after)
}

func queryStatus(t *testing.T, env *testsuite.TestWorkflowEnvironment) *keelv1.CopilotStatus {
	t.Helper()
	v, err := env.QueryWorkflow(temporalx.StatusQuery)
	if err != nil {
		t.Fatalf("query status: %v", err)
	}
	var st *keelv1.CopilotStatus
	if err := v.Get(&st); err != nil {
		t.Fatalf("decode status: %v", err)
	}
	return st
}

func TestAutoApprovePublishesOutbound(t *testing.T) {
	b := newBackends()
	env := newEnv(t, b, nil)

	st := runCopilot(t, env, testInput())

	if st.GetStage() != StageCompleted || st.GetDecision() != OutcomeAutoApproved || st.GetNeedsReview() {
		t.Errorf("final status: stage %q decision %q needs_review %v, want completed auto_approved false",
			st.GetStage(), st.GetDecision(), st.GetNeedsReview())
	}
	if st.GetFinalText() != "Hello <NAME_1>, your order is on its way." {
		t.Errorf("final text = %q, want the redacted draft", st.GetFinalText())
	}

	out := b.publishedOn("keel.outbound.")
	if len(out) != 1 {
		t.Fatalf("published %d outbound messages, want 1", len(out))
	}
	if out[0].Subject != "keel.outbound.acme.email" || out[0].MsgID != testWorkflowID {
		t.Errorf("outbound subject %q msg id %q, want keel.outbound.acme.email %q",
			out[0].Subject, out[0].MsgID, testWorkflowID)
	}
	msg := out[0].Msg.(*keelv1.OutboundMessage)
	want := &keelv1.OutboundMessage{
		TenantId:   "acme",
		WorkflowId: testWorkflowID,
		EventId:    "evt-1",
		To:         "margaret.okafor@example.com",
		Subject:    "Re: Where is my order ORD-10421?",
		Body:       "Hello Margaret, your order is on its way.",
		Decision:   OutcomeAutoApproved,
	}
	msg.SentAt = nil
	if diff := cmp.Diff(want, msg, protocmp.Transform()); diff != "" {
		t.Errorf("outbound message (-want +got):\n%s", diff)
	}

	drafts := b.publishedOn("keel.drafts.acme")
	if len(drafts) != 1 || drafts[0].Msg.(*keelv1.DraftEvent).GetDraft() == "" {
		t.Errorf("draft events = %v, want one with the draft", drafts)
	}

	wantActions := []string{
		"copilot.started", "passages.retrieved", "draft.generated", "draft.evaluated", "reply.sent",
	}
	if diff := cmp.Diff(wantActions, b.auditActions()); diff != "" {
		t.Errorf("audit actions (-want +got):\n%s", diff)
	}
	for _, ev := range b.audits() {
		if ev.GetActor() != Actor || ev.GetTenantId() != "acme" || ev.GetSubject() != "evt-1" || ev.GetId() == "" {
			t.Errorf("audit event %s: actor %q tenant %q subject %q id %q",
				ev.GetAction(), ev.GetActor(), ev.GetTenantId(), ev.GetSubject(), ev.GetId())
		}
	}
	for i, tn := range b.tenants {
		if tn != "acme" {
			t.Errorf("backend call %d carried tenant %q, want acme", i, tn)
		}
	}
}

func TestRetrievalAsksForArticlesAsTheAccount(t *testing.T) {
	b := newBackends()
	env := newEnv(t, b, nil)

	runCopilot(t, env, testInput())

	if len(b.searches) != 1 {
		t.Fatalf("searches = %d, want 1", len(b.searches))
	}
	got := b.searches[0]
	if got.GetTopK() != 4 || !cmp.Equal(got.GetFilter().GetKinds(), []string{"article"}) ||
		!cmp.Equal(got.GetPrincipals(), []string{"account:acct-7"}) {
		t.Errorf("search request = %v, want top_k 4, kinds [article], principals [account:acct-7]", got)
	}
	gen := b.generates[0]
	if gen.GetUseCase() != UseCase || len(gen.GetPassages()) != 1 || len(gen.GetTools()) != 2 {
		t.Errorf("generate request = %v, want support_reply with 1 passage and 2 tools", gen)
	}
}

func TestReviewDecisions(t *testing.T) {
	tests := []struct {
		name         string
		signal       *keelv1.ReviewDecision
		wantOutcome  string
		wantStage    string
		wantBody     string // restored body of the reply; empty: none sent
		wantAction   string
		wantReviewer string
	}{
		{
			name:        "approve sends the draft",
			signal:      &keelv1.ReviewDecision{Decision: DecisionApprove, Reviewer: "ana"},
			wantOutcome: OutcomeApproved,
			wantStage:   StageCompleted,
			wantBody:    "Hello Margaret, your order is on its way.",
			wantAction:  "review.approved",
		},
		{
			name: "edit sends the edited text",
			signal: &keelv1.ReviewDecision{
				Decision: DecisionEdit, Reviewer: "ana", EditedText: "Dear <NAME_1>, it ships today.",
			},
			wantOutcome: OutcomeEdited,
			wantStage:   StageCompleted,
			wantBody:    "Dear Margaret, it ships today.",
			wantAction:  "review.edited",
		},
		{
			name:        "reject sends nothing",
			signal:      &keelv1.ReviewDecision{Decision: DecisionReject, Reviewer: "ana", Note: "wrong tone"},
			wantOutcome: OutcomeRejected,
			wantStage:   StageRejected,
			wantAction:  "review.rejected",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBackends()
			b.risk = 0.8
			env := newEnv(t, b, nil)
			signalLater(env, time.Hour, tt.signal)

			st := runCopilot(t, env, testInput())

			if st.GetDecision() != tt.wantOutcome || st.GetStage() != tt.wantStage || st.GetReviewer() != "ana" {
				t.Errorf("final status: decision %q stage %q reviewer %q, want %q %q ana",
					st.GetDecision(), st.GetStage(), st.GetReviewer(), tt.wantOutcome, tt.wantStage)
			}
			if !st.GetNeedsReview() || !strings.Contains(st.GetReviewReason(), "risk 0.800 reaches threshold 0.500") {
				t.Errorf("needs_review %v reason %q, want true with the risk", st.GetNeedsReview(), st.GetReviewReason())
			}

			out := b.outbound()
			switch {
			case tt.wantBody == "" && len(out) != 0:
				t.Errorf("published %d replies, want none", len(out))
			case tt.wantBody != "" && len(out) != 1:
				t.Fatalf("published %d replies, want 1", len(out))
			case tt.wantBody != "":
				if out[0].GetBody() != tt.wantBody || out[0].GetDecision() != tt.wantOutcome || out[0].GetReviewer() != "ana" {
					t.Errorf("reply body %q decision %q reviewer %q, want %q %q ana",
						out[0].GetBody(), out[0].GetDecision(), out[0].GetReviewer(), tt.wantBody, tt.wantOutcome)
				}
			}

			actions := b.auditActions()
			if !hasAction(actions, "review.requested") || !hasAction(actions, tt.wantAction) {
				t.Errorf("audit actions %v lack review.requested or %s", actions, tt.wantAction)
			}
			for _, ev := range b.audits() {
				if ev.GetAction() == tt.wantAction && ev.GetActor() != "user:ana" {
					t.Errorf("%s actor = %q, want user:ana", tt.wantAction, ev.GetActor())
				}
			}
		})
	}
}

func TestEarlySignalIsNotLost(t *testing.T) {
	tests := []struct {
		name        string
		risk        float64
		signal      *keelv1.ReviewDecision
		wantOutcome string
		wantReplies int
	}{
		{
			name:        "approve before the draft exists ends the review",
			risk:        0.9,
			signal:      &keelv1.ReviewDecision{Decision: DecisionApprove, Reviewer: "ana"},
			wantOutcome: OutcomeApproved,
			wantReplies: 1,
		},
		{
			name:        "reject is honoured when no review is needed",
			risk:        0.1,
			signal:      &keelv1.ReviewDecision{Decision: DecisionReject, Reviewer: "ana"},
			wantOutcome: OutcomeRejected,
			wantReplies: 0,
		},
		{
			name:        "approve is recorded as the reviewer's when no review is needed",
			risk:        0.1,
			signal:      &keelv1.ReviewDecision{Decision: DecisionApprove, Reviewer: "ana"},
			wantOutcome: OutcomeApproved,
			wantReplies: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBackends()
			b.risk = tt.risk
			env := newEnv(t, b, nil)
			// Retrieval takes ten minutes; the signal comes at the start.
			env.OnActivity(acts.Retrieve, mock.Anything, mock.Anything).
				After(10*time.Minute).
				Return(&keelv1.SearchResponse{Passages: b.passages}, nil)
			signalLater(env, 0, tt.signal)
			start := env.Now()

			st := runCopilot(t, env, testInput())

			if st.GetDecision() != tt.wantOutcome || st.GetReviewer() != "ana" || st.GetEscalated() {
				t.Errorf("final status: decision %q reviewer %q escalated %v, want %q ana false",
					st.GetDecision(), st.GetReviewer(), st.GetEscalated(), tt.wantOutcome)
			}
			if got := len(b.outbound()); got != tt.wantReplies {
				t.Errorf("published %d replies, want %d", got, tt.wantReplies)
			}
			if elapsed := env.Now().Sub(start); elapsed >= DefaultReviewTimeout {
				t.Errorf("run took %v of workflow time, want less than the review timeout", elapsed)
			}
		})
	}
}

func TestReviewExpiresAfterEscalation(t *testing.T) {
	b := newBackends()
	b.risk = 0.7
	env := newEnv(t, b, nil)
	in := testInput()
	in.Policy = Policy{ReviewTimeout: 2 * time.Hour, EscalationTimeout: 3 * time.Hour}

	var atReview, atEscalation *keelv1.CopilotStatus
	env.RegisterDelayedCallback(func() { atReview = queryStatus(t, env) }, time.Hour)
	env.RegisterDelayedCallback(func() { atEscalation = queryStatus(t, env) }, 3*time.Hour)
	start := env.Now()

	st := runCopilot(t, env, in)

	if atReview.GetStage() != StageAwaitingReview || atReview.GetEscalated() {
		t.Errorf("after 1h: stage %q escalated %v, want awaiting_review false", atReview.GetStage(), atReview.GetEscalated())
	}
	if got, want := atReview.GetReviewDeadline().AsTime(), start.Add(2*time.Hour); !got.Equal(want) {
		t.Errorf("review deadline = %v, want %v", got, want)
	}
	if atEscalation.GetStage() != StageEscalated || !atEscalation.GetEscalated() {
		t.Errorf("after 3h: stage %q escalated %v, want escalated true", atEscalation.GetStage(), atEscalation.GetEscalated())
	}
	if got, want := atEscalation.GetReviewDeadline().AsTime(), start.Add(5*time.Hour); !got.Equal(want) {
		t.Errorf("escalation deadline = %v, want %v", got, want)
	}

	if st.GetStage() != StageRejected || st.GetDecision() != OutcomeRejected ||
		!st.GetEscalated() || st.GetReviewReason() != ReasonReviewExpired {
		t.Errorf("final status: stage %q decision %q escalated %v reason %q, want rejected rejected true %q",
			st.GetStage(), st.GetDecision(), st.GetEscalated(), st.GetReviewReason(), ReasonReviewExpired)
	}
	if got := len(b.outbound()); got != 0 {
		t.Errorf("published %d replies, want none", got)
	}
	wantTail := []string{"review.requested", "review.escalated", "review.rejected"}
	actions := b.auditActions()
	if len(actions) < 3 || !cmp.Equal(actions[len(actions)-3:], wantTail) {
		t.Errorf("audit actions = %v, want them to end with %v", actions, wantTail)
	}
}

func TestStatusAtAwaitingReview(t *testing.T) {
	b := newBackends()
	b.risk = 0.65
	b.findings = []*keelv1.Finding{{Category: "risky_promise", Reason: "promises a refund", Weight: 0.65}}
	env := newEnv(t, b, nil)

	var got *keelv1.CopilotStatus
	env.RegisterDelayedCallback(func() {
		got = queryStatus(t, env)
		env.SignalWorkflow(temporalx.ReviewSignal, &keelv1.ReviewDecision{Decision: DecisionApprove, Reviewer: "ana"})
	}, time.Hour)

	runCopilot(t, env, testInput())

	want := &keelv1.CopilotStatus{
		WorkflowId:   testWorkflowID,
		EventId:      "evt-1",
		TenantId:     "acme",
		Stage:        StageAwaitingReview,
		Subject:      "Where is my order ORD-10421?",
		Message:      testInput().Body,
		Passages:     b.passages,
		Draft:        "Hello <NAME_1>, your order is on its way.",
		Citations:    []string{"kb-1#0"},
		Confidence:   0.9,
		RiskScore:    0.65,
		Findings:     b.findings,
		NeedsReview:  true,
		ReviewReason: "risk 0.650 reaches threshold 0.500",
	}
	got.ReviewDeadline = nil
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("status at review (-want +got):\n%s", diff)
	}
}

func TestStatusQueryAnswersFromTheStart(t *testing.T) {
	b := newBackends()
	env := newEnv(t, b, nil)
	env.OnActivity(acts.Retrieve, mock.Anything, mock.Anything).
		After(time.Minute).
		Return(&keelv1.SearchResponse{Passages: b.passages}, nil)

	var got *keelv1.CopilotStatus
	env.RegisterDelayedCallback(func() { got = queryStatus(t, env) }, time.Second)

	runCopilot(t, env, testInput())

	if got.GetStage() != StageRetrieving || got.GetMessage() != testInput().Body || got.GetDraft() != "" {
		t.Errorf("status while retrieving: stage %q message %q draft %q", got.GetStage(), got.GetMessage(), got.GetDraft())
	}
}

func TestInvalidSignalsAreIgnored(t *testing.T) {
	b := newBackends()
	b.risk = 0.9
	env := newEnv(t, b, nil)
	signalLater(env, time.Hour, &keelv1.ReviewDecision{Decision: "maybe", Reviewer: "ana"})
	signalLater(env, 2*time.Hour, &keelv1.ReviewDecision{Decision: DecisionEdit, Reviewer: "ana"})
	signalLater(env, 3*time.Hour, &keelv1.ReviewDecision{Decision: DecisionApprove})
	signalLater(env, 4*time.Hour, &keelv1.ReviewDecision{Decision: DecisionApprove, Reviewer: "bo"})

	st := runCopilot(t, env, testInput())

	if st.GetDecision() != OutcomeApproved || st.GetReviewer() != "bo" {
		t.Errorf("decision %q by %q, want approved by bo", st.GetDecision(), st.GetReviewer())
	}
	var reasons []string
	for _, ev := range b.audits() {
		if ev.GetAction() == "review.invalid" {
			reasons = append(reasons, ev.GetAttributes()["reason"])
		}
	}
	want := []string{
		`invalid review decision: unknown decision "maybe"`,
		"invalid review decision: edit without edited_text",
		"invalid review decision: no reviewer",
	}
	if diff := cmp.Diff(want, reasons); diff != "" {
		t.Errorf("review.invalid reasons (-want +got):\n%s", diff)
	}
}

func TestReviewPolicy(t *testing.T) {
	tests := []struct {
		name       string
		risk       float64
		findings   []string
		confidence float64
		policy     Policy
		noPassages bool
		wantReview bool
		wantReason string
	}{
		{name: "low risk", risk: 0.2, wantReview: false},
		{name: "risk at threshold", risk: 0.5, wantReview: true, wantReason: "risk 0.500 reaches threshold 0.500"},
		{name: "tenant threshold", risk: 0.3, policy: Policy{RiskThreshold: 0.25}, wantReview: true,
			wantReason: "risk 0.300 reaches threshold 0.250"},
		{name: "always review", risk: 0.1, policy: Policy{AlwaysReview: true}, wantReview: true,
			wantReason: "tenant reviews every reply"},
		{name: "no passages", risk: 0.1, noPassages: true, wantReview: true, wantReason: "no grounding passages"},
		{name: "legal threat below threshold", risk: 0.4, findings: []string{"legal", "ungrounded"}, wantReview: true,
			wantReason: "findings that always need review: legal"},
		{name: "ungrounded only below threshold", risk: 0.35, findings: []string{"ungrounded"}, wantReview: false},
		{name: "tenant turns categories off", risk: 0.4, findings: []string{"legal"},
			policy: Policy{ReviewCategories: []string{}}, wantReview: false},
		{name: "low confidence", risk: 0.1, confidence: 0.1, wantReview: true,
			wantReason: "model confidence 0.100 below 0.300"},
		{name: "confidence check off", risk: 0.1, confidence: 0.1, policy: Policy{MinConfidence: -1}, wantReview: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBackends()
			b.risk = tt.risk
			for _, c := range tt.findings {
				b.findings = append(b.findings, &keelv1.Finding{Category: c, Reason: c, Weight: 0.2})
			}
			if tt.confidence > 0 {
				generate := b.generate
				b.generate = func(round int, req *keelv1.GenerateRequest) (*keelv1.GenerateResponse, error) {
					res, err := generate(round, req)
					if res != nil {
						res.Confidence = tt.confidence
					}
					return res, err
				}
			}
			if tt.noPassages {
				b.passages = nil
			}
			env := newEnv(t, b, nil)
			signalLater(env, time.Hour, &keelv1.ReviewDecision{Decision: DecisionApprove, Reviewer: "ana"})
			in := testInput()
			in.Policy = tt.policy

			st := runCopilot(t, env, in)

			if st.GetNeedsReview() != tt.wantReview || st.GetReviewReason() != tt.wantReason {
				t.Errorf("needs_review %v reason %q, want %v %q",
					st.GetNeedsReview(), st.GetReviewReason(), tt.wantReview, tt.wantReason)
			}
		})
	}
}

func TestBackendFailuresGoToReview(t *testing.T) {
	unavailable := status.Error(codes.InvalidArgument, "bad request")
	tests := []struct {
		name       string
		break_     func(b *backends)
		wantReason string
	}{
		{
			name:       "retrieval fails",
			break_:     func(b *backends) { b.searchErr = unavailable },
			wantReason: "no grounding passages",
		},
		{
			name: "drafting fails",
			break_: func(b *backends) {
				b.generate = func(int, *keelv1.GenerateRequest) (*keelv1.GenerateResponse, error) {
					return nil, unavailable
				}
			},
			wantReason: "drafting failed",
		},
		{
			name:       "evaluation fails",
			break_:     func(b *backends) { b.evaluateErr = unavailable },
			wantReason: "evaluation failed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBackends()
			tt.break_(b)
			env := newEnv(t, b, nil)
			signalLater(env, time.Hour, &keelv1.ReviewDecision{
				Decision: DecisionEdit, Reviewer: "ana", EditedText: "We are looking into it, <NAME_1>.",
			})

			st := runCopilot(t, env, testInput())

			if !st.GetNeedsReview() || st.GetReviewReason() != tt.wantReason {
				t.Errorf("needs_review %v reason %q, want true %q", st.GetNeedsReview(), st.GetReviewReason(), tt.wantReason)
			}
			out := b.outbound()
			if len(out) != 1 || out[0].GetBody() != "We are looking into it, Margaret." {
				t.Errorf("replies = %v, want the edited text", out)
			}
		})
	}
}

func TestToolLoopLooksUpOrderOnce(t *testing.T) {
	b := newBackends()
	b.generate = func(n int, req *keelv1.GenerateRequest) (*keelv1.GenerateResponse, error) {
		if n == 0 {
			return &keelv1.GenerateResponse{
				ToolCalls: []*keelv1.ToolCall{{
					Id: "call-1", Name: ToolLookupOrder, ArgumentsJson: `{"order_id":"ORD-10421"}`,
				}},
				FinishReason: "tool_calls",
			}, nil
		}
		return &keelv1.GenerateResponse{Text: "It ships with UPS.", FinishReason: "stop"}, nil
	}
	orders := &countingOrders{OrderBook: demoOrders(t)}
	env := newEnv(t, b, orders)

	st := runCopilot(t, env, testInput())

	if diff := cmp.Diff([]string{"ORD-10421"}, orders.orders); diff != "" {
		t.Errorf("order lookups (-want +got):\n%s", diff)
	}
	if len(b.generates) != 2 {
		t.Fatalf("generate calls = %d, want 2", len(b.generates))
	}
	msgs := b.generates[1].GetMessages()
	if len(msgs) != 3 || msgs[1].GetRole() != "assistant" || len(msgs[1].GetToolCalls()) != 1 ||
		msgs[2].GetRole() != "tool" || msgs[2].GetToolCallId() != "call-1" {
		t.Fatalf("second request messages = %v, want user, assistant with the call, tool answer", msgs)
	}
	answer := msgs[2].GetContent()
	if !strings.Contains(answer, `"status":"shipped"`) || strings.Contains(answer, "@") {
		t.Errorf("tool answer = %s, want the order status and no email address", answer)
	}
	if st.GetDraft() != "It ships with UPS." || len(st.GetToolResults()) != 1 || st.GetToolResults()[0].GetError() != "" {
		t.Errorf("draft %q tool results %v", st.GetDraft(), st.GetToolResults())
	}
	if !hasAction(b.auditActions(), "tool.called") {
		t.Errorf("audit actions %v lack tool.called", b.auditActions())
	}
}

func TestToolLoopIsBounded(t *testing.T) {
	b := newBackends()
	b.generate = func(n int, req *keelv1.GenerateRequest) (*keelv1.GenerateResponse, error) {
		if len(req.GetTools()) == 0 {
			return &keelv1.GenerateResponse{Text: "Final answer."}, nil
		}
		return &keelv1.GenerateResponse{ToolCalls: []*keelv1.ToolCall{{
			Id: "c", Name: ToolAccountStatus, ArgumentsJson: "{}",
		}}}, nil
	}
	env := newEnv(t, b, demoOrders(t))

	st := runCopilot(t, env, testInput())

	if got := len(b.generates); got != maxToolRounds+1 {
		t.Errorf("generate calls = %d, want %d", got, maxToolRounds+1)
	}
	if st.GetDraft() != "Final answer." || len(st.GetToolResults()) != maxToolRounds {
		t.Errorf("draft %q with %d tool results, want the final answer after %d", st.GetDraft(),
			len(st.GetToolResults()), maxToolRounds)
	}
}

func TestToolFailureIsReportedToTheModel(t *testing.T) {
	b := newBackends()
	b.generate = func(n int, req *keelv1.GenerateRequest) (*keelv1.GenerateResponse, error) {
		if n == 0 {
			return &keelv1.GenerateResponse{ToolCalls: []*keelv1.ToolCall{{
				Id: "c1", Name: ToolLookupOrder, ArgumentsJson: `{"order_id":"ORD-10421"}`,
			}}}, nil
		}
		return &keelv1.GenerateResponse{Text: "Let me check and get back to you."}, nil
	}
	env := newEnv(t, b, nil)
	env.OnActivity(acts.CallTool, mock.Anything, mock.Anything).
		Return(nil, temporal.NewNonRetryableApplicationError("order system down", "Down", nil))

	st := runCopilot(t, env, testInput())

	if got := st.GetToolResults(); len(got) != 1 || got[0].GetError() != "tool unavailable" {
		t.Errorf("tool results = %v, want one with error tool unavailable", got)
	}
	if got := b.generates[1].GetMessages()[2].GetContent(); got != `{"error":"tool unavailable"}` {
		t.Errorf("tool message = %s", got)
	}
}

func TestInvalidInputFailsTheRun(t *testing.T) {
	b := newBackends()
	env := newEnv(t, b, nil)
	in := testInput()
	in.VaultRef = ""

	env.ExecuteWorkflow(temporalx.CopilotWorkflow, in)

	err := env.GetWorkflowError()
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != "InvalidInput" || !appErr.NonRetryable() {
		t.Fatalf("workflow error = %v, want a non-retryable InvalidInput", err)
	}
	if len(b.published) != 0 {
		t.Errorf("published %d messages for an invalid input, want none", len(b.published))
	}
}

func TestAuditIDsAreStable(t *testing.T) {
	first, second := newBackends(), newBackends()
	runCopilot(t, newEnv(t, first, nil), testInput())
	runCopilot(t, newEnv(t, second, nil), testInput())

	var a, b []string
	for _, ev := range first.audits() {
		a = append(a, ev.GetId())
	}
	for _, ev := range second.audits() {
		b = append(b, ev.GetId())
	}
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("audit ids differ between two runs of one workflow id (-first +second):\n%s", diff)
	}
	seen := map[string]bool{}
	for _, id := range a {
		if seen[id] {
			t.Errorf("audit id %s used twice in one run", id)
		}
		seen[id] = true
	}
}

// updateResult records how a review update ended.
type updateResult struct {
	rejected error
	err      error
	result   string
	done     bool
}

// updateLater sends a review update after the given time and records the
// outcome in res.
func updateLater(env *testsuite.TestWorkflowEnvironment, after time.Duration, id string, d *keelv1.ReviewDecision, res *updateResult) {
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(temporalx.ReviewUpdate, id, &testsuite.TestUpdateCallback{
			OnAccept: func() {},
			OnReject: func(err error) { res.rejected, res.done = err, true },
			OnComplete: func(v any, err error) {
				res.err, res.done = err, true
				if s, ok := v.(string); ok {
					res.result = s
				}
			},
		}, d)
	}, after)
}

func TestReviewUpdateTakesOneDecision(t *testing.T) {
	b := newBackends()
	b.risk = 0.8
	env := newEnv(t, b, nil)
	var first, second, invalid updateResult
	updateLater(env, time.Minute, "u-invalid", &keelv1.ReviewDecision{Decision: "maybe", Reviewer: "ana"}, &invalid)
	updateLater(env, time.Hour, "u-approve", &keelv1.ReviewDecision{Decision: DecisionApprove, Reviewer: "ana"}, &first)
	// A second reviewer decides at the same moment, before the first
	// decision has been applied.
	updateLater(env, time.Hour, "u-reject", &keelv1.ReviewDecision{Decision: DecisionReject, Reviewer: "bo"}, &second)

	st := runCopilot(t, env, testInput())

	if !invalid.done || invalid.rejected == nil || !strings.Contains(invalid.rejected.Error(), "unknown decision") {
		t.Errorf("invalid update: done %v rejected %v, want a rejection naming the decision", invalid.done, invalid.rejected)
	}
	if !first.done || first.rejected != nil || first.err != nil || first.result != DecisionApprove {
		t.Errorf("first update = %+v, want accepted and completed", first)
	}
	if !second.done || second.rejected == nil || !strings.Contains(second.rejected.Error(), "already decided") {
		t.Errorf("second update = %+v, want it refused as already decided", second)
	}
	if st.GetDecision() != OutcomeApproved || st.GetReviewer() != "ana" || len(b.outbound()) != 1 {
		t.Errorf("final decision %q by %q with %d replies, want approved by ana and one reply",
			st.GetDecision(), st.GetReviewer(), len(b.outbound()))
	}
}

func TestModelSeesTheCustomerNamePlaceholder(t *testing.T) {
	b := newBackends()
	env := newEnv(t, b, nil)
	in := testInput()
	in.CustomerName = "<NAME_1>"

	runCopilot(t, env, in)

	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.generates) == 0 {
		t.Fatal("the router was not called")
	}
	msgs := b.generates[0].GetMessages()
	user := msgs[len(msgs)-1].GetContent()
	if !strings.HasPrefix(user, "From: <NAME_1>\nSubject: Where is my order ORD-10421?") {
		t.Fatalf("user message = %q, want it to start with the sender's placeholder and the subject", user)
	}
	if got := b.generates[0].GetSubject(); got != testWorkflowID {
		t.Errorf("generate subject = %q, want the workflow id %q", got, testWorkflowID)
	}
}
