package index

import (
	"math"
	"strings"
	"unicode"
	"unicode/utf8"
)

// BM25 parameters: term frequency saturation and length normalisation.
const (
	bm25K1 = 1.2
	bm25B  = 0.75
)

// maxTokenBytes bounds one keyword token; longer runs are cut, so a query
// or document of one giant word cannot make huge map keys.
const maxTokenBytes = 64

// keywordStopwords are too common to rank by.
var keywordStopwords = func() map[string]bool {
	words := strings.Fields(`a an and are as at be but by can do does for from has have how
i if in into is it its me my not of on or our so that the their them then there these
they this to was we were what when where which who why will with you your`)
	set := make(map[string]bool, len(words))
	for _, w := range words {
		set[w] = true
	}
	return set
}()

// Tokenize returns the keyword tokens of text: lowercase runs of letters and
// digits of at most maxTokenBytes, stopwords dropped, plural s and the
// endings ing and ed stripped. Query and chunk text go through the same
// function, so their tokens meet.
func Tokenize(text string) []string {
	var tokens []string
	start := -1
	flush := func(end int) {
		if start < 0 {
			return
		}
		word := strings.ToLower(text[start:end])
		start = -1
		if len(word) > maxTokenBytes {
			word = truncateRunes(word, maxTokenBytes)
		}
		if keywordStopwords[word] {
			return
		}
		tokens = append(tokens, stemKeyword(word))
	}
	for i, r := range text {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if start < 0 {
				start = i
			}
			continue
		}
		flush(i)
	}
	flush(len(text))
	return tokens
}

// stemKeyword strips a plural s and the endings ing and ed from words long
// enough to keep a stem.
func stemKeyword(w string) string {
	switch n := len(w); {
	case n > 4 && strings.HasSuffix(w, "ies"):
		return w[:n-3] + "y"
	case n > 3 && strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") &&
		!strings.HasSuffix(w, "us") && !strings.HasSuffix(w, "is"):
		return w[:n-1]
	case n > 5 && strings.HasSuffix(w, "ing"):
		return w[:n-3]
	case n > 4 && strings.HasSuffix(w, "ed"):
		return w[:n-2]
	}
	return w
}

// truncateRunes cuts s to at most limit bytes on a rune boundary.
func truncateRunes(s string, limit int) string {
	for limit > 0 && !utf8.RuneStart(s[limit]) {
		limit--
	}
	return s[:limit]
}

// keywordScores returns the BM25 score of every entry by position, 0 for an
// entry without a query term or not allowed. The caller holds mu.
func (ti *tenantIndex) keywordScores(query string, allowed func(*entry) bool) []float64 {
	n := float64(len(ti.entries))
	if n == 0 {
		return nil
	}
	avgLen := float64(ti.totalLen) / n

	var scores []float64
	seen := make(map[string]bool)
	for _, term := range Tokenize(query) {
		if seen[term] {
			continue
		}
		seen[term] = true

		posting := ti.postings[term]
		if len(posting) == 0 {
			continue
		}
		if scores == nil {
			scores = make([]float64, len(ti.entries))
		}
		df := float64(len(posting))
		idf := math.Log(1 + (n-df+0.5)/(df+0.5))
		for e, tf := range posting {
			if !allowed(e) {
				continue
			}
			f := float64(tf)
			norm := 1 - bm25B + bm25B*float64(e.length)/max(avgLen, 1)
			scores[e.idx] += idf * f * (bm25K1 + 1) / (f + bm25K1*norm)
		}
	}
	return scores
}
