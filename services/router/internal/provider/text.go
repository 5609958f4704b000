package provider

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// EstimateTokens approximates the token count of text when a provider
// reports none: four tokens for every three words, or one for every four
// letters and digits when the words are long (identifiers, encoded data);
// one for every punctuation mark or symbol (JSON and code are mostly
// those); one for every two letters of other spaced scripts (Cyrillic,
// Greek, Arabic, Devanagari...), and one for every character of a script
// written without spaces (Chinese, Japanese, Korean, Thai...), where
// counting words would see a paragraph as one. It aims high rather than
// low, as limits and budgets hold it when usage is missing, but it is an
// estimate: a tokenizer's count can still be higher.
func EstimateTokens(text string) int64 {
	var e ReplyEstimate
	e.Add(text)
	return e.Tokens()
}

// EstimateReplyTokens approximates the tokens of a reply: its text and its
// tool calls, names and arguments (a reply that only calls tools is not
// free).
func EstimateReplyTokens(text string, calls []ToolCall) int64 {
	var e ReplyEstimate
	e.Add(text)
	for _, c := range calls {
		e.addSeparate(c.Name)
		e.addSeparate(c.Arguments)
	}
	return e.Tokens()
}

// ReplyEstimate counts a reply as it streams, so that the tokens of a
// reply cut off before the provider reported its usage are estimated as
// EstimateTokens would estimate the whole text. A word split between two
// deltas counts once.
type ReplyEstimate struct {
	words  int
	inWord bool
	// narrow counts the letters and digits of words; marks the punctuation
	// and symbols; other the letters of other spaced scripts; wide the
	// characters of scripts written without spaces. Only narrow ones make
	// words.
	narrow, marks, other, wide int
}

// Add counts the next piece of the reply.
func (e *ReplyEstimate) Add(text string) {
	for _, r := range text {
		switch {
		case unicode.IsSpace(r):
			e.inWord = false
		case unspaced(r):
			e.wide++
			e.inWord = false
		case unicode.IsPunct(r) || unicode.IsSymbol(r):
			e.marks++
			e.inWord = false
		case r >= 0x0250:
			// Past Latin: the letters of Cyrillic, Greek, Arabic and the
			// like take a token for every few, not per word.
			e.other++
			e.inWord = false
		default:
			e.narrow++
			if !e.inWord {
				e.words++
			}
			e.inWord = true
		}
	}
}

// Tokens is the estimate for what was added so far.
func (e *ReplyEstimate) Tokens() int64 {
	return max(int64(e.words)*4/3, int64(e.narrow)/4) + int64(e.marks) + int64(e.other+1)/2 + int64(e.wide)
}

// addSeparate counts text as a piece of its own: its first word is not the
// last one of what came before.
func (e *ReplyEstimate) addSeparate(text string) {
	e.inWord = false
	e.Add(text)
}

// unspaced reports whether r belongs to a script written without spaces
// between words, where a tokenizer spends about a token per character.
func unspaced(r rune) bool {
	return r >= 0x0E00 && unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul,
		unicode.Thai, unicode.Lao, unicode.Khmer, unicode.Myanmar)
}

// ErrOverran is why a reply was cut off: the provider ignored the
// max_tokens it was sent.
var ErrOverran = errors.New("the provider sent far more than max_tokens")

// Overran reports whether a reply estimated at tokens is far beyond the cap
// the provider was asked to keep (twice it, and some slack for the
// estimate): a provider that ignores max_tokens is cut off rather than
// allowed to send, and charge, without bound.
func Overran(maxTokens int, tokens int64) bool {
	return maxTokens > 0 && tokens > 2*int64(maxTokens)+64
}

// EstimateInputTokens approximates the prompt size of req: every message
// and every passage.
func EstimateInputTokens(req Request) int64 {
	var e ReplyEstimate
	for _, m := range req.Messages {
		e.addSeparate(m.Content)
	}
	for _, p := range req.Passages {
		e.addSeparate(p.Title)
		e.addSeparate(p.Text)
	}
	return e.Tokens()
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
