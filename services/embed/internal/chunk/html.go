package chunk

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
)

// htmlMode is the kind of block an HTML element opens.
type htmlMode int

const (
	modeNone htmlMode = iota
	modePara
	modeList
	modeTable
	modeCode
)

// separator is the white space written between two runs of HTML text,
// weakest first.
type separator int

const (
	sepNone separator = iota
	sepSpace
	sepTab
	sepLine
)

// maxHeadingBytes bounds the text of one HTML heading.
const maxHeadingBytes = 256

// htmlBlock is a block of extracted text, read before the text is complete.
type htmlBlock struct {
	mode     htmlMode
	group    int
	headings []string
	items    []htmlItem
	end      int
}

// htmlItem is a list item, table row or other item of an htmlBlock,
// starting at start in the extracted text.
type htmlItem struct {
	start  int
	row    bool
	header bool
}

// htmlParser extracts the text of an HTML document, remembering where every
// byte of it came from, and collects its blocks.
type htmlParser struct {
	src   string
	out   strings.Builder
	spans []span

	stack  []heading
	group  int
	blocks []htmlBlock

	// The open block.
	mode        htmlMode
	cur         htmlBlock
	hasText     bool
	pending     separator
	pendingItem bool
	pendingRow  bool

	listDepth, tableDepth, preDepth, theadDepth int
	rowSawTH, rowSawTD                          bool
	// rowItem is the index of the open row's item, or -1.
	rowItem int

	// skip holds the open elements whose content is dropped.
	skip []string
	// capture collects the text of an open heading; captureLevel is its
	// level, 0 when no heading is open.
	capture      strings.Builder
	captureLevel int
	captureSpace bool
}

// Elements whose text is not content.
var (
	// rawElements hold raw text, which the tokenizer returns as one text
	// token after the start tag.
	rawElements = map[string]bool{
		"script": true, "style": true, "textarea": true, "title": true, "noscript": true,
		"iframe": true, "noembed": true, "noframes": true, "xmp": true, "plaintext": true,
	}
	// skipElements hold markup whose text is not content.
	skipElements = map[string]bool{
		"template": true, "svg": true, "math": true, "select": true, "object": true,
		"audio": true, "video": true, "canvas": true,
	}
	// breakElements end a paragraph.
	breakElements = map[string]bool{
		"address": true, "article": true, "aside": true, "blockquote": true, "body": true,
		"center": true, "details": true, "dialog": true, "div": true, "fieldset": true,
		"figcaption": true, "figure": true, "footer": true, "form": true, "header": true,
		"hgroup": true, "html": true, "legend": true, "main": true, "nav": true, "p": true,
		"section": true, "summary": true, "caption": true, "dd": true,
	}
)

// parseHTML reads the source of b as HTML: the extracted text becomes the
// text units point into, h1 to h6 make the heading path, hr ends a section,
// p and other block elements are paragraphs cut into sentences, ul, ol and
// dl are lists whose items are their top-level li (or dt with its dd),
// tables are blocks of rows headed by their header row, and pre is a code
// block cut into lines. Scripts, styles and other non-content elements are
// dropped.
func parseHTML(b *builder) {
	p := &htmlParser{src: b.d.source, rowItem: -1}
	p.tokenize()

	b.d.text = p.out.String()
	b.d.spans = p.spans
	for _, blk := range p.blocks {
		b.group, b.headings = blk.group, blk.headings
		p.addBlock(b, blk)
	}
}

// addBlock adds blk to b, cut the way its kind is cut.
func (p *htmlParser) addBlock(b *builder, blk htmlBlock) {
	text := b.d.text
	itemEnd := func(i int) int {
		if i+1 < len(blk.items) {
			return blk.items[i+1].start
		}
		return blk.end
	}

	header := ""
	headerItem := -1
	if blk.mode == modeTable {
		for i, it := range blk.items {
			if it.row && it.header {
				start, end := trimSpan(text, it.start, itemEnd(i))
				header, headerItem = text[start:end], i
			}
			if it.row {
				break
			}
		}
	}

	b.beginBlock(header, false)
	for i, it := range blk.items {
		if i > 0 {
			b.newItem()
		}
		switch blk.mode {
		case modeCode:
			for _, ln := range linesIn(text, it.start, itemEnd(i)) {
				b.line(ln.start, ln.end)
			}
		case modeTable:
			if start, end := trimSpan(text, it.start, itemEnd(i)); start < end {
				b.pieces(start, end)
			}
		default:
			b.sentences(it.start, itemEnd(i), true)
		}
		if i == headerItem {
			b.markHeaderEnd()
		}
	}
	b.endBlock()
}

