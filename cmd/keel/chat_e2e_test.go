package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.temporal.io/sdk/client"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/keelhq/keel/pkg/auth"
	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/logging"
	"github.com/keelhq/keel/pkg/natstest"
	"github.com/keelhq/keel/pkg/tenant"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	gatewaysvc "github.com/keelhq/keel/services/gateway/service"
	routersvc "github.com/keelhq/keel/services/router/service"
)

// The end-to-end tests of the gateway's OpenAI-compatible endpoints: the
// real gateway service in front of the real router service, on embedded
// NATS, with httptest servers speaking OpenAI's chat completions API as
// the providers. They live here because this module is the one that
// imports both services.

// chatTestKey signs the bearer tokens of the chat tests.
const chatTestKey = "chat-e2e-test-key-0123456789abcdef"

// chatProviderKey is the API key the routes file names; the fake provider
// checks it arrives.
const chatProviderKey = "sk-test-upstream"

// noTemporal stands in for the Temporal client, which the chat endpoints
// never use.
type noTemporal struct{ client.Client }

// upstreamRequest is the part of a chat completion request that the fake
// providers check.
type upstreamRequest struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string  `json:"role"`
		Content *string `json:"content"`
	} `json:"messages"`
	MaxTokens     int      `json:"max_tokens"`
	Temperature   *float64 `json:"temperature"`
	Stream        bool     `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`

	authorization string
}

// fakeUpstream is an OpenAI-compatible server on loopback. handle answers
// the n-th request (from 1).
type fakeUpstream struct {
	*httptest.Server

	handle func(w http.ResponseWriter, r *http.Request, req upstreamRequest, n int)

	mu       sync.Mutex
	requests []upstreamRequest
}

func newFakeUpstream(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, req upstreamRequest, n int)) *fakeUpstream {
	t.Helper()
	f := &fakeUpstream{handle: handle}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		var req upstreamRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req.authorization = r.Header.Get("Authorization")
		f.mu.Lock()
		f.requests = append(f.requests, req)
		n := len(f.requests)
		f.mu.Unlock()
		f.handle(w, r, req, n)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeUpstream) Requests() []upstreamRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]upstreamRequest(nil), f.requests...)
}

// writeUpstreamCompletion answers a non-streamed request.
func writeUpstreamCompletion(w http.ResponseWriter, model, text string, prompt, completion int) {
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"id":"chatcmpl-up1","object":"chat.completion","created":1700000000,"model":%q,`+
		`"choices":[{"index":0,"message":{"role":"assistant","content":%q,"refusal":null},"logprobs":null,"finish_reason":"stop"}],`+
		`"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d,"prompt_tokens_details":{"cached_tokens":0}},`+
		`"system_fingerprint":"fp_test"}`, model, text, prompt, completion, prompt+completion)
}

// upstreamStream writes a streamed answer event by event, as OpenAI does.
type upstreamStream struct {
	w     http.ResponseWriter
	model string
}

func startUpstreamStream(w http.ResponseWriter, model string) *upstreamStream {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	s := &upstreamStream{w: w, model: model}
	s.event(`{"id":"chatcmpl-up2","object":"chat.completion.chunk","created":1700000000,"model":%q,` +
		`"choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"finish_reason":null}],"usage":null}`)
	return s
}

// event writes one chunk; format's first verb is the model.
func (s *upstreamStream) event(format string, args ...any) {
	s.raw(fmt.Sprintf(format, append([]any{s.model}, args...)...))
}

// raw writes one event with data as it is.
func (s *upstreamStream) raw(data string) {
	fmt.Fprintf(s.w, "data: %s\n\n", data)
	http.NewResponseController(s.w).Flush() //nolint:errcheck // a gone client shows in the test's checks
}

func (s *upstreamStream) content(text string) {
	s.event(`{"id":"chatcmpl-up2","object":"chat.completion.chunk","created":1700000000,"model":%q,`+
		`"choices":[{"index":0,"delta":{"content":%q},"finish_reason":null}],"usage":null}`, text)
}

