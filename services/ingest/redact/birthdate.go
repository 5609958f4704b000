package redact

import "strings"

// Birth-date scores: only dates near a birth word are findings; every
// other date is left alone.
const (
	dobScore         = 0.85 // a full date after "born", "DOB", "date of birth"
	dobScorePartial  = 0.6  // a day and month without a year, or a year alone
	dobWindowTokens  = 8    // how many tokens after the birth word the date may start
	dobWindowBytes   = 64   // and how many bytes
	dobBeforeTokens  = 8    // how far before "(DOB)" the date may start
	dobMinYear       = 1880 // earliest four-digit year read as a birth year
	dobMaxYear       = 2099
	dobMaxMonthDay   = 31
	dobMonthsPerYear = 12
)

// dateFinder holds the state of one findBirthDates pass.
type dateFinder struct {
	s   *scan
	lex *lexicon
}

// dateMatch is a date found in the text.
type dateMatch struct {
	start, end int // bytes
	last       int // last token
	full       bool
}

// findBirthDates appends dates of birth: a date in any common format
// (1985-03-14, 14/03/1985, 03/14/1985, 14.03.1985, 14 March 1985, March
// 14, 1985, 14th of March 1985, Spanish, French, German, Italian,
// Portuguese and Dutch month names, 1985年3月14日) shortly after or before a
// birth word ("born", "DOB", "D.O.B.", "date of birth", "birthday", "fecha
// de nacimiento", "né le", "geboren am", "Geburtsdatum", a field such as
// date_of_birth). Day and month are validated.
func (r *Redactor) findBirthDates(s *scan, out []candidate) []candidate {
	lex, err := sharedLexicon()
	if err != nil {
		return out
	}
	d := dateFinder{s: s, lex: lex}
	covered := 0
	var columns [maxBirthColumns]birthColumn
	nColumns := 0
	for k := 0; k < len(s.tokens); k++ {
		t := &s.tokens[k]
		// Inline first test: birth words start with one of these letters or
		// are field names with '_' or inner capitals.
		switch s.text[t.start] | 0x20 {
		case 'b', 'd', 'g', 'n', 'u':
		default:
			if t.under == 0 && t.upper < 2 {
				continue
			}
		}
		if !mayBeBirthWord(s.text, t) {
			continue
		}
		trigger, ok := d.birthWordAt(k)
		if !ok {
			continue
		}
		if col, ok := d.headerColumn(k); ok && nColumns < maxBirthColumns {
			columns[nColumns] = col
			nColumns++
		}
		m, ok := d.dateAfter(trigger)
		if !ok {
			m, ok = d.dateBefore(k)
		}
		if !ok || m.start < covered {
			k = trigger
			continue
		}
		score := dobScore
		if !m.full {
			score = dobScorePartial
		}
		out = append(out, candidate{Finding: Finding{Type: TypeDate, Start: m.start, End: m.end, Score: score}})
		covered = m.end
		k = max(trigger, m.last)
	}
	if nColumns > 0 {
		out = d.tableDates(columns[:nColumns], out)
	}
	return out
}

// maxTableLine is the longest table line, in bytes, read for columns.
const maxTableLine = 4096

// maxBirthColumns is the most table columns of birth dates followed in one
// text.
const maxBirthColumns = 4

// dobScoreColumn is the score of a date in a table column whose header is
// a birth word ("dob" in a CSV header or an SQL column list).
const dobScoreColumn = 0.75

// birthColumn is a column of a table, in CSV, Markdown or an SQL INSERT,
// whose header names a date of birth.
type birthColumn struct {
	sep    byte // ',', '|' or '\t'
	index  int  // field number, from 0
	paren  bool // the fields are inside parentheses, as in SQL
	header int  // byte offset of the header; rows come after it
}

// headerColumn reports whether the birth word at token k heads a table
// column: it is a field of a line of separated fields.
func (d *dateFinder) headerColumn(k int) (birthColumn, bool) {
	text := d.s.text
	i := d.s.tokens[k].start
	ls := lineStartNear(d.s, i, maxTableLine)
	if ls < 0 {
		return birthColumn{}, false
	}
	le := strings.IndexByte(text[i:min(len(text), i+maxTableLine)], '\n')
	if le < 0 {
		return birthColumn{}, false
	}
	le += i
	line := text[ls:le]
	col := birthColumn{header: i}
	from := ls
	if p := strings.LastIndexByte(text[ls:i], '('); p >= 0 {
		col.paren, from = true, ls+p+1
	}
	best := 0
	for _, sep := range [...]byte{',', '|', '\t', ';'} {
		if n := strings.Count(line, string(sep)); n > best {
			best, col.sep = n, sep
		}
	}
	if best < 2 && !(col.paren && best >= 1) {
		return birthColumn{}, false
	}
	col.index = fieldIndex(text[from:i], col.sep)
	return col, true
}

