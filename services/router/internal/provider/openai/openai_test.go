package openai

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keelhq/keel/services/router/internal/provider"
)

// fakeServer speaks the chat completions wire format from a fixture. It
// writes the body in pieces of chunkSize bytes, flushing after each, so
// that lines and multi-byte characters are split across reads.
type fakeServer struct {
	status    int
	header    http.Header
	body      []byte
	chunkSize int

	mu       sync.Mutex
	requests []recordedRequest
}

type recordedRequest struct {
	path  string
	auth  string
	body  chatRequest
	bytes []byte
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	var body chatRequest
	_ = json.Unmarshal(raw, &body)
	f.mu.Lock()
	f.requests = append(f.requests, recordedRequest{path: r.URL.Path, auth: r.Header.Get("Authorization"), body: body, bytes: raw})
	f.mu.Unlock()

	for k, v := range f.header {
		w.Header()[k] = v
	}
	status := f.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)

	size := f.chunkSize
	if size <= 0 {
		size = len(f.body)
	}
	flusher, _ := w.(http.Flusher)
	for rest := f.body; len(rest) > 0; {
		n := min(size, len(rest))
		_, _ = w.Write(rest[:n])
		if flusher != nil {
			flusher.Flush()
		}
		rest = rest[n:]
	}
}

func (f *fakeServer) lastRequest(t *testing.T) recordedRequest {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.requests) == 0 {
		t.Fatal("server saw no request")
	}
	return f.requests[len(f.requests)-1]
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	return b
}

func startProvider(t *testing.T, f *fakeServer) *Provider {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return New(Config{Name: "openai", BaseURL: srv.URL + "/v1/", APIKey: "sk-test"})
}

var testPassages = []provider.Passage{
	{ChunkID: "kb-shipping#0", Title: "Shipping", Text: "Express shipping arrives the next business day."},
	{ChunkID: "kb-returns#0", Title: "Returns", Text: "Unused items can be returned within 30 days of delivery."},
}

func testRequest() provider.Request {
	return provider.Request{
		Model:    "gpt-4o-mini",
		Messages: []provider.Message{{Role: provider.RoleUser, Content: "Can I return an item? [PERSON_1]"}},
		Passages: testPassages,
		Tools: []provider.Tool{{
			Name:        "lookup_order",
			Description: "Look up an order",
			Parameters:  json.RawMessage(`{"type":"object","properties":{"order_id":{"type":"string"}}}`),
		}},
		MaxOutputTokens: 300,
		Grounded:        true,
	}
}

func TestGenerate(t *testing.T) {
	t.Parallel()

	f := &fakeServer{header: http.Header{"Content-Type": {"application/json"}}, body: fixture(t, "completion.json")}
	p := startProvider(t, f)

	resp, err := p.Generate(context.Background(), testRequest())
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}

	want := provider.Response{
		Text: "Hello [PERSON_1], unused items can be returned within 30 days of delivery [2]. " +
			"Thanks for your patience.",
		Citations:    []string{"kb-returns#0"},
		Confidence:   0.5,
		Model:        "gpt-4o-mini-2024-07-18",
		Usage:        provider.Usage{InputTokens: 182, OutputTokens: 24},
		FinishReason: provider.FinishStop,
	}
	if diff := cmp.Diff(want, resp); diff != "" {
		t.Errorf("response (-want +got):\n%s", diff)
	}

	got := f.lastRequest(t)
	if got.path != "/v1/chat/completions" {
		t.Errorf("path = %q", got.path)
	}
	if got.auth != "Bearer sk-test" {
		t.Errorf("authorization = %q", got.auth)
	}
	if got.body.Model != "gpt-4o-mini" || got.body.Stream || got.body.MaxTokens != 300 {
		t.Errorf("request = %+v", got.body)
	}
	if len(got.body.Messages) != 2 || got.body.Messages[0].Role != "system" {
		t.Fatalf("messages = %+v, want system then user", got.body.Messages)
	}
	sys := *got.body.Messages[0].Content
	for _, s := range []string{"[1] Shipping\nExpress shipping", "[2] Returns\nUnused items"} {
		if !strings.Contains(sys, s) {
			t.Errorf("system message lacks %q:\n%s", s, sys)
		}
	}
	if len(got.body.Tools) != 1 || got.body.Tools[0].Type != "function" ||
		got.body.Tools[0].Function.Name != "lookup_order" {
		t.Errorf("tools = %+v", got.body.Tools)
	}
}

