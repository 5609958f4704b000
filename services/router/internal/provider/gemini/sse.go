package gemini

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
)

// This decoder does the same job as the one in the openai package (which is
// unexported there). It differs in one point: after a CR it does not wait
// for the next byte to see whether an LF follows, so an event whose last
// line ends in a bare CR is returned as soon as that CR arrives.

// maxSSELine bounds one line of the event stream so that a server that never
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
	// Unterminated is set for an event cut off by the end of the stream,
	// before the blank line that ends it.
	Unterminated bool
}

// sseDecoder reads server-sent events as the HTML Living Standard describes
// them: lines end in CRLF, LF or CR; "field: value" lines build an event; a
// blank line ends it; lines starting with ':' are comments.
type sseDecoder struct {
	r    *bufio.Reader
	line []byte
	// afterCR is set when the last line ended in CR, so that an LF right
	// after it is the second half of a CRLF and not an empty line.
	afterCR bool
	started bool
}

func newSSEDecoder(r io.Reader) *sseDecoder {
	return &sseDecoder{r: bufio.NewReader(r)}
}

// Next returns the next event that carries data. It returns io.EOF when the
// stream ends with no event pending. An event cut off by the end of the
// stream is still returned, marked Unterminated, so that the caller can
// decide whether its data is whole.
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
				return sseEvent{Event: event, Data: data.String(), Unterminated: true}, nil
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
			data.Write(value)
			hasData = true
		case "event":
			event = string(value)
		}
		// "id", "retry" and unknown fields do not matter to a reply.
	}
}

// readLine returns the next line without its terminator. The returned slice
// is valid until the next call. A line cut off by the end of the stream is
// returned as a line.
func (d *sseDecoder) readLine() ([]byte, error) {
	d.line = d.line[:0]
	for {
		b, err := d.r.ReadByte()
		if err == io.EOF && len(d.line) > 0 {
			return d.firstLine(), nil
		}
		if err != nil {
			return nil, err
		}

		afterCR := d.afterCR
		d.afterCR = false
		switch b {
		case '\n':
			if afterCR && len(d.line) == 0 {
				// The LF of a CRLF whose CR ended the previous line.
				continue
			}
			return d.firstLine(), nil
		case '\r':
			d.afterCR = true
			return d.firstLine(), nil
		}
		if len(d.line) == maxSSELine {
			return nil, errSSELineTooLong
		}
		d.line = append(d.line, b)
	}
}

// firstLine removes a byte order mark at the very start of the stream.
func (d *sseDecoder) firstLine() []byte {
	if !d.started {
		d.started = true
		return bytes.TrimPrefix(d.line, []byte("\uFEFF"))
	}
	return d.line
}
