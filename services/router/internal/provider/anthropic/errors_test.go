package anthropic

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/keelhq/keel/services/router/internal/provider"
	"github.com/keelhq/keel/services/router/internal/provider/sse"
)

// testWait bounds how long a test waits for something that should happen
// at once; it only ends waits, nothing is measured against it.
const testWait = 30 * time.Second

// newStreamServer starts a server with handler and returns its base URL.
// Handlers that wait should also wait for r.Context().Done(), which ends
// when the client goes away.
//
// The request body is read before handler runs: the server notices that the
// client went away only once it has read the whole request.
func newStreamServer(t *testing.T, handler http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		handler(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// calls runs Generate and Stream with req and returns both errors.
func bothCalls(t *testing.T, ctx context.Context, p *Provider, req provider.Request) map[string]error {
	t.Helper()
	_, genErr := p.Generate(ctx, req)
	_, streamErr := p.Stream(ctx, req, func(provider.Delta) error { return nil })
	return map[string]error{"Generate": genErr, "Stream": streamErr}
}

func TestHTTPErrors(t *testing.T) {
	t.Parallel()

	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	body := func(kind, message string) string { return evError(kind, message) }
	tests := []struct {
		name           string
		status         int
		header         http.Header
		body           string
		want           error
		wantRetryable  bool
		wantRetryAfter time.Duration
		wantMessage    string
		// wantReason is what the caller may read; empty for every error
		// that is not a refused request.
		wantReason string
	}{
		{
			name:        "400 invalid request",
			status:      400,
			body:        body("invalid_request_error", "messages: roles must alternate"),
			want:        provider.ErrRequestRejected,
			wantMessage: "messages: roles must alternate",
			wantReason:  "messages: roles must alternate",
		},
		{
			// The key out even when the JSON escapes it, no control
			// characters.
			name:   "400 with an escaped key and terminal codes",
			status: 400,
			body: `{"type":"error","error":{"type":"invalid_request_error","message":` +
				`"bad value \u001b[31mfor\r\n x with sk-ant-api03-keel-test-secret-\u0030123456789"},"request_id":"req_1"}`,
			want:       provider.ErrRequestRejected,
			wantReason: "bad value [31mfor x with [redacted]",
		},
		{
			name:       "422",
			status:     422,
			body:       body("invalid_request_error", "tools.0.input_schema: type must be object"),
			want:       provider.ErrRequestRejected,
			wantReason: "tools.0.input_schema: type must be object",
		},
		{
			name:   "400 as a page",
			status: 400,
			body:   "<html><body>Bad Request</body></html>",
			want:   provider.ErrRequestRejected,
		},
		{
			name:   "409 is no refused request",
			status: 409,
			body:   body("invalid_request_error", "conflict"),
			want:   provider.ErrRequestRejected,
		},
		{
			name:   "400 prompt too long",
			status: 400,
			body:   body("invalid_request_error", "prompt is too long: 208310 tokens > 200000 maximum"),
			want:   provider.ErrContextTooLong,
		},
		{
			name:   "400 context limit exceeded",
			status: 400,
			body:   body("invalid_request_error", "input length and `max_tokens` exceed context limit: 197858 + 8192 > 200000"),
			want:   provider.ErrContextTooLong,
		},
		{
			name:   "400 credit balance too low",
			status: 400,
			body: body("invalid_request_error",
				"Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."),
			want: provider.ErrQuotaExceeded,
		},
		{
			name:   "400 own spend limit",
			status: 400,
			body: body("invalid_request_error",
				"You have reached your specified API usage limits. You will regain access on 2026-02-01 at 00:00 UTC."),
			want: provider.ErrQuotaExceeded,
		},
		{
			name:   "401",
			status: 401,
			body:   body("authentication_error", "invalid x-api-key"),
			want:   provider.ErrCredentialsRejected,
		},
		{
			name:   "402 billing",
			status: 402,
			body:   body("billing_error", "payment method declined"),
			want:   provider.ErrQuotaExceeded,
		},
		{
			name:   "403",
			status: 403,
			body:   body("permission_error", "Your API key does not have permission to use the specified resource."),
			want:   provider.ErrCredentialsRejected,
		},
		{
			name:   "404 unknown model",
			status: 404,
			body:   body("not_found_error", "model: claude-nonexistent"),
			want:   provider.ErrModelUnavailable,
		},
		{
			name:   "413",
			status: 413,
			body:   body("request_too_large", "Request exceeds the maximum allowed number of bytes."),
			want:   provider.ErrContextTooLong,
		},
		{
			name:           "429 with Retry-After seconds",
			status:         429,
			header:         http.Header{"Retry-After": {"7"}},
			body:           body("rate_limit_error", "This request would exceed the rate limit for your organization of 50,000 input tokens per minute."),
			want:           provider.ErrRateLimited,
			wantRetryable:  true,
			wantRetryAfter: 7 * time.Second,
		},
		{
			name:           "429 with Retry-After date",
			status:         429,
			header:         http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}},
			body:           body("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"),
			want:           provider.ErrRateLimited,
			wantRetryable:  true,
			wantRetryAfter: 90 * time.Second,
		},
		{
			name:   "429 monthly spend cap",
			status: 429,
			body: `{"type":"error","error":{"type":"rate_limit_error","message":"You have reached your API usage limits: ` +
				`your organization has crossed its monthly API usage threshold.","details":{"error_code":"enforced_spend_limit_reached"}}}`,
			want: provider.ErrQuotaExceeded,
		},
		{
			name:   "429 spend cap by code only",
			status: 429,
			body:   `{"type":"error","error":{"type":"rate_limit_error","message":"paused","details":{"error_code":"enforced_spend_limit_reached"}}}`,
			want:   provider.ErrQuotaExceeded,
		},
		{
			name:          "500",
			status:        500,
			body:          body("api_error", "Internal server error"),
			want:          provider.ErrServerFailed,
			wantRetryable: true,
		},
		{
			name:          "502 from a proxy",
			status:        502,
			body:          "<html><body>Bad Gateway</body></html>",
			want:          provider.ErrServerFailed,
			wantRetryable: true,
			wantMessage:   "<html><body>Bad Gateway</body></html>",
		},
		{
			name:           "529 overloaded",
			status:         529,
			header:         http.Header{"Retry-After": {"3"}},
			body:           body("overloaded_error", "Overloaded"),
			want:           provider.ErrOverloaded,
			wantRetryable:  true,
			wantRetryAfter: 3 * time.Second,
			wantMessage:    "Overloaded",
		},
		{
			name:        "long message",
			status:      400,
			body:        body("invalid_request_error", strings.Repeat("é", 1000)),
			want:        provider.ErrRequestRejected,
			wantMessage: strings.Repeat("é", maxErrorMessage/2) + "...",
			// CleanReason cuts at 300 bytes.
			wantReason: strings.Repeat("é", 150) + "...",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			srv := httptest.NewServer(&fakeAnthropic{apiKey: testAPIKey, status: tt.status, header: tt.header, body: []byte(tt.body)})
			t.Cleanup(srv.Close)
			p := New(Config{Name: "anthropic", BaseURL: srv.URL, APIKey: testAPIKey, Now: func() time.Time { return now }})

			for call, err := range bothCalls(t, context.Background(), p, testRequest()) {
				if !errors.Is(err, tt.want) {
					t.Fatalf("%s: error = %v, want %v", call, err, tt.want)
				}
				if got := provider.Retryable(err); got != tt.wantRetryable {
					t.Errorf("%s: Retryable = %v, want %v", call, got, tt.wantRetryable)
				}
				if got, _ := provider.RetryAfter(err); got != tt.wantRetryAfter {
					t.Errorf("%s: RetryAfter = %v, want %v", call, got, tt.wantRetryAfter)
				}
				var pe *provider.Error
				if !errors.As(err, &pe) || pe.StatusCode != tt.status {
					t.Fatalf("%s: error %+v, want status %d", call, pe, tt.status)
				}
				if tt.wantMessage != "" && pe.Message != tt.wantMessage {
					t.Errorf("%s: message = %q, want %q", call, pe.Message, tt.wantMessage)
				}
				if pe.Reason != tt.wantReason {
					t.Errorf("%s: reason = %q, want %q", call, pe.Reason, tt.wantReason)
				}
				if strings.Contains(err.Error(), testAPIKey) {
					t.Errorf("%s: error %q holds the API key", call, err)
				}
			}
		})
	}
}