func TestGenerateToolCalls(t *testing.T) {
	t.Parallel()

	f := &fakeServer{body: fixture(t, "completion_tool_calls.json")}
	p := startProvider(t, f)

	resp, err := p.Generate(context.Background(), testRequest())
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	wantCalls := []provider.ToolCall{{ID: "call_keelOrder01", Name: "lookup_order", Arguments: `{"order_id":"ORD-12345"}`}}
	if diff := cmp.Diff(wantCalls, resp.ToolCalls); diff != "" {
		t.Errorf("tool calls (-want +got):\n%s", diff)
	}
	if resp.FinishReason != provider.FinishToolCalls || resp.Text != "" {
		t.Errorf("finish = %q, text = %q", resp.FinishReason, resp.Text)
	}
}

// TestGenerateSendsToolTurns checks the wire form of a conversation that
// already holds a tool call and its result.
func TestGenerateSendsToolTurns(t *testing.T) {
	t.Parallel()

	f := &fakeServer{body: fixture(t, "completion.json")}
	p := startProvider(t, f)

	req := testRequest()
	req.Messages = append(req.Messages,
		provider.Message{Role: provider.RoleAssistant, ToolCalls: []provider.ToolCall{
			// Another provider's signature is not this server's to see.
			{ID: "call_1", Name: "lookup_order", Arguments: `{"order_id":"ORD-1"}`, Signature: "Z2VtaW5pJ3M="},
		}},
		provider.Message{Role: provider.RoleTool, ToolCallID: "call_1", Content: `{"status":"shipped"}`},
	)
	if _, err := p.Generate(context.Background(), req); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if raw := f.lastRequest(t).bytes; strings.Contains(string(raw), "Z2VtaW5pJ3M=") {
		t.Errorf("a tool call's signature was sent: %s", raw)
	}

	var wire struct {
		Messages []map[string]any `json:"messages"`
	}
	if err := json.Unmarshal(f.lastRequest(t).bytes, &wire); err != nil {
		t.Fatalf("decode request: %v", err)
	}
	assistant, tool := wire.Messages[2], wire.Messages[3]
	if content, ok := assistant["content"]; !ok || content != nil {
		t.Errorf("assistant content = %v (present %v), want null", content, ok)
	}
	calls, _ := assistant["tool_calls"].([]any)
	if len(calls) != 1 {
		t.Fatalf("assistant tool_calls = %v", assistant["tool_calls"])
	}
	call := calls[0].(map[string]any)
	fn := call["function"].(map[string]any)
	if call["id"] != "call_1" || call["type"] != "function" || fn["name"] != "lookup_order" {
		t.Errorf("tool call = %v", call)
	}
	if tool["role"] != "tool" || tool["tool_call_id"] != "call_1" || tool["content"] != `{"status":"shipped"}` {
		t.Errorf("tool message = %v", tool)
	}
}

func TestStream(t *testing.T) {
	t.Parallel()

	body := fixture(t, "stream.sse")
	crlf := []byte(strings.ReplaceAll(string(body), "\n", "\r\n"))
	for _, tc := range []struct {
		name      string
		body      []byte
		chunkSize int
	}{
		{name: "whole", body: body},
		{name: "one byte at a time", body: body, chunkSize: 1},
		{name: "seven bytes", body: body, chunkSize: 7},
		{name: "crlf split inside line ends", body: crlf, chunkSize: 2},
		{name: "crlf thirteen bytes", body: crlf, chunkSize: 13},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			f := &fakeServer{
				header:    http.Header{"Content-Type": {"text/event-stream"}},
				body:      tc.body,
				chunkSize: tc.chunkSize,
			}
			p := startProvider(t, f)

			var deltas []string
			resp, err := p.Stream(context.Background(), testRequest(), func(d provider.Delta) error {
				deltas = append(deltas, d.Text)
				// Every piece names the model the chunks report.
				if d.Model != "gpt-4o-mini-2024-07-18" {
					t.Errorf("delta %q names model %q", d.Text, d.Model)
				}
				return nil
			})
			if err != nil {
				t.Fatalf("Stream: %v", err)
			}

			wantDeltas := []string{"Express shipping", " arrives the next business day [1].", " Ünïcødé ✓"}
			if diff := cmp.Diff(wantDeltas, deltas); diff != "" {
				t.Errorf("deltas (-want +got):\n%s", diff)
			}
			want := provider.Response{
				Text:         strings.Join(wantDeltas, ""),
				Citations:    []string{"kb-shipping#0"},
				Confidence:   0.5,
				Model:        "gpt-4o-mini-2024-07-18",
				Usage:        provider.Usage{InputTokens: 140, OutputTokens: 11},
				FinishReason: provider.FinishStop,
			}
			if diff := cmp.Diff(want, resp); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}

			got := f.lastRequest(t).body
			if !got.Stream || got.StreamOptions == nil || !got.StreamOptions.IncludeUsage {
				t.Errorf("request stream = %v, options = %+v", got.Stream, got.StreamOptions)
			}
		})
	}
}