func (s *upstreamStream) finish(prompt, completion int) {
	s.event(`{"id":"chatcmpl-up2","object":"chat.completion.chunk","created":1700000000,"model":%q,` +
		`"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}`)
	s.event(`{"id":"chatcmpl-up2","object":"chat.completion.chunk","created":1700000000,"model":%q,`+
		`"choices":[],"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}}`,
		prompt, completion, prompt+completion)
	fmt.Fprint(s.w, "data: [DONE]\n\n")
}

// chatStack is a running router and gateway.
type chatStack struct {
	base string
	js   jetstream.JetStream
}

// startChatStack runs the router with routes and the gateway in front of
// it: in process through the router's Local, or over gRPC when overGRPC.
// Both stop when the test ends.
func startChatStack(t testing.TB, routes string, overGRPC bool) *chatStack {
	t.Helper()
	nc, js := natstest.Start(t)
	routesFile := filepath.Join(t.TempDir(), "routes.yaml")
	if err := os.WriteFile(routesFile, []byte(routes), 0o600); err != nil {
		t.Fatal(err)
	}

	// The gateway stops first, once its requests are done, and the router
	// after it: a call still running in process through Local when the
	// router stops would record usage into the router's closed outbox.
	routerCtx, stopRouter := context.WithCancel(context.Background())
	gatewayCtx, stopGateway := context.WithCancel(context.Background())
	routerLis := listenLoopback(t)
	local := routersvc.NewLocal()
	rcfg := routersvc.DefaultConfig()
	rcfg.Routes.File = routesFile
	routerDone := make(chan error, 1)
	go func() {
		routerDone <- routersvc.Run(routerCtx, rcfg, routersvc.Deps{
			Logger: logging.Discard(), NATS: nc, Listener: routerLis, Local: local,
			Getenv: func(name string) string {
				if name == "UPSTREAM_KEY" {
					return chatProviderKey
				}
				return ""
			},
		})
	}()

	gatewayLis := listenLoopback(t)
	gcfg := gatewaysvc.DefaultConfig()
	gcfg.TokenKey = base64.StdEncoding.EncodeToString([]byte(chatTestKey))
	gcfg.RouterAddr = routerLis.Addr().String()
	gcfg.IngestAddr = routerLis.Addr().String() // never called by the chat endpoints
	gcfg.NATSURL = ""
	deps := gatewaysvc.Deps{Logger: logging.Discard(), NATS: nc, Listener: gatewayLis, Temporal: noTemporal{}}
	if !overGRPC {
		deps.Router = local
	}
	gatewayDone := make(chan error, 1)
	go func() { gatewayDone <- gatewaysvc.Run(gatewayCtx, gcfg, deps) }()

	t.Cleanup(func() {
		stopGateway()
		if err := <-gatewayDone; err != nil {
			t.Errorf("gateway: %v", err)
		}
		stopRouter()
		if err := <-routerDone; err != nil {
			t.Errorf("router: %v", err)
		}
	})

	// Until Run has loaded the routes, the router answers Unavailable.
	wait, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	for {
		_, err := local.ListRoutes(tenant.With(wait, "acme"), &keelv1.ListRoutesRequest{})
		if status.Code(err) != codes.Unavailable {
			if err != nil {
				t.Fatalf("router: %v", err)
			}
			break
		}
		select {
		case <-wait.Done():
			t.Fatal("the router did not start")
		case <-time.After(5 * time.Millisecond):
		}
	}
	return &chatStack{base: "http://" + gatewayLis.Addr().String(), js: js}
}

