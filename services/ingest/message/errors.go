package message

import (
	"errors"
	"strconv"
	"strings"
)

// Kinds of rejection. Every error returned by Parse, Note and ParseDiff is
// an *Error whose Kind is one of these, so errors.Is(err, ErrBinary) and the
// like tell the cases apart.
var (
	// ErrTooLarge is returned when the input is longer than Limits.MaxBytes.
	ErrTooLarge = errors.New("input too large")
	// ErrBinary is returned when the input, or the text body chosen from a
	// message, is binary: it holds NUL bytes or mostly control bytes.
	ErrBinary = errors.New("binary content")
	// ErrEncoding is returned for a charset that is not known or content
	// that cannot be decoded (a broken base64 body, an unknown
	// Content-Transfer-Encoding). Error.Charset names the charset when one
	// is to blame.
	ErrEncoding = errors.New("undecodable content")
	// ErrMalformed is returned when the structure cannot be read: a message
	// without a header/body separator, a header over the limit, MIME
	// boundaries so broken that no text is left, too many or too deeply
	// nested parts; a diff without a file header or with a hunk whose line
	// counts do not match its lines.
	ErrMalformed = errors.New("malformed input")
)

// Input names used in Error.Input.
const (
	inputMessage = "message"
	inputNote    = "note"
	inputDiff    = "diff"
)

// Error describes why an input was rejected. Its message states the reason
// plainly, for example `message: part 2: unknown charset "x-foo"`, and never
// quotes the content.
type Error struct {
	// Kind is ErrTooLarge, ErrBinary, ErrEncoding or ErrMalformed.
	Kind error
	// Input is "message", "note" or "diff".
	Input string
	// Part is the MIME part at fault, numbered as IMAP does ("1", "2.1");
	// empty when the message as a whole is at fault.
	Part string
	// Line is the 1-based line at fault in a diff, or 0.
	Line int
	// Charset is the declared charset that could not be used, or "".
	Charset string
	// Reason says what is wrong.
	Reason string
}

// Error returns the input, the part or line, and the reason.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Input)
	if e.Part != "" {
		b.WriteString(": part ")
		b.WriteString(e.Part)
	}
	if e.Line > 0 {
		b.WriteString(": line ")
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)

	return b.String()
}

// Unwrap returns Kind, so errors.Is matches the sentinel errors.
func (e *Error) Unwrap() error { return e.Kind }

// quoteLabel quotes a name taken from the input (a charset, an encoding)
// for an error or warning, cut to a length that keeps messages readable.
func quoteLabel(s string) string {
	const maxLabel = 64
	if len(s) > maxLabel {
		s = s[:maxLabel] + "..."
	}

	return strconv.Quote(s)
}
