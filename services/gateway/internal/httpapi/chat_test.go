package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/keelhq/keel/pkg/auth"
	"github.com/keelhq/keel/pkg/tenant"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/gateway/internal/httpapi"
	"github.com/keelhq/keel/services/gateway/internal/temporalfake"
)

// fakeRouter is an in-memory httpapi.ModelRouter. It records every request
// with the tenant of its context and answers with the functions set, or a
// plain reply when they are nil.
type fakeRouter struct {
	generate func(ctx context.Context, req *keelv1.GenerateRequest) (*keelv1.GenerateResponse, error)
	stream   func(ctx context.Context, req *keelv1.GenerateRequest, send func(*keelv1.GenerateStreamResponse) error) error
	routes   *keelv1.ListRoutesResponse
	// routesErr fails ListRoutes.
	routesErr error

	mu       sync.Mutex
	requests []*keelv1.GenerateRequest
	tenants  []string
}

func (f *fakeRouter) record(ctx context.Context, req *keelv1.GenerateRequest) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, _ := tenant.From(ctx)
	f.tenants = append(f.tenants, t)
	if req != nil {
		f.requests = append(f.requests, proto.Clone(req).(*keelv1.GenerateRequest))
	}
}

func (f *fakeRouter) Generate(ctx context.Context, req *keelv1.GenerateRequest) (*keelv1.GenerateResponse, error) {
	f.record(ctx, req)
	if f.generate != nil {
		return f.generate(ctx, req)
	}
	return &keelv1.GenerateResponse{
		Text: "hello", Provider: "hosted", Model: "gpt-test", Route: req.GetUseCase(), FinishReason: "stop",
		Usage: &keelv1.Usage{InputTokens: 3, OutputTokens: 1},
	}, nil
}

func (f *fakeRouter) GenerateStream(
	ctx context.Context,
	req *keelv1.GenerateRequest,
	send func(*keelv1.GenerateStreamResponse) error,
) error {
	f.record(ctx, req)
	if f.stream != nil {
		return f.stream(ctx, req, send)
	}
	if err := send(&keelv1.GenerateStreamResponse{Delta: "hello"}); err != nil {
		return err
	}
	return send(&keelv1.GenerateStreamResponse{Final: &keelv1.GenerateResponse{
		Text: "hello", Provider: "hosted", Model: "gpt-test", Route: req.GetUseCase(), FinishReason: "stop",
		Usage: &keelv1.Usage{InputTokens: 3, OutputTokens: 1},
	}})
}

func (f *fakeRouter) ListRoutes(ctx context.Context, _ *keelv1.ListRoutesRequest) (*keelv1.ListRoutesResponse, error) {
	f.record(ctx, nil)
	if f.routesErr != nil {
		return nil, f.routesErr
	}
	return f.routes, nil
}

// Requests returns the generate requests received so far.
func (f *fakeRouter) Requests() []*keelv1.GenerateRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*keelv1.GenerateRequest(nil), f.requests...)
}

// Tenants returns the tenant of every call's context, "" when it had none.
func (f *fakeRouter) Tenants() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.tenants...)
}

// newChatHandler returns the gateway handler with router behind the chat
// endpoints; a nil router leaves them without one.
func newChatHandler(t *testing.T, router httpapi.ModelRouter) http.Handler {
	t.Helper()
	opts := httpapi.Options{
		TokenKey: []byte(testKey),
		Ingest:   &fakeIngest{},
		Temporal: temporalfake.New(),
		Logger:   slog.New(slog.DiscardHandler),
		Now:      testNow,
	}
	if router != nil {
		opts.Router = router
	}
	h, err := httpapi.NewHandler(opts)
	if err != nil {
		t.Fatalf("new handler: %v", err)
	}
	return h
}

// invokeToken is a token of tenant acme allowed to call models.
func invokeToken(t *testing.T) string {
	t.Helper()
	return token(t, "acme", "ana", auth.ScopeModelsInvoke)
}

// postChat sends body to /v1/chat/completions with tok and the extra
// headers given as name, value pairs.
func postChat(t *testing.T, h http.Handler, tok, body string, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := newRequest(t, http.MethodPost, "/v1/chat/completions", tok, body)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// openAIErrorDoc is an error response in OpenAI's format.
type openAIErrorDoc struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

func (e openAIErrorDoc) param() string {
	if e.Param == nil {
		return ""
	}
	return *e.Param
}

func (e openAIErrorDoc) code() string {
	if e.Code == nil {
		return ""
	}
	return *e.Code
}

// decodeOpenAIError checks that data is {"error":{...}} with every field
// OpenAI's clients read, param and code present even when null.
func decodeOpenAIError(t *testing.T, data []byte) openAIErrorDoc {
	t.Helper()
	var outer map[string]json.RawMessage
	if err := json.Unmarshal(data, &outer); err != nil {
		t.Fatalf("error body %q is not JSON: %v", data, err)
	}
	if len(outer) != 1 || outer["error"] == nil {
		t.Fatalf("error body %s is not {\"error\": ...}", data)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(outer["error"], &fields); err != nil {
		t.Fatalf("error object %s: %v", outer["error"], err)
	}
	for _, k := range []string{"message", "type", "param", "code"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("error object %s lacks %q", outer["error"], k)
		}
	}
	var e openAIErrorDoc
	if err := json.Unmarshal(outer["error"], &e); err != nil {
		t.Fatalf("error object %s: %v", outer["error"], err)
	}
	if e.Message == "" || e.Type == "" {
		t.Errorf("error object %s lacks a message or type", outer["error"])
	}
	return e
}

// checkOpenAIError checks that rec is an OpenAI error with status and
// returns it.
func checkOpenAIError(t *testing.T, rec *httptest.ResponseRecorder, status int) openAIErrorDoc {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	return decodeOpenAIError(t, rec.Body.Bytes())
}

// Response documents as an OpenAI client reads them.
type (
	toolCallDoc struct {
		Index    *int   `json:"index"`
		ID       string `json:"id"`
		Type     string `json:"type"`
		Function struct {
			Name      string `json:"name"`
			Arguments string `json:"arguments"`
		} `json:"function"`
		ExtraContent json.RawMessage `json:"extra_content"`
	}
	messageDoc struct {
		Role      string        `json:"role"`
		Content   *string       `json:"content"`
		ToolCalls []toolCallDoc `json:"tool_calls"`
	}
	usageDoc struct {
		PromptTokens        int64 `json:"prompt_tokens"`
		CompletionTokens    int64 `json:"completion_tokens"`
		TotalTokens         int64 `json:"total_tokens"`
		PromptTokensDetails *struct {
			CachedTokens int64 `json:"cached_tokens"`
		} `json:"prompt_tokens_details"`
	}
	completionDoc struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		Model   string `json:"model"`
		Choices []struct {
			Index        int         `json:"index"`
			Message      *messageDoc `json:"message"`
			Delta        *messageDoc `json:"delta"`
			FinishReason *string     `json:"finish_reason"`
		} `json:"choices"`
		Usage *usageDoc `json:"usage"`
	}
)

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// sseEvents splits an event stream into the data of its events. Every
// event must be one "data: " line followed by a blank line.
func sseEvents(t *testing.T, body string) []string {
	t.Helper()
	var events []string
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(nil, 1<<20)
	expectBlank := false
	for sc.Scan() {
		line := sc.Text()
		if expectBlank {
			if line != "" {
				t.Fatalf("event not ended by a blank line before %q in\n%s", line, body)
			}
			expectBlank = false
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			t.Fatalf("line %q is not a data line in\n%s", line, body)
		}
		events = append(events, data)
		expectBlank = true
	}
	if expectBlank {
		t.Fatalf("stream ends inside an event:\n%s", body)
	}
	return events
}

// decodeChunks decodes the chunk events of a stream; it fails on [DONE] or
// an error event, which the caller handles first.
func decodeChunks(t *testing.T, events []string) []completionDoc {
	t.Helper()
	var chunks []completionDoc
	for _, ev := range events {
		var c completionDoc
		if err := json.Unmarshal([]byte(ev), &c); err != nil {
			t.Fatalf("event %q is not a chunk: %v", ev, err)
		}
		if c.Object != "chat.completion.chunk" {
			t.Fatalf("event %s has object %q, want chat.completion.chunk", ev, c.Object)
		}
		chunks = append(chunks, c)
	}
	return chunks
}

const simpleChat = `{"model":"support","messages":[{"role":"user","content":"hi"}]}`