// fieldIndex counts the separators in s outside quotes: the number of the
// field that s leads to.
func fieldIndex(s string, sep byte) int {
	n := 0
	var quote byte
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == sep:
			n++
		}
	}
	return n
}

// tableDates appends the dates that stand in a birth-date column below its
// header: the rows of a CSV file or an SQL INSERT in a diff or a log.
func (d *dateFinder) tableDates(columns []birthColumn, out []candidate) []candidate {
	text := d.s.text
	start := d.s.tokenAt(columns[0].header)
	for j := start; j < len(d.s.tokens); j++ {
		t := d.s.tokens[j]
		if !t.isNumber() {
			continue
		}
		m, ok := d.numericDate(j)
		if !ok || followedByTime(text, m.end) {
			continue
		}
		ls := lineStartNear(d.s, m.start, maxTableLine)
		if ls < 0 {
			j = m.last
			continue
		}
		for _, col := range columns {
			from := ls
			if col.paren {
				p := strings.LastIndexByte(text[ls:m.start], '(')
				if p < 0 {
					continue
				}
				from = ls + p + 1
			}
			if m.start > col.header && fieldIndex(text[from:m.start], col.sep) == col.index {
				out = append(out, candidate{Finding: Finding{Type: TypeDate, Start: m.start, End: m.end, Score: dobScoreColumn}})
				break
			}
		}
		j = m.last
	}
	return out
}

// followedByTime reports whether a time of day follows a date that ends at
// i: "2024-05-01 10:00:00", "2024-05-01T10:00".
func followedByTime(text string, i int) bool {
	if c := byteAt(text, i); c == 'T' || c == ' ' {
		j := i + 1
		for j < len(text) && j < i+3 && isDigit(text[j]) {
			j++
		}
		return j > i+1 && byteAt(text, j) == ':'
	}
	return false
}

// mayBeBirthWord is the cheap test run on every token before birthWordAt:
// every birth word starts with one of a few letter pairs ("bo", "bi",
// "do", "ge", "na", "né", "ur"), is "D" of "D.O.B.", or is a field name
// with '_' or capitals inside.
func mayBeBirthWord(text string, t *token) bool {
	if t.letters == 0 || t.len() > 32 {
		return false
	}
	if t.len() <= 3 && byteAt(text, t.end) == '.' {
		return true // "b.", "ur.", "geb."
	}
	if t.len() == 2 {
		return false
	}
	if t.under > 0 || t.upper > 1 {
		return true
	}
	if t.len() == 1 {
		return text[t.start]|0x20 == 'd'
	}
	switch text[t.start] | 0x20 {
	case 'b':
		c := text[t.start+1]
		return c == 'o' || c == 'i' || c == 'd' || c == 'O' || c == 'I' || c == 'D'
	case 'd':
		return text[t.start+1]|0x20 == 'o'
	case 'g':
		return text[t.start+1]|0x20 == 'e'
	case 'n':
		c := text[t.start+1]
		return c|0x20 == 'a' || c >= 0x80
	case 'u':
		return text[t.start+1]|0x20 == 'r'
	}
	return false
}

// birthWordAt reports whether a birth word starts at token k, and returns
// its last token ("D.O.B." is three).
func (d *dateFinder) birthWordAt(k int) (int, bool) {
	t := &d.s.tokens[k]
	w := d.s.word(k)
	if t.len() <= 3 && byteAt(d.s.text, t.end) == '.' {
		switch w {
		case "b", "ur", "Ur", "geb", "Geb": // "b. 12 Dec 1962", "ur. 08.11.1954", "geb. 3.7.1979"
			return k, true
		}
	}
	if t.len() == 1 {
		return d.dobInitials(k)
	}
	if !t.ascii {
		switch w {
		case "né", "née", "Né", "Née", "nació", "nací", "Nació", "Nací", "nacimiento":
			return k, true
		}
		return 0, false
	}
	var buf [32]byte
	lw := buf[:len(w)]
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		lw[i] = c
	}
	switch string(lw) {
	case "dob", "born", "bday", "birth", "birthday", "birthdate", "geboren", "geburtsdatum",
		"geburtstag", "naissance", "nascita", "nascimento", "nasceu", "nacimiento", "nacido",
		"nacida", "nato", "nata", "urodzenia", "urodzony", "urodzona", "nac":
		return k, true
	}
	if t.under > 0 || t.upper > 1 { // date_of_birth, dateOfBirth, user_dob
		return k, strings.Contains(string(lw), "birth") || strings.HasSuffix(string(lw), "_dob") ||
			strings.HasPrefix(string(lw), "dob_")
	}
	return 0, false
}

