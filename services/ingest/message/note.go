package message

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
)

// Note decodes a plain note or text file to UTF-8 with LF line endings,
// returning the text and the lossy decisions made (as warnings).
//
// A byte order mark selects UTF-8, UTF-16LE or UTF-16BE and is removed.
// Without one, valid UTF-8 is taken as it is; UTF-8 with a few invalid
// bytes, fewer than its valid multi-byte sequences, has each invalid byte
// replaced with U+FFFD; anything else is read as Windows-1252. Both are
// reported as warnings. A zero Limits field takes its default. Note returns
// an *Error of kind ErrTooLarge when raw is longer than lim.MaxBytes and
// ErrBinary when the input holds NUL bytes or more than 10% control
// characters other than tab, CR, LF and form feed.
func Note(raw []byte, lim Limits) (string, []string, error) {
	n, err := DecodeNote(raw, lim)
	if err != nil {
		return "", nil, err
	}

	return n.Normalized(), n.Warnings, nil
}

// DecodedNote is a note decoded to UTF-8 with its line endings as they were
// in the input, for callers that report positions in the input.
type DecodedNote struct {
	// Text is the decoded text with the line endings of the input and
	// without its byte order mark. Every character of the input is one code
	// point of Text: a byte of invalid UTF-8 is one U+FFFD, a byte of
	// Windows-1252 one character.
	Text string
	// BOM reports whether the input started with a byte order mark, which
	// Text leaves out.
	BOM bool
	// Warnings lists the lossy decisions made, as Note reports them.
	Warnings []string
}

// Normalized returns Text with CRLF and lone CR turned into LF: the text
// Note returns.
func (n DecodedNote) Normalized() string {
	return normalizeNewlines(n.Text)
}

// DecodeNote decodes raw as Note does but leaves its line endings alone
// and reports its byte order mark, so that a position in the text can be
// told as a position in the input. It returns the errors Note returns.
func DecodeNote(raw []byte, lim Limits) (DecodedNote, error) {
	lim = lim.withDefaults()
	if len(raw) > lim.MaxBytes {
		return DecodedNote{}, &Error{Kind: ErrTooLarge, Input: inputNote,
			Reason: fmt.Sprintf("%d bytes is over the limit of %d bytes", len(raw), lim.MaxBytes)}
	}

	var n DecodedNote
	text, err := decodeNote(raw, func(msg string) { n.Warnings = append(n.Warnings, msg) })
	if err != nil {
		return DecodedNote{}, err
	}
	if why := binaryReason(text); why != "" {
		return DecodedNote{}, &Error{Kind: ErrBinary, Input: inputNote, Reason: "text is binary: " + why}
	}
	n.Text = text
	n.BOM = hasBOM(raw)

	return n, nil
}

// hasBOM reports whether raw starts with a UTF-8, UTF-16LE or UTF-16BE
// byte order mark.
func hasBOM(raw []byte) bool {
	return bytes.HasPrefix(raw, []byte{0xef, 0xbb, 0xbf}) ||
		bytes.HasPrefix(raw, []byte{0xff, 0xfe}) || bytes.HasPrefix(raw, []byte{0xfe, 0xff})
}

// decodeNote converts raw to UTF-8 by its byte order mark or, without one,
// as UTF-8 or Windows-1252. Every invalid byte of UTF-8 becomes its own
// U+FFFD.
func decodeNote(raw []byte, warn func(string)) (string, error) {
	switch {
	case bytes.HasPrefix(raw, []byte{0xef, 0xbb, 0xbf}):
		s, replaced := replaceInvalidUTF8(string(raw[3:]))
		if replaced > 0 {
			warn("invalid UTF-8 replaced with U+FFFD")
		}

		return s, nil
	case bytes.HasPrefix(raw, []byte{0xff, 0xfe}):
		return decodeUTF16(raw[2:], unicode.LittleEndian, "UTF-16LE", warn)
	case bytes.HasPrefix(raw, []byte{0xfe, 0xff}):
		return decodeUTF16(raw[2:], unicode.BigEndian, "UTF-16BE", warn)
	}

	if why := binaryReason(raw); why != "" {
		return "", &Error{Kind: ErrBinary, Input: inputNote, Reason: "input is binary: " + why}
	}
	if utf8.Valid(raw) {
		return string(raw), nil
	}
	if mostlyUTF8(raw) {
		s, replaced := replaceInvalidUTF8(string(raw))
		warn(fmt.Sprintf("%d invalid UTF-8 bytes replaced with U+FFFD", replaced))

		return s, nil
	}
	warn("text is not UTF-8; read as Windows-1252")
	s, err := charmap.Windows1252.NewDecoder().Bytes(raw)
	if err != nil {
		return "", &Error{Kind: ErrEncoding, Input: inputNote, Charset: "windows-1252",
			Reason: "text cannot be decoded as Windows-1252"}
	}

	return string(s), nil
}

// decodeUTF16 decodes UTF-16 text whose byte order mark was removed.
func decodeUTF16(b []byte, order unicode.Endianness, name string, warn func(string)) (string, error) {
	out, err := unicode.UTF16(order, unicode.IgnoreBOM).NewDecoder().Bytes(b)
	if err != nil {
		return "", &Error{Kind: ErrEncoding, Input: inputNote, Charset: strings.ToLower(name),
			Reason: "text cannot be decoded as " + name}
	}
	if n := bytes.Count(out, []byte("\uFFFD")) - countUTF16Replacement(b, order); n > 0 {
		warn(fmt.Sprintf("%d invalid %s sequences replaced with U+FFFD", n, name))
	}

	return string(out), nil
}

// countUTF16Replacement counts the U+FFFD code units already in UTF-16
// text, so that only the replacements the decoder adds are reported.
func countUTF16Replacement(b []byte, order unicode.Endianness) int {
	hi, lo := byte(0xff), byte(0xfd)
	if order == unicode.LittleEndian {
		hi, lo = lo, hi
	}
	n := 0
	for i := 0; i+1 < len(b); i += 2 {
		if b[i] == hi && b[i+1] == lo {
			n++
		}
	}

	return n
}
