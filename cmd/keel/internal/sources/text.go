package sources

import (
	"fmt"
	"html"
	"strings"
	"unicode/utf8"
)

// decodeCharset converts text in the named charset to UTF-8. It knows
// UTF-8, US-ASCII, ISO-8859-1 and Windows-1252, and returns
// ErrUnsupportedCharset for any other.
func decodeCharset(charset string, b []byte) (string, error) {
	switch normalizeCharset(charset) {
	case "utf-8":
		return strings.ToValidUTF8(string(b), "\uFFFD"), nil
	case "us-ascii", "":
		// Mail that declares ASCII, or nothing, often carries 8-bit text
		// anyway: keep valid UTF-8 and read the rest as Latin-1.
		if utf8.Valid(b) {
			return string(b), nil
		}

		return decodeLatin1(b, false), nil
	case "iso-8859-1":
		return decodeLatin1(b, false), nil
	case "windows-1252":
		return decodeLatin1(b, true), nil
	}

	// TODO: other charsets (ISO-8859-15, KOI8-R, Shift_JIS, GB2312...) need
	// golang.org/x/text; until then such messages become a Problem.
	return "", fmt.Errorf("%w: %q", ErrUnsupportedCharset, charset)
}

// normalizeCharset folds the common aliases of the supported charsets.
func normalizeCharset(charset string) string {
	c := strings.ToLower(strings.TrimSpace(charset))
	c = strings.Trim(c, `"'`)
	switch c {
	case "utf-8", "utf8":
		return "utf-8"
	case "us-ascii", "ascii", "ansi_x3.4-1968", "iso646-us", "us":
		return "us-ascii"
	case "iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1", "cp819", "ibm819":
		return "iso-8859-1"
	case "windows-1252", "cp1252", "x-cp1252":
		return "windows-1252"
	}

	return c
}

// cp1252High maps bytes 0x80 to 0x9F of Windows-1252; zero means the byte
// is unassigned and is kept as the Latin-1 control character.
var cp1252High = [32]rune{
	'€', 0, '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', 0, 'Ž', 0,
	0, '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', 0, 'ž', 'Ÿ',
}

// decodeLatin1 converts ISO-8859-1 bytes, whose values are their code
// points, to UTF-8; with windows set, bytes 0x80 to 0x9F follow
// Windows-1252 instead.
func decodeLatin1(b []byte, windows bool) string {
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/8)
	for _, c := range b {
		r := rune(c)
		if windows && c >= 0x80 && c <= 0x9F && cp1252High[c-0x80] != 0 {
			r = cp1252High[c-0x80]
		}
		sb.WriteRune(r)
	}

	return sb.String()
}

// normalizeText makes line endings "\n", drops control characters other
// than tab and newline, trims trailing spaces from each line, keeps at most
// one blank line in a row and trims the whole text.
func normalizeText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")

	var (
		b     strings.Builder
		blank = 0
	)
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.Map(func(r rune) rune {
			switch {
			case r == '\t':
				return r
			case r == '\u00a0':
				return ' '
			case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0:
				return -1
			}

			return r
		}, line)
		line = strings.TrimRight(line, " \t")

		if line == "" {
			blank++
			if blank > 1 {
				continue
			}
		} else {
			blank = 0
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}

	return strings.TrimSpace(b.String())
}

// skippedElements are HTML elements whose content is not text a reader
// sees.
var skippedElements = map[string]bool{
	"head": true, "style": true, "script": true, "title": true,
	"template": true, "noscript": true, "svg": true,
}

// htmlBreak says how an HTML element separates the text around it.
type htmlBreak int

const (
	breakNone htmlBreak = iota
	// breakLine always starts a new line, so that "<br><br>" leaves a
	// blank line.
	breakLine
	// breakBlock ends the current line, if any.
	breakBlock
	// breakParagraph leaves one blank line before what follows.
	breakParagraph
)

// elementBreak returns the break an element makes.
func elementBreak(name string) htmlBreak {
	switch name {
	case "br":
		return breakLine
	case "div", "li", "tr", "dt", "dd", "header", "footer", "address", "form":
		return breakBlock
	case "p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "hr",
		"table", "ul", "ol", "dl", "section", "article", "aside":
		return breakParagraph
	}

	return breakNone
}