// dobInitials reads "D.O.B." starting at the single letter token k.
func (d *dateFinder) dobInitials(k int) (int, bool) {
	toks := d.s.tokens
	if k+2 >= len(toks) || !strings.EqualFold(d.s.word(k), "d") {
		return 0, false
	}
	if d.s.gap(k+1) != "." || d.s.gap(k+2) != "." || !strings.EqualFold(d.s.word(k+1), "o") ||
		!strings.EqualFold(d.s.word(k+2), "b") {
		return 0, false
	}
	return k + 2, true
}

// dateAfter finds a date that starts within a few words after the birth
// word ending at token k: "born on 14 March 1985", "DOB: 03/14/1985",
// "geboren am 14.03.1985", "born in London on 1985-03-14".
func (d *dateFinder) dateAfter(k int) (dateMatch, bool) {
	toks := d.s.tokens
	limit := toks[k].end + dobWindowBytes
	window := dobWindowTokens
	if toks[k].len() <= 3 && byteAt(d.s.text, toks[k].end) == '.' {
		window = 1 // "b. 12 Dec 1962": an abbreviation is followed by the date itself
	}
	lines := 0
	for j := k + 1; j < len(toks) && j-k <= window && toks[j].start < limit; j++ {
		if d.s.lineBreakBetween(toks[j-1].end, toks[j].start) {
			lines++
			if lines > 1 {
				break
			}
		}
		if m, ok := d.dateAt(j); ok {
			return m, true
		}
		if m, ok := d.birthYearAt(j, k); ok {
			return m, true
		}
		if toks[j].digits > 0 && !d.clockPart(j) {
			break // some other number came first
		}
	}
	return dateMatch{}, false
}

// clockPart reports whether token j is part of a time of day, as in a chat
// timestamp ("[10:00]") between the question and the answer.
func (d *dateFinder) clockPart(j int) bool {
	t := d.s.tokens[j]
	return t.isNumber() && t.len() <= 2 && (byteAt(d.s.text, t.end) == ':' || runeBefore(d.s.text, t.start) == ':')
}

// dateBefore finds a date that ends just before the birth word at token k:
// "14/03/1985 (DOB)", "1985-03-14 - date of birth".
func (d *dateFinder) dateBefore(k int) (dateMatch, bool) {
	toks := d.s.tokens
	start := k
	// "date of birth": the date comes before "date".
	if p := k - 2; p >= 0 && strings.EqualFold(d.s.word(k-1), "of") && strings.EqualFold(d.s.word(p), "date") {
		start = p
	}
	for j := start - 1; j >= 0 && start-j <= dobBeforeTokens; j-- {
		m, ok := d.dateAt(j)
		if !ok || m.last >= start {
			continue
		}
		gap := d.s.text[m.end:toks[start].start]
		if len(gap) <= 4 && strings.Trim(gap, " ([-–:,") == "" {
			return m, true
		}
	}
	return dateMatch{}, false
}

// birthYearAt reads a year alone as a birth date: "born in 1985", "born
// 1985".
func (d *dateFinder) birthYearAt(j, trigger int) (dateMatch, bool) {
	t := d.s.tokens[j]
	if !t.isNumber() || t.len() != 4 || continuesNumber(d.s.text, t.end) {
		return dateMatch{}, false
	}
	y := atoiDigits(d.s.word(j))
	if y < dobMinYear || y > dobMaxYear {
		return dateMatch{}, false
	}
	switch w := strings.ToLower(d.s.word(trigger)); w {
	case "born", "nacido", "nacida", "nato", "nata", "geboren", "né", "née":
	default:
		return dateMatch{}, false
	}
	if j != trigger+1 && !(j == trigger+2 && isYearPreposition(d.s.word(j-1))) {
		return dateMatch{}, false
	}
	return dateMatch{start: t.start, end: t.end, last: j}, true
}