func chatBearer(t testing.TB, tenantID string) string {
	t.Helper()
	tok, err := auth.Mint([]byte(chatTestKey), tenantID, "app", []string{auth.ScopeModelsInvoke}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// newChatRequest builds a request shaped like the official OpenAI clients'.
func newChatRequest(t *testing.T, ctx context.Context, s *chatStack, tenantID, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+"/v1/chat/completions", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+chatBearer(t, tenantID))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "OpenAI/Python 1.99.0")
	req.Header.Set("X-Stainless-Lang", "python")
	req.Header.Set("X-Stainless-Retry-Count", "0")
	return req
}

// chatCall sends body for tenantID and returns the response and its body.
func chatCall(t *testing.T, s *chatStack, tenantID, body string) (*http.Response, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := http.DefaultClient.Do(newChatRequest(t, ctx, s, tenantID, body))
	if err != nil {
		t.Fatalf("chat call: %v", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read chat response: %v", err)
	}
	return resp, data
}

type e2eChunk struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Model   string `json:"model"`
	Choices []struct {
		Delta struct {
			Role    string  `json:"role"`
			Content *string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int64 `json:"prompt_tokens"`
		CompletionTokens int64 `json:"completion_tokens"`
		TotalTokens      int64 `json:"total_tokens"`
	} `json:"usage"`
	Error *struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Code    *string `json:"code"`
	} `json:"error"`
}

// readEvents reads a whole event stream: its data payloads in order.
func readEvents(t *testing.T, body []byte) []string {
	t.Helper()
	var events []string
	for block := range strings.SplitSeq(strings.TrimSuffix(string(body), "\n\n"), "\n\n") {
		data, ok := strings.CutPrefix(block, "data: ")
		if !ok || strings.Contains(data, "\n") {
			t.Fatalf("event %q is not one data line in\n%s", block, body)
		}
		events = append(events, data)
	}
	return events
}

func decodeE2EChunk(t *testing.T, data string) e2eChunk {
	t.Helper()
	var c e2eChunk
	if err := json.Unmarshal([]byte(data), &c); err != nil {
		t.Fatalf("event %q: %v", data, err)
	}
	return c
}

// usageEvents reads the first n usage events of tenantID from JetStream,
// single or in batches.
func usageEvents(t *testing.T, js jetstream.JetStream, tenantID string, n int) []*keelv1.UsageEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, bus.StreamUsage, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{bus.UsageSubject(tenantID), bus.UsageBatchSubject(tenantID)},
	})
	if err != nil {
		t.Fatalf("usage consumer: %v", err)
	}
	var out []*keelv1.UsageEvent
	for len(out) < n {
		msg, err := cons.Next(jetstream.FetchContext(ctx))
		if err != nil {
			t.Fatalf("usage event %d of %d: %v", len(out)+1, n, err)
		}
		if got := msg.Headers().Get(tenant.Header); got != tenantID {
			t.Errorf("usage message tenant header = %q, want %q", got, tenantID)
		}
		evs, err := bus.UsageEvents(msg.Subject(), msg.Data())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, evs...)
	}
	return out
}

