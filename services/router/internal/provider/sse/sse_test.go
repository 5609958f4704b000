package sse

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

func decodeAll(t testing.TB, r io.Reader) ([]Event, error) {
	t.Helper()
	dec := NewDecoder(r)
	var events []Event
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

func TestDecoder(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		input string
		want  []Event
	}{
		{
			name:  "lf",
			input: "data: a\n\ndata: b\n\n",
			want:  []Event{{Data: "a"}, {Data: "b"}},
		},
		{
			name:  "crlf and cr",
			input: "data: a\r\n\r\ndata: b\r\rdata: c\r\n\r\n",
			want:  []Event{{Data: "a"}, {Data: "b"}, {Data: "c"}},
		},
		{
			name:  "multi-line data joins with line breaks",
			input: "data: first\ndata:second\ndata\n\n",
			want:  []Event{{Data: "first\nsecond\n"}},
		},
		{
			name:  "comments, ids and retry are skipped",
			input: ": keep-alive\nid: 7\nretry: 100\nevent: error\ndata: x\n\n",
			want:  []Event{{Event: "error", Data: "x"}},
		},
		{
			name:  "event without data is dropped and its name forgotten",
			input: "event: ping\n\ndata: x\n\n",
			want:  []Event{{Data: "x"}},
		},
		{
			name:  "last event without blank line",
			input: "data: [DONE]",
			want:  []Event{{Data: "[DONE]", Unterminated: true}},
		},
		{
			name:  "byte order mark",
			input: "\uFEFFdata: x\n\n",
			want:  []Event{{Data: "x"}},
		},
		{
			name:  "only one leading space is removed",
			input: "data:   spaced\n\n",
			want:  []Event{{Data: "  spaced"}},
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

func TestDecoderLineTooLong(t *testing.T) {
	t.Parallel()

	input := "data: " + strings.Repeat("x", MaxLine) + "\n\n"
	_, err := decodeAll(t, strings.NewReader(input))
	if !errors.Is(err, ErrLineTooLong) {
		t.Errorf("error = %v, want ErrLineTooLong", err)
	}
}

// FuzzDecoder checks that any input decodes without panicking and that
// every payload written as "data:" lines comes back whole, however the
// stream is split into reads.
func FuzzDecoder(f *testing.F) {
	f.Add([]byte("data: {\"choices\":[]}\n\ndata: [DONE]\n\n"), "hello\nworld", uint8(3))
	f.Add([]byte("event: error\r\ndata: x\r\r:c\n"), "a\r\nb", uint8(1))
	f.Add([]byte("\uFEFFdata"), "", uint8(0))
	f.Fuzz(func(t *testing.T, raw []byte, payload string, split uint8) {
		// Arbitrary input: no panic, and no event carries a line break
		// other than the ones joining data lines.
		events, _ := decodeAll(t, strings.NewReader(string(raw)))
		for _, ev := range events {
			if strings.ContainsRune(ev.Data, '\r') || strings.ContainsAny(ev.Event, "\r\n") {
				t.Fatalf("event %+v kept a line terminator", ev)
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
			if errors.Is(err, ErrLineTooLong) {
				return
			}
			t.Fatalf("decode: %v", err)
		}
		if len(got) != 1 || got[0].Data != normalized {
			t.Fatalf("round trip of %q gave %+v", normalized, got)
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

// TestDecoderReturnsEventOnBareCR checks that an event whose blank line ends
// in a bare CR is returned without waiting for the byte after it.
func TestDecoderReturnsEventOnBareCR(t *testing.T) {
	t.Parallel()

	dec := NewDecoder(&stallingReader{data: []byte("data: x\r\r")})
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

func TestDecoderLimits(t *testing.T) {
	t.Parallel()

	for name, input := range map[string]string{
		"one long line":        "data: " + strings.Repeat("x", MaxLine) + "\n\n",
		"many data lines":      strings.Repeat("data: "+strings.Repeat("x", 1000)+"\n", MaxLine/1000+1) + "\n",
		"no line break at all": strings.Repeat("y", MaxLine+1),
	} {
		if _, err := decodeAll(t, strings.NewReader(input)); !errors.Is(err, ErrLineTooLong) {
			t.Errorf("%s: error = %v, want ErrLineTooLong", name, err)
		}
	}
	// A line of exactly the limit is fine.
	ok := "data:" + strings.Repeat("z", MaxLine-len("data:")) + "\n\n"
	if events, err := decodeAll(t, strings.NewReader(ok)); err != nil || len(events) != 1 {
		t.Errorf("line at the limit: %d events, error %v", len(events), err)
	}
}
