// Package sse decodes server-sent events as the providers stream them, for
// every provider of the router: lines end in CRLF, LF or CR; "field: value"
// lines build an event; a blank line ends it; lines that start with ':' are
// comments. Events come out whole however the bytes were split between
// reads, and no read waits for a byte the event does not need.
package sse

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
)

// MaxLine bounds one line, and the data of one event, so that a server that
// never ends a line or an event cannot make the client buffer without end.
const MaxLine = 1 << 20

// ErrLineTooLong is returned by Next for a line or event data longer than
// MaxLine.
var ErrLineTooLong = errors.New("event stream line too long")

// Event is one server-sent event.
type Event struct {
	// Event is the value of the "event" field; empty means "message".
	Event string
	// Data is the value of every "data" field joined with line breaks.
	Data string
	// Unterminated is set for an event cut off by the end of the stream
	// (no blank line after it): the connection may have closed inside it.
	Unterminated bool
}

// Decoder reads events from a stream.
type Decoder struct {
	r       *bufio.Reader
	line    []byte
	started bool
	// afterCR is set when the last line ended in CR: an LF right after it
	// is the second half of a CRLF, not an empty line.
	afterCR bool
}

// NewDecoder returns a Decoder reading r.
func NewDecoder(r io.Reader) *Decoder {
	return &Decoder{r: bufio.NewReader(r)}
}

// Next returns the next event that carries data. It returns io.EOF when the
// stream ends with no event pending. An event cut off by the end of the
// stream is still returned, marked Unterminated, because some servers omit
// the last blank line; the caller decides whether the stream was complete.
func (d *Decoder) Next() (Event, error) {
	var (
		event   string
		data    strings.Builder
		hasData bool
	)
	for {
		line, err := d.readLine()
		if err == io.EOF {
			if hasData {
				return Event{Event: event, Data: data.String(), Unterminated: true}, nil
			}
			return Event{}, io.EOF
		}
		if err != nil {
			return Event{}, err
		}

		// A blank line ends the event; one without data is dropped.
		if len(line) == 0 {
			if hasData {
				return Event{Event: event, Data: data.String()}, nil
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
			if data.Len()+len(value) > MaxLine {
				// Many data lines of one event are bounded like one line.
				return Event{}, ErrLineTooLong
			}
			data.Write(value)
			hasData = true
		case "event":
			event = string(value)
		}
		// "id", "retry" and unknown fields do not matter to a completion.
	}
}

// readLine returns the next line without its terminator. The returned slice
// is valid until the next call. A line cut off by the end of the stream is
// returned as a line.
func (d *Decoder) readLine() ([]byte, error) {
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
		if len(d.line) == MaxLine {
			return nil, ErrLineTooLong
		}
		d.line = append(d.line, b)
	}
}

// firstLine removes a byte order mark at the very start of the stream.
func (d *Decoder) firstLine() []byte {
	if !d.started {
		d.started = true
		return bytes.TrimPrefix(d.line, []byte("\uFEFF"))
	}
	return d.line
}
