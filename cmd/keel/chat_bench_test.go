package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkChatCompletion measures one non-streamed chat completion through
// the gateway and the in-process router (token check, tenant and route
// limits, the usage event to JetStream) against an OpenAI-compatible server
// in the same process. ns/op and allocs/op count the client and the fake
// provider too; compare runs of this benchmark with each other, not with
// the load runs of BENCHMARKS.md.
func BenchmarkChatCompletion(b *testing.B) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"c1","object":"chat.completion","model":"gpt-4o-mini",`+
			`"choices":[{"index":0,"message":{"role":"assistant","content":"Hello, world"},"finish_reason":"stop"}],`+
			`"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}`)
	}))
	b.Cleanup(upstream.Close)
	s := startChatStack(b, fmt.Sprintf(`
routes:
  gpt-4o-mini:
    providers: [{provider: mock, model: gpt-4o-mini}]
    limits: {requests_per_minute: 1000000000, tokens_per_minute: 1000000000000}
providers:
  mock: {type: openai, base_url: "%s/v1", price: {input_per_million: 150000, output_per_million: 600000}}
tenants:
  default: {requests_per_minute: 1000000000, tokens_per_minute: 1000000000000, budget_micros: 1000000000000000}
`, upstream.URL), false)

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	body := []byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]}`)
	bearer := "Bearer " + chatBearer(b, "acme")
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, err := http.NewRequest(http.MethodPost, s.base+"/v1/chat/completions", bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			req.Header.Set("Authorization", bearer)
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}