func TestStreamToolCalls(t *testing.T) {
	t.Parallel()

	f := &fakeServer{body: fixture(t, "stream_tool_calls.sse"), chunkSize: 5}
	p := startProvider(t, f)

	var (
		streamed []provider.ToolCall
		begun    int
	)
	resp, err := p.Stream(context.Background(), testRequest(), func(d provider.Delta) error {
		if d.ToolCall == nil && d.Text == "" {
			// The calls' first fragment: the reply has begun.
			if begun++; len(streamed) > 0 {
				t.Errorf("the reply began after a call was emitted")
			}
			return nil
		}
		if d.ToolCall == nil {
			t.Errorf("unexpected delta %+v", d)
			return nil
		}
		streamed = append(streamed, *d.ToolCall)
		return nil
	})
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	want := []provider.ToolCall{
		{ID: "call_keelOrder02", Name: "lookup_order", Arguments: `{"order_id":"ORD-12345"}`},
		{ID: "call_keelOrder03", Name: "lookup_order", Arguments: `{"order_id":"ORD-2"}`},
	}
	if diff := cmp.Diff(want, resp.ToolCalls); diff != "" {
		t.Errorf("tool calls (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, streamed); diff != "" {
		t.Errorf("streamed tool calls (-want +got):\n%s", diff)
	}
	if resp.FinishReason != provider.FinishToolCalls {
		t.Errorf("finish reason = %q", resp.FinishReason)
	}
	if resp.Usage != (provider.Usage{InputTokens: 95, OutputTokens: 30}) {
		t.Errorf("usage = %+v", resp.Usage)
	}
}

func TestStreamMidStreamError(t *testing.T) {
	t.Parallel()

	f := &fakeServer{body: fixture(t, "stream_error.sse"), chunkSize: 9}
	p := startProvider(t, f)

	var deltas []string
	_, err := p.Stream(context.Background(), testRequest(), func(d provider.Delta) error {
		deltas = append(deltas, d.Text)
		return nil
	})
	if !errors.Is(err, provider.ErrServerFailed) {
		t.Fatalf("error = %v, want ErrServerFailed", err)
	}
	if !strings.Contains(err.Error(), "server had an error") {
		t.Errorf("error %q lacks the provider message", err)
	}
	if diff := cmp.Diff([]string{"Standard shipping"}, deltas); diff != "" {
		t.Errorf("deltas before the error (-want +got):\n%s", diff)
	}
}

func TestStreamErrorEvents(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		body string
		want error
	}{
		{
			name: "event error with bare object",
			body: "event: error\ndata: {\"message\":\"overloaded\",\"type\":\"server_error\"}\n\n",
			want: provider.ErrServerFailed,
		},
		{
			name: "rate limit in stream",
			body: "data: {\"error\":{\"message\":\"slow down\",\"type\":\"rate_limit_exceeded\"}}\n\n",
			want: provider.ErrRateLimited,
		},
		{
			name: "event error with plain text",
			body: "event: error\ndata: upstream went away\n\n",
			want: provider.ErrServerFailed,
		},
		{
			name: "cut off before finishing",
			body: "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n",
			want: provider.ErrUnreachable,
		},
		{
			name: "malformed chunk",
			body: "data: {\"choices\":[\n\n",
			want: provider.ErrServerFailed,
		},
		{
			name: "key refused in stream",
			body: "data: {\"error\":{\"message\":\"Incorrect API key provided: sk-****abcd\",\"type\":\"invalid_request_error\",\"code\":\"invalid_api_key\"}}\n\n",
			want: provider.ErrCredentialsRejected,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			p := startProvider(t, &fakeServer{body: []byte(tt.body)})
			_, err := p.Stream(context.Background(), testRequest(), func(provider.Delta) error { return nil })
			if !errors.Is(err, tt.want) {
				t.Errorf("error = %v, want %v", err, tt.want)
			}
		})
	}
}

