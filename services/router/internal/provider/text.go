package provider

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// EstimateTokens approximates the token count of text as four tokens for
// every three words, which is close enough for English prose when a
// provider reports no usage.
func EstimateTokens(text string) int64 {
	return wordsToTokens(countWords(text))
}

// ReplyEstimate counts the words of a reply as it streams, so that the
// tokens of a reply cut off before the provider reported its usage can be
// estimated as EstimateTokens would estimate the whole text. A word split
// between two deltas counts once.
type ReplyEstimate struct {
	words  int
	inWord bool
}

// Add counts the words of the next piece of the reply.
func (e *ReplyEstimate) Add(text string) {
	for _, r := range text {
		space := unicode.IsSpace(r)
		if !space && !e.inWord {
			e.words++
		}
		e.inWord = !space
	}
}

// Tokens is the estimate for what was added so far.
func (e *ReplyEstimate) Tokens() int64 { return wordsToTokens(e.words) }

// wordsToTokens is four tokens for every three words.
func wordsToTokens(words int) int64 { return int64(words) * 4 / 3 }

// countWords counts the runs of non-space characters of s, as
// len(strings.Fields(s)) would, without building the slice.
func countWords(s string) int {
	var e ReplyEstimate
	e.Add(s)
	return e.words
}

// EstimateInputTokens approximates the prompt size of req: every message
// and every passage.
func EstimateInputTokens(req Request) int64 {
	var words int
	for _, m := range req.Messages {
		words += countWords(m.Content)
	}
	for _, p := range req.Passages {
		words += countWords(p.Title) + countWords(p.Text)
	}
	return wordsToTokens(words)
}

// citationMarker matches [1], [2] and lists such as [1, 3].
var citationMarker = regexp.MustCompile(`\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]`)

// ParseCitations returns the chunk ids of the passages that text cites as
// [n], in order of first citation. Markers outside 1..len(passages) are
// ignored.
func ParseCitations(text string, passages []Passage) []string {
	var (
		ids  []string
		seen = make(map[int]bool)
	)
	for _, m := range citationMarker.FindAllStringSubmatch(text, -1) {
		for _, part := range strings.Split(m[1], ",") {
			n, err := strconv.Atoi(strings.TrimSpace(part))
			if err != nil || n < 1 || n > len(passages) || seen[n] {
				continue
			}
			seen[n] = true
			ids = append(ids, passages[n-1].ChunkID)
		}
	}
	return ids
}

// CitedSentenceShare returns the share of sentences in text that carry a
// citation marker. It serves as the confidence of providers that report
// none themselves.
func CitedSentenceShare(text string) float64 {
	var sentences, cited int
	for _, s := range SplitSentences(text) {
		sentences++
		if citationMarker.MatchString(s) {
			cited++
		}
	}
	if sentences == 0 {
		return 0
	}
	return float64(cited) / float64(sentences)
}

// SplitSentences splits text at line breaks and after '.', '!' or '?'
// followed by a space (and an optional citation marker), and drops empty
// pieces.
func SplitSentences(text string) []string {
	var sentences []string
	for _, line := range strings.Split(text, "\n") {
		start := 0
		for i := 0; i < len(line); i++ {
			c := line[i]
			if c != '.' && c != '!' && c != '?' {
				continue
			}
			end := i + 1
			// Keep a citation marker right after the stop with its sentence.
			if loc := citationMarker.FindStringIndex(line[end:]); loc != nil &&
				strings.TrimSpace(line[end:end+loc[0]]) == "" {
				end += loc[1]
			}
			if end < len(line) && line[end] != ' ' && line[end] != '\t' {
				continue
			}
			appendSentence(&sentences, line[start:end])
			start = end
			i = end - 1
		}
		appendSentence(&sentences, line[start:])
	}
	return sentences
}

func appendSentence(sentences *[]string, s string) {
	if s = strings.TrimSpace(s); s != "" {
		*sentences = append(*sentences, s)
	}
}
