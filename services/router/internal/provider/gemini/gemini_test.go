package gemini

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/keelhq/keel/services/router/internal/provider"
	"github.com/keelhq/keel/services/router/internal/provider/sse"
)

// The provider must satisfy the router's interface.
var _ provider.Provider = (*Provider)(nil)

func TestGenerate(t *testing.T) {
	t.Parallel()

	f := &fakeGemini{body: fixture(t, "generate.json")}
	p := startFake(t, f)

	resp, err := p.Generate(context.Background(), testRequest())
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	want := provider.Response{
		Text: "Hello [PERSON_1], unused items can be returned within 30 days of delivery [2]. " +
			"Thanks for your patience.",
		Citations:  []string{"kb-returns#0"},
		Confidence: 0.5,
		Model:      "gemini-2.5-flash",
		// promptTokenCount already includes the cached tokens; thoughts
		// are output the caller pays for.
		Usage:        provider.Usage{InputTokens: 1520, CachedInputTokens: 1024, OutputTokens: 43},
		FinishReason: provider.FinishStop,
	}
	if diff := cmp.Diff(want, resp); diff != "" {
		t.Errorf("response (-want +got):\n%s", diff)
	}

	got := f.lastRequest(t)
	checkTransport(t, got, "gemini-2.5-flash", false)

	sys, _ := jget(got.body, "systemInstruction", "parts", 0, "text").(string)
	if !strings.HasPrefix(sys, provider.GroundingPrompt(testPassages)) ||
		!strings.HasSuffix(sys, "\n\nAnswer in English.") {
		t.Errorf("systemInstruction = %q, want the grounding prompt, then the system message", sys)
	}
	if parts, _ := jget(got.body, "systemInstruction", "parts").([]any); len(parts) != 1 {
		t.Errorf("systemInstruction parts = %v, want one joined text", parts)
	}
	contents, _ := got.body["contents"].([]any)
	if len(contents) != 1 || jget(contents, 0, "role") != "user" ||
		jget(contents, 0, "parts", 0, "text") != "Can I return an item? [PERSON_1]" {
		t.Errorf("contents = %s", jsonOf(t, contents))
	}

	wantConfig := `{"maxOutputTokens":300,"seed":42,"stopSequences":["\n\nCustomer:"],"temperature":0.2,"topP":0.9}`
	if gc := jsonOf(t, got.body["generationConfig"]); gc != wantConfig {
		t.Errorf("generationConfig = %s, want %s", gc, wantConfig)
	}
	wantTools := `[{"functionDeclarations":[{"description":"Look up an order","name":"lookup_order",` +
		`"parametersJsonSchema":{"properties":{"order_id":{"type":"string"}},"required":["order_id"],"type":"object"}}]}]`
	if tools := jsonOf(t, got.body["tools"]); tools != wantTools {
		t.Errorf("tools = %s, want %s", tools, wantTools)
	}
	if _, ok := got.body["toolConfig"]; ok {
		t.Errorf("toolConfig sent without a tool choice: %s", jsonOf(t, got.body["toolConfig"]))
	}
}

func TestGenerateToolCalls(t *testing.T) {
	t.Parallel()

	p := startFake(t, &fakeGemini{body: fixture(t, "generate_tool_calls.json")})
	resp, err := p.Generate(context.Background(), testRequest())
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	// Parallel calls carry one thought signature, on the first.
	want := []provider.ToolCall{
		{Name: "lookup_order", Arguments: `{"order_id":"ORD-12345"}`, Signature: fixtureSignature},
		{Name: "lookup_order", Arguments: `{"order_id":"ORD-2"}`},
		{Name: "list_orders", Arguments: `{}`},
	}
	if diff := cmp.Diff(want, resp.ToolCalls, ignoreID); diff != "" {
		t.Errorf("tool calls (-want +got):\n%s", diff)
	}
	checkMadeUpIDs(t, resp.ToolCalls...)
	if resp.FinishReason != provider.FinishToolCalls || resp.Text != "" {
		t.Errorf("finish = %q, text = %q", resp.FinishReason, resp.Text)
	}
	if resp.Usage != (provider.Usage{InputTokens: 95, OutputTokens: 30}) {
		t.Errorf("usage = %+v", resp.Usage)
	}
}

func TestGenerateKeepsCallIDs(t *testing.T) {
	t.Parallel()

	body := `{"candidates":[{"content":{"role":"model","parts":[` +
		`{"functionCall":{"id":"7xk2q","name":"lookup_order","args":{"order_id":"A"}}},` +
		`{"functionCall":{"name":"lookup_order","args":{"order_id":"B"}}}]},"finishReason":"STOP"}]}`
	p := startFake(t, &fakeGemini{body: []byte(body)})
	resp, err := p.Generate(context.Background(), testRequest())
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	want := []provider.ToolCall{
		{ID: "7xk2q", Name: "lookup_order", Arguments: `{"order_id":"A"}`},
		{Name: "lookup_order", Arguments: `{"order_id":"B"}`},
	}
	if diff := cmp.Diff(want, resp.ToolCalls, ignoreID); diff != "" {
		t.Errorf("tool calls (-want +got):\n%s", diff)
	}
	if len(resp.ToolCalls) == 2 {
		if resp.ToolCalls[0].ID != "7xk2q" {
			t.Errorf("id Gemini gave = %q, want 7xk2q kept", resp.ToolCalls[0].ID)
		}
		checkMadeUpIDs(t, resp.ToolCalls[1])
	}
}

// fixtureSignature is the thought signature on the first call of the tool
// call fixtures.
const fixtureSignature = "CiQBVKhc7qH0aW5rIHNpZ25hdHVyZQ=="

