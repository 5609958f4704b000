package score

import (
	"regexp"
	"strings"
	"unicode"
)

// placeholder matches a redaction placeholder such as [EMAIL_1] or
// [PERSON_12].
var placeholder = regexp.MustCompile(`\[[A-Z][A-Z_]*_\d+\]`)

var (
	emailPattern = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}`)
	// cardPattern matches 13 to 19 digits, optionally grouped by spaces or
	// dashes.
	cardPattern = regexp.MustCompile(`\b\d(?:[ \-]?\d){12,18}\b`)
	// phonePattern matches digit runs with the separators phone numbers are
	// written with; phoneNumber checks the count of digits.
	phonePattern = regexp.MustCompile(`\+?\(?\d[\d \t().\-]{6,22}\d`)
	// ibanPattern matches a country code, two check digits and 11 to 30
	// letters or digits, in groups of four or not.
	ibanPattern = regexp.MustCompile(`\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b`)
)

// leakedPII finds personal data in the draft that is not a placeholder:
// e-mail addresses, phone numbers, card numbers that pass the Luhn check
// and IBAN-like account numbers. It also returns the draft with
// placeholders and every finding blanked out, for checks that must not
// read personal data as something else. An e-mail address or phone number
// that a cited passage holds word for word is the tenant's published
// contact point, not a leak.
func leakedPII(draft string, cited []string) ([]Finding, string) {
	text := placeholder.ReplaceAllStringFunc(draft, blank)
	var findings []Finding

	for _, m := range emailPattern.FindAllString(text, -1) {
		if published(m, cited) {
			continue
		}
		findings = append(findings, Finding{
			Category: CategoryPIILeak, Reason: "draft contains an e-mail address",
			Weight: weightEmail, Evidence: mask(m),
		})
	}
	// Blank each match so that a card number is not also a phone number.
	text = emailPattern.ReplaceAllStringFunc(text, blank)

	for _, m := range ibanPattern.FindAllString(text, -1) {
		if digitCount(m) < 8 {
			continue
		}
		findings = append(findings, Finding{
			Category: CategoryPIILeak, Reason: "draft contains an IBAN-like account number",
			Weight: weightIBAN, Evidence: mask(m),
		})
		text = strings.Replace(text, m, blank(m), 1)
	}

	for _, loc := range cardPattern.FindAllStringIndex(text, -1) {
		m := text[loc[0]:loc[1]]
		if !luhnValid(digits(m)) {
			continue
		}
		findings = append(findings, Finding{
			Category: CategoryPIILeak, Reason: "draft contains a card number",
			Weight: weightCard, Evidence: mask(m),
		})
		text = text[:loc[0]] + blank(m) + text[loc[1]:]
	}

	for _, loc := range phonePattern.FindAllStringIndex(text, -1) {
		m := strings.TrimRight(text[loc[0]:loc[1]], " \t(.-")
		if !phoneNumber(text, loc[0], m) || published(m, cited) {
			continue
		}
		findings = append(findings, Finding{
			Category: CategoryPIILeak, Reason: "draft contains a phone number",
			Weight: weightPhone, Evidence: mask(m),
		})
		text = text[:loc[0]] + blank(m) + text[loc[0]+len(m):]
	}
	return findings, text
}

// published reports whether value appears word for word in a cited passage.
func published(value string, cited []string) bool {
	for _, c := range cited {
		if strings.Contains(c, value) {
			return true
		}
	}
	return false
}

// phoneNumber reports whether m, found at start in text, reads as a phone
// number: 9 to 15 digits, not glued to a word, an order reference or a
// money amount.
func phoneNumber(text string, start int, m string) bool {
	n := digitCount(m)
	if n < 9 || n > 15 {
		return false
	}
	if start > 0 {
		prev := rune(text[start-1])
		if unicode.IsLetter(prev) || unicode.IsDigit(prev) || strings.ContainsRune("#-_/$€£", prev) {
			return false
		}
	}
	// A plain run of digits is an id more often than a phone number.
	return strings.ContainsAny(m, " ().-+") || n == 10 || n == 11
}

// luhnValid reports whether the digit string passes the Luhn checksum.
func luhnValid(d string) bool {
	if len(d) < 13 {
		return false
	}
	sum := 0
	double := false
	for i := len(d) - 1; i >= 0; i-- {
		v := int(d[i] - '0')
		if double {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		double = !double
	}
	return sum%10 == 0
}

func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func digitCount(s string) int { return len(digits(s)) }

// mask hides every letter and digit of s but keeps its shape, so evidence
// shows what kind of data leaked without repeating it.
func mask(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return '*'
		}
		return r
	}, s)
}

// blank replaces s with spaces of the same length, so offsets stay valid.
func blank(s string) string { return strings.Repeat(" ", len(s)) }

// foreignPlaceholders flags placeholders in the draft that the customer's
// message does not hold. Placeholders are numbered per document, so one
// copied from a passage or made up by the model would be restored to the
// customer's own value of that number, or to nothing.
func foreignPlaceholders(draft, customer string) []Finding {
	known := make(map[string]bool)
	for _, p := range placeholder.FindAllString(customer, -1) {
		known[p] = true
	}
	var findings []Finding
	seen := make(map[string]bool)
	for _, p := range placeholder.FindAllString(draft, -1) {
		if known[p] || seen[p] {
			continue
		}
		seen[p] = true
		findings = append(findings, Finding{
			Category: CategoryForeignPlaceholder,
			Reason:   "draft holds placeholder " + p + " that is not in the customer's message",
			Weight:   weightForeignHolder,
			Evidence: p,
		})
	}
	return findings
}
