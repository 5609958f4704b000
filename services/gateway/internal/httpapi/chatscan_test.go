package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/keelhq/keel/pkg/jsonscan/jsonscantest"
)

// chatBodies are requests as OpenAI clients send them.
var chatBodies = []string{
	`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}]}`,
	`{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"caf\u00e9 \"x\""}]}],` +
		`"temperature":0.2,"top_p":1,"max_tokens":256,"max_completion_tokens":null,"stop":["\n\n"],"seed":7,"n":1,"user":"u-1",` +
		`"stream":true,"stream_options":{"include_usage":true},"logprobs":false,"top_logprobs":null,"logit_bias":null,"keel_variables":null,` +
		`"frequency_penalty":0,"metadata":{"k":"v"}}`,
	`{"model":"m","messages":[{"role":"user","content":"weather?"},` +
		`{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"},"extra_content":{"google":{"thought_signature":"c2ln"},"other":1}}]},` +
		`{"role":"tool","tool_call_id":"call_1","content":"sunny"}],` +
		`"tools":[{"type":"function","function":{"name":"weather","description":"Weather now","parameters":{"type":"object","properties":{"city":{"type":"string"}}},"strict":true}}],` +
		`"tool_choice":{"type":"function","function":{"name":"weather"}},"parallel_tool_calls":false}`,
	`{"model":"m","messages":[{"role":"user","content":"json"}],"response_format":{"type":"json_schema","json_schema":{"name":"r","schema":{"type":"object"},"strict":true}}}` + "\n",
}

// TestScanChatReadsCommonShapes checks that the requests clients send take
// the fast path and decode as encoding/json decodes them: a scanner that
// gave up on everything would pass FuzzDecodeChat.
func TestScanChatReadsCommonShapes(t *testing.T) {
	for _, doc := range chatBodies {
		var fast, std chatRequest
		if !scanChatRequest([]byte(doc), &fast) {
			t.Errorf("scanChatRequest gave up on %s", doc)
			continue
		}
		if err := decodeChatStream(strings.NewReader(doc), &std); err != nil {
			t.Fatalf("encoding/json: %v", err)
		}
		if !reflect.DeepEqual(fast, std) {
			t.Errorf("scanChatRequest(%s) =\n%+v\nencoding/json:\n%+v", doc, fast, std)
		}
	}
}

// TestDecodeChatKeepsErrors checks that what the fast path leaves, and the
// errors of reading the body, give encoding/json's answers.
func TestDecodeChatKeepsErrors(t *testing.T) {
	for _, doc := range []string{
		`{"model":"m","logit_bias":{"50256":-100}}`,
		`{"model":"m","keel_variables":{"name":"Ada"}}`,
		`{"Model":"m"}`,
		`{"model":"m","max_tokens":4294967296}`,
		`{"model":"m","max_tokens":1.5}`,
		`{"model":"m","temperature":"hot"}`,
		`{"model":"m","temperature":1e999}`,
		`{"model":"m","messages":[{"role":"user"},{"role":"user","role":7}]}`,
		`{"model":"m"} {"model":"n"}`,
		`{"model":"m"`,
		``,
		`[]`,
	} {
		var got, want chatRequest
		gotErr := decodeChatRequest(strings.NewReader(doc), int64(len(doc)), &got)
		wantErr := decodeChatStream(strings.NewReader(doc), &want)
		if !reflect.DeepEqual(gotErr, wantErr) || !reflect.DeepEqual(got, want) {
			t.Errorf("decodeChatRequest(%s) = %+v, %v; encoding/json: %+v, %v", doc, got, gotErr, want, wantErr)
		}
	}

	// A body over the limit: the same 413 as when encoding/json read it.
	big := `{"model":"m","messages":[{"role":"user","content":"` + strings.Repeat("a", 100) + `"}]}`
	limited := func() io.Reader {
		return http.MaxBytesReader(nil, io.NopCloser(strings.NewReader(big)), 50)
	}
	var got, want chatRequest
	gotErr, wantErr := decodeChatRequest(limited(), int64(len(big)), &got), decodeChatStream(limited(), &want)
	var ae *apiError
	if !errors.As(gotErr, &ae) || ae.status != http.StatusRequestEntityTooLarge || !reflect.DeepEqual(gotErr, wantErr) {
		t.Errorf("over the limit: %v; encoding/json: %v", gotErr, wantErr)
	}
}

// unreadReader fails the test if read: the bytes after a broken start.
type unreadReader struct{ t *testing.T }

func (r unreadReader) Read([]byte) (int, error) {
	r.t.Error("read past a broken start")
	return 0, io.EOF
}

