package redact

import "strings"

// National identifier scores. A check digit that holds is evidence; a
// context word ("NHS", "passport", "TFN") is evidence; a distinctive shape
// is weaker evidence. Bare numbers that only pass a checksum, which one
// number in ten or eleven does by chance, score at the threshold at most.
const (
	idScoreChecksumContext = 0.95 // checksum and context word
	idScoreChecksumShape   = 0.9  // checksum and a shape few other numbers have
	idScoreShape           = 0.85 // distinctive letters and digits, no checksum
	idScoreContext         = 0.8  // a plain number after its context word
	idScoreFormatted       = 0.6  // checksum and the usual grouping, no context
	idScoreDocument        = 0.7  // checksum, and the text names the identifier
	idScoreBare            = 0.5  // checksum alone, in prose
	idScoreCodeShape       = 0.6  // distinctive shape alone, in code or a log
	idNearBoost            = 0.05 // the context word is one of the nearest
	idContextBoost         = 0.1
)

// Context windows, in tokens.
const (
	idContextTokens = 6 // how far back a context word is looked for
	idNearTokens    = 3 // context this close wins over context further away
)

// Digit-run limits.
const (
	maxIDGroups = 5
	maxIDDigits = 14
)

// idContext is a set of context words seen before a candidate.
type idContext uint32

// Context kinds.
const (
	ctxITIN idContext = 1 << iota
	ctxPassport
	ctxDriver     // driving, DL, DLN
	ctxDriverWord // driver: a licence only with "licence" too
	ctxLicence
	ctxNHS
	ctxNINO
	ctxNational
	ctxInsurance
	ctxAadhaar
	ctxPAN
	ctxNIF
	ctxFiscal
	ctxNRIC
	ctxTFN
	ctxTax
	ctxFile
	ctxABN
	ctxMedicare
	ctxPESEL
	ctxUK
	ctxUS
	ctxNegative // order, invoice, ticket, phone ...: another kind of number
)

// ambiguousInIdentifiers are the kinds whose short context words (DL,
// NI, IC, FIN, PAN, CF) count only as words of their own: inside an
// identifier they are usually something else.
const ambiguousInIdentifiers = ctxDriver | ctxNINO | ctxNRIC | ctxPAN | ctxFiscal

// has reports whether c holds every kind of want.
func (c idContext) has(want idContext) bool { return c&want == want }

// idScan is a scan read for national identifiers. It learns, once and only
// when a candidate needs it, which identifiers the whole text names: a
// chat that asks for "your Aadhaar" and gets a bare number two lines later
// has its context far from the number.
type idScan struct {
	*scan
	doc     idContext
	docRead bool
}

// document returns the identifier kinds the whole text names, as words of
// their own.
func (s *idScan) document() idContext {
	if s.docRead {
		return s.doc
	}
	s.docRead = true
	// The names of identifiers, lower case, and the kind each stands for.
	documentWords := [...]struct {
		word string
		kind idContext
	}{
		{"nhs", ctxNHS}, {"aadhaar", ctxAadhaar}, {"aadhar", ctxAadhaar}, {"आधार", ctxAadhaar},
		{"tfn", ctxTFN}, {"tax file", ctxTFN}, {"medicare", ctxMedicare}, {"pesel", ctxPESEL},
		{"abn", ctxABN}, {"nino", ctxNINO}, {"national insurance", ctxNINO}, {"itin", ctxITIN},
	}
	lower := strings.ToLower(s.text)
	for _, dw := range documentWords {
		for from := 0; ; {
			i := strings.Index(lower[from:], dw.word)
			if i < 0 {
				break
			}
			i += from
			from = i + len(dw.word)
			if !isWordRune(runeBefore(lower, i)) && !isWordRune(firstRune(lower, from)) {
				s.doc |= dw.kind
				break
			}
		}
	}
	return s.doc
}

// findNationalIDs appends national and tax identifiers to out: US ITIN,
// passport and driver's licence numbers, UK NHS and National Insurance
// numbers and passports, Indian Aadhaar and PAN, Spanish DNI/NIE, Italian
// codice fiscale, Singapore NRIC/FIN, Australian TFN, ABN and Medicare
// numbers, and Polish PESEL. Each is checked by its official check digit
// where it has one; plain numbers need a context word.
func (r *Redactor) findNationalIDs(sc *scan, out []candidate) []candidate {
	s := &idScan{scan: sc}
	for k := 0; k < len(s.tokens); k++ {
		t := &s.tokens[k]
		if !t.ascii {
			continue
		}
		switch {
		case t.digits == 0:
			// The spaced National Insurance form: QQ 12 34 56 C.
			if t.len() == 2 && t.upper == 2 && byteAt(s.text, t.end) == ' ' && isDigit(byteAt(s.text, t.end+1)) {
				out = appendNINO(s, k, out)
			}
		case t.isNumber():
			var next int
			out, next = numericIDs(s, k, out)
			k = next - 1
		default:
			out = alnumIDs(s, k, out)
		}
	}
	return out
}

