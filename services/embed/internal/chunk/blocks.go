package chunk

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// document is a source read into blocks and units, ready to be packed.
type document struct {
	source string
	// text is what units point into: the source itself for every format
	// but HTML, the extracted text for HTML.
	text string
	// spans maps every byte of text to the source bytes it came from; nil
	// when text is the source.
	spans  []span
	blocks []block
	units  []unit
}

// span is a range of source bytes.
type span struct {
	start, end int
}

// block is a paragraph, list, table, code block or diff hunk: a run of
// units that belong together.
type block struct {
	// group numbers the sections of a document; chunks never mix groups.
	group    int
	headings []string
	quoted   bool
	// header is repeated in front of a chunk that starts inside the block,
	// or in front of every chunk of the block when headerAlways is set.
	header       string
	headerAlways bool
	// headerUntil is the last unit of the block a chunk may start at
	// without the header: the block's first unit unless markHeaderEnd
	// moved it.
	headerUntil int
	// first and last are the indices of the block's first and last units.
	first, last int
}

// unit is a span of text a chunk may start or end at: a sentence, list
// item, table row or line, or a piece of one too long for a chunk.
type unit struct {
	start, end int
	block      int
	// item numbers the items of a document (paragraphs, list items, table
	// rows, code blocks, hunks): a chunk is cut between items when it can
	// be, and overlap never crosses from one item into the next.
	item int
	size measure
}

// builder collects the blocks and units of a document as a parser reads it,
// in document order.
type builder struct {
	s    *Splitter
	d    document
	text strings.Builder // the extracted text, for HTML only

	group    int
	headings []string
	quoted   bool
	item     int
	open     bool // a block is open
}

// newBuilder returns a builder whose units point into source.
func newBuilder(s *Splitter, source string) *builder {
	return &builder{s: s, d: document{source: source, text: source}}
}

// doc returns the document built.
func (b *builder) doc() *document {
	b.endBlock()
	return &b.d
}

// boundary starts a new section: no chunk spans it.
func (b *builder) boundary() {
	b.endBlock()
	b.group++
}

// setSection starts a new section with the heading path and quoted state,
// unless they are those of the current section.
func (b *builder) setSection(headings []string, quoted bool) {
	if quoted == b.quoted && slices.Equal(headings, b.headings) {
		return
	}
	b.boundary()
	b.headings, b.quoted = headings, quoted
}

// beginBlock ends the open block and opens one in the current section.
func (b *builder) beginBlock(header string, headerAlways bool) {
	b.endBlock()
	b.d.blocks = append(b.d.blocks, block{
		group:        b.group,
		headings:     b.headings,
		quoted:       b.quoted,
		header:       header,
		headerAlways: headerAlways,
		headerUntil:  len(b.d.units),
		first:        len(b.d.units),
	})
	b.open = true
	b.newItem()
}

// endBlock closes the open block, dropping it when it has no units.
func (b *builder) endBlock() {
	if !b.open {
		return
	}
	b.open = false
	last := len(b.d.blocks) - 1
	if b.d.blocks[last].first == len(b.d.units) {
		b.d.blocks = b.d.blocks[:last]
		return
	}
	b.d.blocks[last].last = len(b.d.units) - 1
}

// markHeaderEnd marks the units of the open block so far as what its
// header repeats: a chunk that starts after them carries the header.
func (b *builder) markHeaderEnd() {
	if b.open {
		b.d.blocks[len(b.d.blocks)-1].headerUntil = max(len(b.d.units)-1, b.d.blocks[len(b.d.blocks)-1].first)
	}
}

// newItem starts a new item in the open block.
func (b *builder) newItem() {
	b.item++
}

// paragraph adds text[start:end] as a block of one item cut into sentences.
func (b *builder) paragraph(start, end int) {
	b.beginBlock("", false)
	b.sentences(start, end, false)
	b.endBlock()
}

// sentences adds the sentences of text[start:end] to the current item. A
// newline ends a sentence when splitLines is set, when the next line opens
// a list item or table row, or when the next line is blank.
func (b *builder) sentences(start, end int, splitLines bool) {
	text := b.d.text
	add := func(a, z int) {
		a, z = trimSpan(text, a, z)
		if a < z {
			b.pieces(a, z)
		}
	}

	sentenceStart := start
	for i := start; i < end; i++ {
		c := text[i]
		switch c {
		case '\n':
			rest := text[i+1 : end]
			if splitLines || startsItem(rest) || startsBlankLine(rest) {
				add(sentenceStart, i)
				sentenceStart = i + 1
			}
		case '.', '!', '?':
			j := i + 1
			for j < end && strings.IndexByte(`"')]*_`, text[j]) >= 0 {
				j++
			}
			if r, _ := utf8.DecodeRuneInString(text[j:end]); j < end && !unicode.IsSpace(r) {
				continue
			}
			if c == '.' && (isAbbreviation(text[sentenceStart:i]) || isOrdinal(text[sentenceStart:i])) {
				continue
			}
			add(sentenceStart, j)
			sentenceStart = j
			i = j - 1
		case 0xE3, 0xEF:
			// Ideographic full stop, fullwidth exclamation and question marks.
			for _, stop := range []string{"。", "！", "？"} {
				if strings.HasPrefix(text[i:end], stop) {
					j := i + len(stop)
					add(sentenceStart, j)
					sentenceStart = j
					i = j - 1
					break
				}
			}
		}
	}
	add(sentenceStart, end)
}

