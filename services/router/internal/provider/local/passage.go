package local

import (
	"regexp"
	"strings"
	"unicode"

	"github.com/keelhq/keel/services/router/internal/provider"
)

// minSentenceWords is the fewest words a passage sentence needs to be
// quoted; shorter pieces are labels and fragments rather than statements.
const minSentenceWords = 4

// orderedItem matches the marker of a numbered list item: "1. " or "2) ".
var orderedItem = regexp.MustCompile(`^\d{1,3}[.)]\s`)

// unwrap undoes the hard line wrapping of Markdown text. A line that
// continues a paragraph or a list item is joined to it with one space; blank
// lines, headings, list items, table rows, block quotes and fenced code keep
// their own lines.
func unwrap(text string) string {
	var (
		out []string
		// open says whether the last output line is prose that a wrapped
		// line may continue.
		open    bool
		inFence bool
	)
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)

		if isFence(trimmed) || inFence {
			if isFence(trimmed) {
				inFence = !inFence
			}
			out = append(out, strings.TrimRight(line, " \t\r"))
			open = false
			continue
		}
		if trimmed == "" {
			out = append(out, "")
			open = false
			continue
		}
		if open && !startsBlock(trimmed) {
			out[len(out)-1] += " " + trimmed
			continue
		}
		out = append(out, trimmed)
		open = !isHeading(trimmed) && !isTableRow(trimmed)
	}
	return strings.Join(out, "\n")
}

// startsBlock reports whether a trimmed line opens a block of its own
// instead of continuing the line before it.
func startsBlock(line string) bool {
	return isHeading(line) || isTableRow(line) || isListItem(line) ||
		strings.HasPrefix(line, ">")
}

func isHeading(line string) bool { return strings.HasPrefix(line, "#") }

func isTableRow(line string) bool { return strings.HasPrefix(line, "|") }

func isFence(line string) bool {
	return strings.HasPrefix(line, "```") || strings.HasPrefix(line, "~~~")
}

func isListItem(line string) bool {
	return strings.HasPrefix(line, "- ") || strings.HasPrefix(line, "* ") ||
		strings.HasPrefix(line, "+ ") || orderedItem.MatchString(line)
}

// stripListMarker removes the bullet or number of a list item.
func stripListMarker(line string) string {
	if !isListItem(line) {
		return line
	}
	if loc := orderedItem.FindStringIndex(line); loc != nil {
		return strings.TrimSpace(line[loc[1]:])
	}
	return strings.TrimSpace(line[2:])
}

// passageSentences returns the sentences of a passage that can be quoted on
// their own, in reading order. The passage is unwrapped first; headings,
// table rows and code are skipped, and list markers are dropped. Every
// sentence is a verbatim piece of the unwrapped passage.
//
// A list item often reads right only after its lead-in: under "What we
// cannot do", the item "Refund by bank transfer." states the opposite of
// the policy when quoted alone. So the first sentence of a list item is
// skipped when the list's lead-in, or else its section heading (the last
// part of the passage title until the text names another), is negative.
func passageSentences(p provider.Passage) []string {
	var (
		sentences []string
		inFence   bool
		heading   = p.Title[strings.LastIndex(p.Title, ">")+1:]
		leadIn    = heading
	)
	for _, block := range strings.Split(unwrap(p.Text), "\n") {
		switch {
		case isFence(strings.TrimSpace(block)):
			inFence = !inFence
			continue
		case inFence, block == "", isTableRow(block), strings.HasPrefix(block, ">"):
			continue
		case isHeading(block):
			heading = strings.TrimLeft(block, "# ")
			leadIn = heading
			continue
		}

		item := isListItem(block)
		if !item {
			leadIn = heading
			if strings.HasSuffix(block, ":") {
				leadIn = block
			}
		}
		pieces := joinAbbreviations(provider.SplitSentences(stripListMarker(block)))
		for i, s := range pieces {
			if item && i == 0 && negative(leadIn) {
				continue
			}
			if quotable(s) {
				sentences = append(sentences, s)
			}
		}
	}
	return sentences
}

// negative reports whether text says what is not done or not covered.
func negative(text string) bool {
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && r != '\'' && r != '’'
	}) {
		switch {
		case w == "not", w == "no", w == "never", w == "cannot", w == "nor",
			strings.HasSuffix(w, "n't"), strings.HasSuffix(w, "n’t"):
			return true
		}
	}
	return false
}

// abbreviations end with a full stop without ending a sentence.
var abbreviations = map[string]bool{
	"a.m.": true, "p.m.": true, "e.g.": true, "i.e.": true, "approx.": true,
	"inc.": true, "ltd.": true, "no.": true, "vs.": true, "st.": true,
	"mr.": true, "mrs.": true, "ms.": true, "dr.": true,
}

// joinAbbreviations puts back together the pieces of one sentence that
// provider.SplitSentences cut after an abbreviation such as "p.m.".
func joinAbbreviations(pieces []string) []string {
	var out []string
	for i, p := range pieces {
		if i > 0 && endsWithAbbreviation(pieces[i-1]) {
			out[len(out)-1] += " " + p
			continue
		}
		out = append(out, p)
	}
	return out
}

func endsWithAbbreviation(s string) bool {
	last := s[strings.LastIndexAny(s, " \t")+1:]
	last = strings.TrimLeft(last, "(\"'*")
	return abbreviations[strings.ToLower(last)]
}

// quotable reports whether a sentence reads as a statement on its own: it
// has a few words, does not start in lower case (the tail of a list that
// reads as one sentence) and ends with a full stop, question or exclamation
// mark (not a colon, which leads into a list).
func quotable(s string) bool {
	if len(strings.Fields(s)) < minSentenceWords {
		return false
	}
	first := strings.TrimLeft(s, "*\"'(")
	if first == "" || unicode.IsLower([]rune(first)[0]) {
		return false
	}
	end := strings.TrimRight(s, "*\"')")
	return strings.HasSuffix(end, ".") || strings.HasSuffix(end, "!") ||
		strings.HasSuffix(end, "?")
}