func TestChatCompletionsConvertsRequest(t *testing.T) {
	t.Parallel()
	router := &fakeRouter{}
	h := newChatHandler(t, router)

	// A request as the official clients send it, with every field Keel
	// serves.
	body := `{
		"model": "support",
		"messages": [
			{"role": "developer", "content": "Be brief."},
			{"role": "system", "content": [{"type": "text", "text": "Answer "}, {"type": "text", "text": "in English."}]},
			{"role": "user", "content": "Where is my order?"},
			{"role": "assistant", "content": null, "tool_calls": [
				{"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{\"id\":7}"}}
			]},
			{"role": "tool", "tool_call_id": "call_1", "content": "shipped"}
		],
		"temperature": 0.2,
		"top_p": 0.9,
		"seed": 42,
		"max_tokens": 50,
		"max_completion_tokens": 100,
		"stop": ["END", "STOP"],
		"tools": [{"type": "function", "function": {
			"name": "lookup", "description": "Find an order",
			"parameters": {"type":"object","properties":{"id":{"type":"integer"}}}, "strict": true
		}}],
		"tool_choice": {"type": "function", "function": {"name": "lookup"}},
		"parallel_tool_calls": false,
		"response_format": {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type":"object"}, "strict": true}},
		"n": 1,
		"user": "someone-else",
		"logprobs": false,
		"frequency_penalty": 0
	}`
	rec := postChat(t, h, invokeToken(t), body,
		"X-Keel-Priority", "batch", "X-Keel-Conversation", "conv-9")
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", rec.Code, rec.Body)
	}

	reqs := router.Requests()
	if len(reqs) != 1 {
		t.Fatalf("router got %d requests, want 1", len(reqs))
	}
	want := &keelv1.GenerateRequest{
		UseCase: "support",
		Messages: []*keelv1.ChatMessage{
			{Role: "system", Content: "Be brief."},
			{Role: "system", Content: "Answer in English."},
			{Role: "user", Content: "Where is my order?"},
			{Role: "assistant", ToolCalls: []*keelv1.ToolCall{{Id: "call_1", Name: "lookup", ArgumentsJson: `{"id":7}`}}},
			{Role: "tool", Content: "shipped", ToolCallId: "call_1"},
		},
		Tools: []*keelv1.ToolDefinition{{
			Name: "lookup", Description: "Find an order",
			ParametersJson: `{"type":"object","properties":{"id":{"type":"integer"}}}`, Strict: true,
		}},
		MaxOutputTokens:   100,
		Temperature:       proto.Float64(0.2),
		TopP:              proto.Float64(0.9),
		Stop:              []string{"END", "STOP"},
		Seed:              proto.Int64(42),
		ToolChoice:        "lookup",
		ParallelToolCalls: proto.Bool(false),
		ResponseSchema:    &keelv1.ResponseSchema{Name: "answer", SchemaJson: `{"type":"object"}`, Strict: true},
		Conversation:      "conv-9",
		Priority:          keelv1.Priority_PRIORITY_BATCH,
		ExactRoute:        true,
	}
	if !proto.Equal(reqs[0], want) {
		t.Errorf("router request:\n%s\nwant:\n%s", prototext.Format(reqs[0]), prototext.Format(want))
	}
	if got := router.Tenants(); len(got) != 1 || got[0] != "acme" {
		t.Errorf("router saw tenants %q, want the token's [acme]", got)
	}
}

func TestChatCompletionsConvertsFieldForms(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		fields  string // joined into the request object
		headers []string
		check   func(t *testing.T, req *keelv1.GenerateRequest)
	}{
		{
			name: "defaults",
			check: func(t *testing.T, req *keelv1.GenerateRequest) {
				if req.GetPriority() != keelv1.Priority_PRIORITY_UNSPECIFIED || req.GetMaxOutputTokens() != 0 ||
					req.Stop != nil || req.ToolChoice != "" || req.ResponseSchema != nil || req.Temperature != nil ||
					req.Conversation != "" {
					t.Errorf("request without options = %v", req)
				}
			},
		},
		{
			name:   "stop as a string",
			fields: `"stop":"END"`,
			check: func(t *testing.T, req *keelv1.GenerateRequest) {
				if got := req.GetStop(); len(got) != 1 || got[0] != "END" {
					t.Errorf("stop = %q, want [END]", got)
				}
			},
		},
		{
			name:   "stop null",
			fields: `"stop":null`,
			check: func(t *testing.T, req *keelv1.GenerateRequest) {
				if got := req.GetStop(); len(got) != 0 {
					t.Errorf("stop = %q, want none", got)
				}
			},
		},
		{
			name:   "tool_choice as a string",
			fields: `"tool_choice":"required","tools":[{"type":"function","function":{"name":"f"}}]`,
			check: func(t *testing.T, req *keelv1.GenerateRequest) {
				if req.GetToolChoice() != "required" || len(req.GetTools()) != 1 || req.GetTools()[0].GetName() != "f" {
					t.Errorf("tool_choice = %q, tools = %v", req.GetToolChoice(), req.GetTools())
				}
			},
		},
		{
			name:   "tool_choice none",
			fields: `"tool_choice":"none"`,
			check: func(t *testing.T, req *keelv1.GenerateRequest) {
				if req.GetToolChoice() != "none" {
					t.Errorf("tool_choice = %q, want none", req.GetToolChoice())
				}
			},
		},
		{
			name:   "response_format json_object",
			fields: `"response_format":{"type":"json_object"}`,
			check: func(t *testing.T, req *keelv1.GenerateRequest) {
				sc := req.GetResponseSchema()
				if sc == nil || !json.Valid([]byte(sc.GetSchemaJson())) || !strings.Contains(sc.GetSchemaJson(), `"object"`) ||
					!sc.GetJsonMode() {
					t.Errorf("response schema = %v, want an object schema in JSON mode", sc)
				}
			},
		},
		{
			name:   "response_format text",
			fields: `"response_format":{"type":"text"}`,
			check: func(t *testing.T, req *keelv1.GenerateRequest) {
				if req.GetResponseSchema() != nil {
					t.Errorf("response schema = %v, want none", req.GetResponseSchema())
				}
			},
		},
		{
			name:   "max_tokens alone",
			fields: `"max_tokens":77`,
			check: func(t *testing.T, req *keelv1.GenerateRequest) {
				if req.GetMaxOutputTokens() != 77 {
					t.Errorf("max output tokens = %d, want 77", req.GetMaxOutputTokens())
				}
			},
		},
		{
			name:   "max_completion_tokens over max_tokens",
			fields: `"max_completion_tokens":12,"max_tokens":900`,
			check: func(t *testing.T, req *keelv1.GenerateRequest) {
				if req.GetMaxOutputTokens() != 12 {
					t.Errorf("max output tokens = %d, want 12", req.GetMaxOutputTokens())
				}
			},
		},
		{
			name:    "interactive priority",
			headers: []string{"X-Keel-Priority", "interactive"},
			check: func(t *testing.T, req *keelv1.GenerateRequest) {
				if req.GetPriority() == keelv1.Priority_PRIORITY_BATCH {
					t.Errorf("priority = %v, want interactive", req.GetPriority())
				}
			},
		},
		{
			name:    "batch priority and conversation",
			headers: []string{"X-Keel-Priority", "batch", "X-Keel-Conversation", "c-1"},
			check: func(t *testing.T, req *keelv1.GenerateRequest) {
				if req.GetPriority() != keelv1.Priority_PRIORITY_BATCH || req.GetConversation() != "c-1" {
					t.Errorf("priority = %v, conversation = %q", req.GetPriority(), req.GetConversation())
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			router := &fakeRouter{}
			h := newChatHandler(t, router)
			body := `{"model":"support","messages":[{"role":"user","content":"hi"}]`
			if tt.fields != "" {
				body += "," + tt.fields
			}
			body += "}"

			rec := postChat(t, h, invokeToken(t), body, tt.headers...)

			if rec.Code != http.StatusOK {
				t.Fatalf("status = %d, want 200; body %s", rec.Code, rec.Body)
			}
			reqs := router.Requests()
			if len(reqs) != 1 {
				t.Fatalf("router got %d requests, want 1", len(reqs))
			}
			if reqs[0].GetUseCase() != "support" || len(reqs[0].GetMessages()) != 1 ||
				reqs[0].GetMessages()[0].GetContent() != "hi" {
				t.Errorf("request = %v, want use case support and the message", reqs[0])
			}
			tt.check(t, reqs[0])
		})
	}
}

