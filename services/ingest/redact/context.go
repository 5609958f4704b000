package redact

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// contextWindow is how many bytes before a finding are read for context
// words such as "phone" or "order".
const contextWindow = 48

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

func isASCIIAlnum(b byte) bool {
	return isDigit(b) || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z')
}

// isWordRune reports whether r continues a word: a letter, a digit or '_'.
func isWordRune(r rune) bool {
	if r >= 0 && r < utf8.RuneSelf {
		return r == '_' || isASCIIAlnum(byte(r))
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

// runeBefore returns the rune that ends just before byte offset i, or -1 at
// the start of the text.
func runeBefore(text string, i int) rune {
	if i <= 0 {
		return -1
	}
	r, _ := utf8.DecodeLastRuneInString(text[:i])
	return r
}

// runeAt returns the rune that starts at byte offset i and its width, or -1
// at the end of the text.
func runeAt(text string, i int) (rune, int) {
	if i >= len(text) {
		return -1, 0
	}
	return utf8.DecodeRuneInString(text[i:])
}

// byteAt returns text[i], or 0 when i is out of range.
func byteAt(text string, i int) byte {
	if i < 0 || i >= len(text) {
		return 0
	}
	return text[i]
}

// continuesNumber reports whether the text at end goes on as part of a
// larger token: a word rune, or a separator such as '-', '.', '/', ':' or ','
// followed by a digit.
func continuesNumber(text string, end int) bool {
	r, w := runeAt(text, end)
	if r < 0 {
		return false
	}
	if isWordRune(r) {
		return true
	}
	switch r {
	case '-', '.', '/', ':':
		return isDigit(byteAt(text, end+w))
	case ',':
		return thousandsGroupAt(text, end)
	case '@':
		return true
	}
	return false
}

// thousandsGroupAt reports whether the comma at byte i joins the groups
// of one number, as in "1,234,567": one to three digits before it (after a
// space, a comma or the start), exactly three after it. A comma between
// two values ("4111111111111111,12/26", "203.0.113.7,198.51.100.2")
// separates them.
func thousandsGroupAt(text string, i int) bool {
	before := i
	for before > 0 && isDigit(text[before-1]) {
		before--
	}
	if n := i - before; n < 1 || n > 3 {
		return false
	}
	if before > 0 && text[before-1] != ' ' && text[before-1] != ',' {
		return false
	}
	after := i + 1
	for after < len(text) && isDigit(text[after]) {
		after++
	}
	return after-i-1 == 3
}

// wordsBefore returns up to n words (letters and digits, lowercased) that
// end within contextWindow bytes before offset i, nearest last.
func wordsBefore(text string, i, n int) []string {
	start := max(0, i-contextWindow)
	for start < i && !utf8.RuneStart(text[start]) {
		start++
	}
	words := strings.FieldsFunc(text[start:i], func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	if len(words) > n {
		words = words[len(words)-n:]
	}
	for k := range words {
		words[k] = strings.ToLower(words[k])
	}
	return words
}

// hasContext reports whether one of the n words before offset i is in set.
// It does not allocate.
func hasContext(text string, i, n int, set map[string]bool) bool {
	limit := max(0, i-contextWindow)
	j := i
	for ; n > 0; n-- {
		w, start, ok := prevWord(text, j, limit)
		if !ok {
			return false
		}
		if lowerIn(w, set) {
			return true
		}
		j = start
	}
	return false
}

// prevWord returns the word (letters and digits) that ends nearest before
// offset i and starts after limit, and where it starts. A word cut by the
// limit does not count unless the limit is the start of the text.
func prevWord(text string, i, limit int) (string, int, bool) {
	j := i
	for j > limit {
		b := text[j-1]
		if b < utf8.RuneSelf {
			if isASCIIAlnum(b) {
				break
			}
			j--
			continue
		}
		r, w := utf8.DecodeLastRuneInString(text[:j])
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			break
		}
		j -= w
	}
	if j <= limit {
		return "", 0, false
	}
	end := j
	for j > limit {
		b := text[j-1]
		if b < utf8.RuneSelf {
			if !isASCIIAlnum(b) {
				break
			}
			j--
			continue
		}
		r, w := utf8.DecodeLastRuneInString(text[:j])
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			break
		}
		j -= w
	}
	if j == limit && limit > 0 {
		return "", 0, false
	}
	return text[j:end], j, true
}

// wordBefore returns the k-th word (letters and digits) ending within
// contextWindow bytes before offset i, counting the nearest as 1, as it is
// written (not lower-cased).
func wordBefore(text string, i, k int) (string, bool) {
	limit := max(0, i-contextWindow)
	for ; ; k-- {
		w, start, ok := prevWord(text, i, limit)
		if !ok || k == 1 {
			return w, ok
		}
		i = start
	}
}

func wordSet(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}
