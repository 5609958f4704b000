package provider

import (
	"strconv"
	"strings"
)

// groundingInstructions tell the model to answer from the numbered sources
// only.
const groundingInstructions = "You draft replies for a customer support team. " +
	"Answer only from the numbered sources below and cite each source you use as [n]. " +
	"If the sources do not answer the question, say that you could not find it " +
	"in the help articles and that a colleague will follow up. " +
	"Keep placeholders such as [EMAIL_1] or [PERSON_1] exactly as written; " +
	"never guess what they stand for."

// GroundingPrompt returns the system prompt of a grounded request: the
// instructions and the passages numbered from 1, which is how the reply's
// [n] citations are read back by ParseCitations.
func GroundingPrompt(passages []Passage) string {
	var b strings.Builder
	b.WriteString(groundingInstructions)
	b.WriteString("\n\nSources:")
	if len(passages) == 0 {
		b.WriteString("\n(none)")
	}
	for i, p := range passages {
		b.WriteString("\n\n[")
		b.WriteString(strconv.Itoa(i + 1))
		b.WriteByte(']')
		if p.Title != "" {
			b.WriteString(" " + p.Title)
		}
		b.WriteString("\n" + p.Text)
	}
	return b.String()
}
