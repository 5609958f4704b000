package redact

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Person scores: the full name is near certain, a lone first or last name
// less so.
const (
	personScoreFull  = 0.9
	personScoreToken = 0.7
)

// minNameTokenLetters is the length below which a lone name token is not
// redacted: "Al" or "Li" alone match too many ordinary words.
const minNameTokenLetters = 3

// person is a known name to look for in text.
//
// TODO: recognise names that are not known in advance (a colleague named in
// the body); that needs a named-entity model, and none runs here.
type person struct {
	key    string   // normalised full name; shared by every match
	tokens []string // the full name, word by word
	// single holds the tokens that are redacted on their own: three letters
	// or more and not a title or particle such as "Dr" or "van".
	single []string
	// initials are the first letters of the full name and of each single
	// token, lower case and without accents where they are Latin, a cheap
	// test before any comparison.
	initials []rune
}

// nameParticles are name tokens never redacted on their own.
func isNameParticle(tok string) bool {
	switch strings.ToLower(strings.TrimSuffix(tok, ".")) {
	case "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "jr", "sr",
		"the", "and", "van", "von", "der", "den", "de", "la", "le", "du", "da",
		"di", "del", "dos", "das", "bin", "ibn":
		return true
	}
	return false
}

// personKey is the form of a name that decides whether two mentions name
// the same person: words joined by one space, lower case, accents of Latin
// letters removed ("Zoë Brown", "ZOE BROWN" and "zoe brown" are one).
func personKey(name string) string {
	return string(foldWord(nil, strings.Join(strings.Fields(name), " ")))
}

// maxPersonTokens bounds the words of a known name. A longer "name" (a
// display name that is a sentence) is not looked for word by word: each
// word of the text would be compared with each of its words.
const maxPersonTokens = 8

func newPerson(name, key string) (person, bool) {
	p := person{key: key, tokens: strings.Fields(name)}
	if len(p.tokens) == 0 || len(p.tokens) > maxPersonTokens {
		return person{}, false
	}
	for _, tok := range p.tokens {
		letters := 0
		for _, r := range tok {
			if unicode.IsLetter(r) {
				letters++
			}
		}
		if letters >= minNameTokenLetters && !isNameParticle(tok) {
			p.single = append(p.single, tok)
		}
	}
	for _, tok := range append([]string{p.tokens[0]}, p.single...) {
		r, _ := utf8.DecodeRuneInString(tok)
		if r = foldInitial(r); !slices.Contains(p.initials, r) {
			p.initials = append(p.initials, r)
		}
	}
	return p, true
}

// find appends the places where the person is named in text. The full name
// matches in any case, with any run of spaces between its words. A lone
// token matches when it starts with a capital letter, so "Will" is a name
// but "will" is a verb.
func (p person) find(s *scan, out []candidate) []candidate {
	text := s.text
	next := 0
	for _, t := range s.tokens {
		if t.start < next || t.letters == 0 {
			continue
		}
		i := t.start
		r, _ := utf8.DecodeRuneInString(text[i:])
		if !p.mayStart(r) {
			continue
		}
		if end, ok := matchName(text, i, p.tokens); ok {
			out = append(out, candidate{
				Finding: Finding{Type: TypePerson, Start: i, End: end, Score: personScoreFull},
				key:     p.key,
			})
			next = end
			continue
		}
		if unicode.IsUpper(r) {
			if end, ok := p.matchSingle(text, i); ok {
				out = append(out, candidate{
					Finding: Finding{Type: TypePerson, Start: i, End: end, Score: personScoreToken},
					key:     p.key,
				})
				next = end
			}
		}
	}
	return out
}

// mayStart reports whether a match of the person could begin with r: r is
// the first letter, in either case, of the full name or of a lone token.
func (p person) mayStart(r rune) bool {
	r = foldInitial(r)
	for _, c := range p.initials {
		if c == r {
			return true
		}
	}
	return false
}

func (p person) matchSingle(text string, i int) (int, bool) {
	for _, tok := range p.single {
		if end, ok := matchName(text, i, []string{tok}); ok {
			return end, true
		}
	}
	return 0, false
}

// matchName reports whether tokens, separated by whitespace, appear at i
// ignoring case and end at a word boundary, and where the match ends.
func matchName(text string, i int, tokens []string) (int, bool) {
	j := i
	for k, tok := range tokens {
		if k > 0 {
			spaces := j
			for {
				r, w := runeAt(text, spaces)
				if r < 0 || !unicode.IsSpace(r) {
					break
				}
				spaces += w
			}
			if spaces == j {
				return 0, false
			}
			j = spaces
		}
		end, ok := matchFold(text, j, tok)
		if !ok {
			return 0, false
		}
		j = end
	}
	if isWordRune(firstRune(text, j)) {
		return 0, false
	}
	return j, true
}

// matchFold reports whether word appears at i under Unicode simple case
// folding, and where it ends. Invalid UTF-8 in text never matches.
func matchFold(text string, i int, word string) (int, bool) {
	j := i
	for _, want := range word {
		got, w := runeAt(text, j)
		if got < 0 || (got == utf8.RuneError && w <= 1) || !foldEqual(got, want) {
			return 0, false
		}
		j += w
	}
	return j, true
}

// foldInitial returns r in lower case, and a Latin letter without its
// accent ("É" and "e" are alike), for comparing the first letters of names.
func foldInitial(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return r
	}
	var buf [4]byte
	if f := foldRune(buf[:0], r); len(f) == 1 {
		return rune(f[0])
	}
	return unicode.ToLower(r)
}

// foldEqual reports whether a and b are the same letter, in any case and
// with or without the accent of a Latin letter ("ë" and "E").
func foldEqual(a, b rune) bool {
	if a == b {
		return true
	}
	for f := unicode.SimpleFold(a); f != a; f = unicode.SimpleFold(f) {
		if f == b {
			return true
		}
	}
	return (a >= utf8.RuneSelf || b >= utf8.RuneSelf) && foldInitial(a) == foldInitial(b)
}