func TestChatCompletionsRefusesBadRequests(t *testing.T) {
	t.Parallel()

	user := `"messages":[{"role":"user","content":"hi"}]`
	tests := []struct {
		name    string
		body    string
		headers []string
		param   string
	}{
		{
			name: "image part",
			body: `{"model":"support","messages":[{"role":"user","content":[
				{"type":"text","text":"what is this?"},
				{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}]}`,
			param: "messages[0].content",
		},
		{name: "content a number", body: `{"model":"support","messages":[{"role":"user","content":7}]}`, param: "messages[0].content"},
		{name: "no model", body: `{` + user + `}`, param: "model"},
		{name: "no messages", body: `{"model":"support","messages":[]}`, param: "messages"},
		{name: "n above one", body: `{"model":"support",` + user + `,"n":2}`, param: "n"},
		{name: "n zero", body: `{"model":"support",` + user + `,"n":0}`, param: "n"},
		{name: "logprobs", body: `{"model":"support",` + user + `,"logprobs":true}`, param: "logprobs"},
		{name: "top_logprobs", body: `{"model":"support",` + user + `,"top_logprobs":3}`, param: "top_logprobs"},
		{name: "logit_bias", body: `{"model":"support",` + user + `,"logit_bias":{"50256":-100}}`, param: "logit_bias"},
		{name: "bad priority", body: `{"model":"support",` + user + `}`, headers: []string{"X-Keel-Priority", "urgent"}},
		{name: "negative max_tokens", body: `{"model":"support",` + user + `,"max_tokens":-1}`, param: "max_tokens"},
		{name: "stop a number", body: `{"model":"support",` + user + `,"stop":5}`, param: "stop"},
		{name: "unknown tool_choice", body: `{"model":"support",` + user + `,"tool_choice":"always"}`, param: "tool_choice"},
		{name: "tool_choice without a name", body: `{"model":"support",` + user + `,"tool_choice":{"type":"function"}}`, param: "tool_choice"},
		{
			name:  "tool not a function",
			body:  `{"model":"support",` + user + `,"tools":[{"type":"code_interpreter"}]}`,
			param: "tools[0].type",
		},
		{
			name:  "json_schema without schema",
			body:  `{"model":"support",` + user + `,"response_format":{"type":"json_schema","json_schema":{"name":"x"}}}`,
			param: "response_format.json_schema",
		},
		{
			name:  "unknown response_format",
			body:  `{"model":"support",` + user + `,"response_format":{"type":"yaml"}}`,
			param: "response_format.type",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			router := &fakeRouter{}
			h := newChatHandler(t, router)

			rec := postChat(t, h, invokeToken(t), tt.body, tt.headers...)

			e := checkOpenAIError(t, rec, http.StatusBadRequest)
			if e.Type != "invalid_request_error" {
				t.Errorf("type = %q, want invalid_request_error", e.Type)
			}
			if e.param() != tt.param {
				t.Errorf("param = %q, want %q (message %q)", e.param(), tt.param, e.Message)
			}
			if n := len(router.Requests()); n != 0 {
				t.Errorf("router was called %d times for a bad request", n)
			}
		})
	}
}