// TestChatCompletionsEndToEnd sends requests shaped like the official
// OpenAI clients' through the gateway and the router to an OpenAI-compatible
// provider, whole and streamed, in process and over gRPC, and reads the
// calls' usage back from the USAGE stream.
func TestChatCompletionsEndToEnd(t *testing.T) {
	for _, overGRPC := range []bool{false, true} {
		t.Run(map[bool]string{false: "in process", true: "over grpc"}[overGRPC], func(t *testing.T) {
			t.Parallel()
			upstream := newFakeUpstream(t, func(w http.ResponseWriter, _ *http.Request, req upstreamRequest, _ int) {
				if !req.Stream {
					writeUpstreamCompletion(w, "gpt-upstream-2025-01-01", "Hi there!", 11, 7)
					return
				}
				s := startUpstreamStream(w, "gpt-upstream-2025-01-01")
				s.content("Hel")
				s.content("lo!")
				s.finish(13, 3)
			})
			s := startChatStack(t, `
routes:
  chat:
    providers: [{provider: upstream, model: gpt-upstream}]
providers:
  upstream: {type: openai, base_url: "`+upstream.URL+`/v1", api_key_env: UPSTREAM_KEY}
`, overGRPC)

			// Whole.
			resp, body := chatCall(t, s, "acme", `{"messages":[{"role":"system","content":"You are terse."},`+
				`{"role":"user","content":"Say hi"}],"model":"chat","max_completion_tokens":64,"temperature":0.3}`)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d; body %s", resp.StatusCode, body)
			}
			var got struct {
				ID      string `json:"id"`
				Object  string `json:"object"`
				Model   string `json:"model"`
				Choices []struct {
					Message struct {
						Role    string `json:"role"`
						Content string `json:"content"`
					} `json:"message"`
					FinishReason string `json:"finish_reason"`
				} `json:"choices"`
				Usage struct {
					PromptTokens     int64 `json:"prompt_tokens"`
					CompletionTokens int64 `json:"completion_tokens"`
					TotalTokens      int64 `json:"total_tokens"`
				} `json:"usage"`
			}
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("decode %s: %v", body, err)
			}
			if !strings.HasPrefix(got.ID, "chatcmpl-") || got.Object != "chat.completion" ||
				got.Model != "gpt-upstream-2025-01-01" || len(got.Choices) != 1 ||
				got.Choices[0].Message.Role != "assistant" || got.Choices[0].Message.Content != "Hi there!" ||
				got.Choices[0].FinishReason != "stop" ||
				got.Usage.PromptTokens != 11 || got.Usage.CompletionTokens != 7 || got.Usage.TotalTokens != 18 {
				t.Errorf("completion = %s", body)
			}
			if r, p := resp.Header.Get("X-Keel-Route"), resp.Header.Get("X-Keel-Provider"); r != "chat" || p != "upstream" {
				t.Errorf("X-Keel-Route, X-Keel-Provider = %q, %q", r, p)
			}

			// Streamed, with the usage chunk asked for.
			resp, body = chatCall(t, s, "acme", `{"messages":[{"role":"user","content":"Say hello"}],"model":"chat",`+
				`"stream":true,"stream_options":{"include_usage":true}}`)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
				t.Fatalf("stream: status %d, type %q; body %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			events := readEvents(t, body)
			if len(events) < 4 || events[len(events)-1] != "[DONE]" {
				t.Fatalf("events = %q, want chunks and [DONE] last", events)
			}
			var (
				text    strings.Builder
				finish  string
				usage   int
				firstID string
			)
			for i, ev := range events[:len(events)-1] {
				c := decodeE2EChunk(t, ev)
				if c.Object != "chat.completion.chunk" || c.Error != nil {
					t.Fatalf("event %d = %s", i, ev)
				}
				if firstID == "" {
					firstID = c.ID
				}
				if c.ID != firstID {
					t.Errorf("chunk %d id %q differs from %q", i, c.ID, firstID)
				}
				if c.Usage != nil {
					usage++
					if c.Usage.PromptTokens != 13 || c.Usage.CompletionTokens != 3 || c.Usage.TotalTokens != 16 {
						t.Errorf("usage chunk = %s", ev)
					}
					continue
				}
				if i == 0 && c.Choices[0].Delta.Role != "assistant" {
					t.Errorf("first chunk role = %q, want assistant", c.Choices[0].Delta.Role)
				}
				if p := c.Choices[0].Delta.Content; p != nil {
					text.WriteString(*p)
				}
				if f := c.Choices[0].FinishReason; f != nil {
					finish = *f
				}
			}
			if text.String() != "Hello!" || finish != "stop" || usage != 1 {
				t.Errorf("streamed text %q, finish %q, %d usage chunks; events %q", text.String(), finish, usage, events)
			}

			// The provider got both requests as the route asked, with its
			// key.
			reqs := upstream.Requests()
			if len(reqs) != 2 {
				t.Fatalf("provider requests = %d, want 2", len(reqs))
			}
			whole, streamed := reqs[0], reqs[1]
			if whole.Model != "gpt-upstream" || whole.Stream || whole.MaxTokens != 64 ||
				whole.Temperature == nil || *whole.Temperature != 0.3 || len(whole.Messages) != 2 ||
				whole.Messages[0].Role != "system" || *whole.Messages[0].Content != "You are terse." ||
				whole.Messages[1].Role != "user" || *whole.Messages[1].Content != "Say hi" {
				t.Errorf("provider request = %+v", whole)
			}
			if whole.authorization != "Bearer "+chatProviderKey {
				t.Errorf("provider Authorization = %q, want the routes file's key", whole.authorization)
			}
			if !streamed.Stream || streamed.StreamOptions == nil || !streamed.StreamOptions.IncludeUsage {
				t.Errorf("streamed provider request = %+v, want stream with usage", streamed)
			}

			// Both calls' usage reaches keel.usage.acme. The outbox
			// publishes in parallel, so the events may come in any order.
			outputs := map[int64]int64{}
			for _, ev := range usageEvents(t, s.js, "acme", 2) {
				if ev.GetTenantId() != "acme" || ev.GetRoute() != "chat" || ev.GetUseCase() != "chat" ||
					ev.GetProvider() != "upstream" || ev.GetModel() != "gpt-upstream-2025-01-01" ||
					ev.GetEstimated() || ev.GetErrorClass() != "" {
					t.Errorf("usage event = %v, want a call on chat/upstream", ev)
				}
				outputs[ev.GetInputTokens()] = ev.GetOutputTokens()
			}
			if outputs[11] != 7 || outputs[13] != 3 {
				t.Errorf("usage input -> output tokens = %v, want 11 -> 7 (whole) and 13 -> 3 (streamed)", outputs)
			}

			// The model list names the route and how its provider keeps
			// content.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/v1/models", nil)
			req.Header.Set("Authorization", "Bearer "+chatBearer(t, "acme"))
			models, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer models.Body.Close()
			var list struct {
				Object string `json:"object"`
				Data   []struct {
					ID   string `json:"id"`
					Keel struct {
						Candidates []struct {
							Provider, Model, Retention string
						} `json:"candidates"`
					} `json:"keel"`
				} `json:"data"`
			}
			if err := json.NewDecoder(models.Body).Decode(&list); err != nil {
				t.Fatal(err)
			}
			if list.Object != "list" || len(list.Data) != 1 || list.Data[0].ID != "chat" ||
				len(list.Data[0].Keel.Candidates) != 1 || list.Data[0].Keel.Candidates[0].Provider != "upstream" ||
				list.Data[0].Keel.Candidates[0].Model != "gpt-upstream" ||
				!strings.Contains(list.Data[0].Keel.Candidates[0].Retention, "operator") {
				t.Errorf("models = %+v", list)
			}
		})
	}
}

