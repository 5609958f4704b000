package provider

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestOpenAIRequest(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name           string
		apiKey         string
		sendDimensions bool
		wantAuth       string
		wantDims       any
	}{
		{name: "with key and dimensions", apiKey: testKey, sendDimensions: true, wantAuth: "Bearer " + testKey, wantDims: float64(8)},
		{name: "local server without key", apiKey: "", sendDimensions: false, wantAuth: "", wantDims: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := newFakeProvider(t, openAIWire, 8)
			c, err := NewOpenAI(OpenAIConfig{
				BaseURL: fake.srv.URL + "/v1/", Model: "nomic-embed-text", Dimensions: 8,
				SendDimensions: tt.sendDimensions, APIKey: tt.apiKey,
			})
			if err != nil {
				t.Fatal(err)
			}

			if _, err := c.Embed(context.Background(), []string{"refund", "shipping"}); err != nil {
				t.Fatalf("Embed: %v", err)
			}
			reqs := fake.requests()
			if len(reqs) != 1 {
				t.Fatalf("got %d requests, want 1", len(reqs))
			}
			req := reqs[0]
			if req.path != "/v1/embeddings" {
				t.Errorf("path = %q, want /v1/embeddings", req.path)
			}
			if got := req.header.Get("Authorization"); got != tt.wantAuth {
				t.Errorf("Authorization = %q, want %q", got, tt.wantAuth)
			}
			if got := req.header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q", got)
			}
			want := map[string]any{
				"model":           "nomic-embed-text",
				"input":           []any{"refund", "shipping"},
				"encoding_format": "float",
			}
			if tt.wantDims != nil {
				want["dimensions"] = tt.wantDims
			}
			if diff := cmp.Diff(want, req.body); diff != "" {
				t.Errorf("request body mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOpenAIPlacesVectorsByIndex(t *testing.T) {
	t.Parallel()
	texts := []string{"first", "second", "third"}
	reversed := func(w http.ResponseWriter, _ *http.Request, texts []string) {
		writeOpenAI(w, fakeVectors(texts, 4), func(i int) int { return len(texts) - 1 - i })
	}
	fake := newFakeProvider(t, openAIWire, 4, reversed)

	got, err := fake.client(t, clientOptions{}).Embed(context.Background(), texts)
	if err != nil {
		t.Fatalf("Embed: %v", err)
	}
	if diff := cmp.Diff(fakeVectors(texts, 4), got); diff != "" {
		t.Errorf("vectors mismatch (-want +got):\n%s", diff)
	}
}

func TestOpenAIRefusesBadIndexes(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		body string
		want string
	}{
		{
			name: "duplicate",
			body: `{"object":"list","data":[{"index":0,"embedding":[1,2]},{"index":0,"embedding":[3,4]}]}`,
			want: "index 0 repeated",
		},
		{
			name: "missing",
			body: `{"object":"list","data":[{"index":0,"embedding":[1,2]},{"embedding":[3,4]}]}`,
			want: "has no index",
		},
		{
			name: "out of range",
			body: `{"object":"list","data":[{"index":0,"embedding":[1,2]},{"index":2,"embedding":[3,4]}]}`,
			want: "out of range",
		},
		{
			name: "negative",
			body: `{"object":"list","data":[{"index":-1,"embedding":[1,2]},{"index":0,"embedding":[3,4]}]}`,
			want: "out of range",
		},
		{
			name: "no vector",
			body: `{"object":"list","data":[{"index":0,"embedding":[1,2]},{"index":1}]}`,
			want: "0 dimensions, want 2",
		},
		{
			name: "base64 instead of floats",
			body: `{"object":"list","data":[{"index":0,"embedding":"AAAA"},{"index":1,"embedding":"AAAA"}]}`,
			want: "decode response",
		},
		{
			name: "error in a 200 response",
			body: `{"error":{"message":"model not loaded","type":"server_error"}}`,
			want: "model not loaded",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := decodeOpenAIResponse([]byte(tt.body), 2, 2)
			if !errors.Is(err, ErrMalformedResponse) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("decodeOpenAIResponse() error = %v, want ErrMalformedResponse mentioning %q", err, tt.want)
			}
		})
	}
}