func TestChatCompletionsRefusesBadBodies(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		body   string
		status int
		// param and message, when set, are what the error says.
		param, message string
	}{
		{name: "malformed", body: `{"model":"support","messages":[`, status: http.StatusBadRequest},
		{name: "syntax error", body: `{"model":}`, status: http.StatusBadRequest},
		{name: "not an object", body: `[1,2]`, status: http.StatusBadRequest},
		{name: "wrong field type", body: `{"model":"support","messages":"hi"}`, status: http.StatusBadRequest, param: "messages"},
		{
			name: "number too large", body: `{"model":"support","max_tokens":1000000000000,"messages":[{"role":"user","content":"hi"}]}`,
			status: http.StatusBadRequest, param: "max_tokens",
			message: `field "max_tokens" must be an integer, written without a fraction or exponent, from -2147483648 to 2147483647`,
		},
		{
			name: "fraction for a whole number", body: `{"model":"support","seed":1.5,"messages":[{"role":"user","content":"hi"}]}`,
			status: http.StatusBadRequest, param: "seed",
		},
		{
			name: "number out of range", body: `{"model":"support","temperature":1e400,"messages":[{"role":"user","content":"hi"}]}`,
			status: http.StatusBadRequest, param: "temperature", message: `field "temperature" is a number out of range`,
		},
		{
			name: "thought signature not a string",
			body: `{"model":"support","messages":[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[` +
				`{"id":"call_a","type":"function","function":{"name":"lookup","arguments":"{}"},` +
				`"extra_content":{"google":{"thought_signature":{"value":"c2ln"}}}}]}]}`,
			status: http.StatusBadRequest, param: "messages.tool_calls.extra_content.google.thought_signature",
			message: `field "messages.tool_calls.extra_content.google.thought_signature" must be a JSON string`,
		},
		{name: "empty", body: ``, status: http.StatusBadRequest},
		{
			// Beyond the chat endpoint's 8 MiB.
			name:   "too large",
			body:   `{"model":"support","messages":[{"role":"user","content":"` + strings.Repeat("a", 8<<20) + `"}]}`,
			status: http.StatusRequestEntityTooLarge,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			router := &fakeRouter{}
			h := newChatHandler(t, router)

			rec := postChat(t, h, invokeToken(t), tt.body)

			e := checkOpenAIError(t, rec, tt.status)
			if e.Type != "invalid_request_error" {
				t.Errorf("type = %q, want invalid_request_error", e.Type)
			}
			if tt.param != "" && e.param() != tt.param {
				t.Errorf("param = %q, want %q", e.param(), tt.param)
			}
			if tt.message != "" && e.Message != tt.message {
				t.Errorf("message = %q, want %q", e.Message, tt.message)
			}
			if n := len(router.Requests()); n != 0 {
				t.Errorf("router was called %d times for a bad body", n)
			}
		})
	}

	// A long prompt well above the other endpoints' limit is served.
	router := &fakeRouter{}
	h := newChatHandler(t, router)
	long := strings.Repeat("b", 4<<20)
	rec := postChat(t, h, invokeToken(t), `{"model":"support","messages":[{"role":"user","content":"`+long+`"}]}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("4 MiB prompt: status = %d; body %.300s", rec.Code, rec.Body)
	}
	if reqs := router.Requests(); len(reqs) != 1 || reqs[0].GetMessages()[0].GetContent() != long {
		t.Error("the 4 MiB prompt did not reach the router whole")
	}
}

func TestChatCompletionResponse(t *testing.T) {
	t.Parallel()
	router := &fakeRouter{generate: func(context.Context, *keelv1.GenerateRequest) (*keelv1.GenerateResponse, error) {
		return &keelv1.GenerateResponse{
			Text:     "Let me look that up.",
			Provider: "hosted", Model: "gpt-4o-mini-2024-07-18", Route: "support",
			FinishReason: "tool_calls",
			ToolCalls: []*keelv1.ToolCall{
				{Id: "call_a", Name: "lookup", ArgumentsJson: `{"id":7}`},
				{Id: "call_b", Name: "refund", ArgumentsJson: `{}`},
			},
			Usage: &keelv1.Usage{InputTokens: 120, OutputTokens: 30, CachedInputTokens: 64, CostMicros: 9},
		}, nil
	}}
	h := newChatHandler(t, router)

	rec := postChat(t, h, invokeToken(t), simpleChat)

	got := decodeJSON[completionDoc](t, rec, http.StatusOK)
	if !strings.HasPrefix(got.ID, "chatcmpl-") || len(got.ID) <= len("chatcmpl-") {
		t.Errorf("id = %q, want chatcmpl-...", got.ID)
	}
	if got.Object != "chat.completion" || got.Created != testNow().Unix() || got.Model != "gpt-4o-mini-2024-07-18" {
		t.Errorf("object, created, model = %q, %d, %q", got.Object, got.Created, got.Model)
	}
	if len(got.Choices) != 1 {
		t.Fatalf("choices = %+v, want one", got.Choices)
	}
	c := got.Choices[0]
	if c.Index != 0 || c.Message == nil || c.Delta != nil || deref(c.FinishReason) != "tool_calls" {
		t.Fatalf("choice = %+v", c)
	}
	if c.Message.Role != "assistant" || deref(c.Message.Content) != "Let me look that up." {
		t.Errorf("message role, content = %q, %q", c.Message.Role, deref(c.Message.Content))
	}
	if len(c.Message.ToolCalls) != 2 {
		t.Fatalf("tool calls = %+v, want two", c.Message.ToolCalls)
	}
	for i, want := range []struct{ id, name, args string }{{"call_a", "lookup", `{"id":7}`}, {"call_b", "refund", `{}`}} {
		tc := c.Message.ToolCalls[i]
		if tc.ID != want.id || tc.Type != "function" || tc.Function.Name != want.name || tc.Function.Arguments != want.args {
			t.Errorf("tool call %d = %+v, want %+v", i, tc, want)
		}
		if tc.Index != nil {
			t.Errorf("tool call %d of a whole message has an index", i)
		}
	}
	u := got.Usage
	if u == nil || u.PromptTokens != 120 || u.CompletionTokens != 30 || u.TotalTokens != 150 ||
		u.PromptTokensDetails == nil || u.PromptTokensDetails.CachedTokens != 64 {
		t.Errorf("usage = %+v", u)
	}
	if r, p := rec.Header().Get("X-Keel-Route"), rec.Header().Get("X-Keel-Provider"); r != "support" || p != "hosted" {
		t.Errorf("X-Keel-Route, X-Keel-Provider = %q, %q", r, p)
	}
	if d := rec.Header().Get("X-Keel-Degraded"); d != "" {
		t.Errorf("X-Keel-Degraded = %q on a model's answer", d)
	}
}

// A tool call's signature goes to the client where Google's OpenAI
// compatibility puts it, extra_content.google.thought_signature, on the
// whole message and in the chunk that announces the call; a client that
// appends the message as it came sends it back to the router.
func TestChatToolCallSignatures(t *testing.T) {
	t.Parallel()
	const sig = "CiQBVKhc7qH0c2lnbmVk+/=="
	final := &keelv1.GenerateResponse{
		Provider: "gem", Model: "gemini-3-flash", Route: "support", FinishReason: "tool_calls",
		ToolCalls: []*keelv1.ToolCall{
			{Id: "call_a", Name: "lookup", ArgumentsJson: `{"id":7}`, Signature: sig},
			{Id: "call_b", Name: "refund", ArgumentsJson: `{}`},
		},
	}
	router := &fakeRouter{
		generate: func(context.Context, *keelv1.GenerateRequest) (*keelv1.GenerateResponse, error) { return final, nil },
		stream: func(_ context.Context, _ *keelv1.GenerateRequest, send func(*keelv1.GenerateStreamResponse) error) error {
			for _, c := range final.ToolCalls {
				if err := send(&keelv1.GenerateStreamResponse{ToolCall: c}); err != nil {
					return err
				}
			}
			return send(&keelv1.GenerateStreamResponse{Final: final})
		},
	}
	h := newChatHandler(t, router)
	checkCalls := func(t *testing.T, calls []toolCallDoc) {
		t.Helper()
		if len(calls) != 2 {
			t.Fatalf("tool calls %+v, want two", calls)
		}
		if got, want := string(calls[0].ExtraContent), `{"google":{"thought_signature":"`+sig+`"}}`; got != want {
			t.Errorf("first call's extra_content %s, want %s", got, want)
		}
		if calls[1].ExtraContent != nil {
			t.Errorf("unsigned call has extra_content %s", calls[1].ExtraContent)
		}
	}

	rec := postChat(t, h, invokeToken(t), simpleChat)
	wholeBody := rec.Body.Bytes()
	whole := decodeJSON[completionDoc](t, rec, http.StatusOK)
	checkCalls(t, whole.Choices[0].Message.ToolCalls)

	rec = postChat(t, h, invokeToken(t), `{"model":"support","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("stream status = %d; body %s", rec.Code, rec.Body)
	}
	events := sseEvents(t, rec.Body.String())
	var streamed []toolCallDoc
	for _, c := range decodeChunks(t, events[:len(events)-1]) {
		if len(c.Choices) == 1 && c.Choices[0].Delta != nil {
			streamed = append(streamed, c.Choices[0].Delta.ToolCalls...)
		}
	}
	checkCalls(t, streamed)

	// The reply's message goes back as it came; keys Keel does not know
	// are ignored.
	var reply struct {
		Choices []struct {
			Message json.RawMessage `json:"message"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(wholeBody, &reply); err != nil || len(reply.Choices) != 1 {
		t.Fatalf("reply %+v: %v", reply, err)
	}
	for _, assistant := range []string{
		string(reply.Choices[0].Message),
		`{"role":"assistant","content":null,"tool_calls":[{"id":"call_a","type":"function",` +
			`"function":{"name":"lookup","arguments":"{\"id\":7}"},` +
			`"extra_content":{"google":{"thought_signature":"` + sig + `","later":[1]},"acme":{"state":"x"}}},` +
			`{"id":"call_b","type":"function","function":{"name":"refund","arguments":"{}"},"extra_content":{"acme":7}}]}`,
	} {
		body := `{"model":"support","messages":[{"role":"user","content":"hi"},` + assistant + `,` +
			`{"role":"tool","tool_call_id":"call_a","content":"shipped"},{"role":"tool","tool_call_id":"call_b","content":"done"}]}`
		if rec := postChat(t, h, invokeToken(t), body); rec.Code != http.StatusOK {
			t.Fatalf("history: status %d; body %s", rec.Code, rec.Body)
		}
		reqs := router.Requests()
		calls := reqs[len(reqs)-1].GetMessages()[1].GetToolCalls()
		if len(calls) != 2 || calls[0].GetSignature() != sig || calls[1].GetSignature() != "" {
			t.Errorf("router's tool calls %v, want the first signed %s", calls, sig)
		}
	}
}

func TestChatCompletionResponseDefaults(t *testing.T) {
	t.Parallel()
	// A reply with neither finish reason, usage nor model still has every
	// field a client reads.
	router := &fakeRouter{generate: func(context.Context, *keelv1.GenerateRequest) (*keelv1.GenerateResponse, error) {
		return &keelv1.GenerateResponse{Route: "support", Provider: "local"}, nil
	}}
	h := newChatHandler(t, router)

	rec := postChat(t, h, invokeToken(t), simpleChat)

	got := decodeJSON[completionDoc](t, rec, http.StatusOK)
	if got.Model != "support" {
		t.Errorf("model = %q, want the requested support", got.Model)
	}
	c := got.Choices[0]
	if deref(c.FinishReason) != "stop" || c.Message.Content == nil || *c.Message.Content != "" {
		t.Errorf("choice = finish %q content %q, want stop and an empty string", deref(c.FinishReason), deref(c.Message.Content))
	}
	if got.Usage == nil || got.Usage.TotalTokens != 0 || got.Usage.PromptTokensDetails != nil {
		t.Errorf("usage = %+v, want zeros without details", got.Usage)
	}
}

func TestChatCompletionDegraded(t *testing.T) {
	t.Parallel()
	router := &fakeRouter{generate: func(context.Context, *keelv1.GenerateRequest) (*keelv1.GenerateResponse, error) {
		return &keelv1.GenerateResponse{
			Text: "We will get back to you shortly.", Provider: "fallback", Model: "fallback", Route: "support",
			FinishReason: "stop", Degraded: true, DegradedReason: "server",
		}, nil
	}}
	h := newChatHandler(t, router)

	rec := postChat(t, h, invokeToken(t), simpleChat)

	got := decodeJSON[completionDoc](t, rec, http.StatusOK)
	if got.Model != "support" {
		t.Errorf("model = %q, want the requested name for a degraded answer", got.Model)
	}
	if deref(got.Choices[0].Message.Content) != "We will get back to you shortly." {
		t.Errorf("content = %q", deref(got.Choices[0].Message.Content))
	}
	if d := rec.Header().Get("X-Keel-Degraded"); !strings.HasPrefix(d, "true") || !strings.Contains(d, "server") {
		t.Errorf("X-Keel-Degraded = %q, want true with the reason", d)
	}
	if p := rec.Header().Get("X-Keel-Provider"); p != "" {
		t.Errorf("X-Keel-Provider = %q on a degraded answer", p)
	}
	if r := rec.Header().Get("X-Keel-Route"); r != "support" {
		t.Errorf("X-Keel-Route = %q, want support", r)
	}
}

// streamRouter is a fakeRouter whose stream sends msgs in order and then
// returns err.
func streamRouter(err error, msgs ...*keelv1.GenerateStreamResponse) *fakeRouter {
	return &fakeRouter{stream: func(_ context.Context, _ *keelv1.GenerateRequest, send func(*keelv1.GenerateStreamResponse) error) error {
		for _, m := range msgs {
			if err := send(m); err != nil {
				return err
			}
		}
		return err
	}}
}

func TestChatCompletionStream(t *testing.T) {
	t.Parallel()

	final := &keelv1.GenerateResponse{
		Text: "Hello there", Provider: "hosted", Model: "gpt-test-1", Route: "support", FinishReason: "tool_calls",
		ToolCalls: []*keelv1.ToolCall{
			{Id: "call_a", Name: "lookup", ArgumentsJson: `{"id":7}`},
			{Id: "call_b", Name: "refund", ArgumentsJson: `{}`},
		},
		Usage: &keelv1.Usage{InputTokens: 10, OutputTokens: 4, CachedInputTokens: 2},
	}
	msgs := []*keelv1.GenerateStreamResponse{
		{Start: &keelv1.StreamStart{Provider: "hosted", Model: "gpt-test", Template: "greet", TemplateVersion: 2}},
		{Delta: "Hello"},
		{Delta: " there"},
		{ToolCall: final.ToolCalls[0]},
		{ToolCall: final.ToolCalls[1]},
		{Final: final},
	}

	for _, includeUsage := range []bool{true, false} {
		name := map[bool]string{true: "with usage", false: "without usage"}[includeUsage]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			router := &fakeRouter{stream: func(_ context.Context, _ *keelv1.GenerateRequest, send func(*keelv1.GenerateStreamResponse) error) error {
				for _, m := range msgs {
					if err := send(m); err != nil {
						return err
					}
					// Every piece reaches the client as it comes, not
					// when the reply is complete. The handler runs on
					// this goroutine, so rec is safe to read here.
					if m.GetStart() != nil && rec.Body.Len() != 0 {
						t.Errorf("the start notice wrote %q", rec.Body)
					}
					if m.GetDelta() == "Hello" && (!rec.Flushed || !strings.Contains(rec.Body.String(), "Hello")) {
						t.Errorf("first delta not flushed to the client: flushed %v, body %q", rec.Flushed, rec.Body)
					}
				}
				return nil
			}}
			h := newChatHandler(t, router)
			body := `{"model":"support","stream":true,"messages":[{"role":"user","content":"hi"}]}`
			if includeUsage {
				body = `{"model":"support","stream":true,"stream_options":{"include_usage":true},` +
					`"messages":[{"role":"user","content":"hi"}]}`
			}
			req := newRequest(t, http.MethodPost, "/v1/chat/completions", invokeToken(t), body)
			h.ServeHTTP(rec, req)

			if rec.Code != http.StatusOK {
				t.Fatalf("status = %d; body %s", rec.Code, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "text/event-stream" {
				t.Errorf("Content-Type = %q, want text/event-stream", ct)
			}
			events := sseEvents(t, rec.Body.String())
			if len(events) == 0 || events[len(events)-1] != "[DONE]" {
				t.Fatalf("stream does not end with [DONE]: %q", events)
			}
			chunks := decodeChunks(t, events[:len(events)-1])

			var (
				text       strings.Builder
				toolCalls  []toolCallDoc
				finishes   []string
				usage      []*usageDoc
				firstDelta = true
			)
			// Every chunk names the model that answers, as the router said
			// before the first; the headers name the provider.
			if p := rec.Header().Get("X-Keel-Provider"); p != "hosted" {
				t.Errorf("X-Keel-Provider = %q, want hosted", p)
			}
			if tpl := rec.Header().Get("X-Keel-Template"); tpl != "greet@2" {
				t.Errorf("X-Keel-Template = %q, want greet@2", tpl)
			}
			for i, c := range chunks {
				if c.ID != chunks[0].ID || !strings.HasPrefix(c.ID, "chatcmpl-") || c.Created != testNow().Unix() {
					t.Errorf("chunk %d id, created = %q, %d", i, c.ID, c.Created)
				}
				if c.Model != "gpt-test" {
					t.Errorf("chunk %d model = %q, want gpt-test", i, c.Model)
				}
				if c.Usage != nil {
					usage = append(usage, c.Usage)
					if len(c.Choices) != 0 {
						t.Errorf("usage chunk has choices %+v", c.Choices)
					}
					continue
				}
				if len(c.Choices) != 1 || c.Choices[0].Delta == nil || c.Choices[0].Message != nil {
					t.Fatalf("chunk %d choices = %+v, want one delta", i, c.Choices)
				}
				d := c.Choices[0].Delta
				if firstDelta && d.Role != "assistant" {
					t.Errorf("first delta role = %q, want assistant", d.Role)
				}
				if !firstDelta && d.Role != "" {
					t.Errorf("delta %d repeats the role %q", i, d.Role)
				}
				firstDelta = false
				if d.Content != nil {
					text.WriteString(*d.Content)
				}
				toolCalls = append(toolCalls, d.ToolCalls...)
				if f := c.Choices[0].FinishReason; f != nil {
					finishes = append(finishes, *f)
					if i != len(chunks)-1 && (i != len(chunks)-2 || !includeUsage) {
						t.Errorf("finish reason in chunk %d of %d", i, len(chunks))
					}
				}
			}
			if text.String() != "Hello there" {
				t.Errorf("streamed text = %q, want Hello there", text.String())
			}
			if len(toolCalls) != 2 {
				t.Fatalf("tool call deltas = %+v, want two", toolCalls)
			}
			for i, tc := range toolCalls {
				want := final.ToolCalls[i]
				if tc.Index == nil || *tc.Index != i || tc.ID != want.GetId() || tc.Type != "function" ||
					tc.Function.Name != want.GetName() || tc.Function.Arguments != want.GetArgumentsJson() {
					t.Errorf("tool call delta %d = %+v, want index %d and %v", i, tc, i, want)
				}
			}
			if len(finishes) != 1 || finishes[0] != "tool_calls" {
				t.Errorf("finish reasons = %q, want [tool_calls]", finishes)
			}
			if includeUsage {
				if len(usage) != 1 || usage[0].PromptTokens != 10 || usage[0].CompletionTokens != 4 ||
					usage[0].TotalTokens != 14 || usage[0].PromptTokensDetails == nil ||
					usage[0].PromptTokensDetails.CachedTokens != 2 {
					t.Errorf("usage chunks = %+v, want one with 10+4, 2 cached", usage)
				}
				if chunks[len(chunks)-1].Usage == nil {
					t.Error("usage chunk is not the last before [DONE]")
				}
			} else if len(usage) != 0 {
				t.Errorf("usage chunks = %+v without stream_options.include_usage", usage)
			}
		})
	}
}

func TestChatCompletionStreamDegraded(t *testing.T) {
	t.Parallel()
	// A fallback arrives whole in the final message, without deltas.
	router := streamRouter(nil, &keelv1.GenerateStreamResponse{Final: &keelv1.GenerateResponse{
		Text: "We will get back to you.", Provider: "fallback", Model: "fallback", Route: "support",
		FinishReason: "stop", Degraded: true, DegradedReason: "unreachable",
	}})
	h := newChatHandler(t, router)

	rec := postChat(t, h, invokeToken(t),
		`{"model":"support","stream":true,"messages":[{"role":"user","content":"hi"}]}`)

	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d; body %s", rec.Code, rec.Body)
	}
	if d := rec.Header().Get("X-Keel-Degraded"); !strings.Contains(d, "unreachable") {
		t.Errorf("X-Keel-Degraded = %q, want the reason", d)
	}
	if r := rec.Header().Get("X-Keel-Route"); r != "support" {
		t.Errorf("X-Keel-Route = %q, want support", r)
	}
	events := sseEvents(t, rec.Body.String())
	if len(events) != 3 || events[2] != "[DONE]" {
		t.Fatalf("events = %q, want content, finish, [DONE]", events)
	}
	chunks := decodeChunks(t, events[:2])
	first, last := chunks[0].Choices[0], chunks[1].Choices[0]
	if first.Delta.Role != "assistant" || deref(first.Delta.Content) != "We will get back to you." || first.FinishReason != nil {
		t.Errorf("first chunk = %+v", first)
	}
	if deref(last.FinishReason) != "stop" {
		t.Errorf("last chunk finish reason = %q", deref(last.FinishReason))
	}
	for i, c := range chunks {
		if c.Model != "support" {
			t.Errorf("chunk %d model = %q, want the requested name for a degraded answer", i, c.Model)
		}
	}
}

// An empty reply streams as OpenAI's do: a chunk with the assistant's role
// and empty content, then the finish, naming the model that answered.
func TestChatCompletionStreamEmptyReply(t *testing.T) {
	t.Parallel()
	router := streamRouter(nil, &keelv1.GenerateStreamResponse{Final: &keelv1.GenerateResponse{
		Provider: "hosted", Model: "claude-x-2026", Route: "support", FinishReason: "stop",
	}})
	rec := postChat(t, newChatHandler(t, router), invokeToken(t),
		`{"model":"support","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d; body %s", rec.Code, rec.Body)
	}
	events := sseEvents(t, rec.Body.String())
	if len(events) != 3 || events[2] != "[DONE]" {
		t.Fatalf("events = %q, want the role, finish, [DONE]", events)
	}
	chunks := decodeChunks(t, events[:2])
	if first := chunks[0].Choices[0]; first.Delta.Role != "assistant" || first.Delta.Content == nil || *first.Delta.Content != "" {
		t.Errorf("first chunk = %+v, want the assistant's role and empty content", first)
	}
	for i, c := range chunks {
		if c.Model != "claude-x-2026" {
			t.Errorf("chunk %d model = %q, want the model that answered", i, c.Model)
		}
	}
	if p := rec.Header().Get("X-Keel-Provider"); p != "hosted" {
		t.Errorf("X-Keel-Provider = %q, want hosted", p)
	}
}

func TestChatCompletionStreamErrorBeforeFirstDelta(t *testing.T) {
	t.Parallel()
	st, err := status.New(codes.ResourceExhausted, "tenant requests limit reached; retry in 29.5s").
		WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(29500 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	h := newChatHandler(t, streamRouter(st.Err()))

	rec := postChat(t, h, invokeToken(t),
		`{"model":"support","stream":true,"messages":[{"role":"user","content":"hi"}]}`)

	// Nothing was sent yet: the failure is a plain HTTP error, not SSE.
	e := checkOpenAIError(t, rec, http.StatusTooManyRequests)
	if e.Type != "rate_limit_error" || e.code() != "rate_limit_exceeded" {
		t.Errorf("error = %+v, want rate_limit_error rate_limit_exceeded", e)
	}
	if ra := rec.Header().Get("Retry-After"); ra != "30" {
		t.Errorf("Retry-After = %q, want 30", ra)
	}
	if strings.Contains(rec.Body.String(), "data:") {
		t.Errorf("error body is an event stream: %s", rec.Body)
	}
}

func TestChatCompletionStreamErrorAfterDelta(t *testing.T) {
	t.Parallel()
	h := newChatHandler(t, streamRouter(status.Error(codes.Unavailable, "model call failed: server"),
		&keelv1.GenerateStreamResponse{Delta: "Hel"}))

	rec := postChat(t, h, invokeToken(t),
		`{"model":"support","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)

	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d, want the 200 the stream started with; body %s", rec.Code, rec.Body)
	}
	events := sseEvents(t, rec.Body.String())
	if len(events) != 2 {
		t.Fatalf("events = %q, want the delta and an error", events)
	}
	if c := decodeChunks(t, events[:1]); deref(c[0].Choices[0].Delta.Content) != "Hel" {
		t.Errorf("first chunk = %+v", c[0])
	}
	e := decodeOpenAIError(t, []byte(events[1]))
	if e.Type != "server_error" || e.Message != "model call failed: server" {
		t.Errorf("error event = %+v", e)
	}
	if strings.Contains(rec.Body.String(), "[DONE]") {
		t.Error("a stream ended by an error carries [DONE]")
	}
}

// withDetails returns st with details, failing the test when they do not
// attach.
func withDetails(t *testing.T, st *status.Status, details ...*errdetails.RetryInfo) *status.Status {
	t.Helper()
	for _, d := range details {
		var err error
		if st, err = st.WithDetails(d); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

func TestChatCompletionMapsRouterErrors(t *testing.T) {
	t.Parallel()

	retry := func(d time.Duration) *errdetails.RetryInfo {
		return &errdetails.RetryInfo{RetryDelay: durationpb.New(d)}
	}
	badRequest, err := status.New(codes.InvalidArgument, "invalid generate request").WithDetails(&errdetails.BadRequest{
		FieldViolations: []*errdetails.BadRequest_FieldViolation{
			{Field: "temperature", Description: "must be between 0 and 2"},
			{Field: "messages[0].role", Description: "must be system, user, assistant or tool"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		err        error
		status     int
		kind       string
		code       string
		message    string // "" checks nothing
		retryAfter string
	}{
		{
			name: "invalid argument names the fields", err: badRequest.Err(),
			status: 400, kind: "invalid_request_error",
			message: "temperature: must be between 0 and 2; messages[0].role: must be system, user, assistant or tool",
		},
		{
			name:   "context length",
			err:    status.Error(codes.InvalidArgument, "model call failed: context_length"),
			status: 400, kind: "invalid_request_error", code: "context_length_exceeded",
		},
		{
			name:   "no route",
			err:    status.Error(codes.NotFound, `no route for use case "nope"`),
			status: 404, kind: "invalid_request_error", code: "model_not_found", message: "the model names no route; GET /v1/models lists them",
		},
		{
			name: "tenant request limit",
			err: withDetails(t, status.New(codes.ResourceExhausted, "tenant requests limit reached; retry in 1.2s"),
				retry(1200*time.Millisecond)).Err(),
			status: 429, kind: "rate_limit_error", code: "rate_limit_exceeded", retryAfter: "2",
		},
		{
			name: "tenant budget",
			err: withDetails(t, status.New(codes.ResourceExhausted, "tenant budget limit reached; retry in 3h0m0s"),
				retry(3*time.Hour)).Err(),
			status: 429, kind: "rate_limit_error", code: "insufficient_quota", retryAfter: "10800",
		},
		{
			// The provider's rate limit, after the route's own retries.
			name:   "provider rate limit",
			err:    status.Error(codes.ResourceExhausted, "model call failed: rate_limited"),
			status: 429, kind: "rate_limit_error", code: "rate_limit_exceeded",
		},
		{
			name:   "provider quota",
			err:    status.Error(codes.ResourceExhausted, "model call failed: quota"),
			status: 429, kind: "rate_limit_error", code: "insufficient_quota",
		},
		{
			name:   "schema missed twice",
			err:    status.Error(codes.FailedPrecondition, "model call failed: reply does not match the response schema"),
			status: 502, kind: "server_error", code: "schema_mismatch",
		},
		{
			name: "unavailable",
			err: withDetails(t, status.New(codes.Unavailable, "model call failed: no healthy candidate"),
				retry(4*time.Second)).Err(),
			status: 503, kind: "server_error", retryAfter: "4",
		},
		{
			name:   "unavailable without a delay",
			err:    status.Error(codes.Unavailable, "model call failed: server"),
			status: 503, kind: "server_error",
		},
		{
			name:   "deadline",
			err:    status.Error(codes.DeadlineExceeded, "model call failed: timeout"),
			status: 504, kind: "server_error", code: "timeout",
		},
		{
			// Not the router's failure after trying: a restart on the
			// way, which an SDK's retry may well get past.
			name:   "router unreachable",
			err:    status.Error(codes.Unavailable, "connection error: connection refused"),
			status: 503, kind: "server_error",
		},
		{
			name:   "content policy",
			err:    status.Error(codes.FailedPrecondition, "model call refused under the provider's content policy"),
			status: 400, kind: "invalid_request_error", code: "content_policy_violation",
		},
		{
			name:   "credentials",
			err:    status.Error(codes.FailedPrecondition, "model call failed: auth"),
			status: 502, kind: "server_error",
		},
		{
			name:   "no tenant",
			err:    status.Error(codes.Unauthenticated, "the call carries no tenant"),
			status: 401, kind: "authentication_error",
		},
		{
			name:   "permission",
			err:    status.Error(codes.PermissionDenied, "no"),
			status: 403, kind: "permission_error",
		},
		{
			name:   "internal hides the message",
			err:    status.Error(codes.Internal, "secret provider text"),
			status: 500, kind: "server_error", message: "model call failed",
		},
		{
			name:   "not a status",
			err:    errors.New("boom with secret text"),
			status: 500, kind: "server_error", message: "model call failed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			check := func(t *testing.T, rec *httptest.ResponseRecorder) {
				t.Helper()
				e := checkOpenAIError(t, rec, tt.status)
				if e.Type != tt.kind || e.code() != tt.code {
					t.Errorf("type, code = %q, %q, want %q, %q", e.Type, e.code(), tt.kind, tt.code)
				}
				if tt.message != "" && e.Message != tt.message {
					t.Errorf("message = %q, want %q", e.Message, tt.message)
				}
				if ra := rec.Header().Get("Retry-After"); ra != tt.retryAfter {
					t.Errorf("Retry-After = %q, want %q", ra, tt.retryAfter)
				}
				// A spent budget, a schema the model keeps missing, and a
				// failure after the router's own retries and failover are
				// not worth an SDK's automatic retries.
				wantNoRetry := tt.code == "insufficient_quota" || tt.code == "schema_mismatch" ||
					(tt.status >= 500 || tt.status == 429) && strings.HasPrefix(status.Convert(tt.err).Message(), "model call failed")
				if got := rec.Header().Get("X-Should-Retry") == "false"; got != wantNoRetry {
					t.Errorf("X-Should-Retry: false sent = %v, want %v", got, wantNoRetry)
				}
				// The route is named as on a reply, unless there is none.
				wantRoute := "support"
				if tt.status == http.StatusNotFound {
					wantRoute = ""
				}
				if got := rec.Header().Get("X-Keel-Route"); got != wantRoute {
					t.Errorf("X-Keel-Route = %q, want %q", got, wantRoute)
				}
			}
			router := &fakeRouter{
				generate: func(context.Context, *keelv1.GenerateRequest) (*keelv1.GenerateResponse, error) {
					return nil, tt.err
				},
				stream: func(context.Context, *keelv1.GenerateRequest, func(*keelv1.GenerateStreamResponse) error) error {
					return tt.err
				},
			}
			h := newChatHandler(t, router)

			t.Run("whole", func(t *testing.T) {
				check(t, postChat(t, h, invokeToken(t), simpleChat))
			})
			t.Run("stream", func(t *testing.T) {
				check(t, postChat(t, h, invokeToken(t),
					`{"model":"support","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
			})
		})
	}
}

