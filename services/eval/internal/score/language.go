package score

import (
	"regexp"
	"strings"
)

// wordsPattern builds a case-insensitive pattern matching any of words as a
// whole word or phrase.
func wordsPattern(words ...string) *regexp.Regexp {
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = strings.ReplaceAll(regexp.QuoteMeta(w), " ", `\s+`)
	}
	return regexp.MustCompile(`(?i)\b(?:` + strings.Join(quoted, "|") + `)\b`)
}

var (
	legalPattern = wordsPattern(
		"lawyer", "lawyers", "attorney", "attorneys", "solicitor", "sue", "suing", "sued",
		"lawsuit", "legal action", "litigation", "small claims", "class action",
		// "Court" alone is also a street name; only its legal phrases count.
		"to court", "in court", "court case", "court action", "claims court", "county court",
		"court order", "district court")

	threatPattern = regexp.MustCompile(`(?i)\b(?:` +
		`(?:kill|hurt|harm|shoot|stab|beat up)\s+(?:you|your|them|him|her|everyone|somebody|someone)|` +
		`burn\s+(?:down\s+)?(?:your|the)\s+(?:store|office|building|shop)|` +
		`bomb|i\s+know\s+where\s+you\s+live|watch\s+your\s+back|you(?:'ll|\s+will)\s+regret\s+(?:this|it)` +
		`)\b`)

	profanityPattern = wordsPattern(
		"fuck", "fucking", "fucked", "fucker", "shit", "shitty", "bullshit", "damn", "damned",
		"crap", "crappy", "asshole", "bastard", "bitch", "dick", "piss", "pissed", "wanker", "bollocks")

	injectionPatterns = []*regexp.Regexp{
		regexp.MustCompile(`(?i)\b(?:ignore|forget|override)\s+(?:(?:all|any|the|your|my|of|every)\s+){0,3}` +
			`(?:(?:previous|prior|above|earlier|preceding|other|original)\s+)?` +
			`(?:instructions?|prompts?|rules|directions|guidelines|directives)\b`),
		regexp.MustCompile(`(?i)\bdisregard\s+(?:(?:all|any|the|your|my|previous|prior|above|earlier)\s+){0,3}` +
			`(?:instructions?|prompts?|rules|directions|guidelines|policies|policy)\b`),
		wordsPattern("you are now", "system prompt", "developer mode", "jailbreak", "do anything now",
			"reveal your instructions", "reveal your prompt", "new instructions:"),
	}
)

// legalLanguage finds legal threats in the customer's message. They do not
// make the draft wrong, but a person should see the reply.
func legalLanguage(customer string) []Finding {
	terms := distinctMatches(legalPattern, customer)
	if len(terms) == 0 {
		return nil
	}
	return []Finding{{
		Category: CategoryLegal, Reason: "customer mentions legal action; the reply needs review",
		Weight: weightLegal, Evidence: strings.Join(terms, ", "),
	}}
}

// threats finds threats of violence in the customer's message.
func threats(customer string) []Finding {
	terms := distinctMatches(threatPattern, customer)
	if len(terms) == 0 {
		return nil
	}
	return []Finding{{
		Category: CategoryThreat, Reason: "customer message contains a threat",
		Weight: weightThreat, Evidence: strings.Join(terms, ", "),
	}}
}

// profanity finds swear words in text, which source names.
func profanity(text, source string, weight float64) []Finding {
	words := distinctMatches(profanityPattern, text)
	if len(words) == 0 {
		return nil
	}
	return []Finding{{
		Category: CategoryProfanity, Reason: source + " contains profanity",
		Weight: weight, Evidence: strings.Join(words, ", "),
	}}
}

// injection finds text that tries to give the model new instructions.
func injection(text, source string, weight float64) []Finding {
	var phrases []string
	seen := make(map[string]bool)
	for _, p := range injectionPatterns {
		for _, m := range distinctMatches(p, text) {
			if !seen[m] {
				seen[m] = true
				phrases = append(phrases, m)
			}
		}
	}
	if len(phrases) == 0 {
		return nil
	}
	return []Finding{{
		Category: CategoryInjection, Reason: source + " tries to override the model's instructions",
		Weight: weight, Evidence: strings.Join(phrases, ", "),
	}}
}

// distinctMatches returns the matches of p in text, lower-cased with single
// spaces, without repeats, in order of first occurrence.
func distinctMatches(p *regexp.Regexp, text string) []string {
	var out []string
	seen := make(map[string]bool)
	for _, m := range p.FindAllString(text, -1) {
		m = normalizeSpace(strings.ToLower(m))
		if !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	return out
}
