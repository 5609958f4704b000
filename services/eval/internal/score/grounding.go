package score

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// citationMarker matches [1] or [1, 2] in a draft.
var citationMarker = regexp.MustCompile(`\[\d{1,3}(?:\s*,\s*\d{1,3})*\]`)

// numberWords spells out the counts that replies use for time promises.
var numberWords = map[string]string{
	"a": "1", "an": "1", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
	"seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
	"fourteen": "14", "fifteen": "15", "twenty": "20", "thirty": "30", "twenty-four": "24",
	"forty-eight": "48", "seventy-two": "72", "ninety": "90",
}

const countPattern = `(\d+(?:\.\d+)?|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|` +
	`fourteen|fifteen|twenty-four|forty-eight|seventy-two|twenty|thirty|ninety)`

var (
	// durationPattern matches "5 days", "3-5 business days", "two to
	// three weeks" and "24 hours".
	durationPattern = regexp.MustCompile(`(?i)\b` + countPattern +
		`(?:\s*(?:-|–|to)\s*` + countPattern + `)?` +
		`\s+(?:business\s+|working\s+|calendar\s+)?(minute|hour|day|week|month|year)s?\b`)
	// deadlinePattern matches time promises without a count.
	deadlinePattern = regexp.MustCompile(`(?i)\b(?:today|tonight|tomorrow|` +
		`next\s+(?:business\s+|working\s+)?day|` +
		`same\s+day|within\s+the\s+hour|by\s+(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday))\b`)
	// moneyPattern matches amounts with a currency sign or name.
	moneyPattern = regexp.MustCompile(`(?i)(?:[$€£]\s?\d[\d,]*(?:\.\d+)?|\b\d[\d,]*(?:\.\d+)?\s?` +
		`(?:usd|eur|gbp|dollars?|euros?|pounds?)\b)`)
	// numberPattern matches a number, with decimals or a percent sign.
	numberPattern = regexp.MustCompile(`\d+(?:[.,]\d+)*%?`)
)

// citationProblems reports a draft that cites nothing although passages
// were given, and citations of passages that were not given.
func citationProblems(passages []Passage, citations []string) []Finding {
	if len(passages) > 0 && len(citations) == 0 {
		return []Finding{{
			Category: CategoryUngrounded,
			Reason:   fmt.Sprintf("draft cites none of the %d passages it was given", len(passages)),
			Weight:   weightNoCitations,
		}}
	}
	known := make(map[string]bool, len(passages))
	for _, p := range passages {
		known[p.ChunkID] = true
	}
	var findings []Finding
	for _, c := range citations {
		if !known[c] {
			findings = append(findings, Finding{
				Category: CategoryUngrounded, Reason: "draft cites a passage it was not given",
				Weight: weightUnknownCitation, Evidence: c,
			})
		}
	}
	return findings
}

// ungroundedClaims finds sentences of the draft that state numbers, amounts
// of money or time promises that no grounding text states. The grounding
// is the cited passages and the results of the tools called while drafting.
// Numbers and amounts the customer wrote (an order number, what they paid)
// count as grounded; time promises must come from the grounding. The draft
// is expected with personal data and placeholders blanked out (see
// leakedPII).
func ungroundedClaims(draft, customer string, cited []string) []Finding {
	passageFacts := factsIn(strings.Join(cited, "\n"))
	customerFacts := factsIn(customer)

	var findings []Finding
	text := citationMarker.ReplaceAllStringFunc(draft, blank)
	for _, s := range sentenceSpans(text) {
		var unsupported []string
		for _, c := range claimsIn(text[s.start:s.end]) {
			if passageFacts.supports(c) || (!c.time && customerFacts.supports(c)) {
				continue
			}
			unsupported = append(unsupported, c.text)
		}
		if len(unsupported) == 0 {
			continue
		}
		findings = append(findings, Finding{
			Category: CategoryUngrounded,
			Reason:   "draft states facts no cited passage supports",
			Weight:   weightUngrounded,
			Evidence: strings.Join(unsupported, ", "),
		})
	}
	return findings
}

// claim is a checkable statement in a sentence: the keys all have to be
// found in a source for it to count as supported.
type claim struct {
	text string
	keys []string
	time bool
}

// facts are the keys of every claim a source text makes.
type facts map[string]bool

func (f facts) supports(c claim) bool {
	for _, k := range c.keys {
		if !f[k] {
			return false
		}
	}
	return true
}