func TestChatCompletionCancelledWritesNothing(t *testing.T) {
	t.Parallel()
	router := &fakeRouter{generate: func(context.Context, *keelv1.GenerateRequest) (*keelv1.GenerateResponse, error) {
		return nil, status.Error(codes.Canceled, "call cancelled")
	}}
	h := newChatHandler(t, router)

	// The client hung up: nobody reads an answer.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := newRequest(t, http.MethodPost, "/v1/chat/completions", invokeToken(t), simpleChat).WithContext(ctx)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Body.Len() != 0 {
		t.Errorf("body for a client that hung up = %q, want none", rec.Body)
	}

	// A cancellation the client did not cause is an error it can read,
	// never an empty 200.
	rec = postChat(t, h, invokeToken(t), simpleChat)
	if rec.Code != http.StatusBadGateway || rec.Body.Len() == 0 {
		t.Errorf("cancellation with the client still there: %d %q, want 502 with an error", rec.Code, rec.Body)
	}
}

func TestChatEndpointsAuthenticate(t *testing.T) {
	t.Parallel()

	endpoints := []struct{ method, path, body string }{
		{http.MethodPost, "/v1/chat/completions", simpleChat},
		{http.MethodGet, "/v1/models", ""},
		{http.MethodGet, "/v1/models/chat", ""},
	}
	tests := []struct {
		name      string
		token     string
		status    int
		kind      string
		code      string
		challenge string
	}{
		{name: "no token", status: 401, kind: "authentication_error", code: "token_missing", challenge: `Bearer realm="keel"`},
		{
			name: "malformed token", token: "not-a-token", status: 401, kind: "authentication_error", code: "token_malformed",
			challenge: `error="invalid_token"`,
		},
		{
			name:   "expired token",
			token:  mustMint(t, testNow().Add(-2*time.Hour), auth.ScopeModelsInvoke),
			status: 401, kind: "authentication_error", code: "token_expired", challenge: `error="invalid_token"`,
		},
		{
			name:   "without models:invoke",
			token:  mustMint(t, testNow(), auth.ScopeReviewsRead, auth.ScopeEmailsWrite),
			status: 403, kind: "permission_error", code: "insufficient_scope", challenge: `error="insufficient_scope"`,
		},
	}
	for _, ep := range endpoints {
		for _, tt := range tests {
			t.Run(ep.path+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				router := &fakeRouter{routes: &keelv1.ListRoutesResponse{}}
				h := newChatHandler(t, router)

				req := newRequest(t, ep.method, ep.path, tt.token, ep.body)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)

				e := checkOpenAIError(t, rec, tt.status)
				// Codes in OpenAI's snake_case, as its own are.
				if e.Type != tt.kind || e.code() != tt.code {
					t.Errorf("type, code = %q, %q, want %q, %q (%q)", e.Type, e.code(), tt.kind, tt.code, e.Message)
				}
				if got := rec.Header().Get("WWW-Authenticate"); !strings.Contains(got, tt.challenge) {
					t.Errorf("WWW-Authenticate = %q, want it to contain %q", got, tt.challenge)
				}
				if n := len(router.Tenants()); n != 0 {
					t.Errorf("router called %d times before the token was accepted", n)
				}
			})
		}
	}
}

