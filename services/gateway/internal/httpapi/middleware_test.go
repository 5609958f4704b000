package httpapi_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/keelhq/keel/pkg/auth"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

// logRecords returns the JSON log records of env with message msg.
func logRecords(t *testing.T, env *testEnv, msg string) []map[string]any {
	t.Helper()
	var records []map[string]any
	sc := bufio.NewScanner(strings.NewReader(env.logs.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if rec["msg"] == msg {
			records = append(records, rec)
		}
	}
	return records
}

func TestRequestLogNamesRouteStatusAndTenant(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.temporal.AddRun("copilot/acme/e1", &keelv1.CopilotStatus{Stage: "awaiting_review"})

	env.do(t, http.MethodGet, "/v1/reviews/e1", token(t, "acme", "ana", auth.ScopeReviewsRead), "")

	records := logRecords(t, env, "http request")
	if len(records) != 1 {
		t.Fatalf("got %d request records, want 1: %s", len(records), env.logs)
	}
	rec := records[0]
	want := map[string]any{
		"method": "GET",
		"route":  "GET /v1/reviews/{event_id}",
		"status": float64(200),
		"tenant": "acme",
	}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("log %s = %v, want %v", k, rec[k], v)
		}
	}
	if _, ok := rec["duration_ms"]; !ok {
		t.Error("log has no duration_ms")
	}
	if strings.Contains(env.logs.String(), "Bearer") {
		t.Error("the log holds the bearer token")
	}
}

func TestPanicBecomesProblem(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.ingest.panic = true

	rec := env.do(t, http.MethodPost, "/v1/emails", token(t, "acme", "ana", auth.ScopeEmailsWrite), validEmail)

	p := decodeProblem(t, rec, http.StatusInternalServerError)
	if strings.Contains(p.Detail, "exploded") {
		t.Errorf("detail %q leaks the panic", p.Detail)
	}
	if n := len(logRecords(t, env, "http handler panic")); n != 1 {
		t.Errorf("got %d panic records, want 1", n)
	}
	records := logRecords(t, env, "http request")
	if len(records) != 1 || records[0]["status"] != float64(500) || records[0]["level"] != "ERROR" {
		t.Errorf("request records = %v, want one ERROR with status 500", records)
	}
}

func TestUnmatchedRoutesAnswerWithProblems(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		method string
		path   string
		status int
		allow  string
	}{
		{name: "unknown path", method: http.MethodGet, path: "/v2/things", status: http.StatusNotFound},
		{name: "wrong method", method: http.MethodDelete, path: "/v1/emails", status: http.StatusMethodNotAllowed, allow: "POST"},
		{name: "unknown review path", method: http.MethodGet, path: "/v1/reviews/a/b/c", status: http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newTestEnv(t)

			rec := env.do(t, tt.method, tt.path, "", "")

			decodeProblem(t, rec, tt.status)
			if got := rec.Header().Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
		})
	}
}

// A path under /v1 that is none of Keel's is what an OpenAI client sends for
// an endpoint Keel does not serve: it is answered in OpenAI's format, which
// the SDKs read, rather than as a problem they show as "no body".
func TestUnknownOpenAIPath(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	for _, path := range []string{"/v1/embeddings", "/v1/completions", "/v1/models/openai/gpt-4o", "/v1"} {
		rec := env.do(t, http.MethodPost, path, "", `{}`)
		if rec.Code != http.StatusNotFound || rec.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("%s: %d %q", path, rec.Code, rec.Header().Get("Content-Type"))
		}
		var doc struct {
			Error struct {
				Message, Type, Code string
			}
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if doc.Error.Code != "unknown_url" || !strings.Contains(doc.Error.Message, path) {
			t.Errorf("%s: error %+v, want unknown_url naming the path", path, doc.Error)
		}
	}
}
