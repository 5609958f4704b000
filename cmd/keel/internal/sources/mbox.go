package sources

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// ReadMbox reads the messages of an mbox file. A line that starts with
// "From " begins a message; lines that start with one or more ">" before
// "From " lose one ">" (mboxrd, which also undoes mboxo escaping). Each
// message yields a Record or a Problem whose Line is the line number of its
// From line.
func ReadMbox(path string) Stream {
	return func(yield func(Record, *Problem) bool) {
		f, err := os.Open(path)
		if err != nil {
			yield(Record{}, &Problem{Path: path, Err: fmt.Errorf("%w: %w", ErrReadStopped, err)})

			return
		}
		defer f.Close()

		for rec, prob := range readMbox(f, MaxMessageBytes) {
			if prob != nil {
				prob.Path = path
			}
			if !yield(rec, prob) {
				return
			}
		}
	}
}

// readMbox splits r into messages. It holds one message in memory at a
// time; a message above maxBytes is skipped and reported.
func readMbox(r io.Reader, maxBytes int) Stream {
	return func(yield func(Record, *Problem) bool) {
		var (
			br          = bufio.NewReaderSize(r, 64<<10)
			lineNo      = 0
			atLineStart = true
			inFromLine  = false
			// The message being read: its From line, its content and
			// whether it grew too large to keep.
			started  = false
			fromLine = 0
			msg      bytes.Buffer
			tooLarge = false
			// Text before the first From line.
			preamble = false
		)

		// finish yields the message read so far and reports whether to go on.
		finish := func() bool {
			if !started {
				return true
			}
			if tooLarge {
				return yield(Record{}, &Problem{Line: fromLine, Err: fmt.Errorf("%w: message over %d bytes",
					ErrTooLarge, maxBytes)})
			}

			raw := trimSeparator(msg.Bytes())
			rec, err := parseEmail(raw)
			if err != nil {
				return yield(Record{}, &Problem{Line: fromLine, Err: err})
			}
			rec.Line = fromLine

			return yield(rec, nil)
		}

		for {
			chunk, err := br.ReadSlice('\n')
			if len(chunk) > 0 {
				startsLine := atLineStart
				atLineStart = chunk[len(chunk)-1] == '\n'
				if startsLine {
					lineNo++
				}

				switch {
				// TODO: mboxo files that never escaped "From " in bodies
				// split there; requiring a blank line before the
				// separator would trade that for other breakage.
				case startsLine && bytes.HasPrefix(chunk, []byte("From ")):
					if !finish() {
						return
					}
					started, fromLine, tooLarge = true, lineNo, false
					msg.Reset()
					inFromLine = !atLineStart
				case inFromLine:
					inFromLine = !atLineStart
				case !started:
					if !preamble && len(bytes.TrimSpace(chunk)) > 0 {
						preamble = true
						prob := &Problem{Line: lineNo, Err: fmt.Errorf("%w: text before the first From line is skipped",
							ErrMalformedMessage)}
						if !yield(Record{}, prob) {
							return
						}
					}
				case tooLarge:
				default:
					if startsLine && isEscapedFrom(chunk) {
						chunk = chunk[1:]
					}
					if msg.Len()+len(chunk) > maxBytes {
						tooLarge = true
						msg.Reset()

						break
					}
					msg.Write(chunk)
				}
			}

			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if errors.Is(err, io.EOF) {
				finish()

				return
			}
			if err != nil {
				finish()
				yield(Record{}, &Problem{Line: lineNo, Err: fmt.Errorf("%w: %w", ErrReadStopped, err)})

				return
			}
		}
	}
}

// isEscapedFrom reports whether line matches ">+From ".
func isEscapedFrom(line []byte) bool {
	rest := bytes.TrimLeft(line, ">")

	return len(rest) < len(line) && bytes.HasPrefix(rest, []byte("From "))
}

// trimSeparator removes the blank line that separates a message from the
// next From line.
func trimSeparator(raw []byte) []byte {
	switch {
	case bytes.HasSuffix(raw, []byte("\r\n\r\n")):
		return raw[:len(raw)-2]
	case bytes.HasSuffix(raw, []byte("\n\n")):
		return raw[:len(raw)-1]
	}

	return raw
}
