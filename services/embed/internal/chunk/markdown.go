package chunk

import (
	"strings"
)

// mdParser reads a Markdown document line by line into blocks.
type mdParser struct {
	b     *builder
	src   string
	lines []line
	stack []heading
	// paraStart and paraEnd delimit the open paragraph; paraStart is -1
	// when none is open.
	paraStart, paraEnd int
}

// parseMarkdown reads the source of b as Markdown: ATX and setext headings
// make the heading path; thematic breaks end a section; paragraphs are cut
// into sentences; a list is one block whose items are its top-level items;
// a pipe table is one block whose items are its rows, headed by its header
// and delimiter rows; fenced and indented code blocks are cut into lines.
// YAML front matter at the very start is skipped.
func parseMarkdown(b *builder) {
	p := &mdParser{b: b, src: b.d.source, paraStart: -1}
	p.lines = splitLines(p.src)
	for i := p.frontMatter(); i < len(p.lines); {
		i = p.block(i)
	}
	p.flushPara()
}

// text returns line i without its line ending.
func (p *mdParser) text(i int) string {
	return p.src[p.lines[i].start:p.lines[i].end]
}

// block reads the block structure starting at line i and returns the line
// after it.
func (p *mdParser) block(i int) int {
	text := p.text(i)
	switch {
	case isBlank(text):
		p.flushPara()
		return i + 1
	case isATXHeading(text):
		p.flushPara()
		p.heading(parseATXHeading(text))
		return i + 1
	}
	if level, ok := setextLevel(text); ok && p.paraStart >= 0 {
		title := strings.Join(strings.Fields(p.src[p.paraStart:p.paraEnd]), " ")
		p.paraStart = -1
		p.heading(heading{level: level, text: title})
		return i + 1
	}
	if isRule(strings.TrimSpace(text)) && indentOf(text) <= 3 {
		p.flushPara()
		p.b.boundary()
		return i + 1
	}
	if f, ok := openFence(text); ok {
		p.flushPara()
		return p.fenced(i, f)
	}
	if p.tableStarts(i) {
		p.flushPara()
		return p.table(i)
	}
	if _, ok := listMarker(text); ok && indentOf(text) <= 3 {
		p.flushPara()
		return p.list(i)
	}
	if indentOf(text) >= 4 && p.paraStart < 0 {
		return p.indentedCode(i)
	}

	if p.paraStart < 0 {
		p.paraStart = p.lines[i].start
	}
	p.paraEnd = p.lines[i].end
	return i + 1
}

// flushPara adds the open paragraph, if any.
func (p *mdParser) flushPara() {
	if p.paraStart < 0 {
		return
	}
	p.b.paragraph(p.paraStart, p.paraEnd)
	p.paraStart = -1
}

// heading starts the section of h.
func (p *mdParser) heading(h heading) {
	p.stack = pushHeading(p.stack, h)
	p.b.boundary()
	p.b.headings = headingPath(p.stack)
}

// maxFrontMatterLines bounds the YAML front matter of a document.
const maxFrontMatterLines = 100

// frontMatter returns the first line after YAML front matter ("---" lines
// around "key: value" lines at the start of the document), or 0 when there
// is none.
func (p *mdParser) frontMatter() int {
	if len(p.lines) < 3 || strings.TrimRight(p.text(0), " \t") != "---" || !isYAMLKey(p.text(1)) {
		return 0
	}
	for i := 2; i < len(p.lines) && i <= maxFrontMatterLines; i++ {
		if t := strings.TrimRight(p.text(i), " \t"); t == "---" || t == "..." {
			p.b.boundary()
			return i + 1
		}
	}
	return 0
}

