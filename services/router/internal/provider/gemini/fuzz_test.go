package gemini

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/keelhq/keel/services/router/internal/provider"
)

// splitReader returns data in two parts cut at split, each part in reads of
// at most size bytes: the same bytes as one reader, cut differently.
type splitReader struct {
	data  []byte
	split int
	size  int
	pos   int
}

func newSplitReader(data []byte, split, size int) *splitReader {
	if size <= 0 {
		size = 1
	}
	return &splitReader{data: data, split: split % (len(data) + 1), size: size}
}

func (s *splitReader) Read(p []byte) (int, error) {
	if s.pos >= len(s.data) {
		return 0, io.EOF
	}
	end := min(s.pos+s.size, len(s.data))
	if s.pos < s.split && end > s.split {
		end = s.split
	}
	n := copy(p, s.data[s.pos:end])
	s.pos += n
	return n, nil
}

// fuzzSeeds are the stream fixtures and a few streams that end badly.
func fuzzSeeds(f *testing.F) [][]byte {
	seeds := [][]byte{
		fixture(f, "stream.sse"),
		fixture(f, "stream_tool_calls.sse"),
		[]byte(strings.ReplaceAll(string(fixture(f, "stream.sse")), "\n", "\r\n")),
		[]byte(strings.ReplaceAll(string(fixture(f, "stream.sse")), "\n", "\r")),
		sseBody(`{"candidates":[{"content":{"role":"model","parts":[{"text":"Hel"}]}}]}`,
			`{"error":{"code":500,"message":"An internal error has occurred.","status":"INTERNAL"}}`),
		sseBody(`{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"17s"}]}}`),
		sseBody(`{"promptFeedback":{"blockReason":"SAFETY"}}`),
		sseBody(`{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"id":"a1","name":"f","args":{"x":[1,{"y":null}]}}},{"functionCall":{"name":"g"}}]},"finishReason":"STOP"}]}`),
		[]byte("\uFEFFdata: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"\xc3\xa9\"}]},\"finishReason\":\"MAX_TOKENS\"}]}"),
		[]byte("data: {\"candidates\":[{\"cont"),
		[]byte(": keep-alive\r\nevent: x\r\ndata: [DONE]\r\n\r\n"),
	}
	return seeds
}

// streamResult is everything readStream reports for one input.
type streamResult struct {
	Deltas   []provider.Delta
	Response provider.Response
	Err      string
	Class    string
	After    time.Duration
}

func runStream(r io.Reader) streamResult {
	var res streamResult
	resp, err := readStream(context.Background(), r, testRequest(), func(d provider.Delta) error {
		res.Deltas = append(res.Deltas, d)
		return nil
	})
	res.Response = resp
	if err != nil {
		res.Err = err.Error()
		res.Class = provider.ClassName(err)
		res.After, _ = provider.RetryAfter(err)
	}
	nameMadeUpIDs(&res)
	return res
}

// nameMadeUpIDs replaces the ids the provider made up, which are random,
// with names in the order they first appear, the same in the deltas and the
// reply, so that two runs over the same stream compare.
func nameMadeUpIDs(res *streamResult) {
	names := make(map[string]string)
	rename := func(c *provider.ToolCall) {
		if !generatedID(c.ID) {
			return
		}
		if _, ok := names[c.ID]; !ok {
			names[c.ID] = fmt.Sprintf("made-up-%d", len(names)+1)
		}
		c.ID = names[c.ID]
	}
	for _, d := range res.Deltas {
		if d.ToolCall != nil {
			rename(d.ToolCall)
		}
	}
	for i := range res.Response.ToolCalls {
		rename(&res.Response.ToolCalls[i])
	}
}

// FuzzStream feeds arbitrary bytes to the stream decoder and accumulator.
// It must not panic, must classify every failure, must give the same
// deltas, reply and error however the bytes are split, and a reply must be
// the sum of its deltas with its text whole UTF-8.
func FuzzStream(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s, uint16(len(s)/3), uint8(1))
		f.Add(s, uint16(7), uint8(13))
	}
	f.Fuzz(func(t *testing.T, raw []byte, split uint16, size uint8) {
		whole := runStream(strings.NewReader(string(raw)))
		cut := runStream(newSplitReader(raw, int(split), int(size)))
		if diff := cmp.Diff(whole, cut); diff != "" {
			t.Fatalf("result depends on the split (-whole +split):\n%s", diff)
		}

		if whole.Err != "" {
			if whole.Class == "unknown" {
				t.Fatalf("unclassified error %q", whole.Err)
			}
			return
		}
		var text strings.Builder
		var calls []provider.ToolCall
		for _, d := range whole.Deltas {
			if !utf8.ValidString(d.Text) {
				t.Fatalf("delta %q is not whole UTF-8", d.Text)
			}
			if d.ToolCall != nil {
				calls = append(calls, *d.ToolCall)
			}
			text.WriteString(d.Text)
		}
		resp := whole.Response
		if text.String() != resp.Text {
			t.Fatalf("text %q is not the sum of its deltas %q", resp.Text, text.String())
		}
		if diff := cmp.Diff(calls, resp.ToolCalls); diff != "" {
			t.Fatalf("tool calls differ from the emitted ones (-emitted +reply):\n%s", diff)
		}
		if resp.FinishReason == "" {
			t.Fatalf("reply without a finish reason")
		}
		for _, c := range resp.ToolCalls {
			if c.ID == "" || c.Arguments == "" {
				t.Fatalf("tool call without id or arguments: %+v", c)
			}
		}
	})
}

// FuzzStatusError checks that any error response classifies without
// panicking, into a class, without the API key and with a bounded message.
func FuzzStatusError(f *testing.F) {
	f.Add(429, []byte(`{"error":{"code":429,"message":"x","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1.5s"}]}}`), "7")
	f.Add(400, []byte(`{"error":{"code":400,"message":"API key not valid: `+testAPIKey+`","status":"INVALID_ARGUMENT"}}`), "")
	f.Add(503, []byte("upstream connect error "+testAPIKey), "Wed, 21 Oct 2026 07:28:00 GMT")
	f.Add(200, []byte(`{"error":null}`), "-1")
	f.Fuzz(func(t *testing.T, status int, body []byte, retryAfter string) {
		resp := &http.Response{StatusCode: status, Header: http.Header{"Retry-After": {retryAfter}}}
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		err := scrub(statusError(resp, body, now, testAPIKey), testAPIKey)

		var pe *provider.Error
		if !errors.As(err, &pe) || pe.Class == nil || provider.ClassName(err) == "unknown" {
			t.Fatalf("unclassified error %v", err)
		}
		if strings.Contains(err.Error(), testAPIKey) || strings.Contains(pe.Reason, testAPIKey) {
			t.Fatalf("the API key leaked: %v (reason %q)", err, pe.Reason)
		}
		if len(pe.Message) > maxErrorMessage+len("...") {
			t.Fatalf("message of %d bytes", len(pe.Message))
		}
		if pe.RetryAfter < 0 {
			t.Fatalf("negative RetryAfter %v", pe.RetryAfter)
		}
	})
}