// tokenize walks the tokens of the source, tracking the offset of each.
func (p *htmlParser) tokenize() {
	z := html.NewTokenizer(strings.NewReader(p.src))
	offset := 0
	rawContent := false
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		start := offset
		offset += len(z.Raw())

		switch tt {
		case html.TextToken:
			if !rawContent && len(p.skip) == 0 {
				p.text(start, offset)
			}
			rawContent = false
		case html.StartTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			tag := string(name)
			rawContent = rawElements[tag]
			if !rawContent && len(p.skip) == 0 {
				p.startTag(tag, tt == html.SelfClosingTagToken, offset)
			}
			if skipElements[tag] && tt == html.StartTagToken {
				p.skip = append(p.skip, tag)
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			tag := string(name)
			rawContent = false
			if i := lastIndex(p.skip, tag); i >= 0 {
				p.skip = p.skip[:i]
				continue
			}
			if len(p.skip) == 0 {
				p.endTag(tag, offset)
			}
		default:
			rawContent = false
		}
	}
	p.endHeading()
	p.closeBlock()
}

// lastIndex returns the index of the last s in list, or -1.
func lastIndex(list []string, s string) int {
	for i := len(list) - 1; i >= 0; i-- {
		if list[i] == s {
			return i
		}
	}
	return -1
}

// headingLevel returns the level of an h1 to h6 tag, or 0.
func headingLevel(tag string) int {
	if len(tag) == 2 && tag[0] == 'h' && tag[1] >= '1' && tag[1] <= '6' {
		return int(tag[1] - '0')
	}
	return 0
}

// startTag handles the start tag of an element, whose source ends at off.
func (p *htmlParser) startTag(tag string, selfClosing bool, off int) {
	if level := headingLevel(tag); level > 0 {
		p.endHeading()
		p.closeBlock()
		p.listDepth, p.tableDepth, p.preDepth, p.theadDepth = 0, 0, 0, 0
		p.captureLevel = level
		return
	}
	if p.captureLevel > 0 && (breakElements[tag] || tag == "ul" || tag == "ol" || tag == "dl" ||
		tag == "li" || tag == "table" || tag == "tr" || tag == "pre" || tag == "hr") {
		p.endHeading()
	}

	switch tag {
	case "br":
		p.lineBreak(off)
	case "hr":
		p.closeBlock()
		p.group++
	case "ul", "ol", "dl", "menu", "dir":
		if selfClosing {
			return
		}
		p.listDepth++
		if p.listDepth == 1 && p.mode != modeTable {
			p.open(modeList)
			return
		}
		p.softBreak()
	case "li", "dt":
		switch {
		case p.mode == modeList && p.listDepth <= 1:
			p.pendingItem, p.pendingRow = true, false
		case p.mode == modeList || p.mode == modeTable:
			p.softBreak()
		default:
			p.open(modeList)
			p.pendingItem = true
		}
	case "table":
		if selfClosing {
			return
		}
		p.tableDepth++
		if p.tableDepth == 1 && p.mode != modeList {
			p.open(modeTable)
			return
		}
		p.softBreak()
	case "thead":
		if !selfClosing {
			p.theadDepth++
		}
	case "tr":
		switch {
		case p.mode == modeTable && p.tableDepth <= 1:
			p.startRow()
		case p.mode == modeList || p.mode == modeTable:
			p.softBreak()
		default:
			p.open(modeTable)
			p.startRow()
		}
	case "td", "th":
		if tag == "td" {
			p.rowSawTD = true
		} else {
			p.rowSawTH = true
		}
		if p.mode == modeTable && p.hasText && !p.pendingItem {
			p.pending = max(p.pending, sepTab)
		} else if p.mode == modeList {
			p.pending = max(p.pending, sepSpace)
		}
	case "pre", "listing":
		if selfClosing {
			return
		}
		p.preDepth++
		if p.preDepth == 1 && p.mode != modeList && p.mode != modeTable {
			p.open(modeCode)
			return
		}
		p.softBreak()
	default:
		if breakElements[tag] {
			p.blockBreak()
		}
	}
}

