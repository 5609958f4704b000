package anthropic

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
			name:  "named events",
			input: "event: ping\ndata: {\"type\": \"ping\"}\n\nevent: message_stop\ndata: {}\n\n",
			want:  []sseEvent{{Event: "ping", Data: `{"type": "ping"}`}, {Event: "message_stop", Data: "{}"}},
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
			input: "event: message_stop\ndata: {}",
			want:  []sseEvent{{Event: "message_stop", Data: "{}"}},
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
			name:  "multibyte text",
			input: "data: {\"text\":\"日本 🚚\"}\n\n",
			want:  []sseEvent{{Data: `{"text":"日本 🚚"}`}},
		},
		{
			name:  "empty stream",
			input: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, err := decodeAll(iotest.OneByteReader(strings.NewReader(tt.input)))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSSEDecoderLimits(t *testing.T) {
	t.Parallel()

	for name, input := range map[string]string{
		"one long line":        "data: " + strings.Repeat("x", maxSSELine) + "\n\n",
		"many data lines":      strings.Repeat("data: "+strings.Repeat("x", 1000)+"\n", maxSSELine/1000+1) + "\n",
		"no line break at all": strings.Repeat("y", maxSSELine+1),
	} {
		_, err := decodeAll(strings.NewReader(input))
		if !errors.Is(err, errSSELineTooLong) {
			t.Errorf("%s: error = %v, want errSSELineTooLong", name, err)
		}
	}
	// A line of exactly the limit is fine.
	ok := "data:" + strings.Repeat("z", maxSSELine-len("data:")) + "\n\n"
	if events, err := decodeAll(strings.NewReader(ok)); err != nil || len(events) != 1 {
		t.Errorf("line at the limit: %d events, error %v", len(events), err)
	}
}
