package redact

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on the parts a line adds to an address.
const (
	maxLinePartBytes = 60 // one comma-separated part: "Col. Crédito Constructor"
	maxLinePartWords = 6
	maxLineParts     = 7
)

// extendToLine widens an address to the other comma-separated parts of its
// line where they read as parts of an address too. The finder anchors on
// what it knows (a street with its number, a postcode with its city); many
// layouts add parts it has no rule for: a neighbourhood, a building, a
// state after a dash ("Rua Augusta, 1508, apto 72, Consolação, São Paulo -
// SP, 01304-001"). Forward, parts are taken until one reads as prose.
// Backward, a part is taken when it holds a number or an address word
// ("Flat 402", "Plot 17"), or when every part of the line before the
// address reads as one ("Rose Cottage, Church Lane, Great Milton, Oxford
// OX44 7PB" alone on its line or after a label).
func (a *addrFinder) extendToLine(addr *address) {
	text := a.text
	from := a.valueStart(addr.start)
	to := len(text)
	if i := strings.IndexByte(text[addr.end:], '\n'); i >= 0 {
		to = addr.end + i
	}
	for to > addr.end && strings.IndexByte(" \t\r.;", text[to-1]) >= 0 {
		to--
	}

	end := a.wordsAfter(addr.end, to)
	for n := 0; n < maxLineParts && end < to; n++ {
		p, ok := partAfter(text, end, to)
		if !ok || !a.addressPart(text[p.start:p.end], false) {
			break
		}
		end = p.end
	}
	wholeAfter := end == to

	start := a.wordsBefore(from, addr.start, addr.end)
	var parts [maxLineParts]span
	n := 0
	for pos := start; n < maxLineParts && pos > from; n++ {
		p, ok := partBefore(text, from, pos)
		if !ok {
			break
		}
		parts[n] = p
		pos = p.start
	}
	whole := wholeAfter && n > 0 && parts[n-1].start == from
	for i := 0; i < n; i++ {
		part := text[parts[i].start:parts[i].end]
		if !a.addressPart(part, !whole) {
			whole = false
			if !a.addressPart(part, true) {
				// "suspected stroke. Address Hasenheide 61": the part
				// after the prose, if it holds a number, and no further.
				if t := a.wordsBefore(parts[i].start, parts[i].end, parts[i].end); t < parts[i].end &&
					strings.Contains(text[t:parts[i].end], " ") && a.addressPart(text[t:parts[i].end], true) {
					start = t
				}
				break
			}
		}
		start = parts[i].start
	}

	if start < addr.start {
		addr.start, addr.first = start, a.s.tokenAt(start)
	}
	if end > addr.end {
		addr.end, addr.last = end, a.s.tokenAt(end)-1
	}
}

// wordsBefore returns where the words that stand before byte i in its
// part of the line (back to a separator, or from) and belong to the
// address start: "swansea" of "44 kingsway, swansea sa1 5je", where the
// anchor is the postcode. end is where the address ends; the words are
// taken when, with the anchor, they read as one part of an address.
func (a *addrFinder) wordsBefore(from, i, end int) int {
	text := a.text
	start := i
	j := i
	for j > from && text[j-1] == ' ' {
		j--
	}
	for j > from {
		k := strings.LastIndexByte(text[from:j], ' ')
		ws := from
		if k >= 0 {
			ws = from + k + 1
		}
		w := text[ws:j]
		if w == "" || strings.ContainsAny(w, ",") || strings.HasSuffix(text[from:ws], " - ") {
			break
		}
		bare := strings.TrimRight(w, ".")
		if isSentenceWord(bare) || a.lex.lookup(bare).has(lexAddrContext|lexLabel|lexTitle) ||
			bare != w && len(bare) > 4 {
			break
		}
		start = ws
		if k < 0 {
			break
		}
		j = from + k
	}
	for start < i && !a.addressPart(strings.TrimSpace(text[start:end]), false) {
		// Drop words from the left until the rest reads as an address,
		// but never split a run of numbers: "+254 733 502 918" is a
		// phone, not a house number.
		sp := strings.IndexByte(text[start:i], ' ')
		if sp < 0 || hasDigit(text[start:start+sp]) {
			return i
		}
		start += sp + 1
	}
	return start
}

