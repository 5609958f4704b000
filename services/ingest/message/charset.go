package message

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/unicode"
)

// charsetDecoder converts the bytes of one part, or of one note, to UTF-8.
// It reports lossy decisions through warn and unusable charsets as an
// *Error of kind ErrEncoding for input in part.
type charsetDecoder struct {
	input string
	part  string
	warn  func(string)
}

// decode converts b, declared to be in charset label, to UTF-8. A missing
// label means UTF-8 when b is valid UTF-8, else Windows-1252. Labels are
// those of the WHATWG Encoding Standard, as golang.org/x/text knows them,
// plus a few common mail aliases.
func (d charsetDecoder) decode(label string, b []byte) (string, error) {
	label = normalizeCharset(label)
	switch label {
	case "":
		return d.guess(b, "no charset declared"), nil
	case "utf-8", "utf8", "unicode-1-1-utf-8":
		return d.utf8(b), nil
	case "us-ascii", "ascii", "ansi_x3.4-1968", "iso646-us", "us", "cp367":
		if isASCII(b) {
			return string(b), nil
		}

		return d.guess(b, "charset us-ascii declared but text has 8-bit bytes"), nil
	case "utf-16":
		// RFC 2781: a BOM gives the byte order, big-endian without one.
		return d.with(label, unicode.UTF16(unicode.BigEndian, unicode.UseBOM), b)
	}

	// TODO: UTF-7 and UTF-32 are not in the WHATWG index and are rejected;
	// old mailers still send UTF-7 now and then.
	enc, err := htmlindex.Get(charsetAlias(label))
	if err != nil {
		return "", d.unknown(label, "unknown charset "+quoteLabel(label))
	}
	if enc == encoding.Replacement {
		// The WHATWG standard maps ISO-2022-KR, HZ and the like to a
		// decoder that turns the whole text into one U+FFFD.
		return "", d.unknown(label, "charset "+quoteLabel(label)+" is not supported")
	}
	if enc == unicode.UTF8 {
		return d.utf8(b), nil
	}

	return d.with(label, enc, b)
}

// utf8 returns b, declared to be UTF-8, as text. Invalid sequences are
// replaced with U+FFFD, unless b holds no valid multi-byte sequence at all:
// then it is most likely Latin-1 mislabelled as UTF-8 and is read as
// Windows-1252.
func (d charsetDecoder) utf8(b []byte) string {
	b = trimUTF8BOM(b)
	if utf8.Valid(b) {
		return string(b)
	}
	if multi, _ := utf8Counts(b); multi == 0 {
		d.warn(d.where() + "charset utf-8 declared but text is not UTF-8; read as Windows-1252")

		return windows1252(b)
	}
	s, _ := validUTF8(string(b))
	d.warn(d.where() + "invalid UTF-8 replaced with U+FFFD")

	return s
}

// guess reads b as UTF-8 when it is valid, as UTF-8 with its invalid bytes
// replaced when it is mostly UTF-8 (see mostlyUTF8), else as
// Windows-1252.
func (d charsetDecoder) guess(b []byte, why string) string {
	b = trimUTF8BOM(b)
	if utf8.Valid(b) {
		return string(b)
	}
	if mostlyUTF8(b) {
		s, n := replaceInvalidUTF8(string(b))
		d.warn(fmt.Sprintf("%s%s and text is UTF-8 but for %d invalid bytes; replaced with U+FFFD",
			d.where(), why, n))

		return s
	}
	d.warn(d.where() + why + " and text is not UTF-8; read as Windows-1252")

	return windows1252(b)
}

// windows1252 decodes b as Windows-1252.
func windows1252(b []byte) string {
	s, err := charmap.Windows1252.NewDecoder().Bytes(b)
	if err != nil {
		// Windows-1252 decodes every byte; keep going with U+FFFD if it
		// ever did not.
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}

	return string(s)
}

// with decodes b with enc and warns when invalid sequences were replaced.
func (d charsetDecoder) with(label string, enc encoding.Encoding, b []byte) (string, error) {
	had := countReplacement(b)
	out, err := enc.NewDecoder().Bytes(b)
	if err != nil {
		return "", d.unknown(label, fmt.Sprintf("text cannot be decoded as %s", quoteLabel(label)))
	}
	s := strings.TrimPrefix(string(out), "\ufeff")
	if n := strings.Count(s, "\uFFFD") - had; n > 0 {
		d.warn(fmt.Sprintf("%s%d invalid %s sequences replaced with U+FFFD", d.where(), n, label))
	}

	return s, nil
}

// unknown returns the ErrEncoding error for charset label.
func (d charsetDecoder) unknown(label, reason string) error {
	return &Error{Kind: ErrEncoding, Input: d.input, Part: d.part, Charset: label, Reason: reason}
}

// where prefixes a warning with the part it is about.
func (d charsetDecoder) where() string {
	if d.part == "" {
		return ""
	}

	return "part " + d.part + ": "
}

// normalizeCharset lowercases a charset label and removes quotes, white
// space and an RFC 2231 language suffix ("utf-8*en").
func normalizeCharset(label string) string {
	label = strings.ToLower(strings.Trim(strings.TrimSpace(label), `"'`))
	if i := strings.IndexByte(label, '*'); i >= 0 {
		label = label[:i]
	}

	return strings.TrimSpace(label)
}

// charsetAlias maps mail charset names that the WHATWG index lacks to one
// it knows.
func charsetAlias(label string) string {
	switch label {
	case "cp932", "ms932", "ms_kanji", "x-ms-cp932":
		return "shift_jis"
	case "cp936", "ms936":
		return "gbk"
	case "cp949", "ms949", "uhc":
		return "euc-kr"
	case "cp950", "ms950":
		return "big5"
	}

	return label
}

// isASCII reports whether b holds only 7-bit bytes.
func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}

	return true
}

// trimUTF8BOM removes a leading UTF-8 byte order mark.
func trimUTF8BOM(b []byte) []byte {
	if len(b) >= 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf {
		return b[3:]
	}

	return b
}

// countReplacement counts U+FFFD already present in b as UTF-8, so that
// only the replacements a decoder adds are reported.
func countReplacement(b []byte) int {
	return bytes.Count(b, []byte("\uFFFD"))
}
