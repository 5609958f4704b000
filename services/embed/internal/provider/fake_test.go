package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keelhq/keel/services/embed/internal/embedder"
)

// testKey is the API key the tests configure; no error may show it.
const testKey = "sk-test-6f1d2c9a0b"

// reply answers one request of a fake provider; texts are the texts the
// request carried.
type reply func(w http.ResponseWriter, r *http.Request, texts []string)

// fakeProvider is an httptest server speaking one provider's wire format.
// It answers the n-th request with the n-th scripted reply, and every
// request after the script with a correct response.
type fakeProvider struct {
	t       *testing.T
	srv     *httptest.Server
	wire    wireFormat
	dims    int
	mu      sync.Mutex
	script  []reply
	records []record
}

// record is one request the fake provider received.
type record struct {
	path   string
	header http.Header
	body   map[string]any
	texts  []string
}

// wireFormat is what differs between the providers' wire formats.
type wireFormat struct {
	name string
	// texts returns the texts of a request body.
	texts func(t *testing.T, body []byte) []string
	// success writes a correct response holding vectors.
	success func(w http.ResponseWriter, vectors [][]float32)
	// errorBody returns the body of an error response.
	errorBody func(status int, code, message string) string
	// client returns a client of the provider at baseURL.
	client func(t *testing.T, baseURL string, dims int, opts clientOptions) embedder.Embedder
}

// clientOptions are the client settings a test may change.
type clientOptions struct {
	timeout time.Duration
	now     func() time.Time
}

var openAIWire = wireFormat{
	name: ProviderOpenAI,
	texts: func(t *testing.T, body []byte) []string {
		t.Helper()
		var req openAIRequest
		if err := json.Unmarshal(body, &req); err != nil {
			t.Errorf("fake openai: decode request: %v", err)
		}
		return req.Input
	},
	success: func(w http.ResponseWriter, vectors [][]float32) {
		writeOpenAI(w, vectors, func(i int) int { return i })
	},
	errorBody: func(_ int, code, message string) string {
		return fmt.Sprintf(`{"error":{"message":%q,"type":%q,"param":null,"code":%q}}`, message, code, code)
	},
	client: func(t *testing.T, baseURL string, dims int, opts clientOptions) embedder.Embedder {
		t.Helper()
		c, err := NewOpenAI(OpenAIConfig{
			BaseURL: baseURL + "/v1", Model: "text-embedding-3-small", Dimensions: dims,
			APIKey: testKey, Timeout: opts.timeout, Now: opts.now,
		})
		if err != nil {
			t.Fatalf("NewOpenAI: %v", err)
		}
		return c
	},
}

var geminiWire = wireFormat{
	name: ProviderGemini,
	texts: func(t *testing.T, body []byte) []string {
		t.Helper()
		var req geminiRequest
		if err := json.Unmarshal(body, &req); err != nil {
			t.Errorf("fake gemini: decode request: %v", err)
		}
		texts := make([]string, len(req.Requests))
		for i, r := range req.Requests {
			if len(r.Content.Parts) != 1 {
				t.Errorf("fake gemini: request %d has %d parts", i, len(r.Content.Parts))
				continue
			}
			texts[i] = r.Content.Parts[0].Text
		}
		return texts
	},
	success: func(w http.ResponseWriter, vectors [][]float32) {
		writeGemini(w, vectors)
	},
	errorBody: func(status int, code, message string) string {
		return fmt.Sprintf(`{"error":{"code":%d,"message":%q,"status":%q}}`, status, message, code)
	},
	client: func(t *testing.T, baseURL string, dims int, opts clientOptions) embedder.Embedder {
		t.Helper()
		c, err := NewGemini(GeminiConfig{
			BaseURL: baseURL, Model: "gemini-embedding-001", Dimensions: dims,
			APIKey: testKey, Timeout: opts.timeout, Now: opts.now,
		})
		if err != nil {
			t.Fatalf("NewGemini: %v", err)
		}
		return c
	},
}

// newFakeProvider starts a fake provider of wire returning vectors of dims
// values, answering the first requests with script.
func newFakeProvider(t *testing.T, wire wireFormat, dims int, script ...reply) *fakeProvider {
	t.Helper()
	f := &fakeProvider{t: t, wire: wire, dims: dims, script: script}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeProvider) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var fields map[string]any
	_ = json.Unmarshal(body, &fields)
	texts := f.wire.texts(f.t, body)

	f.mu.Lock()
	n := len(f.records)
	f.records = append(f.records, record{path: r.URL.Path, header: r.Header.Clone(), body: fields, texts: texts})
	var next reply
	if n < len(f.script) {
		next = f.script[n]
	}
	f.mu.Unlock()

	if next != nil {
		next(w, r, texts)
		return
	}
	f.wire.success(w, fakeVectors(texts, f.dims))
}