// A server that answers 200 with an error object, not a completion, has
// the error classified as it would be in a stream: a rate limit is a rate
// limit, not a server failure.
func TestGenerateErrorWithStatusOK(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		body string
		want error
	}{
		{`{"error":{"message":"slow down","type":"rate_limit_error"}}`, provider.ErrRateLimited},
		{`{"error":{"message":"bad","type":"invalid_request_error"}}`, provider.ErrRequestRejected},
		{`{"error":{"message":"Incorrect API key provided","code":"invalid_api_key"}}`, provider.ErrCredentialsRejected},
		{`{"error":{"message":"boom","type":"server_error"}}`, provider.ErrServerFailed},
	} {
		p := startProvider(t, &fakeServer{body: []byte(tt.body)})
		if _, err := p.Generate(context.Background(), testRequest()); !errors.Is(err, tt.want) {
			t.Errorf("%s: error = %v, want %v", tt.body, err, tt.want)
		}
	}
}

// A refusal is read the same in a 200 as in a 400: its reason and param
// reach the caller; a param that is no string is left out, not the reason.
func TestRefusalReasonAndParam(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		status    int
		body      string
		wantParam string
	}{
		{200, `{"error":{"message":"max_tokens too big","type":"invalid_request_error","param":"max_tokens"}}`, "max_tokens"},
		{400, `{"error":{"message":"max_tokens too big","type":"invalid_request_error","param":"max_tokens"}}`, "max_tokens"},
		{400, `{"error":{"message":"max_tokens too big","type":"invalid_request_error","param":7}}`, ""},
		{400, `{"error":{"message":"max_tokens too big","type":"invalid_request_error","param":{"a":1}}}`, ""},
	} {
		p := startProvider(t, &fakeServer{status: tt.status, header: http.Header{"Content-Type": {"application/json"}},
			body: []byte(tt.body)})
		_, err := p.Generate(context.Background(), testRequest())
		pe := &provider.Error{}
		if !errors.As(err, &pe) || !errors.Is(err, provider.ErrRequestRejected) || pe.Reason != "max_tokens too big" || pe.Param != tt.wantParam {
			t.Errorf("%d %s: %v (reason %q, param %q), want the reason and param %q", tt.status, tt.body, err, pe.Reason, pe.Param, tt.wantParam)
		}
	}
}

// A server asked for a stream that answers with one JSON document is read
// as such: an error object is classified by the error, a whole completion
// (a server that does not stream) is passed on as one piece.
func TestStreamAnsweredWithJSON(t *testing.T) {
	t.Parallel()
	jsonHeader := http.Header{"Content-Type": {"application/json; charset=utf-8"}}

	p := startProvider(t, &fakeServer{header: jsonHeader,
		body: []byte(`{"error":{"message":"slow down","type":"rate_limit_error"}}`)})
	if _, err := p.Stream(context.Background(), testRequest(), func(provider.Delta) error { return nil }); !errors.Is(err, provider.ErrRateLimited) {
		t.Errorf("error object: %v, want ErrRateLimited", err)
	}

	p = startProvider(t, &fakeServer{header: jsonHeader, body: []byte(`{"model":"m-1","choices":[{"index":0,` +
		`"message":{"role":"assistant","content":"Hello","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},` +
		`"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":3,"completion_tokens":2}}`)})
	var pieces []provider.Delta
	resp, err := p.Stream(context.Background(), testRequest(), func(d provider.Delta) error {
		pieces = append(pieces, d)
		return nil
	})
	if err != nil || resp.Text != "Hello" || resp.Usage.OutputTokens != 2 || resp.FinishReason != provider.FinishToolCalls {
		t.Fatalf("completion: %+v, %v", resp, err)
	}
	if len(pieces) != 2 || pieces[0].Text != "Hello" || pieces[1].ToolCall == nil || pieces[1].ToolCall.Name != "f" {
		t.Errorf("pieces %+v, want the text then the tool call", pieces)
	}
}