// endTag handles the end tag of an element, whose source ends at off.
func (p *htmlParser) endTag(tag string, off int) {
	if headingLevel(tag) > 0 {
		p.endHeading()
		return
	}
	switch tag {
	case "br":
		p.lineBreak(off)
	case "ul", "ol", "dl", "menu", "dir":
		if p.listDepth == 0 {
			return
		}
		p.listDepth--
		if p.listDepth == 0 && p.mode == modeList {
			p.closeBlock()
			return
		}
		p.softBreak()
	case "table":
		if p.tableDepth == 0 {
			return
		}
		p.tableDepth--
		if p.tableDepth == 0 && p.mode == modeTable {
			p.closeBlock()
			return
		}
		p.softBreak()
	case "thead":
		p.theadDepth = max(p.theadDepth-1, 0)
	case "li", "dt", "tr":
		if p.mode == modeList || p.mode == modeTable {
			p.softBreak()
		}
	case "pre", "listing":
		if p.preDepth == 0 {
			return
		}
		p.preDepth--
		if p.preDepth == 0 && p.mode == modeCode {
			p.closeBlock()
		}
	default:
		if breakElements[tag] {
			p.blockBreak()
		}
	}
}

// blockBreak ends a paragraph, or breaks the line inside a list item or
// table cell.
func (p *htmlParser) blockBreak() {
	switch p.mode {
	case modePara:
		p.closeBlock()
	case modeList, modeTable:
		p.softBreak()
	}
}

// softBreak separates text inside a list item by a line and inside a table
// cell by a space.
func (p *htmlParser) softBreak() {
	switch p.mode {
	case modeList:
		p.pending = max(p.pending, sepLine)
	case modeTable:
		p.pending = max(p.pending, sepSpace)
	}
}

// lineBreak handles br: a newline in code and paragraphs, a soft break
// elsewhere.
func (p *htmlParser) lineBreak(off int) {
	switch {
	case p.captureLevel > 0:
		p.captureSpace = true
	case p.preDepth > 0 && p.mode == modeCode && p.hasText:
		p.emit('\n', off, off)
	case p.mode == modePara || p.mode == modeCode:
		p.pending = max(p.pending, sepLine)
	default:
		p.softBreak()
	}
}

// startRow starts a table row.
func (p *htmlParser) startRow() {
	p.finishRow()
	p.pendingItem, p.pendingRow = true, true
	p.rowSawTH, p.rowSawTD = false, false
}

// open closes the open block and opens one of mode.
func (p *htmlParser) open(mode htmlMode) {
	p.closeBlock()
	p.mode = mode
	p.cur = htmlBlock{mode: mode, group: p.group, headings: headingPath(p.stack)}
}

// closeBlock ends the open block, keeping it when it has text.
func (p *htmlParser) closeBlock() {
	p.finishRow()
	if p.mode != modeNone && p.hasText {
		p.cur.end = p.out.Len()
		p.blocks = append(p.blocks, p.cur)
	}
	p.mode = modeNone
	p.cur = htmlBlock{}
	p.hasText, p.pending, p.pendingItem, p.pendingRow = false, sepNone, false, false
}

// finishRow records whether the last row of the open block is a header
// row: in thead, or of th cells only.
func (p *htmlParser) finishRow() {
	if p.rowItem >= 0 && p.rowItem < len(p.cur.items) {
		item := &p.cur.items[p.rowItem]
		item.header = item.header || (p.rowSawTH && !p.rowSawTD)
	}
	p.rowItem = -1
}

// endHeading ends the open heading, if any, and starts its section.
func (p *htmlParser) endHeading() {
	if p.captureLevel == 0 {
		return
	}
	text := p.capture.String()
	p.stack = pushHeading(p.stack, heading{level: p.captureLevel, text: text})
	p.capture.Reset()
	p.captureLevel, p.captureSpace = 0, false
	p.closeBlock()
	p.group++
}

// text handles the text token src[start:end].
func (p *htmlParser) text(start, end int) {
	src := p.src
	for i := start; i < end; {
		if src[i] == '&' {
			if n, decoded := entityAt(src[i:end]); n > 0 {
				for _, r := range decoded {
					p.char(r, i, i+n)
				}
				i += n
				continue
			}
		}
		if src[i] == '\r' {
			if i+1 < end && src[i+1] == '\n' {
				p.char('\n', i, i+2)
				i += 2
				continue
			}
			p.char('\n', i, i+1)
			i++
			continue
		}
		r, w := utf8.DecodeRuneInString(src[i:end])
		p.char(r, i, i+w)
		i += w
	}
}