// numberRun is a number written as groups of digits joined by one kind of
// separator, such as 943 476 5919 or 912-78-1234.
type numberRun struct {
	start, end int
	groups     [maxIDGroups]byte // group lengths as '0'+n: "334"
	nGroups    int
	sep        byte // ' ' or '-', 0 for a single group
	digits     [maxIDDigits]byte
	nDigits    int
}

// grouped reports whether the group lengths are shape, such as "334" for
// 943 476 5919.
func (d *numberRun) grouped(shape string) bool { return string(d.groups[:d.nGroups]) == shape }

// bare reports whether the number is one group, without separators.
func (d *numberRun) bare() bool { return d.nGroups == 1 }

// mayBeID is the cheap test that some identifier is written with the
// run's grouping, before its context is read: dates such as 2024-03-02
// and spaced runs of other shapes are passed over.
func (d *numberRun) mayBeID() bool {
	switch d.sep {
	case ' ':
		for _, shape := range [...]string{"324", "333", "334", "451", "2333", "4511", "444"} {
			if d.grouped(shape) {
				return true
			}
		}
		return false
	case '-':
		return !d.grouped("422") && !d.grouped("224")
	}
	return true
}

// number returns the digits without separators.
func (d *numberRun) number() []byte { return d.digits[:d.nDigits] }

// readNumberRun reads the digit groups that start at token k and returns
// them with the index of the first token after them. ok is false when the
// run is too long to be an identifier.
func readNumberRun(s *idScan, k int) (run numberRun, next int, ok bool) {
	run.start = s.tokens[k].start
	ok = true
	for next = k; next < len(s.tokens); next++ {
		t := &s.tokens[next]
		if next > k {
			gap := s.text[s.tokens[next-1].end:t.start]
			if !t.isNumber() || len(gap) != 1 || (gap[0] != ' ' && gap[0] != '-') ||
				(run.sep != 0 && gap[0] != run.sep) {
				break
			}
			run.sep = gap[0]
		}
		n := t.len()
		if run.nGroups == maxIDGroups || run.nDigits+n > maxIDDigits {
			ok = false
			continue // read on, so that the rest of the run is skipped too
		}
		run.groups[run.nGroups] = byte('0' + n)
		run.nGroups++
		run.nDigits += copy(run.digits[run.nDigits:], s.text[t.start:t.end])
		run.end = t.end
	}
	return run, next, ok
}

// numericStartOK reports whether a number starting at i stands on its own:
// not the tail of a dotted, dashed or signed number, an amount or a time.
// A '+' or '-' that starts a line of a diff does not count.
func numericStartOK(s *scan, i int) bool {
	text := s.text
	before := runeBefore(text, i)
	switch before {
	case '+', '-':
		// In a diff, a line's first byte says whether it was added or
		// removed; it is not a sign.
		return s.profile == ProfileCode && (i == 1 || text[i-2] == '\n')
	case '.', '/', '\\', '@', '$', '€', '£', '%', '&', '_':
		return false
	case ',', ':':
		return !isDigit(text[i]) || !isDigit(byteAt(text, i-2)) // 1,234,567 or 10:30
	}
	return true
}

// numericIDs reads the digit run that starts at token k and appends the
// identifiers it can be. It returns the index of the token after the run.
func numericIDs(s *idScan, k int, out []candidate) ([]candidate, int) {
	run, next, ok := readNumberRun(s, k)
	if !ok || run.nDigits < 7 || !numericStartOK(s.scan, run.start) {
		return out, next
	}
	if run.nDigits == 8 && run.bare() {
		if c, ok := spanishDNISeparated(s, run); ok {
			return append(out, c), s.tokenAt(c.End)
		}
	}
	if continuesNumber(s.text, run.end) || !run.mayBeID() {
		return out, next
	}
	near, all := idContextBefore(s.scan, k)
	c := numberContext{s: s, run: &run, near: near, all: all}
	return c.appendIDs(out), next
}

// numberContext is a digit run with what is known around it.
type numberContext struct {
	s         *idScan
	run       *numberRun
	near, all idContext // context words before the run
}

// named reports whether a context word of one of the kinds in want comes
// before the run.
func (c *numberContext) named(want idContext) bool { return c.all&want != 0 }

// score returns base, raised by idNearBoost when the context word of want
// is one of the nearest.
func (c *numberContext) score(want idContext, base float64) float64 {
	if c.near&want != 0 {
		return base + idNearBoost
	}
	return base
}

// inDocument reports whether the text names want somewhere and nothing
// near the run says it is another kind of number.
func (c *numberContext) inDocument(want idContext) bool {
	return !c.all.has(ctxNegative) && c.s.document()&want != 0
}

