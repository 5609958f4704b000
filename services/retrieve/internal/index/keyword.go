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

// keywordHits is the outcome of one keyword leg: the BM25 score of each
// entry it hit, by position, and those positions, whether or not the query
// may see the entry. Its memory is reused by later searches of the tenant
// once release returns it.
type keywordHits struct {
	// scores has a slot for every entry; those not hit hold 0.
	scores    []float64
	positions []int
}

// score returns the BM25 score of the entry at idx, 0 without a hit.
func (h *keywordHits) score(idx int) float64 {
	return h.scores[idx]
}

// best returns the limit best hits that keep accepts, best first; tie
// orders equal scores. keep is asked only about hits good enough to be
// among the best so far, so that a query term held by most of the tenant
// does not cost a filter check per posting.
func (h *keywordHits) best(limit int, tie func(a, b int) int, keep func(idx int) bool) []scored {
	top := newTopHits(limit, tie)
	for _, idx := range h.positions {
		hit := scored{idx: idx, score: h.scores[idx]}
		if top.admits(hit) && keep(idx) {
			top.add(hit)
		}
	}
	return top.best()
}

// keywordLeg scores the entries holding a term of query by BM25, reading
// only the posting lists of the query's terms. The caller holds mu until it
// has released the hits.
func (ti *tenantIndex) keywordLeg(query string) *keywordHits {
	h, _ := ti.keywordScratch.Get().(*keywordHits)
	if h == nil {
		h = new(keywordHits)
	}
	if len(h.scores) < len(ti.entries) {
		h.scores = make([]float64, len(ti.entries)+len(ti.entries)/4)
	}
	if len(ti.entries) == 0 {
		return h
	}
	n, avgLen := ti.corpusStats()
	for _, term := range uniqueTerms(query) {
		list := ti.postings[term]
		if len(list) == 0 {
			continue
		}
		// idf is positive, so a hit's score is too and a zero score marks
		// an entry not hit yet.
		idf := bm25IDF(n, len(list))
		for _, p := range list {
			if h.scores[p.pos] == 0 {
				h.positions = append(h.positions, int(p.pos))
			}
			h.scores[p.pos] += idf * bm25TF(float64(p.tf), float64(p.length), avgLen)
		}
	}
	return h
}

// bm25 returns the BM25 score of e for the query terms, as the keyword leg
// would give it. The caller holds mu.
func (ti *tenantIndex) bm25(e *entry, terms map[string]bool) float64 {
	if len(ti.entries) == 0 {
		return 0
	}
	n, avgLen := ti.corpusStats()
	var score float64
	for _, t := range e.terms {
		if terms[t.term] {
			score += bm25IDF(n, len(ti.postings[t.term])) * bm25TF(float64(t.tf), float64(e.length), avgLen)
		}
	}
	return score
}

// corpusStats returns the number of entries and their mean length in
// tokens, at least 1. The caller holds mu and the index is not empty.
func (ti *tenantIndex) corpusStats() (n, avgLen float64) {
	n = float64(len(ti.entries))
	return n, max(float64(ti.totalLen)/n, 1)
}

// bm25IDF is the inverse document frequency of a term held by df of n
// entries.
func bm25IDF(n float64, df int) float64 {
	d := float64(df)
	return math.Log(1 + (n-d+0.5)/(d+0.5))
}

// bm25TF is the saturated, length-normalised weight of a term found tf
// times in an entry of length tokens.
func bm25TF(tf, length, avgLen float64) float64 {
	norm := 1 - bm25B + bm25B*length/avgLen
	return tf * (bm25K1 + 1) / (tf + bm25K1*norm)
}

// uniqueTerms returns the keyword tokens of query, each once, in order.
func uniqueTerms(query string) []string {
	tokens := Tokenize(query)
	seen := make(map[string]bool, len(tokens))
	terms := tokens[:0]
	for _, term := range tokens {
		if !seen[term] {
			seen[term] = true
			terms = append(terms, term)
		}
	}
	return terms
}

// termSet returns the keyword tokens of query as a set.
func termSet(query string) map[string]bool {
	set := make(map[string]bool)
	for _, term := range Tokenize(query) {
		set[term] = true
	}
	return set
}

// release clears h and keeps its memory for the next keyword leg.
func (ti *tenantIndex) release(h *keywordHits) {
	for _, idx := range h.positions {
		h.scores[idx] = 0
	}
	h.positions = h.positions[:0]
	ti.keywordScratch.Put(h)
}