// wordsAfter returns where the address that ends at byte i ends when the
// rest of its part of the line (to a separator, or to) belongs to it: "m.
// 17" of "ul. Marszałkowska 84/92 m. 17, 00-514 Warszawa".
func (a *addrFinder) wordsAfter(i, to int) int {
	if i >= to || a.text[i] != ' ' {
		return i
	}
	end := i
	for end < to && separatorLen(a.text[end:to]) == 0 {
		end++
	}
	rest := strings.TrimSpace(a.text[i:end])
	if rest == "" || !a.addressPart(rest, true) {
		return i
	}
	return end
}

// span is a range of bytes of the text.
type span struct{ start, end int }

// valueStart returns where the value of the line holding byte i starts:
// after a label or a chat speaker ("Address: ", "[10:03] Customer: "), a
// quote marker or indentation.
func (a *addrFinder) valueStart(i int) int {
	from := a.s.lineStart(i)
	if c := strings.LastIndex(a.text[from:i], ": "); c >= 0 {
		from += c + 2
	}
	for from < i && strings.IndexByte(" \t>", a.text[from]) >= 0 {
		from++
	}
	return from
}

// partAfter returns the part of an address line that follows a separator
// at byte i, up to the next separator or to.
func partAfter(text string, i, to int) (span, bool) {
	n := separatorLen(text[i:to])
	if n == 0 {
		return span{}, false
	}
	start := i + n
	end := start
	for end < to && separatorLen(text[end:to]) == 0 {
		end++
	}
	return span{start, end}, end > start
}

// partBefore returns the part of an address line that ends with a
// separator at byte i, back to the previous separator or from.
func partBefore(text string, from, i int) (span, bool) {
	end := -1
	for j := i - 1; j >= from && j >= i-3; j-- {
		if n := separatorLen(text[j:i]); n == i-j {
			end = j
		}
	}
	if end <= from {
		return span{}, false
	}
	start := end
	for start > from {
		if j := start - 1; text[j] == ',' || strings.HasSuffix(text[from:start], " - ") {
			break
		}
		start--
	}
	for start < end && text[start] == ' ' {
		start++
	}
	return span{start, end}, end > start
}

// separatorLen returns the length of the separator of address parts that s
// opens with: a comma with its space, or a dash between spaces ("Porto
// Alegre - RS").
func separatorLen(s string) int {
	switch {
	case strings.HasPrefix(s, ", "):
		return 2
	case strings.HasPrefix(s, ","):
		return 1
	case strings.HasPrefix(s, " - "):
		return 3
	case strings.HasPrefix(s, " – "):
		return len(" – ")
	}
	return 0
}

// addressPart reports whether part, one comma-separated piece of a line,
// reads as a piece of a postal address: short, without sentence words,
// every word capitalised, a number or an address word. strong asks for
// more: a number or an address word in it, as a part taken before an
// address on a line that also holds other things must have.
func (a *addrFinder) addressPart(part string, strong bool) bool {
	if part == "" || len(part) > maxLinePartBytes || strings.Contains(part, "//") ||
		strings.ContainsAny(part, "@:?!()[]{}<>=\"") {
		return false
	}
	words, digits, marked, lower := 0, 0, false, 0
	postcode := false
	for w := range strings.FieldsSeq(part) {
		words++
		if words > maxLinePartWords {
			return false
		}
		bare := strings.TrimRight(w, ".")
		if bare != w && len(bare) > 4 && !strings.HasSuffix(part, w) {
			return false // a sentence ends inside: "NINO HT953420D. Address Flat 1/2"
		}
		fl := a.lex.lookup(bare)
		if fl.has(lexAddrContext) {
			return false
		}
		postcode = postcode || isDashedPostcode(bare, strings.Contains(part, " "))
		if fl.has(lexUnit|lexStreetSuffix|lexStreetPrefix|lexPOBox|lexWeakStreetSuffix|lexState|lexCountry|lexPlace) ||
			isBuildingWord(bare) {
			marked = true
		}
		r, _ := utf8.DecodeRuneInString(w)
		switch {
		case hasDigit(w):
			digits += countDigits(w)
			if len(w) > 12 {
				return false
			}
			marked = true
		case bare != w && isAddressAbbrev(bare): // "m. 17", "no. 5": abbreviations win
		case isSentenceWord(bare) || fl.has(lexGreeting|lexSignoff|lexCommVerb|lexIntro|lexRelation):
			if !(words == 1 && bare == "The") { // "The Old Rectory"
				return false
			}
		case unicode.IsUpper(r) || caselessLetter(r):
		case fl.has(lexParticle|lexUnit|lexStreetSuffix|lexStreetPrefix|lexPOBox) || isAddressAbbrev(bare):
		default:
			lower++
		}
	}
	if digits >= 9 || digits >= 7 && !postcode {
		return false // a phone number or an id, not a postcode
	}
	if lower > 0 && (digits == 0 || words > 3) {
		return false // "swansea sa1 5je" passes, "near the station" does not
	}
	if !marked && words <= 3 && words >= 2 && a.givenName(firstWord(part)) {
		return false // "Jane Doe, 12 High St": a name before the address
	}
	return !strong || marked
}

