package gemini

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keelhq/keel/services/router/internal/provider"
)

// testAPIKey is the key the fake server expects. It looks like a real
// Gemini key so that a leak into an error message is easy to spot.
const testAPIKey = "AIzaSyTEST-keel-0123456789abcdefghijk"

// fakeGemini speaks the Gemini API wire format on a loopback httptest
// server. Like the real service it serves POST
// /v1beta/models/{model}:generateContent and
// /v1beta/models/{model}:streamGenerateContent?alt=sse, authenticates the
// x-goog-api-key header and answers 400 INVALID_ARGUMENT for a request body
// the real API would refuse (roles other than user and model, parts with
// not exactly one kind of data, function arguments or responses that are
// not objects, function declarations beside responseMimeType
// application/json as Gemini 2.5 models refuse them). Past those checks it
// answers with the configured reply, written in pieces of chunkSize bytes
// with a flush after each, so that lines, JSON and multi-byte characters
// are split across TCP writes.
type fakeGemini struct {
	status    int
	header    http.Header
	body      []byte
	chunkSize int

	mu       sync.Mutex
	requests []recordedRequest
}

type recordedRequest struct {
	method   string
	path     string
	rawQuery string
	apiKey   string
	stream   bool
	model    string
	raw      []byte
	// body is the request body decoded without the package's own types,
	// so that tests check the JSON names the API defines.
	body map[string]any
}

func (f *fakeGemini) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	rec := recordedRequest{
		method:   r.Method,
		path:     r.URL.EscapedPath(),
		rawQuery: r.URL.RawQuery,
		apiKey:   r.Header.Get("x-goog-api-key"),
		raw:      raw,
	}
	_ = json.Unmarshal(raw, &rec.body)

	model, method, _ := strings.Cut(strings.TrimPrefix(rec.path, "/v1beta/models/"), ":")
	rec.model = model
	rec.stream = method == "streamGenerateContent"
	f.mu.Lock()
	f.requests = append(f.requests, rec)
	f.mu.Unlock()

	switch {
	case r.Method != http.MethodPost || !strings.HasPrefix(rec.path, "/v1beta/models/"):
		writeGoogleError(w, http.StatusNotFound, "NOT_FOUND", "no such method")
		return
	case method != "generateContent" && method != "streamGenerateContent":
		writeGoogleError(w, http.StatusNotFound, "NOT_FOUND", "unknown method "+method)
		return
	case r.URL.Query().Has("key"):
		writeGoogleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "test: the key belongs in a header")
		return
	case rec.stream != (r.URL.Query().Get("alt") == "sse"):
		writeGoogleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "test: alt=sse goes with streamGenerateContent only")
		return
	case rec.apiKey != testAPIKey:
		writeGoogleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.")
		return
	}
	if problem := checkBody(rec.body); problem != "" {
		writeGoogleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", problem)
		return
	}

	for k, v := range f.header {
		w.Header()[k] = v
	}
	if w.Header().Get("Content-Type") == "" {
		if rec.stream {
			w.Header().Set("Content-Type", "text/event-stream")
		} else {
			w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		}
	}
	status := f.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	writeChunked(w, f.body, f.chunkSize)
}

// checkBody returns what the real API would refuse in body, or "".
func checkBody(body map[string]any) string {
	contents, ok := body["contents"].([]any)
	if !ok || len(contents) == 0 {
		return "* GenerateContentRequest.contents: contents is not specified"
	}
	for i, c := range contents {
		c, _ := c.(map[string]any)
		if role := c["role"]; role != "user" && role != "model" {
			return fmt.Sprintf("contents[%d]: role %v is not user or model", i, role)
		}
		parts, _ := c["parts"].([]any)
		if len(parts) == 0 {
			return fmt.Sprintf("contents[%d]: parts is empty", i)
		}
		for j, p := range parts {
			p, _ := p.(map[string]any)
			kinds := 0
			for _, k := range []string{"text", "functionCall", "functionResponse"} {
				if _, ok := p[k]; ok {
					kinds++
				}
			}
			if kinds != 1 {
				return fmt.Sprintf("contents[%d].parts[%d]: %d kinds of data", i, j, kinds)
			}
			if fc, ok := p["functionCall"].(map[string]any); ok {
				if _, ok := fc["args"].(map[string]any); !ok && fc["args"] != nil {
					return fmt.Sprintf("contents[%d].parts[%d].functionCall.args is not an object", i, j)
				}
			}
			if fr, ok := p["functionResponse"].(map[string]any); ok {
				if _, ok := fr["response"].(map[string]any); !ok {
					return fmt.Sprintf("contents[%d].parts[%d].functionResponse.response is not an object", i, j)
				}
				if fr["name"] == "" || fr["name"] == nil {
					return fmt.Sprintf("contents[%d].parts[%d].functionResponse.name is empty", i, j)
				}
			}
		}
	}
	if jget(body, "generationConfig", "responseMimeType") == "application/json" &&
		jget(body, "tools", 0, "functionDeclarations") != nil {
		return "Function calling with a response mime type: 'application/json' is unsupported"
	}
	return ""
}

