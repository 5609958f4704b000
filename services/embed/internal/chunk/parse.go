package chunk

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// unit is a sentence, or a piece of a sentence too long for one chunk: the
// smallest span the packer places.
type unit struct {
	start, end int
	// para and section number the paragraph and heading section of the unit.
	para, section int
	headings      []string
	// paraEnd is where the unit's paragraph ends.
	paraEnd int
}

// heading is one level of the Markdown heading stack.
type heading struct {
	level int
	text  string
}

// abbreviations end in a period without ending a sentence.
var abbreviations = []string{"mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "approx", "fig"}

// units reads source line by line into paragraphs, tracking headings and code
// fences, and returns the sentences of every paragraph in order.
func (s *Splitter) units(source string) []unit {
	var (
		units     []unit
		stack     []heading
		path      []string
		section   int
		para      int
		inFence   bool
		paraStart = -1
		paraEnd   int
	)
	flush := func() {
		if paraStart < 0 {
			return
		}
		first := len(units)
		base := unit{para: para, section: section, headings: path}
		units = s.appendSentences(units, source, paraStart, paraEnd, base)
		if first < len(units) {
			end := units[len(units)-1].end
			for i := first; i < len(units); i++ {
				units[i].paraEnd = end
			}
		}
		para++
		paraStart = -1
	}

	for lineStart := 0; lineStart < len(source); {
		lineEnd := len(source)
		if nl := strings.IndexByte(source[lineStart:], '\n'); nl >= 0 {
			lineEnd = lineStart + nl
		}
		line := source[lineStart:lineEnd]
		trimmed := strings.TrimSpace(line)

		switch {
		case isFence(trimmed):
			flush()
			inFence = !inFence
		case trimmed == "":
			flush()
		case !inFence && isHeading(line):
			flush()
			stack = pushHeading(stack, parseHeading(line))
			path = headingPath(stack)
			section++
		case !inFence && isRule(trimmed):
			flush()
		default:
			if paraStart < 0 {
				paraStart = lineStart
			}
			paraEnd = lineEnd
		}
		lineStart = lineEnd + 1
	}
	flush()

	return units
}

// appendSentences splits the paragraph source[start:end] into sentences and
// appends them, cut to size, as units based on base.
func (s *Splitter) appendSentences(units []unit, source string, start, end int, base unit) []unit {
	add := func(a, b int) {
		a, b = trimSpan(source, a, b)
		if a < b {
			units = s.appendPieces(units, source, a, b, base)
		}
	}

	sentenceStart := start
	for i := start; i < end; i++ {
		switch c := source[i]; c {
		case '\n':
			// A list item or table row starts a sentence of its own.
			if startsItem(source[i+1 : end]) {
				add(sentenceStart, i)
				sentenceStart = i + 1
			}
		case '.', '!', '?':
			j := i + 1
			for j < end && strings.IndexByte(`"')]*_`, source[j]) >= 0 {
				j++
			}
			if r, _ := nextRune(source[:end], j); j < end && !unicode.IsSpace(r) {
				continue
			}
			if c == '.' && (isAbbreviation(source[sentenceStart:i]) || isOrdinal(source[sentenceStart:i])) {
				continue
			}
			add(sentenceStart, j)
			sentenceStart = j
			i = j - 1
		}
	}
	add(sentenceStart, end)

	return units
}

// appendPieces appends source[start:end] as one unit, or as several when it
// exceeds the limits: cut between words, and inside a word only when the word
// alone is longer than a chunk.
func (s *Splitter) appendPieces(units []unit, source string, start, end int, base unit) []unit {
	add := func(a, b int) {
		u := base
		u.start, u.end = a, b
		units = append(units, u)
	}

	if s.fits(source, start, end) {
		add(start, end)
		return units
	}

	pieceStart, pieceEnd, n := -1, 0, 0
	for i := start; i < end; {
		r, w := utf8.DecodeRuneInString(source[i:end])
		if unicode.IsSpace(r) {
			i += w
			continue
		}
		wordStart := i
		for i < end {
			r, w = utf8.DecodeRuneInString(source[i:end])
			if unicode.IsSpace(r) {
				break
			}
			i += w
		}
		wordEnd := i

		if pieceStart >= 0 && (wordEnd-pieceStart > s.opts.MaxChars || n+1 > s.opts.MaxWords) {
			add(pieceStart, pieceEnd)
			pieceStart, n = -1, 0
		}
		if wordEnd-wordStart > s.opts.MaxChars {
			for p := wordStart; p < wordEnd; {
				q := cutAt(source, p, min(p+s.opts.MaxChars, wordEnd))
				add(p, q)
				p = q
			}
			continue
		}
		if pieceStart < 0 {
			pieceStart = wordStart
		}
		pieceEnd = wordEnd
		n++
	}
	if pieceStart >= 0 {
		add(pieceStart, pieceEnd)
	}

	return units
}

// cutAt returns the last rune boundary in (start, limit], or limit when the
// bytes there are not valid UTF-8.
func cutAt(source string, start, limit int) int {
	if limit >= len(source) {
		return limit
	}
	for q := limit; q > start; q-- {
		if utf8.RuneStart(source[q]) {
			return q
		}
	}
	return limit
}

// startsItem reports whether rest begins a Markdown list item or table row.
func startsItem(rest string) bool {
	rest = strings.TrimLeft(rest, " \t")
	if rest == "" {
		return false
	}
	switch rest[0] {
	case '-', '*', '+':
		return len(rest) > 1 && (rest[1] == ' ' || rest[1] == '\t')
	case '|':
		return true
	}
	digits := 0
	for digits < len(rest) && digits < 3 && rest[digits] >= '0' && rest[digits] <= '9' {
		digits++
	}
	if digits == 0 || digits+1 >= len(rest) {
		return false
	}
	return (rest[digits] == '.' || rest[digits] == ')') && rest[digits+1] == ' '
}

// isAbbreviation reports whether the word ending text (without its final
// period) is an initial, a dotted abbreviation like "e.g" or a title like
// "Dr".
func isAbbreviation(text string) bool {
	word := text
	if i := strings.LastIndexFunc(text, unicode.IsSpace); i >= 0 {
		word = text[i+1:]
	}
	word = strings.ToLower(strings.TrimLeft(word, `("'[`))
	if word == "" {
		return false
	}
	if r, w := utf8.DecodeRuneInString(word); w == len(word) && unicode.IsLetter(r) {
		return true
	}
	if strings.Contains(word, ".") {
		for part := range strings.SplitSeq(word, ".") {
			if len(part) > 2 || strings.IndexFunc(part, func(r rune) bool { return !unicode.IsLetter(r) }) >= 0 {
				return false
			}
		}
		return true
	}
	return slices.Contains(abbreviations, word)
}

// isOrdinal reports whether the sentence so far is only the number of a
// list item, as in "1." or "12.".
func isOrdinal(text string) bool {
	text = strings.TrimSpace(text)
	return text != "" && len(text) <= 3 && strings.Trim(text, "0123456789") == ""
}

// isHeading reports whether line is an ATX heading: up to three spaces, one
// to six '#', then a space or the end of the line.
func isHeading(line string) bool {
	rest := strings.TrimLeft(line, " ")
	if len(line)-len(rest) > 3 {
		return false
	}
	level := 0
	for level < len(rest) && rest[level] == '#' {
		level++
	}
	if level == 0 || level > 6 {
		return false
	}
	return level == len(rest) || rest[level] == ' ' || rest[level] == '\t' || rest[level] == '\r'
}

// parseHeading returns the level and text of a line isHeading accepted.
func parseHeading(line string) heading {
	rest := strings.TrimLeft(line, " ")
	level := 0
	for level < len(rest) && rest[level] == '#' {
		level++
	}
	text := strings.TrimSpace(rest[level:])
	// Drop an optional closing sequence of '#'.
	if trimmed := strings.TrimRight(text, "#"); trimmed == "" || strings.HasSuffix(trimmed, " ") {
		text = strings.TrimSpace(trimmed)
	}
	return heading{level: level, text: text}
}

// pushHeading replaces the headings at h's level and deeper with h.
func pushHeading(stack []heading, h heading) []heading {
	for len(stack) > 0 && stack[len(stack)-1].level >= h.level {
		stack = stack[:len(stack)-1]
	}
	return append(stack, h)
}

// headingPath returns the non-empty heading texts of stack in a new slice.
func headingPath(stack []heading) []string {
	var path []string
	for _, h := range stack {
		if h.text != "" {
			path = append(path, h.text)
		}
	}
	return path
}

// isFence reports whether trimmed opens or closes a fenced code block.
func isFence(trimmed string) bool {
	return strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~")
}

// isRule reports whether trimmed is a thematic break or setext underline.
func isRule(trimmed string) bool {
	if len(trimmed) < 3 {
		return false
	}
	return strings.Trim(trimmed, "-*_= \t") == ""
}