// givenName reports whether w, or the first half of a hyphenated w
// ("Jean-Baptiste"), is a listed given name that is no place.
func (a *addrFinder) givenName(w string) bool {
	if i := strings.IndexByte(w, '-'); i > 0 {
		w = w[:i]
	}
	fl := a.lex.lookup(w)
	return fl.has(lexFirstName) && !fl.has(lexPlace|lexAmbiguous)
}

// isDashedPostcode reports whether w is a postcode of digits around a
// dash, as Brazil, Poland, the US (ZIP+4) or Japan write them:
// "01304-001", "00-514", "94103-1234", "150-0001". The Japanese shape is
// also a local phone number, so it needs the 〒 mark or a city beside it
// (withWords).
func isDashedPostcode(w string, withWords bool) bool {
	marked := strings.HasPrefix(w, "〒")
	w = strings.TrimPrefix(w, "〒")
	before, after, ok := strings.Cut(w, "-")
	if !ok || countDigits(before) != len(before) || countDigits(after) != len(after) {
		return false
	}
	switch {
	case len(before) == 5 && (len(after) == 3 || len(after) == 4), len(before) == 2 && len(after) == 3:
		return true
	case len(before) == 3 && len(after) == 4:
		return marked || withWords
	}
	return false
}

// firstWord returns the first space-separated word of s.
func firstWord(s string) string {
	w, _, _ := strings.Cut(s, " ")
	return w
}

// hasDigit reports whether s holds an ASCII digit.
func hasDigit(s string) bool {
	return strings.ContainsAny(s, "0123456789")
}

// countDigits counts the ASCII digits of s.
func countDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			n++
		}
	}
	return n
}

// isBuildingWord reports whether w names a building, an estate or a plot,
// which stands before the street in many addresses.
func isBuildingWord(w string) bool {
	switch strings.ToLower(w) {
	case "apartments", "apartment", "apts", "cottage", "house", "tower", "towers", "building", "bldg",
		"block", "blk", "plot", "sector", "phase", "estate", "court", "mansions", "residency",
		"residences", "heights", "complex", "villa", "villas", "colony", "nagar", "layout", "cross",
		"main", "col", "colonia", "bairro", "barrio", "quartier", "piso", "andar", "apto", "ap",
		"floor", "level", "wing", "gate", "farm", "manor", "lodge", "hall", "chome", "ku", "shi", "cho":
		return true
	}
	return false
}

// isAddressAbbrev reports whether w, in lower case, is an abbreviation
// written inside addresses: "m." (mieszkanie), "ul.", "ap", "no".
func isAddressAbbrev(w string) bool {
	switch strings.ToLower(w) {
	case "m", "ul", "ap", "apto", "apt", "no", "nr", "nº", "n", "bl", "sc", "et", "fl", "piso", "int", "ext",
		"de", "da", "do", "dos", "das", "del", "la", "le", "les", "du", "di", "upon", "sur", "am", "im", "an":
		return true
	}
	return false
}

// isSentenceWord reports whether w is a word of running prose that no
// address holds: pronouns, auxiliaries, conjunctions, politeness.
func isSentenceWord(w string) bool {
	switch strings.ToLower(w) {
	case "i", "you", "we", "he", "she", "they", "it", "my", "your", "our", "his", "her", "their",
		"is", "are", "was", "were", "be", "been", "the", "and", "or", "but", "to", "for",
		"please", "thanks", "thank", "can", "could", "will", "would", "should", "not", "this",
		"that", "these", "those", "have", "has", "had", "do", "does", "did", "if", "so", "then",
		"than", "with", "from", "at", "in", "on", "near", "by", "as", "just", "also", "when",
		"what", "where", "which", "who", "ok", "okay", "yes", "hi", "hello", "a", "me", "us",
		"them", "there", "here", "sent", "send", "call", "let", "know", "need", "want", "via", "dob",
		"order", "ref", "ticket", "invoice", "tel", "phone", "email", "mobile", "fax":
		return true
	}
	return false
}