// Tool call arguments are held back until the choice finishes, where the
// router cannot count them: a provider that streams arguments far past
// max_tokens is cut off by the stream.
func TestStreamToolArgumentsPastMaxTokens(t *testing.T) {
	t.Parallel()
	var body strings.Builder
	body.WriteString(`data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"lookup_order","arguments":"{\"note\": \""}}]}}]}` + "\n\n")
	for range 400 {
		body.WriteString(`data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"` + strings.Repeat("word ", 20) + `"}}]}}]}` + "\n\n")
	}
	body.WriteString("data: [DONE]\n\n")
	p := startProvider(t, &fakeServer{body: []byte(body.String())})
	req := testRequest()
	req.MaxOutputTokens = 10
	_, err := p.Stream(context.Background(), req, func(provider.Delta) error { return nil })
	if !errors.Is(err, provider.ErrOverran) || !errors.Is(err, provider.ErrServerFailed) {
		t.Errorf("error = %v, want ErrOverran as a server failure", err)
	}
}

// Tool calls from a sloppy server are made whole: a call without an id
// gets one, a reply of calls says tool_calls though the server did not, and
// the calls count in the estimate when the server reports no usage.
func TestStreamToolCallsFromSloppyServer(t *testing.T) {
	t.Parallel()
	body := `data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"name":"lookup_order","arguments":"{\"id\": \"ORD-1 and a long note about it\"}"}}]}}]}` + "\n\n" +
		"data: [DONE]\n\n"
	p := startProvider(t, &fakeServer{body: []byte(body)})
	resp, err := p.Stream(context.Background(), testRequest(), func(provider.Delta) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.ToolCalls) != 1 || !strings.HasPrefix(resp.ToolCalls[0].ID, "call_") || resp.FinishReason != provider.FinishToolCalls {
		t.Errorf("calls %+v, finish %q; want one call with an id, tool_calls", resp.ToolCalls, resp.FinishReason)
	}
	if !resp.Usage.Estimated || resp.Usage.OutputTokens < 10 {
		t.Errorf("usage %+v, want an estimate counting the call", resp.Usage)
	}

	noName := `data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c1","function":{"arguments":"{}"}}]},"finish_reason":"tool_calls"}]}` + "\n\n"
	p = startProvider(t, &fakeServer{body: []byte(noName)})
	if _, err := p.Stream(context.Background(), testRequest(), func(provider.Delta) error { return nil }); !errors.Is(err, provider.ErrServerFailed) {
		t.Errorf("a call without a name: %v, want a server failure", err)
	}
}

// Reasoning a server streams before the reply is not the reply, but says
// it has begun (one empty piece), so that a first-token timeout does not cut
// a model that thinks first.
func TestStreamReasoningBeginsTheReply(t *testing.T) {
	t.Parallel()
	body := `data: {"choices":[{"index":0,"delta":{"reasoning_content":"Let me think"}}]}` + "\n\n" +
		`data: {"choices":[{"index":0,"delta":{"reasoning_content":" more"}}]}` + "\n\n" +
		`data: {"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]}` + "\n\n" + "data: [DONE]\n\n"
	p := startProvider(t, &fakeServer{body: []byte(body)})
	var pieces []string
	resp, err := p.Stream(context.Background(), testRequest(), func(d provider.Delta) error {
		pieces = append(pieces, d.Text)
		return nil
	})
	if err != nil || resp.Text != "Hi" || !slices.Equal(pieces, []string{"", "Hi"}) {
		t.Errorf("%q, pieces %q, %v; want Hi after one sign that the reply began", resp.Text, pieces, err)
	}
}

// A stream whose usage chunk has come after the finish is whole, though the
// server never sends [DONE] nor closes.
func TestStreamEndsAtUsageAfterFinish(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `data: {"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}]}`+"\n\n"+
			`data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":1}}`+"\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	p := New(Config{Name: "hosted", BaseURL: srv.URL + "/v1/"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := p.Stream(ctx, testRequest(), func(provider.Delta) error { return nil })
	if err != nil || resp.Text != "hi" || resp.Usage.OutputTokens != 1 || resp.Usage.Estimated {
		t.Errorf("%+v, %v; want hi with the server's usage, before the deadline", resp, err)
	}
}

func TestStreamCallbackError(t *testing.T) {
	t.Parallel()

	p := startProvider(t, &fakeServer{body: fixture(t, "stream.sse")})
	stop := errors.New("client gone")
	_, err := p.Stream(context.Background(), testRequest(), func(provider.Delta) error { return stop })
	if !errors.Is(err, stop) {
		t.Errorf("error = %v, want %v", err, stop)
	}
}

