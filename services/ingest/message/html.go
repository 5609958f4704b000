package message

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// htmlToText renders an HTML body as the text a reader sees: block
// elements start new lines, <br> breaks a line, list items start with "- ",
// blockquotes are marked with "> ", links keep their text and show the
// target in parentheses when it differs, and head, script, style and
// hidden elements are dropped. Entities are decoded and white space is
// collapsed outside <pre>. flat is set when the document was too deeply
// nested for the HTML parser and was rendered token by token instead.
func htmlToText(src string) (text string, flat bool) {
	doc, err := html.Parse(strings.NewReader(src))
	if err != nil {
		// The parser gives up on more than 512 open elements.
		return renderTokens(src), true
	}

	w := &textWriter{}
	w.b.Grow(len(src) / 2)

	// Walk the tree without recursion.
	n := doc
	for {
		entered := w.enter(n)
		if entered && n.FirstChild != nil {
			n = n.FirstChild

			continue
		}
		if entered {
			w.leave(n)
		}
		for n != doc && n.NextSibling == nil {
			n = n.Parent
			w.leave(n)
		}
		if n == doc {
			break
		}
		n = n.NextSibling
	}

	return cleanText(w.b.String()), false
}

// renderTokens renders HTML from its tokens, without building a tree: the
// fallback for documents the parser rejects. Elements are opened and
// closed as the tags say, and skipped elements run to their end tag.
func renderTokens(src string) string {
	w := &textWriter{}
	z := html.NewTokenizer(strings.NewReader(src))
	skip, skipping := atom.Atom(0), 0
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		tok := z.Token()
		n := &html.Node{DataAtom: tok.DataAtom, Data: tok.Data, Attr: tok.Attr, Type: html.ElementNode}

		switch {
		case skipping > 0:
			switch {
			case tt == html.StartTagToken && tok.DataAtom == skip:
				skipping++
			case tt == html.EndTagToken && tok.DataAtom == skip:
				skipping--
			}
		case tt == html.TextToken:
			n.Type = html.TextNode
			w.enter(n)
		case tt == html.StartTagToken:
			if !w.enter(n) && (skippedElement(n.DataAtom) || hidden(n)) {
				skip, skipping = n.DataAtom, 1
			}
		case tt == html.SelfClosingTagToken:
			if w.enter(n) {
				w.leave(n)
			}
		case tt == html.EndTagToken:
			w.leave(n)
		}
	}

	return cleanText(w.b.String())
}

// maxMarks bounds the quote marks and list indentation written at the
// start of a line, so that deeply nested input cannot multiply its size.
const maxMarks = 16

// textWriter accumulates rendered text. Line breaks and spaces are kept
// pending until the next word, so that no element leaves trailing white
// space or leading blank lines.
type textWriter struct {
	b strings.Builder
	// pendingBreaks is 1 to start a new line, 2 to leave a blank line.
	pendingBreaks int
	pendingSpace  bool
	atLineStart   bool
	// lineQuote is the blockquote depth of the line being written.
	lineQuote int
	// marker is a list item marker waiting for the item's first word.
	marker string
	quote  int // depth of blockquotes
	pre    int // depth of <pre> elements
	lists  int // depth of lists
	links  []link
}

// link is an <a> element being rendered.
type link struct {
	href  string
	start int // length of the output when the element began
}