// TestChatTenantRequestLimitEndToEnd sends three calls under a limit of two
// requests a minute: the third is refused with 429 and Retry-After without
// reaching the provider, and another tenant is not affected.
func TestChatTenantRequestLimitEndToEnd(t *testing.T) {
	t.Parallel()
	upstream := newFakeUpstream(t, func(w http.ResponseWriter, _ *http.Request, req upstreamRequest, _ int) {
		if req.Stream {
			s := startUpstreamStream(w, "m")
			s.content("ok")
			s.finish(1, 1)
			return
		}
		writeUpstreamCompletion(w, "m", "ok", 1, 1)
	})
	s := startChatStack(t, `
routes:
  chat:
    providers: [{provider: upstream, model: m}]
providers:
  upstream: {type: openai, base_url: "`+upstream.URL+`/v1"}
tenants:
  default: {requests_per_minute: 2}
`, false)

	const whole = `{"model":"chat","messages":[{"role":"user","content":"hi"}]}`
	const streamed = `{"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]}`
	for i, body := range []string{whole, streamed} {
		if resp, data := chatCall(t, s, "acme", body); resp.StatusCode != http.StatusOK {
			t.Fatalf("call %d: status %d; body %s", i+1, resp.StatusCode, data)
		}
	}
	for _, body := range []string{whole, streamed} {
		resp, data := chatCall(t, s, "acme", body)
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("third call: status %d; body %s", resp.StatusCode, data)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("third call Content-Type = %q, want a plain JSON error", ct)
		}
		secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
		if err != nil || secs < 1 || secs > 60 {
			t.Errorf("Retry-After = %q, want whole seconds within the minute", resp.Header.Get("Retry-After"))
		}
		var e struct {
			Error struct {
				Type string  `json:"type"`
				Code *string `json:"code"`
			} `json:"error"`
		}
		if err := json.Unmarshal(data, &e); err != nil || e.Error.Type != "rate_limit_error" ||
			e.Error.Code == nil || *e.Error.Code != "rate_limit_exceeded" {
			t.Errorf("third call body = %s", data)
		}
	}
	if n := len(upstream.Requests()); n != 2 {
		t.Errorf("provider requests = %d, want 2: refused calls must not reach it", n)
	}

	if resp, data := chatCall(t, s, "globex", whole); resp.StatusCode != http.StatusOK {
		t.Errorf("another tenant: status %d; body %s", resp.StatusCode, data)
	}
}

