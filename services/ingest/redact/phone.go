package redact

import "strings"

// Phone scores by shape; a context word such as "phone" right before the
// number adds phoneContextBoost.
const (
	phoneScoreInternational = 0.75 // +CC or 00CC prefix
	phoneScoreNational      = 0.6  // trunk prefix 0, or a North American number
	phoneScoreLocal         = 0.4  // seven digits, 3-4, without area code
	phoneScoreBare          = 0.5  // unformatted digits after a phone word
	phoneContextBoost       = 0.15
)

// Digit limits of a phone number (E.164 allows at most 15).
const (
	phoneMinDigits = 7
	phoneMaxDigits = 15
)

// phoneGroup is one run of digits of a phone candidate.
type phoneGroup struct {
	start, end int  // byte offsets of the digits
	paren      bool // written inside parentheses, like (555)
}

func (g phoneGroup) len() int { return g.end - g.start }

// phoneCandidate is a run of digit groups that may be a phone number.
type phoneCandidate struct {
	start, end int
	plus       bool
	groups     []phoneGroup
	// seps[k] is the separator between groups[k] and groups[k+1]: ' ', '-',
	// '.', '/', or ')' when a closing parenthesis alone separates them.
	seps []byte
}

func (c phoneCandidate) digits(text string) string {
	var b strings.Builder
	for _, g := range c.groups {
		b.WriteString(text[g.start:g.end])
	}
	return b.String()
}

// digitCount returns how many digits the groups hold.
func (c phoneCandidate) digitCount() int {
	n := 0
	for _, g := range c.groups {
		n += g.len()
	}
	return n
}

func (c phoneCandidate) hasSep(sep byte) bool {
	return strings.IndexByte(string(c.seps), sep) >= 0
}

func (c phoneCandidate) hasParen() bool {
	for _, g := range c.groups {
		if g.paren {
			return true
		}
	}
	return false
}

// groupLens reports whether the group lengths are exactly want.
func (c phoneCandidate) groupLens(want ...int) bool {
	if len(c.groups) != len(want) {
		return false
	}
	for k, g := range c.groups {
		if g.len() != want[k] {
			return false
		}
	}
	return true
}

// findPhones appends the phone numbers in text to out. A scanner collects
// digit groups joined by single separators, then phoneScore decides by shape
// and context whether the run is a phone number.
func (r *Redactor) findPhones(s *scan, out []candidate) []candidate {
	text := s.text
	next := 0
	var buf phoneCandidate // its slices are reused from one token to the next
	for _, t := range s.tokens {
		if t.start < next || !isDigit(text[t.start]) {
			continue
		}
		c, ok := scanPhone(text, phoneStart(s, t.start), &buf)
		if !ok {
			// An unclosed "(" or a stray '+': read from the digit itself.
			if c, ok = scanPhone(text, t.start, &buf); !ok {
				continue
			}
		}
		if score, ok := r.phoneScore(text, c); ok {
			out = append(out, candidate{Finding: Finding{Type: TypePhone, Start: c.start, End: c.end, Score: score}})
		}
		next = c.end
	}
	return out
}

// phoneStart returns where a phone number whose first digit is at i begins:
// an opening parenthesis and a leading '+' (optionally followed by one
// space) belong to it. In code, a '+' that starts a line is a diff marker.
func phoneStart(s *scan, i int) int {
	text := s.text
	if byteAt(text, i-1) == '(' {
		i--
	}
	plus := -1
	switch {
	case byteAt(text, i-1) == '+':
		plus = i - 1
	case byteAt(text, i-1) == ' ' && byteAt(text, i-2) == '+':
		plus = i - 2
	}
	if plus >= 0 && !(s.profile == ProfileCode && lineStart(text, plus)) {
		i = plus
	}
	return i
}

// phoneContextWords is how many words before a number are read for phone
// words: enough for a question on the line before its answer ("contact
// number?\nCustomer: 0412 889 301").
const phoneContextWords = 5

// chatSpeakerBefore reports whether the text before offset i on its line
// is a single word and a colon: the speaker of a transcript line.
func chatSpeakerBefore(text string, i int) bool {
	from := max(0, i-24)
	seg := text[from:i]
	nl := strings.LastIndexByte(seg, '\n')
	if nl < 0 && from > 0 {
		return false // the line starts before the window: not a short label
	}
	word, ok := strings.CutSuffix(strings.TrimRight(seg[nl+1:], " "), ":")
	return ok && word != "" && !strings.ContainsAny(word, " \t")
}

