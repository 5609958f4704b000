package redact

// ibanScore is the confidence of an IBAN with a valid length and checksum.
const ibanScore = 0.95

// ibanLengths maps each country of the SWIFT IBAN registry to the length of
// its IBANs.
func ibanLengths() map[string]int {
	return map[string]int{
		"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16,
		"BG": 22, "BH": 22, "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22,
		"CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28, "EE": 20,
		"EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22,
		"GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21,
		"HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30,
		"KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
		"LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20,
		"MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23,
		"PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22,
		"RU": 33, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24,
		"SM": 27, "SO": 23, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26,
		"UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
	}
}

// findIBANs appends the IBANs in text to out. An IBAN starts with an
// upper-case country code and two check digits; the rest may be split by
// single spaces, as in GB82 WEST 1234 5698 7654 32. The registry length of
// the country decides where it ends, and the mod-97 checksum must hold.
func (r *Redactor) findIBANs(s *scan, out []candidate) []candidate {
	text := s.text
	next := 0
	for _, t := range s.tokens {
		i := t.start
		if i < next || t.upper < 2 || t.digits < 2 || t.len() < 4 ||
			!isUpper(text[i]) || !isUpper(text[i+1]) || !isDigit(text[i+2]) || !isDigit(text[i+3]) {
			continue
		}
		length, ok := r.ibanLengths[text[i:i+2]]
		if !ok || isWordRune(runeBefore(text, i)) {
			continue
		}
		end, compact, ok := scanIBAN(text, i, length)
		if !ok || !ibanChecksumValid(compact) {
			continue
		}
		out = append(out, candidate{Finding: Finding{Type: TypeIBAN, Start: i, End: end, Score: ibanScore}})
		next = end
	}
	return out
}

// scanIBAN reads length alphanumerics from i, allowing single spaces
// between them, and returns where they end and their upper-case compact
// form. It fails when the text runs out or the IBAN runs on into a word.
func scanIBAN(text string, i, length int) (int, []byte, bool) {
	compact := make([]byte, 0, length)
	j := i
	for len(compact) < length && j < len(text) {
		c := text[j]
		switch {
		case isASCIIAlnum(c):
			if c >= 'a' && c <= 'z' {
				c -= 'a' - 'A'
			}
			compact = append(compact, c)
			j++
		case c == ' ' && isASCIIAlnum(byteAt(text, j+1)):
			j++
		default:
			return 0, nil, false
		}
	}
	if len(compact) < length || isWordRune(firstRune(text, j)) {
		return 0, nil, false
	}
	return j, compact, true
}

// ibanChecksumValid applies ISO 13616: move the first four characters to
// the end, turn letters into 10..35 and require the number mod 97 to be 1.
func ibanChecksumValid(iban []byte) bool {
	rem := 0
	for k := range len(iban) {
		c := iban[(k+4)%len(iban)]
		switch {
		case isDigit(c):
			rem = (rem*10 + int(c-'0')) % 97
		case isUpper(c):
			rem = (rem*100 + int(c-'A'+10)) % 97
		default:
			return false
		}
	}
	return rem == 1
}

func isUpper(b byte) bool { return b >= 'A' && b <= 'Z' }

// firstRune returns the rune at byte offset i, or -1 at the end.
func firstRune(text string, i int) rune {
	r, _ := runeAt(text, i)
	return r
}
