package message

import (
	"strings"
	"unicode/utf8"
)

// maxControlShare is the share of control characters (other than tab, line
// feed, carriage return and form feed) above which text counts as binary.
const maxControlShare = 0.10

// binaryReason reports why b looks binary, or "" when it looks like text.
// Bytes of 0x80 and above are not counted as control bytes, so text in any
// 8-bit charset passes.
func binaryReason[T string | []byte](b T) string {
	if len(b) == 0 {
		return ""
	}
	controls := 0
	for i := range len(b) {
		c := b[i]
		if c == 0 {
			return "contains NUL bytes"
		}
		if isBinaryControl(rune(c)) {
			controls++
		}
	}
	if float64(controls) > maxControlShare*float64(len(b)) {
		return "mostly control bytes"
	}

	return ""
}

// isBinaryControl reports whether r is a C0 control or DEL other than tab,
// line feed, carriage return and form feed.
func isBinaryControl(r rune) bool {
	switch r {
	case '\t', '\n', '\r', '\f':
		return false
	}

	return r < 0x20 || r == 0x7f
}

// isInvisible reports whether r is a format character that only hides
// text from a reader or a redactor: soft hyphen, zero width space, word
// joiner and byte order mark. Zero width (non-)joiners are kept, since they
// shape emoji and some scripts.
func isInvisible(r rune) bool {
	switch r {
	case '\u00ad', '\u200b', '\u2060', '\ufeff':
		return true
	}

	return false
}

// normalizeNewlines turns CRLF and lone CR into LF.
func normalizeNewlines(s string) string {
	if !strings.Contains(s, "\r") {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")

	return strings.ReplaceAll(s, "\r", "\n")
}

// cleanText normalises decoded body text for redaction: LF line endings;
// control characters other than tab and newline and invisible format
// characters dropped; trailing white space cut from every line; at most one
// blank line in a row; no blank lines at either end. Leading white space
// is kept, since indentation carries meaning in code and quoted text.
func cleanText(s string) string {
	s = normalizeNewlines(s)

	var b strings.Builder
	b.Grow(len(s))
	blanks := 0
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.TrimRight(dropControls(line), " \t")
		if line == "" {
			blanks++

			continue
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
			if blanks > 0 {
				b.WriteByte('\n')
			}
		}
		blanks = 0
		b.WriteString(line)
	}

	return b.String()
}

// dropControls removes control and invisible characters from one line,
// keeping tabs. It returns line itself when there is nothing to drop.
func dropControls(line string) string {
	clean := true
	for _, r := range line {
		if (r < 0x20 && r != '\t') || (r >= 0x7f && r < 0xa0) || isInvisible(r) {
			clean = false

			break
		}
	}
	if clean {
		return line
	}

	return strings.Map(func(r rune) rune {
		if (r < 0x20 && r != '\t') || (r >= 0x7f && r < 0xa0) || isInvisible(r) {
			return -1
		}

		return r
	}, line)
}

// cleanHeaderText makes a decoded header value one line: control
// characters become spaces, runs of white space collapse, and the ends are
// trimmed.
func cleanHeaderText(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || isInvisible(r) }) &&
		!strings.Contains(s, "  ") {
		return strings.TrimSpace(s)
	}
	s = strings.Map(func(r rune) rune {
		switch {
		case isInvisible(r):
			return -1
		case r < 0x20 || r == 0x7f:
			return ' '
		}

		return r
	}, s)

	return strings.Join(strings.Fields(s), " ")
}

// unflow joins the soft line breaks of format=flowed text (RFC 3676): a
// line that ends in a space continues on the next line of the same quote
// depth. With delSp the space itself is removed, as for delsp=yes. Quote
// marks are rewritten as "> " per level and space stuffing is removed.
func unflow(s string, delSp bool) string {
	var (
		b       strings.Builder
		open    bool // the last line written was flowed and not yet ended
		openLvl int
	)
	b.Grow(len(s))
	for line := range strings.SplitSeq(normalizeNewlines(s), "\n") {
		level := 0
		for level < len(line) && line[level] == '>' {
			level++
		}
		content := line[level:]
		content = strings.TrimPrefix(content, " ") // space stuffing

		if open && level != openLvl {
			// A flowed line may not continue at another quote depth.
			open = false
		}
		if !open {
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			if level > 0 {
				b.WriteString(strings.Repeat("> ", level))
			}
		}

		flowed := strings.HasSuffix(content, " ") && content != "-- "
		if flowed && delSp {
			content = content[:len(content)-1]
		}
		b.WriteString(content)
		open, openLvl = flowed, level
	}

	return b.String()
}

// utf8Counts returns how many valid multi-byte UTF-8 sequences and how
// many invalid bytes b holds. Each byte that does not start a valid
// sequence counts as one invalid byte, as Go's conversion to []rune does.
func utf8Counts(b []byte) (multi, invalid int) {
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++

			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			invalid++
		} else {
			multi++
		}
		i += size
	}

	return multi, invalid
}

// mostlyUTF8 reports whether b, which is not valid UTF-8, is UTF-8 text
// with a few stray bytes rather than text in an 8-bit charset: it holds
// valid multi-byte sequences and fewer invalid bytes than those. Text in
// Windows-1252 or Latin-1 rarely forms a valid multi-byte sequence, since
// that takes a letter such as "Ã" followed by a symbol such as "©".
func mostlyUTF8(b []byte) bool {
	multi, invalid := utf8Counts(b)

	return multi > 0 && invalid < multi
}

// replaceInvalidUTF8 returns s with each byte that is not part of a valid
// UTF-8 sequence replaced by its own U+FFFD, so that the text has one code
// point for every code point of the input as Go's conversion to []rune
// counts them, and how many bytes it replaced.
func replaceInvalidUTF8(s string) (string, int) {
	if utf8.ValidString(s) {
		return s, 0
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	n := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
			n++
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}

	return b.String(), n
}

// validUTF8 returns s with invalid UTF-8 replaced by U+FFFD and whether
// anything was replaced.
func validUTF8(s string) (string, bool) {
	if utf8.ValidString(s) {
		return s, false
	}

	return strings.ToValidUTF8(s, "\uFFFD"), true
}
