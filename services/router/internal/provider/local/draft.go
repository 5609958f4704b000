package local

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode"

	"github.com/keelhq/keel/services/router/internal/provider"
)

// placeholder matches a redaction placeholder such as [EMAIL_1].
var placeholder = regexp.MustCompile(`\[[A-Z][A-Z_]*_\d+\]`)

// personPlaceholder matches the placeholder of a redacted name.
var personPlaceholder = regexp.MustCompile(`\[PERSON_\d+\]`)

// draft is a reply with the confidence it deserves.
type draft struct {
	text       string
	confidence float64
}

// candidate is a passage sentence and how well it matches the question.
type candidate struct {
	passage  int // 0-based index into the passages
	sentence int
	text     string
	matched  map[string]bool
}

func draftReply(question string, passages []provider.Passage, toolResults []provider.Message) draft {
	var b strings.Builder

	greeting := "Hello,"
	if name := personPlaceholder.FindString(question); name != "" {
		greeting = "Hello " + name + ","
	}
	b.WriteString(greeting + "\n\nThank you for contacting us.")

	// Answer the order question from the tool result, if there is one.
	if len(toolResults) > 0 {
		b.WriteString(" " + orderStatus(toolResults[len(toolResults)-1]))
	}

	// Quote the most relevant passage sentences, or say there are none.
	chosen, coverage := relevantSentences(question, passages)
	if len(chosen) == 0 {
		b.WriteString("\n\n" + NotFoundSentence)
	} else {
		b.WriteString("\n\nHere is what our help articles say:")
		for _, c := range chosen {
			fmt.Fprintf(&b, "\n%s [%d]", c.text, c.passage+1)
		}
	}

	b.WriteString("\n\nIf anything is unclear, just reply to this message.\n\nKind regards,\nCustomer Support")
	return draft{text: b.String(), confidence: coverage}
}

// relevantSentences returns up to maxSentences passage sentences that share
// enough words with the question, best first, and the share of the
// question's words they cover together.
func relevantSentences(question string, passages []provider.Passage) ([]candidate, float64) {
	query := keywords(question)
	if len(query) == 0 {
		return nil, 0
	}
	// One shared word is enough for a short question; longer ones need two
	// so that a stray common word does not pull in an unrelated article.
	minOverlap := 1
	if len(query) >= 4 {
		minOverlap = 2
	}

	var candidates []candidate
	for pi, p := range passages {
		for si, s := range provider.SplitSentences(p.Text) {
			matched := make(map[string]bool)
			for w := range keywords(s) {
				if query[w] {
					matched[w] = true
				}
			}
			if len(matched) >= minOverlap {
				candidates = append(candidates, candidate{passage: pi, sentence: si, text: s, matched: matched})
			}
		}
	}
	sort.SliceStable(candidates, func(i, j int) bool {
		return len(candidates[i].matched) > len(candidates[j].matched)
	})

	var (
		chosen  []candidate
		seen    = make(map[string]bool)
		covered = make(map[string]bool)
	)
	for _, c := range candidates {
		if len(chosen) == maxSentences {
			break
		}
		if seen[c.text] {
			continue
		}
		seen[c.text] = true
		chosen = append(chosen, c)
		for w := range c.matched {
			covered[w] = true
		}
	}
	return chosen, float64(len(covered)) / float64(len(query))
}

// keywords returns the stemmed content words of text, without placeholders
// and stop words.
func keywords(text string) map[string]bool {
	text = placeholder.ReplaceAllString(text, " ")
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})

	set := make(map[string]bool)
	for _, w := range words {
		if len(w) < 2 || stopWords[w] {
			continue
		}
		set[stem(w)] = true
	}
	return set
}

// stem removes a few common English suffixes so that "refunds" and
// "refunded" match "refund".
func stem(w string) string {
	for _, suffix := range []string{"ing", "ed", "es", "s"} {
		if strings.HasSuffix(w, suffix) && len(w)-len(suffix) >= 3 {
			return strings.TrimSuffix(w, suffix)
		}
	}
	return w
}

// stopWords are words that say nothing about what a question is about,
// including the pleasantries of support email.
var stopWords = map[string]bool{
	"a": true, "about": true, "am": true, "an": true, "and": true, "any": true,
	"are": true, "as": true, "at": true, "be": true, "been": true, "but": true,
	"by": true, "can": true, "could": true, "dear": true, "did": true, "do": true,
	"does": true, "for": true, "from": true, "get": true, "had": true, "has": true,
	"have": true, "hello": true, "help": true, "hi": true, "how": true, "i": true,
	"if": true, "in": true, "is": true, "it": true, "its": true, "just": true,
	"kind": true, "me": true, "my": true, "no": true, "not": true, "of": true,
	"on": true, "or": true, "our": true, "please": true, "regards": true,
	"so": true, "thank": true, "thanks": true, "that": true, "the": true,
	"their": true, "them": true, "there": true, "this": true, "to": true,
	"us": true, "was": true, "we": true, "what": true, "when": true, "where": true,
	"which": true, "who": true, "why": true, "will": true, "with": true,
	"would": true, "you": true, "your": true,
}