// lineStart reports whether offset i is the first byte of a line.
func lineStart(text string, i int) bool {
	return i == 0 || byteAt(text, i-1) == '\n'
}

// scanPhone reads the longest run of digit groups starting at i.
// The candidate's slices reuse those of buf, which keeps the grown ones.
func scanPhone(text string, i int, buf *phoneCandidate) (phoneCandidate, bool) {
	c := phoneCandidate{start: i, groups: buf.groups[:0], seps: buf.seps[:0]}
	defer func() { buf.groups, buf.seps = c.groups, c.seps }()
	j := i
	if text[j] == '+' {
		c.plus = true
		j++
		if byteAt(text, j) == ' ' {
			j++
		}
	}

scan:
	for {
		paren := byteAt(text, j) == '('
		k := j
		if paren {
			k++
		}
		digitsStart := k
		for k < len(text) && isDigit(text[k]) {
			k++
		}
		if k == digitsStart {
			break
		}
		groupEnd := k
		if paren {
			if byteAt(text, k) != ')' {
				break
			}
			groupEnd = k + 1
		}
		c.groups = append(c.groups, phoneGroup{start: digitsStart, end: k, paren: paren})
		c.end = groupEnd
		j = groupEnd

		sep, next := byteAt(text, j), byteAt(text, j+1)
		switch {
		case (sep == ' ' || sep == '-' || sep == '.' || sep == '/') && (isDigit(next) || next == '('):
			c.seps = append(c.seps, sep)
			j++
		case paren && isDigit(sep):
			c.seps = append(c.seps, ')')
		default:
			break scan
		}
	}
	if len(c.groups) == 0 {
		return c, false
	}
	// A separator may have been read before a group that did not follow.
	c.seps = c.seps[:len(c.groups)-1]
	return c, true
}

// phoneScore decides whether c is a phone number and how sure that is:
// shape and context first, then the numbering plan of its country.
func (r *Redactor) phoneScore(text string, c phoneCandidate) (float64, bool) {
	// The digit count is the cheapest test and rejects most runs (years,
	// amounts, short ids), so it comes before any context is read.
	if n := c.digitCount(); n < phoneMinDigits || n > phoneMaxDigits {
		return 0, false
	}
	if notPhoneShape(text, c) || !r.phoneContextOK(text, c) {
		return 0, false
	}

	digits := c.digits(text)
	n := len(digits)
	formatted := len(c.groups) > 1 || c.hasParen()

	var score float64
	switch {
	case c.plus:
		if digits[0] == '0' {
			return 0, false
		}
		score = phoneScoreInternational
	case strings.HasPrefix(digits, "00"):
		if n-2 < phoneMinDigits || digits[2] == '0' || !formatted {
			return 0, false
		}
		score = phoneScoreInternational
	case !formatted:
		if !hasContext(text, c.start, 3, r.phoneWords) {
			return 0, false
		}
		score = phoneScoreBare
	case digits[0] == '0':
		// National format with a trunk prefix, as in the UK, Germany or
		// France. The prefix is written with the area code, not alone.
		if n < 9 || n > 13 || c.groups[0].len() == 1 {
			return 0, false
		}
		score = phoneScoreNational
	case isNorthAmerican(digits, c):
		score = phoneScoreNational
	case c.groupLens(3, 4) && digits[0] >= '2':
		score = phoneScoreLocal
	case len(c.groups) >= 3 && n >= 8 && n <= 12 && hasContext(text, c.start, phoneContextWords, r.phoneWords):
		// Grouped digits of a plan without a trunk prefix, as in Spain
		// (644 21 90 37), Mexico (55 4123 8890) or China (138 1762 4409):
		// only where a phone word says so.
		score = phoneScoreBare
	default:
		return 0, false
	}

	international := c.plus || strings.HasPrefix(digits, "00")
	if score != phoneScoreLocal { // no plan can judge a number without its area code
		score = r.phonePlanScore(digits, international, score)
	}
	if hasContext(text, c.start, phoneContextWords, r.phoneWords) {
		score += phoneContextBoost
	}
	return min(1, score), true
}

