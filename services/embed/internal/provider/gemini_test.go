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

func TestGeminiRequest(t *testing.T) {
	t.Parallel()
	fake := newFakeProvider(t, geminiWire, 8)
	c, err := NewGemini(GeminiConfig{
		BaseURL: fake.srv.URL + "/", Model: "models/gemini-embedding-001", Dimensions: 8,
		TaskType: TaskRetrievalQuery, APIKey: testKey,
	})
	if err != nil {
		t.Fatal(err)
	}

	if _, err := c.Embed(context.Background(), []string{"refund"}); err != nil {
		t.Fatalf("Embed: %v", err)
	}
	reqs := fake.requests()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want 1", len(reqs))
	}
	req := reqs[0]
	if req.path != "/v1beta/models/gemini-embedding-001:batchEmbedContents" {
		t.Errorf("path = %q", req.path)
	}
	if got := req.header.Get("x-goog-api-key"); got != testKey {
		t.Errorf("x-goog-api-key = %q, want the key", got)
	}
	if got := req.header.Get("Authorization"); got != "" {
		t.Errorf("Authorization = %q, want none", got)
	}
	want := map[string]any{
		"requests": []any{map[string]any{
			"model":                "models/gemini-embedding-001",
			"content":              map[string]any{"parts": []any{map[string]any{"text": "refund"}}},
			"taskType":             "RETRIEVAL_QUERY",
			"outputDimensionality": float64(8),
		}},
	}
	if diff := cmp.Diff(want, req.body); diff != "" {
		t.Errorf("request body mismatch (-want +got):\n%s", diff)
	}
	if c.Model() != "gemini-embedding-001" || c.Dimensions() != 8 {
		t.Errorf("Model(), Dimensions() = %q, %d", c.Model(), c.Dimensions())
	}
}

func TestGeminiDefaultTaskIsRetrievalDocument(t *testing.T) {
	t.Parallel()
	fake := newFakeProvider(t, geminiWire, 4)

	if _, err := fake.client(t, clientOptions{}).Embed(context.Background(), []string{"refund"}); err != nil {
		t.Fatalf("Embed: %v", err)
	}
	reqs := fake.requests()
	got := reqs[0].body["requests"].([]any)[0].(map[string]any)["taskType"]
	if got != TaskRetrievalDocument {
		t.Errorf("taskType = %v, want %s", got, TaskRetrievalDocument)
	}
}

// geminiRateLimit is a 429 body of the Gemini API with the given quota ids
// and retry delay.
func geminiRateLimit(delay string, quotaIDs ...string) string {
	var violations []string
	for _, id := range quotaIDs {
		violations = append(violations, fmt.Sprintf(
			`{"quotaMetric":"generativelanguage.googleapis.com/embed_content_requests","quotaId":%q,"quotaDimensions":{"location":"global","model":"gemini-embedding-001"},"quotaValue":"100"}`, id))
	}
	return fmt.Sprintf(`{"error":{"code":429,"message":"You exceeded your current quota, please check your plan and billing details.","status":"RESOURCE_EXHAUSTED","details":[`+
		`{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[%s]},`+
		`{"@type":"type.googleapis.com/google.rpc.Help","links":[{"description":"Learn more about Gemini API quotas","url":"https://ai.google.dev/gemini-api/docs/rate-limits"}]},`+
		`{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":%q}]}}`,
		strings.Join(violations, ","), delay)
}