// plainProse reports whether the run is in prose with no word near it
// that makes it another kind of number.
func (c *numberContext) plainProse() bool {
	return c.s.profile == ProfileProse && !c.all.has(ctxNegative)
}

// appendIDs appends every identifier the digit run can be, each with its
// score; overlap resolution keeps the best.
func (c *numberContext) appendIDs(out []candidate) []candidate {
	d := c.run.number()
	if allSameByte(d) {
		return out
	}
	add := func(typ Type, score float64) {
		if score > 0 {
			out = append(out, candidate{
				Finding: Finding{Type: typ, Start: c.run.start, End: c.run.end, Score: score},
				key:     string(d),
			})
		}
	}
	switch len(d) {
	case 8:
		add(TypeTFN, c.tfnScore(d))
	case 9:
		add(TypeITIN, c.itinScore(d))
		add(TypeTFN, c.tfnScore(d))
		if c.run.bare() && c.named(ctxPassport) {
			add(passportType(c.s, c.all), c.score(ctxPassport, idScoreContext))
		}
	case 10:
		add(TypeNHS, c.nhsScore(d))
		add(TypeMedicare, c.medicareScore(d))
	case 11:
		add(TypeABN, c.abnScore(d))
		add(TypePESEL, c.peselScore(d))
		if (c.run.bare() || c.run.grouped("4511")) && c.named(ctxMedicare) && medicareValid(d[:10]) {
			add(TypeMedicare, c.score(ctxMedicare, idScoreChecksumShape))
		}
	case 12:
		add(TypeAadhaar, c.aadhaarScore(d))
	}
	add(TypeDriverLicense, c.driverLicenceScore(d))
	return out
}

// tfnScore scores an Australian tax file number: eight or nine digits
// (3-3-3 when grouped) that pass the check, after "TFN" or "tax file".
func (c *numberContext) tfnScore(d []byte) float64 {
	if !(c.run.bare() || c.run.grouped("333")) || !tfnValid(d) {
		return 0
	}
	switch {
	case c.named(ctxTFN) || c.all.has(ctxTax|ctxFile):
		return c.score(ctxTFN|ctxFile, idScoreChecksumShape)
	case c.inDocument(ctxTFN):
		return idScoreDocument
	}
	return 0
}

// itinScore scores a US ITIN: 9XX-7X-XXXX written with separators, or
// bare after "ITIN".
func (c *numberContext) itinScore(d []byte) float64 {
	if !itinShape(d) {
		return 0
	}
	switch {
	case c.run.grouped("324") && c.named(ctxITIN):
		return idScoreShape + idContextBoost
	case c.run.grouped("324"):
		return idScoreShape
	case !c.run.bare():
	case c.named(ctxITIN):
		return c.score(ctxITIN, idScoreContext)
	case c.inDocument(ctxITIN):
		return idScoreDocument
	}
	return 0
}

// nhsScore scores an NHS number (3-3-4 or bare, mod-11 check digit).
// Without any context only a bare number in prose from the English and
// Welsh ranges counts, at the threshold.
func (c *numberContext) nhsScore(d []byte) float64 {
	if !(c.run.bare() || c.run.grouped("334")) || !nhsValid(d) {
		return 0
	}
	switch {
	case c.named(ctxNHS):
		return idScoreChecksumContext
	case c.inDocument(ctxNHS):
		return idScoreDocument
	case c.run.bare() && c.plainProse() && (d[0] == '4' || d[0] == '6' || d[0] == '7'):
		// TODO: tell NHS numbers from phone numbers by more than the
		// allocated ranges; without context this stays a guess.
		return idScoreBare
	}
	return 0
}

// medicareScore scores an Australian Medicare card number (4-5-1 or
// bare, weighted check digit).
func (c *numberContext) medicareScore(d []byte) float64 {
	if !(c.run.bare() || c.run.grouped("451")) || !medicareValid(d) {
		return 0
	}
	switch {
	case c.named(ctxMedicare):
		return c.score(ctxMedicare, idScoreChecksumShape)
	case c.inDocument(ctxMedicare):
		return idScoreDocument
	case c.run.grouped("451") && c.plainProse():
		return idScoreFormatted
	}
	return 0
}

// abnScore scores an Australian business number (2-3-3-3 or bare, mod-89
// check).
func (c *numberContext) abnScore(d []byte) float64 {
	if !(c.run.bare() || c.run.grouped("2333")) || !abnValid(d) {
		return 0
	}
	switch {
	case c.named(ctxABN):
		return idScoreChecksumContext
	case c.run.grouped("2333"):
		return idScoreShape
	case c.inDocument(ctxABN):
		return idScoreDocument
	}
	return 0
}

