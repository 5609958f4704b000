package openai

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/keelhq/keel/pkg/jsonscan/jsonscantest"
	"github.com/keelhq/keel/services/router/internal/provider"
)

// replyDocuments are the completions and stream chunks of testdata, the
// shapes real servers send.
func replyDocuments(t testing.TB) [][]byte {
	var docs [][]byte
	for _, name := range []string{"completion.json", "completion_tool_calls.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, data)
	}
	for _, name := range []string{"stream.sse", "stream_tool_calls.sse"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(bytes.NewReader(data))
		for lines.Scan() {
			if d, ok := bytes.CutPrefix(lines.Bytes(), []byte("data: ")); ok && string(d) != "[DONE]" {
				docs = append(docs, bytes.Clone(d))
			}
		}
	}
	return docs
}

// TestScanReplyReadsCommonShapes checks that the documents real servers send
// take the fast path, and decode as encoding/json decodes them: a scanner
// that gave up on everything would pass FuzzDecodeReply.
func TestScanReplyReadsCommonShapes(t *testing.T) {
	docs := replyDocuments(t)
	docs = append(docs,
		[]byte(`{"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"caf\u00e9 \"quoted\"\n","refusal":null},"finish_reason":"stop"}],`+
			`"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15,"prompt_tokens_details":{"cached_tokens":8,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}},"error":null}`),
		[]byte(`{"choices":[{"delta":{"reasoning_content":"thinking"}}],"usage":null}`),
		[]byte(`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{\"a\":1}"}}]},"finish_reason":null}]}`),
		[]byte(`{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":0}}`),
	)
	for _, doc := range docs {
		var fast, std chatResponse
		if !scanReply(doc, &fast) {
			t.Errorf("scanReply gave up on %s", doc)
			continue
		}
		if err := json.Unmarshal(doc, &std); err != nil {
			t.Fatalf("encoding/json: %v", err)
		}
		if !reflect.DeepEqual(fast, std) {
			t.Errorf("scanReply(%s) =\n%+v\nencoding/json:\n%+v", doc, fast, std)
		}
	}
}

// TestScanReplyLeavesRareShapes checks what goes to encoding/json, with
// the value or error it gives.
func TestScanReplyLeavesRareShapes(t *testing.T) {
	for _, doc := range []string{
		`{"error":{"message":"overloaded","type":"server_error"}}`,
		`{"Model":"case differs"}`,
		`{"choices":[{"message":{"content":"a"},"message":{"role":"assistant"}}]}`,
		`{"choices":[],"choices":[{}]}`,
		`{"usage":{"prompt_tokens":1.5}}`,
		`{"choices":[{"index":"0"}]}`,
		"{\"model\":\"bad \xff utf-8\"}",
		`{"model":"m"} trailing`,
		`null`,
	} {
		var fast chatResponse
		if scanReply([]byte(doc), &fast) {
			t.Errorf("scanReply read %s; it is encoding/json's", doc)
		}
		var got, want chatResponse
		gotErr := decodeReply([]byte(doc), &got)
		wantErr := json.Unmarshal([]byte(doc), &want)
		if (gotErr == nil) != (wantErr == nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("decodeReply(%s) = %+v, %v; encoding/json: %+v, %v", doc, got, gotErr, want, wantErr)
		}
	}
}

// TestScanReplyKnowsEveryField checks the field lists of the scanners
// against the wire types: a field added to a type and not to its scanner
// would be dropped from every common reply.
func TestScanReplyKnowsEveryField(t *testing.T) {
	for _, tc := range []struct {
		typ    reflect.Type
		fields []string
	}{
		{reflect.TypeFor[chatResponse](), replyFields},
		{reflect.TypeFor[chatChoice](), choiceFields},
		{reflect.TypeFor[chatMessage](), messageFields},
		{reflect.TypeFor[chatToolCall](), callFields},
		{reflect.TypeFor[chatFunctionCall](), functionFields},
		{reflect.TypeFor[chatUsage](), usageFields},
		{reflect.TypeOf(chatUsage{}.PromptTokensDetails).Elem(), detailsFields},
	} {
		if names := jsonscantest.Names(tc.typ); !slices.Equal(names, tc.fields) {
			t.Errorf("%s has fields %q; its scanner knows %q", tc.typ, names, tc.fields)
		}
	}
}