func isYearPreposition(w string) bool {
	switch strings.ToLower(w) {
	case "in", "en", "im", "nel", "em", "w":
		return true
	}
	return false
}

// dateAt reads a date that starts at token j.
func (d *dateFinder) dateAt(j int) (dateMatch, bool) {
	t := d.s.tokens[j]
	switch {
	case t.isNumber():
		if m, ok := d.numericDate(j); ok {
			return m, true
		}
		return d.dayMonthYear(j)
	case t.digits > 0 && !t.ascii:
		return d.cjkDate(j)
	case t.digits > 0:
		return d.dayMonthYear(j) // "14th March 1985"
	case t.letters >= 3:
		return d.monthDayYear(j)
	}
	return dateMatch{}, false
}

// numericDate reads 1985-03-14, 14/03/1985, 03/14/1985, 14.03.1985 or
// 14-03-85 at token j.
//
// TODO: a numeric day and month without a year ("DOB 14/03") and compact
// dates ("19850314") are not read: too many other numbers look the same.
func (d *dateFinder) numericDate(j int) (dateMatch, bool) {
	toks := d.s.tokens
	if j+2 >= len(toks) {
		return dateMatch{}, false
	}
	sep := d.s.gap(j + 1)
	if sep != "/" && sep != "-" && sep != "." || d.s.gap(j+2) != sep {
		return dateMatch{}, false
	}
	a, b, c := toks[j], toks[j+1], toks[j+2]
	if !b.isNumber() || !c.isNumber() || b.len() > 2 {
		return dateMatch{}, false
	}
	if isDigit(byteAt(d.s.text, c.end+1)) && strings.IndexByte("/-.", byteAt(d.s.text, c.end)) >= 0 {
		return dateMatch{}, false // a version or an IP address
	}
	x, y, z := atoiDigits(d.s.word(j)), atoiDigits(d.s.word(j+1)), atoiDigits(d.s.word(j+2))
	ok := false
	switch {
	case a.len() == 4 && c.len() <= 2: // year first
		ok = validYear(x) && validDay(z, y, x)
	case a.len() <= 2 && (c.len() == 4 || c.len() == 2):
		year := z
		if c.len() == 4 && !validYear(z) {
			return dateMatch{}, false
		}
		if c.len() == 2 {
			year = 0
		}
		ok = validDay(x, y, year) || validDay(y, x, year) // day first or month first
	}
	if !ok {
		return dateMatch{}, false
	}
	return dateMatch{start: a.start, end: c.end, last: j + 2, full: true}, true
}

// dayMonthYear reads "14 March 1985", "14th of March, 1985", "14. März
// 1985", "14 de marzo de 1985", "14-Mar-1985", "1er mars 1985" or "14
// March" at token j.
func (d *dateFinder) dayMonthYear(j int) (dateMatch, bool) {
	toks := d.s.tokens
	day, ok := d.dayAt(j)
	if !ok {
		return dateMatch{}, false
	}
	k := j + 1
	if k < len(toks) && d.s.gap(k) == " " && isDateFiller(d.s.word(k)) {
		k++ // "of", "de"
	}
	if k >= len(toks) || !dateJoin(d.s.gap(k)) {
		return dateMatch{}, false
	}
	month := d.lex.lookup(d.s.word(k)).month()
	if month == 0 || !toks[k].isWord() {
		return dateMatch{}, false
	}
	year, last, end := d.yearAfter(k)
	if !validDay(day, month, year) {
		return dateMatch{}, false
	}
	return dateMatch{start: toks[j].start, end: end, last: last, full: year != 0}, true
}

// monthDayYear reads "March 14, 1985", "Mar. 14th 1985" or "March 14" at
// token j.
func (d *dateFinder) monthDayYear(j int) (dateMatch, bool) {
	toks := d.s.tokens
	month := d.lex.lookup(d.s.word(j)).month()
	if month == 0 || j+1 >= len(toks) || !dateJoin(d.s.gap(j+1)) {
		return dateMatch{}, false
	}
	day, ok := d.dayAt(j + 1)
	if !ok {
		return dateMatch{}, false
	}
	year, last, end := d.yearAfter(j + 1)
	if !validDay(day, month, year) {
		return dateMatch{}, false
	}
	return dateMatch{start: toks[j].start, end: end, last: last, full: year != 0}, true
}

