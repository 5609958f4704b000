package httpapi_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/keelhq/keel/pkg/auth"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

type submitResponse struct {
	EventID    string `json:"event_id"`
	WorkflowID string `json:"workflow_id"`
	Duplicate  bool   `json:"duplicate"`
}

const validEmail = `{
	"event_id": "msg-1",
	"subject": "Where is my order?",
	"body": "Order 1234 has not arrived.",
	"from_email": "jo@example.com",
	"from_name": "Jo Doe",
	"account_id": "acct-9"
}`

func TestSubmitEmailForwardsToIngestUnderTokenTenant(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	tok := token(t, "acme", "ana", auth.ScopeEmailsWrite)

	rec := env.do(t, http.MethodPost, "/v1/emails", tok, validEmail)

	got := decodeJSON[submitResponse](t, rec, http.StatusAccepted)
	want := submitResponse{EventID: "msg-1", WorkflowID: "copilot/acme/msg-1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("response (-want +got):\n%s", diff)
	}
	if loc := rec.Header().Get("Location"); loc != "/v1/reviews/msg-1" {
		t.Errorf("Location = %q, want /v1/reviews/msg-1", loc)
	}

	calls := env.ingest.Calls()
	if len(calls) != 1 {
		t.Fatalf("ingest got %d calls, want 1", len(calls))
	}
	if calls[0].tenant != "acme" {
		t.Errorf("ingest call tenant = %q, want acme", calls[0].tenant)
	}
	wantEvent := &keelv1.IngestEvent{
		EventId: "msg-1",
		Kind:    "email",
		Source:  "gateway",
		Subject: "Where is my order?",
		Body:    "Order 1234 has not arrived.",
		Customer: &keelv1.Customer{
			Email:     "jo@example.com",
			Name:      "Jo Doe",
			AccountId: "acct-9",
		},
	}
	gotEvent := calls[0].req.GetEvent()
	if diff := cmp.Diff(wantEvent, gotEvent, protocmp.Transform(),
		protocmp.IgnoreFields(&keelv1.IngestEvent{}, "received_at")); diff != "" {
		t.Errorf("ingest event (-want +got):\n%s", diff)
	}
	if !gotEvent.GetReceivedAt().AsTime().Equal(testNow()) {
		t.Errorf("received_at = %v, want %v", gotEvent.GetReceivedAt().AsTime(), testNow())
	}

	audits := env.auditor.Events()
	if len(audits) != 1 || audits[0].GetAction() != "email.submitted" ||
		audits[0].GetActor() != "user:ana" || audits[0].GetTenantId() != "acme" {
		t.Errorf("audit events = %v, want one email.submitted by user:ana in acme", audits)
	}
}

func TestSubmitEmailDefaultEventIDDedupes(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	tok := token(t, "acme", "ana", auth.ScopeEmailsWrite)
	email := func(body string) string {
		return `{"subject":"Hi","body":"` + body + `","from_email":"jo@example.com","from_name":"Jo"}`
	}

	submit := func(body string) submitResponse {
		t.Helper()
		rec := env.do(t, http.MethodPost, "/v1/emails", tok, email(body))
		return decodeJSON[submitResponse](t, rec, http.StatusAccepted)
	}

	first, again, other := submit("one"), submit("one"), submit("two")

	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(first.EventID) {
		t.Errorf("default event id = %q, want 64 hex digits", first.EventID)
	}
	if again.EventID != first.EventID {
		t.Errorf("resubmission got event id %q, want %q", again.EventID, first.EventID)
	}
	if other.EventID == first.EventID {
		t.Errorf("a different body got the same event id %q", other.EventID)
	}
	if first.WorkflowID != "copilot/acme/"+first.EventID {
		t.Errorf("workflow id = %q, want copilot/acme/%s", first.WorkflowID, first.EventID)
	}
}

func TestSubmitEmailReportsDuplicate(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.ingest.resp = &keelv1.SubmitResponse{EventId: "msg-1", Duplicate: true}

	rec := env.do(t, http.MethodPost, "/v1/emails", token(t, "acme", "ana", auth.ScopeEmailsWrite), validEmail)

	if got := decodeJSON[submitResponse](t, rec, http.StatusAccepted); !got.Duplicate {
		t.Errorf("duplicate = false, want true")
	}
}