// isYAMLKey reports whether text opens with a YAML mapping key: a word,
// then a colon.
func isYAMLKey(text string) bool {
	key, _, ok := strings.Cut(text, ":")
	return ok && key != "" && strings.IndexFunc(key, func(r rune) bool {
		return !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) < 0
}

// fence is the opening line of a fenced code block.
type fence struct {
	char byte
	size int
	info string
}

// openFence reports whether text opens a fenced code block: up to three
// spaces, then three or more backticks or tildes, then an info string.
func openFence(text string) (fence, bool) {
	if indentOf(text) > 3 {
		return fence{}, false
	}
	rest := strings.TrimLeft(text, " \t")
	if len(rest) < 3 || (rest[0] != '`' && rest[0] != '~') {
		return fence{}, false
	}
	f := fence{char: rest[0]}
	for f.size < len(rest) && rest[f.size] == f.char {
		f.size++
	}
	if f.size < 3 {
		return fence{}, false
	}
	f.info = strings.TrimSpace(rest[f.size:])
	if f.char == '`' && strings.Contains(f.info, "`") {
		return fence{}, false
	}
	return f, true
}

// closedBy reports whether text closes the fenced block f.
func (f fence) closedBy(text string) bool {
	if indentOf(text) > 3 {
		return false
	}
	rest := strings.TrimLeft(text, " \t")
	n := 0
	for n < len(rest) && rest[n] == f.char {
		n++
	}
	return n >= f.size && isBlank(rest[n:])
}

// fenced adds the code block opened at line i as one item of lines, the
// fence lines joined to the first and last lines of code, and returns the
// line after its closing fence. A chunk that starts inside the block
// carries the opening fence as its header when the fence names a language.
func (p *mdParser) fenced(i int, f fence) int {
	header := ""
	if f.info != "" {
		header = strings.TrimSpace(p.text(i))
	}
	end := i + 1
	for end < len(p.lines) && !f.closedBy(p.text(end)) {
		end++
	}

	var code []int
	for j := i + 1; j < end; j++ {
		if !isBlank(p.text(j)) {
			code = append(code, j)
		}
	}
	p.b.beginBlock(header, false)
	for k, j := range code {
		start, stop := p.lines[j].start, p.lines[j].end
		if k == 0 {
			start, _ = trimSpan(p.src, p.lines[i].start, p.lines[i].end)
		}
		if k == len(code)-1 && end < len(p.lines) {
			stop = p.lines[end].end
		}
		p.b.line(start, stop)
	}
	p.b.endBlock()

	if end < len(p.lines) {
		return end + 1
	}
	return end
}

// indentedCode adds the indented code block at line i as one item of lines
// and returns the line after it.
func (p *mdParser) indentedCode(i int) int {
	p.b.beginBlock("", false)
	for ; i < len(p.lines); i++ {
		text := p.text(i)
		if isBlank(text) {
			continue
		}
		if indentOf(text) < 4 {
			break
		}
		p.b.line(p.lines[i].start, p.lines[i].end)
	}
	p.b.endBlock()
	return i
}

// tableStarts reports whether line i is the header row of a pipe table: it
// holds a '|' and the next line is a delimiter row with as many cells.
func (p *mdParser) tableStarts(i int) bool {
	if i+1 >= len(p.lines) || indentOf(p.text(i)) > 3 {
		return false
	}
	head, delim := p.text(i), p.text(i+1)
	return strings.Contains(head, "|") && isDelimiterRow(delim) &&
		len(tableCells(head)) == len(tableCells(delim))
}

// table adds the pipe table at line i, each row an item and the header and
// delimiter rows the first, and returns the line after it. A chunk that
// starts inside the table carries the header and delimiter rows as its
// header.
func (p *mdParser) table(i int) int {
	start, end := trimSpan(p.src, p.lines[i].start, p.lines[i+1].end)
	p.b.beginBlock(p.src[start:end], false)
	p.b.pieces(start, end)
	p.b.markHeaderEnd()

	j := i + 2
	for ; j < len(p.lines); j++ {
		text := p.text(j)
		if isBlank(text) || !strings.Contains(text, "|") {
			break
		}
		p.b.newItem()
		p.b.pieces(trimSpan(p.src, p.lines[j].start, p.lines[j].end))
	}
	p.b.endBlock()
	return j
}

// list adds the list at line i, each top-level item an item cut into
// sentences (nested items and item paragraphs start sentences of their
// own), and returns the line after it.
func (p *mdParser) list(i int) int {
	m, _ := listMarker(p.text(i))
	p.b.beginBlock("", false)
	itemStart, itemEnd := p.lines[i].start, p.lines[i].end
	content := m.contentIndent
	blankBefore := false

	j := i + 1
	for ; j < len(p.lines); j++ {
		text := p.text(j)
		if isBlank(text) {
			blankBefore = true
			continue
		}
		indent := indentOf(text)
		if indent >= content {
			itemEnd, blankBefore = p.lines[j].end, false
			continue
		}
		if isRule(strings.TrimSpace(text)) && indent <= 3 {
			break
		}
		if next, ok := listMarker(text); ok {
			p.b.sentences(itemStart, itemEnd, false)
			p.b.newItem()
			itemStart, itemEnd = p.lines[j].start, p.lines[j].end
			content, blankBefore = next.contentIndent, false
			continue
		}
		if blankBefore || p.interrupts(j) {
			break
		}
		// A lazy continuation line of the item's paragraph.
		itemEnd = p.lines[j].end
	}
	p.b.sentences(itemStart, itemEnd, false)
	p.b.endBlock()
	return j
}

// interrupts reports whether line j starts a block that ends a list item's
// paragraph.
func (p *mdParser) interrupts(j int) bool {
	text := p.text(j)
	if isATXHeading(text) || p.tableStarts(j) {
		return true
	}
	_, fenced := openFence(text)
	return fenced
}

// listItem is the marker of a list item.
type listItem struct {
	// contentIndent is the column where the item's text starts.
	contentIndent int
}

// listMarker reports whether text opens a list item: a bullet ('-', '*',
// '+') or a number of up to nine digits and '.' or ')', then white space or
// the end of the line.
func listMarker(text string) (listItem, bool) {
	col, i := 0, 0
	for i < len(text) && (text[i] == ' ' || text[i] == '\t') {
		col = advance(col, text[i])
		i++
	}
	markerStart := i
	switch {
	case i < len(text) && strings.IndexByte("-*+", text[i]) >= 0:
		i++
	default:
		for i < len(text) && i-markerStart < 9 && text[i] >= '0' && text[i] <= '9' {
			i++
		}
		if i == markerStart || i >= len(text) || (text[i] != '.' && text[i] != ')') {
			return listItem{}, false
		}
		i++
	}
	col += i - markerStart
	if i == len(text) {
		return listItem{contentIndent: col + 1}, true
	}
	if text[i] != ' ' && text[i] != '\t' {
		return listItem{}, false
	}
	spaces := 0
	for i < len(text) && (text[i] == ' ' || text[i] == '\t') && spaces < 5 {
		next := advance(col, text[i])
		spaces += next - col
		col = next
		i++
	}
	if spaces > 4 || isBlank(text[i:]) {
		// Code after the marker, or an empty item: the text starts one
		// column after the marker.
		col -= spaces - 1
	}
	return listItem{contentIndent: col}, true
}

// advance returns the column after the white space byte c at column col:
// tabs stop every four columns.
func advance(col int, c byte) int {
	if c == '\t' {
		return col + 4 - col%4
	}
	return col + 1
}

// indentOf returns the column of the first non-blank byte of text.
func indentOf(text string) int {
	col := 0
	for i := 0; i < len(text) && (text[i] == ' ' || text[i] == '\t'); i++ {
		col = advance(col, text[i])
	}
	return col
}

// isATXHeading reports whether line is an ATX heading: up to three spaces,
// one to six '#', then white space or the end of the line.
func isATXHeading(line string) bool {
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

// parseATXHeading returns the level and text of a line isATXHeading
// accepted.
func parseATXHeading(line string) heading {
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

// setextLevel reports whether text underlines a setext heading, and its
// level: three or more '=' (level 1) or '-' (level 2) after up to three
// spaces.
func setextLevel(text string) (int, bool) {
	if indentOf(text) > 3 {
		return 0, false
	}
	t := strings.TrimSpace(text)
	if len(t) < 3 {
		return 0, false
	}
	switch {
	case strings.Trim(t, "=") == "":
		return 1, true
	case strings.Trim(t, "-") == "":
		return 2, true
	}
	return 0, false
}

// isRule reports whether trimmed is a thematic break or a stray setext
// underline: three or more of '-', '*', '_' or '=' with spaces between.
func isRule(trimmed string) bool {
	if len(trimmed) < 3 {
		return false
	}
	return strings.Trim(trimmed, "-*_= \t") == ""
}

// isDelimiterRow reports whether text is the delimiter row of a pipe table:
// cells of dashes with optional colons, separated by '|'.
func isDelimiterRow(text string) bool {
	if !strings.Contains(text, "|") && !strings.Contains(text, "-") {
		return false
	}
	cells := tableCells(text)
	if len(cells) == 0 {
		return false
	}
	for _, cell := range cells {
		cell = strings.TrimSpace(cell)
		cell = strings.TrimPrefix(cell, ":")
		cell = strings.TrimSuffix(cell, ":")
		if cell == "" || strings.Trim(cell, "-") != "" {
			return false
		}
	}
	return strings.Contains(text, "|") || len(cells) > 1
}

// tableCells returns the cells of a table row, without its outer pipes.
func tableCells(row string) []string {
	row = strings.TrimSpace(row)
	row = strings.TrimPrefix(row, "|")
	if strings.HasSuffix(row, "|") && !strings.HasSuffix(row, `\|`) {
		row = row[:len(row)-1]
	}
	if row == "" {
		return nil
	}
	var cells []string
	start := 0
	for i := 0; i < len(row); i++ {
		switch row[i] {
		case '\\':
			i++
		case '|':
			cells = append(cells, row[start:i])
			start = i + 1
		}
	}
	return append(cells, row[start:])
}
