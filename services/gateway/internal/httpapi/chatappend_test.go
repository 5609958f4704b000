package httpapi

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/keelhq/keel/pkg/jsonscan/jsonscantest"
)

func TestAppendChat(t *testing.T) {
	text, stop, empty := "Hi <b>&</b> caf\u00e9\n\u2028", "stop", ""
	index := 3
	full := jsonscantest.Filled(reflect.TypeFor[chatResponse](), "s\"\\\x01", 7).Interface().(chatResponse)
	for _, r := range []chatResponse{
		full,
		{},
		{ID: "chatcmpl-1", Object: "chat.completion", Created: 1796460000, Model: "gpt-4o-mini",
			Choices: []chatChoice{{Message: &replyMessage{Role: "assistant", Content: &text}, FinishReason: &stop}},
			Usage:   &chatUsage{PromptTokens: 12, CompletionTokens: 3, TotalTokens: 15}},
		{Choices: []chatChoice{{Message: &replyMessage{Role: "assistant", ToolCalls: []chatToolCall{{ID: "c", Type: "function"}}}}},
			Usage: &chatUsage{PromptTokensDetails: &promptTokenDetails{CachedTokens: 8}}},
		{Object: "chat.completion.chunk", Choices: []chatChoice{{Delta: &responseMessage{}}}},
		{Choices: []chatChoice{{Delta: &responseMessage{Content: &empty}}}},
		{Choices: []chatChoice{{Delta: &responseMessage{Role: "assistant"}}, {Index: 1, Delta: &responseMessage{
			ToolCalls: []chatToolCall{{Index: &index, ExtraContent: &extraContent{}}, {ExtraContent: &extraContent{Google: &googleContent{}}}}}}}},
		{Choices: []chatChoice{}, Usage: &chatUsage{PromptTokens: -1}},
	} {
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendChat(nil, &r); string(got) != string(want) {
			t.Errorf("appendChat =\n%s\njson.Marshal:\n%s", got, want)
		}
	}
}

// FuzzAppendChat holds appendChat to json.Marshal over the values a reply
// or a chunk holds.
func FuzzAppendChat(f *testing.F) {
	f.Add("chatcmpl-1", "Hello", "weather", `{"city":"Paris"}`, "c2ln", int64(1796460000), uint8(0))
	f.Add("", "\xff<&>\u2029", "", "", "", int64(-1), uint8(255))
	f.Fuzz(func(t *testing.T, id, text, name, args, sig string, n int64, shape uint8) {
		r := chatResponse{ID: id, Object: "chat.completion.chunk", Created: n, Model: name}
		call := chatToolCall{ID: id, Type: "function"}
		call.Function.Name, call.Function.Arguments = name, args
		if shape&1 != 0 {
			call.ExtraContent = &extraContent{Google: &googleContent{ThoughtSignature: sig}}
		}
		var calls []chatToolCall
		if shape&2 != 0 {
			calls = []chatToolCall{call, call}
		}
		var content *string
		if shape&4 != 0 {
			content = &text
		}
		switch {
		case shape&8 != 0:
			r.Choices = []chatChoice{{Message: &replyMessage{Role: "assistant", Content: content, ToolCalls: calls}, FinishReason: content}}
		case shape&16 != 0:
			r.Choices = []chatChoice{{Index: int(n), Delta: &responseMessage{Role: text, Content: content, ToolCalls: calls}}}
		case shape&32 != 0:
			r.Choices = []chatChoice{}
		}
		if shape&64 != 0 {
			r.Usage = &chatUsage{PromptTokens: n, CompletionTokens: -n, TotalTokens: 0}
			if shape&128 != 0 {
				r.Usage.PromptTokensDetails = &promptTokenDetails{CachedTokens: n / 2}
			}
		}
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendChat(nil, &r); string(got) != string(want) {
			t.Fatalf("appendChat =\n%s\njson.Marshal:\n%s", got, want)
		}
	})
}

// BenchmarkAppendChat compares appendChat with json.Marshal on a reply
// (BENCHMARKS.md).
func BenchmarkAppendChat(b *testing.B) {
	text, stop := "Hello, world", "stop"
	r := chatResponse{ID: "chatcmpl-0123456789abcdef01234567", Object: "chat.completion", Created: 1796460000, Model: "gpt-4o-mini",
		Choices: []chatChoice{{Message: &replyMessage{Role: "assistant", Content: &text}, FinishReason: &stop}},
		Usage:   &chatUsage{PromptTokens: 12, CompletionTokens: 3, TotalTokens: 15}}
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = appendChat(make([]byte, 0, 256), &r)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