func TestSubmitEmailRefusesBadBodies(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name        string
		body        string
		contentType string
		status      int
		detail      string
	}{
		{
			name:   "unknown field",
			body:   `{"subject":"s","body":"b","from_email":"jo@example.com","priority":1}`,
			status: http.StatusBadRequest,
			detail: `unknown field "priority"`,
		},
		{
			name:   "tenant in body",
			body:   `{"tenant_id":"globex","subject":"s","body":"b","from_email":"jo@example.com"}`,
			status: http.StatusBadRequest,
			detail: `unknown field "tenant_id"`,
		},
		{
			name:   "too large",
			body:   `{"subject":"s","from_email":"jo@example.com","body":"` + strings.Repeat("a", 300<<10) + `"}`,
			status: http.StatusRequestEntityTooLarge,
			detail: "exceeds 262144 bytes",
		},
		{
			name:   "not json",
			body:   `subject=hi`,
			status: http.StatusBadRequest,
			detail: "not valid JSON",
		},
		{
			name:   "truncated",
			body:   `{"subject":"s"`,
			status: http.StatusBadRequest,
			detail: "ends inside",
		},
		{
			name:   "two objects",
			body:   `{"subject":"s","body":"b","from_email":"jo@example.com"}{}`,
			status: http.StatusBadRequest,
			detail: "single JSON object",
		},
		{
			name:   "array",
			body:   `[]`,
			status: http.StatusBadRequest,
			detail: "must be a JSON object",
		},
		{
			name:   "wrong type",
			body:   `{"subject":7,"body":"b","from_email":"jo@example.com"}`,
			status: http.StatusBadRequest,
			detail: `field "subject" must be a JSON string`,
		},
		{
			name:   "missing fields",
			body:   `{}`,
			status: http.StatusBadRequest,
			detail: "subject is required; body is required; from_email is required",
		},
		{
			name:   "bad address",
			body:   `{"subject":"s","body":"b","from_email":"Jo <jo@example.com>"}`,
			status: http.StatusBadRequest,
			detail: "from_email must be a bare email address",
		},
		{
			name:   "event id with slash",
			body:   `{"event_id":"a/b","subject":"s","body":"b","from_email":"jo@example.com"}`,
			status: http.StatusBadRequest,
			detail: "event_id must not contain '/'",
		},
		{
			name:   "event id too long",
			body:   `{"event_id":"` + strings.Repeat("x", 201) + `","subject":"s","body":"b","from_email":"jo@example.com"}`,
			status: http.StatusBadRequest,
			detail: "event_id must be at most 200 bytes",
		},
		{
			name:        "form content type",
			body:        validEmail,
			contentType: "application/x-www-form-urlencoded",
			status:      http.StatusUnsupportedMediaType,
			detail:      "application/json",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newTestEnv(t)
			req := newRequest(t, http.MethodPost, "/v1/emails", token(t, "acme", "ana", auth.ScopeEmailsWrite), tt.body)
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}

			p := decodeProblem(t, serve(env, req), tt.status)

			if !strings.Contains(p.Detail, tt.detail) {
				t.Errorf("detail = %q, want it to contain %q", p.Detail, tt.detail)
			}
			if calls := env.ingest.Calls(); len(calls) != 0 {
				t.Errorf("ingest was called %d times for a refused body", len(calls))
			}
		})
	}
}

func TestSubmitEmailMapsIngestErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name       string
		err        error
		status     int
		hideDetail bool
	}{
		{name: "invalid argument", err: status.Error(codes.InvalidArgument, "body is empty"), status: 400},
		{name: "unauthenticated", err: status.Error(codes.Unauthenticated, "no tenant"), status: 401},
		{name: "permission denied", err: status.Error(codes.PermissionDenied, "tenant disabled"), status: 403},
		{name: "not found", err: status.Error(codes.NotFound, "no such source"), status: 404},
		{name: "already exists", err: status.Error(codes.AlreadyExists, "event exists"), status: 409},
		{name: "resource exhausted", err: status.Error(codes.ResourceExhausted, "slow down"), status: 429},
		{name: "unavailable", err: status.Error(codes.Unavailable, "nats down at 10.0.0.3"), status: 503, hideDetail: true},
		{name: "deadline", err: status.Error(codes.DeadlineExceeded, "took too long at db.internal"), status: 503, hideDetail: true},
		{name: "internal", err: status.Error(codes.Internal, "pq: relation vault does not exist"), status: 500, hideDetail: true},
		{name: "unknown", err: status.Error(codes.Unknown, "secret stack trace"), status: 500, hideDetail: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newTestEnv(t)
			env.ingest.err = tt.err

			rec := env.do(t, http.MethodPost, "/v1/emails", token(t, "acme", "ana", auth.ScopeEmailsWrite), validEmail)

			p := decodeProblem(t, rec, tt.status)
			upstream := status.Convert(tt.err).Message()
			if tt.hideDetail && strings.Contains(p.Detail, upstream) {
				t.Errorf("detail %q leaks the upstream message", p.Detail)
			}
			if !tt.hideDetail && p.Detail != upstream {
				t.Errorf("detail = %q, want %q", p.Detail, upstream)
			}
			if n := len(env.auditor.Events()); n != 0 {
				t.Errorf("%d audit events for a refused email, want none", n)
			}
		})
	}
}
