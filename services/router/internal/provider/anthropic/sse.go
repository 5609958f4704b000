package anthropic

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
)

// This file is a small duplicate of the event stream decoder of the openai
// provider, which is unexported there. Keep the two in step until they move
// to a shared internal package.

// maxSSELine bounds one line of the event stream, so that a server that never
// sends a line break cannot make the client buffer without end.
const maxSSELine = 1 << 20

// errSSELineTooLong is returned by sseDecoder.Next for a line longer than
// maxSSELine.
var errSSELineTooLong = errors.New("event stream line too long")

// sseEvent is one server-sent event.
type sseEvent struct {
	// Event is the value of the "event" field; empty means "message".
	Event string
	// Data is the value of every "data" field joined with line breaks.
	Data string
}

// sseDecoder reads server-sent events as the HTML Living Standard describes
// them: lines end in CRLF, LF or CR; "field: value" lines build an event; a
// blank line ends it; lines that start with ':' are comments. Events come out
// whole however the bytes were split between reads.
type sseDecoder struct {
	r       *bufio.Reader
	line    []byte
	started bool
}

func newSSEDecoder(r io.Reader) *sseDecoder {
	return &sseDecoder{r: bufio.NewReader(r)}
}

// Next returns the next event that carries data. It returns io.EOF when the
// stream ends with no event pending. An event cut off by the end of the
// stream is still returned, because some servers omit the last blank line;
// the caller decides whether the stream was complete.
func (d *sseDecoder) Next() (sseEvent, error) {
	var (
		event   string
		data    strings.Builder
		hasData bool
	)
	for {
		line, err := d.readLine()
		if err == io.EOF {
			if hasData {
				return sseEvent{Event: event, Data: data.String()}, nil
			}
			return sseEvent{}, io.EOF
		}
		if err != nil {
			return sseEvent{}, err
		}

		// A blank line ends the event; one without data is dropped.
		if len(line) == 0 {
			if hasData {
				return sseEvent{Event: event, Data: data.String()}, nil
			}
			event = ""
			continue
		}
		if line[0] == ':' {
			continue
		}

		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			value = bytes.TrimPrefix(value, []byte(" "))
		}
		switch string(field) {
		case "data":
			if hasData {
				data.WriteByte('\n')
			}
			if data.Len()+len(value) > maxSSELine {
				// Many data lines of one event are bounded like one line.
				return sseEvent{}, errSSELineTooLong
			}
			data.Write(value)
			hasData = true
		case "event":
			event = string(value)
		}
		// "id", "retry" and unknown fields do not matter to a message.
	}
}

// readLine returns the next line without its terminator. The returned slice
// is valid until the next call.
func (d *sseDecoder) readLine() ([]byte, error) {
	d.line = d.line[:0]
	for {
		b, err := d.r.ReadByte()
		if err == io.EOF && len(d.line) > 0 {
			return d.stripBOM(), nil
		}
		if err != nil {
			return nil, err
		}

		switch b {
		case '\n':
			return d.stripBOM(), nil
		case '\r':
			// A CR may be the first half of a CRLF split between reads;
			// Peek waits for the next byte.
			if next, err := d.r.Peek(1); err == nil && next[0] == '\n' {
				_, _ = d.r.ReadByte()
			}
			return d.stripBOM(), nil
		}
		if len(d.line) == maxSSELine {
			return nil, errSSELineTooLong
		}
		d.line = append(d.line, b)
	}
}

// stripBOM removes a byte order mark at the very start of the stream.
func (d *sseDecoder) stripBOM() []byte {
	if !d.started {
		d.started = true
		return bytes.TrimPrefix(d.line, []byte("\uFEFF"))
	}
	return d.line
}
