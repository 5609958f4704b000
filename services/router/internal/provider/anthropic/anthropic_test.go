package anthropic

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keelhq/keel/services/router/internal/provider"
)

var _ provider.Provider = (*Provider)(nil)

var testPassages = []provider.Passage{
	{ChunkID: "kb-shipping#0", Title: "Shipping", Text: "Express shipping arrives the next business day."},
	{ChunkID: "kb-returns#0", Title: "Returns", Text: "Unused items can be returned within 30 days of delivery."},
}

func testRequest() provider.Request {
	return provider.Request{
		Model: "claude-sonnet-4-5",
		Messages: []provider.Message{
			{Role: provider.RoleSystem, Content: "Answer in English."},
			{Role: provider.RoleUser, Content: "Can I return an item? [PERSON_1]"},
		},
		Passages: testPassages,
		Grounded: true,
		Tools: []provider.Tool{
			{
				Name:        "lookup_order",
				Description: "Look up an order",
				Parameters:  json.RawMessage(`{"type":"object","properties":{"order_id":{"type":"string"}}}`),
			},
			{Name: "check_status", Description: "Check the service status"},
		},
		MaxOutputTokens: 300,
	}
}

func ptr[T any](v T) *T { return &v }

// collect returns an emit function that records the deltas. Every piece
// must name the model, which message_start says before any content.
func collect(texts *[]string, calls *[]provider.ToolCall) func(provider.Delta) error {
	return func(d provider.Delta) error {
		if d.Model == "" {
			return errors.New("delta names no model")
		}
		if d.ToolCall != nil {
			if d.Text != "" {
				return errors.New("delta with both text and a tool call")
			}
			*calls = append(*calls, *d.ToolCall)
			return nil
		}
		if d.Text == "" {
			// A tool call has begun; it comes whole later.
			return nil
		}
		*texts = append(*texts, d.Text)
		return nil
	}
}

func TestGenerate(t *testing.T) {
	t.Parallel()

	f := &fakeAnthropic{header: http.Header{"Content-Type": {"application/json"}}, body: fixture(t, "message.json")}
	p := startFake(t, f)

	req := testRequest()
	req.Temperature = ptr(0.2)
	req.Stop = []string{"\n\nHuman:"}
	resp, err := p.Generate(context.Background(), req)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}

	want := provider.Response{
		Text: "Hello [PERSON_1], unused items can be returned within 30 days of delivery [2]. " +
			"Thanks for your patience.",
		Citations:  []string{"kb-returns#0"},
		Confidence: 0.5,
		Model:      "claude-sonnet-4-5-20250929",
		Usage: provider.Usage{
			InputTokens: 182 + 1024, OutputTokens: 24, CacheWriteTokens: 1024,
		},
		FinishReason: provider.FinishStop,
	}
	if diff := cmp.Diff(want, resp); diff != "" {
		t.Errorf("response (-want +got):\n%s", diff)
	}

	got := f.lastRequest(t)
	if got.problems != nil {
		t.Errorf("request problems: %v", got.problems)
	}
	if got.path != "/v1/messages" {
		t.Errorf("path = %q", got.path)
	}
	for name, want := range map[string]string{
		"X-Api-Key":         testAPIKey,
		"Anthropic-Version": "2023-06-01",
		"Content-Type":      "application/json",
	} {
		if v := got.header.Get(name); v != want {
			t.Errorf("header %s = %q, want %q", name, v, want)
		}
	}
	body := got.body
	if body.Model != "claude-sonnet-4-5" || body.Stream || body.MaxTokens != 300 {
		t.Errorf("request = %+v", body)
	}
	if *body.Temperature != 0.2 || body.TopP != nil || !cmp.Equal(body.StopSequences, []string{"\n\nHuman:"}) {
		t.Errorf("sampling = %v %v %q", *body.Temperature, body.TopP, body.StopSequences)
	}

	var system string
	if err := json.Unmarshal(body.System, &system); err != nil {
		t.Fatalf("system is not a string: %s", body.System)
	}
	wantSystem := provider.GroundingPrompt(testPassages) + "\n\nAnswer in English."
	if system != wantSystem {
		t.Errorf("system = %q, want %q", system, wantSystem)
	}
	if len(body.Messages) != 1 || body.Messages[0].Role != "user" ||
		*body.Messages[0].Content[0].Text != "Can I return an item? [PERSON_1]" {
		t.Errorf("messages = %s", got.raw)
	}
	if len(body.Tools) != 2 || body.Tools[1].Name != "check_status" ||
		string(body.Tools[1].InputSchema) != `{"type":"object","properties":{}}` {
		t.Errorf("tools = %+v", body.Tools)
	}
	if body.ToolChoice != nil {
		t.Errorf("tool_choice = %v, want none sent", body.ToolChoice)
	}
}

func TestGenerateDefaults(t *testing.T) {
	t.Parallel()

	f := &fakeAnthropic{body: fixture(t, "message.json")}
	p := startFake(t, f)

	// Not grounded: the passages stay out of the prompt, and with no
	// system message there is no system parameter.
	req := provider.Request{
		Model:    "claude-haiku-4-5",
		Messages: []provider.Message{{Role: provider.RoleUser, Content: "Hi"}},
		Passages: testPassages,
	}
	if _, err := p.Generate(context.Background(), req); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	got := f.lastRequest(t)
	if got.body.MaxTokens != defaultMaxTokens {
		t.Errorf("max_tokens = %d, want %d", got.body.MaxTokens, defaultMaxTokens)
	}
	var wire map[string]any
	_ = json.Unmarshal(got.raw, &wire)
	for _, key := range []string{"system", "tools", "tool_choice", "temperature", "top_p", "stop_sequences", "stream"} {
		if _, ok := wire[key]; ok {
			t.Errorf("request has %q: %s", key, got.raw)
		}
	}
}