// TestChatFailoverEndToEnd routes to a provider that fails with 500 before
// one that answers: the client sees only the answer, whole and streamed.
func TestChatFailoverEndToEnd(t *testing.T) {
	t.Parallel()
	broken := newFakeUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ upstreamRequest, _ int) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `{"error":{"message":"The server had an error","type":"server_error","param":null,"code":null}}`)
	})
	good := newFakeUpstream(t, func(w http.ResponseWriter, _ *http.Request, req upstreamRequest, _ int) {
		if req.Stream {
			s := startUpstreamStream(w, "good-model")
			s.content("from the second")
			s.finish(4, 3)
			return
		}
		writeUpstreamCompletion(w, "good-model", "from the second", 4, 3)
	})
	s := startChatStack(t, `
routes:
  chat:
    providers:
      - {provider: broken, model: b}
      - {provider: good, model: good-model}
providers:
  broken: {type: openai, base_url: "`+broken.URL+`/v1"}
  good: {type: openai, base_url: "`+good.URL+`/v1"}
`, false)

	resp, body := chatCall(t, s, "acme", `{"model":"chat","messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"content":"from the second"`) {
		t.Fatalf("whole: status %d; body %s", resp.StatusCode, body)
	}
	if p := resp.Header.Get("X-Keel-Provider"); p != "good" {
		t.Errorf("X-Keel-Provider = %q, want good", p)
	}

	resp, body = chatCall(t, s, "acme", `{"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream: status %d; body %s", resp.StatusCode, body)
	}
	events := readEvents(t, body)
	var text strings.Builder
	for _, ev := range events[:len(events)-1] {
		c := decodeE2EChunk(t, ev)
		if c.Error != nil {
			t.Fatalf("stream carries an error: %s", ev)
		}
		if len(c.Choices) == 1 && c.Choices[0].Delta.Content != nil {
			text.WriteString(*c.Choices[0].Delta.Content)
		}
	}
	if events[len(events)-1] != "[DONE]" || text.String() != "from the second" {
		t.Errorf("stream events = %q", events)
	}

	if n := len(broken.Requests()); n != 2 {
		t.Errorf("broken provider requests = %d, want one per call", n)
	}
	if n := len(good.Requests()); n != 2 {
		t.Errorf("good provider requests = %d, want one per call", n)
	}
}

// TestChatStreamErrorAfterFirstChunkEndToEnd has the provider fail in the
// middle of a stream: the client gets the first piece, then an error event
// and no [DONE], and the router does not start over on the next candidate.
func TestChatStreamErrorAfterFirstChunkEndToEnd(t *testing.T) {
	t.Parallel()
	failing := newFakeUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ upstreamRequest, _ int) {
		s := startUpstreamStream(w, "f")
		s.content("Partial ")
		s.raw(`{"error":{"message":"upstream exploded mid-stream","type":"server_error","param":null,"code":null}}`)
	})
	spare := newFakeUpstream(t, func(w http.ResponseWriter, _ *http.Request, _ upstreamRequest, _ int) {
		s := startUpstreamStream(w, "s")
		s.content("should not be used")
		s.finish(1, 1)
	})
	s := startChatStack(t, `
routes:
  chat:
    providers:
      - {provider: failing, model: f}
      - {provider: spare, model: s}
providers:
  failing: {type: openai, base_url: "`+failing.URL+`/v1"}
  spare: {type: openai, base_url: "`+spare.URL+`/v1"}
`, false)

	resp, body := chatCall(t, s, "acme", `{"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]}`)

	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want the 200 the stream began with; body %s", resp.StatusCode, body)
	}
	events := readEvents(t, body)
	if len(events) != 2 {
		t.Fatalf("events = %q, want the piece and an error", events)
	}
	first := decodeE2EChunk(t, events[0])
	if first.Error != nil || len(first.Choices) != 1 || first.Choices[0].Delta.Content == nil ||
		*first.Choices[0].Delta.Content != "Partial " {
		t.Errorf("first event = %s", events[0])
	}
	last := decodeE2EChunk(t, events[1])
	if last.Error == nil || last.Error.Type != "server_error" || last.Error.Message == "" {
		t.Errorf("last event = %s, want an error", events[1])
	}
	if strings.Contains(string(body), "upstream exploded") {
		t.Errorf("the provider's own message reached the client: %s", body)
	}
	if n := len(spare.Requests()); n != 0 {
		t.Errorf("spare provider requests = %d after part of the reply was sent", n)
	}
}