// line adds text[start:end], without trailing white space, to the current
// item as one unit, or as pieces when it is too long.
func (b *builder) line(start, end int) {
	text := b.d.text
	end = start + len(strings.TrimRightFunc(text[start:end], unicode.IsSpace))
	if strings.TrimSpace(text[start:end]) == "" {
		return
	}
	b.pieces(start, end)
}

// pieces adds text[start:end] to the current item as one unit, or as
// several when it exceeds the limits: cut between words, and inside a word
// only when the word alone exceeds them.
func (b *builder) pieces(start, end int) {
	text := b.d.text
	add := func(a, z int) {
		b.d.units = append(b.d.units, unit{
			start: a,
			end:   z,
			block: len(b.d.blocks) - 1,
			item:  b.item,
			size:  measureOf(text[a:z]),
		})
	}

	if b.s.within(measureOf(text[start:end])) {
		add(start, end)
		return
	}

	pieceStart, pieceEnd := -1, 0
	var size measure
	for i := start; i < end; {
		r, w := utf8.DecodeRuneInString(text[i:end])
		if unicode.IsSpace(r) {
			i += w
			continue
		}
		wordStart := i
		for i < end {
			r, w = utf8.DecodeRuneInString(text[i:end])
			if unicode.IsSpace(r) {
				break
			}
			i += w
		}
		wordEnd := i
		word := measureOf(text[wordStart:wordEnd])

		if pieceStart >= 0 {
			grown := size.add(word)
			grown.bytes = wordEnd - pieceStart
			if b.s.within(grown) {
				size, pieceEnd = grown, wordEnd
				continue
			}
			add(pieceStart, pieceEnd)
			pieceStart = -1
		}
		if b.s.within(word) {
			pieceStart, pieceEnd, size = wordStart, wordEnd, word
			continue
		}
		for p := wordStart; p < wordEnd; {
			q := b.cutWord(p, wordEnd)
			add(p, q)
			p = q
		}
	}
	if pieceStart >= 0 {
		add(pieceStart, pieceEnd)
	}
}

// cutWord returns the end of the longest run of whole runes from start, at
// least one, that stays within the limits.
func (b *builder) cutWord(start, end int) int {
	text := b.d.text
	var c tokenCounter
	i := start
	for i < end {
		r, w := utf8.DecodeRuneInString(text[i:end])
		c.add(r)
		if i > start && (i+w-start > b.s.opts.MaxChars || c.tokens > b.s.opts.MaxTokens) {
			break
		}
		i += w
	}
	return i
}

// trimSpan shrinks [start, end) of text past leading and trailing white
// space.
func trimSpan(text string, start, end int) (int, int) {
	s := text[start:end]
	left := strings.TrimLeftFunc(s, unicode.IsSpace)
	start += len(s) - len(left)
	return start, start + len(strings.TrimRightFunc(left, unicode.IsSpace))
}

// cutAt returns the last rune boundary in (start, limit], or limit when the
// bytes there are not valid UTF-8.
func cutAt(text string, start, limit int) int {
	if limit >= len(text) {
		return len(text)
	}
	for q := limit; q > start; q-- {
		if utf8.RuneStart(text[q]) {
			return q
		}
	}
	return limit
}

// line is one line of a text: [start, end) without its line ending.
type line struct {
	start, end int
}

// splitLines returns the lines of text, without "\n" or "\r\n".
func splitLines(text string) []line {
	var lines []line
	for start := 0; start < len(text); {
		end := len(text)
		next := end
		if nl := strings.IndexByte(text[start:], '\n'); nl >= 0 {
			end = start + nl
			next = end + 1
		}
		if end > start && text[end-1] == '\r' {
			end--
		}
		lines = append(lines, line{start: start, end: end})
		start = next
	}
	return lines
}

// isBlank reports whether s holds only white space.
func isBlank(s string) bool {
	return strings.TrimSpace(s) == ""
}

// startsBlankLine reports whether rest, which follows a newline, begins with
// a line of white space only.
func startsBlankLine(rest string) bool {
	if nl := strings.IndexByte(rest, '\n'); nl >= 0 {
		return isBlank(rest[:nl])
	}
	return false
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

// abbreviations end in a period without ending a sentence.
var abbreviations = []string{"mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "approx", "fig"}

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

// heading is one level of a heading stack.
type heading struct {
	level int
	text  string
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
