package embedder

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// stopwords carry no topic and are dropped before hashing. Negations stay:
// "not refundable" and "refundable" should differ.
const stopwords = `a about above after again all also am an and any are as at be because been
before being below between both but by can could did do does doing down during each
few for from further get got had has have having he her here hers him his how i if in
into is it its itself just me more most my myself of off on once only or other our
ours out over own same she should so some such than that the their theirs them then
there these they this those through to too under until up very was we were what when
where which while who whom why will with would you your yours`

// synonymGroups fold support-domain paraphrases into one canonical token,
// the first word of each group. Members are matched after stemming.
var synonymGroups = [][]string{
	{"refund", "refunds", "reimburse", "reimbursement", "repay", "repayment", "chargeback"},
	{"ship", "shipping", "shipment", "shipped", "deliver", "delivery", "dispatch", "dispatched"},
	{"damaged", "damage", "broken", "broke", "defective", "defect", "faulty"},
	{"cancel", "cancelled", "canceled", "cancellation", "terminate", "termination", "unsubscribe"},
	{"password", "passcode", "login", "logon", "signin", "credential"},
	{"warranty", "guarantee", "guaranty"},
}

// synonymPhrases fold two-word paraphrases into a canonical group word.
// Both words are matched after stemming and before stopword removal, so
// "signing in" and "log in" fold although "in" is a stopword.
var synonymPhrases = map[[2]string]string{
	{"money", "back"}: "refund",
	{"pay", "back"}:   "refund",
	{"paid", "back"}:  "refund",
	{"sign", "in"}:    "password",
	{"sign", "on"}:    "password",
	{"log", "in"}:     "password",
	{"log", "on"}:     "password",
}

// Tokenizer turns text into the canonical tokens the Hashing embedder
// hashes. It is safe for concurrent use.
type Tokenizer struct {
	stopwords map[string]struct{}
	synonyms  map[string]string
	phrases   map[[2]string]string
}

// NewTokenizer returns a Tokenizer with the built-in stopwords and
// support-domain synonyms.
func NewTokenizer() *Tokenizer {
	t := &Tokenizer{
		stopwords: make(map[string]struct{}),
		synonyms:  make(map[string]string),
		phrases:   make(map[[2]string]string),
	}
	for _, w := range strings.Fields(stopwords) {
		t.stopwords[w] = struct{}{}
	}
	for _, group := range synonymGroups {
		canonical := stem(group[0])
		for _, member := range group {
			t.synonyms[stem(member)] = canonical
		}
	}
	for words, canonical := range synonymPhrases {
		t.phrases[[2]string{stem(words[0]), stem(words[1])}] = stem(canonical)
	}
	return t
}

// Tokens returns the canonical tokens of text in order: lowercase words of
// letters and digits, synonym phrases folded, stopwords and single letters
// dropped, the rest stemmed and folded into synonym groups.
func (t *Tokenizer) Tokens(text string) []string {
	words := splitWords(text)
	stems := make([]string, len(words))
	for i, w := range words {
		stems[i] = stem(w)
	}

	tokens := make([]string, 0, len(words))
	for i := 0; i < len(words); i++ {
		if i+1 < len(words) {
			if canonical, ok := t.phrases[[2]string{stems[i], stems[i+1]}]; ok {
				tokens = append(tokens, canonical)
				i++
				continue
			}
		}
		if _, ok := t.stopwords[words[i]]; ok {
			continue
		}
		if r, size := utf8.DecodeRuneInString(words[i]); size == len(words[i]) && !unicode.IsDigit(r) {
			continue
		}
		token := stems[i]
		if canonical, ok := t.synonyms[token]; ok {
			token = canonical
		}
		tokens = append(tokens, token)
	}
	return tokens
}

// splitWords returns the lowercase runs of letters and digits in text.
func splitWords(text string) []string {
	var (
		words []string
		b     strings.Builder
	)
	flush := func() {
		if b.Len() > 0 {
			words = append(words, b.String())
			b.Reset()
		}
	}
	for _, r := range text {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		flush()
	}
	flush()
	return words
}

// stem strips common English inflections: plural s/es/ies, ing, ed and a
// final e, undoubling a final consonant left behind ("shipped" -> "ship").
// It is deliberately light; related forms need only meet, not be words.
func stem(w string) string {
	switch n := len(w); {
	case n > 4 && strings.HasSuffix(w, "ies"):
		w = w[:n-3] + "y"
	case n > 4 && strings.HasSuffix(w, "sses"):
		w = w[:n-2]
	case n > 3 && strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") &&
		!strings.HasSuffix(w, "us") && !strings.HasSuffix(w, "is"):
		w = w[:n-1]
	}

	switch n := len(w); {
	case n > 5 && strings.HasSuffix(w, "ing"):
		w = undouble(w[:n-3])
	case n > 4 && strings.HasSuffix(w, "ed"):
		w = undouble(w[:n-2])
	}

	if n := len(w); n > 3 && strings.HasSuffix(w, "e") {
		w = w[:n-1]
	}
	return w
}

// undouble drops one of two equal final consonants, except l, s and z which
// English doubles in the stem itself ("bill", "pass", "buzz").
func undouble(w string) string {
	n := len(w)
	if n < 3 || w[n-1] != w[n-2] {
		return w
	}
	if strings.IndexByte("aeiouylsz", w[n-1]) >= 0 || w[n-1] >= utf8.RuneSelf {
		return w
	}
	return w[:n-1]
}
