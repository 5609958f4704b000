package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/keelhq/keel/pkg/auth"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

// checkFuzzResponse fails unless rec is a well-formed answer with one of the
// allowed statuses.
func checkFuzzResponse(t *testing.T, rec *httptest.ResponseRecorder, allowed ...int) {
	t.Helper()
	ok := false
	for _, s := range allowed {
		ok = ok || rec.Code == s
	}
	if !ok {
		t.Fatalf("status %d not in %v; body %s", rec.Code, allowed, rec.Body)
	}
	if rec.Code >= 400 {
		var p problem
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Status != rec.Code {
			t.Fatalf("error body %q is not a problem with status %d: %v", rec.Body, rec.Code, err)
		}
	}
}

func FuzzSubmitEmailBody(f *testing.F) {
	f.Add([]byte(validEmail))
	f.Add([]byte(`{"subject":"s","body":"b","from_email":"jo@example.com"}`))
	f.Add([]byte(`{"event_id":"a/b","subject":"s","body":"b","from_email":"jo@example.com"}`))
	f.Add([]byte(`{"subject":"\ud800","body":"\u0000","from_email":"a@b"}`))
	f.Add([]byte(`{"subject":null,"body":[],"from_email":{}}`))
	f.Add([]byte(`{"subject":"s"} trailing`))
	f.Add([]byte(`{"x":1}`))
	f.Add([]byte(`null`))
	f.Add([]byte(``))
	f.Add([]byte("\xff\xfe{"))

	tok := token(f, "acme", "ana", auth.ScopeEmailsWrite)
	f.Fuzz(func(t *testing.T, body []byte) {
		env := newTestEnv(t)
		req := httptest.NewRequest(http.MethodPost, "/v1/emails", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)

		rec := serve(env, req)

		checkFuzzResponse(t, rec, http.StatusAccepted, http.StatusBadRequest, http.StatusRequestEntityTooLarge)
	})
}

func FuzzReviewDecisionBody(f *testing.F) {
	f.Add("edit", []byte(`{"text":"new reply","note":"n"}`))
	f.Add("approve", []byte(``))
	f.Add("approve", []byte(`{"text":"x"}`))
	f.Add("reject", []byte(`{"note":7}`))
	f.Add("edit", []byte(`{"text":"\u0000\ud800"}`))
	f.Add("edit", []byte(`{}{}`))

	tok := token(f, "acme", "ana", auth.ScopeReviewsWrite)
	f.Fuzz(func(t *testing.T, decision string, body []byte) {
		env := newTestEnv(t)
		env.temporal.AddRun("copilot/acme/e1", &keelv1.CopilotStatus{Stage: "awaiting_review"})
		switch decision {
		case "approve", "edit", "reject":
		default:
			decision = "approve"
		}
		req := httptest.NewRequest(http.MethodPost, "/v1/reviews/e1/"+decision, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)

		rec := serve(env, req)

		checkFuzzResponse(t, rec, http.StatusAccepted, http.StatusBadRequest, http.StatusRequestEntityTooLarge)
	})
}
