package local

import (
	"math"
	"sort"
	"strings"
	"unicode"

	"github.com/keelhq/keel/services/router/internal/provider"
)

// Limits and thresholds of sentence selection and confidence.
const (
	// maxSentences caps how many passage sentences one reply quotes.
	maxSentences = 3
	// minShareOfBest drops a sentence that scores less than this share of
	// the best sentence: it answers the question much less well.
	minShareOfBest = 0.35
	// maxDuplicateOverlap is the largest share of shared content words two
	// quoted sentences may have; above it they say the same thing.
	maxDuplicateOverlap = 0.7
	// keyWords is how many of the question's heaviest words the confidence
	// looks at.
	keyWords = 8
	// minQuestionWords is the fewest content words a question needs to be
	// answered with confidence.
	minQuestionWords = 3
	// vagueQuestionConfidence caps the confidence of a question with fewer
	// than minQuestionWords content words.
	vagueQuestionConfidence = 0.15
)

// candidate is a passage sentence and how well it matches the question.
type candidate struct {
	passage  int // 0-based index into the passages
	position int // index of the sentence within its passage
	text     string
	words    map[string]bool
	// shared are the question's words the sentence contains.
	shared map[string]bool
	score  float64
	policy bool
}

// selection is the outcome of matching a question against passages.
type selection struct {
	// chosen are the sentences to quote, in passage and reading order.
	chosen []candidate
	// confidence says how well chosen covers the question, from 0 to 1.
	confidence float64
}

// selectSentences picks up to maxSentences passage sentences that answer
// the question and rates how well they do.
//
// A word's weight is its inverse document frequency over all candidate
// sentences, ln(1 + N/df), times subjectWeight for words of the subject
// line: a word found in few sentences tells more about which sentence
// answers than one found in many. A sentence scores the summed weight of the
// question words it contains. Sentences are taken best first, a sentence
// that states a policy detail (a number, a period, a fee) winning a tie,
// skipping near-duplicates and sentences that add no new question word.
//
// The confidence is the weighted share of the question's keyWords heaviest
// words (among those the passages contain at all) that the chosen sentences
// cover. It is 0 when no sentence qualifies and at most
// vagueQuestionConfidence when the question has fewer than minQuestionWords
// content words.
func selectSentences(text string, passages []provider.Passage) selection {
	q := parseQuestion(text)
	if len(q.weights) == 0 {
		return selection{}
	}

	candidates := passageCandidates(passages)
	weights := wordWeights(q, candidates)

	// One shared word is enough for a short question; longer ones need two
	// so that a stray word does not pull in an unrelated sentence.
	minShared := 1
	if len(q.weights) >= 4 {
		minShared = 2
	}
	var matching []candidate
	for _, c := range candidates {
		c.shared = make(map[string]bool)
		// Sum in a fixed order so that equal inputs give equal scores to the
		// last bit.
		for _, w := range sortedWords(c.words) {
			if weights[w] > 0 {
				c.shared[w] = true
				c.score += weights[w]
			}
		}
		if len(c.shared) >= minShared {
			matching = append(matching, c)
		}
	}
	if len(matching) == 0 {
		return selection{}
	}

	chosen := choose(matching)
	return selection{chosen: chosen, confidence: confidence(q, weights, chosen)}
}

// passageCandidates returns the quotable sentences of every passage with
// their content words.
func passageCandidates(passages []provider.Passage) []candidate {
	var candidates []candidate
	for pi, p := range passages {
		for si, s := range passageSentences(p) {
			candidates = append(candidates, candidate{
				passage:  pi,
				position: si,
				text:     s,
				words:    keywords(s),
				policy:   statesPolicy(s),
			})
		}
	}
	return candidates
}

// wordWeights returns the weight of every question word that occurs in at
// least one candidate sentence.
func wordWeights(q question, candidates []candidate) map[string]float64 {
	df := make(map[string]int)
	for _, c := range candidates {
		for w := range c.words {
			if q.weights[w] > 0 {
				df[w]++
			}
		}
	}

	n := float64(len(candidates))
	weights := make(map[string]float64, len(df))
	for w, d := range df {
		weights[w] = q.weights[w] * math.Log(1+n/float64(d))
	}
	return weights
}

