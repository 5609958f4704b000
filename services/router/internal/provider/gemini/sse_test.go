package gemini

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

func decodeAll(r io.Reader) ([]sseEvent, error) {
	dec := newSSEDecoder(r)
	var events []sseEvent
	for {
		ev, err := dec.Next()
		if err == io.EOF {
			return events, nil
		}
		if err != nil {
			return events, err
		}
		events = append(events, ev)
	}
}

func TestSSEDecoder(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		input string
		want  []sseEvent
	}{
		{
			name:  "lf",
			input: "data: a\n\ndata: b\n\n",
			want:  []sseEvent{{Data: "a"}, {Data: "b"}},
		},
		{
			name:  "crlf, as Gemini sends",
			input: "data: a\r\n\r\ndata: b\r\n\r\n",
			want:  []sseEvent{{Data: "a"}, {Data: "b"}},
		},
		{
			name:  "cr only and mixed",
			input: "data: a\r\rdata: b\n\r\ndata: c\r\n\n",
			want:  []sseEvent{{Data: "a"}, {Data: "b"}, {Data: "c"}},
		},
		{
			name:  "cr then lf is one line end, cr then cr is two",
			input: "data: a\r\ndata: b\r\rdata: c\r\n\r\n",
			want:  []sseEvent{{Data: "a\nb"}, {Data: "c"}},
		},
		{
			name:  "multi-line data joins with line breaks",
			input: "data: first\ndata:second\ndata\n\n",
			want:  []sseEvent{{Data: "first\nsecond\n"}},
		},
		{
			name:  "comments, ids and retry are skipped",
			input: ": keep-alive\nid: 7\nretry: 100\nevent: error\ndata: x\n\n",
			want:  []sseEvent{{Event: "error", Data: "x"}},
		},
		{
			name:  "event without data is dropped and its name forgotten",
			input: "event: ping\n\ndata: x\n\n",
			want:  []sseEvent{{Data: "x"}},
		},
		{
			name:  "last event without blank line is marked",
			input: "data: a\n\ndata: {\"cand",
			want:  []sseEvent{{Data: "a"}, {Data: "{\"cand", Unterminated: true}},
		},
		{
			name:  "last event ended by a line break but no blank line",
			input: "data: x\n",
			want:  []sseEvent{{Data: "x", Unterminated: true}},
		},
		{
			name:  "byte order mark",
			input: "\uFEFFdata: x\n\n",
			want:  []sseEvent{{Data: "x"}},
		},
		{
			name:  "byte order mark only at the start",
			input: "data: x\n\n\uFEFFdata: y\n\n",
			want:  []sseEvent{{Data: "x"}},
		},
		{
			name:  "only one leading space is removed",
			input: "data:   spaced\n\n",
			want:  []sseEvent{{Data: "  spaced"}},
		},
		{
			name:  "multibyte text",
			input: "data: {\"text\":\"Ünïcødé ✓ 🚚\"}\r\n\r\n",
			want:  []sseEvent{{Data: "{\"text\":\"Ünïcødé ✓ 🚚\"}"}},
		},
		{
			name:  "empty stream",
			input: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			for _, r := range []io.Reader{
				strings.NewReader(tt.input),
				iotest.OneByteReader(strings.NewReader(tt.input)),
				iotest.HalfReader(strings.NewReader(tt.input)),
			} {
				got, err := decodeAll(r)
				if err != nil {
					t.Fatalf("decode: %v", err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("events (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestSSEDecoderReturnsEventOnBareCR checks that an event whose blank line
// ends in a bare CR is returned without waiting for the byte after it.
func TestSSEDecoderReturnsEventOnBareCR(t *testing.T) {
	t.Parallel()

	r := &stallingReader{data: []byte("data: x\r\r")}
	dec := newSSEDecoder(r)
	ev, err := dec.Next()
	if err != nil || ev.Data != "x" {
		t.Fatalf("Next = %+v, %v", ev, err)
	}
}

// stallingReader returns its data, then an error on any further read: the
// decoder must not read past the event it returns, which on a live stream
// would wait for bytes the server has not sent.
type stallingReader struct {
	data []byte
	done bool
}

func (s *stallingReader) Read(p []byte) (int, error) {
	if s.done {
		return 0, errors.New("read past the end of the event")
	}
	s.done = true
	return copy(p, s.data), nil
}

func TestSSEDecoderLineTooLong(t *testing.T) {
	t.Parallel()

	input := "data: " + strings.Repeat("x", maxSSELine) + "\n\n"
	if _, err := decodeAll(strings.NewReader(input)); !errors.Is(err, errSSELineTooLong) {
		t.Errorf("error = %v, want errSSELineTooLong", err)
	}
	// A line of exactly the bound is fine.
	input = "data:" + strings.Repeat("x", maxSSELine-5) + "\n\n"
	events, err := decodeAll(strings.NewReader(input))
	if err != nil || len(events) != 1 {
		t.Errorf("line of the bound: %d events, %v", len(events), err)
	}
}