// TestWrongKey goes through the fake's own key check.
func TestWrongKey(t *testing.T) {
	t.Parallel()

	srv := httptest.NewServer(&fakeAnthropic{apiKey: "sk-ant-the-right-one"})
	t.Cleanup(srv.Close)
	p := New(Config{Name: "anthropic", BaseURL: srv.URL, APIKey: testAPIKey})
	for call, err := range bothCalls(t, context.Background(), p, testRequest()) {
		if !errors.Is(err, provider.ErrCredentialsRejected) || provider.Retryable(err) {
			t.Errorf("%s: error = %v, want ErrCredentialsRejected", call, err)
		}
		if strings.Contains(err.Error(), testAPIKey) {
			t.Errorf("%s: error %q holds the API key", call, err)
		}
	}
}

// TestAPIKeyNeverInErrors has servers and proxies echo the key back, in
// bodies, in events and cut at the length limit.
func TestAPIKeyNeverInErrors(t *testing.T) {
	t.Parallel()

	echo := "invalid x-api-key: " + testAPIKey
	cut := strings.Repeat("k", maxErrorMessage-25) + testAPIKey
	tests := []struct {
		name   string
		status int
		body   string
	}{
		{name: "401 echo", status: 401, body: evError("authentication_error", echo)},
		{name: "plain text echo", status: 403, body: echo},
		{name: "key across the cut", status: 500, body: cut},
		{name: "event echo", status: 200, body: string(sseBody("message_start", evMessageStart, "error", evError("api_error", echo)))},
		{name: "event text echo", status: 200, body: string(sseBody("message_start", evMessageStart, "error", echo))},
		{name: "event key across the cut", status: 200, body: string(sseBody("message_start", evMessageStart, "error", evError("api_error", cut)))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			p := startFake(t, &fakeAnthropic{status: tt.status, body: []byte(tt.body)})
			_, err := p.Stream(context.Background(), testRequest(), func(provider.Delta) error { return nil })
			if err == nil {
				t.Fatal("Stream succeeded")
			}
			if msg := err.Error(); strings.Contains(msg, testAPIKey) || strings.Contains(msg, testAPIKey[:20]) {
				t.Errorf("error %q holds the API key", msg)
			}
			if tt.status != 200 {
				_, err = p.Generate(context.Background(), testRequest())
				if msg := err.Error(); strings.Contains(msg, testAPIKey) || strings.Contains(msg, testAPIKey[:20]) {
					t.Errorf("Generate error %q holds the API key", msg)
				}
			}
		})
	}
}