// choose takes the best sentences of matching and returns them in passage
// and reading order.
func choose(matching []candidate) []candidate {
	sort.SliceStable(matching, func(i, j int) bool {
		a, b := matching[i], matching[j]
		if math.Abs(a.score-b.score) > 1e-9 {
			return a.score > b.score
		}
		if a.policy != b.policy {
			return a.policy
		}
		if a.passage != b.passage {
			return a.passage < b.passage
		}
		return a.position < b.position
	})

	var (
		chosen  []candidate
		covered = make(map[string]bool)
		best    = matching[0].score
	)
	for _, c := range matching {
		if len(chosen) == maxSentences || c.score < minShareOfBest*best {
			break
		}
		if addsNothing(c, covered) || duplicates(c, chosen) {
			continue
		}
		chosen = append(chosen, c)
		for w := range c.shared {
			covered[w] = true
		}
	}

	sort.Slice(chosen, func(i, j int) bool {
		if chosen[i].passage != chosen[j].passage {
			return chosen[i].passage < chosen[j].passage
		}
		return chosen[i].position < chosen[j].position
	})
	return chosen
}

func sortedWords(set map[string]bool) []string {
	words := make([]string, 0, len(set))
	for w := range set {
		words = append(words, w)
	}
	sort.Strings(words)
	return words
}

func addsNothing(c candidate, covered map[string]bool) bool {
	for w := range c.shared {
		if !covered[w] {
			return false
		}
	}
	return true
}

// duplicates reports whether c says nearly the same as a chosen sentence:
// the same text, or most content words in common.
func duplicates(c candidate, chosen []candidate) bool {
	for _, o := range chosen {
		if o.text == c.text || jaccard(o.words, c.words) > maxDuplicateOverlap {
			return true
		}
	}
	return false
}

func jaccard(a, b map[string]bool) float64 {
	if len(a) == 0 && len(b) == 0 {
		return 1
	}
	both := 0
	for w := range a {
		if b[w] {
			both++
		}
	}
	return float64(both) / float64(len(a)+len(b)-both)
}

// confidence is the weighted share of the question's heaviest words that
// the chosen sentences cover; see selectSentences.
//
// TODO: count question words that no passage contains. They are left out
// because offline a personal detail ("Christmas", a street name) cannot be
// told from a topic the retrieved articles miss, so a question only partly
// about those articles can still score high.
func confidence(q question, weights map[string]float64, chosen []candidate) float64 {
	if len(chosen) == 0 {
		return 0
	}

	key := make([]string, 0, len(weights))
	for w := range weights {
		key = append(key, w)
	}
	sort.Slice(key, func(i, j int) bool {
		if weights[key[i]] != weights[key[j]] {
			return weights[key[i]] > weights[key[j]]
		}
		return key[i] < key[j]
	})
	if len(key) > keyWords {
		key = key[:keyWords]
	}

	var covered, total float64
	for _, w := range key {
		total += weights[w]
		for _, c := range chosen {
			if c.shared[w] {
				covered += weights[w]
				break
			}
		}
	}
	conf := covered / total
	if len(q.weights) < minQuestionWords {
		conf = math.Min(conf, vagueQuestionConfidence)
	}
	return conf
}

// policyWords are words that mark a sentence stating a rule: a period, a
// limit or a price.
var policyWords = map[string]bool{
	"day": true, "days": true, "week": true, "weeks": true, "month": true,
	"months": true, "year": true, "years": true, "hour": true, "hours": true,
	"minutes": true, "fee": true, "fees": true, "free": true, "cost": true,
	"costs": true, "charge": true, "charged": true, "within": true,
}

// statesPolicy reports whether s states a rule: it has a number, a price or
// a percentage, or names a period, a limit or a fee.
func statesPolicy(s string) bool {
	if strings.ContainsAny(s, "$%€£") || strings.ContainsFunc(s, unicode.IsDigit) {
		return true
	}
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r)
	}) {
		if policyWords[w] {
			return true
		}
	}
	return false
}