// TestDecodeChatStreamsLargeBodies checks that a body of unknown length or
// over maxScannedBody is decoded as it arrives: refused at a broken start
// without waiting for the rest, and read like any other when whole.
func TestDecodeChatStreamsLargeBodies(t *testing.T) {
	for _, length := range []int64{-1, maxScannedBody + 1} {
		var body chatRequest
		in := io.MultiReader(strings.NewReader(`{"model":x`), unreadReader{t})
		if err := decodeChatRequest(in, length, &body); err == nil {
			t.Errorf("length %d: a broken body decoded", length)
		}
		doc := chatBodies[1]
		var got, want chatRequest
		if err := decodeChatRequest(strings.NewReader(doc), length, &got); err != nil {
			t.Fatal(err)
		}
		if err := decodeChatStream(strings.NewReader(doc), &want); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("length %d: decoded %+v; encoding/json %+v, %v", length, got, want, err)
		}
	}
}

// TestMessageTextScans checks that a message's text reads the same through
// the scanner as through encoding/json, escapes and invalid UTF-8 included.
func TestMessageTextScans(t *testing.T) {
	for _, raw := range []string{`"plain"`, `"caf\u00e9 \"q\" \n"`, "\"bad \xff\"", `"\ud800"`} {
		got, err := messageText(json.RawMessage(raw))
		var want string
		wantErr := json.Unmarshal([]byte(raw), &want)
		if got != want || (err == nil) != (wantErr == nil) {
			t.Errorf("messageText(%s) = %q, %v; encoding/json %q, %v", raw, got, err, want, wantErr)
		}
		if _, ok := scanString([]byte(raw)); ok != (raw == `"plain"` || strings.HasPrefix(raw, `"caf`)) {
			t.Errorf("scanString(%s) ok = %v", raw, ok)
		}
	}
}

// TestScanChatKnowsEveryField checks the field lists of the scanners against
// the wire types: a field added to a type and not to its scanner would be
// dropped from every common request.
func TestScanChatKnowsEveryField(t *testing.T) {
	for _, tc := range []struct {
		typ    reflect.Type
		fields []string
	}{
		{reflect.TypeFor[chatRequest](), requestFields},
		{reflect.TypeFor[streamOptions](), streamOptionFields},
		{reflect.TypeFor[chatMessage](), messageFields},
		{reflect.TypeFor[chatTool](), toolFields},
		{reflect.TypeOf(chatTool{}.Function), toolFunctionFields},
		{reflect.TypeFor[chatToolCall](), toolCallFields},
		{reflect.TypeOf(chatToolCall{}.Function), callFunctionFields},
		{reflect.TypeFor[extraContent](), extraContentFields},
		{reflect.TypeFor[googleContent](), googleContentFields},
		{reflect.TypeFor[responseFormat](), responseFormatFields},
		{reflect.TypeOf(responseFormat{}.JSONSchema).Elem(), jsonSchemaFields},
	} {
		if names := jsonscantest.Names(tc.typ); !slices.Equal(names, tc.fields) {
			t.Errorf("%s has fields %q; its scanner knows %q", tc.typ, names, tc.fields)
		}
	}
}

// FuzzDecodeChat holds decodeChatRequest to encoding/json: the same request
// and the same error.
func FuzzDecodeChat(f *testing.F) {
	for _, doc := range chatBodies {
		f.Add([]byte(doc))
	}
	f.Add([]byte(`{"messages":[null,{"content":null,"tool_calls":[null,{"index":null,"function":null,"extra_content":{"google":null}},{"extra_content":null}]}],"tools":[null,{"function":null}],"response_format":{"json_schema":null},"seed":null,"parallel_tool_calls":null,"stream_options":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var got, want chatRequest
		gotErr := decodeChatRequest(bytes.NewReader(data), int64(len(data)), &got)
		wantErr := decodeChatStream(bytes.NewReader(data), &want)
		if !reflect.DeepEqual(gotErr, wantErr) {
			t.Fatalf("decodeChatRequest(%q) error %v; encoding/json %v", data, gotErr, wantErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeChatRequest(%q) =\n%+v\nencoding/json:\n%+v", data, got, want)
		}
	})
}

// BenchmarkDecodeChat compares decodeChatRequest with encoding/json on the
// request the load generator sends (BENCHMARKS.md).
func BenchmarkDecodeChat(b *testing.B) {
	doc := []byte(chatBodies[0])
	b.Run("scan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var body chatRequest
			if err := decodeChatRequest(bytes.NewReader(doc), int64(len(doc)), &body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var body chatRequest
			if err := decodeChatStream(bytes.NewReader(doc), &body); err != nil {
				b.Fatal(err)
			}
		}
	})
}