// mustMint mints a token of tenant acme issued at issued.
func mustMint(t *testing.T, issued time.Time, scopes ...string) string {
	t.Helper()
	tok, err := auth.Mint([]byte(testKey), "acme", "ana", scopes, time.Hour, issued)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestChatTenantComesFromToken(t *testing.T) {
	t.Parallel()
	router := &fakeRouter{routes: &keelv1.ListRoutesResponse{}}
	h := newChatHandler(t, router)

	// Neither the body's user nor a tenant header changes the tenant.
	tok := token(t, "globex", "hank", auth.ScopeModelsInvoke)
	postChat(t, h, tok, `{"model":"support","user":"acme","messages":[{"role":"user","content":"hi"}]}`,
		"X-Keel-Tenant", "acme")
	postChat(t, h, tok, `{"model":"support","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	req := newRequest(t, http.MethodGet, "/v1/models", tok, "")
	h.ServeHTTP(httptest.NewRecorder(), req)

	got := router.Tenants()
	if len(got) != 3 {
		t.Fatalf("router calls = %d, want 3", len(got))
	}
	for i, tn := range got {
		if tn != "globex" {
			t.Errorf("call %d tenant = %q, want the token's globex", i, tn)
		}
	}
}

func TestChatWithoutRouter(t *testing.T) {
	t.Parallel()
	h := newChatHandler(t, nil)

	e := checkOpenAIError(t, postChat(t, h, invokeToken(t), simpleChat), http.StatusServiceUnavailable)
	if e.Type != "server_error" {
		t.Errorf("type = %q, want server_error", e.Type)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, newRequest(t, http.MethodGet, "/v1/models", invokeToken(t), ""))
	checkOpenAIError(t, rec, http.StatusServiceUnavailable)
}

func TestListModels(t *testing.T) {
	t.Parallel()
	router := &fakeRouter{routes: &keelv1.ListRoutesResponse{Routes: []*keelv1.RouteInfo{
		{
			Name: "chat", Default: true,
			Candidates: []*keelv1.RouteCandidate{
				{Provider: "openai", Model: "gpt-4o-mini", Retention: "store=false on every request", Weight: 80},
				{Provider: "local", Model: "keel-local-1", Retention: "kept in process", Weight: 20},
			},
		},
		{
			Name:       "support_reply",
			Candidates: []*keelv1.RouteCandidate{{Provider: "local", Model: "keel-local-1", Retention: "kept in process"}},
		},
	}}}
	h := newChatHandler(t, router)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, newRequest(t, http.MethodGet, "/v1/models", invokeToken(t), ""))

	type candidate struct {
		Provider  string `json:"provider"`
		Model     string `json:"model"`
		Retention string `json:"retention"`
		Weight    int32  `json:"weight"`
	}
	got := decodeJSON[struct {
		Object string `json:"object"`
		Data   []struct {
			ID      string `json:"id"`
			Object  string `json:"object"`
			Created *int64 `json:"created"`
			OwnedBy string `json:"owned_by"`
			Keel    *struct {
				Default    bool        `json:"default"`
				Candidates []candidate `json:"candidates"`
			} `json:"keel"`
		} `json:"data"`
	}](t, rec, http.StatusOK)

	if got.Object != "list" || len(got.Data) != 2 {
		t.Fatalf("list = %+v, want a list of two models", got)
	}
	for i, want := range []struct {
		id         string
		def        bool
		candidates []candidate
	}{
		{"chat", true, []candidate{
			{"openai", "gpt-4o-mini", "store=false on every request", 80},
			{"local", "keel-local-1", "kept in process", 20},
		}},
		{"support_reply", false, []candidate{{"local", "keel-local-1", "kept in process", 0}}},
	} {
		m := got.Data[i]
		if m.ID != want.id || m.Object != "model" || m.OwnedBy == "" || m.Created == nil {
			t.Errorf("model %d = %+v, want id %s, object model, owned_by and created", i, m, want.id)
		}
		if m.Keel == nil || m.Keel.Default != want.def || len(m.Keel.Candidates) != len(want.candidates) {
			t.Fatalf("model %d keel = %+v, want default %v and %d candidates", i, m.Keel, want.def, len(want.candidates))
		}
		for j, c := range m.Keel.Candidates {
			if c != want.candidates[j] {
				t.Errorf("model %d candidate %d = %+v, want %+v", i, j, c, want.candidates[j])
			}
		}
	}
	if tn := router.Tenants(); len(tn) != 1 || tn[0] != "acme" {
		t.Errorf("ListRoutes tenants = %q, want [acme]", tn)
	}
}

// One model is served as OpenAI serves one; a name that is no route is
// OpenAI's model_not_found.
func TestGetModel(t *testing.T) {
	t.Parallel()
	router := &fakeRouter{routes: &keelv1.ListRoutesResponse{Routes: []*keelv1.RouteInfo{
		{Name: "chat", Candidates: []*keelv1.RouteCandidate{{Provider: "local", Model: "keel-local-1"}}},
		{Name: "support_reply"},
	}}}
	h := newChatHandler(t, router)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, newRequest(t, http.MethodGet, "/v1/models/chat", invokeToken(t), ""))
	got := decodeJSON[struct {
		ID     string `json:"id"`
		Object string `json:"object"`
		Keel   struct {
			Candidates []struct{ Provider string } `json:"candidates"`
		} `json:"keel"`
	}](t, rec, http.StatusOK)
	if got.ID != "chat" || got.Object != "model" || len(got.Keel.Candidates) != 1 {
		t.Errorf("model = %+v, want the chat route", got)
	}

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, newRequest(t, http.MethodGet, "/v1/models/nope", invokeToken(t), ""))
	if e := checkOpenAIError(t, rec, http.StatusNotFound); e.code() != "model_not_found" {
		t.Errorf("unknown model: code %q, want model_not_found", e.code())
	}
}

func TestListModelsEmptyAndFailing(t *testing.T) {
	t.Parallel()

	rec := httptest.NewRecorder()
	newChatHandler(t, &fakeRouter{routes: &keelv1.ListRoutesResponse{}}).
		ServeHTTP(rec, newRequest(t, http.MethodGet, "/v1/models", invokeToken(t), ""))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"data":[]`) {
		t.Errorf("no routes: status %d body %s, want an empty data array", rec.Code, rec.Body)
	}

	rec = httptest.NewRecorder()
	newChatHandler(t, &fakeRouter{routesErr: status.Error(codes.Unavailable, "router is starting")}).
		ServeHTTP(rec, newRequest(t, http.MethodGet, "/v1/models", invokeToken(t), ""))
	if e := checkOpenAIError(t, rec, http.StatusServiceUnavailable); e.Type != "server_error" {
		t.Errorf("type = %q, want server_error", e.Type)
	}
}

func TestTemplateVariablesFromJSON(t *testing.T) {
	t.Parallel()

	// Typed values reach the router as strings; anything else is a 400.
	var got2 map[string]string
	router := &fakeRouter{generate: func(_ context.Context, req *keelv1.GenerateRequest) (*keelv1.GenerateResponse, error) {
		got2 = req.GetTemplateVariables()
		return &keelv1.GenerateResponse{Text: "ok", Route: "support"}, nil
	}}
	h := newChatHandler(t, router)
	rec := postChat(t, h, invokeToken(t),
		`{"model":"support","keel_variables":{"orders":3,"vip":false},"messages":[{"role":"user","content":"hi"}]}`)
	if rec.Code != http.StatusOK || got2["orders"] != "3" || got2["vip"] != "false" {
		t.Errorf("typed variables: %d, router got %v", rec.Code, got2)
	}
	rec = postChat(t, h, invokeToken(t),
		`{"model":"support","keel_variables":{"orders":{"n":3}},"messages":[{"role":"user","content":"hi"}]}`)
	if rec.Code != http.StatusBadRequest {
		t.Errorf("object variable: %d %s, want 400", rec.Code, rec.Body)
	}
	for _, bad := range []string{`[1]`, `null`} {
		rec = postChat(t, h, invokeToken(t),
			`{"model":"support","keel_variables":{"x":`+bad+`},"messages":[{"role":"user","content":"hi"}]}`)
		if rec.Code != http.StatusBadRequest {
			t.Errorf("variable %s: %d, want 400", bad, rec.Code)
		}
	}
	rec = postChat(t, h, invokeToken(t),
		`{"model":"support","keel_variables":{"name":"Ana","credit":-7.5},"messages":[{"role":"user","content":"hi"}]}`)
	if rec.Code != http.StatusOK || got2["name"] != "Ana" || got2["credit"] != "-7.5" {
		t.Errorf("string and negative number: %d, router got %v", rec.Code, got2)
	}
}

func TestChatCompletionsRefusesTrailingData(t *testing.T) {
	t.Parallel()

	h := newChatHandler(t, &fakeRouter{})
	rec := postChat(t, h, invokeToken(t), simpleChat+` {"model":"x"}`)
	if rec.Code != http.StatusBadRequest {
		t.Errorf("two JSON values: %d %s, want 400", rec.Code, rec.Body)
	}
}

// A method the OpenAI paths do not serve is a 405 in OpenAI's format,
// naming the one they do.
func TestChatEndpointsMethodNotAllowed(t *testing.T) {
	t.Parallel()
	h := newChatHandler(t, &fakeRouter{})
	for _, tc := range []struct{ method, path, allow string }{
		{http.MethodGet, "/v1/chat/completions", "POST"},
		{http.MethodDelete, "/v1/chat/completions", "POST"},
		{http.MethodPost, "/v1/models", "GET"},
		{http.MethodPut, "/v1/models/chat", "GET"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, newRequest(t, tc.method, tc.path, invokeToken(t), ""))
		checkOpenAIError(t, rec, http.StatusMethodNotAllowed)
		if got := rec.Header().Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, got, tc.allow)
		}
	}
}