// dayAt reads a day of the month at token j: "14", "14th", "1st", "1er",
// "1º".
func (d *dateFinder) dayAt(j int) (int, bool) {
	t := d.s.tokens[j]
	w := d.s.word(j)
	if t.digits == 0 || t.digits > 2 || t.len() > 5 {
		return 0, false
	}
	n := atoiDigits(w[:t.digits])
	if !isDigit(w[0]) || n < 1 || n > dobMaxMonthDay {
		return 0, false
	}
	switch strings.ToLower(w[t.digits:]) {
	case "", "st", "nd", "rd", "th", "er", "º", "o":
		return n, true
	}
	return 0, false
}

// yearAfter reads an optional year after the month or day at token k:
// "1985", ", 1985", " de 1985". It returns 0 and the end of token k when
// there is none.
func (d *dateFinder) yearAfter(k int) (year, last, end int) {
	toks := d.s.tokens
	end = toks[k].end
	if byteAt(d.s.text, end) == '.' && toks[k].isWord() {
		end++ // "Mar."
	}
	n := k + 1
	if n < len(toks) && d.s.gap(n) == " " && isDateFiller(d.s.word(n)) {
		n++ // "de 1985"
	}
	if n >= len(toks) || !dateJoin(d.s.gap(n)) && d.s.gap(n) != ", " && d.s.gap(n) != "," {
		return 0, k, end
	}
	t := toks[n]
	if !t.isNumber() || t.len() != 4 || continuesNumber(d.s.text, t.end) && byteAt(d.s.text, t.end) != '.' &&
		byteAt(d.s.text, t.end) != ',' {
		return 0, k, end
	}
	y := atoiDigits(d.s.word(n))
	if !validYear(y) {
		return 0, k, end
	}
	return y, n, t.end
}

// cjkDate reads 1985年3月14日 at token j.
func (d *dateFinder) cjkDate(j int) (dateMatch, bool) {
	t := d.s.tokens[j]
	w := d.s.word(j)
	y, rest, ok := cutNumber(w, "年")
	if !ok || !validYear(y) {
		return dateMatch{}, false
	}
	m, rest, ok := cutNumber(rest, "月")
	if !ok {
		return dateMatch{}, false
	}
	day, rest, ok := cutNumber(rest, "日")
	if !ok || !validDay(day, m, y) {
		return dateMatch{}, false
	}
	return dateMatch{start: t.start, end: t.end - len(rest), last: j, full: true}, true
}

// cutNumber reads digits at the start of s followed by unit.
func cutNumber(s, unit string) (int, string, bool) {
	n := 0
	for n < len(s) && n < 4 && isDigit(s[n]) {
		n++
	}
	if n == 0 || !strings.HasPrefix(s[n:], unit) {
		return 0, s, false
	}
	return atoiDigits(s[:n]), s[n+len(unit):], true
}

// dateJoin reports whether gap may stand between the parts of a written
// date: a space, a dash ("14-Mar-1985") or a dot and space ("14. März").
func dateJoin(gap string) bool {
	switch gap {
	case " ", "-", ". ", " - ", "/", ".":
		return true
	}
	return false
}

// isDateFiller reports whether w may stand between the parts of a date:
// "14th of March", "14 de marzo de 1985".
func isDateFiller(w string) bool {
	switch strings.ToLower(w) {
	case "of", "de", "del", "di", "do":
		return true
	}
	return false
}

func validYear(y int) bool { return y >= dobMinYear && y <= dobMaxYear }

// validDay reports whether day is a day of month; year 0 means unknown,
// which allows 29 February.
func validDay(day, month, year int) bool {
	if month < 1 || month > dobMonthsPerYear || day < 1 {
		return false
	}
	days := [...]int{31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[month-1]
	if month == 2 && year != 0 && !(year%4 == 0 && (year%100 != 0 || year%400 == 0)) {
		days = 28
	}
	return day <= days
}

// atoiDigits converts a short run of ASCII digits.
func atoiDigits(s string) int {
	n := 0
	for i := 0; i < len(s) && i < 9; i++ {
		if !isDigit(s[i]) {
			break
		}
		n = n*10 + int(s[i]-'0')
	}
	return n
}