func TestHTTPErrors(t *testing.T) {
	t.Parallel()

	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name           string
		status         int
		header         http.Header
		body           string
		want           error
		wantRetryable  bool
		wantRetryAfter time.Duration
		reason         string // what the caller may read
	}{
		{
			name:   "429 with Retry-After seconds",
			status: http.StatusTooManyRequests,
			header: http.Header{"Retry-After": {"7"}},
			body: `{"error":{"message":"Rate limit reached for gpt-4o-mini","type":"requests",` +
				`"param":null,"code":"rate_limit_exceeded"}}`,
			want:           provider.ErrRateLimited,
			wantRetryable:  true,
			wantRetryAfter: 7 * time.Second,
		},
		{
			name:           "429 with Retry-After date",
			status:         http.StatusTooManyRequests,
			header:         http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}},
			body:           `{"error":{"message":"slow down","type":"requests"}}`,
			want:           provider.ErrRateLimited,
			wantRetryable:  true,
			wantRetryAfter: 90 * time.Second,
		},
		{
			name:           "429 with retry-after-ms",
			status:         http.StatusTooManyRequests,
			header:         http.Header{"Retry-After-Ms": {"1500"}, "Retry-After": {"2"}},
			want:           provider.ErrRateLimited,
			wantRetryable:  true,
			wantRetryAfter: 1500 * time.Millisecond,
		},
		{
			name:          "500",
			status:        http.StatusInternalServerError,
			body:          `{"error":{"message":"The server had an error","type":"server_error","param":null,"code":null}}`,
			want:          provider.ErrServerFailed,
			wantRetryable: true,
		},
		{
			name:          "503 with plain text body",
			status:        http.StatusServiceUnavailable,
			body:          "upstream connect error",
			want:          provider.ErrOverloaded,
			wantRetryable: true,
		},
		{
			name:          "529 overloaded",
			status:        529,
			body:          `{"error":{"message":"Overloaded","type":"overloaded_error"}}`,
			want:          provider.ErrOverloaded,
			wantRetryable: true,
		},
		{
			name:   "429 spend limit",
			status: http.StatusTooManyRequests,
			body: `{"error":{"message":"You exceeded your current quota, please check your plan and billing details.",` +
				`"type":"insufficient_quota","code":"insufficient_quota"}}`,
			want: provider.ErrQuotaExceeded,
		},
		{
			name:   "400 content policy",
			status: http.StatusBadRequest,
			body: `{"error":{"message":"Your request was rejected as a result of our safety system.",` +
				`"type":"invalid_request_error","code":"content_policy_violation"}}`,
			want: provider.ErrContentRefused,
		},
		{
			name:   "401",
			status: http.StatusUnauthorized,
			body: `{"error":{"message":"Incorrect API key provided","type":"invalid_request_error",` +
				`"param":null,"code":"invalid_api_key"}}`,
			want: provider.ErrCredentialsRejected,
		},
		{
			name:   "403",
			status: http.StatusForbidden,
			want:   provider.ErrCredentialsRejected,
		},
		{
			name:   "400",
			status: http.StatusBadRequest,
			body:   `{"error":{"message":"Invalid value for 'role'","type":"invalid_request_error","param":"messages","code":null}}`,
			want:   provider.ErrRequestRejected,
			reason: "Invalid value for 'role'",
		},
		{
			name:   "400 context length",
			status: http.StatusBadRequest,
			body: `{"error":{"message":"This model's maximum context length is 128000 tokens.",` +
				`"type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}`,
			want: provider.ErrContextTooLong,
		},
		{
			name:   "400 with numeric code",
			status: http.StatusBadRequest,
			body:   `{"error":{"message":"bad","type":"BadRequestError","code":400}}`,
			want:   provider.ErrRequestRejected,
			reason: "bad",
		},
		{
			// xAI's answer to a wrong key: a 400, its error a string.
			name:   "400 naming the key",
			status: http.StatusBadRequest,
			body:   `{"code":"Client specified an invalid argument","error":"Incorrect API key provided: xa***zz. You can obtain an API key from https://console.x.ai."}`,
			want:   provider.ErrCredentialsRejected,
		},
		{
			name:   "404 no such model",
			status: http.StatusNotFound,
			body:   `{"error":{"message":"The model secret-internal-model does not exist","type":"invalid_request_error","code":"model_not_found"}}`,
			want:   provider.ErrModelUnavailable,
		},
		{
			// The reason shown to the caller: the key out even when escaped,
			// no control characters, cut whole.
			name:   "400 with an escaped key and terminal codes",
			status: http.StatusBadRequest,
			body:   `{"error":{"message":"bad value \u001b[31mfor\r\n 'x' with sk-\u0074estkey\u0000","type":"invalid_request_error"}}`,
			want:   provider.ErrRequestRejected,
			reason: "bad value [31mfor 'x' with [redacted]",
		},
		{
			name:   "400 as a page",
			status: http.StatusBadRequest,
			body:   "<html><body>Bad Request</body></html>",
			want:   provider.ErrRequestRejected,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			srv := httptest.NewServer(&fakeServer{status: tt.status, header: tt.header, body: []byte(tt.body)})
			t.Cleanup(srv.Close)
			p := New(Config{Name: "openai", BaseURL: srv.URL + "/v1", APIKey: "sk-testkey", Now: func() time.Time { return now }})

			for _, call := range []func() error{
				func() error { _, err := p.Generate(context.Background(), testRequest()); return err },
				func() error {
					_, err := p.Stream(context.Background(), testRequest(), func(provider.Delta) error { return nil })
					return err
				},
			} {
				err := call()
				if !errors.Is(err, tt.want) {
					t.Fatalf("error = %v, want %v", err, tt.want)
				}
				if got := provider.Retryable(err); got != tt.wantRetryable {
					t.Errorf("Retryable = %v, want %v", got, tt.wantRetryable)
				}
				got, _ := provider.RetryAfter(err)
				if got != tt.wantRetryAfter {
					t.Errorf("RetryAfter = %v, want %v", got, tt.wantRetryAfter)
				}
				var pe *provider.Error
				if !errors.As(err, &pe) || pe.StatusCode != tt.status {
					t.Fatalf("status = %+v, want %d", pe, tt.status)
				}
				if pe.Reason != tt.reason {
					t.Errorf("reason = %q, want %q", pe.Reason, tt.reason)
				}
				if strings.Contains(pe.Message, "sk-testkey") {
					t.Errorf("message %q holds the key", pe.Message)
				}
			}
		})
	}
}