// isNorthAmerican reports whether digits, grouped as in c, read as a NANP
// number: (NPA) NXX-XXXX, NPA-NXX-XXXX or 1-NPA-NXX-XXXX.
func isNorthAmerican(digits string, c phoneCandidate) bool {
	switch len(digits) {
	case 10:
		return digits[0] >= '2' && (c.groupLens(3, 3, 4) || c.groupLens(3, 7))
	case 11:
		return digits[0] == '1' && digits[1] >= '2' && c.groupLens(1, 3, 3, 4)
	}
	return false
}

// phoneContextOK checks what surrounds c: it must not continue a word or a
// longer number, and the word before it must not call it an id.
func (r *Redactor) phoneContextOK(text string, c phoneCandidate) bool {
	before := runeBefore(text, c.start)
	if isWordRune(before) {
		return false
	}
	if (before == '+' || before == '-') && lineStart(text, c.start-1) {
		before = '\n' // a diff marker: the number starts its line
	}
	switch before {
	case '-', '.', '/', '\\', '#', '@', '&', '%', '$', '+', '*', '~', '^', '|', '€', '£':
		return false
	case ':':
		if isDigit(byteAt(text, c.start-2)) {
			return false // the seconds of a time, 11:51:02.118822
		}
	}
	// "NHS number on the referral, 492 217 1739": another kind of number
	// is named close by, and nothing says phone.
	if hasContext(text, c.start, 5, r.idWords) && !hasContext(text, c.start, 5, r.phoneWords) {
		return false
	}
	if continuesNumber(text, c.end) {
		return false
	}

	last, ok := wordBefore(text, c.start, 1)
	if !ok || !lowerIn(last, r.notPhoneWords) || c.plus || chatSpeakerBefore(text, c.start) {
		// "+1 415 555 0109" is a phone number whatever names it, and in
		// "Customer: 0412 889 301" the word names who speaks, not the number.
		return true
	}
	// "phone number 020 7946 0958" is fine; "order number 0207946" is not.
	first, ok := wordBefore(text, c.start, 2)
	return ok && lowerIn(last, r.numberWords) && lowerIn(first, r.phoneWords)
}

// notPhoneShape reports shapes that are other things: dates, versions,
// dotted quads and SSNs.
func notPhoneShape(text string, c phoneCandidate) bool {
	if looksLikeDate(text, c) {
		return true
	}
	if c.hasSep('.') {
		if len(c.groups) == 4 && !c.plus && c.groups[0].len() <= 3 {
			return true // a dotted quad such as an IPv4 address
		}
		for k, g := range c.groups {
			if g.len() == 1 && !(k == 0 && c.plus) {
				return true // a version such as 10.0.19045.1234
			}
		}
	}
	if strings.Count(string(c.seps), "/") > 1 {
		return true
	}
	if !c.plus && !c.hasParen() && c.groupLens(3, 2, 4) {
		return true // shaped like an SSN; the SSN recogniser decides
	}
	return false
}

// looksLikeDate reports whether the first three groups of c read as a date:
// YYYY-MM-DD, DD.MM.YYYY, MM/DD/YY and the like.
func looksLikeDate(text string, c phoneCandidate) bool {
	if len(c.groups) < 3 || c.plus || c.seps[0] != c.seps[1] {
		return false
	}
	sep := c.seps[0]
	g := c.groups
	num := func(k int) int { return atoi(text[g[k].start:g[k].end]) }
	l0, l1, l2 := g[0].len(), g[1].len(), g[2].len()

	if l0 == 4 && l1 <= 2 && l2 <= 2 {
		year := num(0)
		if sep == ' ' && (year < 1900 || year > 2099) {
			return false
		}
		return validMonthDay(num(1), num(2))
	}
	if sep == ' ' {
		return false
	}
	if l0 <= 2 && l1 <= 2 && (l2 == 4 || l2 == 2) {
		return validMonthDay(num(1), num(0)) || validMonthDay(num(0), num(1))
	}
	return false
}

func validMonthDay(month, day int) bool {
	return month >= 1 && month <= 12 && day >= 1 && day <= 31
}

// atoi parses a short run of ASCII digits.
func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}