func TestGeminiRetryInfo(t *testing.T) {
	t.Parallel()
	fake := newFakeProvider(t, geminiWire, 4,
		status(429, nil, geminiRateLimit("30s", "EmbedContentRequestsPerMinutePerProjectPerModel")))
	r, sleeps := testRetrier(fake.client(t, clientOptions{}), testNow)

	got, err := r.Embed(context.Background(), []string{"refund"})
	if err != nil {
		t.Fatalf("Embed: %v", err)
	}
	if diff := cmp.Diff(fakeVectors([]string{"refund"}, 4), got); diff != "" {
		t.Errorf("vectors mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]time.Duration{30 * time.Second}, sleeps.recorded()); diff != "" {
		t.Errorf("retry waits mismatch (-want +got):\n%s", diff)
	}
	if n := len(fake.requests()); n != 2 {
		t.Errorf("provider got %d requests, want 2", n)
	}
}

func TestGeminiErrors(t *testing.T) {
	t.Parallel()

	runErrorCases(t, geminiWire, []errorCase{
		{
			name:          "per-minute quota waits",
			reply:         status(429, nil, geminiRateLimit("12.5s", "EmbedContentRequestsPerMinutePerProjectPerModel")),
			wantErr:       ErrRateLimited,
			wantRetryable: true,
			wantInErr:     "status 429, RESOURCE_EXHAUSTED",
			wantWait:      12500 * time.Millisecond,
		},
		{
			name: "daily quota is exhausted",
			reply: status(429, nil, geminiRateLimit("40s",
				"EmbedContentRequestsPerDayPerProjectPerModel-FreeTier", "EmbedContentRequestsPerMinutePerProjectPerModel-FreeTier")),
			wantErr:   ErrQuotaExhausted,
			wantInErr: "You exceeded your current quota",
			wantWait:  40 * time.Second,
		},
		{
			name:      "invalid argument",
			reply:     status(400, nil, `{"error":{"code":400,"message":"* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch","status":"INVALID_ARGUMENT"}}`),
			wantErr:   ErrRequestRejected,
			wantInErr: "INVALID_ARGUMENT): * BatchEmbedContentsRequest.requests",
		},
		{
			name:      "bad key",
			reply:     status(400, nil, `{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT"}}`),
			wantErr:   ErrRequestRejected,
			wantInErr: "API key not valid",
		},
		{
			name:      "permission denied",
			reply:     status(403, nil, `{"error":{"code":403,"message":"Method doesn't allow unregistered callers.","status":"PERMISSION_DENIED"}}`),
			wantErr:   ErrCredentialsRejected,
			wantInErr: "PERMISSION_DENIED",
		},
		{
			name:          "unavailable",
			reply:         status(503, nil, `{"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}}`),
			wantErr:       ErrServerFailed,
			wantRetryable: true,
			wantInErr:     "overloaded",
		},
		{
			name:          "header wins over the body",
			reply:         status(429, http.Header{"Retry-After": {"3"}}, geminiRateLimit("30s", "PerMinute")),
			wantErr:       ErrRateLimited,
			wantRetryable: true,
			wantWait:      3 * time.Second,
		},
	})
}

func TestGeminiDailyQuotaIsNotRetried(t *testing.T) {
	t.Parallel()
	fake := newFakeProvider(t, geminiWire, 4,
		status(429, nil, geminiRateLimit("40s", "EmbedContentRequestsPerDayPerProjectPerModel-FreeTier")))
	r, sleeps := testRetrier(fake.client(t, clientOptions{}), testNow)

	_, err := r.Embed(context.Background(), []string{"refund"})
	if !errors.Is(err, ErrQuotaExhausted) {
		t.Fatalf("Embed() error = %v, want ErrQuotaExhausted", err)
	}
	if n, waits := len(fake.requests()), len(sleeps.recorded()); n != 1 || waits != 0 {
		t.Errorf("provider got %d requests after %d waits, want 1 and none", n, waits)
	}
}

func TestGeminiSplitsAtOneHundred(t *testing.T) {
	t.Parallel()
	fake := newFakeProvider(t, geminiWire, 4)
	texts := make([]string, 250)
	for i := range texts {
		texts[i] = fmt.Sprintf("text %d", i)
	}

	got, err := fake.client(t, clientOptions{}).Embed(context.Background(), texts)
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
	if diff := cmp.Diff([]int{100, 100, 50}, sizes); diff != "" {
		t.Errorf("request sizes mismatch (-want +got):\n%s", diff)
	}
}