// TestChatClientDisconnectEndToEnd hangs up in the middle of a stream: the
// provider's request is cancelled.
func TestChatClientDisconnectEndToEnd(t *testing.T) {
	for _, overGRPC := range []bool{false, true} {
		t.Run(map[bool]string{false: "in process", true: "over grpc"}[overGRPC], func(t *testing.T) {
			t.Parallel()
			cancelled := make(chan struct{})
			release := make(chan struct{})
			upstream := newFakeUpstream(t, func(w http.ResponseWriter, r *http.Request, _ upstreamRequest, _ int) {
				s := startUpstreamStream(w, "m")
				s.content("first")
				select {
				case <-r.Context().Done():
					close(cancelled)
				case <-release:
				}
			})
			s := startChatStack(t, `
routes:
  chat:
    providers: [{provider: upstream, model: m}]
providers:
  upstream: {type: openai, base_url: "`+upstream.URL+`/v1"}
`, overGRPC)
			// Registered after the stack, so it runs before the stack
			// and the provider stop.
			t.Cleanup(func() { close(release) })

			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			reqCtx, hangUp := context.WithCancel(ctx)
			defer hangUp()
			resp, err := http.DefaultClient.Do(newChatRequest(t, reqCtx, s, "acme",
				`{"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
			if err != nil {
				t.Fatalf("post: %v", err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d", resp.StatusCode)
			}

			// The first piece arrives while the provider is still
			// holding the stream open.
			line, err := bufio.NewReader(resp.Body).ReadString('\n')
			if err != nil {
				t.Fatalf("read first event: %v", err)
			}
			c := decodeE2EChunk(t, strings.TrimPrefix(strings.TrimSpace(line), "data: "))
			if len(c.Choices) != 1 || c.Choices[0].Delta.Content == nil || *c.Choices[0].Delta.Content != "first" {
				t.Fatalf("first event = %q", line)
			}

			hangUp()
			select {
			case <-cancelled:
			case <-ctx.Done():
				t.Fatal("the provider's request was not cancelled after the client hung up")
			}
		})
	}
}