// TestSignaturesRoundTrip has Gemini call tools, whole and streamed, and
// sends the calls back in the history: each thought signature goes back on
// its call's part, and no turn with one gets skipSignature.
func TestSignaturesRoundTrip(t *testing.T) {
	t.Parallel()

	// In the stream, the second call comes in a chunk of its own.
	streamed := sseBody(
		`{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"lookup_order","args":{"order_id":"A"}},`+
			`"thoughtSignature":"c2lnbmVkIHN0cmVhbQ=="}]},"index":0}]}`,
		`{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"lookup_order","args":{"order_id":"B"}}}]},`+
			`"finishReason":"STOP","index":0}]}`,
	)
	for _, tc := range []struct {
		name   string
		body   []byte
		stream bool
		want   string
	}{
		{name: "whole", body: fixture(t, "generate_tool_calls.json"), want: fixtureSignature},
		{name: "streamed", body: fixture(t, "stream_tool_calls.sse"), stream: true, want: fixtureSignature},
		{name: "streamed call by call", body: streamed, stream: true, want: "c2lnbmVkIHN0cmVhbQ=="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			p := startFake(t, &fakeGemini{body: tc.body, chunkSize: 5})
			req := testRequest()
			var (
				resp    provider.Response
				emitted []provider.ToolCall
				err     error
			)
			if tc.stream {
				resp, err = p.Stream(context.Background(), req, func(d provider.Delta) error {
					if d.ToolCall != nil {
						emitted = append(emitted, *d.ToolCall)
					}
					return nil
				})
			} else {
				resp, err = p.Generate(context.Background(), req)
			}
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			if len(resp.ToolCalls) < 2 || resp.ToolCalls[0].Signature != tc.want || resp.ToolCalls[1].Signature != "" {
				t.Fatalf("tool calls %+v, want the signature %q on the first only", resp.ToolCalls, tc.want)
			}
			if tc.stream {
				if diff := cmp.Diff(resp.ToolCalls, emitted); diff != "" {
					t.Errorf("emitted calls differ from the reply's (-reply +emitted):\n%s", diff)
				}
			}

			req.Messages = append(req.Messages, provider.Message{Role: provider.RoleAssistant, ToolCalls: resp.ToolCalls})
			for _, c := range resp.ToolCalls {
				req.Messages = append(req.Messages, provider.Message{Role: provider.RoleTool, ToolCallID: c.ID, Content: `{"ok":true}`})
			}
			f := &fakeGemini{body: fixture(t, "generate.json")}
			if _, err := startFake(t, f).Generate(context.Background(), req); err != nil {
				t.Fatalf("Generate with the history: %v", err)
			}
			turn := jget(f.lastRequest(t).body, "contents", 1)
			if jget(turn, "role") != "model" {
				t.Fatalf("contents[1] = %v, want the model turn", turn)
			}
			parts, _ := jget(turn, "parts").([]any)
			for i, part := range parts {
				want := any(nil)
				if i == 0 {
					want = tc.want
				}
				if got := jget(part, "thoughtSignature"); got != want {
					t.Errorf("part %d: thoughtSignature %v, want %v", i, got, want)
				}
			}
		})
	}
}

// TestUnsendableSignatureDropped has Gemini sign a call with what the
// router's API would refuse back: the call is kept without it, so that
// the next turn goes with skipSignature instead of failing.
func TestUnsendableSignatureDropped(t *testing.T) {
	t.Parallel()

	for _, sig := range []string{strings.Repeat("A", provider.MaxSignature+1), "not base64"} {
		body := `{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"lookup_order","args":{}},` +
			`"thoughtSignature":"` + sig + `"}]},"finishReason":"STOP","index":0}]}`
		p := startFake(t, &fakeGemini{body: []byte(body)})
		resp, err := p.Generate(context.Background(), testRequest())
		if err != nil {
			t.Fatalf("Generate: %v", err)
		}
		if len(resp.ToolCalls) != 1 || resp.ToolCalls[0].Signature != "" {
			t.Errorf("tool calls %.200v, want one without a signature", resp.ToolCalls)
		}
	}
}

// TestReplayedSignatures checks which parts of a model turn carry a thought
// signature: the calls' own where they have one, skipSignature on the first
// call only of a turn without any.
func TestReplayedSignatures(t *testing.T) {
	t.Parallel()

	const sig = "cmVhbCBzaWduYXR1cmU="
	tests := []struct {
		name  string
		calls []provider.ToolCall
		// want is the thoughtSignature of each part; "" for none.
		want []string
	}{
		{
			name:  "on the first",
			calls: []provider.ToolCall{{ID: "a", Name: "lookup_order", Signature: sig}, {ID: "b", Name: "lookup_order"}},
			want:  []string{sig, ""},
		},
		{
			// A history a client reordered: the signature stays where
			// it came, and no made-up one goes beside it.
			name:  "on a later call",
			calls: []provider.ToolCall{{ID: "a", Name: "lookup_order"}, {ID: "b", Name: "lookup_order", Signature: sig}},
			want:  []string{"", sig},
		},
		{
			name:  "none",
			calls: []provider.ToolCall{{ID: "a", Name: "lookup_order"}, {ID: "b", Name: "lookup_order"}},
			want:  []string{skipSignature, ""},
		},
		{
			name: "two assistant messages as one turn, the second signed",
			calls: []provider.ToolCall{{ID: "a", Name: "lookup_order"}, {ID: "b", Name: "lookup_order", Signature: sig},
				{ID: "c", Name: "lookup_order"}},
			want: []string{"", sig, ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			f := &fakeGemini{body: fixture(t, "generate.json")}
			p := startFake(t, f)
			req := testRequest()
			if len(tt.calls) == 3 {
				req.Messages = append(req.Messages,
					provider.Message{Role: provider.RoleAssistant, ToolCalls: tt.calls[:1]},
					provider.Message{Role: provider.RoleAssistant, ToolCalls: tt.calls[1:]})
			} else {
				req.Messages = append(req.Messages, provider.Message{Role: provider.RoleAssistant, ToolCalls: tt.calls})
			}
			for _, c := range tt.calls {
				req.Messages = append(req.Messages, provider.Message{Role: provider.RoleTool, ToolCallID: c.ID, Content: "{}"})
			}
			if _, err := p.Generate(context.Background(), req); err != nil {
				t.Fatalf("Generate: %v", err)
			}
			parts, _ := jget(f.lastRequest(t).body, "contents", 1, "parts").([]any)
			if len(parts) != len(tt.want) {
				t.Fatalf("model turn parts %s, want %d calls", jsonOf(t, parts), len(tt.want))
			}
			for i, want := range tt.want {
				got, _ := jget(parts[i], "thoughtSignature").(string)
				if got != want {
					t.Errorf("part %d: thoughtSignature %q, want %q", i, got, want)
				}
			}
		})
	}
}

