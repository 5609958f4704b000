package chunk

import (
	"strings"
)

// Attribution lines that introduce a quoted message, as mail clients write
// them in a few languages: "On <date>, <name> wrote:".
var (
	attributionPrefixes = []string{"on ", "le ", "am ", "el ", "il ", "op ", "den "}
	attributionSuffixes = []string{
		"wrote:", "écrit :", "écrit:", "schrieb:", "escribió:", "scritto:", "schreef:", "skrev:",
	}
)

// maxAttributionBytes bounds an attribution line: longer lines are text.
const maxAttributionBytes = 300

// separatorTitles are the lines (between dashes) that mail clients put
// above an earlier message they include without quoting it.
var separatorTitles = []string{
	"original message", "forwarded message", "begin forwarded message:",
	"message d'origine", "ursprüngliche nachricht", "mensaje original",
}

// parseEmail reads the source of b as the plain-text body of an email. The
// fresh text is cut into paragraphs and sentences. The quoted reply chain
// is set apart in quoted sections: lines quoted with '>', and everything
// after an original-message separator, an Outlook header block ("From:",
// "Sent:", "Subject:") or an attribution line not followed by '>' lines.
// Attribution lines are the heading path of the text they introduce, one
// level per depth of quoting.
func parseEmail(b *builder) {
	src := b.d.source
	lines := splitLines(src)

	var (
		stack      []heading
		quotedRest bool // every line from here on is quoted
		paraStart  = -1
		paraEnd    int
		// sectionDepth is how deep the lines of the current section are
		// quoted; -1 before the first section and after a line that
		// changes the heading path.
		sectionDepth = -1
	)
	flush := func() {
		if paraStart >= 0 {
			b.paragraph(paraStart, paraEnd)
		}
		paraStart = -1
	}
	// newSection ends the paragraph and the section at a line that changes
	// the heading path.
	newSection := func() {
		flush()
		sectionDepth = -1
	}

	for i := 0; i < len(lines); i++ {
		depth, content := quoteDepth(src[lines[i].start:lines[i].end])
		if quotedRest {
			depth++
		}

		if n, text := attribution(src, lines, i); n > 0 {
			newSection()
			stack = pushHeading(stack, heading{level: depth + 1, text: text})
			if depth == 0 && !quotedNext(src, lines, i+n) {
				quotedRest = true
			}
			i += n - 1
			continue
		}
		if depth == 0 {
			if title, ok := separatorTitle(content); ok {
				newSection()
				quotedRest = true
				stack = pushHeading(stack, heading{level: 1, text: title})
				continue
			}
			if outlookHeader(src, lines, i) {
				newSection()
				quotedRest = true
				stack = pushHeading(stack, heading{level: 1, text: strings.TrimSpace(content)})
				depth = 1
			}
		}

		// A line quoted to another depth starts a section, even a blank
		// one, so fresh and quoted text never share a chunk; a blank line
		// without quote markers only ends a paragraph.
		if depth != sectionDepth && (depth > 0 || !isBlank(content)) {
			flush()
			b.boundary()
			b.headings, b.quoted = quotedPath(stack, depth), depth > 0
			sectionDepth = depth
		}
		if isBlank(content) || isRule(strings.TrimSpace(content)) {
			flush()
			continue
		}
		if paraStart < 0 {
			paraStart = lines[i].start
		}
		paraEnd = lines[i].end
	}
	flush()
}

// quotedPath returns the heading path of text quoted depth times: the
// attribution lines of the levels down to depth.
func quotedPath(stack []heading, depth int) []string {
	var path []string
	for _, h := range stack {
		if h.level <= depth && h.text != "" {
			path = append(path, h.text)
		}
	}
	return path
}

// quoteDepth returns how many '>' markers quote text, and the text after
// them.
func quoteDepth(text string) (int, string) {
	depth, i := 0, 0
	for {
		j := i
		for j < len(text) && j-i < 3 && text[j] == ' ' {
			j++
		}
		if j >= len(text) || text[j] != '>' {
			return depth, text[i:]
		}
		depth++
		i = j + 1
		if i < len(text) && text[i] == ' ' {
			i++
		}
	}
}

// attribution reports whether line i, alone or with the next line, is an
// attribution ("On <date>, <name> wrote:"), and returns how many lines it
// takes and its text. A line ending in "wrote:" without the usual opening
// counts when quoted lines follow it.
func attribution(src string, lines []line, i int) (int, string) {
	depth, first := quoteDepth(src[lines[i].start:lines[i].end])
	first = strings.TrimSpace(first)
	if first == "" || len(first) > maxAttributionBytes {
		return 0, ""
	}
	opens := hasAnyPrefix(strings.ToLower(first), attributionPrefixes)
	if hasAnySuffix(strings.ToLower(first), attributionSuffixes) {
		if opens || quotedDeeper(src, lines, i+1, depth) {
			return 1, first
		}
		return 0, ""
	}
	if !opens || i+1 >= len(lines) {
		return 0, ""
	}
	nextDepth, second := quoteDepth(src[lines[i+1].start:lines[i+1].end])
	second = strings.TrimSpace(second)
	if nextDepth != depth || second == "" || len(first)+len(second) > maxAttributionBytes ||
		!hasAnySuffix(strings.ToLower(second), attributionSuffixes) {
		return 0, ""
	}
	return 2, first + " " + second
}

// quotedNext reports whether the first non-blank line from line j on is
// quoted with '>'.
func quotedNext(src string, lines []line, j int) bool {
	return quotedDeeper(src, lines, j, 0)
}

// quotedDeeper reports whether the first non-blank line from line j on is
// quoted more than depth times.
func quotedDeeper(src string, lines []line, j, depth int) bool {
	for ; j < len(lines); j++ {
		d, content := quoteDepth(src[lines[j].start:lines[j].end])
		if d > depth {
			return true
		}
		if !isBlank(content) {
			return false
		}
	}
	return false
}

// separatorTitle reports whether content is an original-message separator
// such as "-----Original Message-----", and returns its title.
func separatorTitle(content string) (string, bool) {
	title := strings.Trim(strings.TrimSpace(content), "-_=* ")
	for _, s := range separatorTitles {
		if strings.EqualFold(title, s) {
			return title, true
		}
	}
	return "", false
}

// outlookHeader reports whether line i opens the header block Outlook puts
// above the message it replies to: a "From:" line followed within a few
// lines by "Sent:" or "Date:" and by "Subject:" or "To:".
func outlookHeader(src string, lines []line, i int) bool {
	_, content := quoteDepth(src[lines[i].start:lines[i].end])
	if !hasAnyPrefix(strings.ToLower(strings.TrimSpace(content)), []string{"from:"}) {
		return false
	}
	sent, subject := false, false
	for j := i + 1; j < len(lines) && j <= i+6; j++ {
		next := strings.ToLower(strings.TrimSpace(src[lines[j].start:lines[j].end]))
		sent = sent || hasAnyPrefix(next, []string{"sent:", "date:"})
		subject = subject || hasAnyPrefix(next, []string{"subject:", "to:"})
	}
	return sent && subject
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func hasAnySuffix(s string, suffixes []string) bool {
	for _, p := range suffixes {
		if strings.HasSuffix(s, p) {
			return true
		}
	}
	return false
}
