package score

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// confusables maps letters that look like Latin ones, mostly Cyrillic and
// Greek, to the Latin letter a reader sees. It covers the common
// lower-case cases; the text is folded to lower case first.
var confusables = map[rune]rune{
	'а': 'a', 'е': 'e', 'о': 'o', 'р': 'p', 'с': 'c', 'у': 'y', 'х': 'x',
	'і': 'i', 'ј': 'j', 'ѕ': 's', 'ԁ': 'd', 'һ': 'h', 'ԛ': 'q', 'ԝ': 'w',
	'к': 'k', 'м': 'm', 'н': 'h', 'т': 't', 'в': 'b', 'ӏ': 'l',
	'α': 'a', 'ε': 'e', 'ο': 'o', 'ρ': 'p', 'τ': 't', 'υ': 'u', 'ν': 'v',
	'κ': 'k', 'ι': 'i', 'ɡ': 'g', 'ɑ': 'a',
}

// leet maps digits and symbols that stand for letters inside a word.
var leet = map[rune]rune{'0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '@': 'a', '$': 's'}

// normalizeForPatterns folds text the way a reader reads it, so that the
// language patterns cannot be dodged by spelling: Unicode compatibility
// forms are unified (NFKC: full-width letters, ligatures), invisible
// characters are removed, lookalike letters become Latin ones, and digits
// inside words of letters become the letters they stand for ("k1ll").
// It is for pattern checks only: offsets and evidence come from its output.
func normalizeForPatterns(text string) string {
	text = strings.ToLower(norm.NFKC.String(text))
	var b strings.Builder
	b.Grow(len(text))
	for _, r := range text {
		switch {
		case isInvisible(r):
			continue
		case confusables[r] != 0:
			r = confusables[r]
		}
		b.WriteRune(r)
	}
	return unleet(b.String())
}

// isInvisible reports whether r takes no space: zero-width characters and
// other format characters used to split words.
func isInvisible(r rune) bool {
	switch r {
	case '\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u00ad':
		return true
	}
	return unicode.Is(unicode.Cf, r)
}

// unleet rewrites digits and symbols inside words that also hold letters;
// plain numbers ("30 days", "ORD-10421") are left alone.
func unleet(text string) string {
	runes := []rune(text)
	for start := 0; start < len(runes); {
		if !wordRune(runes[start]) {
			start++
			continue
		}
		end := start
		letters := false
		for end < len(runes) && wordRune(runes[end]) {
			if unicode.IsLetter(runes[end]) {
				letters = true
			}
			end++
		}
		if letters {
			for i := start; i < end; i++ {
				if l, ok := leet[runes[i]]; ok {
					runes[i] = l
				}
			}
		}
		start = end
	}
	return string(runes)
}

func wordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || leet[r] != 0
}