// A gateway serving the model API only needs neither the ingest service
// nor Temporal: its chat endpoint answers, and the email and review
// endpoints say where they are served instead of waiting on a service that
// is not there.
func TestModelAPIOnly(t *testing.T) {
	t.Parallel()
	router := &fakeRouter{generate: func(context.Context, *keelv1.GenerateRequest) (*keelv1.GenerateResponse, error) {
		return &keelv1.GenerateResponse{Text: "hi", Route: "support", Provider: "local"}, nil
	}}
	h, err := httpapi.NewHandler(httpapi.Options{
		TokenKey: []byte(testKey), Router: router, Now: testNow, ModelAPIOnly: true,
	})
	if err != nil {
		t.Fatalf("new handler without ingest and Temporal: %v", err)
	}
	if _, err := httpapi.NewHandler(httpapi.Options{TokenKey: []byte(testKey), Router: router}); !errors.Is(err, httpapi.ErrClientMissing) {
		t.Errorf("full handler without ingest and Temporal: %v, want ErrClientMissing", err)
	}

	if rec := postChat(t, h, invokeToken(t), simpleChat); rec.Code != http.StatusOK {
		t.Fatalf("chat: %d %s", rec.Code, rec.Body)
	}
	tok := mustMint(t, testNow(), auth.ScopeReviewsRead, auth.ScopeReviewsWrite, auth.ScopeEmailsWrite)
	for _, tt := range []struct{ method, path string }{
		{http.MethodPost, "/v1/emails"},
		{http.MethodPost, "/v1/emails/"},
		{http.MethodGet, "/v1/reviews"},
		{http.MethodGet, "/v1/reviews/evt-1"},
		{http.MethodPost, "/v1/reviews/evt-1/approve"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, newRequest(t, tt.method, tt.path, tok, "{}"))
		p := decodeProblem(t, rec, http.StatusNotFound)
		if !strings.Contains(p.Detail, "model API only") {
			t.Errorf("%s %s: detail %q, want one saying the gateway serves the model API only", tt.method, tt.path, p.Detail)
		}
	}
}