func TestTimeoutAndUnreachable(t *testing.T) {
	t.Parallel()

	t.Run("deadline passes while the server stalls", func(t *testing.T) {
		t.Parallel()

		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}))
		t.Cleanup(srv.Close)
		t.Cleanup(func() { close(release) })
		p := New(Config{Name: "openai", BaseURL: srv.URL + "/v1"})

		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := p.Generate(ctx, testRequest())
		if !errors.Is(err, provider.ErrTimedOut) || !provider.Retryable(err) {
			t.Errorf("error = %v, want retryable ErrTimedOut", err)
		}
	})

	t.Run("nothing listens", func(t *testing.T) {
		t.Parallel()

		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		p := New(Config{Name: "openai", BaseURL: url + "/v1"})

		_, err := p.Generate(context.Background(), testRequest())
		if !errors.Is(err, provider.ErrUnreachable) || !provider.Retryable(err) {
			t.Errorf("error = %v, want retryable ErrUnreachable", err)
		}
	})

	t.Run("caller cancels", func(t *testing.T) {
		t.Parallel()

		p := New(Config{Name: "openai", BaseURL: "http://127.0.0.1:1/v1"})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := p.Generate(ctx, testRequest())
		if !errors.Is(err, context.Canceled) || provider.Retryable(err) {
			t.Errorf("error = %v, want context.Canceled and not retryable", err)
		}
	})
}

func TestCheck(t *testing.T) {
	t.Parallel()

	var status atomic.Int32
	status.Store(http.StatusOK)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/v1/models" || r.Header.Get("Authorization") != "Bearer sk-test" {
			t.Errorf("check sent %s %s with auth %q", r.Method, r.URL.Path, r.Header.Get("Authorization"))
		}
		w.WriteHeader(int(status.Load()))
		_, _ = w.Write([]byte(`{"object":"list","data":[]}`))
	}))
	t.Cleanup(srv.Close)
	p := New(Config{Name: "hosted", BaseURL: srv.URL + "/v1", APIKey: "sk-test"})

	if err := p.Check(context.Background(), "gpt-4o-mini"); err != nil {
		t.Errorf("Check against a healthy server: %v", err)
	}
	status.Store(http.StatusServiceUnavailable)
	if err := p.Check(context.Background(), "gpt-4o-mini"); !errors.Is(err, provider.ErrOverloaded) {
		t.Errorf("Check against a 503: %v, want ErrOverloaded", err)
	}
}

