package score

import (
	"regexp"
	"strings"
)

// promiseRule is a kind of commitment or admission a draft must not make on
// its own authority.
type promiseRule struct {
	pattern *regexp.Regexp
	reason  string
	weight  float64
}

var promiseRules = []promiseRule{
	{
		pattern: regexp.MustCompile(`(?i)\b(?:we|i)(?:'ll|\s+will|\s+shall|\s+are\s+going\s+to|\s+can)\s+` +
			`(?:\w+\s+){0,3}refund(?:ed)?\b`),
		reason: "draft promises a refund",
		weight: weightPromise,
	},
	{pattern: wordsPattern("full refund"), reason: "draft promises a full refund", weight: weightPromise},
	{
		pattern: wordsPattern("guarantee", "guaranteed", "guarantees"),
		reason:  "draft gives a guarantee", weight: weightPromise,
	},
	{
		pattern: wordsPattern("compensate", "compensated", "compensation"),
		reason:  "draft offers compensation", weight: weightPromise,
	},
	{
		pattern: wordsPattern("free replacement", "replace it for free", "replacement free of charge"),
		reason:  "draft promises a free replacement", weight: weightPromise,
	},
	{
		pattern: wordsPattern("we admit", "i admit", "our fault", "my fault",
			"we are at fault", "we were at fault"),
		reason: "draft admits fault", weight: weightAdmission,
	},
	{
		pattern: wordsPattern("liable", "liability", "negligent", "negligence",
			"we accept responsibility", "we accept full responsibility", "we take full responsibility"),
		reason: "draft makes a legal admission", weight: weightAdmission,
	},
}

// negation matches a negation right before a phrase, as in "we cannot
// guarantee" or "this is not our fault".
var negation = regexp.MustCompile(
	`(?i)(?:\b(?:not|cannot|unable\s+to|no|never)|\wn['’]t)\s+(?:\w+\s+){0,2}$`)

// riskyPromises finds promises and admissions in the draft. A phrase that a
// cited passage states as well is policy, not a promise, and is left out;
// so is a negated one.
func riskyPromises(draft string, cited []string) []Finding {
	var findings []Finding
	seen := make(map[string]bool)
	for _, rule := range promiseRules {
		for _, loc := range rule.pattern.FindAllStringIndex(draft, -1) {
			phrase := normalizeSpace(strings.ToLower(draft[loc[0]:loc[1]]))
			if seen[phrase] || negation.MatchString(draft[max(0, loc[0]-40):loc[0]]) {
				continue
			}
			if containsFold(cited, phrase) || groundedSentence(draft, loc[0], cited) {
				continue
			}
			seen[phrase] = true
			findings = append(findings, Finding{
				Category: CategoryRiskyPromise, Reason: rule.reason, Weight: rule.weight, Evidence: phrase,
			})
		}
	}
	return findings
}

// groundedSentence reports whether the sentence around offset, without its
// citation markers, appears in a cited passage: a quote is not a promise.
func groundedSentence(text string, offset int, cited []string) bool {
	for _, s := range sentenceSpans(text) {
		if offset >= s.start && offset < s.end {
			quote := strings.TrimSpace(citationMarker.ReplaceAllString(text[s.start:s.end], ""))
			return quote != "" && containsFold(cited, quote)
		}
	}
	return false
}