// enter renders the start of n and reports whether its children should be
// rendered (and leave called for it).
func (w *textWriter) enter(n *html.Node) bool {
	switch n.Type {
	case html.DocumentNode:
		return true
	case html.TextNode:
		if w.pre > 0 {
			w.preText(n.Data)
		} else {
			w.text(n.Data)
		}

		return false
	case html.ElementNode:
	default:
		return false
	}

	if skippedElement(n.DataAtom) || hidden(n) {
		return false
	}

	switch n.DataAtom {
	case atom.Br:
		w.lineBreak()

		return false
	case atom.Img:
		if alt := attr(n, "alt"); strings.TrimSpace(alt) != "" {
			w.text(" " + alt + " ")
		}

		return false
	case atom.A:
		w.links = append(w.links, link{href: attr(n, "href"), start: w.b.Len()})
	case atom.Li:
		w.breakLines(1)
		w.marker = strings.Repeat("  ", min(max(w.lists-1, 0), maxMarks)) + "- "
	case atom.Ul, atom.Ol:
		w.breakLines(listBreak(w.lists))
		w.lists++
	case atom.Blockquote:
		w.breakLines(2)
		w.quote++
	case atom.Pre:
		w.breakLines(2)
		w.pre++
	case atom.Td, atom.Th:
		w.pendingSpace = true
	default:
		w.breakLines(blockBreak(n.DataAtom))
	}

	return true
}

// leave renders the end of n.
func (w *textWriter) leave(n *html.Node) {
	if n.Type != html.ElementNode {
		return
	}

	switch n.DataAtom {
	case atom.A:
		if len(w.links) == 0 {
			return
		}
		l := w.links[len(w.links)-1]
		w.links = w.links[:len(w.links)-1]
		w.linkTarget(l)
	case atom.Li:
		w.marker = ""
		w.breakLines(1)
	case atom.Ul, atom.Ol:
		w.lists = max(w.lists-1, 0)
		w.breakLines(listBreak(w.lists))
	case atom.Blockquote:
		w.quote = max(w.quote-1, 0)
		w.breakLines(2)
	case atom.Pre:
		w.pre = max(w.pre-1, 0)
		w.breakLines(2)
	case atom.Td, atom.Th:
		w.pendingSpace = true
	default:
		w.breakLines(blockBreak(n.DataAtom))
	}
}

// linkTarget writes the target of a finished link after its text when the
// target says something the text does not.
func (w *textWriter) linkTarget(l link) {
	target := linkDisplay(l.href)
	if target == "" {
		return
	}
	text := ""
	if l.start <= w.b.Len() {
		text = w.b.String()[l.start:]
	}
	// Text much longer than the target cannot say the same; skipping the
	// comparison keeps nested links linear.
	if len(text) <= 2*len(target)+16 && sameLink(text, target) {
		return
	}
	w.pendingSpace = true
	w.word("(" + target + ")")
}

// breakLines asks for n line breaks before the next word (1: new line,
// 2: blank line).
func (w *textWriter) breakLines(n int) {
	w.pendingBreaks = max(w.pendingBreaks, n)
}

// lineBreak renders <br>: every one ends a line, so two in a row leave a
// blank line.
func (w *textWriter) lineBreak() {
	w.pendingBreaks = min(w.pendingBreaks+1, 2)
}

