package redact

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// The recognisers read ASCII separators: a space or a hyphen between the
// groups of a number, '@' and '.' in an email. Text from word processors,
// chat apps and East Asian keyboards writes the same values with other
// characters: no-break and thin spaces, non-breaking hyphens and dashes,
// full-width forms ("＠", "０９０"), and invisible format characters, which
// also serve to hide a value on purpose ("bob\u200b@example.com"). Such a
// text is read through a folded view of it, where each of those
// characters becomes its ASCII form or disappears, and what is found there
// is mapped back onto the original bytes.

// foldedView is the text the recognisers read and how its bytes map back
// to the original. When the original needs no folding, text is the
// original and origin is nil.
type foldedView struct {
	text string
	// origin holds, for each byte of text, the offset in the original of
	// the character it came from, and one more entry: the original's
	// length.
	origin []int32
	orig   string
}

// foldForScan returns the view of text the recognisers read.
func foldForScan(text string) foldedView {
	first := -1
	for i := 0; i < len(text); i++ {
		if text[i] < utf8.RuneSelf {
			continue
		}
		r, w := utf8.DecodeRuneInString(text[i:])
		if _, change := foldScanRune(r); change {
			first = i
			break
		}
		i += w - 1
	}
	if first < 0 {
		return foldedView{text: text}
	}

	var b strings.Builder
	b.Grow(len(text))
	origin := make([]int32, 0, len(text)+1)
	b.WriteString(text[:first])
	for i := range first {
		origin = append(origin, int32(i))
	}
	for i, w := first, 0; i < len(text); i += w {
		var r rune
		r, w = utf8.DecodeRuneInString(text[i:])
		repl, change := foldScanRune(r)
		switch {
		case !change:
			b.WriteString(text[i : i+w])
			for range w {
				origin = append(origin, int32(i))
			}
		case repl >= 0:
			b.WriteByte(byte(repl))
			origin = append(origin, int32(i))
		}
	}
	origin = append(origin, int32(len(text)))
	return foldedView{text: b.String(), origin: origin, orig: text}
}

// foldScanRune returns the ASCII byte a non-ASCII rune reads as, or -1 when
// it is to disappear, and whether it changes at all.
func foldScanRune(r rune) (int, bool) {
	switch {
	case r >= 0xFF01 && r <= 0xFF5E && fullWidthInValues(r): // "＠", "０", "．"
		return int(r - 0xFEE0), true
	case r == '\u2010' || r == '\u2011' || r == '\u2012' || r == '\u2013' || r == '\u2212' || r == '\uFE63':
		return '-', true // hyphens, figure and en dashes, minus
	case r == '\uFE6B':
		return '@', true // small commercial at
	case r == '\u00AD' || r == '\u034F' || r == '\u180E' || r == '\uFEFF' ||
		r >= '\u200B' && r <= '\u200F' || r >= '\u202A' && r <= '\u202E' || r >= '\u2060' && r <= '\u206F':
		return -1, true // soft hyphen, joiners, direction marks, invisible operators
	case unicode.Is(unicode.Zs, r): // no-break, thin, figure, ideographic spaces
		return ' ', true
	}
	return 0, false
}

// start maps a byte offset of the view to the original: where the
// character at i starts, after any characters that disappeared before it.
func (v foldedView) start(i int) int {
	if v.origin == nil {
		return i
	}
	return int(v.origin[i])
}

// end maps an exclusive end offset of the view to the original: the end
// of the character before i, leaving out characters that disappeared
// after it.
func (v foldedView) end(i int) int {
	if v.origin == nil || i == 0 {
		return i
	}
	last := int(v.origin[i-1])
	_, w := utf8.DecodeRuneInString(v.orig[last:])
	return last + w
}

// mapBack moves candidates found in the view onto the original text. The
// value each was found as in the view becomes its key where it has none,
// so that "０９０－１２３４" and "090-1234" are one value; value keeps the
// folded text for the operators.
func (v foldedView) mapBack(cands []candidate) {
	if v.origin == nil {
		return
	}
	for i := range cands {
		c := &cands[i]
		c.value = v.text[c.Start:c.End]
		if c.key == "" {
			c.key = normalise(c.Type, c.value)
		}
		c.Start, c.End = v.start(c.Start), v.end(c.End)
	}
}

// fullWidthInValues reports whether the full-width form r stands for an
// ASCII character that values are written with: letters, digits and
// "+-./@_". Full-width punctuation ("，", "：") is how CJK text is
// punctuated and stays as it is, for the name and address rules read it.
func fullWidthInValues(r rune) bool {
	a := r - 0xFEE0
	return a >= '0' && a <= '9' || a >= 'A' && a <= 'Z' || a >= 'a' && a <= 'z' ||
		strings.ContainsRune("+-./@_", a)
}
