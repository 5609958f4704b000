package httpapi_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.temporal.io/api/serviceerror"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/keelhq/keel/pkg/auth"
	"github.com/keelhq/keel/pkg/temporalx"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/gateway/internal/temporalfake"
)

type reviewEntry struct {
	EventID        string     `json:"event_id"`
	WorkflowID     string     `json:"workflow_id"`
	Subject        string     `json:"subject"`
	Stage          string     `json:"stage"`
	RiskScore      float64    `json:"risk_score"`
	ReviewReason   string     `json:"review_reason"`
	ReviewDeadline *time.Time `json:"review_deadline"`
}

type reviewList struct {
	Reviews []reviewEntry `json:"reviews"`
}

type decisionResponse struct {
	WorkflowID string `json:"workflow_id"`
	Decision   string `json:"decision"`
}

func copilotStatus(tenantID, eventID, stage string) *keelv1.CopilotStatus {
	return &keelv1.CopilotStatus{
		WorkflowId: "copilot/" + tenantID + "/" + eventID,
		EventId:    eventID,
		TenantId:   tenantID,
		Stage:      stage,
		Subject:    "Subject of " + eventID,
		RiskScore:  0.5,
	}
}

// addRuns gives acme four running copilot runs and a finished one, and
// globex one waiting for review.
func addRuns(c *temporalfake.Client) {
	waiting := copilotStatus("acme", "e1", "awaiting_review")
	waiting.RiskScore = 0.82
	waiting.ReviewReason = "risk above threshold"
	waiting.ReviewDeadline = timestamppb.New(testNow().Add(4 * time.Hour))
	c.AddRun("copilot/acme/e1", waiting)
	c.AddRun("copilot/acme/e2", copilotStatus("acme", "e2", "drafting"))
	c.AddRun("copilot/globex/g1", copilotStatus("globex", "g1", "awaiting_review"))
	c.AddRun("copilot/acme/e3", copilotStatus("acme", "e3", "escalated"))
	c.AddRun("copilot/acme/e4", copilotStatus("acme", "e4", "evaluating"))
	c.AddClosedRun("copilot/acme/done", copilotStatus("acme", "done", "completed"))
}

func TestListReviews(t *testing.T) {
	t.Parallel()
	deadline := testNow().Add(4 * time.Hour)

	tests := []struct {
		name  string
		query string
		want  []string
	}{
		{name: "waiting for review", query: "", want: []string{"e1", "e3"}},
		{name: "all running", query: "?stage=all", want: []string{"e1", "e2", "e3", "e4"}},
		{name: "one stage", query: "?stage=drafting", want: []string{"e2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newTestEnv(t)
			addRuns(env.temporal)

			rec := env.do(t, http.MethodGet, "/v1/reviews"+tt.query, token(t, "acme", "ana", auth.ScopeReviewsRead), "")

			got := decodeJSON[reviewList](t, rec, http.StatusOK)
			var ids []string
			for _, r := range got.Reviews {
				ids = append(ids, r.EventID)
				if r.WorkflowID != "copilot/acme/"+r.EventID {
					t.Errorf("review %s has workflow id %q", r.EventID, r.WorkflowID)
				}
			}
			if diff := cmp.Diff(tt.want, ids); diff != "" {
				t.Errorf("listed events (-want +got):\n%s", diff)
			}
			for _, id := range env.temporal.Queried() {
				if !strings.HasPrefix(id, "copilot/acme/") {
					t.Errorf("queried %q, another tenant's run", id)
				}
			}
			wantQuery := "WorkflowType = 'SupportCopilot' AND ExecutionStatus = 'Running'"
			if q := env.temporal.ListQueries(); len(q) < 3 || q[0] != wantQuery {
				t.Errorf("list queries = %q, want %q on every one of at least 3 pages", q, wantQuery)
			}
		})
	}

	t.Run("fields", func(t *testing.T) {
		t.Parallel()
		env := newTestEnv(t)
		addRuns(env.temporal)

		got := decodeJSON[reviewList](t,
			env.do(t, http.MethodGet, "/v1/reviews", token(t, "acme", "ana", auth.ScopeReviewsRead), ""),
			http.StatusOK)

		want := reviewEntry{
			EventID:        "e1",
			WorkflowID:     "copilot/acme/e1",
			Subject:        "Subject of e1",
			Stage:          "awaiting_review",
			RiskScore:      0.82,
			ReviewReason:   "risk above threshold",
			ReviewDeadline: &deadline,
		}
		if len(got.Reviews) == 0 {
			t.Fatal("no reviews listed")
		}
		if diff := cmp.Diff(want, got.Reviews[0]); diff != "" {
			t.Errorf("first review (-want +got):\n%s", diff)
		}
	})
}