// text renders a text node with its white space collapsed.
func (w *textWriter) text(s string) {
	if s == "" {
		return
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	if unicode.IsSpace(first) {
		w.pendingSpace = true
	}
	words := 0
	for f := range strings.FieldsSeq(s) {
		if words > 0 {
			w.pendingSpace = true
		}
		w.word(f)
		words++
	}
	if unicode.IsSpace(last) {
		w.pendingSpace = true
	}
}

// preText renders text inside <pre>, keeping its spaces and line breaks.
func (w *textWriter) preText(s string) {
	for i, line := range strings.Split(normalizeNewlines(s), "\n") {
		if i > 0 {
			w.pendingBreaks++
		}
		if line != "" {
			w.word(line)
		}
	}
}

// word writes s after whatever breaks, quote marks, list marker or space
// are pending.
func (w *textWriter) word(s string) {
	if w.b.Len() == 0 {
		w.pendingBreaks, w.pendingSpace, w.atLineStart = 0, false, true
	}
	if w.pendingBreaks > 0 {
		w.b.WriteByte('\n')
		if w.pendingBreaks > 1 {
			// A blank line inside a quote stays marked, so the quote
			// reads as one block.
			w.b.WriteString(strings.Repeat(">", min(w.lineQuote, w.quote, maxMarks)))
			w.b.WriteByte('\n')
		}
		w.pendingBreaks, w.atLineStart = 0, true
	}
	if w.atLineStart {
		for range min(w.quote, maxMarks) {
			w.b.WriteString("> ")
		}
		w.lineQuote = w.quote
		w.b.WriteString(w.marker)
		w.marker, w.atLineStart, w.pendingSpace = "", false, false
	}
	if w.pendingSpace {
		w.b.WriteByte(' ')
		w.pendingSpace = false
	}
	w.b.WriteString(s)
}

// skippedElement reports whether an element's content is never shown.
func skippedElement(a atom.Atom) bool {
	switch a {
	case atom.Head, atom.Script, atom.Style, atom.Title, atom.Template, atom.Noscript,
		atom.Svg, atom.Math, atom.Object, atom.Iframe, atom.Select, atom.Textarea:
		return true
	}

	return false
}

// hidden reports whether an element is hidden by its attributes: hidden,
// or a style with display:none or Outlook's mso-hide:all.
func hidden(n *html.Node) bool {
	for _, a := range n.Attr {
		switch a.Key {
		case "hidden":
			return true
		case "style":
			style := strings.ToLower(strings.Join(strings.Fields(a.Val), ""))
			if strings.Contains(style, "display:none") || strings.Contains(style, "mso-hide:all") {
				return true
			}
		}
	}

	return false
}

// blockBreak returns the line breaks an element makes before and after
// itself: 2 for paragraphs, headings, tables and rules, 1 for other block
// elements, 0 for inline ones.
func blockBreak(a atom.Atom) int {
	switch a {
	case atom.P, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.Hr, atom.Table, atom.Dl:
		return 2
	case atom.Div, atom.Tr, atom.Dt, atom.Dd, atom.Header, atom.Footer, atom.Nav, atom.Section,
		atom.Article, atom.Aside, atom.Address, atom.Form, atom.Fieldset, atom.Figure,
		atom.Figcaption, atom.Main, atom.Center, atom.Details, atom.Summary, atom.Caption,
		atom.Legend, atom.Option, atom.Body, atom.Html:
		return 1
	}

	return 0
}

// listBreak returns the breaks around a list: a blank line at the top
// level, a new line for a list nested in another.
func listBreak(depth int) int {
	if depth > 0 {
		return 1
	}

	return 2
}

// attr returns the value of attribute key, or "".
func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			return a.Val
		}
	}

	return ""
}

// linkDisplay returns how a link target is shown: mailto and tel targets
// as the bare address or number, web targets as they are, and in-page,
// script, data and content-id targets not at all ("").
func linkDisplay(href string) string {
	href = strings.TrimSpace(href)
	lower := strings.ToLower(href)
	switch {
	case href == "", strings.HasPrefix(href, "#"), strings.HasPrefix(lower, "javascript:"),
		strings.HasPrefix(lower, "data:"), strings.HasPrefix(lower, "cid:"):
		return ""
	case strings.HasPrefix(lower, "mailto:"):
		addr := href[len("mailto:"):]
		if q := strings.IndexByte(addr, '?'); q >= 0 {
			addr = addr[:q]
		}

		return strings.TrimSpace(addr)
	case strings.HasPrefix(lower, "tel:"):
		return strings.TrimSpace(href[len("tel:"):])
	}

	return href
}

// sameLink reports whether a link's text already says where it goes.
func sameLink(text, target string) bool {
	norm := func(s string) string {
		s = strings.ToLower(strings.TrimSpace(s))
		for _, p := range []string{"https://", "http://", "www."} {
			s = strings.TrimPrefix(s, p)
		}

		return strings.TrimSuffix(s, "/")
	}

	return text == target || norm(text) == norm(target)
}