// TestSamplingParameters sends OpenAI-style sampling parameters that the
// Messages API takes otherwise or not at all.
func TestSamplingParameters(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name        string
		temperature *float64
		topP        *float64
		stop        []string
		// want* are what goes on the wire; wantReason, when set, is the
		// reason of the refusal the caller reads.
		wantTemperature *float64
		wantTopP        *float64
		wantStop        []string
		wantReason      string
	}{
		{
			// Newer models refuse both; temperature is the one kept.
			name:        "temperature and top_p",
			temperature: ptr(0.3), topP: ptr(0.9),
			wantTemperature: ptr(0.3),
		},
		{
			name: "top_p alone",
			topP: ptr(0.9), wantTopP: ptr(0.9),
		},
		{
			// OpenAI takes up to 2: not clamped, refused with a reason.
			name:            "temperature above 1",
			temperature:     ptr(1.5),
			wantTemperature: ptr(1.5),
			wantReason:      "temperature: out of range",
		},
		{
			name:     "whitespace stop sequences dropped",
			stop:     []string{"\n", "END", " ", "", "\t\r\n", "\n\nHuman:"},
			wantStop: []string{"END", "\n\nHuman:"},
		},
		{
			name: "only a newline stop sequence",
			stop: []string{"\n"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			f := &fakeAnthropic{body: fixture(t, "message.json")}
			p := startFake(t, f)
			req := testRequest()
			req.Temperature, req.TopP, req.Stop = tt.temperature, tt.topP, tt.stop
			_, err := p.Generate(context.Background(), req)

			var pe *provider.Error
			switch {
			case tt.wantReason == "" && err != nil:
				t.Fatalf("Generate: %v", err)
			case tt.wantReason != "" && (!errors.As(err, &pe) || pe.Reason != tt.wantReason):
				t.Fatalf("error = %v (%+v), want a refusal with reason %q", err, pe, tt.wantReason)
			}
			body := f.lastRequest(t).body
			if diff := cmp.Diff(tt.wantTemperature, body.Temperature); diff != "" {
				t.Errorf("temperature (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantTopP, body.TopP); diff != "" {
				t.Errorf("top_p (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantStop, body.StopSequences); diff != "" {
				t.Errorf("stop_sequences (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	t.Parallel()

	p := New(Config{Name: "claude"})
	if p.endpoint != "https://api.anthropic.com/v1/messages" {
		t.Errorf("endpoint = %q", p.endpoint)
	}
	if p.client == nil || p.client.Timeout != 0 || p.now == nil {
		t.Errorf("client = %+v, now set = %v", p.client, p.now != nil)
	}
	if p.Name() != "claude" {
		t.Errorf("Name() = %q", p.Name())
	}
	if r := p.Retention(); !strings.Contains(r, "no training by default") || !strings.Contains(r, "no per-request") {
		t.Errorf("Retention() = %q", r)
	}
}

func TestGenerateToolUse(t *testing.T) {
	t.Parallel()

	p := startFake(t, &fakeAnthropic{body: fixture(t, "message_tool_use.json")})
	resp, err := p.Generate(context.Background(), testRequest())
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	wantCalls := []provider.ToolCall{
		{ID: "toolu_01KeelOrderA", Name: "lookup_order", Arguments: `{"order_id":"ORD-12345"}`},
		{ID: "toolu_01KeelOrderB", Name: "lookup_order", Arguments: `{"order_id":"ORD-2","fields":["status","eta"]}`},
	}
	if diff := cmp.Diff(wantCalls, resp.ToolCalls); diff != "" {
		t.Errorf("tool calls (-want +got):\n%s", diff)
	}
	if resp.FinishReason != provider.FinishToolCalls || resp.Text != "I'll look up both orders." {
		t.Errorf("finish = %q, text = %q", resp.FinishReason, resp.Text)
	}
	wantUsage := provider.Usage{InputTokens: 310 + 900, OutputTokens: 71, CachedInputTokens: 900}
	if resp.Usage != wantUsage {
		t.Errorf("usage = %+v, want %+v", resp.Usage, wantUsage)
	}
}

// TestConversationShape checks the wire form of a conversation with
// system turns, repeated roles, tool calls and their results.
func TestConversationShape(t *testing.T) {
	t.Parallel()

	f := &fakeAnthropic{body: fixture(t, "message.json")}
	p := startFake(t, f)

	req := testRequest()
	req.Grounded = false
	req.Messages = []provider.Message{
		{Role: provider.RoleSystem, Content: "You are Keel."},
		{Role: provider.RoleUser, Content: "Where are my orders?"},
		{Role: provider.RoleUser, Content: "ORD-1 and ORD-2."},
		{Role: provider.RoleSystem, Content: "Be brief."},
		{Role: provider.RoleAssistant, Content: "Checking both.", ToolCalls: []provider.ToolCall{
			// Another provider's signature is not Anthropic's to see.
			{ID: "toolu_1", Name: "lookup_order", Arguments: `{"order_id": "ORD-1"}`, Signature: "Z2VtaW5pJ3M="},
			{ID: "toolu_2", Name: "lookup_order", Arguments: `{"order_id":"ORD-2"}`},
		}},
		{Role: provider.RoleTool, ToolCallID: "toolu_1", Content: `{"status":"shipped"}`},
		{Role: provider.RoleTool, ToolCallID: "toolu_2", Content: `{"status":"packed"}`},
		{Role: provider.RoleUser, Content: "And the status page?"},
		{Role: provider.RoleAssistant, ToolCalls: []provider.ToolCall{{ID: "toolu_3", Name: "check_status"}}},
		{Role: provider.RoleTool, ToolCallID: "toolu_3", Content: "all green"},
	}
	if _, err := p.Generate(context.Background(), req); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	got := f.lastRequest(t)
	if got.problems != nil {
		t.Fatalf("request problems: %v", got.problems)
	}

	var system string
	_ = json.Unmarshal(got.body.System, &system)
	if system != "You are Keel.\n\nBe brief." {
		t.Errorf("system = %q", system)
	}

	var wire struct {
		Messages []struct {
			Role    string           `json:"role"`
			Content []map[string]any `json:"content"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(got.raw, &wire); err != nil {
		t.Fatalf("decode: %v", err)
	}
	type block = map[string]any
	want := []struct {
		role    string
		content []block
	}{
		{"user", []block{
			{"type": "text", "text": "Where are my orders?"},
			{"type": "text", "text": "ORD-1 and ORD-2."},
		}},
		{"assistant", []block{
			{"type": "text", "text": "Checking both."},
			{"type": "tool_use", "id": "toolu_1", "name": "lookup_order", "input": block{"order_id": "ORD-1"}},
			{"type": "tool_use", "id": "toolu_2", "name": "lookup_order", "input": block{"order_id": "ORD-2"}},
		}},
		{"user", []block{
			{"type": "tool_result", "tool_use_id": "toolu_1", "content": `{"status":"shipped"}`},
			{"type": "tool_result", "tool_use_id": "toolu_2", "content": `{"status":"packed"}`},
			{"type": "text", "text": "And the status page?"},
		}},
		{"assistant", []block{
			{"type": "tool_use", "id": "toolu_3", "name": "check_status", "input": block{}},
		}},
		{"user", []block{
			{"type": "tool_result", "tool_use_id": "toolu_3", "content": "all green"},
		}},
	}
	if len(wire.Messages) != len(want) {
		t.Fatalf("got %d messages, want %d: %s", len(wire.Messages), len(want), got.raw)
	}
	if strings.Contains(string(got.raw), "Z2VtaW5pJ3M=") {
		t.Errorf("a tool call's signature was sent: %s", got.raw)
	}
	for i, w := range want {
		m := wire.Messages[i]
		if m.Role != w.role {
			t.Errorf("message %d role = %q, want %q", i, m.Role, w.role)
		}
		if diff := cmp.Diff(w.content, m.Content); diff != "" {
			t.Errorf("message %d content (-want +got):\n%s", i, diff)
		}
	}
}

func TestToolCallArgumentsNotJSON(t *testing.T) {
	t.Parallel()

	f := &fakeAnthropic{body: fixture(t, "message.json")}
	p := startFake(t, f)
	req := testRequest()
	req.Messages = append(req.Messages,
		provider.Message{Role: provider.RoleAssistant, ToolCalls: []provider.ToolCall{{ID: "t1", Name: "lookup_order", Arguments: "{oops"}}},
		provider.Message{Role: provider.RoleTool, ToolCallID: "t1", Content: "x"},
	)
	_, err := p.Generate(context.Background(), req)
	if !errors.Is(err, provider.ErrRequestRejected) {
		t.Errorf("error = %v, want ErrRequestRejected", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.requests) != 0 {
		t.Errorf("a request was sent")
	}
}

func TestToolChoice(t *testing.T) {
	t.Parallel()

	no, yes := ptr(false), ptr(true)
	tests := []struct {
		name     string
		choice   string
		parallel *bool
		noTools  bool
		want     map[string]any
	}{
		{name: "default", want: nil},
		{name: "default, parallel allowed", parallel: yes, want: nil},
		{name: "default, no parallel", parallel: no, want: map[string]any{"type": "auto", "disable_parallel_tool_use": true}},
		{name: "auto", choice: "auto", want: map[string]any{"type": "auto"}},
		{name: "required", choice: "required", want: map[string]any{"type": "any"}},
		{name: "required, no parallel", choice: "required", parallel: no, want: map[string]any{"type": "any", "disable_parallel_tool_use": true}},
		{name: "none", choice: "none", want: map[string]any{"type": "none"}},
		{name: "none ignores parallel", choice: "none", parallel: no, want: map[string]any{"type": "none"}},
		{name: "one tool", choice: "lookup_order", want: map[string]any{"type": "tool", "name": "lookup_order"}},
		{name: "one tool, no parallel", choice: "lookup_order", parallel: no, want: map[string]any{"type": "tool", "name": "lookup_order", "disable_parallel_tool_use": true}},
		{name: "no tools", choice: "required", parallel: no, noTools: true, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			f := &fakeAnthropic{body: fixture(t, "message.json")}
			p := startFake(t, f)
			req := testRequest()
			req.ToolChoice, req.ParallelToolCalls = tt.choice, tt.parallel
			if tt.noTools {
				req.Tools = nil
			}
			if _, err := p.Generate(context.Background(), req); err != nil {
				t.Fatalf("Generate: %v", err)
			}
			got := f.lastRequest(t)
			if diff := cmp.Diff(tt.want, got.body.ToolChoice); diff != "" {
				t.Errorf("tool_choice (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPromptCache(t *testing.T) {
	t.Parallel()

	f := &fakeAnthropic{body: fixture(t, "message.json")}
	p := startFake(t, f)
	req := testRequest()
	req.PromptCache = true
	if _, err := p.Generate(context.Background(), req); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	got := f.lastRequest(t)
	if got.problems != nil {
		t.Fatalf("request problems: %v", got.problems)
	}
	var system []map[string]any
	if err := json.Unmarshal(got.body.System, &system); err != nil {
		t.Fatalf("system is not a list of blocks: %s", got.body.System)
	}
	want := []map[string]any{
		{"type": "text", "text": provider.GroundingPrompt(testPassages)},
		{"type": "text", "text": "Answer in English.", "cache_control": map[string]any{"type": "ephemeral"}},
	}
	if diff := cmp.Diff(want, system); diff != "" {
		t.Errorf("system (-want +got):\n%s", diff)
	}
	for _, tl := range got.body.Tools {
		if tl.CacheControl != nil {
			t.Errorf("tool %s has a breakpoint beside the system prompt's", tl.Name)
		}
	}

	// Without a system prompt, the last tool carries the breakpoint: the
	// tools are still cached.
	req.Messages, req.Passages, req.Grounded = req.Messages[1:], nil, false
	if _, err := p.Generate(context.Background(), req); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	got = f.lastRequest(t)
	tools := got.body.Tools
	if len(got.body.System) != 0 || len(tools) == 0 || tools[len(tools)-1].CacheControl["type"] != "ephemeral" {
		t.Errorf("system %s, tools %+v; want no system and a breakpoint on the last tool", got.body.System, tools)
	}
}

func TestStructuredOutput(t *testing.T) {
	t.Parallel()

	schema := json.RawMessage(`{"type":"object","properties":{"answer":{"type":"string"},"confidence":{"type":"number"}},"required":["answer"]}`)
	req := testRequest()
	req.Schema = &provider.Schema{Name: "reply draft", JSON: schema}
	req.ToolChoice = "none" // the caller's tools are off: the schema tool is forced
	const wantText = `{"answer":"Unused items can be returned within 30 days [2].","confidence":0.9}`

	checkWire := func(t *testing.T, got recordedRequest) {
		t.Helper()
		if got.problems != nil {
			t.Fatalf("request problems: %v", got.problems)
		}
		tools := got.body.Tools
		if len(tools) != 3 || tools[2].Name != "reply_draft" || string(tools[2].InputSchema) != string(schema) {
			t.Errorf("tools = %+v", tools)
		}
		wantChoice := map[string]any{"type": "tool", "name": "reply_draft", "disable_parallel_tool_use": true}
		if diff := cmp.Diff(wantChoice, got.body.ToolChoice); diff != "" {
			t.Errorf("tool_choice (-want +got):\n%s", diff)
		}
	}

	t.Run("generate", func(t *testing.T) {
		t.Parallel()

		f := &fakeAnthropic{body: fixture(t, "message_structured.json")}
		p := startFake(t, f)
		resp, err := p.Generate(context.Background(), req)
		if err != nil {
			t.Fatalf("Generate: %v", err)
		}
		checkWire(t, f.lastRequest(t))
		if resp.Text != wantText || resp.ToolCalls != nil || resp.FinishReason != provider.FinishStop {
			t.Errorf("response = %+v", resp)
		}
	})
	t.Run("words before the answer", func(t *testing.T) {
		t.Parallel()

		// Offered beside the caller's tools, the schema tool may follow
		// some words of the model's; the reply is the answer alone.
		body := []byte(`{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",` +
			`"content":[{"type":"text","text":"Per the policy [2], here is the draft:"},` +
			`{"type":"tool_use","id":"toolu_1","name":"reply_draft","input":{"answer":"Unused items can be returned within 30 days [2].","confidence":0.9}}],` +
			`"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":220,"output_tokens":35}}`)
		p := startFake(t, &fakeAnthropic{body: body})
		resp, err := p.Generate(context.Background(), req)
		if err != nil || resp.Text != wantText {
			t.Errorf("text = %q, %v; want the answer alone", resp.Text, err)
		}
	})
	t.Run("stream", func(t *testing.T) {
		t.Parallel()

		f := &fakeAnthropic{body: fixture(t, "stream_structured.sse"), chunkSize: 3}
		p := startFake(t, f)
		var (
			texts []string
			calls []provider.ToolCall
		)
		resp, err := p.Stream(context.Background(), req, collect(&texts, &calls))
		if err != nil {
			t.Fatalf("Stream: %v", err)
		}
		checkWire(t, f.lastRequest(t))
		wantTexts := []string{`{"answer": "Unused items can be returned within 30 days [2].",`, ` "confidence": 0.9}`}
		if diff := cmp.Diff(wantTexts, texts); diff != "" {
			t.Errorf("text deltas (-want +got):\n%s", diff)
		}
		if calls != nil || resp.ToolCalls != nil || resp.FinishReason != provider.FinishStop {
			t.Errorf("calls = %v, response = %+v", calls, resp)
		}
		if compactJSON(resp.Text) != wantText || resp.Text != strings.Join(texts, "") {
			t.Errorf("text = %q", resp.Text)
		}
	})
}

// TestStructuredOutputNotAnObject asks for replies whose schema is not an
// object schema, which the API refuses as a tool's input_schema: the
// schema goes wrapped in an object and the reply comes back unwrapped.
// A wrapped schema keeps its references working: its definitions move to
// the wrapper's root, and references to its own parts follow it under
// properties.value.
func TestWrapSchemaKeepsReferences(t *testing.T) {
	t.Parallel()
	got, err := wrapSchema(json.RawMessage(`{"$id":"https://example.com/s","type":"array","items":{"anyOf":[{"$ref":"#/$defs/item"},{"$ref":"#"}]},` +
		`"$defs":{"item":{"type":"object","properties":{"next":{"$ref":"#/$defs/item"},"all":{"$ref":"#/items"}}}},"maxItems":1e3}`))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"$id":"https://example.com/s","type":"object","required":["value"],"additionalProperties":false,` +
		`"$defs":{"item":{"type":"object","properties":{"next":{"$ref":"#/$defs/item"},"all":{"$ref":"#/properties/value/items"}}}},` +
		`"properties":{"value":{"type":"array","maxItems":1e3,"items":{"anyOf":[{"$ref":"#/$defs/item"},{"$ref":"#/properties/value"}]}}}}`
	var gotV, wantV any
	_ = json.Unmarshal(got, &gotV)
	_ = json.Unmarshal([]byte(want), &wantV)
	if diff := cmp.Diff(wantV, gotV); diff != "" {
		t.Errorf("wrapped schema (-want +got):\n%s", diff)
	}
	if !strings.Contains(string(got), `"maxItems":1e3`) {
		t.Errorf("numbers rewritten: %s", got)
	}
}

func TestStructuredOutputNotAnObject(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		schema string
		// input is the schema tool's input as the model writes it.
		input    string
		wantText string
	}{
		{
			name:     "array",
			schema:   `{"type":"array","items":{"type":"string"}}`,
			input:    `{"value": ["kb-returns#0", "kb-shipping#0"]}`,
			wantText: `["kb-returns#0","kb-shipping#0"]`,
		},
		{
			name:     "string",
			schema:   `{"type":"string","enum":["yes","no"]}`,
			input:    `{"value": "yes"}`,
			wantText: `"yes"`,
		},
		{
			name:     "no type",
			schema:   `{"anyOf":[{"type":"integer"},{"type":"null"}]}`,
			input:    `{"value": 30}`,
			wantText: `30`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			req := testRequest()
			req.Schema = &provider.Schema{Name: "answer", JSON: json.RawMessage(tt.schema)}
			checkWire := func(t *testing.T, got recordedRequest) {
				t.Helper()
				if got.problems != nil {
					t.Fatalf("request problems: %v", got.problems)
				}
				var schema, want any
				_ = json.Unmarshal(got.body.Tools[2].InputSchema, &schema)
				_ = json.Unmarshal([]byte(`{"type":"object","properties":{"value":`+tt.schema+`},`+
					`"required":["value"],"additionalProperties":false}`), &want)
				if diff := cmp.Diff(want, schema); diff != "" {
					t.Errorf("schema tool input_schema (-want +got):\n%s", diff)
				}
			}

			body := `{"type":"message","role":"assistant","model":"m","content":[{"type":"tool_use",` +
				`"id":"toolu_1","name":"answer","input":` + tt.input + `}],"stop_reason":"tool_use",` +
				`"usage":{"input_tokens":1,"output_tokens":1}}`
			f := &fakeAnthropic{body: []byte(body)}
			p := startFake(t, f)
			resp, err := p.Generate(context.Background(), req)
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			checkWire(t, f.lastRequest(t))
			if resp.Text != tt.wantText || resp.ToolCalls != nil || resp.FinishReason != provider.FinishStop {
				t.Errorf("response = %+v, want text %s", resp, tt.wantText)
			}

			half := len(tt.input) / 2
			stream := toolUseStream("answer", tt.input[:half], tt.input[half:])
			f = &fakeAnthropic{body: stream, chunkSize: 5}
			p = startFake(t, f)
			var (
				texts []string
				calls []provider.ToolCall
			)
			resp, err = p.Stream(context.Background(), req, collect(&texts, &calls))
			if err != nil {
				t.Fatalf("Stream: %v", err)
			}
			checkWire(t, f.lastRequest(t))
			// The reply is known only once the wrapper is whole: one piece.
			if diff := cmp.Diff([]string{tt.wantText}, texts); diff != "" {
				t.Errorf("text deltas (-want +got):\n%s", diff)
			}
			if resp.Text != tt.wantText || calls != nil || resp.FinishReason != provider.FinishStop {
				t.Errorf("streamed response = %+v, calls = %v", resp, calls)
			}
		})
	}

	t.Run("value left out", func(t *testing.T) {
		t.Parallel()

		req := testRequest()
		req.Schema = &provider.Schema{Name: "answer", JSON: json.RawMessage(`{"type":"array"}`)}
		body := `{"type":"message","role":"assistant","model":"m","content":[{"type":"tool_use",` +
			`"id":"toolu_1","name":"answer","input":{"items":[1]}}],"stop_reason":"tool_use"}`
		p := startFake(t, &fakeAnthropic{body: []byte(body)})
		if _, err := p.Generate(context.Background(), req); !errors.Is(err, provider.ErrServerFailed) {
			t.Errorf("Generate error = %v, want ErrServerFailed", err)
		}
		stream := toolUseStream("answer", `{"items":[1]}`)
		p = startFake(t, &fakeAnthropic{body: stream})
		var texts []string
		_, err := p.Stream(context.Background(), req, func(d provider.Delta) error {
			if d.Text != "" || d.ToolCall != nil { // not the sign that the reply began
				texts = append(texts, d.Text)
			}
			return nil
		})
		if !errors.Is(err, provider.ErrServerFailed) || texts != nil {
			t.Errorf("Stream error = %v, deltas %q; want ErrServerFailed and nothing emitted", err, texts)
		}
	})
}

// TestStructuredOutputBesideTools asks for structured output from callers
// that offer tools too: the schema tool goes beside their tools under the
// caller's tool choice, so that the model may call them or answer through
// it. It stays forced when there are no tools or the choice is "none".
func TestStructuredOutputBesideTools(t *testing.T) {
	t.Parallel()

	schema := json.RawMessage(`{"type":"object","properties":{"answer":{"type":"string"},"confidence":{"type":"number"}},"required":["answer"]}`)
	const wantText = `{"answer":"Unused items can be returned within 30 days [2].","confidence":0.9}`
	forced := map[string]any{"type": "tool", "name": "reply_draft", "disable_parallel_tool_use": true}
	no := ptr(false)
	tests := []struct {
		name       string
		choice     string
		parallel   *bool
		noTools    bool
		wantChoice map[string]any
		// wantForced says the schema tool is forced, and described so.
		wantForced bool
	}{
		{name: "default", wantChoice: nil},
		{name: "default, no parallel", parallel: no, wantChoice: map[string]any{"type": "auto", "disable_parallel_tool_use": true}},
		{name: "auto", choice: "auto", wantChoice: map[string]any{"type": "auto"}},
		// The schema tool is one of those the model must pick from: an
		// answer through it meets "required".
		{name: "required", choice: "required", wantChoice: map[string]any{"type": "any"}},
		{name: "the caller's tool", choice: "lookup_order", wantChoice: map[string]any{"type": "tool", "name": "lookup_order"}},
		{name: "none", choice: "none", wantChoice: forced, wantForced: true},
		{name: "no tools", choice: "auto", noTools: true, wantChoice: forced, wantForced: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			req := testRequest()
			req.Schema = &provider.Schema{Name: "reply draft", JSON: schema}
			req.ToolChoice, req.ParallelToolCalls = tt.choice, tt.parallel
			if tt.noTools {
				req.Tools = nil
			}
			f := &fakeAnthropic{body: fixture(t, "message_structured.json")}
			p := startFake(t, f)
			resp, err := p.Generate(context.Background(), req)
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}

			got := f.lastRequest(t)
			if got.problems != nil {
				t.Fatalf("request problems: %v", got.problems)
			}
			if diff := cmp.Diff(tt.wantChoice, got.body.ToolChoice); diff != "" {
				t.Errorf("tool_choice (-want +got):\n%s", diff)
			}
			tools := got.body.Tools
			if len(tools) != len(req.Tools)+1 || tools[len(tools)-1].Name != "reply_draft" {
				t.Fatalf("tools = %+v, want the caller's and reply_draft", tools)
			}
			beside := strings.HasPrefix(tools[len(tools)-1].Description, "When you answer rather than call another tool")
			if beside == tt.wantForced {
				t.Errorf("schema tool description = %q", tools[len(tools)-1].Description)
			}
			if resp.Text != wantText || resp.ToolCalls != nil || resp.FinishReason != provider.FinishStop {
				t.Errorf("response = %+v, want the answer as text", resp)
			}
		})
	}
}

// TestStructuredOutputBesideToolsCalls has the model call one of the
// caller's tools rather than answer through the schema tool beside them:
// the call comes back as a tool call, streamed or not.
func TestStructuredOutputBesideToolsCalls(t *testing.T) {
	t.Parallel()

	req := testRequest()
	req.Schema = &provider.Schema{Name: "answer", JSON: json.RawMessage(`{"type":"array","items":{"type":"string"}}`)}
	req.ToolChoice = "required"
	want := []provider.ToolCall{{ID: "toolu_1", Name: "lookup_order", Arguments: `{"order_id":"ORD-1"}`}}
	checkWire := func(t *testing.T, got recordedRequest) {
		t.Helper()
		if got.problems != nil {
			t.Fatalf("request problems: %v", got.problems)
		}
		if diff := cmp.Diff(map[string]any{"type": "any"}, got.body.ToolChoice); diff != "" {
			t.Errorf("tool_choice (-want +got):\n%s", diff)
		}
	}

	body := `{"type":"message","role":"assistant","model":"m","content":[{"type":"tool_use",` +
		`"id":"toolu_1","name":"lookup_order","input":{"order_id":"ORD-1"}}],"stop_reason":"tool_use",` +
		`"usage":{"input_tokens":1,"output_tokens":1}}`
	f := &fakeAnthropic{body: []byte(body)}
	p := startFake(t, f)
	resp, err := p.Generate(context.Background(), req)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	checkWire(t, f.lastRequest(t))
	if diff := cmp.Diff(want, resp.ToolCalls); diff != "" {
		t.Errorf("tool calls (-want +got):\n%s", diff)
	}
	if resp.Text != "" || resp.FinishReason != provider.FinishToolCalls {
		t.Errorf("text = %q, finish = %q", resp.Text, resp.FinishReason)
	}

	stream := toolUseStream("lookup_order", `{"order_id":`, ` "ORD-1"}`)
	f = &fakeAnthropic{body: stream, chunkSize: 7}
	p = startFake(t, f)
	var (
		texts []string
		calls []provider.ToolCall
	)
	resp, err = p.Stream(context.Background(), req, collect(&texts, &calls))
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	checkWire(t, f.lastRequest(t))
	if diff := cmp.Diff(want, calls); diff != "" {
		t.Errorf("streamed tool calls (-want +got):\n%s", diff)
	}
	if texts != nil || resp.Text != "" || resp.FinishReason != provider.FinishToolCalls {
		t.Errorf("texts = %q, response = %+v", texts, resp)
	}
}

// Tool input is held back until its block ends, where the router cannot
// count it: a provider that streams input far past max_tokens is cut off
// by the stream, not read to its end.
func TestStreamToolInputPastMaxTokens(t *testing.T) {
	t.Parallel()
	fragments := []string{`{"note": "`}
	for range 100 {
		fragments = append(fragments, strings.Repeat("word ", 20))
	}
	p := startFake(t, &fakeAnthropic{body: toolUseStream("lookup_order", append(fragments, `"}`)...)})
	req := testRequest()
	req.MaxOutputTokens = 10
	_, err := p.Stream(context.Background(), req, func(provider.Delta) error { return nil })
	if !errors.Is(err, provider.ErrOverran) || !errors.Is(err, provider.ErrServerFailed) {
		t.Errorf("error = %v, want ErrOverran as a server failure", err)
	}
	// Without a cap of the caller's, the one sent (4096) holds.
	req.MaxOutputTokens = 0
	if _, err := p.Stream(context.Background(), req, func(provider.Delta) error { return nil }); err != nil {
		t.Errorf("2,000 words of input under the default cap: %v", err)
	}
}

// Tool call ids from other servers' histories are sent as the API takes
// them: only letters, digits, _ and -, each tool_use id once; every result
// keeps answering its own call. White-space text makes no block.
func TestHistoryToolIDs(t *testing.T) {
	t.Parallel()
	f := &fakeAnthropic{body: fixture(t, "message.json")}
	p := startFake(t, f)
	req := provider.Request{Model: "claude-sonnet-4-5", Messages: []provider.Message{
		{Role: provider.RoleUser, Content: "Weather in Paris and London?"},
		{Role: provider.RoleAssistant, Content: "\n\n", ToolCalls: []provider.ToolCall{
			{ID: "functions.get_weather:0", Name: "get_weather", Arguments: `{"city":"Paris"}`},
			{ID: "call_0", Name: "get_weather", Arguments: `{"city":"London"}`},
		}},
		{Role: provider.RoleTool, ToolCallID: "call_0", Content: "rain"},
		{Role: provider.RoleTool, ToolCallID: "functions.get_weather:0", Content: "sun"},
		{Role: provider.RoleUser, Content: "  "},
		{Role: provider.RoleAssistant, ToolCalls: []provider.ToolCall{{ID: "call_0", Name: "get_weather", Arguments: `{"city":"Rome"}`}}},
		{Role: provider.RoleTool, ToolCallID: "call_0", Content: "cloud"},
	}}
	if _, err := p.Generate(context.Background(), req); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	type pair struct{ id, text string }
	var calls, results []pair
	seen := map[string]bool{}
	for _, m := range f.lastRequest(t).body.Messages {
		for _, b := range m.Content {
			switch b.Type {
			case "tool_use":
				if seen[b.ID] || strings.Trim(b.ID, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != "" {
					t.Errorf("tool_use id %q: repeated or not as the API takes it", b.ID)
				}
				seen[b.ID] = true
				calls = append(calls, pair{b.ID, string(b.Input)})
			case "tool_result":
				results = append(results, pair{b.ToolUseID, string(b.Content)})
			case "text":
				if strings.TrimSpace(*b.Text) == "" {
					t.Errorf("a white-space text block was sent")
				}
			}
		}
	}
	answered := map[string]string{}
	for _, r := range results {
		answered[r.id] = r.text
	}
	want := map[string]string{`{"city":"Paris"}`: `"sun"`, `{"city":"London"}`: `"rain"`, `{"city":"Rome"}`: `"cloud"`}
	for _, c := range calls {
		if got := answered[c.id]; got != want[c.text] {
			t.Errorf("call %s (%s) answered %s, want %s", c.id, c.text, got, want[c.text])
		}
	}
	if len(calls) != 3 || len(results) != 3 {
		t.Errorf("calls %v, results %v", calls, results)
	}

	// Arguments that are no object are refused with Keel's reason.
	req.Messages[1].ToolCalls[0].Arguments = `{"city": "Par`
	_, err := p.Generate(context.Background(), req)
	var pe *provider.Error
	if !errors.As(err, &pe) || !errors.Is(err, provider.ErrRequestRejected) || !strings.Contains(pe.Reason, "not a JSON object") {
		t.Errorf("broken arguments: %v, want a refusal with a reason", err)
	}
}

// TestToolInputSchemas checks that every tool goes with an object schema,
// as the API wants, whatever form the caller gave its parameters in.
func TestToolInputSchemas(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		params string
		want   string
	}{
		{name: "none", params: ``, want: `{"type":"object","properties":{}}`},
		{name: "empty object", params: `{}`, want: `{"type":"object","properties":{}}`},
		{
			name:   "no type",
			params: `{"properties":{"q":{"type":"string"}},"required":["q"]}`,
			want:   `{"type":"object","properties":{"q":{"type":"string"}},"required":["q"]}`,
		},
		{
			name:   "object kept as it is",
			params: `{"type":"object","properties":{"q":{"type":"string"}}}`,
			want:   `{"type":"object","properties":{"q":{"type":"string"}}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			f := &fakeAnthropic{body: fixture(t, "message.json")}
			p := startFake(t, f)
			req := testRequest()
			req.Tools = []provider.Tool{{Name: "search", Parameters: json.RawMessage(tt.params)}}
			if _, err := p.Generate(context.Background(), req); err != nil {
				t.Fatalf("Generate: %v", err)
			}
			got := f.lastRequest(t)
			var schema, want any
			_ = json.Unmarshal(got.body.Tools[0].InputSchema, &schema)
			_ = json.Unmarshal([]byte(tt.want), &want)
			if diff := cmp.Diff(want, schema); diff != "" {
				t.Errorf("input_schema (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSchemaToolName(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name, schema, want string
		// tools are offered beside those of testRequest.
		tools []string
	}{
		{name: "plain", schema: "ticket_summary", want: "ticket_summary"},
		{name: "spaces and dots", schema: "reply v1.2", want: "reply_v1_2"},
		{name: "empty", schema: "", want: "structured_output"},
		{name: "taken by a tool", schema: "lookup_order", want: "structured_output"},
		{
			name:   "fallback taken too",
			schema: "lookup_order",
			tools:  []string{"structured_output", "structured_output_2"},
			want:   "structured_output_3",
		},
		{name: "too long", schema: strings.Repeat("x", 80), want: strings.Repeat("x", 64)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := testRequest()
			for _, name := range tt.tools {
				req.Tools = append(req.Tools, provider.Tool{Name: name})
			}
			req.Schema = &provider.Schema{Name: tt.schema, JSON: json.RawMessage(`{"type":"object"}`)}
			if got := schemaToolName(req); got != tt.want {
				t.Errorf("schemaToolName(%q) = %q, want %q", tt.schema, got, tt.want)
			}
		})
	}
}

func TestStream(t *testing.T) {
	t.Parallel()

	body := fixture(t, "stream_text.sse")
	crlf := []byte(strings.ReplaceAll(string(body), "\n", "\r\n"))
	for _, tc := range []struct {
		name      string
		body      []byte
		chunkSize int
	}{
		{name: "whole", body: body},
		{name: "one byte per write", body: body, chunkSize: 1},
		{name: "seven bytes", body: body, chunkSize: 7},
		{name: "crlf split inside line ends", body: crlf, chunkSize: 2},
		{name: "crlf thirteen bytes", body: crlf, chunkSize: 13},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			f := &fakeAnthropic{
				header:    http.Header{"Content-Type": {"text/event-stream"}},
				body:      tc.body,
				chunkSize: tc.chunkSize,
			}
			p := startFake(t, f)

			var (
				texts []string
				calls []provider.ToolCall
			)
			resp, err := p.Stream(context.Background(), testRequest(), collect(&texts, &calls))
			if err != nil {
				t.Fatalf("Stream: %v", err)
			}

			wantTexts := []string{"Express shipping", " arrives the next business day [1].", " Ünïcødé ✓ 日本 🚚"}
			if diff := cmp.Diff(wantTexts, texts); diff != "" {
				t.Errorf("deltas (-want +got):\n%s", diff)
			}
			want := provider.Response{
				Text:         strings.Join(wantTexts, ""),
				Citations:    []string{"kb-shipping#0"},
				Confidence:   0.5,
				Model:        "claude-sonnet-4-5-20250929",
				Usage:        provider.Usage{InputTokens: 25 + 1800, OutputTokens: 42, CachedInputTokens: 1800},
				FinishReason: provider.FinishStop,
			}
			if diff := cmp.Diff(want, resp); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}

			got := f.lastRequest(t)
			if got.problems != nil || !got.body.Stream || got.header.Get("Accept") != "text/event-stream" {
				t.Errorf("request: stream = %v, accept = %q, problems = %v",
					got.body.Stream, got.header.Get("Accept"), got.problems)
			}
		})
	}
}

func TestStreamToolUse(t *testing.T) {
	t.Parallel()

	for _, size := range []int{0, 1, 5} {
		f := &fakeAnthropic{body: fixture(t, "stream_tools.sse"), chunkSize: size}
		p := startFake(t, f)

		var (
			texts    []string
			streamed []provider.ToolCall
		)
		resp, err := p.Stream(context.Background(), testRequest(), collect(&texts, &streamed))
		if err != nil {
			t.Fatalf("Stream (chunks of %d): %v", size, err)
		}
		want := []provider.ToolCall{
			{ID: "toolu_01KeelOrderA", Name: "lookup_order", Arguments: `{"order_id":"ORD-12345"}`},
			{ID: "toolu_01KeelOrderB", Name: "lookup_order", Arguments: `{"order_id":"ORD-2","note":"caf\u00e9 ☕"}`},
			{ID: "toolu_01KeelStatus", Name: "check_status", Arguments: `{}`},
		}
		if diff := cmp.Diff(want, resp.ToolCalls); diff != "" {
			t.Errorf("tool calls (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(want, streamed); diff != "" {
			t.Errorf("streamed tool calls (-want +got):\n%s", diff)
		}
		var args map[string]string
		if err := json.Unmarshal([]byte(resp.ToolCalls[1].Arguments), &args); err != nil || args["note"] != "café ☕" {
			t.Errorf("arguments %q decode to %v (%v)", resp.ToolCalls[1].Arguments, args, err)
		}
		if !cmp.Equal(texts, []string{"Let me look up both orders."}) || resp.Text != "Let me look up both orders." {
			t.Errorf("texts = %q, text = %q", texts, resp.Text)
		}
		if resp.FinishReason != provider.FinishToolCalls {
			t.Errorf("finish reason = %q", resp.FinishReason)
		}
		wantUsage := provider.Usage{InputTokens: 310 + 1200, OutputTokens: 87, CacheWriteTokens: 1200}
		if resp.Usage != wantUsage {
			t.Errorf("usage = %+v, want %+v", resp.Usage, wantUsage)
		}
	}
}

// TestStreamIgnoresOtherBlocks has blocks of types the router does not use,
// with deltas of their own, around a text block.
func TestStreamIgnoresOtherBlocks(t *testing.T) {
	t.Parallel()

	body := sseBody(
		"message_start", evMessageStart,
		"content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{}}}`,
		"content_block_delta", evJSON(0, `{"query": "keel`),
		"content_block_delta", evJSON(0, `"}`),
		"content_block_stop", evStop(0),
		"content_block_start", `{"type":"content_block_start","index":1,"content_block":{"type":"brand_new_block"}}`,
		"content_block_delta", `{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"not for the reply"}}`,
		"content_block_delta", `{"type":"content_block_delta","index":1,"delta":{"type":"brand_new_delta","x":1}}`,
		"content_block_stop", evStop(1),
		"content_block_start", `{"type":"content_block_start","index":2,"content_block":{"type":"text","text":""}}`,
		"content_block_delta", evText(2, "Answer."),
		"content_block_delta", `{"type":"content_block_delta","index":2,"delta":{"type":"citations_delta","citation":{"type":"char_location"}}}`,
		"content_block_stop", evStop(2),
		"message_delta", evEndTurn,
		"message_stop", evMessageStop,
	)
	p := startFake(t, &fakeAnthropic{body: body, chunkSize: 4})
	var (
		texts []string
		calls []provider.ToolCall
	)
	resp, err := p.Stream(context.Background(), testRequest(), collect(&texts, &calls))
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	if resp.Text != "Answer." || calls != nil || resp.ToolCalls != nil || resp.FinishReason != provider.FinishStop {
		t.Errorf("response = %+v, calls = %v", resp, calls)
	}
}

func TestStreamEmitsTextBeforeTheEnd(t *testing.T) {
	t.Parallel()

	// The server sends one text delta and then waits for the client to
	// have seen it before it finishes: a provider that buffered the text
	// to the end would never emit it, and the call would fail at the
	// context deadline.
	seen := make(chan struct{})
	srv := newStreamServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeChunked(w, sseBody("message_start", evMessageStart, "content_block_start", evTextStart,
			"content_block_delta", evText(0, "first")), 0)
		select {
		case <-seen:
		case <-r.Context().Done():
			return
		}
		writeChunked(w, sseBody("content_block_delta", evText(0, " second"), "content_block_stop", evTextStop,
			"message_delta", evEndTurn, "message_stop", evMessageStop), 0)
	})
	p := New(Config{Name: "anthropic", BaseURL: srv})

	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	var texts []string
	resp, err := p.Stream(ctx, testRequest(), func(d provider.Delta) error {
		if len(texts) == 0 {
			close(seen)
		}
		texts = append(texts, d.Text)
		return nil
	})
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	if resp.Text != "first second" || len(texts) != 2 {
		t.Errorf("text = %q, deltas = %q", resp.Text, texts)
	}
}

func TestStreamCallbackError(t *testing.T) {
	t.Parallel()

	p := startFake(t, &fakeAnthropic{body: fixture(t, "stream_text.sse")})
	stop := errors.New("client gone")
	_, err := p.Stream(context.Background(), testRequest(), func(provider.Delta) error { return stop })
	if err != stop {
		t.Errorf("error = %v, want %v as it is", err, stop)
	}
}

func TestUsageEstimated(t *testing.T) {
	t.Parallel()

	req := testRequest()
	t.Run("stream", func(t *testing.T) {
		t.Parallel()

		body := sseBody(
			"message_start", `{"type":"message_start","message":{"type":"message","role":"assistant","content":[],"model":"m"}}`,
			"content_block_start", evTextStart,
			"content_block_delta", evText(0, "Express shipping arrives tomorrow [1]."),
			"content_block_stop", evTextStop,
			"message_delta", `{"type":"message_delta","delta":{"stop_reason":"end_turn"}}`,
			"message_stop", evMessageStop,
		)
		p := startFake(t, &fakeAnthropic{body: body})
		resp, err := p.Stream(context.Background(), req, func(provider.Delta) error { return nil })
		if err != nil {
			t.Fatalf("Stream: %v", err)
		}
		want := provider.Usage{
			InputTokens:  provider.EstimateInputTokens(req),
			OutputTokens: provider.EstimateTokens(resp.Text),
			Estimated:    true,
		}
		if resp.Usage != want {
			t.Errorf("usage = %+v, want %+v", resp.Usage, want)
		}
	})
	t.Run("generate", func(t *testing.T) {
		t.Parallel()

		body := `{"type":"message","role":"assistant","model":"m","content":[{"type":"text","text":"Two words."}],"stop_reason":"end_turn"}`
		p := startFake(t, &fakeAnthropic{body: []byte(body)})
		resp, err := p.Generate(context.Background(), req)
		if err != nil {
			t.Fatalf("Generate: %v", err)
		}
		// "Two words." is two words and a full stop.
		want := provider.Usage{InputTokens: provider.EstimateInputTokens(req), OutputTokens: 3, Estimated: true}
		if resp.Usage != want {
			t.Errorf("usage = %+v, want %+v", resp.Usage, want)
		}
	})
}

func TestFinishReasons(t *testing.T) {
	t.Parallel()

	tests := []struct {
		stop string
		want provider.FinishReason
	}{
		{"end_turn", provider.FinishStop},
		{"stop_sequence", provider.FinishStop},
		{"max_tokens", provider.FinishLength},
		{"model_context_window_exceeded", provider.FinishLength},
		{"tool_use", provider.FinishToolCalls},
		{"pause_turn", provider.FinishLength},
		{"brand_new_reason", provider.FinishStop},
	}
	for _, tt := range tests {
		t.Run(tt.stop, func(t *testing.T) {
			t.Parallel()

			body := `{"type":"message","role":"assistant","model":"m","content":[{"type":"text","text":"x"}],` +
				`"stop_reason":"` + tt.stop + `","usage":{"input_tokens":1,"output_tokens":1}}`
			p := startFake(t, &fakeAnthropic{body: []byte(body)})
			resp, err := p.Generate(context.Background(), testRequest())
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if resp.FinishReason != tt.want {
				t.Errorf("finish reason = %q, want %q", resp.FinishReason, tt.want)
			}

			stream := sseBody("message_start", evMessageStart, "content_block_start", evTextStart,
				"content_block_delta", evText(0, "x"), "content_block_stop", evTextStop,
				"message_delta", `{"type":"message_delta","delta":{"stop_reason":"`+tt.stop+`"},"usage":{"output_tokens":3}}`,
				"message_stop", evMessageStop)
			p = startFake(t, &fakeAnthropic{body: stream})
			resp, err = p.Stream(context.Background(), testRequest(), func(provider.Delta) error { return nil })
			if err != nil {
				t.Fatalf("Stream: %v", err)
			}
			if resp.FinishReason != tt.want {
				t.Errorf("streamed finish reason = %q, want %q", resp.FinishReason, tt.want)
			}
		})
	}
}
