package gemini

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/keelhq/keel/services/router/internal/provider"
)

func TestHTTPErrors(t *testing.T) {
	t.Parallel()

	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	googleError := func(code int, status, message, details string) string {
		if details == "" {
			details = "[]"
		}
		return fmt.Sprintf(`{"error":{"code":%d,"message":%q,"status":%q,"details":%s}}`, code, message, status, details)
	}
	const (
		retryInfo17    = `{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"17s"}`
		perMinute      = `{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaMetric":"generativelanguage.googleapis.com/generate_content_free_tier_requests","quotaId":"GenerateRequestsPerMinutePerProjectPerModel-FreeTier","quotaDimensions":{"location":"global","model":"gemini-2.5-flash"}}]}`
		perDay         = `{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaMetric":"generativelanguage.googleapis.com/generate_content_free_tier_requests","quotaId":"GenerateRequestsPerDayPerProjectPerModel-FreeTier","quotaDimensions":{"location":"global","model":"gemini-2.5-flash"}}]}`
		helpLink       = `{"@type":"type.googleapis.com/google.rpc.Help","links":[{"description":"Learn more about Gemini API quotas","url":"https://ai.google.dev/gemini-api/docs/rate-limits"}]}`
		apiKeyInvalid  = `{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com","metadata":{"service":"generativelanguage.googleapis.com"}}`
		quotaBoiler    = "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits."
		exhaustedPlain = "Resource has been exhausted (e.g. check quota)."
	)
	tests := []struct {
		name           string
		status         int
		header         http.Header
		body           string
		want           error
		wantRetryable  bool
		wantRetryAfter time.Duration
		// wantReason is what the caller may read; empty for every error
		// that is not a refused request.
		wantReason string
	}{
		{
			name:       "400 invalid argument",
			status:     400,
			body:       googleError(400, "INVALID_ARGUMENT", "Invalid JSON payload received. Unknown name \"foo\": Cannot find field.", ""),
			want:       provider.ErrRequestRejected,
			wantReason: "Invalid JSON payload received. Unknown name \"foo\": Cannot find field.",
		},
		{
			name:       "400 failed precondition",
			status:     400,
			body:       googleError(400, "FAILED_PRECONDITION", "User location is not supported for the API use.", ""),
			want:       provider.ErrRequestRejected,
			wantReason: "User location is not supported for the API use.",
		},
		{
			// The key out, no control characters.
			name:   "400 echoing the key with terminal codes",
			status: 400,
			body: `{"error":{"code":400,"status":"INVALID_ARGUMENT","message":` +
				`"bad value \u001b[31mfor\r\n x in key=` + testAPIKey + `"}}`,
			want:       provider.ErrRequestRejected,
			wantReason: "bad value [31mfor x in key=[redacted]",
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
			body:   googleError(409, "ABORTED", "The operation was aborted.", ""),
			want:   provider.ErrRequestRejected,
		},
		{
			name:   "400 input token count",
			status: 400,
			body:   googleError(400, "INVALID_ARGUMENT", "The input token count (1200293) exceeds the maximum number of tokens allowed (1048576).", ""),
			want:   provider.ErrContextTooLong,
		},
		{
			name:   "400 API key not valid",
			status: 400,
			body:   googleError(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", "["+apiKeyInvalid+"]"),
			want:   provider.ErrCredentialsRejected,
		},
		{
			name:   "401 unauthenticated",
			status: 401,
			body:   googleError(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.", ""),
			want:   provider.ErrCredentialsRejected,
		},
		{
			name:   "403 permission denied echoing the key",
			status: 403,
			body:   googleError(403, "PERMISSION_DENIED", "Permission denied: consumer 'api_key:"+testAPIKey+"' has been suspended.", ""),
			want:   provider.ErrCredentialsRejected,
		},
		{
			name:   "404 model not found",
			status: 404,
			body:   googleError(404, "NOT_FOUND", "models/gemini-9-ultra is not found for API version v1beta, or is not supported for generateContent.", ""),
			want:   provider.ErrModelUnavailable,
		},
		{
			name:           "429 with RetryInfo",
			status:         429,
			body:           googleError(429, "RESOURCE_EXHAUSTED", quotaBoiler+" Please retry in 17.5s.", "["+perMinute+","+helpLink+","+retryInfo17+"]"),
			want:           provider.ErrRateLimited,
			wantRetryable:  true,
			wantRetryAfter: 17 * time.Second,
		},
		{
			name:           "429 RetryInfo preferred to Retry-After",
			status:         429,
			header:         http.Header{"Retry-After": {"30"}},
			body:           googleError(429, "RESOURCE_EXHAUSTED", exhaustedPlain, `[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"0.250s"}]`),
			want:           provider.ErrRateLimited,
			wantRetryable:  true,
			wantRetryAfter: 250 * time.Millisecond,
		},
		{
			name:           "429 with Retry-After date only",
			status:         429,
			header:         http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}},
			body:           googleError(429, "RESOURCE_EXHAUSTED", exhaustedPlain, ""),
			want:           provider.ErrRateLimited,
			wantRetryable:  true,
			wantRetryAfter: 90 * time.Second,
		},
		{
			name:           "429 with an unusable RetryInfo falls back to Retry-After",
			status:         429,
			header:         http.Header{"Retry-After": {"4"}},
			body:           googleError(429, "RESOURCE_EXHAUSTED", exhaustedPlain, `[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"soon"}]`),
			want:           provider.ErrRateLimited,
			wantRetryable:  true,
			wantRetryAfter: 4 * time.Second,
		},
		{
			name:          "429 without a delay",
			status:        429,
			body:          googleError(429, "RESOURCE_EXHAUSTED", exhaustedPlain, ""),
			want:          provider.ErrRateLimited,
			wantRetryable: true,
		},
		{
			name:   "429 per-day quota",
			status: 429,
			body:   googleError(429, "RESOURCE_EXHAUSTED", quotaBoiler, "["+perDay+","+helpLink+","+retryInfo17+"]"),
			want:   provider.ErrQuotaExceeded,
		},
		{
			name:   "429 exhausted plan without a delay",
			status: 429,
			body:   googleError(429, "RESOURCE_EXHAUSTED", quotaBoiler, "["+helpLink+"]"),
			want:   provider.ErrQuotaExceeded,
		},
		{
			name:          "500 internal",
			status:        500,
			body:          googleError(500, "INTERNAL", "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting", ""),
			want:          provider.ErrServerFailed,
			wantRetryable: true,
		},
		{
			name:          "503 unavailable",
			status:        503,
			body:          googleError(503, "UNAVAILABLE", "The model is overloaded. Please try again later.", ""),
			want:          provider.ErrOverloaded,
			wantRetryable: true,
		},
		{
			name:           "503 with Retry-After",
			status:         503,
			header:         http.Header{"Retry-After": {"3"}},
			body:           googleError(503, "UNAVAILABLE", "The service is currently unavailable.", ""),
			want:           provider.ErrOverloaded,
			wantRetryable:  true,
			wantRetryAfter: 3 * time.Second,
		},
		{
			name:          "504 deadline exceeded",
			status:        504,
			body:          googleError(504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete.", ""),
			want:          provider.ErrTimedOut,
			wantRetryable: true,
		},
		{
			name:          "502 from a proxy",
			status:        502,
			body:          "<html><body>Bad Gateway</body></html>",
			want:          provider.ErrServerFailed,
			wantRetryable: true,
		},
		{
			name:   "huge error body",
			status: 400,
			body:   googleError(400, "INVALID_ARGUMENT", strings.Repeat("é", 100<<10), ""),
			want:   provider.ErrRequestRejected,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			f := &fakeGemini{status: tt.status, header: tt.header, body: []byte(tt.body)}
			srv := startFakeHandler(t, f)
			p := New(Config{Name: "gemini", BaseURL: srv + "/v1beta", APIKey: testAPIKey, Now: func() time.Time { return now }})

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
				if got, _ := provider.RetryAfter(err); got != tt.wantRetryAfter {
					t.Errorf("RetryAfter = %v, want %v", got, tt.wantRetryAfter)
				}
				var pe *provider.Error
				if !errors.As(err, &pe) || pe.StatusCode != tt.status {
					t.Errorf("status = %+v, want %d", pe, tt.status)
				}
				if len(pe.Message) > maxErrorMessage+len("...") {
					t.Errorf("message of %d bytes, want at most %d", len(pe.Message), maxErrorMessage)
				}
				if pe.Reason != tt.wantReason {
					t.Errorf("reason = %q, want %q", pe.Reason, tt.wantReason)
				}
				if strings.Contains(err.Error(), testAPIKey) {
					t.Errorf("the API key leaked into the error: %v", err)
				}
			}
		})
	}
}

