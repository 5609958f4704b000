package local

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/keelhq/keel/services/router/internal/provider"
)

// personPlaceholder matches the placeholder of a redacted name.
var personPlaceholder = regexp.MustCompile(`\[PERSON_\d+\]`)

// draft is a reply with the confidence it deserves.
type draft struct {
	text       string
	confidence float64
}

// draftReply writes a short support reply: a greeting, the order status
// from the last tool result if there is one, the passage sentences that
// answer the question (each with its [n] marker) or NotFoundSentence, and a
// closing. Placeholders stay as they are.
func draftReply(
	question string,
	passages []provider.Passage,
	toolResults []provider.Message,
) draft {
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
	sel := selectSentences(question, passages)
	if len(sel.chosen) == 0 {
		b.WriteString("\n\n" + NotFoundSentence)
	} else {
		b.WriteString("\n\nHere is what our help articles say:")
		for _, c := range sel.chosen {
			fmt.Fprintf(&b, "\n%s [%d]", c.text, c.passage+1)
		}
	}

	b.WriteString("\n\nIf anything is unclear, just reply to this message.")
	b.WriteString("\n\nKind regards,\nCustomer Support")
	return draft{text: b.String(), confidence: sel.confidence}
}