// peselScore scores a PESEL: eleven bare digits with a valid birth date
// and check digit. Without context it needs prose, a twentieth-century or
// recent birth year and no leading zero (which phone numbers have).
func (c *numberContext) peselScore(d []byte) float64 {
	if !c.run.bare() {
		return 0
	}
	ok, year := peselValid(d)
	switch {
	case !ok:
	case c.named(ctxPESEL):
		return idScoreChecksumContext
	case c.inDocument(ctxPESEL):
		return idScoreDocument
	case c.plainProse() && d[0] != '0' && year >= 1900 && year < 2030:
		return idScoreBare
	}
	return 0
}

// aadhaarScore scores an Aadhaar number (4-4-4 or bare, Verhoeff check).
func (c *numberContext) aadhaarScore(d []byte) float64 {
	if !(c.run.bare() || c.run.grouped("444")) || !aadhaarValid(d) {
		return 0
	}
	switch {
	case c.named(ctxAadhaar):
		return idScoreChecksumContext
	case c.inDocument(ctxAadhaar):
		return idScoreDocument
	case c.run.grouped("444") && c.plainProse():
		return idScoreFormatted
	}
	return 0
}

// driverLicenceScore scores seven to thirteen digits after "driver's
// licence" or "DL": bare, dashed, or 3-3-3 as in New York. Other spaced
// groups are more often something else (a date, a loyalty number).
func (c *numberContext) driverLicenceScore(d []byte) float64 {
	if !c.named(ctxDriver) || len(d) < 7 || len(d) > 13 {
		return 0
	}
	if c.run.bare() || (c.run.sep == '-' && !c.run.grouped("422") && !c.run.grouped("224")) || c.run.grouped("333") {
		return c.score(ctxDriver, idScoreContext)
	}
	return 0
}

// spanishDNISeparated reads a DNI written with its letter apart, as in
// 12345678-Z or 12345678 Z, after the eight digits of run.
func spanishDNISeparated(s *idScan, run numberRun) (candidate, bool) {
	sep, letter := byteAt(s.text, run.end), byteAt(s.text, run.end+1)
	if (sep != '-' && sep != ' ') || !isUpper(letter) || isWordRune(firstRune(s.text, run.end+2)) {
		return candidate{}, false
	}
	if dniLetter(run.number()) != letter {
		return candidate{}, false
	}
	_, all := idContextBefore(s.scan, s.tokenAt(run.start))
	score := idScoreChecksumShape
	if all.has(ctxNIF) {
		score = idScoreChecksumContext
	}
	end := run.end + 2
	key := string(run.number()) + string(letter)
	return candidate{Finding: Finding{Type: TypeNIF, Start: run.start, End: end, Score: score}, key: key}, true
}

// alnumIDs appends the identifiers that token k, made of letters and
// digits, can be.
func alnumIDs(s *idScan, k int, out []candidate) []candidate {
	t := &s.tokens[k]
	w := s.word(k)
	if t.under > 0 || t.letters != t.upper || !numericStartOK(s.scan, t.start) {
		return out // lower-case letters: an identifier, a hash, a word
	}
	if t.digits == 6 && (len(w) == 8 || len(w) == 9) && isUpper(w[1]) {
		return appendNINO(s, k, out)
	}
	if continuesNumber(s.text, t.end) {
		if t.upper == 1 && byteAt(s.text, t.end) == '-' {
			return appendLetterPrefixedIDs(s, k, out) // A123-456-78-901-0
		}
		return out
	}
	if typ, score := checkedTokenID(s, k, w); score > 0 {
		return append(out, candidate{Finding: Finding{Type: typ, Start: t.start, End: t.end, Score: score}})
	}
	return appendLetterPrefixedIDs(s, k, out)
}

// checkedTokenID checks token k against the identifiers written as one
// token with a check character or a fixed shape: codice fiscale, PAN,
// NRIC/FIN, NIE and DNI. It returns a score of 0 when none fits.
func checkedTokenID(s *idScan, k int, w string) (Type, float64) {
	t := &s.tokens[k]
	switch {
	case len(w) == 16 && t.digits <= 7 && fiscalCodeValid(w):
		return TypeFiscalCode, idScoreChecksumContext
	case len(w) == 10 && t.digits == 4 && panShape(w):
		_, all := idContextBefore(s.scan, k)
		switch {
		case all.has(ctxPAN):
			return TypePAN, idScoreChecksumContext
		case s.profile != ProfileProse:
			return TypePAN, idScoreCodeShape
		}
		return TypePAN, idScoreShape
	case len(w) == 9 && t.digits == 7 && isUpper(w[0]) && isUpper(w[8]):
		return nricOrNIE(s, k, w)
	case len(w) == 9 && t.digits == 8 && isUpper(w[8]) && dniLetter([]byte(w[:8])) == w[8]:
		return TypeNIF, checksumIDScore(s, k, ctxNIF)
	}
	return "", 0
}