// TestWrongKey uses the fake server's own check of the key, which answers
// as Gemini does: 400 "API key not valid".
func TestWrongKey(t *testing.T) {
	t.Parallel()

	srv := startFakeHandler(t, &fakeGemini{body: fixture(t, "generate.json")})
	p := New(Config{BaseURL: srv + "/v1beta", APIKey: "AIzaSyWRONG-key-9876543210"})
	_, err := p.Generate(context.Background(), testRequest())
	if !errors.Is(err, provider.ErrCredentialsRejected) || provider.Retryable(err) {
		t.Errorf("error = %v, want ErrCredentialsRejected, not retryable", err)
	}
	if strings.Contains(err.Error(), "AIzaSyWRONG") {
		t.Errorf("the API key leaked into the error: %v", err)
	}
}

func TestTransportErrors(t *testing.T) {
	t.Parallel()

	streamCall := func(p *Provider, ctx context.Context) error {
		_, err := p.Stream(ctx, testRequest(), func(provider.Delta) error { return nil })
		return err
	}
	generateCall := func(p *Provider, ctx context.Context) error {
		_, err := p.Generate(ctx, testRequest())
		return err
	}

	t.Run("silent server, generate", func(t *testing.T) {
		t.Parallel()
		p := New(Config{BaseURL: silentServer(t, false) + "/v1beta", APIKey: testAPIKey})
		ctx, cancel := context.WithTimeout(context.Background(), shortDeadline)
		defer cancel()
		checkTimedOut(t, generateCall(p, ctx))
	})
	t.Run("silent server, stream", func(t *testing.T) {
		t.Parallel()
		p := New(Config{BaseURL: silentServer(t, false) + "/v1beta", APIKey: testAPIKey})
		ctx, cancel := context.WithTimeout(context.Background(), shortDeadline)
		defer cancel()
		checkTimedOut(t, streamCall(p, ctx))
	})
	t.Run("stream goes silent after the headers", func(t *testing.T) {
		t.Parallel()
		p := New(Config{BaseURL: silentServer(t, true) + "/v1beta", APIKey: testAPIKey})
		ctx, cancel := context.WithTimeout(context.Background(), shortDeadline)
		defer cancel()
		checkTimedOut(t, streamCall(p, ctx))
	})
	t.Run("nothing listens", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		p := New(Config{BaseURL: "http://" + addr + "/v1beta", APIKey: testAPIKey})
		for _, call := range []func(*Provider, context.Context) error{generateCall, streamCall} {
			checkUnreachable(t, call(p, context.Background()))
		}
	})
	t.Run("connection closed before a response", func(t *testing.T) {
		t.Parallel()
		srv := startFakeHandler(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}))
		p := New(Config{BaseURL: srv + "/v1beta", APIKey: testAPIKey})
		for _, call := range []func(*Provider, context.Context) error{generateCall, streamCall} {
			checkUnreachable(t, call(p, context.Background()))
		}
	})
	t.Run("connection cut in the middle of a stream", func(t *testing.T) {
		t.Parallel()
		srv := startFakeHandler(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			event := "data: " + `{"candidates":[{"content":{"role":"model","parts":[{"text":"Hel"}]}}]}` + "\r\n\r\n"
			fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
			fmt.Fprintf(buf, "%x\r\n%s\r\n", len(event), event)
			// Half of the next chunk, then the connection drops.
			fmt.Fprintf(buf, "40\r\ndata: {\"candid")
			_ = buf.Flush()
		}))
		p := New(Config{BaseURL: srv + "/v1beta", APIKey: testAPIKey})
		var deltas []string
		_, err := p.Stream(context.Background(), testRequest(), func(d provider.Delta) error {
			deltas = append(deltas, d.Text)
			return nil
		})
		checkUnreachable(t, err)
		if len(deltas) != 1 || deltas[0] != "Hel" {
			t.Errorf("deltas = %q, want the text before the cut", deltas)
		}
	})
	t.Run("caller cancels before sending", func(t *testing.T) {
		t.Parallel()
		p := New(Config{BaseURL: "http://127.0.0.1:1/v1beta", APIKey: testAPIKey})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for _, call := range []func(*Provider, context.Context) error{generateCall, streamCall} {
			err := call(p, ctx)
			var pe *provider.Error
			if !errors.Is(err, context.Canceled) || errors.As(err, &pe) || provider.Retryable(err) {
				t.Errorf("error = %v, want context.Canceled as it is", err)
			}
		}
	})
	t.Run("caller cancels in the middle of a stream", func(t *testing.T) {
		t.Parallel()
		srv := startFakeHandler(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeChunked(w, sseBody(`{"candidates":[{"content":{"role":"model","parts":[{"text":"Hel"}]}}]}`), 0)
			<-r.Context().Done()
		}))
		p := New(Config{BaseURL: srv + "/v1beta", APIKey: testAPIKey})
		ctx, cancel := context.WithCancel(context.Background())
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
}