func TestStreamErrors(t *testing.T) {
	t.Parallel()

	start := []string{"message_start", evMessageStart}
	text := []string{"content_block_start", evTextStart, "content_block_delta", evText(0, "Standard shipping")}
	events := func(groups ...[]string) []byte {
		var all []string
		for _, g := range groups {
			all = append(all, g...)
		}
		return sseBody(all...)
	}
	tests := []struct {
		name       string
		body       []byte
		want       error
		wantDeltas []string
		wantMsg    string
	}{
		{
			name:    "overloaded before any text",
			body:    events(start, []string{"ping", `{"type":"ping"}`, "error", evError("overloaded_error", "Overloaded")}),
			want:    provider.ErrOverloaded,
			wantMsg: "Overloaded",
		},
		{
			name:       "overloaded after some text",
			body:       events(start, text, []string{"error", evError("overloaded_error", "Overloaded")}),
			want:       provider.ErrOverloaded,
			wantDeltas: []string{"Standard shipping"},
		},
		{
			name: "rate limited in stream",
			body: events(start, []string{"error", evError("rate_limit_error", "slow down")}),
			want: provider.ErrRateLimited,
		},
		{
			name:       "api error in stream",
			body:       events(start, text, []string{"error", evError("api_error", "Internal server error")}),
			want:       provider.ErrServerFailed,
			wantDeltas: []string{"Standard shipping"},
			wantMsg:    "Internal server error",
		},
		{
			name: "unknown error type",
			body: events(start, []string{"error", evError("brand_new_error", "x")}),
			want: provider.ErrServerFailed,
		},
		{
			name: "error event with plain text",
			body: []byte("event: error\ndata: upstream went away\n\n"),
			want: provider.ErrServerFailed,
		},
		{
			name: "error type without event name",
			body: []byte("data: " + evError("overloaded_error", "Overloaded") + "\n\n"),
			want: provider.ErrOverloaded,
		},
		{
			name:       "cut off without message_stop",
			body:       events(start, text),
			want:       provider.ErrUnreachable,
			wantDeltas: []string{"Standard shipping"},
			wantMsg:    "stream ended early",
		},
		{
			name:       "cut off after message_delta",
			body:       events(start, text, []string{"content_block_stop", evTextStop, "message_delta", evEndTurn}),
			want:       provider.ErrUnreachable,
			wantDeltas: []string{"Standard shipping"},
		},
		{
			name: "empty body",
			body: nil,
			want: provider.ErrUnreachable,
		},
		{
			name:       "refusal after text",
			body:       events(start, text, []string{"content_block_stop", evTextStop, "message_delta", `{"type":"message_delta","delta":{"stop_reason":"refusal"},"usage":{"output_tokens":3}}`, "message_stop", evMessageStop}),
			want:       provider.ErrContentRefused,
			wantDeltas: []string{"Standard shipping"},
		},
		{
			name: "malformed event",
			body: []byte("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\n\n"),
			want: provider.ErrServerFailed,
		},
		{
			name: "tool input not JSON",
			body: events(start, []string{
				"content_block_start", evToolStart(0, "toolu_1", "lookup_order"),
				"content_block_delta", evJSON(0, `{"order_id": `),
				"content_block_stop", evStop(0),
			}),
			want: provider.ErrServerFailed,
		},
		{
			name: "delta for a block never started",
			body: events(start, []string{"content_block_delta", evText(3, "x")}),
			want: provider.ErrServerFailed,
		},
		{
			name: "line too long",
			body: []byte("event: ping\ndata: " + strings.Repeat("x", sse.MaxLine+1) + "\n\n"),
			want: provider.ErrServerFailed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			p := startFake(t, &fakeAnthropic{body: tt.body, chunkSize: 11})
			var (
				deltas []string
				calls  []provider.ToolCall
			)
			_, err := p.Stream(context.Background(), testRequest(), collect(&deltas, &calls))
			if !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
			if diff := cmp.Diff(tt.wantDeltas, deltas); diff != "" {
				t.Errorf("deltas before the error (-want +got):\n%s", diff)
			}
			if calls != nil {
				t.Errorf("tool calls emitted: %v", calls)
			}
			if tt.wantMsg != "" && !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q lacks %q", err, tt.wantMsg)
			}
		})
	}
}

func TestGenerateErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		body string
		want error
	}{
		{
			name: "refusal",
			body: `{"type":"message","role":"assistant","model":"m","content":[],"stop_reason":"refusal","usage":{"input_tokens":5,"output_tokens":0}}`,
			want: provider.ErrContentRefused,
		},
		{name: "malformed", body: `{"type":"message","content":[`, want: provider.ErrServerFailed},
		{name: "error object with 200", body: evError("overloaded_error", "Overloaded"), want: provider.ErrOverloaded},
		{
			name: "tool input not JSON",
			body: `{"type":"message","role":"assistant","model":"m","content":[{"type":"tool_use","id":"t","name":"n","input":"{"}],"stop_reason":"tool_use"}`,
			want: provider.ErrServerFailed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			p := startFake(t, &fakeAnthropic{body: []byte(tt.body)})
			_, err := p.Generate(context.Background(), testRequest())
			if !errors.Is(err, tt.want) {
				t.Errorf("error = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestErrorBodyBounded sends an error body far larger than the provider
// reads: the JSON is cut, so the status alone classifies it, and the message
// stays short and whole UTF-8.
func TestErrorBodyBounded(t *testing.T) {
	t.Parallel()

	body := evError("invalid_request_error", strings.Repeat("é", 400<<10))
	p := startFake(t, &fakeAnthropic{status: 400, body: []byte(body)})
	for call, err := range bothCalls(t, context.Background(), p, testRequest()) {
		var pe *provider.Error
		if !errors.As(err, &pe) || !errors.Is(err, provider.ErrRequestRejected) {
			t.Fatalf("%s: error = %v, want ErrRequestRejected", call, err)
		}
		if len(pe.Message) > maxErrorMessage+len("...") || !utf8.ValidString(pe.Message) {
			t.Errorf("%s: message of %d bytes, valid UTF-8 %v", call, len(pe.Message), utf8.ValidString(pe.Message))
		}
	}
}

func TestGenerateBodyTooLarge(t *testing.T) {
	t.Parallel()

	body := `{"type":"message","role":"assistant","model":"m","content":[{"type":"text","text":"` +
		strings.Repeat("a", maxResponseBody) + `"}],"stop_reason":"end_turn"}`
	p := startFake(t, &fakeAnthropic{body: []byte(body)})
	_, err := p.Generate(context.Background(), testRequest())
	if !errors.Is(err, provider.ErrServerFailed) || !strings.Contains(err.Error(), "too large") {
		t.Errorf("error = %v, want ErrServerFailed for a body that is too large", err)
	}
}

func TestTransportErrors(t *testing.T) {
	t.Parallel()

	t.Run("silent server, deadline passes", func(t *testing.T) {
		t.Parallel()

		url := newStreamServer(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
		p := New(Config{Name: "anthropic", BaseURL: url, APIKey: testAPIKey})
		for call, err := range bothCalls(t, shortDeadline(t), p, testRequest()) {
			if !errors.Is(err, provider.ErrTimedOut) || !provider.Retryable(err) {
				t.Errorf("%s: error = %v, want ErrTimedOut", call, err)
			}
		}
	})

	t.Run("stream goes silent after message_start", func(t *testing.T) {
		t.Parallel()

		url := newStreamServer(t, func(w http.ResponseWriter, r *http.Request) {
			writeChunked(w, sseBody("message_start", evMessageStart, "content_block_start", evTextStart,
				"content_block_delta", evText(0, "Hel")), 0)
			<-r.Context().Done()
		})
		p := New(Config{Name: "anthropic", BaseURL: url, APIKey: testAPIKey})
		var texts []string
		_, err := p.Stream(shortDeadline(t), testRequest(), func(d provider.Delta) error {
			texts = append(texts, d.Text)
			return nil
		})
		if !errors.Is(err, provider.ErrTimedOut) {
			t.Errorf("error = %v, want ErrTimedOut", err)
		}
		if !cmp.Equal(texts, []string{"Hel"}) {
			t.Errorf("deltas = %q", texts)
		}
	})

	t.Run("caller cancels mid-stream", func(t *testing.T) {
		t.Parallel()

		url := newStreamServer(t, func(w http.ResponseWriter, r *http.Request) {
			writeChunked(w, sseBody("message_start", evMessageStart, "content_block_start", evTextStart,
				"content_block_delta", evText(0, "Hel")), 0)
			<-r.Context().Done()
		})
		p := New(Config{Name: "anthropic", BaseURL: url, APIKey: testAPIKey})
		ctx, cancel := context.WithTimeout(context.Background(), testWait)
		defer cancel()
		_, err := p.Stream(ctx, testRequest(), func(provider.Delta) error {
			cancel()
			return nil
		})
		var pe *provider.Error
		if !errors.Is(err, context.Canceled) || errors.As(err, &pe) {
			t.Errorf("error = %v, want context.Canceled as it is", err)
		}
	})

	t.Run("caller cancels before the reply", func(t *testing.T) {
		t.Parallel()

		url := newStreamServer(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
		p := New(Config{Name: "anthropic", BaseURL: url})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for call, err := range bothCalls(t, ctx, p, testRequest()) {
			if err != context.Canceled {
				t.Errorf("%s: error = %v, want context.Canceled as it is", call, err)
			}
		}
	})

	t.Run("connection refused", func(t *testing.T) {
		t.Parallel()

		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		p := New(Config{Name: "anthropic", BaseURL: url, APIKey: testAPIKey})
		for call, err := range bothCalls(t, context.Background(), p, testRequest()) {
			if !errors.Is(err, provider.ErrUnreachable) || !provider.Retryable(err) {
				t.Errorf("%s: error = %v, want ErrUnreachable", call, err)
			}
			if strings.Contains(err.Error(), testAPIKey) {
				t.Errorf("%s: error %q holds the API key", call, err)
			}
		}
	})

	t.Run("connection closed before a response", func(t *testing.T) {
		t.Parallel()

		url := newStreamServer(t, func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close()
			}
		})
		p := New(Config{Name: "anthropic", BaseURL: url, APIKey: testAPIKey})
		for call, err := range bothCalls(t, context.Background(), p, testRequest()) {
			if !errors.Is(err, provider.ErrUnreachable) {
				t.Errorf("%s: error = %v, want ErrUnreachable", call, err)
			}
		}
	})

	t.Run("connection reset mid-stream", func(t *testing.T) {
		t.Parallel()

		url := newStreamServer(t, func(w http.ResponseWriter, r *http.Request) {
			conn, buf, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			events := string(sseBody("message_start", evMessageStart))
			_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n" +
				"Content-Length: 100000\r\n\r\n" + events)
			_ = buf.Flush()
			if tcp, ok := conn.(*net.TCPConn); ok {
				_ = tcp.SetLinger(0) // close with a reset
			}
		})
		p := New(Config{Name: "anthropic", BaseURL: url})
		_, err := p.Stream(context.Background(), testRequest(), func(provider.Delta) error { return nil })
		if !errors.Is(err, provider.ErrUnreachable) {
			t.Errorf("error = %v, want ErrUnreachable", err)
		}
	})
}

// shortDeadline returns a context whose deadline passes soon, to end calls
// to servers that never answer.
func shortDeadline(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	t.Cleanup(cancel)
	return ctx
}

func TestClassifiers(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		kind string
		want error
	}{
		{"overloaded_error", provider.ErrOverloaded},
		{"rate_limit_error", provider.ErrRateLimited},
		{"invalid_request_error", provider.ErrRequestRejected},
		{"authentication_error", provider.ErrCredentialsRejected},
		{"permission_error", provider.ErrCredentialsRejected},
		{"billing_error", provider.ErrQuotaExceeded},
		{"not_found_error", provider.ErrRequestRejected},
		{"request_too_large", provider.ErrContextTooLong},
		{"api_error", provider.ErrServerFailed},
		{"timeout_error", provider.ErrServerFailed},
	} {
		if err := eventError(&apiError{Type: tt.kind, Message: "m"}); !errors.Is(err, tt.want) {
			t.Errorf("eventError(%s) = %v, want %v", tt.kind, err, tt.want)
		}
	}
	if err := eventError(&apiError{Type: "invalid_request_error", Message: "prompt is too long: 300000 tokens > 200000 maximum"}); !errors.Is(err, provider.ErrContextTooLong) {
		t.Errorf("prompt too long in stream = %v", err)
	}
}