// htmlToText extracts the readable text of an HTML email part. It is a
// small tag stripper, not an HTML parser: it drops comments, tags and the
// content of head, style and script, breaks lines at block elements,
// collapses white space and decodes entities.
//
// TODO: link targets, "> " marks for blockquotes and <pre> spacing are
// lost; an HTML parser would keep them.
func htmlToText(src string) string {
	var (
		out  strings.Builder
		text strings.Builder
	)

	// flushText writes pending text with its white space collapsed.
	flushText := func() {
		if text.Len() == 0 {
			return
		}
		collapsed := strings.Join(strings.Fields(html.UnescapeString(text.String())), " ")
		text.Reset()
		if collapsed == "" {
			out.WriteByte(' ')

			return
		}
		out.WriteString(collapsed)
	}

	// lineBreak separates what follows as element breaks demand.
	lineBreak := func(kind htmlBreak) {
		flushText()
		written := strings.TrimRight(out.String(), " ")
		switch {
		case kind == breakLine:
			out.WriteByte('\n')
		case written == "" || strings.HasSuffix(written, "\n\n"):
		case kind == breakParagraph && strings.HasSuffix(written, "\n"):
			out.WriteByte('\n')
		case kind == breakParagraph:
			out.WriteString("\n\n")
		case !strings.HasSuffix(written, "\n"):
			out.WriteByte('\n')
		}
	}

	for i := 0; i < len(src); {
		if src[i] != '<' {
			next := strings.IndexByte(src[i:], '<')
			if next < 0 {
				next = len(src) - i
			}
			text.WriteString(src[i : i+next])
			i += next

			continue
		}

		// Comments, doctype and processing instructions.
		if strings.HasPrefix(src[i:], "<!--") {
			end := strings.Index(src[i+4:], "-->")
			if end < 0 {
				break
			}
			i += 4 + end + 3

			continue
		}

		// A "<" that does not open a tag, as in "a < b", is text.
		if !opensTag(src[i+1:]) {
			text.WriteByte('<')
			i++

			continue
		}

		end := tagEnd(src, i)
		if end < 0 {
			// A tag cut off at the end of the part.
			break
		}
		name, closing := tagName(src[i+1 : end])
		i = end + 1

		if skippedElements[name] && !closing {
			i = skipElement(src, i, name)

			continue
		}
		if kind := elementBreak(name); kind != breakNone {
			lineBreak(kind)
			if name == "li" && !closing {
				out.WriteString("- ")
			}

			continue
		}
		if name == "td" || name == "th" {
			flushText()
			if written := out.String(); written != "" && !strings.HasSuffix(written, " ") &&
				!strings.HasSuffix(written, "\n") {
				out.WriteByte(' ')
			}
		}
	}
	flushText()

	// Tidy the spaces left around line breaks.
	lines := strings.Split(out.String(), "\n")
	for i, line := range lines {
		lines[i] = strings.TrimSpace(line)
	}

	return normalizeText(strings.Join(lines, "\n"))
}

// tagEnd returns the index of the ">" that closes the tag opened at start,
// skipping quoted attribute values, or -1.
func tagEnd(src string, start int) int {
	var quote byte
	for j := start + 1; j < len(src); j++ {
		c := src[j]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			return j
		}
	}

	return -1
}

// opensTag reports whether the text after a "<" starts a tag, a closing
// tag, a comment, a doctype or a processing instruction.
func opensTag(rest string) bool {
	rest = strings.TrimPrefix(rest, "/")
	if rest == "" {
		return false
	}
	c := rest[0]

	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '!' || c == '?'
}

// tagName returns the lower-cased element name of a tag's inside (without
// the angle brackets) and whether it is a closing tag. Doctypes and
// processing instructions are named "!".
func tagName(inside string) (string, bool) {
	closing := strings.HasPrefix(inside, "/")
	inside = strings.TrimPrefix(inside, "/")
	if strings.HasPrefix(inside, "!") || strings.HasPrefix(inside, "?") {
		return "!", closing
	}

	n := 0
	for n < len(inside) {
		c := inside[n]
		isLetter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		isDigit := c >= '0' && c <= '9'
		if !isLetter && !(n > 0 && (isDigit || c == '-' || c == ':')) {
			break
		}
		n++
	}
	if n == 0 {
		return "", closing
	}

	return strings.ToLower(inside[:n]), closing
}

// skipElement returns the index just after the closing tag of the named
// element whose content starts at i, or the end of src.
func skipElement(src string, i int, name string) int {
	lower := strings.ToLower(src[i:])
	end := strings.Index(lower, "</"+name)
	if end < 0 {
		return len(src)
	}
	close := strings.IndexByte(lower[end:], '>')
	if close < 0 {
		return len(src)
	}

	return i + end + close + 1
}
