package redact

import (
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// The word lists behind the name, address and birth-date recognisers. They
// are plain text so that they can be reviewed and extended without touching
// code; lists/README.md describes their format.
var (
	//go:embed lists/first_names.txt
	firstNamesList string
	//go:embed lists/surnames.txt
	surnamesList string
	//go:embed lists/ambiguous.txt
	ambiguousList string
	//go:embed lists/not_names.txt
	notNamesList string
	//go:embed lists/context.txt
	contextList string
)

// lexFlags says what a word is: a given name, a surname, a greeting, a
// street suffix, ... A word may be several things at once ("may" is a month,
// a name and a verb). The month number of a month name is kept in the bits
// from lexMonthShift up.
type lexFlags uint64

// Word kinds of the lexicon.
const (
	lexFirstName        lexFlags = 1 << iota // a given name
	lexSurname                               // a family name
	lexAmbiguous                             // a name that is also a common word, place or brand
	lexNotName                               // a capitalised word that is no name
	lexGreeting                              // "Hi", "Dear", "Hola"
	lexSignoff                               // "Regards", "Cheers", "Saludos"
	lexTitle                                 // "Mr", "Dr", "Frau"
	lexParticle                              // "van", "de", "bin"
	lexLabel                                 // "From", "Name", "Customer" before a colon
	lexCodeLabel                             // "Author", "Maintainer": labels that count in code
	lexRelation                              // "colleague", "wife"
	lexCommVerb                              // "spoke", "ask", "cc"
	lexVia                                   // "to", "with", "by"
	lexIntro                                 // "is", "am", "llamo": the end of "my name is"
	lexJobTitle                              // "Manager", "Engineer" in a signature
	lexOrgSuffix                             // "Inc", "Ltd", "Team", "Station" after a name
	lexStreetSuffix                          // "Street", "Rd", "Avenue"
	lexWeakStreetSuffix                      // "Hill", "Park", "View": street types that are words
	lexStreetPrefix                          // "Calle", "rue", "Via"
	lexUnit                                  // "Apt", "Suite", "Flat"
	lexPOBox                                 // "Box", "Postfach"
	lexAddrContext                           // "address", "ship", "lives"
	lexState                                 // "CA", "Texas", "Ontario"
	lexCountry                               // "USA", "Deutschland"
	lexPlacePrefix                           // "San", "Fort", "New"
	lexPlace                                 // "London", "Texas", "Japan": no name, may be a city

	// lexContext is every kind that makes a word a context word rather
	// than a name.
	lexContext = lexGreeting | lexSignoff | lexTitle | lexParticle | lexLabel |
		lexCodeLabel | lexRelation | lexCommVerb | lexVia | lexIntro | lexOrgSuffix |
		lexStreetSuffix | lexStreetPrefix | lexUnit | lexPOBox | lexAddrContext |
		lexPlacePrefix | lexPlace
	lexName = lexFirstName | lexSurname
)

// lexMonthShift is where the month number (1-12) of a month name is kept.
const lexMonthShift = 48

// month returns the month number of a month name, or 0.
func (f lexFlags) month() int { return int(f>>lexMonthShift) & 0xf }

// has reports whether f has any of the kinds in k.
func (f lexFlags) has(k lexFlags) bool { return f&k != 0 }

// hardNotName reports whether a word with these flags is never a name on
// its own: it is a non-name or a context word and in no name list.
func (f lexFlags) hardNotName() bool {
	return f&lexName == 0 && f&(lexNotName|lexContext|lexJobTitle|lexState|lexCountry) != 0
}

// ambiguousName reports whether a name with these flags is also a common
// word, place or context word, and so needs extra evidence.
func (f lexFlags) ambiguousName() bool {
	return f&(lexAmbiguous|lexNotName|lexContext|lexState|lexCountry|lexWeakStreetSuffix) != 0 ||
		f.month() != 0
}

// lexicon maps a folded word (see foldWord) to its kinds. It is built once
// and only read afterwards, so it is safe for concurrent use.
type lexicon struct {
	words map[string]lexFlags
}

// maxLexKey is the longest text looked up, in bytes; longer text is in no
// list.
const maxLexKey = 48

// sharedLexicon builds the lexicon on first use (about 1-2 ms). The lists
// are embedded constants, so every Redactor shares the one read-only copy.
//
// TODO: build it in New and keep it on the Redactor, so the first request
// does not pay for it; that needs a field in redact.go.
var sharedLexicon = sync.OnceValues(newLexicon)

// sectionKind returns the kind that the [section] name of
// lists/context.txt gives its words. Month names carry their number
// instead, so "month" has no kind of its own.
func sectionKind(section string) (lexFlags, bool) {
	switch section {
	case "greeting":
		return lexGreeting, true
	case "signoff":
		return lexSignoff, true
	case "title":
		return lexTitle, true
	case "particle":
		return lexParticle, true
	case "label":
		return lexLabel, true
	case "codelabel":
		return lexCodeLabel, true
	case "relation":
		return lexRelation, true
	case "commverb":
		return lexCommVerb, true
	case "via":
		return lexVia, true
	case "intro":
		return lexIntro, true
	case "jobtitle":
		return lexJobTitle, true
	case "orgsuffix":
		return lexOrgSuffix, true
	case "streetsuffix":
		return lexStreetSuffix, true
	case "weakstreetsuffix":
		return lexWeakStreetSuffix, true
	case "streetprefix":
		return lexStreetPrefix, true
	case "unit":
		return lexUnit, true
	case "pobox":
		return lexPOBox, true
	case "addrcontext":
		return lexAddrContext, true
	case "state":
		return lexState, true
	case "country":
		return lexCountry, true
	case "placeprefix":
		return lexPlacePrefix, true
	case "place":
		return lexPlace, true
	case "month":
		return 0, true
	}
	return 0, false
}

// newLexicon reads the embedded word lists.
func newLexicon() (*lexicon, error) {
	l := &lexicon{words: make(map[string]lexFlags, 16384)}
	l.addList(firstNamesList, lexFirstName)
	l.addList(surnamesList, lexSurname)
	l.addList(ambiguousList, lexAmbiguous)
	l.addList(notNamesList, lexNotName)
	if err := l.addSections(contextList); err != nil {
		return nil, fmt.Errorf("read lists/context.txt: %w", err)
	}
	return l, nil
}

// addList gives every word of list the kind f.
func (l *lexicon) addList(list string, f lexFlags) {
	for line := range strings.Lines(list) {
		for w := range strings.FieldsSeq(stripComment(line)) {
			l.add(w, f)
		}
	}
}

// addSections reads a list split into [section] parts, each part giving
// its words the kind named by its section.
func (l *lexicon) addSections(list string) error {
	var f lexFlags
	section := ""
	for line := range strings.Lines(list) {
		line = strings.TrimSpace(stripComment(line))
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = line[1 : len(line)-1]
			kind, ok := sectionKind(section)
			if !ok {
				return fmt.Errorf("unknown section %q", section)
			}
			f = kind
			continue
		}
		for w := range strings.FieldsSeq(line) {
			if section == "" {
				return fmt.Errorf("word %q before the first section", w)
			}
			if section != "month" {
				l.add(w, f)
				continue
			}
			name, num, ok := strings.Cut(w, "=")
			n, err := strconv.Atoi(num)
			if !ok || err != nil || n < 1 || n > 12 {
				return fmt.Errorf("month %q is not written name=1..12", w)
			}
			l.add(name, lexFlags(n)<<lexMonthShift)
		}
	}
	return nil
}

