package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// testNow is the fixed clock of the retry tests, whole seconds so that
// HTTP dates hold it exactly.
var testNow = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

// rawVectorBody returns a successful response of wire holding one vector
// whose JSON values are values.
func rawVectorBody(wire wireFormat, values string) string {
	if wire.name == ProviderGemini {
		return fmt.Sprintf(`{"embeddings":[{"values":[%s]}]}`, values)
	}
	return fmt.Sprintf(`{"object":"list","data":[{"object":"embedding","index":0,"embedding":[%s]}],"model":"m"}`, values)
}

// rateLimitCode is the error code each provider sends with a plain 429.
func rateLimitCode(wire wireFormat) string {
	if wire.name == ProviderGemini {
		return "RESOURCE_EXHAUSTED"
	}
	return "rate_limit_exceeded"
}

// TestProviderConformance runs both clients, behind a Retrier, against fake
// servers speaking their wire formats.
func TestProviderConformance(t *testing.T) {
	t.Parallel()
	const dims = 4

	for _, wire := range []wireFormat{openAIWire, geminiWire} {
		t.Run(wire.name, func(t *testing.T) {
			t.Parallel()

			tests := []struct {
				name         string
				script       []reply
				texts        []string
				wantErr      error
				wantInErr    []string
				wantRequests int
				wantWaits    []time.Duration
			}{
				{
					name:         "success",
					texts:        []string{"refund policy", "shipping times", "gift cards"},
					wantRequests: 1,
				},
				{
					name: "429 with Retry-After seconds then success",
					script: []reply{status(http.StatusTooManyRequests, http.Header{"Retry-After": {"7"}},
						wire.errorBody(429, rateLimitCode(wire), "slow down"))},
					texts:        []string{"refund policy"},
					wantRequests: 2,
					wantWaits:    []time.Duration{7 * time.Second},
				},
				{
					name: "429 with Retry-After date then success",
					script: []reply{status(http.StatusTooManyRequests,
						http.Header{"Retry-After": {testNow.Add(45 * time.Second).Format(http.TimeFormat)}},
						wire.errorBody(429, rateLimitCode(wire), "slow down"))},
					texts:        []string{"refund policy"},
					wantRequests: 2,
					wantWaits:    []time.Duration{45 * time.Second},
				},
				{
					name:         "500 then success",
					script:       []reply{status(500, nil, wire.errorBody(500, "INTERNAL", "oops"))},
					texts:        []string{"refund policy"},
					wantRequests: 2,
					wantWaits:    []time.Duration{50 * time.Millisecond},
				},
				{
					name: "408 and 503 then success",
					script: []reply{
						status(408, nil, "request timeout"),
						status(503, nil, "<html>unavailable</html>"),
					},
					texts:        []string{"refund policy"},
					wantRequests: 3,
					wantWaits:    []time.Duration{50 * time.Millisecond, 100 * time.Millisecond},
				},
				{
					name:         "connection reset then success",
					script:       []reply{resetConnection},
					texts:        []string{"refund policy"},
					wantRequests: 2,
					wantWaits:    []time.Duration{50 * time.Millisecond},
				},
				{
					name: "retries run out",
					script: []reply{
						status(502, nil, "bad gateway"), status(502, nil, "bad gateway"),
						status(502, nil, "bad gateway"), status(502, nil, "bad gateway"),
					},
					texts:        []string{"refund policy"},
					wantErr:      ErrServerFailed,
					wantInErr:    []string{"after 4 attempts", "status 502", "bad gateway"},
					wantRequests: 4,
					wantWaits:    []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond},
				},
				{
					name:         "400 is permanent",
					script:       []reply{status(400, nil, wire.errorBody(400, "invalid_request_error", "input is too long"))},
					texts:        []string{"refund policy"},
					wantErr:      ErrRequestRejected,
					wantInErr:    []string{wire.name, "status 400", "input is too long"},
					wantRequests: 1,
				},
				{
					name: "401 is permanent and hides the key",
					script: []reply{status(401, nil,
						wire.errorBody(401, "invalid_api_key", "Incorrect API key provided: "+testKey))},
					texts:        []string{"refund policy"},
					wantErr:      ErrCredentialsRejected,
					wantInErr:    []string{wire.name, "status 401", "Incorrect API key provided: [redacted]"},
					wantRequests: 1,
				},
				{
					name:         "malformed JSON",
					script:       []reply{raw(`{"data": [`)},
					texts:        []string{"refund policy"},
					wantErr:      ErrMalformedResponse,
					wantRequests: 1,
				},
				{
					name: "wrong count",
					script: []reply{func(w http.ResponseWriter, _ *http.Request, texts []string) {
						wire.success(w, fakeVectors(texts[:1], dims))
					}},
					texts:        []string{"refund policy", "shipping times"},
					wantErr:      ErrMalformedResponse,
					wantInErr:    []string{"1 embeddings for 2 texts"},
					wantRequests: 1,
				},
				{
					name: "wrong dimension",
					script: []reply{func(w http.ResponseWriter, _ *http.Request, texts []string) {
						wire.success(w, fakeVectors(texts, dims-1))
					}},
					texts:        []string{"refund policy"},
					wantErr:      ErrDimensionMismatch,
					wantInErr:    []string{"3 dimensions, want 4"},
					wantRequests: 1,
				},
				{
					name:         "NaN",
					script:       []reply{raw(rawVectorBody(wire, "0.1, NaN, 0.2, 0.3"))},
					texts:        []string{"refund policy"},
					wantErr:      ErrMalformedResponse,
					wantRequests: 1,
				},
				{
					name:         "value beyond float32",
					script:       []reply{raw(rawVectorBody(wire, "0.1, 1e999, 0.2, 0.3"))},
					texts:        []string{"refund policy"},
					wantErr:      ErrMalformedResponse,
					wantRequests: 1,
				},
				{
					name:         "blank texts are not sent",
					texts:        []string{"", "refund policy", " \n\t"},
					wantRequests: 1,
				},
				{
					name:         "only blank texts",
					texts:        []string{"", "  "},
					wantRequests: 0,
				},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					fake := newFakeProvider(t, wire, dims, tt.script...)
					r, sleeps := testRetrier(fake.client(t, clientOptions{now: func() time.Time { return testNow }}), testNow)

					got, err := r.Embed(context.Background(), tt.texts)

					mustNotContainKey(t, err)
					if tt.wantErr != nil {
						if !errors.Is(err, tt.wantErr) {
							t.Fatalf("Embed() error = %v, want %v", err, tt.wantErr)
						}
						for _, want := range tt.wantInErr {
							if !strings.Contains(err.Error(), want) {
								t.Errorf("Embed() error = %q, want it to mention %q", err, want)
							}
						}
					} else if err != nil {
						t.Fatalf("Embed() error = %v", err)
					}
					if tt.wantErr == nil {
						if diff := cmp.Diff(wantVectors(tt.texts, dims), got); diff != "" {
							t.Errorf("vectors mismatch (-want +got):\n%s", diff)
						}
					}
					if n := len(fake.requests()); n != tt.wantRequests {
						t.Errorf("provider got %d requests, want %d", n, tt.wantRequests)
					}
					if diff := cmp.Diff(tt.wantWaits, sleeps.recorded()); diff != "" {
						t.Errorf("retry waits mismatch (-want +got):\n%s", diff)
					}
				})
			}
		})
	}
}