// ignoreID leaves the ids of tool calls out of a comparison, for the ones
// made up at random; checkMadeUpIDs checks those.
var ignoreID = cmpopts.IgnoreFields(provider.ToolCall{}, "ID")

// madeUpID is the form of the id the provider gives a call that came
// without one.
var madeUpID = regexp.MustCompile(`^call_[0-9a-f]{12}$`)

// checkMadeUpIDs checks that each of calls has a made-up id, no two the
// same, that the provider knows not to send back to Gemini.
func checkMadeUpIDs(t *testing.T, calls ...provider.ToolCall) {
	t.Helper()
	seen := make(map[string]bool)
	for _, c := range calls {
		if !madeUpID.MatchString(c.ID) || !generatedID(c.ID) || seen[c.ID] {
			t.Errorf("call id %q: want call_ and 12 hex digits, unique", c.ID)
		}
		seen[c.ID] = true
	}
}

// TestMadeUpIDsAcrossTurns has two replies whose calls come without ids,
// then sends the conversation back: the ids differ from one reply to the
// next, so each result answers its own call, and none goes to Gemini.
func TestMadeUpIDsAcrossTurns(t *testing.T) {
	t.Parallel()

	reply := func(name string) []byte {
		return []byte(`{"candidates":[{"content":{"role":"model","parts":[` +
			`{"functionCall":{"name":"` + name + `","args":{"order_id":"A"}}}]},"finishReason":"STOP"}]}`)
	}
	req := testRequest()
	req.Tools = append(req.Tools, provider.Tool{Name: "cancel_order"})
	var calls []provider.ToolCall
	for _, name := range []string{"lookup_order", "cancel_order"} {
		p := startFake(t, &fakeGemini{body: reply(name)})
		resp, err := p.Generate(context.Background(), req)
		if err != nil {
			t.Fatalf("Generate: %v", err)
		}
		if len(resp.ToolCalls) != 1 {
			t.Fatalf("tool calls = %+v, want one", resp.ToolCalls)
		}
		calls = append(calls, resp.ToolCalls[0])
		req.Messages = append(req.Messages,
			provider.Message{Role: provider.RoleAssistant, ToolCalls: resp.ToolCalls},
			provider.Message{Role: provider.RoleTool, ToolCallID: resp.ToolCalls[0].ID, Content: `{"done":true}`},
		)
	}
	checkMadeUpIDs(t, calls...)

	f := &fakeGemini{body: fixture(t, "generate.json")}
	p := startFake(t, f)
	if _, err := p.Generate(context.Background(), req); err != nil {
		t.Fatalf("Generate with the history: %v", err)
	}
	contents := f.lastRequest(t).body["contents"]
	for i, want := range []string{"lookup_order", "cancel_order"} {
		call := jget(contents, 1+2*i, "parts", 0, "functionCall")
		result := jget(contents, 2+2*i, "parts", 0, "functionResponse")
		if jget(call, "name") != want || jget(result, "name") != want {
			t.Errorf("turn %d: call %v, result %v; want both named %s", i, call, result, want)
		}
		if jget(call, "id") != nil || jget(result, "id") != nil {
			t.Errorf("turn %d: a made-up id was sent to Gemini: call %v, result %v", i, call, result)
		}
	}
}

