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
// A byte order mark selects UTF-8, UTF-16LE or UTF-16BE; without one,
// valid UTF-8 is taken as it is and anything else is read as Windows-1252
// with a warning. A zero Limits field takes its default. Note returns an
// *Error of kind ErrTooLarge when raw is longer than lim.MaxBytes and
// ErrBinary when the input holds NUL bytes or more than 10% control
// characters other than tab, CR, LF and form feed.
func Note(raw []byte, lim Limits) (string, []string, error) {
	lim = lim.withDefaults()
	if len(raw) > lim.MaxBytes {
		return "", nil, &Error{Kind: ErrTooLarge, Input: inputNote,
			Reason: fmt.Sprintf("%d bytes is over the limit of %d bytes", len(raw), lim.MaxBytes)}
	}

	var warnings []string
	text, err := decodeNote(raw, func(msg string) { warnings = append(warnings, msg) })
	if err != nil {
		return "", nil, err
	}
	if why := binaryReason(text); why != "" {
		return "", nil, &Error{Kind: ErrBinary, Input: inputNote, Reason: "text is binary: " + why}
	}

	return normalizeNewlines(text), warnings, nil
}

// decodeNote converts raw to UTF-8 by its byte order mark or, without one,
// as UTF-8 or Windows-1252.
func decodeNote(raw []byte, warn func(string)) (string, error) {
	switch {
	case bytes.HasPrefix(raw, []byte{0xef, 0xbb, 0xbf}):
		s, replaced := validUTF8(string(raw[3:]))
		if replaced {
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