// checksumIDScore is the score of a token whose check character holds:
// higher after a context word of want.
func checksumIDScore(s *idScan, k int, want idContext) float64 {
	if _, all := idContextBefore(s.scan, k); all.has(want) {
		return idScoreChecksumContext
	}
	return idScoreChecksumShape
}

// appendLetterPrefixedIDs appends passport and driver's licence numbers
// that start with one or two letters, such as C03005988 or D1234567, or
// A123-456-78-901-0. Both need their context word.
func appendLetterPrefixedIDs(s *idScan, k int, out []candidate) []candidate {
	t := &s.tokens[k]
	w := s.word(k)
	if t.upper > 2 || t.digits < 3 || !isUpper(w[0]) || isDigit(w[t.upper-1]) || !allDigits(w[t.upper:]) {
		return out
	}
	near, all := idContextBefore(s.scan, k)
	if len(w) == 9 && t.upper == 1 && all.has(ctxPassport) && !continuesNumber(s.text, t.end) {
		out = append(out, candidate{Finding: Finding{
			Type: TypeUSPassport, Start: t.start, End: t.end, Score: idContextScore(near, ctxPassport),
		}})
	}
	if all.has(ctxDriver) {
		if end, n := driverLicenceEnd(s.scan, k); n >= 6 && n <= 15 {
			out = append(out, candidate{Finding: Finding{
				Type: TypeDriverLicense, Start: t.start, End: end, Score: idContextScore(near, ctxDriver),
			}})
		}
	}
	return out
}

// idContextScore is the score of a number known only by its context word.
func idContextScore(near, want idContext) float64 {
	if near.has(want) {
		return idScoreContext + idNearBoost
	}
	return idScoreContext
}

// driverLicenceEnd reads a licence number from token k: the token, then
// digit groups joined by single dashes, as in A123-456-78-901-0. It
// returns where it ends and how many letters and digits it has.
func driverLicenceEnd(s *scan, k int) (int, int) {
	end, n := s.tokens[k].end, s.tokens[k].len()
	for j := k + 1; j < len(s.tokens) && n <= 15; j++ {
		t := &s.tokens[j]
		if !t.isNumber() || s.text[s.tokens[j-1].end:t.start] != "-" {
			break
		}
		end, n = t.end, n+t.len()
	}
	if continuesNumber(s.text, end) {
		return end, 0
	}
	return end, n
}

// allDigits reports whether s is a non-empty run of ASCII digits.
func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// passportType decides whether a nine-digit passport number is British or
// American: by a country word near it, else by signs of either country in
// the whole text, else American.
//
// TODO: other countries' nine-digit passports are reported as American.
func passportType(s *idScan, ctx idContext) Type {
	switch {
	case ctx.has(ctxUK) && !ctx.has(ctxUS):
		return TypeUKPassport
	case ctx.has(ctxUS):
		return TypeUSPassport
	}
	uk, us := 0, 0
	for _, sign := range [...]string{"UK", "United Kingdom", "British", "HMPO", "NHS", "£", "National Insurance", "postcode"} {
		if strings.Contains(s.text, sign) {
			uk++
		}
	}
	for _, sign := range [...]string{"USA", "U.S.", "United States", "SSN", "ZIP", "$"} {
		if strings.Contains(s.text, sign) {
			us++
		}
	}
	if uk > us {
		return TypeUKPassport
	}
	return TypeUSPassport
}

// nricOrNIE checks a nine-character token of a letter, seven digits and a
// letter as a Singapore NRIC/FIN or a Spanish NIE.
func nricOrNIE(s *idScan, k int, w string) (Type, float64) {
	switch {
	case strings.IndexByte("STFGM", w[0]) >= 0 && nricValid(w):
		return TypeNRIC, checksumIDScore(s, k, ctxNRIC)
	case strings.IndexByte("XYZ", w[0]) >= 0 && nieValid(w):
		return TypeNIF, checksumIDScore(s, k, ctxNIF)
	}
	return "", 0
}

// appendNINO appends the UK National Insurance number that starts at token
// k, written QQ123456C, QQ 12 34 56 C or QQ 123456 C. The suffix letter
// may be left out only after a context word.
func appendNINO(s *idScan, k int, out []candidate) []candidate {
	start := s.tokens[k].start
	end, compact, ok := readNINO(s.text, start)
	if !ok || !ninoPrefixValid(compact[0], compact[1]) {
		return out
	}
	_, all := idContextBefore(s.scan, k)
	named := all.has(ctxNINO) || all.has(ctxNational|ctxInsurance)
	if compact[8] == 0 && !named {
		return out
	}
	score := idScoreShape
	switch {
	case named:
		score = idScoreChecksumContext
	case s.profile != ProfileProse && s.document()&ctxNINO == 0:
		score = idScoreCodeShape // in code, such a token may be a constant
	}
	n := 9
	if compact[8] == 0 {
		n = 8
	}
	return append(out, candidate{
		Finding: Finding{Type: TypeNINO, Start: start, End: end, Score: score},
		key:     string(compact[:n]),
	})
}