// A history from another provider goes as Gemini takes it: two assistant
// turns in a row are one model turn; the results of parallel calls without
// ids (Keel made them up) come back in the order of the calls, since Gemini
// pairs them by name and place; a name starting with a digit gets a _ in
// front, and a call of it comes back under the caller's name.
func TestHistoryAsGeminiTakesIt(t *testing.T) {
	t.Parallel()
	reply := []byte(`{"candidates":[{"content":{"role":"model","parts":[` +
		`{"functionCall":{"name":"_2fa_verify","args":{"code":"1"}}}]},"finishReason":"STOP"}]}`)
	f := &fakeGemini{body: reply}
	p := startFake(t, f)
	req := provider.Request{Model: "gemini-2.5-flash",
		Tools: []provider.Tool{{Name: "get_weather"}, {Name: "2fa_verify"}},
		Messages: []provider.Message{
			{Role: provider.RoleUser, Content: "Weather in Paris and London?"},
			{Role: provider.RoleAssistant, Content: "Sure, one moment."},
			{Role: provider.RoleAssistant, ToolCalls: []provider.ToolCall{
				{ID: "call_0a1b2c3d4e5f", Name: "get_weather", Arguments: `{"city":"Paris"}`},
				{ID: "call_9f8e7d6c5b4a", Name: "get_weather", Arguments: `{"city":"London"}`},
			}},
			{Role: provider.RoleTool, ToolCallID: "call_9f8e7d6c5b4a", Content: `{"city":"London","sky":"rain"}`},
			{Role: provider.RoleTool, ToolCallID: "call_0a1b2c3d4e5f", Content: `{"city":"Paris","sky":"sun"}`},
		}}
	resp, err := p.Generate(context.Background(), req)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if len(resp.ToolCalls) != 1 || resp.ToolCalls[0].Name != "2fa_verify" {
		t.Errorf("tool calls %+v, want 2fa_verify under the caller's name", resp.ToolCalls)
	}
	body := f.lastRequest(t).body
	contents, _ := body["contents"].([]any)
	if len(contents) != 3 || jget(contents, 1, "role") != "model" || jget(contents, 2, "role") != "user" {
		t.Fatalf("contents %v, want user, one model turn, the results", contents)
	}
	if jget(contents, 1, "parts", 0, "text") != "Sure, one moment." ||
		jget(contents, 1, "parts", 1, "functionCall", "args", "city") != "Paris" {
		t.Errorf("model turn %v, want the text then the calls", jget(contents, 1))
	}
	for i, city := range []string{"Paris", "London"} {
		if got := jget(contents, 2, "parts", i, "functionResponse", "response", "city"); got != city {
			t.Errorf("result %d answers %v, want %s (the order of the calls)", i, got, city)
		}
	}
	decls := jget(body["tools"], 0, "functionDeclarations")
	if jget(decls, 1, "name") != "_2fa_verify" {
		t.Errorf("declarations %v, want 2fa_verify sent as _2fa_verify", decls)
	}
}

// TestGenerateEstimatesUsage checks a reply without usageMetadata and
// without modelVersion.
func TestGenerateEstimatesUsage(t *testing.T) {
	t.Parallel()

	body := `{"candidates":[{"content":{"role":"model","parts":[{"text":"Four words of reply."}]},"finishReason":"MAX_TOKENS"}]}`
	p := startFake(t, &fakeGemini{body: []byte(body)})
	req := testRequest()
	resp, err := p.Generate(context.Background(), req)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	want := provider.Usage{
		InputTokens:  provider.EstimateInputTokens(req),
		OutputTokens: provider.EstimateTokens("Four words of reply."),
		Estimated:    true,
	}
	if resp.Usage != want {
		t.Errorf("usage = %+v, want %+v", resp.Usage, want)
	}
	if resp.FinishReason != provider.FinishLength || resp.Model != req.Model {
		t.Errorf("finish = %q, model = %q", resp.FinishReason, resp.Model)
	}
}

// TestRequestTurns checks the wire form of a conversation that already
// holds tool calls and their results.
func TestRequestTurns(t *testing.T) {
	t.Parallel()

	f := &fakeGemini{body: fixture(t, "generate.json")}
	p := startFake(t, f)

	req := testRequest()
	req.Grounded = false
	req.Messages = append(req.Messages,
		provider.Message{Role: provider.RoleAssistant, Content: "Let me check.", ToolCalls: []provider.ToolCall{
			{ID: "call_1", Name: "lookup_order", Arguments: `{"order_id":"ORD-1"}`},
			{ID: "fc-9a7", Name: "track_parcel", Arguments: ``},
		}},
		provider.Message{Role: provider.RoleTool, ToolCallID: "call_1", Content: `{"status":"shipped"}`},
		provider.Message{Role: provider.RoleTool, ToolCallID: "fc-9a7", Content: "in transit"},
		provider.Message{Role: provider.RoleUser, Content: "Thanks!"},
		// The numbered ids made up before repeat from one reply to the
		// next; a result answers the latest call of its id.
		provider.Message{Role: provider.RoleAssistant, ToolCalls: []provider.ToolCall{
			{ID: "call_1", Name: "cancel_order", Arguments: `{"order_id":"ORD-2"}`},
		}},
		provider.Message{Role: provider.RoleTool, ToolCallID: "call_1", Content: `[1,2]`},
	)
	if _, err := p.Generate(context.Background(), req); err != nil {
		t.Fatalf("Generate: %v", err)
	}

	got := f.lastRequest(t)
	if sys := jget(got.body, "systemInstruction", "parts", 0, "text"); sys != "Answer in English." {
		t.Errorf("systemInstruction = %q, want only the system message when not grounded", sys)
	}
	want := `[` +
		`{"parts":[{"text":"Can I return an item? [PERSON_1]"}],"role":"user"},` +
		`{"parts":[{"text":"Let me check."},` +
		`{"functionCall":{"args":{"order_id":"ORD-1"},"name":"lookup_order"},"thoughtSignature":"skip_thought_signature_validator"},` +
		`{"functionCall":{"args":{},"id":"fc-9a7","name":"track_parcel"}}],"role":"model"},` +
		`{"parts":[{"functionResponse":{"name":"lookup_order","response":{"status":"shipped"}}},` +
		`{"functionResponse":{"id":"fc-9a7","name":"track_parcel","response":{"result":"in transit"}}}],"role":"user"},` +
		`{"parts":[{"text":"Thanks!"}],"role":"user"},` +
		`{"parts":[{"functionCall":{"args":{"order_id":"ORD-2"},"name":"cancel_order"},"thoughtSignature":"skip_thought_signature_validator"}],"role":"model"},` +
		`{"parts":[{"functionResponse":{"name":"cancel_order","response":{"result":[1,2]}}}],"role":"user"}` +
		`]`
	if contents := jsonOf(t, got.body["contents"]); contents != want {
		t.Errorf("contents =\n%s\nwant\n%s", contents, want)
	}
}