func writeGoogleError(w http.ResponseWriter, code int, status, message string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"error": map[string]any{"code": code, "message": message, "status": status},
	})
}

// writeChunked writes body in pieces of size bytes, flushing after each.
func writeChunked(w http.ResponseWriter, body []byte, size int) {
	if size <= 0 {
		size = len(body)
	}
	flusher, _ := w.(http.Flusher)
	for rest := body; len(rest) > 0; {
		n := min(size, len(rest))
		_, _ = w.Write(rest[:n])
		if flusher != nil {
			flusher.Flush()
		}
		rest = rest[n:]
	}
}

func (f *fakeGemini) lastRequest(t *testing.T) recordedRequest {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.requests) == 0 {
		t.Fatal("server saw no request")
	}
	return f.requests[len(f.requests)-1]
}

// checkTransport checks what every request must look like on the wire.
func checkTransport(t *testing.T, got recordedRequest, model string, stream bool) {
	t.Helper()
	want := "/v1beta/models/" + model + ":generateContent"
	if stream {
		want = "/v1beta/models/" + model + ":streamGenerateContent"
	}
	if got.method != http.MethodPost || got.path != want {
		t.Errorf("request = %s %s, want POST %s", got.method, got.path, want)
	}
	if stream && got.rawQuery != "alt=sse" || !stream && got.rawQuery != "" {
		t.Errorf("query = %q", got.rawQuery)
	}
	if got.apiKey != testAPIKey {
		t.Errorf("x-goog-api-key = %q", got.apiKey)
	}
	if strings.Contains(got.path+"?"+got.rawQuery, testAPIKey) {
		t.Errorf("API key in the URL: %s?%s", got.path, got.rawQuery)
	}
}

func startFake(t *testing.T, f *fakeGemini) *Provider {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return New(Config{Name: "gemini", BaseURL: srv.URL + "/v1beta/", APIKey: testAPIKey})
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	return b
}

// sseBody builds an event stream from GenerateContentResponse chunks.
func sseBody(chunks ...string) []byte {
	var b strings.Builder
	for _, c := range chunks {
		b.WriteString("data: " + c + "\r\n\r\n")
	}
	return []byte(b.String())
}

// jget walks decoded JSON along keys (string) and indexes (int).
func jget(v any, path ...any) any {
	for _, step := range path {
		switch s := step.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[s]
		case int:
			l, _ := v.([]any)
			if s >= len(l) {
				return nil
			}
			v = l[s]
		}
	}
	return v
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return string(b)
}

var testPassages = []provider.Passage{
	{ChunkID: "kb-shipping#0", Title: "Shipping", Text: "Express shipping arrives the next business day."},
	{ChunkID: "kb-returns#0", Title: "Returns", Text: "Unused items can be returned within 30 days of delivery."},
}

func testRequest() provider.Request {
	temp, topP, seed := 0.2, 0.9, int64(42)
	return provider.Request{
		Model: "gemini-2.5-flash",
		Messages: []provider.Message{
			{Role: provider.RoleSystem, Content: "Answer in English."},
			{Role: provider.RoleUser, Content: "Can I return an item? [PERSON_1]"},
		},
		Passages: testPassages,
		Tools: []provider.Tool{{
			Name:        "lookup_order",
			Description: "Look up an order",
			Parameters:  json.RawMessage(`{"type":"object","properties":{"order_id":{"type":"string"}},"required":["order_id"]}`),
		}},
		MaxOutputTokens: 300,
		Grounded:        true,
		Temperature:     &temp,
		TopP:            &topP,
		Seed:            &seed,
		Stop:            []string{"\n\nCustomer:"},
	}
}

// silentServer accepts requests and never answers until the test ends.
func silentServer(t *testing.T, sendHeaders bool) string {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sendHeaders {
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
		}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	return srv.URL
}

// shortDeadline is long enough for a loopback round trip and only ends
// waits on servers that never answer; no test asserts on timing.
const shortDeadline = 200 * time.Millisecond

// startFakeHandler serves h on loopback and returns the server's URL.
func startFakeHandler(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