func TestOpenAIErrors(t *testing.T) {
	t.Parallel()

	runErrorCases(t, openAIWire, []errorCase{
		{
			name: "insufficient quota is not retried",
			reply: status(429, http.Header{"Retry-After": {"20"}},
				`{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`),
			wantErr:   ErrQuotaExhausted,
			wantInErr: "insufficient_quota",
			wantWait:  20 * time.Second,
		},
		{
			name: "quota named only by the type",
			reply: status(429, nil,
				`{"error":{"message":"You exceeded your current quota.","type":"insufficient_quota","param":null,"code":null}}`),
			wantErr: ErrQuotaExhausted,
		},
		{
			name:          "retry-after-ms",
			reply:         status(429, http.Header{"Retry-After-Ms": {"1500"}}, `{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`),
			wantErr:       ErrRateLimited,
			wantRetryable: true,
			wantInErr:     "Rate limit reached",
			wantWait:      1500 * time.Millisecond,
		},
		{
			name:      "text-embeddings-inference error",
			reply:     status(413, nil, `{"error":"batch size 300 > maximum allowed batch size 32","error_type":"Validation"}`),
			wantErr:   ErrRequestRejected,
			wantInErr: "status 413, Validation): batch size 300",
		},
		{
			name:      "numeric code at the top level",
			reply:     status(400, nil, `{"object":"error","message":"This model's maximum context length is 512 tokens","type":"BadRequestError","code":400}`),
			wantErr:   ErrRequestRejected,
			wantInErr: "status 400, 400): This model's maximum context length",
		},
		{
			name:          "overloaded server",
			reply:         status(503, nil, `{"error":"Model is overloaded","error_type":"overloaded"}`),
			wantErr:       ErrServerFailed,
			wantRetryable: true,
			wantInErr:     "Model is overloaded",
		},
		{
			name:      "forbidden",
			reply:     status(403, nil, `{"error":{"message":"Project does not have access to model","type":"invalid_request_error","code":"model_not_found"}}`),
			wantErr:   ErrCredentialsRejected,
			wantInErr: "model_not_found",
		},
	})
}

func TestOpenAIQuotaIsNotRetried(t *testing.T) {
	t.Parallel()
	fake := newFakeProvider(t, openAIWire, 4, status(429, nil,
		`{"error":{"message":"You exceeded your current quota.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`))
	r, sleeps := testRetrier(fake.client(t, clientOptions{}), testNow)

	_, err := r.Embed(context.Background(), []string{"refund"})
	if !errors.Is(err, ErrQuotaExhausted) {
		t.Fatalf("Embed() error = %v, want ErrQuotaExhausted", err)
	}
	if n, waits := len(fake.requests()), len(sleeps.recorded()); n != 1 || waits != 0 {
		t.Errorf("provider got %d requests after %d waits, want 1 and none", n, waits)
	}
}

func TestOpenAISplitsLargeCalls(t *testing.T) {
	t.Parallel()
	fake := newFakeProvider(t, openAIWire, 4)
	c, err := NewOpenAI(OpenAIConfig{BaseURL: fake.srv.URL, Model: "m", Dimensions: 4, MaxInputs: 2})
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"a", "b", "c", "d", "e"}

	got, err := c.Embed(context.Background(), texts)
	if err != nil {
		t.Fatalf("Embed: %v", err)
	}
	if diff := cmp.Diff(fakeVectors(texts, 4), got); diff != "" {
		t.Errorf("vectors mismatch (-want +got):\n%s", diff)
	}
	var sizes []int
	for _, r := range fake.requests() {
		sizes = append(sizes, len(r.texts))
	}
	if diff := cmp.Diff([]int{2, 2, 1}, sizes); diff != "" {
		t.Errorf("request sizes mismatch (-want +got):\n%s", diff)
	}
}

func TestNewOpenAIRequiresModelAndDimensions(t *testing.T) {
	t.Parallel()
	if _, err := NewOpenAI(OpenAIConfig{Dimensions: 4}); err == nil {
		t.Error("NewOpenAI without a model returned no error")
	}
	if _, err := NewOpenAI(OpenAIConfig{Model: "m"}); err == nil {
		t.Error("NewOpenAI without dimensions returned no error")
	}
}