func TestRequestToolResultWithoutCall(t *testing.T) {
	t.Parallel()

	f := &fakeGemini{body: fixture(t, "generate.json")}
	p := startFake(t, f)
	req := testRequest()
	req.Messages = append(req.Messages, provider.Message{Role: provider.RoleTool, ToolCallID: "nowhere", Content: "{}"})

	_, err := p.Generate(context.Background(), req)
	if !errors.Is(err, provider.ErrRequestRejected) {
		t.Fatalf("error = %v, want ErrRequestRejected", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.requests) != 0 {
		t.Errorf("a request the API would refuse was sent")
	}
}

func TestRequestOptions(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name       string
		edit       func(*provider.Request)
		wantModel  string
		wantTool   string
		wantConfig string
	}{
		{
			name:     "tool choice auto",
			edit:     func(r *provider.Request) { r.ToolChoice = "auto" },
			wantTool: `{"functionCallingConfig":{"mode":"AUTO"}}`,
		},
		{
			name:     "tool choice required",
			edit:     func(r *provider.Request) { r.ToolChoice = "required" },
			wantTool: `{"functionCallingConfig":{"mode":"ANY"}}`,
		},
		{
			name:     "tool choice none",
			edit:     func(r *provider.Request) { r.ToolChoice = "none" },
			wantTool: `{"functionCallingConfig":{"mode":"NONE"}}`,
		},
		{
			name:     "tool choice by name",
			edit:     func(r *provider.Request) { r.ToolChoice = "lookup_order" },
			wantTool: `{"functionCallingConfig":{"allowedFunctionNames":["lookup_order"],"mode":"ANY"}}`,
		},
		{
			name: "schema",
			edit: func(r *provider.Request) {
				*r = provider.Request{Model: r.Model, Messages: r.Messages, Schema: &provider.Schema{
					Name: "answer",
					JSON: json.RawMessage(`{"type":"object","properties":{"answer":{"type":"string"}},"additionalProperties":false}`),
				}}
			},
			wantConfig: `{"responseJsonSchema":{"additionalProperties":false,"properties":{"answer":{"type":"string"}},"type":"object"},` +
				`"responseMimeType":"application/json"}`,
		},
		{
			name:       "nothing set leaves the defaults",
			edit:       func(r *provider.Request) { *r = provider.Request{Model: r.Model, Messages: r.Messages} },
			wantConfig: `null`,
		},
		{
			name: "seed beyond 32 bits",
			edit: func(r *provider.Request) {
				s := int64(1<<32 + 7)
				*r = provider.Request{Model: r.Model, Messages: r.Messages, Seed: &s}
			},
			wantConfig: `{"seed":7}`,
		},
		{
			name:      "model with its resource prefix",
			edit:      func(r *provider.Request) { r.Model = "models/gemini-2.5-pro" },
			wantModel: "gemini-2.5-pro",
		},
		{
			name:      "model name is escaped in the path",
			edit:      func(r *provider.Request) { r.Model = "tuned/odd name?" },
			wantModel: "tuned%2Fodd%20name%3F",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			f := &fakeGemini{body: fixture(t, "generate.json")}
			p := startFake(t, f)
			req := testRequest()
			tt.edit(&req)
			if _, err := p.Generate(context.Background(), req); err != nil {
				t.Fatalf("Generate: %v", err)
			}
			got := f.lastRequest(t)
			if tt.wantModel != "" {
				checkTransport(t, got, tt.wantModel, false)
			}
			if tt.wantTool != "" {
				if tc := jsonOf(t, got.body["toolConfig"]); tc != tt.wantTool {
					t.Errorf("toolConfig = %s, want %s", tc, tt.wantTool)
				}
			}
			if tt.wantConfig != "" {
				if gc := jsonOf(t, got.body["generationConfig"]); gc != tt.wantConfig {
					t.Errorf("generationConfig = %s, want %s", gc, tt.wantConfig)
				}
			}
		})
	}
}