// requests returns what the fake provider received so far.
func (f *fakeProvider) requests() []record {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]record(nil), f.records...)
}

// client returns a client of the fake provider.
func (f *fakeProvider) client(t *testing.T, opts clientOptions) embedder.Embedder {
	t.Helper()
	return f.wire.client(t, f.srv.URL, f.dims, opts)
}

// fakeVector is the vector the fake providers return for text: every text
// has its own, so a vector in the wrong place is noticed.
func fakeVector(text string, dims int) []float32 {
	h := fnv.New64a()
	_, _ = io.WriteString(h, text)
	seed := h.Sum64()
	v := make([]float32, dims)
	for j := range v {
		v[j] = float32((seed>>(j%56))&0xff)/255 - 0.5
	}
	return v
}

func fakeVectors(texts []string, dims int) [][]float32 {
	out := make([][]float32, len(texts))
	for i, text := range texts {
		out[i] = fakeVector(text, dims)
	}
	return out
}

// writeOpenAI writes an OpenAI embeddings response, vector i at position
// order(i) of the data list.
func writeOpenAI(w http.ResponseWriter, vectors [][]float32, order func(int) int) {
	type item struct {
		Object    string    `json:"object"`
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	}
	data := make([]item, len(vectors))
	for i, v := range vectors {
		data[order(i)] = item{Object: "embedding", Index: i, Embedding: v}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"object": "list",
		"data":   data,
		"model":  "text-embedding-3-small",
		"usage":  map[string]int{"prompt_tokens": 8, "total_tokens": 8},
	})
}

// writeGemini writes a batchEmbedContents response.
func writeGemini(w http.ResponseWriter, vectors [][]float32) {
	type embedding struct {
		Values []float32 `json:"values"`
	}
	out := make([]embedding, len(vectors))
	for i, v := range vectors {
		out[i] = embedding{Values: v}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"embeddings": out})
}

// status returns a reply with the status, headers and body given.
func status(code int, header http.Header, body string) reply {
	return func(w http.ResponseWriter, _ *http.Request, _ []string) {
		for k, vs := range header {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}
}

// raw returns a 200 reply with body as it is.
func raw(body string) reply {
	return status(http.StatusOK, nil, body)
}

// resetConnection closes the connection without answering.
func resetConnection(w http.ResponseWriter, _ *http.Request, _ []string) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	_ = conn.Close()
}

// sleepRecorder stands in for the Retrier's sleep: it records the waits and
// returns at once.
type sleepRecorder struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleepRecorder) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleepRecorder) recorded() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

// testRetrier wraps e in a Retrier with recorded sleeps, half jitter and a
// fixed clock.
func testRetrier(e embedder.Embedder, now time.Time) (*Retrier, *sleepRecorder) {
	rec := &sleepRecorder{}
	return NewRetrier(e, RetryOptions{
		MaxRetries: 3,
		BaseDelay:  100 * time.Millisecond,
		MaxDelay:   time.Second,
		Now:        func() time.Time { return now },
		Sleep:      rec.sleep,
		Jitter:     func() float64 { return 0.5 },
	}), rec
}

// mustNotContainKey fails the test when err shows the API key.
func mustNotContainKey(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), testKey) {
		t.Errorf("error shows the api key: %v", err)
	}
}

// errorCase is one error reply of a provider and how the client must
// report it.
type errorCase struct {
	name          string
	reply         reply
	wantErr       error
	wantRetryable bool
	wantInErr     string
	wantWait      time.Duration
}

// runErrorCases has a fake provider of wire answer each case's reply to
// one text, and checks the class, retryability, message and retry delay
// of the error the client returns.
func runErrorCases(t *testing.T, wire wireFormat, tests []errorCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := newFakeProvider(t, wire, 4, tt.reply)

			_, err := fake.client(t, clientOptions{}).Embed(context.Background(), []string{"refund"})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Embed() error = %v, want %v", err, tt.wantErr)
			}
			if Retryable(err) != tt.wantRetryable {
				t.Errorf("Retryable(%v) = %v, want %v", err, !tt.wantRetryable, tt.wantRetryable)
			}
			if !strings.Contains(err.Error(), tt.wantInErr) {
				t.Errorf("Embed() error = %q, want it to mention %q", err, tt.wantInErr)
			}
			if wait, _ := RetryAfter(err); wait != tt.wantWait {
				t.Errorf("RetryAfter() = %v, want %v", wait, tt.wantWait)
			}
		})
	}
}