// FuzzDecodeReply holds decodeReply to json.Unmarshal: the same value and
// an error exactly when encoding/json gives one.
func FuzzDecodeReply(f *testing.F) {
	for _, doc := range replyDocuments(f) {
		f.Add(doc)
	}
	f.Add([]byte(`{"choices":[null,{"message":null,"delta":{"tool_calls":[null,{"index":null,"function":null}]}}],"usage":{"prompt_tokens_details":null}}`))
	f.Add([]byte(`{"model":null,"choices":null,"usage":null,"error":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var got, want chatResponse
		gotErr := decodeReply(data, &got)
		wantErr := json.Unmarshal(data, &want)
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("decodeReply(%q) error %v; encoding/json %v", data, gotErr, wantErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeReply(%q) =\n%+v\nencoding/json:\n%+v", data, got, want)
		}
	})
}

// BenchmarkDecodeReply compares decodeReply with json.Unmarshal on a
// completion (BENCHMARKS.md).
func BenchmarkDecodeReply(b *testing.B) {
	doc, err := os.ReadFile(filepath.Join("testdata", "completion.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("scan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r chatResponse
			if err := decodeReply(doc, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r chatResponse
			if err := json.Unmarshal(doc, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestEncodeRequest(t *testing.T) {
	full := jsonscantest.Filled(reflect.TypeFor[chatRequest](), "s<\"\\\x01\u2028", 7).Interface().(chatRequest)
	full.Tools, full.ResponseFormat = nil, nil
	temp, zero := 0.2, 0.0
	plain := toChatRequest(provider.Request{
		Model: "gpt-4o-mini", MaxOutputTokens: 256, Temperature: &temp, TopP: &zero, Stop: []string{"\n\n"},
		Messages: []provider.Message{
			{Role: provider.RoleSystem, Content: "Be brief."},
			{Role: provider.RoleUser, Content: "caf\u00e9 <b>"},
			{Role: provider.RoleAssistant, ToolCalls: []provider.ToolCall{{ID: "c1", Name: "weather", Arguments: `{"city":"Paris"}`}}},
			{Role: provider.RoleTool, ToolCallID: "c1", Content: "sunny"},
		},
	}, true, FlavorOpenAI)
	withTools := plain
	withTools.Tools = []chatTool{{Type: "function", Function: chatFunction{Name: "weather", Parameters: json.RawMessage(`{ "type" : "object" }`)}}}
	for _, body := range []chatRequest{full, {}, plain, withTools} {
		want, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		got, err := encodeRequest(&body)
		if err != nil || string(got) != string(want) {
			t.Errorf("encodeRequest =\n%s (%v)\njson.Marshal:\n%s", got, err, want)
		}
	}
}

// FuzzEncodeRequest holds encodeRequest to json.Marshal.
func FuzzEncodeRequest(f *testing.F) {
	f.Add("gpt-4o-mini", "Hello", "c1", `{"a":1}`, 0.7, int64(256), uint8(0))
	f.Add("", "\xff<&>\u2029", "", "", 1e-7, int64(-1), uint8(255))
	f.Fuzz(func(t *testing.T, model, text, id, args string, temp float64, n int64, shape uint8) {
		if math.IsNaN(temp) || math.IsInf(temp, 0) {
			return
		}
		b := chatRequest{Model: model, MaxTokens: int(n), Stream: shape&1 != 0}
		m := chatMessage{Role: text, ToolCallID: id}
		if shape&2 != 0 {
			m.Content = &text
		}
		if shape&4 != 0 {
			idx := int(n)
			m.ToolCalls = []chatToolCall{{Index: &idx, ID: id, Function: chatFunctionCall{Name: text, Arguments: args}}, {Type: "function"}}
		}
		if shape&8 != 0 {
			b.Messages = []chatMessage{m, {Role: "user", Refusal: &args, ReasoningContent: args}}
		}
		if shape&16 != 0 {
			b.Temperature, b.TopP, b.Seed = &temp, &temp, &n
		}
		if shape&32 != 0 {
			b.Stop = []string{text, args}
			b.StreamOptions = &streamOptions{IncludeUsage: shape&64 != 0}
		}
		if shape&128 != 0 {
			b.Store, b.ParallelToolCalls, b.MaxCompletionTokens = new(bool), new(bool), int(-n)
		}
		want, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := encodeRequest(&b); err != nil || string(got) != string(want) {
			t.Fatalf("encodeRequest =\n%s (%v)\njson.Marshal:\n%s", got, err, want)
		}
	})
}
