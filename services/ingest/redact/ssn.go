package redact

// SSN scores: dashed or spaced numbers are likely SSNs; a bare nine-digit
// run is only taken after a word such as "SSN".
const (
	ssnScoreFormatted = 0.85
	ssnScoreBare      = 0.7
	ssnContextBoost   = 0.1
)

// findSSNs appends the US social security numbers in text to out. The
// number must be written AAA-GG-SSSS (or with spaces) unless a context word
// such as "SSN" comes first, and it must be one the Social Security
// Administration could issue: no area 000, 666 or 900-999, no group 00, no
// serial 0000.
func (r *Redactor) findSSNs(s *scan, out []candidate) []candidate {
	text := s.text
	for _, t := range s.tokens {
		if !isDigit(text[t.start]) {
			continue
		}
		start := t.start
		end, formatted, ok := scanSSN(text, start)
		if !ok {
			continue
		}
		if isWordRune(runeBefore(text, start)) || !ssnBoundaryOK(text, start, end) {
			continue
		}
		if !validSSN(keepBytes(text[start:end], isDigit)) {
			continue
		}

		context := hasContext(text, start, 6, r.ssnWords)
		score := ssnScoreFormatted
		switch {
		case !formatted && !context:
			continue
		case !formatted:
			score = ssnScoreBare
		case context:
			score += ssnContextBoost
		}
		out = append(out, candidate{Finding: Finding{Type: TypeSSN, Start: start, End: end, Score: score}})
	}
	return out
}

// scanSSN reads, from i, either AAA-GG-SSSS with one separator (a dash or a
// space) used twice, or a bare run of nine digits. It returns where the
// number ends and whether it had separators.
func scanSSN(text string, i int) (end int, formatted, ok bool) {
	run := digitRun(text, i)
	if run == 9 {
		return i + 9, false, true
	}
	if run != 3 {
		return 0, false, false
	}
	sep := byteAt(text, i+3)
	if sep != '-' && sep != ' ' {
		return 0, false, false
	}
	if digitRun(text, i+4) != 2 || byteAt(text, i+6) != sep || digitRun(text, i+7) != 4 {
		return 0, false, false
	}
	return i + 11, true, true
}

// digitRun counts the ASCII digits starting at i.
func digitRun(text string, i int) int {
	n := 0
	for i+n < len(text) && isDigit(text[i+n]) {
		n++
	}
	return n
}

// validSSN applies the issuance rules to nine digits.
func validSSN(digits string) bool {
	area, group, serial := atoi(digits[:3]), atoi(digits[3:5]), atoi(digits[5:])
	if area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0 {
		return false
	}
	for i := 1; i < len(digits); i++ {
		if digits[i] != digits[0] {
			return true
		}
	}
	return false // 111-11-1111 and the like are placeholders, not numbers
}

// ssnBoundaryOK rejects numbers that are part of a longer dashed or dotted
// token, such as 2024-123-45-6789.
func ssnBoundaryOK(text string, start, end int) bool {
	switch runeBefore(text, start) {
	case '-', '.', '/', '+', '#', '@':
		return false
	}
	return !continuesNumber(text, end)
}
