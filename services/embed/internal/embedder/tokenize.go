package embedder

import (
	"cmp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Tokenizer turns text into the canonical tokens the Hashing embedder
// hashes, and knows how much each token weighs. It is safe for concurrent
// use.
type Tokenizer struct {
	stopwords map[string]struct{}
	synonyms  map[string]string
	// phrases holds the synonym phrases by the stem of their first word,
	// longest first.
	phrases map[string][]phrase
	generic map[string]struct{}
}

// phrase is a synonym phrase without its first word.
type phrase struct {
	rest      []string
	canonical string
}

// NewTokenizer returns a Tokenizer with the built-in stopwords,
// support-domain synonyms and generic terms.
func NewTokenizer() *Tokenizer {
	t := &Tokenizer{
		stopwords: make(map[string]struct{}),
		synonyms:  make(map[string]string),
		phrases:   make(map[string][]phrase),
		generic:   make(map[string]struct{}),
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
	for text, canonical := range synonymPhrases {
		words := strings.Fields(text)
		for i, w := range words {
			words[i] = stem(w)
		}
		t.phrases[words[0]] = append(t.phrases[words[0]], phrase{rest: words[1:], canonical: t.canonical(stem(canonical))})
	}
	for first := range t.phrases {
		// Longest first, then by canonical token, so that matching does not
		// depend on map order.
		slices.SortFunc(t.phrases[first], func(a, b phrase) int {
			return cmp.Or(cmp.Compare(len(b.rest), len(a.rest)), slices.Compare(a.rest, b.rest))
		})
	}
	for _, w := range genericTerms {
		t.generic[t.canonical(stem(w))] = struct{}{}
	}
	return t
}

// Tokens returns the canonical tokens of text in order: lowercase words of
// letters and digits, stemmed, synonym phrases folded, stopwords and
// single letters dropped, the rest folded into synonym groups, and synonym
// phrases folded once more over what is left.
func (t *Tokenizer) Tokens(text string) []string {
	words := splitWords(text)
	stems := make([]string, len(words))
	for i, w := range words {
		stems[i] = stem(w)
	}

	tokens := make([]string, 0, len(words))
	for i := 0; i < len(words); {
		if canonical, n := t.matchPhrase(stems, i); n > 0 {
			tokens = append(tokens, canonical)
			i += n
			continue
		}
		word, token := words[i], stems[i]
		i++
		if _, ok := t.stopwords[word]; ok {
			continue
		}
		if r, size := utf8.DecodeRuneInString(word); size == len(word) && !unicode.IsDigit(r) {
			continue
		}
		tokens = append(tokens, t.canonical(token))
	}
	return t.foldPhrases(tokens)
}

// Weight returns how much the features of a canonical token weigh: less
// for terms that nearly every support article uses, 1 for the rest.
func (t *Tokenizer) Weight(token string) float64 {
	if _, ok := t.generic[token]; ok {
		return genericWeight
	}
	return 1
}

// canonical returns the canonical token of a stem.
func (t *Tokenizer) canonical(s string) string {
	if c, ok := t.synonyms[s]; ok {
		return c
	}
	return s
}

// matchPhrase returns the canonical token of the longest synonym phrase
// starting at seq[i] and the number of words it spans, or 0.
func (t *Tokenizer) matchPhrase(seq []string, i int) (string, int) {
	for _, p := range t.phrases[seq[i]] {
		if i+1+len(p.rest) <= len(seq) && slices.Equal(seq[i+1:i+1+len(p.rest)], p.rest) {
			return p.canonical, 1 + len(p.rest)
		}
	}
	return "", 0
}

// foldPhrases folds the synonym phrases that the dropped stopwords had
// split ("send it back"), in place.
func (t *Tokenizer) foldPhrases(tokens []string) []string {
	out := tokens[:0]
	for i := 0; i < len(tokens); {
		if canonical, n := t.matchPhrase(tokens, i); n > 1 {
			out = append(out, canonical)
			i += n
			continue
		}
		out = append(out, tokens[i])
		i++
	}
	return out
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

// stem maps an irregular verb form to its base form, then strips common
// English inflections: plural s/es/ies, ing, ied, ed and a final e,
// undoubling a final consonant left behind ("shipped" -> "ship").
// It is deliberately light; related forms need only meet, not be words.
func stem(w string) string {
	if base, ok := irregularForms[w]; ok {
		w = base
	}
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
	case n > 4 && strings.HasSuffix(w, "ied"):
		w = w[:n-3] + "y"
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