func checkTimedOut(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, provider.ErrTimedOut) || !provider.Retryable(err) {
		t.Errorf("error = %v, want retryable ErrTimedOut", err)
	}
	if err != nil && strings.Contains(err.Error(), testAPIKey) {
		t.Errorf("the API key leaked into the error: %v", err)
	}
}

func checkUnreachable(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, provider.ErrUnreachable) || !provider.Retryable(err) {
		t.Errorf("error = %v, want retryable ErrUnreachable", err)
	}
	if err != nil && strings.Contains(err.Error(), testAPIKey) {
		t.Errorf("the API key leaked into the error: %v", err)
	}
}

func TestParseDuration(t *testing.T) {
	t.Parallel()

	tests := map[string]time.Duration{
		"17s":           17 * time.Second,
		"45.837906927s": 45837906927 * time.Nanosecond,
		" 0.5s ":        500 * time.Millisecond,
		"0s":            0,
		"-3s":           0,
		"17":            0,
		"17ms":          0,
		"1e9s":          0,
		"NaNs":          0,
		"":              0,
	}
	for in, want := range tests {
		got, ok := parseDuration(in)
		if got != want || ok != (want > 0) {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
}

func TestScrub(t *testing.T) {
	t.Parallel()

	cause := fmt.Errorf("dial: %w", context.DeadlineExceeded)
	leaky := &provider.Error{
		Class:   provider.ErrTimedOut,
		Message: "key " + testAPIKey + " refused",
		Err:     fmt.Errorf("proxy said %s: %w", testAPIKey, cause),
	}
	err := scrub(leaky, testAPIKey)
	if strings.Contains(err.Error(), testAPIKey) {
		t.Errorf("redacted error still holds the key: %v", err)
	}
	if !errors.Is(err, provider.ErrTimedOut) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("redaction lost the error chain: %v", err)
	}
	if strings.Contains(leaky.Message, "[redacted]") {
		t.Errorf("scrub changed its argument")
	}

	// The key is removed before the message is cut, so no prefix of it
	// survives at the cut.
	long := &provider.Error{Class: provider.ErrRequestRejected, Message: strings.Repeat("x", maxErrorMessage-10) + testAPIKey}
	if got := scrub(long, testAPIKey).Error(); strings.Contains(got, testAPIKey[:8]) {
		t.Errorf("part of the key survived the cut: %q", got)
	}

	plain := errors.New("no secrets here")
	if scrub(plain, testAPIKey) != plain || scrub(plain, "") != plain {
		t.Errorf("an error without the key must pass unchanged")
	}
	wrapped := scrub(fmt.Errorf("bare %s", testAPIKey), testAPIKey)
	if strings.Contains(wrapped.Error(), testAPIKey) {
		t.Errorf("bare error still holds the key: %v", wrapped)
	}
}

func TestShortenKeepsUTF8(t *testing.T) {
	t.Parallel()

	s := shorten(strings.Repeat("é", maxErrorMessage))
	if !strings.HasSuffix(s, "...") || len(s) > maxErrorMessage+3 {
		t.Fatalf("shorten = %q", s)
	}
	if !utf8.ValidString(s) {
		t.Errorf("shorten split a character: %q", s)
	}
}