// TestStructuredOutputWithTools asks for structured output beside function
// declarations, which Gemini 2.5 models refuse with responseMimeType
// application/json: the schema goes in the system instruction instead, after
// the rest of it. Without tools it stays in the generation config.
func TestStructuredOutputWithTools(t *testing.T) {
	t.Parallel()

	const ask = "When you answer rather than call a function, reply with only one JSON value, " +
		"without code fences or any other text"
	schema := json.RawMessage(`{
		"type": "object",
		"properties": {"answer": {"type": "string"}},
		"required": ["answer"]
	}`)
	const compacted = `{"type":"object","properties":{"answer":{"type":"string"}},"required":["answer"]}`
	grounding := provider.GroundingPrompt(testPassages) + "\n\nAnswer in English."
	tests := []struct {
		name       string
		edit       func(*provider.Request)
		wantSystem string
		wantConfig string
	}{
		{
			name:       "tools",
			edit:       func(r *provider.Request) {},
			wantSystem: grounding + "\n\n" + ask + ", that matches this JSON Schema:\n" + compacted,
			wantConfig: `{"maxOutputTokens":300,"seed":42,"stopSequences":["\n\nCustomer:"],"temperature":0.2,"topP":0.9}`,
		},
		{
			name: "tools, nothing else in the system instruction",
			edit: func(r *provider.Request) {
				*r = provider.Request{Model: r.Model, Messages: r.Messages[1:], Tools: r.Tools, Schema: r.Schema}
			},
			wantSystem: ask + ", that matches this JSON Schema:\n" + compacted,
			wantConfig: `null`,
		},
		{
			name:       "tools, JSON mode without a schema",
			edit:       func(r *provider.Request) { r.Schema = &provider.Schema{JSONMode: true} },
			wantSystem: grounding + "\n\n" + ask + ": a JSON object.",
			wantConfig: `{"maxOutputTokens":300,"seed":42,"stopSequences":["\n\nCustomer:"],"temperature":0.2,"topP":0.9}`,
		},
		{
			name:       "no tools",
			edit:       func(r *provider.Request) { r.Tools = nil },
			wantSystem: grounding,
			wantConfig: `{"maxOutputTokens":300,"responseJsonSchema":{"properties":{"answer":{"type":"string"}},` +
				`"required":["answer"],"type":"object"},"responseMimeType":"application/json","seed":42,` +
				`"stopSequences":["\n\nCustomer:"],"temperature":0.2,"topP":0.9}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			f := &fakeGemini{body: fixture(t, "generate.json")}
			p := startFake(t, f)
			req := testRequest()
			req.Schema = &provider.Schema{Name: "answer", JSON: schema}
			tt.edit(&req)
			if _, err := p.Generate(context.Background(), req); err != nil {
				t.Fatalf("Generate: %v", err)
			}
			got := f.lastRequest(t)
			if sys := jget(got.body, "systemInstruction", "parts", 0, "text"); sys != tt.wantSystem {
				t.Errorf("systemInstruction = %q, want %q", sys, tt.wantSystem)
			}
			if parts, _ := jget(got.body, "systemInstruction", "parts").([]any); len(parts) != 1 {
				t.Errorf("systemInstruction parts = %v, want one joined text", parts)
			}
			if gc := jsonOf(t, got.body["generationConfig"]); gc != tt.wantConfig {
				t.Errorf("generationConfig = %s, want %s", gc, tt.wantConfig)
			}
			if (req.Tools != nil) != (got.body["tools"] != nil) {
				t.Errorf("tools = %s, want them sent as given", jsonOf(t, got.body["tools"]))
			}
		})
	}
}

func TestRequestWithoutModel(t *testing.T) {
	t.Parallel()

	p := New(Config{BaseURL: "http://127.0.0.1:1/v1beta", APIKey: testAPIKey})
	req := testRequest()
	req.Model = "models/"
	if _, err := p.Generate(context.Background(), req); !errors.Is(err, provider.ErrRequestRejected) {
		t.Errorf("error = %v, want ErrRequestRejected", err)
	}
}

func TestStream(t *testing.T) {
	t.Parallel()

	body := fixture(t, "stream.sse")
	crlf := []byte(strings.ReplaceAll(string(body), "\n", "\r\n"))
	cr := []byte(strings.ReplaceAll(string(body), "\n", "\r"))
	for _, tc := range []struct {
		name      string
		body      []byte
		chunkSize int
	}{
		{name: "whole", body: body},
		{name: "one byte per write", body: body, chunkSize: 1},
		{name: "seven bytes", body: body, chunkSize: 7},
		{name: "crlf one byte per write", body: crlf, chunkSize: 1},
		{name: "crlf thirteen bytes", body: crlf, chunkSize: 13},
		{name: "cr only", body: cr, chunkSize: 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			f := &fakeGemini{body: tc.body, chunkSize: tc.chunkSize}
			p := startFake(t, f)

			var deltas []string
			resp, err := p.Stream(context.Background(), testRequest(), func(d provider.Delta) error {
				if d.ToolCall != nil {
					t.Errorf("unexpected tool call %+v", d.ToolCall)
				}
				deltas = append(deltas, d.Text)
				return nil
			})
			if err != nil {
				t.Fatalf("Stream: %v", err)
			}

			wantDeltas := []string{"Express shipping", " arrives the next business day [1].", " Ünïcødé ✓ 🚚"}
			if diff := cmp.Diff(wantDeltas, deltas); diff != "" {
				t.Errorf("deltas (-want +got):\n%s", diff)
			}
			want := provider.Response{
				Text:         strings.Join(wantDeltas, ""),
				Citations:    []string{"kb-shipping#0"},
				Confidence:   0.5,
				Model:        "gemini-2.5-flash",
				Usage:        provider.Usage{InputTokens: 140, CachedInputTokens: 64, OutputTokens: 16},
				FinishReason: provider.FinishStop,
			}
			if diff := cmp.Diff(want, resp); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
			checkTransport(t, f.lastRequest(t), "gemini-2.5-flash", true)
		})
	}
}

// TestStreamEmitsAsItArrives checks that text is passed on while the
// stream is still open: the server holds back the rest of the stream until
// the first delta has been emitted, so a provider that buffered to the end
// would never see it.
func TestStreamEmitsAsItArrives(t *testing.T) {
	t.Parallel()

	firstSeen := make(chan struct{})
	srv := startFakeHandler(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		writeChunked(w, sseBody(`{"candidates":[{"content":{"role":"model","parts":[{"text":"Hel"}]}}]}`), 0)
		select {
		case <-firstSeen:
		case <-r.Context().Done():
			return
		}
		writeChunked(w, sseBody(`{"candidates":[{"content":{"role":"model","parts":[{"text":"lo"}]},"finishReason":"STOP"}]}`), 0)
	}))
	p := New(Config{BaseURL: srv + "/v1beta", APIKey: testAPIKey})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var deltas []string
	resp, err := p.Stream(ctx, testRequest(), func(d provider.Delta) error {
		if len(deltas) == 0 {
			close(firstSeen)
		}
		deltas = append(deltas, d.Text)
		return nil
	})
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	if resp.Text != "Hello" || len(deltas) != 2 {
		t.Errorf("text = %q, deltas = %q", resp.Text, deltas)
	}
	if !resp.Usage.Estimated {
		t.Errorf("usage = %+v, want an estimate when the stream reports none", resp.Usage)
	}
}

func TestStreamToolCalls(t *testing.T) {
	t.Parallel()

	f := &fakeGemini{body: fixture(t, "stream_tool_calls.sse"), chunkSize: 5}
	p := startFake(t, f)

	var deltas []provider.Delta
	resp, err := p.Stream(context.Background(), testRequest(), func(d provider.Delta) error {
		deltas = append(deltas, d)
		return nil
	})
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	// The ids are made up; the streamed calls and the reply's agree.
	checkMadeUpIDs(t, resp.ToolCalls...)
	wantCalls := []provider.ToolCall{
		{Name: "lookup_order", Arguments: `{"order_id":"ORD-12345"}`, Signature: fixtureSignature},
		{Name: "lookup_order", Arguments: `{"order_id":"ORD-2"}`},
	}
	if diff := cmp.Diff(wantCalls, resp.ToolCalls, ignoreID); diff != "" {
		t.Errorf("tool calls (-want +got):\n%s", diff)
	}
	if len(resp.ToolCalls) == len(wantCalls) {
		for i, c := range resp.ToolCalls {
			wantCalls[i].ID = c.ID
		}
	}
	// Each piece names the model the stream reported (modelVersion).
	wantDeltas := []provider.Delta{
		{Text: "Let me look up both orders.", Model: "gemini-2.5-flash"},
		{ToolCall: &wantCalls[0], Model: "gemini-2.5-flash"},
		{ToolCall: &wantCalls[1], Model: "gemini-2.5-flash"},
	}
	if diff := cmp.Diff(wantDeltas, deltas); diff != "" {
		t.Errorf("deltas (-want +got):\n%s", diff)
	}
	if resp.FinishReason != provider.FinishToolCalls {
		t.Errorf("finish reason = %q", resp.FinishReason)
	}
	if resp.Usage != (provider.Usage{InputTokens: 95, OutputTokens: 30}) {
		t.Errorf("usage = %+v", resp.Usage)
	}
}

func TestStreamEmitError(t *testing.T) {
	t.Parallel()

	p := startFake(t, &fakeGemini{body: fixture(t, "stream.sse")})
	stop := errors.New("client gone")
	_, err := p.Stream(context.Background(), testRequest(), func(provider.Delta) error { return stop })
	if err != stop {
		t.Errorf("error = %v, want %v as it is", err, stop)
	}
}

func TestStreamFailures(t *testing.T) {
	t.Parallel()

	text := func(s string) string {
		return `{"candidates":[{"content":{"role":"model","parts":[{"text":"` + s + `"}]},"index":0}],"modelVersion":"gemini-2.5-flash"}`
	}
	tests := []struct {
		name           string
		body           []byte
		want           error
		wantDeltas     []string
		wantRetryAfter time.Duration
		wantMessage    string
	}{
		{
			name: "error before any text",
			body: sseBody(`{"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}}`),
			want: provider.ErrOverloaded, wantMessage: "The model is overloaded",
		},
		{
			name: "error after some text",
			body: sseBody(text("Standard shipping"), `{"error":{"code":500,"message":"An internal error has occurred.","status":"INTERNAL"}}`),
			want: provider.ErrServerFailed, wantDeltas: []string{"Standard shipping"}, wantMessage: "An internal error",
		},
		{
			name: "rate limit in the stream honours RetryInfo",
			body: sseBody(`{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED",` +
				`"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"17s"}]}}`),
			want: provider.ErrRateLimited, wantRetryAfter: 17 * time.Second,
		},
		{
			name: "error with a status only",
			body: sseBody(`{"error":{"message":"deadline","status":"DEADLINE_EXCEEDED"}}`),
			want: provider.ErrTimedOut,
		},
		{
			name: "error with neither code nor status",
			body: sseBody(`{"error":{"message":"something broke"}}`),
			want: provider.ErrServerFailed,
		},
		{
			name: "safety finish",
			body: sseBody(text("Here is how"), `{"candidates":[{"content":{"role":"model","parts":[]},"finishReason":"SAFETY","index":0,`+
				`"safetyRatings":[{"category":"HARM_CATEGORY_DANGEROUS_CONTENT","probability":"HIGH","blocked":true}]}]}`),
			want: provider.ErrContentRefused, wantDeltas: []string{"Here is how"},
		},
		{
			name: "recitation finish",
			body: sseBody(`{"candidates":[{"finishReason":"RECITATION","index":0}]}`),
			want: provider.ErrContentRefused,
		},
		{
			name: "prompt blocked",
			body: sseBody(`{"promptFeedback":{"blockReason":"PROHIBITED_CONTENT"},"usageMetadata":{"promptTokenCount":12,"totalTokenCount":12}}`),
			want: provider.ErrContentRefused, wantMessage: "PROHIBITED_CONTENT",
		},
		{
			name: "malformed function call",
			body: sseBody(`{"candidates":[{"content":{"role":"model","parts":[]},"finishReason":"MALFORMED_FUNCTION_CALL","index":0}]}`),
			want: provider.ErrServerFailed,
		},
		{
			name: "cut off without a finish reason",
			body: sseBody(text("Hel"), text("lo")),
			want: provider.ErrUnreachable, wantDeltas: []string{"Hel", "lo"}, wantMessage: "stream ended early",
		},
		{
			name: "cut off inside an event",
			body: []byte("data: " + text("Hel") + "\r\n\r\ndata: {\"candidates\":[{\"cont"),
			want: provider.ErrUnreachable, wantDeltas: []string{"Hel"},
		},
		{
			name: "malformed chunk",
			body: sseBody(`{"candidates":[`),
			want: provider.ErrServerFailed,
		},
		{
			name: "line too long",
			body: []byte("data: " + strings.Repeat("x", sse.MaxLine) + "\n\n"),
			want: provider.ErrServerFailed,
		},
		{
			name: "empty stream",
			body: nil,
			want: provider.ErrUnreachable,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			p := startFake(t, &fakeGemini{body: tt.body, chunkSize: 3})
			var deltas []string
			_, err := p.Stream(context.Background(), testRequest(), func(d provider.Delta) error {
				deltas = append(deltas, d.Text)
				return nil
			})
			if !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
			if diff := cmp.Diff(tt.wantDeltas, deltas); diff != "" {
				t.Errorf("deltas before the error (-want +got):\n%s", diff)
			}
			if got, _ := provider.RetryAfter(err); got != tt.wantRetryAfter {
				t.Errorf("RetryAfter = %v, want %v", got, tt.wantRetryAfter)
			}
			if !strings.Contains(err.Error(), tt.wantMessage) {
				t.Errorf("error %q lacks %q", err, tt.wantMessage)
			}
		})
	}
}

