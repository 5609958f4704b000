package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/keelhq/keel/pkg/auth"
	"github.com/keelhq/keel/pkg/tenant"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/gateway/internal/httpapi"
	"github.com/keelhq/keel/services/gateway/internal/temporalfake"
)

// testKey signs the tokens of the tests.
const testKey = "gateway-test-key-0123456789abcdef"

// testNow is the fixed time the handler and the tokens agree on.
func testNow() time.Time { return time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC) }

// ingestCall is one Submit the fake ingest service received.
type ingestCall struct {
	tenant string
	req    *keelv1.SubmitRequest
}

// fakeIngest records Submit calls and answers with resp or err.
type fakeIngest struct {
	mu    sync.Mutex
	calls []ingestCall
	resp  *keelv1.SubmitResponse
	err   error
	panic bool
}

func (f *fakeIngest) Submit(
	ctx context.Context,
	in *keelv1.SubmitRequest,
	_ ...grpc.CallOption,
) (*keelv1.SubmitResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.panic {
		panic("ingest exploded")
	}
	t, _ := tenant.From(ctx)
	f.calls = append(f.calls, ingestCall{tenant: t, req: proto.Clone(in).(*keelv1.SubmitRequest)})
	if f.err != nil {
		return nil, f.err
	}
	if f.resp != nil {
		return f.resp, nil
	}
	return &keelv1.SubmitResponse{EventId: in.GetEvent().GetEventId()}, nil
}

func (f *fakeIngest) Calls() []ingestCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ingestCall(nil), f.calls...)
}

// fakeAuditor records audit events.
type fakeAuditor struct {
	mu     sync.Mutex
	events []*keelv1.AuditEvent
}

func (f *fakeAuditor) Audit(_ context.Context, ev *keelv1.AuditEvent) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, proto.Clone(ev).(*keelv1.AuditEvent))
	return nil
}

func (f *fakeAuditor) Events() []*keelv1.AuditEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*keelv1.AuditEvent(nil), f.events...)
}

// testEnv is a handler wired to fakes.
type testEnv struct {
	handler  http.Handler
	ingest   *fakeIngest
	temporal *temporalfake.Client
	auditor  *fakeAuditor
	logs     *syncBuffer
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newTestEnv(t testing.TB) *testEnv {
	t.Helper()
	env := &testEnv{
		ingest:   &fakeIngest{},
		temporal: temporalfake.New(),
		auditor:  &fakeAuditor{},
		logs:     &syncBuffer{},
	}
	h, err := httpapi.NewHandler(httpapi.Options{
		TokenKey: []byte(testKey),
		Ingest:   env.ingest,
		Temporal: env.temporal,
		Auditor:  env.auditor,
		Logger:   slog.New(slog.NewJSONHandler(env.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:      testNow,
	})
	if err != nil {
		t.Fatalf("new handler: %v", err)
	}
	env.handler = h
	return env
}

// token mints a token valid at testNow.
func token(t testing.TB, tenantID, subject string, scopes ...string) string {
	t.Helper()
	tok, err := auth.Mint([]byte(testKey), tenantID, subject, scopes, time.Hour, testNow())
	if err != nil {
		t.Fatalf("mint token: %v", err)
	}
	return tok
}

// newRequest builds a request with a bearer token (none when tok is empty)
// and a JSON body (none when body is empty).
func newRequest(t testing.TB, method, path, tok, body string) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return req
}

// serve runs req through the handler of e.
func serve(e *testEnv, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	return rec
}

// do sends a request built by newRequest.
func (e *testEnv) do(t testing.TB, method, path, tok, body string) *httptest.ResponseRecorder {
	t.Helper()
	return serve(e, newRequest(t, method, path, tok, body))
}

// problem is the problem document of an error response.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

// decodeProblem checks that rec is a problem response with status and
// returns its document.
func decodeProblem(t testing.TB, rec *httptest.ResponseRecorder, status int) problem {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json", ct)
	}
	var p problem
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("decode problem: %v", err)
	}
	if p.Status != status || p.Type == "" || p.Title == "" {
		t.Fatalf("problem %+v is incomplete for status %d", p, status)
	}
	return p
}

// decodeJSON decodes the JSON body of rec, which must have status.
func decodeJSON[T any](t testing.TB, rec *httptest.ResponseRecorder, status int) T {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q, want application/json", ct)
	}
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode body %s: %v", rec.Body, err)
	}
	return v
}