// What goes on the wire depends on the server: OpenAI itself gets
// max_completion_tokens (its reasoning models refuse max_tokens) and
// store=false, a compatible server max_tokens and no store. Strict modes
// are passed on when asked for and left out otherwise; a schema that is
// any object at all is sent as JSON mode.
func TestRequestFields(t *testing.T) {
	t.Parallel()
	strictReq := testRequest()
	strictReq.Retention = provider.RetentionNone
	strictReq.Schema = &provider.Schema{Name: "reply", JSON: json.RawMessage(`{"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":false}`), Strict: true}
	strictReq.Tools[0].Strict = true
	looseReq := testRequest()
	looseReq.Retention = provider.RetentionNone
	looseReq.Schema = &provider.Schema{Name: "reply", JSON: json.RawMessage(`{"type":"object","properties":{"a":{"type":"string"}}}`)}
	objectReq := testRequest()
	objectReq.Schema = &provider.Schema{Name: "json_object", JSON: json.RawMessage(`{"type": "object"}`), JSONMode: true}
	// The same schema without JSON mode asked for stays json_schema, whatever
	// its name: OpenAI's JSON mode wants "JSON" in the prompt, which its
	// caller need not have.
	namedReq := testRequest()
	namedReq.Schema = &provider.Schema{Name: "json_object", JSON: json.RawMessage(`{"type":"object"}`)}

	tests := []struct {
		name   string
		flavor Flavor
		req    provider.Request
		want   map[string]string // top-level field: its JSON, "" for absent
		format string
	}{
		{name: "openai strict", flavor: FlavorOpenAI, req: strictReq,
			want:   map[string]string{"max_completion_tokens": "300", "max_tokens": "", "store": "false"},
			format: `{"type":"json_schema","json_schema":{"name":"reply","schema":{"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":false},"strict":true}}`},
		{name: "compatible loose", flavor: FlavorCompatible, req: looseReq,
			want:   map[string]string{"max_completion_tokens": "", "max_tokens": "300", "store": ""},
			format: `{"type":"json_schema","json_schema":{"name":"reply","schema":{"type":"object","properties":{"a":{"type":"string"}}}}}`},
		{name: "json mode", flavor: FlavorCompatible, req: objectReq,
			want:   map[string]string{"max_tokens": "300"},
			format: `{"type":"json_object"}`},
		{name: "any object without JSON mode", flavor: FlavorOpenAI, req: namedReq,
			want:   map[string]string{"max_completion_tokens": "300"},
			format: `{"type":"json_schema","json_schema":{"name":"json_object","schema":{"type":"object"}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeServer{header: http.Header{"Content-Type": {"application/json"}}, body: fixture(t, "completion.json")}
			srv := httptest.NewServer(f)
			t.Cleanup(srv.Close)
			p := New(Config{Name: "p", Flavor: tt.flavor, BaseURL: srv.URL + "/v1"})
			if _, err := p.Generate(context.Background(), tt.req); err != nil {
				t.Fatalf("Generate: %v", err)
			}
			var sent map[string]json.RawMessage
			if err := json.Unmarshal(f.lastRequest(t).bytes, &sent); err != nil {
				t.Fatal(err)
			}
			for field, want := range tt.want {
				if got := string(sent[field]); got != want {
					t.Errorf("%s = %q, want %q", field, got, want)
				}
			}
			if got := string(sent["response_format"]); got != tt.format {
				t.Errorf("response_format = %s\nwant %s", got, tt.format)
			}
			var tools []struct {
				Function map[string]json.RawMessage `json:"function"`
			}
			if err := json.Unmarshal(sent["tools"], &tools); err != nil || len(tools) != 1 {
				t.Fatalf("tools %s: %v", sent["tools"], err)
			}
			wantStrict := ""
			if tt.req.Tools[0].Strict {
				wantStrict = "true"
			}
			if got := string(tools[0].Function["strict"]); got != wantStrict {
				t.Errorf("tool strict = %q, want %q", got, wantStrict)
			}
		})
	}
}