// TestFinishReasons checks that every finish reason Gemini gives maps onto
// the router's own, for replies streamed and not.
func TestFinishReasons(t *testing.T) {
	t.Parallel()

	const (
		text = `{"text":"Done."}`
		call = `{"functionCall":{"name":"lookup_order","args":{"order_id":"A"}}}`
	)
	tests := []struct {
		finish string
		part   string
		want   provider.FinishReason
	}{
		{"STOP", text, provider.FinishStop},
		{"STOP", call, provider.FinishToolCalls},
		{"MAX_TOKENS", text, provider.FinishLength},
		{"LANGUAGE", text, provider.FinishContentFilter},
		{"IMAGE_PROHIBITED_CONTENT", text, provider.FinishContentFilter},
		{"OTHER", text, provider.FinishStop},
		{"UNEXPECTED_TOOL_CALL", text, provider.FinishStop},
		{"TOO_MANY_TOOL_CALLS", call, provider.FinishToolCalls},
		{"NO_IMAGE", text, provider.FinishStop},
		{"BRAND_NEW_REASON", text, provider.FinishStop},
		{"BRAND_NEW_REASON", call, provider.FinishToolCalls},
	}
	for _, tt := range tests {
		t.Run(tt.finish+" "+tt.part[2:6], func(t *testing.T) {
			t.Parallel()

			body := `{"candidates":[{"content":{"role":"model","parts":[` + tt.part + `]},` +
				`"finishReason":"` + tt.finish + `","index":0}]}`
			p := startFake(t, &fakeGemini{body: []byte(body)})
			resp, err := p.Generate(context.Background(), testRequest())
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if resp.FinishReason != tt.want {
				t.Errorf("finish reason = %q, want %q", resp.FinishReason, tt.want)
			}

			p = startFake(t, &fakeGemini{body: sseBody(body)})
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

// TestGenerateFailures covers replies that arrive whole with status 200.
func TestGenerateFailures(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		body string
		want error
	}{
		{
			name: "prompt blocked",
			body: `{"promptFeedback":{"blockReason":"SAFETY","safetyRatings":[]},"usageMetadata":{"promptTokenCount":9}}`,
			want: provider.ErrContentRefused,
		},
		{name: "safety", body: `{"candidates":[{"finishReason":"SAFETY","index":0}]}`, want: provider.ErrContentRefused},
		{name: "blocklist", body: `{"candidates":[{"finishReason":"BLOCKLIST"}]}`, want: provider.ErrContentRefused},
		{name: "spii", body: `{"candidates":[{"finishReason":"SPII"}]}`, want: provider.ErrContentRefused},
		{name: "prohibited", body: `{"candidates":[{"finishReason":"PROHIBITED_CONTENT"}]}`, want: provider.ErrContentRefused},
		{name: "malformed call", body: `{"candidates":[{"finishReason":"MALFORMED_FUNCTION_CALL"}]}`, want: provider.ErrServerFailed},
		{name: "no candidates", body: `{"usageMetadata":{"promptTokenCount":9}}`, want: provider.ErrServerFailed},
		{name: "not json", body: `<html>bad gateway</html>`, want: provider.ErrServerFailed},
		{name: "error object", body: `{"error":{"code":500,"status":"INTERNAL","message":"x"}}`, want: provider.ErrServerFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			p := startFake(t, &fakeGemini{body: []byte(tt.body)})
			if _, err := p.Generate(context.Background(), testRequest()); !errors.Is(err, tt.want) {
				t.Errorf("error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestGenerateBodyTooLarge(t *testing.T) {
	t.Parallel()

	body := `{"candidates":[{"content":{"role":"model","parts":[{"text":"` + strings.Repeat("a", maxResponseBody) + `"}]}}]}`
	p := startFake(t, &fakeGemini{body: []byte(body)})
	_, err := p.Generate(context.Background(), testRequest())
	if !errors.Is(err, provider.ErrServerFailed) || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("error = %v, want ErrServerFailed for a body past the bound", err)
	}
}

func TestNameAndRetention(t *testing.T) {
	t.Parallel()

	p := New(Config{Name: "gemini-eu"})
	if p.Name() != "gemini-eu" {
		t.Errorf("Name = %q", p.Name())
	}
	if !strings.Contains(p.Retention(), "no per-request setting") {
		t.Errorf("Retention = %q", p.Retention())
	}
	if p.baseURL != DefaultBaseURL {
		t.Errorf("base URL = %q, want the default", p.baseURL)
	}
}