// add gives the word w (with '_' for a space) the kind f.
func (l *lexicon) add(w string, f lexFlags) {
	var buf [2 * maxLexKey]byte
	key := foldWord(buf[:0], strings.ReplaceAll(w, "_", " "))
	l.words[string(key)] |= f
}

func stripComment(line string) string {
	if i := strings.IndexByte(line, '#'); i >= 0 {
		return line[:i]
	}
	return line
}

// lookup returns the kinds of w, compared after folding case and accents.
// It does not allocate.
func (l *lexicon) lookup(w string) lexFlags {
	if len(w) == 0 || len(w) > maxLexKey {
		return 0
	}
	var buf [2 * maxLexKey]byte
	return l.words[string(foldWord(buf[:0], w))]
}

// foldWord appends to dst the form of w that the lexicon compares: lower
// case, accents of Latin letters removed ("Müller" and "Muller" match),
// typographic apostrophes as '\”.
func foldWord(dst []byte, w string) []byte {
	for i := 0; i < len(w); {
		b := w[i]
		if b < utf8.RuneSelf {
			if b >= 'A' && b <= 'Z' {
				b += 'a' - 'A'
			}
			dst = append(dst, b)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(w[i:])
		i += size
		dst = foldRune(dst, r)
	}
	return dst
}

// latin1Fold and latinExtAFold give the base letter of U+00C0-U+00FF and
// U+0100-U+017F; '?' marks the few that fold to two letters or are not
// letters.
const (
	latin1Fold    = "aaaaaa?ceeeeiiiidnooooo?ouuuuy??aaaaaa?ceeeeiiiidnooooo?ouuuuy?y"
	latinExtAFold = "aaaaaaccccccccddddeeeeeeeeeegggggggghhhhiiiiiiiiii??jjkkkllllllllllnnnnnnnnnoooooo??rrrrrrssssssssttttttuuuuuuuuuuuuwwyyyzzzzzzs"
	// vietFold gives the base letter of U+1EA0-U+1EF9.
	vietFold = "aaaaaaaaaaaaaaaaaaaaaaaaeeeeeeeeeeeeeeeeiiiioooooooooooooooooooooooo" +
		"uuuuuuuuuuuuuuyyyyyyyy"
)

// foldRune appends the folded form of one non-ASCII rune.
func foldRune(dst []byte, r rune) []byte {
	switch {
	case r >= 0xC0 && r <= 0xFF:
		if c := latin1Fold[r-0xC0]; c != '?' {
			return append(dst, c)
		}
		switch r {
		case 'Æ', 'æ':
			return append(dst, "ae"...)
		case 'Þ', 'þ':
			return append(dst, "th"...)
		case 'ß':
			return append(dst, "ss"...)
		}
	case r >= 0x100 && r <= 0x17F:
		if c := latinExtAFold[r-0x100]; c != '?' {
			return append(dst, c)
		}
		if r == 'Ĳ' || r == 'ĳ' {
			return append(dst, "ij"...)
		}
		return append(dst, "oe"...) // Œ œ
	case r >= 0x1EA0 && r <= 0x1EF9:
		return append(dst, vietFold[r-0x1EA0])
	case r == 'Ơ' || r == 'ơ':
		return append(dst, 'o')
	case r == 'Ư' || r == 'ư':
		return append(dst, 'u')
	case r >= 0x218 && r <= 0x21B: // Ș ș Ț ț
		return append(dst, "sstt"[r-0x218])
	case r == '\u2019' || r == '\u2018' || r == '\u02BC':
		return append(dst, '\'')
	case r >= 0x300 && r <= 0x36F: // combining accents
		return dst
	}
	return utf8.AppendRune(dst, unicode.ToLower(r))
}
