package openai

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

func decodeAll(t testing.TB, r io.Reader) ([]sseEvent, error) {
	t.Helper()
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
			name:  "crlf and cr",
			input: "data: a\r\n\r\ndata: b\r\rdata: c\r\n\r\n",
			want:  []sseEvent{{Data: "a"}, {Data: "b"}, {Data: "c"}},
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
			name:  "last event without blank line",
			input: "data: [DONE]",
			want:  []sseEvent{{Data: "[DONE]"}},
		},
		{
			name:  "byte order mark",
			input: "\uFEFFdata: x\n\n",
			want:  []sseEvent{{Data: "x"}},
		},
		{
			name:  "only one leading space is removed",
			input: "data:   spaced\n\n",
			want:  []sseEvent{{Data: "  spaced"}},
		},
		{
			name:  "empty stream",
			input: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, err := decodeAll(t, iotest.OneByteReader(strings.NewReader(tt.input)))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSSEDecoderLineTooLong(t *testing.T) {
	t.Parallel()

	input := "data: " + strings.Repeat("x", maxSSELine) + "\n\n"
	_, err := decodeAll(t, strings.NewReader(input))
	if !errors.Is(err, errSSELineTooLong) {
		t.Errorf("error = %v, want errSSELineTooLong", err)
	}
}

// FuzzSSEDecoder checks that any input decodes without panicking and that
// every payload written as "data:" lines comes back whole, however the
// stream is split into reads.
func FuzzSSEDecoder(f *testing.F) {
	f.Add([]byte("data: {\"choices\":[]}\n\ndata: [DONE]\n\n"), "hello\nworld", uint8(3))
	f.Add([]byte("event: error\r\ndata: x\r\r:c\n"), "a\r\nb", uint8(1))
	f.Add([]byte("\uFEFFdata"), "", uint8(0))
	f.Fuzz(func(t *testing.T, raw []byte, payload string, split uint8) {
		// Arbitrary input: no panic, and no event carries a line break
		// other than the ones joining data lines.
		events, _ := decodeAll(t, strings.NewReader(string(raw)))
		for _, ev := range events {
			if strings.ContainsRune(ev.Data, '\r') || strings.ContainsAny(ev.Event, "\r\n") {
				t.Fatalf("event %q kept a line terminator", ev)
			}
		}

		// Round trip: every line of payload becomes a data line.
		normalized := strings.ReplaceAll(strings.ReplaceAll(payload, "\r\n", "\n"), "\r", "\n")
		var b strings.Builder
		for _, line := range strings.Split(normalized, "\n") {
			b.WriteString("data: " + line + "\n")
		}
		b.WriteString("\n")
		r := io.Reader(strings.NewReader(b.String()))
		if split > 0 {
			r = &chunkedReader{data: []byte(b.String()), size: int(split)}
		}
		got, err := decodeAll(t, r)
		if err != nil {
			if errors.Is(err, errSSELineTooLong) {
				return
			}
			t.Fatalf("decode: %v", err)
		}
		if len(got) != 1 || got[0].Data != normalized {
			t.Fatalf("round trip of %q gave %q", normalized, got)
		}
	})
}

// chunkedReader returns at most size bytes per Read.
type chunkedReader struct {
	data []byte
	size int
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), c.size, len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}
