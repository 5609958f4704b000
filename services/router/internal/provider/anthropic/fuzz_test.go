package anthropic

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/keelhq/keel/services/router/internal/provider"
)

// outcome is everything a stream decoding produces, for comparing two
// decodings of the same bytes.
type outcome struct {
	Texts      []string
	Calls      []provider.ToolCall
	Text       string
	StopReason string
	Model      string
	Usage      provider.Usage
	Done       bool
	ErrClass   string
	ErrMessage string
}

// runStream decodes body with a fresh accumulator.
func runStream(body io.Reader, schemaTool string) outcome {
	var o outcome
	acc := newStreamAccumulator(schemaTool, 0)
	err := decodeStream(context.Background(), body, acc, func(d provider.Delta) error {
		if d.ToolCall != nil {
			o.Calls = append(o.Calls, *d.ToolCall)
		} else {
			o.Texts = append(o.Texts, d.Text)
		}
		return nil
	})
	o.Text = acc.text.String()
	o.StopReason = acc.stopReason
	o.Model = acc.model
	o.Usage = toUsage(acc.usage, provider.Request{}, o.Text, acc.calls)
	o.Done = acc.done
	if err != nil {
		o.ErrClass = provider.ClassName(err)
		o.ErrMessage = err.Error()
	}
	return o
}

// piecesReader returns its pieces one Read at a time.
type piecesReader struct{ pieces [][]byte }

func (r *piecesReader) Read(p []byte) (int, error) {
	for len(r.pieces) > 0 && len(r.pieces[0]) == 0 {
		r.pieces = r.pieces[1:]
	}
	if len(r.pieces) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.pieces[0])
	r.pieces[0] = r.pieces[0][n:]
	return n, nil
}

// splitAt returns a reader that gives data in reads that end at the given
// offsets (taken modulo the length).
func splitAt(data []byte, offsets ...int) io.Reader {
	r := &piecesReader{}
	prev := 0
	for _, off := range offsets {
		if len(data) == 0 {
			break
		}
		off %= len(data) + 1
		if off < prev {
			continue
		}
		r.pieces = append(r.pieces, data[prev:off])
		prev = off
	}
	r.pieces = append(r.pieces, data[prev:])
	return r
}

// byteReader returns size bytes per read.
type byteReader struct {
	data []byte
	size int
}

func (c *byteReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), c.size, len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

func addStreamSeeds(f *testing.F) {
	for _, name := range []string{"stream_text.sse", "stream_tools.sse", "stream_structured.sse"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatalf("read seed: %v", err)
		}
		f.Add(b, uint16(len(b)/2), uint8(3))
		f.Add([]byte(strings.ReplaceAll(string(b), "\n", "\r\n")), uint16(17), uint8(1))
	}
	f.Add(sseBody("message_start", evMessageStart, "error", evError("overloaded_error", "Overloaded")), uint16(40), uint8(2))
	f.Add([]byte("event: error\ndata: not json\n\n"), uint16(3), uint8(5))
	f.Add([]byte("data: {\"type\":\"content_block_delta\",\"index\":0}\n\n"), uint16(0), uint8(0))
	f.Add([]byte("\uFEFFevent: message_stop\r\ndata: {\"type\":\"message_stop\"}"), uint16(9), uint8(7))
}

// FuzzStreamDecoder feeds arbitrary bytes to the event decoder and the
// accumulator: they must not panic, and the outcome must not depend on how
// the bytes are split into reads.
func FuzzStreamDecoder(f *testing.F) {
	addStreamSeeds(f)
	f.Fuzz(func(t *testing.T, raw []byte, split uint16, size uint8) {
		whole := runStream(strings.NewReader(string(raw)), "reply_draft")
		split2 := runStream(splitAt(raw, int(split)), "reply_draft")
		if diff := cmp.Diff(whole, split2); diff != "" {
			t.Fatalf("split at %d changed the outcome (-whole +split):\n%s", split, diff)
		}
		if size > 0 {
			small := runStream(&byteReader{data: raw, size: int(size)}, "reply_draft")
			if diff := cmp.Diff(whole, small); diff != "" {
				t.Fatalf("reads of %d bytes changed the outcome (-whole +small):\n%s", size, diff)
			}
		}

		// Whatever the input: the text is what was emitted, the tool calls
		// carry JSON, and success means message_stop was seen.
		if whole.Text != strings.Join(whole.Texts, "") {
			t.Fatalf("text %q is not the emitted %q", whole.Text, whole.Texts)
		}
		for _, c := range whole.Calls {
			if !json.Valid([]byte(c.Arguments)) {
				t.Fatalf("tool call with arguments %q", c.Arguments)
			}
		}
		if whole.ErrClass == "" && !whole.Done {
			t.Fatal("success without message_stop")
		}
		if whole.ErrClass == "unknown" {
			t.Fatalf("unclassified error %q", whole.ErrMessage)
		}
	})
}

