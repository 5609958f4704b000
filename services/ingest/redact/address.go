package redact

import (
	"strings"
)

// Address scores. An address is scored by what it holds; a context word
// such as "address" or "ship to" before it adds addrBoostContext, and
// weak shapes (a lone postcode, a street type that is also a word) need
// that context to reach addrMinScore.
const (
	addrMinScore        = 0.5
	addrScoreFull       = 0.9  // street or PO box with a postcode, or a city and state with ZIP
	addrScoreStreetCity = 0.85 // street with a city
	addrScorePOBox      = 0.75 // PO box
	addrScoreStreet     = 0.7  // house number, street name, street type
	addrScorePostalCity = 0.6  // city with a postcode or state and ZIP
	addrScoreWeak       = 0.35 // lone postcode, "12 Oak Hill", a street in lower case
	addrBoostContext    = 0.1
	addrBoostWeak       = 0.25 // context for a weak shape
	addrMaxScore        = 0.95
)

// Limits on the parts of an address.
const (
	maxStreetNameWords = 5 // "Martin Luther King Jr"
	maxCityWords       = 4 // "Salt Lake City", "Newcastle upon Tyne"
	maxAddressParts    = 7 // street, unit, city, state, postcode, country ...
)

// segKind is the kind of one part of an address.
type segKind uint8

const (
	segNone    segKind = iota
	segStreet          // "221B Baker Street", "Calle Mayor 10", "Hauptstraße 5"
	segPOBox           // "PO Box 123", "Postfach 10 20 30"
	segUnit            // "Apt 4B", "Suite 200", "Flat 3"
	segPostal          // "London NW1 6XE", "Springfield, IL 62704", "10115 Berlin"
	segCity            // "Springfield" between a street and the rest
	segCountry         // "United Kingdom"
)

// segment is one part of an address: tokens first..last, ending at byte
// end (after a trailing '.' of an abbreviation such as "St.").
type segment struct {
	kind        segKind
	first, last int
	end         int
	weak        bool // street type that is also a word, or a street in lower case
	city        bool // a postal part that names its city
}

// address is what an address candidate holds so far.
type address struct {
	first, last                                                  int // tokens
	start, end                                                   int // bytes
	street, poBox, unit, postal, city, country, weak, cityPostal bool
	cities                                                       int // city parts: "Lekki Phase 1, Lagos"
}

// addrFinder holds the state of one findAddresses pass.
type addrFinder struct {
	s    *scan
	lex  *lexicon
	text string
}

// findAddresses appends postal addresses as one span each, over several
// lines when they are written that way: US and UK street addresses with
// unit, city, state and ZIP or postcode; Canadian, German, French,
// Spanish, Italian and Dutch shapes; PO boxes; a postcode on its own after
// "postcode" or "zip". Street names collide with people and products, so
// an address needs a house number, a postcode or an address word before
// it. Every anchor holds a digit, so only tokens with digits are read.
func (r *Redactor) findAddresses(s *scan, out []candidate) []candidate {
	lex, err := sharedLexicon()
	if err != nil {
		return out
	}
	a := addrFinder{s: s, lex: lex, text: s.text}
	covered := 0
	for k := 0; k < len(s.tokens); k++ {
		t := &s.tokens[k]
		if t.digits == 0 || t.start < covered || t.len() > 10 {
			continue
		}
		how := a.mayAnchor(k)
		if how == anchorNone {
			continue
		}
		addr, ok := a.addressAt(k, how)
		if !ok {
			continue
		}
		score := a.score(&addr)
		if score < addrMinScore {
			continue
		}
		a.extendToLine(&addr)
		out = append(out, candidate{Finding: Finding{Type: TypeLocation, Start: addr.start, End: addr.end, Score: score}})
		covered = addr.end
		k = addr.last
	}
	return out
}

// Ways a token with digits may anchor an address, found by mayAnchor;
// anchorNone is none of them.
const (
	anchorPostcode = 1 << iota // "NW1", "M5V": postcode shape
	anchorNext                 // a capitalised word follows: "221B Baker"
	anchorPrev                 // a street, box or unit word comes first: "Mayor 10", "Box 5"

	anchorNone = 0
)

// mayAnchor is the cheap test run on every token with digits before
// addressAt: an address part is next to it on the same line, or it has the
// shape of a postcode.
func (a *addrFinder) mayAnchor(k int) int {
	toks := a.s.tokens
	t := &toks[k]
	how := anchorNone
	if t.letters > 0 && (t.upper == t.letters || t.upper == 0) && t.len() <= 7 && isLetterASCII(a.text[t.start]) {
		how |= anchorPostcode // "NW1", "SW1A1AA", "M5V", "ox4"
	}
	if n := k + 1; n < len(toks) {
		nt := &toks[n]
		gap := a.text[t.end:nt.start]
		if (gap == " " || gap == ", ") && nt.letters > 0 &&
			(nt.firstUpper || nt.digits > 0 || frenchStreetStart(a.s.word(n))) {
			how |= anchorNext
		}
		if (gap == "/" || gap == "-") && nt.isNumber() && nt.len() <= 5 && n+1 < len(toks) && toks[n+1].firstUpper {
			how |= anchorNext // "4/22 Industrial Drive", "12-14 High Street"
		}
		if gap == " " && nt.upper == 0 && nt.letters > 2 && nt.isWord() && a.lowerStreetAhead(n) {
			how |= anchorNext // "12 main street", read only after an address word
		}
	}
	if t.isNumber() && t.len() == 5 && a.zipWordBefore(k) {
		how |= anchorPrev // "my zip code is 94107"
	}
	if k > 0 {
		p := &toks[k-1]
		switch a.text[p.end:t.start] {
		case " ", ". ", ", ", " #":
			if p.letters > 0 && p.digits == 0 && (p.firstUpper || addressWordBeforeNumber(a.s.word(k-1))) {
				how |= anchorPrev
			}
		}
	}
	return how
}

// lowerStreetAhead reports whether a common street type follows within
// three words from token n, all in lower case: "main street", "old mill rd".
func (a *addrFinder) lowerStreetAhead(n int) bool {
	toks := a.s.tokens
	for j := n; j < len(toks) && j < n+4; j++ {
		if j > n && a.s.gap(j) != " " || toks[j].upper > 0 || toks[j].len() > 9 {
			return false
		}
		switch a.s.word(j) {
		case "street", "st", "road", "rd", "avenue", "ave", "lane", "ln", "drive", "dr", "way", "court",
			"ct", "place", "pl", "boulevard", "blvd", "close", "crescent", "terrace":
			return j > n
		}
	}
	return false
}