// A request field the router refuses is named as the chat request names
// it, in the message and in param; a role OpenAI does not have is refused
// at the gateway, naming the roles it does.
func TestChatErrorsNameChatFields(t *testing.T) {
	t.Parallel()
	st, err := status.New(codes.InvalidArgument, "invalid generate request").WithDetails(&errdetails.BadRequest{
		FieldViolations: []*errdetails.BadRequest_FieldViolation{
			{Field: "response_schema.schema_json", Description: "must be a usable JSON Schema"},
			{Field: "tools[1].parameters_json", Description: "must be valid JSON"},
			{Field: "tools[2].name", Description: "is required"},
			{Field: "max_output_tokens", Description: "must not be negative"},
			{Field: "template_variables", Description: "variable orders: not an integer"},
			{Field: "messages[1].tool_calls[0].signature", Description: "at most 65536 bytes"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	router := &fakeRouter{generate: func(context.Context, *keelv1.GenerateRequest) (*keelv1.GenerateResponse, error) {
		return nil, st.Err()
	}}
	h := newChatHandler(t, router)
	e := checkOpenAIError(t, postChat(t, h, invokeToken(t), simpleChat), http.StatusBadRequest)
	want := "response_format.json_schema.schema: must be a usable JSON Schema; tools[1].function.parameters: must be valid JSON; " +
		"tools[2].function.name: is required; max_tokens: must not be negative; keel_variables: variable orders: not an integer; " +
		"messages[1].tool_calls[0].extra_content.google.thought_signature: at most 65536 bytes"
	if e.Message != want || e.param() != "response_format.json_schema.schema" {
		t.Errorf("message %q, param %q\nwant %q, param response_format.json_schema.schema", e.Message, e.param(), want)
	}

	e = checkOpenAIError(t, postChat(t, h, invokeToken(t), `{"model":"support","messages":[{"role":"robot","content":"hi"}]}`),
		http.StatusBadRequest)
	if e.param() != "messages[0].role" || !strings.Contains(e.Message, "system, developer, user, assistant or tool") {
		t.Errorf("unknown role: param %q, message %q", e.param(), e.Message)
	}
}

// A provider's refusal keeps its words and names the field the provider
// gave, as OpenAI's own errors do.
func TestChatProviderRefusalNamesParam(t *testing.T) {
	t.Parallel()
	st, err := status.New(codes.InvalidArgument, "model call failed: bad_request: 'max_tokens' is not supported with this model.").
		WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
			{Field: "max_tokens", Description: "'max_tokens' is not supported with this model."},
		}})
	if err != nil {
		t.Fatal(err)
	}
	router := &fakeRouter{generate: func(context.Context, *keelv1.GenerateRequest) (*keelv1.GenerateResponse, error) {
		return nil, st.Err()
	}}
	e := checkOpenAIError(t, postChat(t, newChatHandler(t, router), invokeToken(t), simpleChat), http.StatusBadRequest)
	if e.param() != "max_tokens" || e.Message != st.Message() {
		t.Errorf("param %q, message %q; want max_tokens and the router's message", e.param(), e.Message)
	}
}

// A reply that only calls tools says "content": null, as OpenAI's does;
// clients that check the key find it.
func TestChatCompletionToolOnlyContentNull(t *testing.T) {
	t.Parallel()
	router := &fakeRouter{generate: func(context.Context, *keelv1.GenerateRequest) (*keelv1.GenerateResponse, error) {
		return &keelv1.GenerateResponse{Route: "support", Provider: "local", FinishReason: "tool_calls",
			ToolCalls: []*keelv1.ToolCall{{Id: "call_a", Name: "lookup", ArgumentsJson: `{}`}}}, nil
	}}
	rec := postChat(t, newChatHandler(t, router), invokeToken(t), simpleChat)
	var doc struct {
		Choices []struct {
			Message map[string]json.RawMessage `json:"message"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil || len(doc.Choices) != 1 {
		t.Fatalf("reply %s: %v", rec.Body, err)
	}
	if content, ok := doc.Choices[0].Message["content"]; !ok || string(content) != "null" {
		t.Errorf("message %s: want content null", rec.Body)
	}
}

// A streamed answer from the cache says so in its headers, which leave
// with the first piece.
func TestChatCompletionStreamCacheHit(t *testing.T) {
	t.Parallel()
	router := &fakeRouter{stream: func(_ context.Context, _ *keelv1.GenerateRequest, send func(*keelv1.GenerateStreamResponse) error) error {
		for _, m := range []*keelv1.GenerateStreamResponse{
			{Start: &keelv1.StreamStart{Provider: "hosted", Model: "gpt-test", Cached: true}},
			{Delta: "Hello"},
			{Final: &keelv1.GenerateResponse{Text: "Hello", Provider: "hosted", Route: "support", Cached: true, FinishReason: "stop"}},
		} {
			if err := send(m); err != nil {
				return err
			}
		}
		return nil
	}}
	rec := postChat(t, newChatHandler(t, router), invokeToken(t),
		`{"model":"support","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if rec.Code != http.StatusOK || rec.Header().Get("X-Keel-Cache") != "hit" || rec.Header().Get("X-Keel-Provider") != "hosted" {
		t.Errorf("status %d, X-Keel-Cache %q, X-Keel-Provider %q; want 200, hit, hosted",
			rec.Code, rec.Header().Get("X-Keel-Cache"), rec.Header().Get("X-Keel-Provider"))
	}
}