func TestListReviewsEmptyIsArray(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	addRuns(env.temporal)

	rec := env.do(t, http.MethodGet, "/v1/reviews", token(t, "initech", "bo", auth.ScopeReviewsRead), "")

	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"reviews":[]}` {
		t.Errorf("got %d %s, want 200 {\"reviews\":[]}", rec.Code, rec.Body)
	}
	if q := env.temporal.Queried(); len(q) != 0 {
		t.Errorf("queried %v for a tenant without runs", q)
	}
}

func TestListReviewsRefusesUnknownStage(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)

	rec := env.do(t, http.MethodGet, "/v1/reviews?stage=lunch", token(t, "acme", "ana", auth.ScopeReviewsRead), "")

	decodeProblem(t, rec, http.StatusBadRequest)
}

func TestGetReviewReturnsStatus(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	addRuns(env.temporal)

	rec := env.do(t, http.MethodGet, "/v1/reviews/e1", token(t, "acme", "ana", auth.ScopeReviewsRead), "")

	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d; body %s", rec.Code, rec.Body)
	}
	var fields map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &fields); err != nil {
		t.Fatalf("decode: %v", err)
	}
	for _, name := range []string{"workflow_id", "event_id", "risk_score", "review_deadline", "review_reason"} {
		if _, ok := fields[name]; !ok {
			t.Errorf("field %q missing from %s", name, rec.Body)
		}
	}
	if _, ok := fields["draft"]; ok {
		t.Errorf("unpopulated field draft is present in %s", rec.Body)
	}

	var got keelv1.CopilotStatus
	if err := protojson.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("protojson: %v", err)
	}
	if got.GetStage() != "awaiting_review" || got.GetRiskScore() != 0.82 {
		t.Errorf("status = %v, want stage awaiting_review and risk 0.82", &got)
	}
}

func TestGetReviewOfAnotherTenantIsNotFound(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	addRuns(env.temporal)

	// globex asks for acme's event e1.
	rec := env.do(t, http.MethodGet, "/v1/reviews/e1", token(t, "globex", "gus", auth.ScopeReviewsRead), "")

	decodeProblem(t, rec, http.StatusNotFound)
	if diff := cmp.Diff([]string{"copilot/globex/e1"}, env.temporal.Queried()); diff != "" {
		t.Errorf("queried workflows (-want +got):\n%s", diff)
	}
}

func TestReviewEndpointsValidateEventID(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		method string
		path   string
	}{
		{name: "escaped slash", method: http.MethodGet, path: "/v1/reviews/a%2Fb"},
		{name: "too long", method: http.MethodGet, path: "/v1/reviews/" + strings.Repeat("x", 201)},
		{name: "control character", method: http.MethodGet, path: "/v1/reviews/a%0Ab"},
		{name: "escaped slash on approve", method: http.MethodPost, path: "/v1/reviews/..%2Fglobex%2Fg1/approve"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newTestEnv(t)
			addRuns(env.temporal)
			tok := token(t, "acme", "ana", auth.ScopeReviewsRead, auth.ScopeReviewsWrite)

			decodeProblem(t, env.do(t, tt.method, tt.path, tok, ""), http.StatusBadRequest)

			if len(env.temporal.Queried()) != 0 || len(env.temporal.Signals()) != 0 {
				t.Error("temporal was called for an invalid event id")
			}
		})
	}
}

func TestApproveSignalsDecisionOfTokenSubject(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	addRuns(env.temporal)
	tok := token(t, "acme", "ana", auth.ScopeReviewsWrite)

	rec := env.do(t, http.MethodPost, "/v1/reviews/e1/approve", tok, `{"note":"looks right"}`)

	got := decodeJSON[decisionResponse](t, rec, http.StatusAccepted)
	if diff := cmp.Diff(decisionResponse{WorkflowID: "copilot/acme/e1", Decision: "approve"}, got); diff != "" {
		t.Errorf("response (-want +got):\n%s", diff)
	}
	want := []temporalfake.Signal{{
		WorkflowID: "copilot/acme/e1",
		Name:       temporalx.ReviewUpdate,
		Decision:   &keelv1.ReviewDecision{Decision: "approve", Reviewer: "ana", Note: "looks right"},
	}}
	if diff := cmp.Diff(want, env.temporal.Signals(), protocmp.Transform()); diff != "" {
		t.Errorf("signals (-want +got):\n%s", diff)
	}

	wantAudit := []*keelv1.AuditEvent{{
		TenantId:   "acme",
		Actor:      "user:ana",
		Action:     "review.submitted",
		Subject:    "copilot/acme/e1",
		OccurredAt: timestamppb.New(testNow()),
		Attributes: map[string]string{"decision": "approve"},
	}}
	if diff := cmp.Diff(wantAudit, env.auditor.Events(), protocmp.Transform()); diff != "" {
		t.Errorf("audit events (-want +got):\n%s", diff)
	}
}

func TestDecisions(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		path   string
		body   string
		status int
		// signal is the decision sent; nil when none may be sent.
		signal *keelv1.ReviewDecision
	}{
		{
			name:   "approve without body",
			path:   "/v1/reviews/e1/approve",
			status: http.StatusAccepted,
			signal: &keelv1.ReviewDecision{Decision: "approve", Reviewer: "ana"},
		},
		{
			name:   "edit",
			path:   "/v1/reviews/e3/edit",
			body:   `{"text":"Your order ships today.","note":"softer tone"}`,
			status: http.StatusAccepted,
			signal: &keelv1.ReviewDecision{
				Decision: "edit", Reviewer: "ana", EditedText: "Your order ships today.", Note: "softer tone",
			},
		},
		{
			name:   "reject",
			path:   "/v1/reviews/e1/reject",
			body:   `{"note":"wrong customer"}`,
			status: http.StatusAccepted,
			signal: &keelv1.ReviewDecision{Decision: "reject", Reviewer: "ana", Note: "wrong customer"},
		},
		{name: "edit without text", path: "/v1/reviews/e1/edit", status: http.StatusBadRequest},
		{name: "edit with blank text", path: "/v1/reviews/e1/edit", body: `{"text":"  "}`, status: http.StatusBadRequest},
		{
			name:   "edit with too long text",
			path:   "/v1/reviews/e1/edit",
			body:   `{"text":"` + strings.Repeat("a", 64<<10+1) + `"}`,
			status: http.StatusBadRequest,
		},
		{name: "approve with text", path: "/v1/reviews/e1/approve", body: `{"text":"x"}`, status: http.StatusBadRequest},
		{name: "unknown field", path: "/v1/reviews/e1/approve", body: `{"reviewer":"boss"}`, status: http.StatusBadRequest},
		{name: "finished run", path: "/v1/reviews/done/approve", status: http.StatusConflict},
		{name: "unknown event", path: "/v1/reviews/nope/reject", status: http.StatusNotFound},
		{name: "other tenant's event", path: "/v1/reviews/g1/approve", status: http.StatusNotFound},
		{name: "unknown decision", path: "/v1/reviews/e1/escalate", status: http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newTestEnv(t)
			addRuns(env.temporal)

			rec := env.do(t, http.MethodPost, tt.path, token(t, "acme", "ana", auth.ScopeReviewsWrite), tt.body)

			if tt.status != http.StatusAccepted {
				decodeProblem(t, rec, tt.status)
				if n := len(env.temporal.Signals()); n != 0 {
					t.Errorf("%d signals sent for a refused decision", n)
				}
				if n := len(env.auditor.Events()); n != 0 {
					t.Errorf("%d audit events for a refused decision", n)
				}
				return
			}
			decodeJSON[decisionResponse](t, rec, tt.status)
			signals := env.temporal.Signals()
			if len(signals) != 1 {
				t.Fatalf("got %d signals, want 1", len(signals))
			}
			if diff := cmp.Diff(tt.signal, signals[0].Decision, protocmp.Transform()); diff != "" {
				t.Errorf("decision (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFinishedRunIsReviewDecided(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	addRuns(env.temporal)

	rec := env.do(t, http.MethodPost, "/v1/reviews/done/approve", token(t, "acme", "ana", auth.ScopeReviewsWrite), "")

	p := decodeProblem(t, rec, http.StatusConflict)
	if p.Type != "urn:keel:problem:review-decided" || p.Title != "Review already decided" {
		t.Errorf("problem = %+v, want review-decided", p)
	}
	if !slices.Contains(env.temporal.Described(), "copilot/acme/done") {
		t.Errorf("described %v, want copilot/acme/done", env.temporal.Described())
	}
}

func TestSecondDecisionOnARunningReviewIsRefused(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	addRuns(env.temporal)
	tok := token(t, "acme", "ana", auth.ScopeReviewsWrite)

	first := env.do(t, http.MethodPost, "/v1/reviews/e1/approve", tok, "")
	decodeJSON[decisionResponse](t, first, http.StatusAccepted)
	second := env.do(t, http.MethodPost, "/v1/reviews/e1/reject", tok, "")

	p := decodeProblem(t, second, http.StatusConflict)
	if p.Type != "urn:keel:problem:review-decided" {
		t.Errorf("problem = %+v, want review-decided", p)
	}
	if got := env.temporal.Signals(); len(got) != 1 || got[0].Decision.GetDecision() != "approve" {
		t.Errorf("decisions taken = %v, want only the approval", got)
	}
}

func TestReviewWriteNeedsWriteScope(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	addRuns(env.temporal)

	rec := env.do(t, http.MethodPost, "/v1/reviews/e1/approve", token(t, "acme", "ana", auth.ScopeReviewsRead), "")

	decodeProblem(t, rec, http.StatusForbidden)
	if n := len(env.temporal.Signals()); n != 0 {
		t.Errorf("%d signals sent without reviews:write", n)
	}
}

func TestQueryFailureHidesDetail(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		err    error
		status int
	}{
		{name: "query failed", err: serviceerror.NewQueryFailed("panic: nil map in worker"), status: 500},
		{name: "unavailable", err: serviceerror.NewUnavailable("frontend down"), status: 503},
		{name: "deadline", err: serviceerror.NewDeadlineExceeded("no worker polled"), status: 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newTestEnv(t)
			addRuns(env.temporal)
			env.temporal.FailQueries(tt.err)
			tok := token(t, "acme", "ana", auth.ScopeReviewsRead)

			for _, path := range []string{"/v1/reviews/e1", "/v1/reviews"} {
				p := decodeProblem(t, env.do(t, http.MethodGet, path, tok, ""), tt.status)
				if strings.Contains(p.Detail, tt.err.Error()) {
					t.Errorf("%s: detail %q leaks the upstream message", path, p.Detail)
				}
			}
		})
	}
}