// readNINO reads a National Insurance number at i: two letters, three
// pairs of digits (each optionally after one space, all or none) and an
// optional suffix letter A-D (optionally after one space). It returns the
// end and the nine characters without spaces (the last 0 when there is no
// suffix).
func readNINO(text string, i int) (end int, compact [9]byte, ok bool) {
	if !isUpper(byteAt(text, i)) || !isUpper(byteAt(text, i+1)) {
		return 0, compact, false
	}
	compact[0], compact[1] = text[i], text[i+1]
	j := i + 2
	spaced := byteAt(text, j) == ' '
	if spaced {
		j++
	}
	pairSpaced := spaced && byteAt(text, j+2) == ' '
	for p := range 3 {
		if p > 0 && pairSpaced {
			if byteAt(text, j) != ' ' {
				return 0, compact, false
			}
			j++
		}
		if !isDigit(byteAt(text, j)) || !isDigit(byteAt(text, j+1)) {
			return 0, compact, false
		}
		compact[2+2*p], compact[3+2*p] = text[j], text[j+1]
		j += 2
	}
	end = j
	suffixAt := j
	if byteAt(text, suffixAt) == ' ' {
		suffixAt++
	}
	if c := byteAt(text, suffixAt); c >= 'A' && c <= 'D' && !isWordRune(firstRune(text, suffixAt+1)) {
		compact[8] = c
		end = suffixAt + 1
	}
	if isWordRune(firstRune(text, end)) || continuesNumber(text, end) {
		return 0, compact, false
	}
	return end, compact, true
}

// ninoPrefixValid applies HMRC's rules to the two prefix letters.
func ninoPrefixValid(a, b byte) bool {
	if strings.IndexByte("DFIQUV", a) >= 0 || strings.IndexByte("DFIOQUV", b) >= 0 {
		return false
	}
	switch string([]byte{a, b}) {
	case "BG", "GB", "KN", "NK", "NT", "TN", "ZZ":
		return false
	}
	return true
}

// panShape reports whether w has the shape of an Indian PAN: five letters
// (the fourth naming the kind of holder), four digits and a letter.
func panShape(w string) bool {
	for i := range 10 {
		c := w[i]
		if (i >= 5 && i <= 8) != isDigit(c) {
			return false
		}
	}
	return strings.IndexByte("PCHFATBLJG", w[3]) >= 0
}

// itinShape reports whether nine digits can be an ITIN: 9 first and a
// middle group in 50-65, 70-88, 90-92 or 94-99.
func itinShape(d []byte) bool {
	if d[0] != '9' {
		return false
	}
	g := int(d[3]-'0')*10 + int(d[4]-'0')
	return (g >= 50 && g <= 65) || (g >= 70 && g <= 88) || (g >= 90 && g <= 92) || g >= 94
}

// nhsValid applies the NHS number check digit: weights 10 down to 2, the
// check is 11 minus the sum mod 11 (11 becomes 0; 10 is never issued).
func nhsValid(d []byte) bool {
	check := 11 - weightedSum(d[:9], []int{10, 9, 8, 7, 6, 5, 4, 3, 2})%11
	if check == 11 {
		check = 0
	}
	return check != 10 && check == int(d[9]-'0')
}

// tfnValid applies the Australian tax file number check to eight or nine
// digits: the weighted sum is a multiple of 11.
func tfnValid(d []byte) bool {
	switch len(d) {
	case 9:
		return weightedSum(d, []int{1, 4, 3, 7, 5, 8, 6, 9, 10})%11 == 0
	case 8:
		return weightedSum(d, []int{10, 7, 8, 4, 6, 3, 5, 1})%11 == 0
	}
	return false
}

// abnValid applies the Australian business number check: take one from
// the first digit, and the weighted sum is a multiple of 89.
func abnValid(d []byte) bool {
	if d[0] == '0' {
		return false
	}
	weights := []int{10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19}
	return (weightedSum(d, weights)-weights[0])%89 == 0
}

// medicareValid applies the Australian Medicare card check to ten digits:
// the first is 2 to 6, the ninth is the weighted sum of the first eight
// mod 10, and the tenth (the issue number) is not 0.
func medicareValid(d []byte) bool {
	if d[0] < '2' || d[0] > '6' || d[9] == '0' {
		return false
	}
	return weightedSum(d[:8], []int{1, 3, 7, 9, 1, 3, 7, 9})%10 == int(d[8]-'0')
}

// aadhaarValid applies the Aadhaar rules: twelve digits, the first 2 to
// 9, the last a Verhoeff check digit.
func aadhaarValid(d []byte) bool {
	return d[0] >= '2' && verhoeffValid(d)
}