// zipWordBefore reports whether "zip", "postcode" or "postal" comes within
// three words before token k.
func (a *addrFinder) zipWordBefore(k int) bool {
	for p := k - 1; p >= 0 && k-p <= 3; p-- {
		w := a.s.word(p)
		if len(w) < 2 || len(w) > 8 {
			continue
		}
		switch w[0] | 0x20 {
		case 'z', 'p', 'c':
			var buf [16]byte
			switch string(foldWord(buf[:0], w)) {
			case "zip", "zipcode", "postcode", "postal", "plz", "cp":
				return true
			}
		}
	}
	return false
}

// addressWordBeforeNumber reports whether a lower-case word before a
// number may belong to an address: "apt 4", "box 12", "ul. 5", "n. 10".
func addressWordBeforeNumber(w string) bool {
	switch w {
	case "apt", "apartment", "suite", "ste", "unit", "flat", "floor", "fl", "room", "rm", "box",
		"no", "nr", "n", "nº", "num", "piso", "bldg", "building", "level", "lvl", "postfach", "ul",
		"zip", "postcode", "code", "plz", "cp", "app", "appt", "etage", "stock", "wohnung", "door":
		return true
	}
	return false
}

// addressAt reads the address anchored at token k, which holds digits: a
// house number, a PO box or flat number, or a postcode.
func (a *addrFinder) addressAt(k, how int) (address, bool) {
	seg, ok := a.anchorAt(k, how)
	if !ok {
		return address{}, false
	}
	addr := address{first: seg.first, last: seg.last, start: a.s.tokens[seg.first].start, end: seg.end}
	addr.add(seg)
	a.extendBack(&addr)
	a.extendForward(&addr)
	return addr, true
}

// anchorAt finds the address part that token k belongs to; how says which
// kinds mayAnchor found possible.
func (a *addrFinder) anchorAt(k, how int) (segment, bool) {
	if how&anchorNext != 0 {
		if seg, ok := a.numberFirstStreet(k); ok {
			return seg, true
		}
	}
	if p := k - 1; how&anchorPrev != 0 && a.s.tokens[p].isWord() {
		pt := a.s.tokens[p]
		pf := a.lex.lookup(a.s.word(p))
		if pf.has(lexPOBox) || pt.firstUpper && pt.upper == pt.letters {
			if seg, ok := a.poBoxEndingAt(k); ok {
				return seg, true
			}
		}
		if pf.has(lexUnit) || pt.len() <= 2 {
			if seg, ok := a.unitEndingAt(k); ok {
				return seg, true
			}
		}
		if pt.firstUpper || pt.len() <= 3 {
			if seg, ok := a.streetEndingAt(k); ok {
				return seg, true
			}
		}
	}
	return a.postalAnchor(k)
}

// add records what seg adds to the address.
func (addr *address) add(seg segment) {
	switch seg.kind {
	case segStreet:
		addr.street = true
		addr.weak = addr.weak || seg.weak
	case segPOBox:
		addr.poBox = true
	case segUnit:
		addr.unit = true
	case segPostal:
		addr.postal = true
		addr.cityPostal = addr.cityPostal || seg.city
	case segCity:
		addr.city = true
		addr.cities++
	case segCountry:
		addr.country = true
	}
}

// score rates an address by its parts and the words before it.
func (a *addrFinder) score(addr *address) float64 {
	var score float64
	switch {
	case (addr.street || addr.poBox) && addr.postal:
		score = addrScoreFull
	case addr.street && !addr.weak && addr.city:
		score = addrScoreStreetCity
	case addr.poBox:
		score = addrScorePOBox
	case addr.street && !addr.weak:
		score = addrScoreStreet
	case addr.postal && (addr.cityPostal || addr.city):
		score = addrScorePostalCity
	case addr.street || addr.postal:
		score = addrScoreWeak
	default:
		return 0
	}
	context := a.contextBefore(addr.first)
	if a.s.profile != ProfileProse && !context && !addr.postal {
		return 0 // code and logs: a street alone may be a test string
	}
	switch {
	case context && score <= addrScoreWeak:
		score += addrBoostWeak
	case context:
		score += addrBoostContext
	}
	return min(score, addrMaxScore)
}

// contextBefore reports whether an address word ("address", "ship to",
// "lives at", a field such as shipping_address) comes shortly before
// token k, on its line or at the end of the line above.
func (a *addrFinder) contextBefore(k int) bool {
	lines := 0
	for j := k - 1; j >= 0 && j >= k-8; j-- {
		if a.s.lineBreakBetween(a.s.tokens[j].end, a.s.tokens[j+1].start) {
			lines++
			if lines > 1 {
				return false
			}
		}
		t := a.s.tokens[j]
		if t.letters < 2 {
			continue
		}
		w := a.s.word(j)
		if t.under > 0 || t.upper > 1 || t.len() > 12 {
			if containsFoldASCII(w, "addr") || containsFoldASCII(w, "street") {
				return true
			}
			continue
		}
		if a.lex.lookup(w).has(lexAddrContext) {
			return true
		}
	}
	return false
}