// char handles one character of text, decoded from src[start:end].
func (p *htmlParser) char(r rune, start, end int) {
	space := unicode.IsSpace(r)
	if !space && unicode.IsControl(r) {
		return
	}
	if p.captureLevel > 0 {
		p.captureChar(r, space)
		return
	}
	if p.preDepth > 0 {
		if p.mode == modeNone {
			p.open(modeCode)
		}
		if p.mode == modeCode {
			p.emit(r, start, end)
			return
		}
	}
	if space {
		if p.hasText {
			p.pending = max(p.pending, sepSpace)
		}
		return
	}
	if p.mode == modeNone {
		p.open(modePara)
	}
	p.emit(r, start, end)
}

// captureChar adds a character to the open heading's text.
func (p *htmlParser) captureChar(r rune, space bool) {
	if space {
		p.captureSpace = p.capture.Len() > 0
		return
	}
	if p.capture.Len()+utf8.RuneLen(r)+1 > maxHeadingBytes {
		return
	}
	if p.captureSpace {
		p.capture.WriteByte(' ')
		p.captureSpace = false
	}
	p.capture.WriteRune(r)
}

// emit writes r, from src[start:end], after whatever separator is due.
func (p *htmlParser) emit(r rune, start, end int) {
	switch {
	case !p.hasText:
		if p.out.Len() > 0 {
			p.write("\n\n", start)
		}
		p.hasText = true
		p.addItem()
	case p.pendingItem:
		p.write(separatorText(max(p.pending, sepLine)), start)
		p.addItem()
	case p.pending != sepNone:
		p.write(separatorText(p.pending), start)
	}
	p.pending, p.pendingItem, p.pendingRow = sepNone, false, false

	n := p.out.Len()
	p.out.WriteRune(r)
	for range p.out.Len() - n {
		p.spans = append(p.spans, span{start: start, end: end})
	}
}

// addItem starts an item of the open block at the end of the text.
func (p *htmlParser) addItem() {
	if p.pendingRow {
		p.rowItem = len(p.cur.items)
	}
	p.cur.items = append(p.cur.items, htmlItem{
		start:  p.out.Len(),
		row:    p.pendingRow,
		header: p.pendingRow && p.theadDepth > 0,
	})
}

// write writes a separator, mapped to the empty span at off.
func (p *htmlParser) write(s string, off int) {
	p.out.WriteString(s)
	for range len(s) {
		p.spans = append(p.spans, span{start: off, end: off})
	}
}

// separatorText returns the text of sep.
func separatorText(sep separator) string {
	switch sep {
	case sepSpace:
		return " "
	case sepTab:
		return "\t"
	case sepLine:
		return "\n"
	}
	return ""
}

// maxEntityName is longer than the longest named character reference.
const maxEntityName = 40

// entityAt decodes the character reference that s begins with ('&'), and
// returns how many bytes it takes and what it decodes to, or 0 when s does
// not begin with one. It decodes exactly as the HTML tokenizer decodes
// text.
func entityAt(s string) (int, string) {
	if len(s) < 2 {
		return 0, ""
	}
	n := 1
	if s[1] == '#' {
		n = 2
		hex := n < len(s) && (s[n] == 'x' || s[n] == 'X')
		if hex {
			n++
		}
		digits := n
		for n < len(s) && (isDigit(s[n]) || hex && isHexLetter(s[n])) {
			n++
		}
		if n == digits {
			return 0, ""
		}
		if n < len(s) && s[n] == ';' {
			n++
		}
		return n, html.UnescapeString(s[:n])
	}

	for n < len(s) && n <= maxEntityName && isAlnum(s[n]) {
		n++
	}
	if n < len(s) && s[n] == ';' {
		n++
	}
	name := s[:n]
	whole := html.UnescapeString(name)
	if whole == name {
		return 0, ""
	}
	// The reference is the shortest prefix of name that decodes to what
	// name decodes to with the rest of name after it.
	for m := 2; m <= n; m++ {
		decoded := html.UnescapeString(name[:m])
		if decoded != name[:m] && decoded+name[m:] == whole {
			return m, decoded
		}
	}
	return 0, ""
}

func isDigit(c byte) bool     { return c >= '0' && c <= '9' }
func isHexLetter(c byte) bool { return c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }
func isAlnum(c byte) bool     { return isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