// validStream builds a well-formed stream: a text block in two deltas, a
// tool_use block whose input JSON is cut in two fragments at cut, and an
// optional schema block, with the documented event shapes.
func validStream(text1, text2, arg string, cut int, structured bool) (body []byte, wantText string, wantCalls []provider.ToolCall) {
	input, _ := json.Marshal(map[string]any{"query": arg, "n": len(arg)})
	// Anthropic cuts fragments between characters.
	cut %= len(input) + 1
	for cut > 0 && cut < len(input) && !utf8.RuneStart(input[cut]) {
		cut--
	}
	pairs := []string{
		"message_start", evMessageStart,
		"ping", `{"type": "ping"}`,
		"content_block_start", evTextStart,
		"content_block_delta", evText(0, text1),
		"content_block_delta", evText(0, text2),
		"content_block_stop", evTextStop,
		"content_block_start", evToolStart(1, "toolu_fuzz", "lookup_order"),
		"content_block_delta", evJSON(1, string(input[:cut])),
		"ping", `{"type": "ping"}`,
		"content_block_delta", evJSON(1, string(input[cut:])),
		"content_block_stop", evStop(1),
	}
	wantText = text1 + text2
	if structured {
		pairs = append(pairs,
			"content_block_start", evToolStart(2, "toolu_schema", "reply_draft"),
			"content_block_delta", evJSON(2, string(input[:cut])),
			"content_block_delta", evJSON(2, string(input[cut:])),
			"content_block_stop", evStop(2),
		)
		wantText += string(input)
	}
	pairs = append(pairs,
		"message_delta", `{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":12}}`,
		"message_stop", evMessageStop,
	)
	return sseBody(pairs...), wantText, []provider.ToolCall{{ID: "toolu_fuzz", Name: "lookup_order", Arguments: string(input)}}
}

// FuzzStreamSplit builds valid streams from fuzzed text and tool input and
// checks that they decode to exactly that text and call however the bytes
// are split.
func FuzzStreamSplit(f *testing.F) {
	f.Add("Express shipping", " arrives [1].", "ORD-12345", uint16(7), uint16(100), uint16(9000), false)
	f.Add("Ünïcødé ✓", " 日本 🚚", "café ☕", uint16(20), uint16(333), uint16(334), true)
	f.Add("", "", "", uint16(0), uint16(0), uint16(0), true)
	f.Add("line\nbreak\r\n", "data: x\n\n", "\"quoted\"\\", uint16(3), uint16(1), uint16(2), false)
	f.Fuzz(func(t *testing.T, text1, text2, arg string, cut, split1, split2 uint16, structured bool) {
		// Text deltas are JSON strings: the API sends valid UTF-8.
		text1, text2, arg = strings.ToValidUTF8(text1, "?"), strings.ToValidUTF8(text2, "?"), strings.ToValidUTF8(arg, "?")
		body, wantText, wantCalls := validStream(text1, text2, arg, int(cut), structured)

		schemaTool := ""
		if structured {
			schemaTool = "reply_draft"
		}
		whole := runStream(strings.NewReader(string(body)), schemaTool)
		if whole.ErrClass != "" {
			t.Fatalf("valid stream failed: %s\n%s", whole.ErrMessage, body)
		}
		if whole.Text != wantText {
			t.Fatalf("text = %q, want %q", whole.Text, wantText)
		}
		if diff := cmp.Diff(wantCalls, whole.Calls); diff != "" {
			t.Fatalf("tool calls (-want +got):\n%s", diff)
		}
		if whole.Usage.OutputTokens != 12 || whole.Usage.InputTokens != 40 || !whole.Done {
			t.Fatalf("outcome = %+v", whole)
		}

		for _, r := range []io.Reader{
			splitAt(body, int(split1)),
			splitAt(body, int(split1), int(split2)),
			&byteReader{data: body, size: 1},
		} {
			got := runStream(r, schemaTool)
			if diff := cmp.Diff(whole, got); diff != "" {
				t.Fatalf("split changed the outcome (-whole +split):\n%s", diff)
			}
		}
	})
}