// wantVectors returns the vectors the fake providers give texts: the fake
// vector of every text, and zeros for blank ones.
func wantVectors(texts []string, dims int) [][]float32 {
	out := make([][]float32, len(texts))
	for i, text := range texts {
		if strings.TrimSpace(text) == "" {
			out[i] = make([]float32, dims)
			continue
		}
		out[i] = fakeVector(text, dims)
	}
	return out
}

func TestProviderBlankTextsStayLocal(t *testing.T) {
	t.Parallel()

	for _, wire := range []wireFormat{openAIWire, geminiWire} {
		t.Run(wire.name, func(t *testing.T) {
			t.Parallel()
			fake := newFakeProvider(t, wire, 4)

			if _, err := fake.client(t, clientOptions{}).Embed(context.Background(), []string{"", "a", "\n", "b"}); err != nil {
				t.Fatalf("Embed: %v", err)
			}
			reqs := fake.requests()
			if len(reqs) != 1 {
				t.Fatalf("provider got %d requests, want 1", len(reqs))
			}
			if diff := cmp.Diff([]string{"a", "b"}, reqs[0].texts); diff != "" {
				t.Errorf("sent texts mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestProviderCancelMidRequest(t *testing.T) {
	t.Parallel()

	for _, wire := range []wireFormat{openAIWire, geminiWire} {
		t.Run(wire.name, func(t *testing.T) {
			t.Parallel()
			arrived := make(chan struct{})
			fake := newFakeProvider(t, wire, 4, func(_ http.ResponseWriter, r *http.Request, _ []string) {
				close(arrived)
				<-r.Context().Done()
			})
			r, sleeps := testRetrier(fake.client(t, clientOptions{}), testNow)

			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				<-arrived
				cancel()
			}()
			_, err := r.Embed(ctx, []string{"refund policy"})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Embed() error = %v, want context.Canceled", err)
			}
			if n := len(fake.requests()); n != 1 {
				t.Errorf("provider got %d requests, want 1", n)
			}
			if waits := sleeps.recorded(); len(waits) != 0 {
				t.Errorf("retrier waited %v after a cancellation", waits)
			}
		})
	}
}

func TestProviderRequestTimeout(t *testing.T) {
	t.Parallel()

	for _, wire := range []wireFormat{openAIWire, geminiWire} {
		t.Run(wire.name, func(t *testing.T) {
			t.Parallel()
			stall := func(_ http.ResponseWriter, r *http.Request, _ []string) { <-r.Context().Done() }
			fake := newFakeProvider(t, wire, 4, stall)
			r, sleeps := testRetrier(fake.client(t, clientOptions{timeout: 20 * time.Millisecond}), testNow)

			// The first request times out on its own and is sent again.
			got, err := r.Embed(context.Background(), []string{"refund policy"})
			if err != nil {
				t.Fatalf("Embed: %v", err)
			}
			if diff := cmp.Diff(wantVectors([]string{"refund policy"}, 4), got); diff != "" {
				t.Errorf("vectors mismatch (-want +got):\n%s", diff)
			}
			if n, waits := len(fake.requests()), len(sleeps.recorded()); n != 2 || waits != 1 {
				t.Errorf("provider got %d requests after %d waits, want 2 after 1", n, waits)
			}
		})
	}
}

func TestProviderTimeoutIsClassified(t *testing.T) {
	t.Parallel()
	stall := func(_ http.ResponseWriter, r *http.Request, _ []string) { <-r.Context().Done() }
	fake := newFakeProvider(t, openAIWire, 4, stall)

	_, err := fake.client(t, clientOptions{timeout: 20 * time.Millisecond}).Embed(context.Background(), []string{"x"})
	if !errors.Is(err, ErrTimedOut) || !Retryable(err) {
		t.Errorf("Embed() error = %v, want a retryable ErrTimedOut", err)
	}
}