func factsIn(text string) facts {
	f := make(facts)
	for _, c := range claimsIn(text) {
		for _, k := range c.keys {
			f[k] = true
		}
	}
	// Every bare number of a source supports the same number in the draft,
	// however it is written there.
	for _, m := range numberPattern.FindAllString(text, -1) {
		f["n:"+normalizeNumber(m)] = true
	}
	for _, m := range deadlinePattern.FindAllString(text, -1) {
		f["d:"+normalizeSpace(strings.ToLower(m))] = true
	}
	return f
}

// claimsIn returns the claims of one sentence: durations, deadlines, money
// amounts and the remaining numbers that are not part of an identifier.
func claimsIn(sentence string) []claim {
	var claims []claim
	rest := []byte(sentence)

	for _, m := range durationPattern.FindAllStringSubmatchIndex(sentence, -1) {
		unit := strings.ToLower(sentence[m[6]:m[7]])
		c := claim{text: sentence[m[0]:m[1]], time: true}
		c.keys = append(c.keys, "t:"+count(sentence[m[2]:m[3]])+" "+unit)
		if m[4] >= 0 {
			c.keys = append(c.keys, "t:"+count(sentence[m[4]:m[5]])+" "+unit)
		}
		claims = append(claims, c)
		blankRange(rest, m[0], m[1])
	}
	for _, m := range deadlinePattern.FindAllStringIndex(sentence, -1) {
		phrase := normalizeSpace(strings.ToLower(sentence[m[0]:m[1]]))
		claims = append(claims, claim{text: sentence[m[0]:m[1]], keys: []string{"d:" + phrase}, time: true})
		blankRange(rest, m[0], m[1])
	}
	for _, m := range moneyPattern.FindAllStringIndex(string(rest), -1) {
		amount := numberPattern.FindString(sentence[m[0]:m[1]])
		claims = append(claims, claim{text: sentence[m[0]:m[1]], keys: []string{"n:" + normalizeNumber(amount)}})
		blankRange(rest, m[0], m[1])
	}
	for _, m := range numberPattern.FindAllStringIndex(string(rest), -1) {
		if partOfIdentifier(string(rest), m[0], m[1]) {
			continue
		}
		number := sentence[m[0]:m[1]]
		claims = append(claims, claim{text: number, keys: []string{"n:" + normalizeNumber(number)}})
	}
	return claims
}

// count turns a spelled-out count into digits.
func count(s string) string {
	if d, ok := numberWords[strings.ToLower(s)]; ok {
		return d
	}
	return normalizeNumber(s)
}

// normalizeNumber writes 1,299.00 as 1299 and 4.50 as 4.5.
func normalizeNumber(s string) string {
	s = strings.TrimSuffix(s, "%")
	if strings.Count(s, ",") > 0 && !strings.Contains(s, ".") && len(s)-strings.LastIndex(s, ",") == 3 {
		// "4,99" is a decimal comma.
		s = strings.Replace(s, ",", ".", 1)
	}
	s = strings.ReplaceAll(s, ",", "")
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return s
}

// partOfIdentifier reports whether the number at [start, end) belongs to a
// word or reference such as ORD-12345, #12345, A4 or 3rd.
func partOfIdentifier(text string, start, end int) bool {
	if start > 0 {
		if prev := text[start-1]; isASCIILetter(prev) || strings.IndexByte("#-_/", prev) >= 0 {
			return true
		}
	}
	if end < len(text) {
		if next := text[end]; isASCIILetter(next) || strings.IndexByte("-_/", next) >= 0 {
			return true
		}
	}
	return false
}

func blankRange(b []byte, start, end int) {
	for i := start; i < end; i++ {
		b[i] = ' '
	}
}

// span is a sentence's byte range in a text.
type span struct{ start, end int }

// sentenceSpans splits text at line breaks and after '.', '!' or '?'
// followed by white space, skipping empty sentences. Offsets refer to text.
func sentenceSpans(text string) []span {
	var spans []span
	start := 0
	add := func(end int) {
		if strings.TrimSpace(text[start:end]) != "" {
			spans = append(spans, span{start, end})
		}
		start = end
	}
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case '\n':
			add(i)
			start = i + 1
		case '.', '!', '?':
			if i+1 == len(text) || text[i+1] == ' ' || text[i+1] == '\t' || text[i+1] == '\n' {
				add(i + 1)
			}
		}
	}
	if start < len(text) {
		add(len(text))
	}
	return spans
}

func isASCIILetter(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}
