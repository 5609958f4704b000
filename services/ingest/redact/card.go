package redact

// cardScore is the confidence of a Luhn-valid number with a known issuer
// prefix.
const cardScore = 0.95

// Digit limits of a payment card number (ISO/IEC 7812).
const (
	cardMinDigits = 13
	cardMaxDigits = 19
)

// findCards appends the payment card numbers in text to out. Digits may be
// grouped by single spaces or dashes. Within a longer run of groups, every
// window of whole groups holding 13 to 19 digits is tried, longest first.
func (r *Redactor) findCards(s *scan, out []candidate) []candidate {
	text := s.text
	next := 0
	var groups [][2]int // reused from one run to the next
	var seps []byte
	for _, t := range s.tokens {
		if t.start < next || !isDigit(text[t.start]) {
			continue
		}
		groups, seps = scanDigitGroups(text, t.start, groups[:0], seps[:0])
		runStart, runEnd := groups[0][0], groups[len(groups)-1][1]
		next = runEnd
		if !cardLeftOK(text, runStart) || continuesNumber(text, runEnd) {
			continue
		}
		out = appendCardWindows(text, groups, seps, out)
	}
	return out
}

// scanDigitGroups reads digit groups joined by single spaces or dashes,
// starting at the digit at i. It appends the [start, end) of each group and
// the separators between them to groups and seps.
func scanDigitGroups(text string, i int, groups [][2]int, seps []byte) ([][2]int, []byte) {
	for {
		k := i
		for k < len(text) && isDigit(text[k]) {
			k++
		}
		groups = append(groups, [2]int{i, k})
		sep := byteAt(text, k)
		if (sep != ' ' && sep != '-') || !isDigit(byteAt(text, k+1)) {
			return groups, seps
		}
		seps = append(seps, sep)
		i = k + 1
	}
}

// appendCardWindows appends, left to right, the longest valid card number
// made of whole consecutive groups.
func appendCardWindows(text string, groups [][2]int, seps []byte, out []candidate) []candidate {
	for a := 0; a < len(groups); {
		best := -1
		digits := make([]byte, 0, cardMaxDigits)
		for b := a; b < len(groups); b++ {
			digits = append(digits, text[groups[b][0]:groups[b][1]]...)
			if len(digits) > cardMaxDigits {
				break
			}
			if b > a && seps[b-1] != seps[a] {
				break // mixed separators: 4111-1111 1111-1111
			}
			if len(digits) >= cardMinDigits && luhnValid(digits) && knownIssuer(digits) {
				best = b
			}
		}
		if best < 0 {
			a++
			continue
		}
		out = append(out, candidate{Finding: Finding{
			Type: TypeCard, Start: groups[a][0], End: groups[best][1], Score: cardScore,
		}})
		a = best + 1
	}
	return out
}

// cardLeftOK reports whether a digit run starting at i stands on its own:
// not glued to a word or to an id such as ORD-4111...
func cardLeftOK(text string, i int) bool {
	before := runeBefore(text, i)
	if isWordRune(before) {
		return false
	}
	switch before {
	case '-', '.', '/', '\\', '@', '&', '%', '+':
		return false
	}
	return true
}

// luhnValid reports whether the ASCII digits pass the Luhn checksum.
func luhnValid(digits []byte) bool {
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// knownIssuer reports whether the prefix and length of digits belong to a
// card scheme: Visa, Mastercard, American Express, Discover, JCB, Diners
// Club, UnionPay, Mir or Maestro.
func knownIssuer(digits []byte) bool {
	n := len(digits)
	prefix := func(k int) int { return atoi(string(digits[:k])) }
	p2, p3, p4 := prefix(2), prefix(3), prefix(4)
	switch {
	case digits[0] == '4': // Visa
		return n == 13 || n == 16 || n == 19
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720: // Mastercard
		return n == 16
	case p2 == 34 || p2 == 37: // American Express
		return n == 15
	case p4 >= 2200 && p4 <= 2204: // Mir
		return n >= 16 && n <= 19
	case p4 == 6011, p3 >= 644 && p3 <= 649, p2 == 65: // Discover
		return n >= 16 && n <= 19
	case p4 >= 3528 && p4 <= 3589: // JCB
		return n >= 16 && n <= 19
	case p3 >= 300 && p3 <= 305, p2 == 36, p2 == 38, p2 == 39: // Diners Club
		return n >= 14 && n <= 19
	case p2 == 62: // UnionPay
		return n >= 16 && n <= 19
	case p2 == 50, p2 >= 56 && p2 <= 69: // Maestro
		return n >= 13 && n <= 19
	}
	return false
}