// peselValid applies the PESEL rules to eleven digits: a valid birth date
// (the month carries the century) and the check digit. It returns the
// birth year.
func peselValid(d []byte) (bool, int) {
	check := (10 - weightedSum(d[:10], []int{1, 3, 7, 9, 1, 3, 7, 9, 1, 3})%10) % 10
	if check != int(d[10]-'0') {
		return false, 0
	}
	yy, mm, dd := atoi(string(d[0:2])), atoi(string(d[2:4])), atoi(string(d[4:6]))
	century := []int{1900, 2000, 2100, 2200, 1800}[mm/20]
	month := mm % 20
	year := century + yy
	if month < 1 || month > 12 || dd < 1 || dd > daysIn(year, month) {
		return false, 0
	}
	return true, year
}

// daysIn returns the number of days of a month of the Gregorian calendar.
func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// dniLetters maps a DNI number mod 23 to its check letter.
const dniLetters = "TRWAGMYFPDXBNJZSQVHLCKE"

// dniLetter returns the check letter of an eight-digit DNI number.
func dniLetter(d []byte) byte {
	n := 0
	for _, c := range d {
		n = (n*10 + int(c-'0')) % 23
	}
	return dniLetters[n]
}

// nieValid checks a Spanish NIE: X, Y or Z (read as 0, 1, 2), seven
// digits and the DNI check letter of the eight-digit number.
func nieValid(w string) bool {
	var d [8]byte
	d[0] = '0' + (w[0] - 'X')
	copy(d[1:], w[1:8])
	return allDigits(w[1:8]) && dniLetter(d[:]) == w[8]
}

// nricValid checks a Singapore NRIC or FIN: weights 2,7,6,5,4,3,2 on the
// seven digits, an offset for the T, G and M series, and a check letter
// from the table of the series.
func nricValid(w string) bool {
	if !allDigits(w[1:8]) {
		return false
	}
	sum := weightedSum([]byte(w[1:8]), []int{2, 7, 6, 5, 4, 3, 2})
	table := "JZIHGFEDCBA"
	switch w[0] {
	case 'T':
		sum += 4
	case 'F':
		table = "XWUTRQPNMLK"
	case 'G':
		sum += 4
		table = "XWUTRQPNMLK"
	case 'M':
		sum += 3
		table = "XWUTRQPNJLK"
	}
	return table[sum%11] == w[8]
}

// fiscalOdd holds the value of each character (0-9 read as A-J) at an odd
// position of an Italian codice fiscale, written as 'A' plus the value.
const fiscalOdd = "BAFHJNPRTVCESULDGIMOQKWZYX"

// fiscalOmocodia are the letters that replace digits when two people
// would otherwise share a code; position k stands for digit k.
const fiscalOmocodia = "LMNPQRSTUV"

// fiscalCodeValid checks an Italian codice fiscale: six letters, a
// two-digit year, a month letter, a day (1-31, or 41-71 for women), a
// letter and three digits for the place of birth, and a check letter.
func fiscalCodeValid(w string) bool {
	digitAt := func(i int) (int, bool) {
		if isDigit(w[i]) {
			return int(w[i] - '0'), true
		}
		if p := strings.IndexByte(fiscalOmocodia, w[i]); p >= 0 {
			return p, true
		}
		return 0, false
	}
	for _, i := range [...]int{0, 1, 2, 3, 4, 5, 8, 11, 15} {
		if !isUpper(w[i]) {
			return false
		}
	}
	for _, i := range [...]int{6, 7, 9, 10, 12, 13, 14} {
		if _, ok := digitAt(i); !ok {
			return false
		}
	}
	if strings.IndexByte("ABCDEHLMPRST", w[8]) < 0 {
		return false
	}
	tens, _ := digitAt(9)
	units, _ := digitAt(10)
	if day := tens*10 + units; (day < 1 || day > 31) && (day < 41 || day > 71) {
		return false
	}

	sum := 0
	for i := range 15 {
		v := int(w[i] - 'A')
		if isDigit(w[i]) {
			v = int(w[i] - '0')
		}
		if i%2 == 0 {
			v = int(fiscalOdd[v] - 'A')
		}
		sum += v
	}
	return w[15] == byte('A'+sum%26)
}

// idContextBefore returns the context words among the idContextTokens
// tokens before token k on its line, or, when k starts its line, at the
// end of the line above (a label on its own line). near holds those of
// the idNearTokens nearest tokens.
func idContextBefore(s *scan, k int) (near, all idContext) {
	seen := 0
	sentenceEnded := false
	for j := k - 1; j >= 0 && seen < idContextTokens; j-- {
		gap := s.text[s.tokens[j].end:s.tokens[j+1].start]
		if lines := strings.Count(gap, "\n"); lines > 0 && (lines > 1 || j+1 < k) {
			break
		}
		sentenceEnded = sentenceEnded || endsSentence(gap)
		c := classifyIDWord(s.word(j), s.text[s.tokens[j].start:])
		if sentenceEnded {
			// "on my phone. It's 712 902 450": a word of the sentence
			// before does not make the number another kind.
			c &^= ctxNegative
		}
		all |= c
		if seen < idNearTokens {
			near |= c
		}
		seen++
	}
	// "driver's licence": a driver alone may be a database driver.
	if all.has(ctxDriverWord | ctxLicence) {
		all |= ctxDriver
		if near&(ctxDriverWord|ctxLicence) != 0 {
			near |= ctxDriver
		}
	}
	return near, all
}

