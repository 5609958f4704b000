package chunk

import (
	"unicode"
)

// EstimateTokens returns an estimate of how many tokens a subword tokenizer
// (BPE or WordPiece) makes of text, meant to err on the high side:
//
//   - a run of letters, digits and combining marks counts one token for
//     every four runes it holds, started ("the" is one, "refund" two);
//   - every other rune but white space counts one token: punctuation and
//     symbols (emoji included), and the letters of scripts written without
//     spaces between words (Han, Hiragana, Katakana, Hangul, Thai, Lao,
//     Khmer, Myanmar);
//   - white space counts nothing but ends a run.
//
// Technical English with its punctuation comes out at about two tokens a
// whitespace-separated word, deliberately above what subword tokenizers
// make of it, so that a chunk within MaxTokens estimated tokens should fit
// a model limited to that many real ones; it is an estimate, not a count.
// It never grows when text is cut in two: the tokens of the parts add up to
// at least the tokens of the whole.
func EstimateTokens(text string) int {
	var c tokenCounter
	for _, r := range text {
		c.add(r)
	}
	return c.tokens
}

// runesPerToken is how many runes of a word EstimateTokens counts as one
// token.
const runesPerToken = 4

// tokenCounter estimates tokens one rune at a time, as EstimateTokens does.
type tokenCounter struct {
	tokens int
	// wordRunes counts the runes of the word being read.
	wordRunes int
}

// add counts r.
func (c *tokenCounter) add(r rune) {
	switch {
	case unicode.IsSpace(r):
		c.wordRunes = 0
	case isWordRune(r):
		if c.wordRunes%runesPerToken == 0 {
			c.tokens++
		}
		c.wordRunes++
	default:
		c.wordRunes = 0
		c.tokens++
	}
}

// isWordRune reports whether r continues a word: a letter, digit or mark of
// a script that separates its words with spaces.
func isWordRune(r rune) bool {
	if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r) {
		return false
	}
	if r < 0x0E00 {
		return true
	}
	return !unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul,
		unicode.Thai, unicode.Lao, unicode.Khmer, unicode.Myanmar)
}

// countWords counts the whitespace-separated words of text, as strings.Fields
// would, without allocating.
func countWords(text string) int {
	n, inWord := 0, false
	for _, r := range text {
		space := unicode.IsSpace(r)
		if !space && !inWord {
			n++
		}
		inWord = !space
	}
	return n
}

// measure is the size of a span of text in each limit.
type measure struct {
	bytes, words, tokens int
}

// measureOf returns the measure of text.
func measureOf(text string) measure {
	return measure{bytes: len(text), words: countWords(text), tokens: EstimateTokens(text)}
}

// add returns the sum of m and o.
func (m measure) add(o measure) measure {
	return measure{bytes: m.bytes + o.bytes, words: m.words + o.words, tokens: m.tokens + o.tokens}
}

// within reports whether m stays within the splitter's limits.
func (s *Splitter) within(m measure) bool {
	return m.bytes <= s.opts.MaxChars && m.words <= s.opts.MaxWords && m.tokens <= s.opts.MaxTokens
}

// halfWithin reports whether twice m stays within the splitter's limits.
func (s *Splitter) halfWithin(m measure) bool {
	return s.within(measure{bytes: m.bytes * 2, words: m.words * 2, tokens: m.tokens * 2})
}
