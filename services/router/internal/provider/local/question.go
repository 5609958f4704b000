package local

import (
	"regexp"
	"strings"
	"unicode"
)

// subjectWeight is how much more a word of the email's subject line counts
// than a word of its body: the subject usually names the topic.
const subjectWeight = 2.0

// placeholder matches a redaction placeholder such as [EMAIL_1].
var placeholder = regexp.MustCompile(`\[[A-Z][A-Z_]*_\d+\]`)

// orderReference matches an order number such as ORD-10421. Order numbers
// are looked up with the tool; as words they only match the example numbers
// of help articles.
var orderReference = regexp.MustCompile(`(?i)\bORD-\d+`)

// subjectLine matches the subject line the support workflow puts before the
// body of an email: "Subject: ...".
var subjectLine = regexp.MustCompile(`(?i)^\s*subject:[ \t]*(.*)`)

// question is what the customer asked, reduced to its content words.
type question struct {
	// weights holds the stemmed content words: subjectWeight for words of
	// the subject line, 1 for the others.
	weights map[string]float64
}

// parseQuestion reads the customer's message. When it starts with a
// "Subject:" line, the subject's words weigh more. Of the body it keeps the
// paragraphs that hold a sentence (a full stop, question or exclamation
// mark): address blocks, sign-offs and "Sent from my phone" lines carry
// words that say nothing about the question. Quoted lines of earlier
// messages ("> ...") are dropped too.
func parseQuestion(text string) question {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	q := question{weights: make(map[string]float64)}

	subject, body := "", text
	if m := subjectLine.FindStringSubmatch(firstLine(text)); m != nil {
		subject = m[1]
		_, body, _ = strings.Cut(text, "\n")
	}

	for w := range keywords(prose(body)) {
		q.weights[w] = 1
	}
	for w := range keywords(subject) {
		q.weights[w] = subjectWeight
	}
	return q
}

func firstLine(text string) string {
	line, _, _ := strings.Cut(text, "\n")
	return line
}

// prose returns the paragraphs of body that hold a sentence, without quoted
// lines. A body without any sentence mark is returned whole, so that a
// question typed without punctuation still counts.
func prose(body string) string {
	var lines []string
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), ">") {
			lines = append(lines, line)
		}
	}

	var kept []string
	for _, para := range strings.Split(strings.Join(lines, "\n"), "\n\n") {
		if strings.ContainsAny(para, ".?!¿¡") {
			kept = append(kept, para)
		}
	}
	if len(kept) == 0 {
		return body
	}
	return strings.Join(kept, "\n\n")
}

// keywords returns the stemmed content words of text, without placeholders,
// numbers and stop words.
func keywords(text string) map[string]bool {
	text = placeholder.ReplaceAllString(text, " ")
	text = orderReference.ReplaceAllString(text, " ")
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})

	set := make(map[string]bool)
	for _, w := range words {
		if len(w) < 2 || stopWords[w] || strings.ContainsFunc(w, unicode.IsDigit) {
			continue
		}
		set[stem(w)] = true
	}
	return set
}

// stem reduces an English word to a crude stem so that "refunds",
// "refunded" and "refunding" match "refund", "deliveries" matches
// "delivery" and "damaged" matches "damage". Both sides of a comparison go
// through it, so a stem need not be a word.
func stem(w string) string {
	if len(w) <= 3 {
		return w
	}
	if base, ok := irregularPlurals[w]; ok {
		w = base
	}
	switch {
	case strings.HasSuffix(w, "ies") && len(w) > 4:
		w = w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "sses"), strings.HasSuffix(w, "xes"),
		strings.HasSuffix(w, "ches"), strings.HasSuffix(w, "shes"):
		w = w[:len(w)-2]
	case strings.HasSuffix(w, "ss"), strings.HasSuffix(w, "us"), strings.HasSuffix(w, "is"):
		// address, status, analysis: not plurals.
	case strings.HasSuffix(w, "s"):
		w = w[:len(w)-1]
	case strings.HasSuffix(w, "ing") && len(w) >= 6:
		w = undouble(w[:len(w)-3])
	case strings.HasSuffix(w, "eed"):
		// need, agreed: the "ed" is part of the word.
	case strings.HasSuffix(w, "ed") && len(w) >= 5:
		w = undouble(w[:len(w)-2])
	case strings.HasSuffix(w, "ed"):
		w = w[:len(w)-1] // used -> use
	}
	if len(w) >= 4 && strings.HasSuffix(w, "e") && !strings.HasSuffix(w, "ee") {
		w = w[:len(w)-1]
	}
	return w
}

// undouble drops the doubled last consonant that "shipped" and "shipping"
// add to "ship", and the British "ll" of "cancelled" and "labelled" while
// leaving "called" and "filled" alone.
func undouble(w string) string {
	n := len(w)
	if n < 3 || w[n-1] != w[n-2] || strings.ContainsRune("aeiousz", rune(w[n-1])) {
		return w
	}
	if w[n-1] == 'l' && n < 6 {
		return w
	}
	return w[:n-1]
}

// irregularPlurals maps plurals that the suffix rules of stem miss.
var irregularPlurals = map[string]string{
	"children": "child", "knives": "knife", "people": "person", "shelves": "shelf",
}

// stopWords are words that say nothing about what a question is about,
// including the pleasantries of support email.
var stopWords = map[string]bool{
	"a": true, "about": true, "after": true, "again": true, "all": true, "also": true,
	"am": true, "an": true, "and": true, "any": true, "are": true, "as": true,
	"at": true, "be": true, "because": true, "been": true, "before": true,
	"but": true, "by": true, "can": true, "cannot": true, "could": true,
	"dear": true, "did": true, "do": true, "does": true, "don": true, "during": true, "for": true,
	"from": true, "fw": true, "fwd": true, "get": true, "got": true, "had": true,
	"has": true, "have": true, "he": true, "hello": true, "help": true,
	"her": true, "here": true, "hi": true, "him": true, "his": true, "how": true,
	"i": true, "if": true, "in": true, "into": true, "is": true, "it": true,
	"its": true, "just": true, "kind": true, "ll": true, "many": true, "me": true,
	"more": true, "much": true, "my": true, "no": true, "not": true, "now": true,
	"of": true, "on": true, "one": true, "only": true, "or": true, "our": true,
	"out": true, "please": true, "re": true, "regards": true, "she": true,
	"should": true, "since": true, "so": true, "some": true, "still": true,
	"than": true, "thank": true, "thanks": true, "that": true, "the": true,
	"their": true, "them": true, "then": true, "there": true, "these": true,
	"they": true, "this": true, "those": true, "to": true, "too": true,
	"up": true, "us": true, "very": true, "ve": true, "was": true, "we": true,
	"were": true, "what": true, "when": true, "where": true, "whether": true,
	"which": true, "who": true, "why": true, "will": true, "with": true,
	"would": true, "yet": true, "you": true, "your": true,
}