// endsSentence reports whether the text between two words ends a
// sentence: a full stop, '!' or '?' and then a space.
func endsSentence(gap string) bool {
	i := strings.IndexAny(gap, ".!?")
	return i >= 0 && i+1 < len(gap) && (gap[i+1] == ' ' || gap[i+1] == '\t')
}

// classifyIDWord returns the context kinds of word w, which starts rest
// of the text. Identifiers are read part by part: nhs_number, passportNo.
func classifyIDWord(w, rest string) idContext {
	// The scan splits आधार at its vowel sign (a spacing mark), so the
	// word is matched in the text.
	if strings.HasPrefix(rest, "आधार") {
		return ctxAadhaar
	}
	const maxWord = 32
	if len(w) > maxWord || w[0] >= 0x80 {
		return 0
	}
	var ctx idContext
	start := 0
	for i := 1; i <= len(w); i++ {
		if i < len(w) && w[i] != '_' && !(isUpper(w[i]) && w[i-1] >= 'a' && w[i-1] <= 'z') {
			continue
		}
		switch part := w[start:i]; {
		case part == "":
		case part == "US", part == "us" && len(part) < len(w): // US, passport_us; not "send us"
			ctx |= ctxUS
		default:
			var buf [maxWord]byte
			c := idContextWord(lowerASCII(buf[:0], part))
			if len(part) < len(w) && len(part) <= 3 && c&ambiguousInIdentifiers != 0 {
				c &^= ambiguousInIdentifiers // dl_phnum, tclLoadDl, finCode
			}
			ctx |= c
		}
		start = i
		if i < len(w) && w[i] == '_' {
			start = i + 1
		}
	}
	return ctx
}

// idContextWord returns the context kinds of one lower-case word.
func idContextWord(w []byte) idContext {
	switch string(w) {
	case "itin", "taxpayer":
		return ctxITIN
	case "passport", "passports", "passeport", "pasaporte", "reisepass", "passaporto", "paszport":
		return ctxPassport
	case "driving", "dl", "dln":
		return ctxDriver
	case "driver", "drivers":
		return ctxDriverWord
	case "license", "licence", "lic":
		return ctxLicence
	case "nhs":
		return ctxNHS
	case "nino", "ni", "nin":
		return ctxNINO
	case "national":
		return ctxNational
	case "insurance":
		return ctxInsurance
	case "aadhaar", "aadhar", "uidai":
		return ctxAadhaar
	case "pan":
		return ctxPAN
	case "dni", "nif", "nie":
		return ctxNIF
	case "codice", "fiscale", "cf":
		return ctxFiscal
	case "nric", "fin", "ic":
		return ctxNRIC
	case "tfn":
		return ctxTFN
	case "tax":
		return ctxTax
	case "file":
		return ctxFile
	case "abn":
		return ctxABN
	case "medicare":
		return ctxMedicare
	case "pesel":
		return ctxPESEL
	case "uk", "british", "britain", "gb", "gbr", "hmpo", "england", "scotland", "wales":
		return ctxUK
	case "usa", "american", "states":
		return ctxUS
	case "order", "invoice", "inv", "ticket", "ref", "reference", "tracking", "case", "account",
		"acct", "transaction", "txn", "build", "version", "ver", "serial", "sku", "po", "item",
		"batch", "id", "uuid", "commit", "sha", "hash", "timestamp", "ts", "epoch", "time",
		"phone", "tel", "mobile", "call", "fax", "port", "pid", "line", "amount", "total",
		"booking", "confirmation", "receipt", "member", "policy", "claim", "request":
		return ctxNegative
	}
	return 0
}

// prevWordFunc reports whether one of the n tokens before token k, on the
// same line, is a word that match accepts. match sees the word in ASCII
// lower case; longer or non-ASCII words are skipped.
func prevWordFunc(s *scan, k, n int, match func([]byte) bool) bool {
	const maxWord = 32
	for j := k - 1; j >= 0 && j >= k-n; j-- {
		if s.lineBreakBetween(s.tokens[j].end, s.tokens[k].start) {
			return false
		}
		w := s.word(j)
		if len(w) > maxWord || !s.tokens[j].ascii {
			continue
		}
		var buf [maxWord]byte
		if match(lowerASCII(buf[:0], w)) {
			return true
		}
	}
	return false
}