// containsFoldASCII reports whether s contains the lower-case ASCII word
// sub, ignoring ASCII case.
func containsFoldASCII(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

// extendBack adds the parts written before the address: a flat or suite
// ("Flat 3, 12 High Street"), and before a postcode its street.
func (a *addrFinder) extendBack(addr *address) {
	for n := 0; n < 3 && addr.first > 0; n++ {
		sep, ok := a.separator(a.s.tokens[addr.first-1].end, addr.start)
		if !ok || sep == sepSpace && !addr.postal {
			return
		}
		seg, ok := a.segmentEndingAt(addr.first-1, addr)
		if !ok {
			return
		}
		addr.add(seg)
		addr.first, addr.start = seg.first, a.s.tokens[seg.first].start
	}
}

// segmentEndingAt finds a part that ends at token last and may stand
// before the address: tried from each token back to the previous comma or
// line start.
func (a *addrFinder) segmentEndingAt(last int, addr *address) (segment, bool) {
	for first := last; first >= 0 && last-first < 8; first-- {
		if first < last && a.s.lineBreakBetween(a.s.tokens[first].end, a.s.tokens[first+1].start) {
			break
		}
		seg, ok := a.segmentAt(first, true)
		if ok && seg.last == last {
			switch {
			case seg.kind == segUnit && !addr.unit,
				seg.kind == segStreet && !addr.street && !addr.poBox,
				seg.kind == segCity && addr.postal && !addr.city && !addr.cityPostal && !addr.street:
				return seg, true
			}
		}
		if first > 0 && strings.ContainsAny(a.s.gap(first), ",\n") {
			break
		}
	}
	return segment{}, false
}

// extendForward adds the parts written after the address: unit, city,
// state, postcode, country, on the same line or the lines below.
func (a *addrFinder) extendForward(addr *address) {
	for n := 0; n < maxAddressParts && addr.last+1 < len(a.s.tokens); n++ {
		j := addr.last + 1
		sep, ok := a.separator(addr.end, a.s.tokens[j].start)
		if !ok {
			return
		}
		seg, ok := a.segmentAt(j, sep != sepSpace)
		if !ok || !a.accepts(addr, seg, sep) {
			return
		}
		addr.add(seg)
		addr.last, addr.end = seg.last, seg.end
	}
}

// accepts reports whether seg, after separator sep, continues addr.
func (a *addrFinder) accepts(addr *address, seg segment, sep sepKind) bool {
	switch seg.kind {
	case segUnit:
		return !addr.unit && !addr.postal
	case segStreet:
		return !addr.street && !addr.poBox && !addr.postal && sep != sepSpace
	case segPostal:
		return !addr.postal
	case segCity:
		return addr.cities < 2 && !addr.postal && sep != sepSpace && a.cityEnds(seg.end)
	case segCountry:
		return !addr.country && (addr.postal || addr.city)
	}
	return false
}

// cityEnds reports whether a city that ends at byte i ends its part of the
// address: punctuation, the end of the line or the text follows.
func (a *addrFinder) cityEnds(i int) bool {
	switch byteAt(a.text, i) {
	case 0, ',', '.', ';', ')', '\n', '\r':
		return true
	}
	return false
}

// sepKind is what separates two parts of an address.
type sepKind uint8

const (
	sepSpace   sepKind = iota // "Springfield IL"
	sepComma                  // "Springfield, IL"
	sepNewline                // parts on consecutive lines
)

// separator classifies the text between two parts of an address: a space,
// a comma, or one line break (with quote marks and indentation).
func (a *addrFinder) separator(from, to int) (sepKind, bool) {
	gap := strings.TrimSuffix(a.text[from:to], "#") // "Main St, #4": the '#' belongs to the unit
	switch gap {
	case " ":
		return sepSpace, true
	case ", ", ",":
		return sepComma, true
	}
	if len(gap) > 12 || strings.Count(gap, "\n") != 1 {
		if strings.TrimSpace(gap) == "," || strings.TrimSpace(gap) == "-" && len(gap) <= 4 {
			return sepComma, true
		}
		return sepSpace, false
	}
	for i := 0; i < len(gap); i++ {
		if strings.IndexByte(" \t\r\n,>", gap[i]) < 0 {
			return sepSpace, false
		}
	}
	return sepNewline, true
}

// segmentAt parses the address part that starts at token j. afterBreak says
// a comma or line break comes before it, where a bare city or a street
// without a number may stand.
func (a *addrFinder) segmentAt(j int, afterBreak bool) (segment, bool) {
	t := a.s.tokens[j]
	if t.digits > 0 {
		if strings.HasSuffix(a.s.gap(j), "#") && t.len() <= 6 { // "Main St #4", "#08-45"
			end, last := a.numberEnd(j), j
			if end > t.end {
				last = j + 1
			}
			return segment{kind: segUnit, first: j, last: last, end: end}, true
		}
		if seg, ok := a.numberFirstStreet(j); ok {
			return seg, true
		}
		if seg, ok := a.postalAt(j); ok {
			return seg, true
		}
		return a.floorAt(j)
	}
	fl := a.lex.lookup(a.s.word(j))
	if fl.has(lexUnit) || a.s.word(j) == "#" {
		if seg, ok := a.unitAt(j); ok {
			return seg, true
		}
	}
	if fl.has(lexPOBox) || strings.EqualFold(a.s.word(j), "PO") || strings.EqualFold(a.s.word(j), "P") {
		if seg, ok := a.poBoxAt(j); ok {
			return seg, true
		}
	}
	if seg, ok := a.postalAt(j); ok {
		return seg, true // before countryAt: "Singapore 460123"
	}
	if seg, ok := a.countryAt(j); ok {
		return seg, true
	}
	if !afterBreak {
		return segment{}, false
	}
	if seg, ok := a.prefixStreetAt(j); ok {
		return seg, true
	}
	if seg, ok := a.namedStreetAt(j); ok {
		return seg, true
	}
	return a.cityAt(j)
}

// houseNumber reports whether token k can be a house number: "12", "221B",
// "12a".
func (a *addrFinder) houseNumber(k int) bool {
	t := a.s.tokens[k]
	if t.digits == 0 || t.digits > 5 || t.len() > 6 || !isDigit(a.text[t.start]) {
		return false
	}
	switch {
	case t.isNumber():
		return true
	case t.letters == 1 && int(t.digits) == t.len()-1:
		return isASCIIAlnum(a.text[t.end-1]) && !isDigit(a.text[t.end-1])
	}
	return false
}

// notHouseNumberBefore reports whether the word before token k says the
// number is something else: "step 3", "page 12", "version 2".
func (a *addrFinder) notHouseNumberBefore(k int) bool {
	if k == 0 {
		return false
	}
	switch c := runeBefore(a.text, a.s.tokens[k].start); c {
	case '#', '$', '£', '€', '-', '.', '/', ':', '+', '=', '_':
		return true
	}
	p := k - 1
	if a.s.lineBreakBetween(a.s.tokens[p].end, a.s.tokens[k].start) || a.s.tokens[p].len() > 10 {
		return false
	}
	var buf [32]byte
	switch string(foldWord(buf[:0], a.s.word(p))) {
	case "step", "steps", "page", "pages", "version", "v", "chapter", "section", "item", "items",
		"line", "lines", "level", "order", "ticket", "invoice", "case", "ref", "no", "nr", "issue",
		"pr", "build", "release", "sprint", "week", "weeks", "day", "days", "top", "rule", "figure",
		"table", "phase", "stage", "part", "grade", "size", "qty", "quantity", "x", "of", "than",
		"about", "over", "under", "only", "just", "every", "last", "next", "first", "pack", "set",
		"minutes", "hours", "seconds", "years", "months", "option", "tier", "room", "gate", "platform":
		return true
	}
	return false
}

// numberFirstStreet reads a street that starts with the house number at
// token k: "221B Baker Street", "1600 Pennsylvania Ave NW", "12 rue de la
// Paix", "350 5th Avenue".
func (a *addrFinder) numberFirstStreet(k int) (segment, bool) {
	toks := a.s.tokens
	if !a.houseNumber(k) || k+1 >= len(toks) {
		return segment{}, false
	}
	// The next word must be capitalised, an ordinal, or a French street
	// type; test that before anything costlier.
	if n := toks[k+1]; !n.firstUpper && n.digits == 0 && !frenchStreetStart(a.s.word(k+1)) && !a.lowerStreetAhead(k+1) {
		return segment{}, false
	}
	if a.notHouseNumberBefore(k) {
		return segment{}, false
	}
	last := k
	// "12-14 High Street", "4/12 Smith St"
	if n := k + 1; n+1 < len(toks) && (a.s.gap(n) == "-" || a.s.gap(n) == "/") && toks[n].isNumber() && toks[n].len() <= 5 {
		last = n
	}
	j := last + 1
	if j >= len(toks) {
		return segment{}, false
	}
	gap := a.s.gap(j)
	if gap != " " && gap != ", " {
		return segment{}, false
	}
	first := k
	if p := k - 1; p >= 0 && a.s.gap(k) == " " && (a.s.word(p) == "Blk" || a.s.word(p) == "Block") {
		first = p // Singapore: "Blk 123 Bedok North Street 2"
	}
	fl := a.lex.lookup(a.s.word(j))
	if fl.has(lexStreetPrefix) && toks[j].isWord() {
		return a.streetWords(first, j+1, true)
	}
	if gap != " " {
		return segment{}, false
	}
	return a.streetWords(first, j, false)
}

// frenchStreetStart reports whether w may be a French street type written
// in lower case after the house number ("12 rue de la Paix").
func frenchStreetStart(w string) bool {
	switch w {
	case "rue", "avenue", "boulevard", "bd", "place", "chemin", "allée", "allee", "impasse", "quai",
		"cours", "route", "square", "passage", "ruelle", "via", "viale", "calle", "rua", "ul":
		return true
	}
	return false
}

// streetWords reads the name of a street from token j on, for a street
// that starts at token first. A French street ("rue de la Paix") ends where
// its words end; any other needs a street type ("Road", "St") after one to
// five name words.
func (a *addrFinder) streetWords(first, j int, french bool) (segment, bool) {
	if french {
		return a.frenchStreetWords(first, j)
	}
	toks := a.s.tokens
	names, lower := 0, false
	for n := 0; j < len(toks) && n <= maxStreetNameWords+1; n, j = n+1, j+1 {
		if n > 0 && !a.joins(j) {
			break
		}
		t := toks[j]
		switch {
		case names == 0 && a.isDirection(j): // "N Main St"
			continue
		case a.ordinal(j): // "5th Avenue"
			names++
			continue
		case !t.isWord():
			return segment{}, false
		}
		fl := a.lex.lookup(a.s.word(j))
		if names > 0 && fl.has(lexStreetSuffix|lexWeakStreetSuffix) {
			return a.streetSuffixAt(first, j, !fl.has(lexStreetSuffix) || lower)
		}
		if notStreetName(a.s.word(j)) || !t.firstUpper && isFunctionWord(a.s.word(j)) {
			return segment{}, false
		}
		names++
		lower = lower || !t.firstUpper
	}
	return segment{}, false
}

// streetSuffixAt ends a street at its type, token j, taking in a second
// type ("Park Hill Road") or a direction ("Ave NW") after it.
func (a *addrFinder) streetSuffixAt(first, j int, weak bool) (segment, bool) {
	toks := a.s.tokens
	seg := segment{kind: segStreet, first: first, last: j, end: a.abbrevEnd(j), weak: weak}
	if n := j + 1; n < len(toks) && a.text[seg.end:toks[n].start] == " " {
		switch {
		case a.lex.lookup(a.s.word(n)).has(lexStreetSuffix) && toks[n].firstUpper:
			seg.last, seg.end, seg.weak = n, a.abbrevEnd(n), false
		case a.isDirection(n) && toks[n].upper == toks[n].letters:
			seg.last, seg.end = n, a.abbrevEnd(n)
		}
	}
	// "24 Hour Drive-thru", "Main Street's"
	if c := byteAt(a.text, seg.end); (c == '-' || c == '\'') && isWordRune(firstRune(a.text, seg.end+1)) {
		return segment{}, false
	}
	// A street numbered after its type: "Avenue 4", "Street 90".
	if n := seg.last + 1; n < len(toks) && a.s.gap(n) == " " && toks[n].isNumber() && toks[n].len() <= 3 &&
		a.cityEnds(toks[n].end) {
		seg.last, seg.end = n, toks[n].end
	}
	return seg, true
}

// frenchStreetWords reads the words of a French street after its type:
// "de la Paix", "des Champs-Élysées", "Bellecour".
func (a *addrFinder) frenchStreetWords(first, j int) (segment, bool) {
	toks := a.s.tokens
	seg := segment{kind: segStreet, first: first, last: -1}
	for n := 0; j < len(toks) && n <= maxStreetNameWords+1; n, j = n+1, j+1 {
		if n > 0 && !a.joins(j) {
			break
		}
		t := toks[j]
		if !t.isWord() {
			break
		}
		if t.firstUpper {
			seg.last, seg.end = j, t.end
			continue
		}
		if !a.lex.lookup(a.s.word(j)).has(lexParticle) {
			break
		}
	}
	if seg.last < 0 {
		return segment{}, false
	}
	return seg, true
}

// isFunctionWord reports whether w is a lower-case word that never names a
// street: "the", "of", "from", "my".
func isFunctionWord(w string) bool {
	switch w {
	case "the", "a", "an", "of", "to", "in", "on", "at", "for", "from", "by", "with", "and", "or", "my",
		"your", "our", "his", "her", "their", "its", "is", "are", "was", "were", "be", "it", "this",
		"that", "min", "mins", "km", "mi", "miles", "minutes", "hours", "days":
		return true
	}
	return false
}

// notStreetName reports whether a capitalised word before a street type
// says it is no street: "24 Hour Drive", "3 Day Pass".
func notStreetName(w string) bool {
	if len(w) > 8 {
		return false
	}
	var buf [16]byte
	switch string(foldWord(buf[:0], w)) {
	case "hour", "hours", "day", "days", "week", "weeks", "minute", "minutes", "year", "years",
		"month", "months", "times", "step", "steps", "star", "stars", "ways", "points":
		return true
	}
	return false
}

// joins reports whether token j continues the words before it: one space,
// a hyphen or an apostrophe ("Queen's", "Saint-Honoré"), or ". " after an
// abbreviation.
func (a *addrFinder) joins(j int) bool {
	switch a.s.gap(j) {
	case " ", "-", "'", "\u2019", ". ":
		return true
	}
	return false
}

// abbrevEnd returns the end of token j, past a dot that closes an
// abbreviation ("St.", "Ave.").
func (a *addrFinder) abbrevEnd(j int) int {
	t := a.s.tokens[j]
	if byteAt(a.text, t.end) == '.' && t.len() <= 4 && !isWordRune(firstRune(a.text, t.end+1)) {
		return t.end + 1
	}
	return t.end
}

// isDirection reports whether token j is a compass direction written in a
// US address: "N", "SW", "North".
func (a *addrFinder) isDirection(j int) bool {
	switch a.s.word(j) {
	case "N", "S", "E", "W", "NE", "NW", "SE", "SW", "North", "South", "East", "West":
		return true
	}
	return false
}

// ordinal reports whether token j is an ordinal such as "5th" or "42nd".
func (a *addrFinder) ordinal(j int) bool {
	t := a.s.tokens[j]
	if t.digits == 0 || t.letters != 2 || t.len() > 5 {
		return false
	}
	var buf [8]byte
	switch string(foldWord(buf[:0], a.text[t.end-2:t.end])) {
	case "st", "nd", "rd", "th":
		return isDigit(a.text[t.start])
	}
	return false
}

// streetEndingAt reads a street whose house number, token k, ends it:
// "Calle Mayor 10", "Via Roma n. 10", "Hauptstraße 5", "Berliner Str. 12",
// "Keizersgracht 123".
func (a *addrFinder) streetEndingAt(k int) (segment, bool) {
	if !a.houseNumber(k) || k == 0 {
		return segment{}, false
	}
	toks := a.s.tokens
	p := k - 1
	switch a.s.gap(k) {
	case " ", ". ", ", ":
	default:
		return segment{}, false
	}
	// "n. 10", "nº 10", "No. 10", "Nr. 10"
	if numberWord(a.s.word(p)) && p > 0 {
		p--
	}
	if !toks[p].isWord() || a.s.lineBreakBetween(toks[p].end, toks[k].start) {
		return segment{}, false
	}
	end, last := a.numberEnd(k), k
	if end > toks[k].end {
		last = k + 1
	}
	if germanStreetWord(a.s.word(p)) && toks[p].firstUpper {
		first := p
		// "Berliner Straße 5", "Karl-Marx-Straße 5"
		for n := 0; n < 3 && first > 0 && toks[first-1].firstUpper && toks[first-1].isWord() &&
			(a.s.gap(first) == " " || a.s.gap(first) == "-"); n++ {
			if !a.s.lineBreakBetween(toks[first-1].end, toks[first].start) && !a.lex.lookup(a.s.word(first-1)).hardNotName() {
				first--
				continue
			}
			break
		}
		return segment{kind: segStreet, first: first, last: last, end: end}, true
	}
	// Street type first: walk back over the name to "Calle", "Via", "Rua".
	for first, n := p, 0; first >= 0 && n < maxStreetNameWords+1; first, n = first-1, n+1 {
		t := toks[first]
		if !t.isWord() && !(t.len() == 1 && a.text[t.start] == 'C' && byteAt(a.text, t.end) == '/') {
			break
		}
		if first < p && !a.joins(first+1) && a.s.gap(first+1) != "/ " {
			break
		}
		fl := a.lex.lookup(a.s.word(first))
		if (fl.has(lexStreetPrefix) || a.s.word(first) == "C") && first < p {
			return segment{kind: segStreet, first: first, last: last, end: end}, true
		}
		if !t.firstUpper && !fl.has(lexParticle) {
			break
		}
	}
	return segment{}, false
}

// numberWord reports whether w abbreviates "number" before a house number:
// "n.", "nº", "No.", "Nr.".
func numberWord(w string) bool {
	switch w {
	case "n", "N", "nº", "Nº", "no", "No", "NO", "nr", "Nr", "num", "Num":
		return true
	}
	return false
}

// numberEnd returns where a house number that ends a street ends, taking
// in a letter after a space or hyphen ("10 B", "5-7").
func (a *addrFinder) numberEnd(k int) int {
	toks := a.s.tokens
	if n := k + 1; n < len(toks) && (a.s.gap(n) == "-" || a.s.gap(n) == "/") && toks[n].len() <= 4 &&
		toks[n].digits > 0 && isDigit(a.text[toks[n].start]) {
		return toks[n].end // "5-7", "17/4"
	}
	return toks[k].end
}

// germanStreetWord reports whether w is or ends with a street type written
// as part of the street name in German, Dutch and Nordic addresses.
func germanStreetWord(w string) bool {
	if len(w) < 3 {
		return false
	}
	var buf [2 * maxLexKey]byte
	if len(w) > maxLexKey {
		return false
	}
	lw := string(foldWord(buf[:0], w))
	for _, suf := range [...]string{"strasse", "str", "weg", "gasse", "platz", "allee", "damm",
		"ufer", "chaussee", "steig", "pfad", "markt", "straat", "laan", "plein", "gracht", "kade",
		"singel", "dijk", "steeg", "vej", "gade", "gatan", "vagen", "veien", "gata", "torget"} {
		if strings.HasSuffix(lw, suf) && (len(lw) > len(suf)+2 || lw == suf || suf == "str") {
			return true
		}
	}
	return false
}

// poBoxEndingAt reads a PO box whose number starts at token k: "PO Box
// 123", "P.O. Box 77", "Postfach 10 20 30", "Apartado de Correos 45".
func (a *addrFinder) poBoxEndingAt(k int) (segment, bool) {
	toks := a.s.tokens
	if !toks[k].isNumber() || k == 0 {
		return segment{}, false
	}
	lo := k - 1
	for lo > 0 && k-lo < 5 && !a.s.lineBreakBetween(toks[lo-1].end, toks[lo].start) {
		lo--
	}
	for first := lo; first < k; first++ {
		if seg, ok := a.poBoxAt(first); ok && seg.last >= k {
			return seg, true
		}
	}
	return segment{}, false
}

// poBoxAt reads a PO box that starts at token j.
func (a *addrFinder) poBoxAt(j int) (segment, bool) {
	toks := a.s.tokens
	k, sawBox := j, false
	for ; k < len(toks) && k-j < 5; k++ {
		if k > j && !poBoxGap(a.s.gap(k)) {
			return segment{}, false
		}
		if toks[k].digits > 0 {
			break
		}
		w := a.s.word(k)
		if a.lex.lookup(w).has(lexPOBox) {
			sawBox = true
			continue
		}
		switch {
		case poBoxPrefix(w) && !sawBox:
			continue
		case (w == "de" || w == "Correos" || w == "correos") && sawBox:
			continue
		}
		return segment{}, false
	}
	if !sawBox || k >= len(toks) || !toks[k].isNumber() || toks[k].len() > 8 {
		return segment{}, false
	}
	last := k
	// "Postfach 10 20 30"
	for n := 0; n < 3 && last+1 < len(toks) && a.s.gap(last+1) == " " && toks[last+1].isNumber() && toks[last+1].len() <= 3; n++ {
		last++
	}
	return segment{kind: segPOBox, first: j, last: last, end: toks[last].end}, true
}

// poBoxPrefix reports whether w may come before "Box": "P.O.", "PO",
// "Post Office", "GPO".
func poBoxPrefix(w string) bool {
	switch w {
	case "P", "O", "PO", "Po", "po", "POST", "Post", "OFFICE", "Office", "GPO":
		return true
	}
	return false
}

// poBoxGap reports whether gap may stand between the words of a PO box.
func poBoxGap(gap string) bool {
	switch gap {
	case " ", ".", ". ", " #", "# ", " # ", " No. ", " no. ":
		return true
	}
	return false
}

// unitEndingAt reads a flat, suite or unit whose number is token k: "Flat
// 3", "Apt. 4B", "Suite #200".
func (a *addrFinder) unitEndingAt(k int) (segment, bool) {
	for first := k - 1; first >= 0 && k-first <= 2; first-- {
		if a.s.lineBreakBetween(a.s.tokens[first].end, a.s.tokens[first+1].start) {
			break
		}
		if !a.s.tokens[first].isWord() || !a.lex.lookup(a.s.word(first)).has(lexUnit) {
			continue
		}
		if seg, ok := a.unitAt(first); ok && seg.last == k {
			return seg, true
		}
	}
	return segment{}, false
}

// unitAt reads a flat, suite or unit that starts at token j: "Apt 4B",
// "Suite 200", "Flat 3", "Unit #12", "Floor 2".
func (a *addrFinder) unitAt(j int) (segment, bool) {
	toks := a.s.tokens
	k := j + 1
	if k < len(toks) && strings.EqualFold(a.s.word(k), "no") {
		k++
	}
	if k >= len(toks) {
		return segment{}, false
	}
	switch a.s.gap(k) {
	case " ", ". ", " #", "#", " # ", ".", " No. ":
	default:
		return segment{}, false
	}
	t := toks[k]
	if t.len() > 6 || t.digits == 0 && !(t.len() == 1 && t.upper == 1) {
		return segment{}, false
	}
	return segment{kind: segUnit, first: j, last: k, end: t.end}, true
}

// floorAt reads a floor and door written after a Spanish, Portuguese or
// Catalan street, or a floor number: "2º", "3º B", "2º Esq", "2n 1a",
// "12F".
func (a *addrFinder) floorAt(j int) (segment, bool) {
	toks := a.s.tokens
	if !a.floorToken(j) {
		return segment{}, false
	}
	seg := segment{kind: segUnit, first: j, last: j, end: toks[j].end}
	if n := j + 1; n < len(toks) && a.s.gap(n) == " " && !a.s.lineBreakBetween(toks[j].end, toks[n].start) {
		w := a.s.word(n)
		switch {
		case a.floorToken(n), toks[n].len() == 1 && toks[n].upper == 1 && toks[n].letters == 1:
			seg.last, seg.end = n, toks[n].end
		default:
			switch w {
			case "Esq", "esq", "Izq", "izq", "Izda", "izda", "Dcha", "dcha", "Dcho", "Dto", "Pta", "Centro", "Ctro":
				seg.last, seg.end = n, a.abbrevEnd(n)
			}
		}
	}
	return seg, true
}

// floorToken reports whether token j is a floor or door number: one or two
// digits and an ordinal mark ("2º", "1ª", "2n", "1a", "1r") or "F" ("12F").
func (a *addrFinder) floorToken(j int) bool {
	t := a.s.tokens[j]
	if t.digits == 0 || t.digits > 2 || !isDigit(a.text[t.start]) {
		return false
	}
	switch a.text[t.start+int(t.digits) : t.end] {
	case "º", "ª", "o", "a", "n", "r", "F", "er":
		return true
	}
	return false
}

// countryAt reads a country name of one to three words at token j.
func (a *addrFinder) countryAt(j int) (segment, bool) {
	if !a.s.tokens[j].firstUpper {
		return segment{}, false
	}
	for n := 3; n >= 1; n-- {
		last := j + n - 1
		if last >= len(a.s.tokens) || !a.sameLineRun(j, last) {
			continue
		}
		end := a.abbrevEnd(last)
		if a.lex.lookup(a.text[a.s.tokens[j].start:end]).has(lexCountry) {
			return segment{kind: segCountry, first: j, last: last, end: end}, true
		}
	}
	return segment{}, false
}

// sameLineRun reports whether tokens j..last are words joined by single
// spaces or dots ("U.S.A").
func (a *addrFinder) sameLineRun(j, last int) bool {
	for k := j + 1; k <= last; k++ {
		if g := a.s.gap(k); g != " " && g != "." {
			return false
		}
	}
	return true
}

// postalAnchor reads a postcode at token k as the anchor of an address:
// with its city before it ("London NW1 6XE", "Springfield, IL 62704") or
// alone after a word such as "postcode".
func (a *addrFinder) postalAnchor(k int) (segment, bool) {
	seg, ok := a.postalAt(k)
	if !ok {
		seg, ok = a.zipAfterState(k)
	}
	if !ok {
		return segment{}, false
	}
	if (a.euPostcode(seg) || seg.weak) && !a.contextBefore(seg.first) {
		return segment{}, false // "20000 Leagues": a number and a word; "ox4 1ya" in lower case
	}
	if seg.city {
		return seg, true
	}
	// The city before the postcode, on the same line.
	if seg.first > 0 {
		if sep, ok := a.separator(a.s.tokens[seg.first-1].end, a.s.tokens[seg.first].start); ok && sep != sepNewline {
			if city, ok := a.cityEndingAt(seg.first - 1); ok {
				seg.first, seg.city = city.first, true
				return seg, true
			}
		}
	}
	return seg, true
}

// euPostcode reports whether seg is a bare four- or five-digit postcode
// with its city ("10115 Berlin"), a shape that numbers in prose share.
func (a *addrFinder) euPostcode(seg segment) bool {
	return a.s.tokens[seg.first].isNumber()
}

// cityEndingAt reads the city whose last word is token last: the longest
// run of up to three capitalised words that are no common words, or a
// place prefix ("San", "New", "Fort") and what follows it.
func (a *addrFinder) cityEndingAt(last int) (segment, bool) {
	best := segment{}
	for first := last; first >= 0 && last-first < 3; first-- {
		if first < last && a.s.lineBreakBetween(a.s.tokens[first].end, a.s.tokens[first+1].start) {
			break
		}
		seg, ok := a.cityAt(first)
		if !ok || seg.last != last {
			continue
		}
		if fl := a.lex.lookup(a.s.word(first)); fl.hardNotName() && !fl.has(lexPlace|lexPlacePrefix|lexState|lexCountry) {
			break // "Ticket SW1A 1AA"
		}
		best = seg
	}
	return best, best.kind != segNone
}

// cityAt reads a city name of one to four capitalised words at token j:
// "Springfield", "Salt Lake City", "St. Louis", "Newcastle upon Tyne",
// "Aix-en-Provence", "LONDON".
func (a *addrFinder) cityAt(j int) (segment, bool) {
	toks := a.s.tokens
	seg := segment{kind: segCity, first: j, last: -1}
	for k, n := j, 0; k < len(toks) && n < maxCityWords+2; k, n = k+1, n+1 {
		t := toks[k]
		if k > j && !a.joins(k) {
			break
		}
		if !t.isWord() {
			break
		}
		fl := a.lex.lookup(a.s.word(k))
		if fl.has(lexGreeting|lexSignoff|lexTitle|lexLabel|lexRelation|lexCommVerb|lexIntro|lexVia|lexUnit|
			lexJobTitle|lexStreetSuffix|lexAddrContext) && !fl.has(lexState) {
			break
		}
		if t.firstUpper {
			seg.last, seg.end = k, t.end
			continue
		}
		if k == j || !cityParticle(a.s.word(k)) {
			break
		}
	}
	if seg.last < 0 {
		return segment{}, false
	}
	// A district number: "Dublin 6", "Lekki Phase 1".
	if n := seg.last + 1; n < len(toks) && a.s.gap(n) == " " && toks[n].isNumber() && toks[n].len() <= 2 &&
		a.cityEnds(toks[n].end) {
		seg.last, seg.end = n, toks[n].end
	}
	return seg, true
}

func cityParticle(w string) bool {
	switch w {
	case "upon", "on", "am", "im", "an", "der", "de", "du", "sur", "la", "le", "les", "di", "del", "da", "do", "dos", "y", "en", "the", "of", "in":
		return true
	}
	return false
}

// postalAt reads a postal part that starts at token j: a postcode, a state
// and ZIP, a postcode and city, or a city followed by one of those.
func (a *addrFinder) postalAt(j int) (segment, bool) {
	toks := a.s.tokens
	t := toks[j]
	if t.digits > 0 {
		if end, last, ok := a.ukPostcode(j); ok {
			return segment{kind: segPostal, first: j, last: last, end: end, weak: t.upper == 0}, true
		}
		if end, last, ok := a.caPostcode(j); ok {
			return segment{kind: segPostal, first: j, last: last, end: end}, true
		}
		if end, last, ok := a.eircode(j); ok {
			return segment{kind: segPostal, first: j, last: last, end: end}, true
		}
		return a.postcodeCity(j)
	}
	if seg, ok := a.stateZip(j); ok {
		return seg, true
	}
	city, ok := a.cityAt(j)
	if !ok {
		return segment{}, false
	}
	// The city may end early: "Salt Lake City UT" reads "UT" as a word.
	for last := city.last; last >= j; last-- {
		n := last + 1
		if n >= len(toks) {
			continue
		}
		gap := a.s.gap(n)
		if gap != " " && gap != ", " && gap != "," && gap != "  " {
			continue
		}
		var tail segment
		if tail, ok = a.stateZip(n); !ok && toks[n].digits > 0 {
			if end, l, ok2 := a.ukPostcode(n); ok2 {
				tail, ok = segment{last: l, end: end}, true
			} else if end, l, ok2 := a.caPostcode(n); ok2 {
				tail, ok = segment{last: l, end: end}, true
			} else if end, l, ok2 := a.eircode(n); ok2 {
				tail, ok = segment{last: l, end: end}, true
			} else if nt := toks[n]; nt.isNumber() && (nt.len() == 5 || nt.len() == 6) && !continuesNumber(a.text, nt.end) {
				tail, ok = segment{last: n, end: nt.end}, true // "Singapore 460123", "Mumbai 400051"
			}
		}
		if ok {
			return segment{kind: segPostal, first: j, last: tail.last, end: tail.end, city: true}, true
		}
	}
	return segment{}, false
}

// stateZip reads a US state (or Canadian province, Australian state) and
// its ZIP or postcode at token j: "IL 62704", "California 94105-1234",
// "ON M5V 2T6", "NSW 2000".
func (a *addrFinder) stateZip(j int) (segment, bool) {
	toks := a.s.tokens
	for n := 3; n >= 1; n-- {
		last := j + n - 1
		if last+1 >= len(toks) || !a.sameLineRun(j, last) {
			continue
		}
		t := toks[j]
		if n == 1 && t.len() == 2 && t.upper != 2 {
			continue // "in 94105" is no state
		}
		if !t.firstUpper || !a.lex.lookup(a.text[t.start:toks[last].end]).has(lexState) {
			continue
		}
		z := last + 1
		if g := a.s.gap(z); g != " " && g != "  " && g != ", " {
			continue
		}
		if end, l, ok := a.caPostcode(z); ok {
			return segment{kind: segPostal, first: j, last: l, end: end}, true
		}
		zt := toks[z]
		if !zt.isNumber() || zt.len() != 5 && zt.len() != 4 {
			continue
		}
		l := z
		if z+1 < len(toks) && a.s.gap(z+1) == "-" && toks[z+1].isNumber() && toks[z+1].len() == 4 {
			l = z + 1
		}
		return segment{kind: segPostal, first: j, last: l, end: toks[l].end}, true
	}
	return segment{}, false
}

// zipAfterState reads a ZIP at token k together with the state before it,
// or a lone ZIP after "zip" or "postal code".
func (a *addrFinder) zipAfterState(k int) (segment, bool) {
	toks := a.s.tokens
	if !toks[k].isNumber() || toks[k].len() != 5 || k == 0 {
		return segment{}, false
	}
	for first := k - 1; first >= 0 && k-first <= 3; first-- {
		if !toks[first].firstUpper {
			continue
		}
		if seg, ok := a.stateZip(first); ok && seg.last >= k && seg.first == first {
			return seg, true
		}
	}
	if continuesNumber(a.text, toks[k].end) && byteAt(a.text, toks[k].end) != '-' {
		return segment{}, false
	}
	for p := k - 1; p >= 0 && k-p <= 3; p-- {
		if a.s.tokens[p].len() > 8 {
			continue
		}
		var buf [16]byte
		switch string(foldWord(buf[:0], a.s.word(p))) {
		case "zip", "zipcode", "postcode", "postal", "plz", "cp":
			return segment{kind: segPostal, first: k, last: k, end: toks[k].end}, true
		}
	}
	return segment{}, false
}

// postcodeCity reads a postcode written before its city: "10115 Berlin",
// "75002 Paris", "28013 Madrid", "1012 AB Amsterdam", "8001 Zürich".
func (a *addrFinder) postcodeCity(j int) (segment, bool) {
	toks := a.s.tokens
	t := toks[j]
	if !t.isNumber() || j+1 >= len(toks) || runeBefore(a.text, t.start) == '-' {
		return segment{}, false
	}
	c := j + 1
	switch {
	case dashedPostcode(t.len(), a.s.gap(c), toks[c]):
		c++ // "1100-053 Lisboa", "31-147 Kraków", "01310-100 São Paulo"
	case t.len() == 4 && a.text[t.start] != '0', t.len() == 5:
	default:
		return segment{}, false
	}
	if c >= len(toks) {
		return segment{}, false
	}
	if a.s.gap(c) != " " {
		return segment{}, false
	}
	// Dutch: "1012 AB Amsterdam"
	if n := toks[c]; t.len() == 4 && n.len() == 2 && n.upper == 2 && n.isWord() && c+1 < len(toks) && a.s.gap(c+1) == " " {
		c++
	}
	city, ok := a.cityAt(c)
	if !ok {
		return segment{}, false
	}
	return segment{kind: segPostal, first: j, last: city.last, end: city.end, city: true}, true
}

// dashedPostcode reports whether a number of n digits, gap and token t form
// a postcode written with a dash: Portuguese 1100-053, Polish 31-147,
// Brazilian 01310-100.
func dashedPostcode(n int, gap string, t token) bool {
	if gap != "-" || !t.isNumber() || t.len() != 3 {
		return false
	}
	return n == 4 || n == 2 || n == 5
}

// ukPostcode reads a UK postcode at token j: "SW1A 1AA", "M1 1AE",
// "NW1 6XE", or written without the space. It returns where it ends.
func (a *addrFinder) ukPostcode(j int) (end, last int, ok bool) {
	toks := a.s.tokens
	t := toks[j]
	w := a.s.word(j)
	if !t.ascii || t.letters == 0 || t.len() > 7 {
		return 0, 0, false
	}
	// Postcodes are written in capitals; in lower case ("ox4 1ya") the
	// caller asks for context.
	if t.upper != t.letters && t.upper != 0 {
		return 0, 0, false
	}
	if t.len() >= 5 && ukOutward(w[:len(w)-3]) && ukInward(w[len(w)-3:]) {
		return t.end, j, true
	}
	if t.len() > 4 || !ukOutward(w) || j+1 >= len(toks) || a.s.gap(j+1) != " " {
		return 0, 0, false
	}
	next := a.s.word(j + 1)
	if nt := toks[j+1]; (nt.upper == 0) != (t.upper == 0) {
		return 0, 0, false // one half in capitals, the other not
	}
	if ukInward(next) {
		return toks[j+1].end, j + 1, true
	}
	return 0, 0, false
}

// ukOutward reports whether w has the shape of the first half of a UK
// postcode: A9, A99, AA9, AA99, A9A or AA9A, in either case.
func ukOutward(w string) bool {
	if len(w) < 2 || len(w) > 4 || !isLetterASCII(w[0]) || strings.IndexByte("QVX", upperASCII(w[0])) >= 0 {
		return false
	}
	i := 1
	if isLetterASCII(w[1]) {
		if strings.IndexByte("IJZ", upperASCII(w[1])) >= 0 {
			return false
		}
		i = 2
	}
	if i >= len(w) || !isDigit(w[i]) {
		return false
	}
	rest := w[i+1:]
	switch len(rest) {
	case 0:
		return true
	case 1:
		return isDigit(rest[0]) || isLetterASCII(rest[0])
	}
	return false
}

// ukInward reports whether w has the shape of the second half of a UK
// postcode: a digit and two letters, none of C, I, K, M, O, V.
func ukInward(w string) bool {
	return len(w) == 3 && isDigit(w[0]) && isLetterASCII(w[1]) && isLetterASCII(w[2]) &&
		strings.IndexByte("CIKMOV", upperASCII(w[1])) < 0 && strings.IndexByte("CIKMOV", upperASCII(w[2])) < 0
}

func isLetterASCII(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

func upperASCII(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

// eircode reads an Irish Eircode at token j: a routing key such as "D06"
// or "A65" and a four-character identifier, "D06 K2P4".
func (a *addrFinder) eircode(j int) (end, last int, ok bool) {
	toks := a.s.tokens
	w := a.s.word(j)
	if len(w) != 3 || !isUpperASCII(w[0]) || !isDigit(w[1]) || !isDigit(w[2]) && w[2] != 'W' ||
		j+1 >= len(toks) || a.s.gap(j+1) != " " {
		return 0, 0, false
	}
	n := toks[j+1]
	if n.len() != 4 || n.digits == 0 || n.letters == 0 || n.upper != n.letters {
		return 0, 0, false
	}
	return n.end, j + 1, true
}

// caPostcode reads a Canadian postal code at token j: "M5V 2T6" or
// "M5V2T6".
func (a *addrFinder) caPostcode(j int) (end, last int, ok bool) {
	toks := a.s.tokens
	w := a.s.word(j)
	if len(w) == 6 && caHalf(w[:3], true) && caHalf(w[3:], false) {
		return toks[j].end, j, true
	}
	if len(w) != 3 || !caHalf(w, true) || j+1 >= len(toks) || a.s.gap(j+1) != " " {
		return 0, 0, false
	}
	if caHalf(a.s.word(j+1), false) {
		return toks[j+1].end, j + 1, true
	}
	return 0, 0, false
}

// caHalf reports whether w is one half of a Canadian postal code: A9A
// (first) or 9A9.
func caHalf(w string, first bool) bool {
	if len(w) != 3 {
		return false
	}
	letter := func(c byte) bool { return isUpperASCII(c) && strings.IndexByte("DFIOQU", c) < 0 }
	if first {
		return letter(w[0]) && w[0] != 'W' && w[0] != 'Z' && isDigit(w[1]) && letter(w[2])
	}
	return isDigit(w[0]) && letter(w[1]) && isDigit(w[2])
}

func isUpperASCII(c byte) bool { return c >= 'A' && c <= 'Z' }

// prefixStreetAt reads a street that starts with its type at token j and
// ends with its number: "Calle Mayor 10", "Via Roma 10".
func (a *addrFinder) prefixStreetAt(j int) (segment, bool) {
	toks := a.s.tokens
	if !toks[j].firstUpper || !a.lex.lookup(a.s.word(j)).has(lexStreetPrefix) && !germanStreetWord(a.s.word(j)) {
		return segment{}, false
	}
	for k := j + 1; k < len(toks) && k-j <= maxStreetNameWords+2; k++ {
		if a.s.lineBreakBetween(toks[k-1].end, toks[k].start) {
			break
		}
		if toks[k].digits > 0 {
			if seg, ok := a.streetEndingAt(k); ok && seg.first == j {
				return seg, true
			}
			break
		}
	}
	return segment{}, false
}

// namedStreetAt reads a street without a house number after a flat or
// before a postcode: "Flat 2, Baker Street, London NW1 6XE".
//
// TODO: addresses without a house number or postcode ("Al Wasl Road,
// Jumeirah 1, Dubai"), and Japanese, Vietnamese and Indian layouts (block,
// landmark, district first) are not read.
func (a *addrFinder) namedStreetAt(j int) (segment, bool) {
	toks := a.s.tokens
	if !toks[j].firstUpper {
		return segment{}, false
	}
	seg, ok := a.streetWords(j, j, false)
	if !ok || seg.weak || seg.first != j {
		return segment{}, false
	}
	if seg.last == j {
		return segment{}, false
	}
	return seg, true
}
