// Package score rates the risk of a drafted reply before a person sees it.
//
// It is rule based and deterministic: regular expressions and small word
// lists find leaked personal data, risky promises and admissions, legal or
// threatening language, profanity, prompt injection and claims the cited
// passages do not support. Each finding carries a weight in (0, 1]; the risk
// score combines them as independent risks, 1 - Π(1 - weight).
package score

import "strings"

// Finding categories.
const (
	CategoryPIILeak      = "pii_leak"
	CategoryRiskyPromise = "risky_promise"
	CategoryLegal        = "legal"
	CategoryThreat       = "threat"
	CategoryProfanity    = "profanity"
	CategoryUngrounded   = "ungrounded"
	CategoryInjection    = "injection"
	// CategoryForeignPlaceholder: the draft holds a placeholder that the
	// customer's message does not, which restoring would fill wrongly.
	CategoryForeignPlaceholder = "foreign_placeholder"
)

// Input is what gets evaluated. All text is expected to be redacted already:
// placeholders such as [EMAIL_1] stand where personal data was.
type Input struct {
	// Customer is the customer's message the draft answers.
	Customer string
	// Draft is the proposed reply.
	Draft    string
	Passages []Passage
	// Citations are the chunk ids the draft cites.
	Citations []string
	// ToolResults are the results (JSON) of tool calls made while drafting:
	// facts such as an order's status or delivery date may come from them.
	ToolResults []string
}

// Passage is a grounding source the draft may cite.
type Passage struct {
	ChunkID string
	Text    string
}

// Finding is one reason for concern.
type Finding struct {
	Category string
	Reason   string
	// Weight is the finding's share of risk, in (0, 1].
	Weight float64
	// Evidence is the matched text, with personal data masked.
	Evidence string
}

// Result is the outcome of Evaluate.
type Result struct {
	// RiskScore is 0 for no risk up to 1.
	RiskScore float64
	Findings  []Finding
}

// Categories returns the distinct categories of r's findings in the order
// they first occur.
func (r Result) Categories() []string {
	var cats []string
	seen := make(map[string]bool)
	for _, f := range r.Findings {
		if !seen[f.Category] {
			seen[f.Category] = true
			cats = append(cats, f.Category)
		}
	}
	return cats
}

// Evaluate checks in and returns its findings and risk score. Checks on the
// customer's message come first, then checks on the draft.
func Evaluate(in Input) Result {
	var findings []Finding

	// What the customer wrote: legal or threatening language, profanity and
	// attempts to steer the model. Passages are checked for injection too,
	// since a help article can carry planted instructions.
	customer := normalizeForPatterns(in.Customer)
	findings = append(findings, legalLanguage(customer)...)
	findings = append(findings, threats(customer)...)
	findings = append(findings, profanity(customer, "customer message", weightProfanityInput)...)
	findings = append(findings, injection(customer, "customer message", weightInjectionInput)...)
	for _, p := range in.Passages {
		findings = append(findings, injection(p.Text, "passage "+p.ChunkID, weightInjectionPassage)...)
	}

	// What the draft says.
	cited := citedPassages(in.Passages, in.Citations)
	leaks, scrubbed := leakedPII(in.Draft, cited)
	findings = append(findings, leaks...)
	findings = append(findings, foreignPlaceholders(in.Draft, in.Customer)...)
	findings = append(findings, riskyPromises(in.Draft, cited)...)
	findings = append(findings, profanity(in.Draft, "draft", weightProfanityDraft)...)
	findings = append(findings, citationProblems(in.Passages, in.Citations)...)
	grounding := append(append([]string(nil), cited...), in.ToolResults...)
	findings = append(findings, ungroundedClaims(scrubbed, in.Customer, grounding)...)

	return Result{RiskScore: Combine(findings), Findings: findings}
}

// Combine returns 1 - Π(1 - weight) over findings, between 0 and 1.
func Combine(findings []Finding) float64 {
	safe := 1.0
	for _, f := range findings {
		w := min(max(f.Weight, 0), 1)
		safe *= 1 - w
	}
	return min(max(1-safe, 0), 1)
}

// citedPassages returns the text of the passages whose chunk ids are cited.
func citedPassages(passages []Passage, citations []string) []string {
	cited := make(map[string]bool, len(citations))
	for _, c := range citations {
		cited[c] = true
	}
	var texts []string
	for _, p := range passages {
		if cited[p.ChunkID] {
			texts = append(texts, p.Text)
		}
	}
	return texts
}

// containsFold reports whether any of texts contains sub, ignoring case and
// runs of white space.
func containsFold(texts []string, sub string) bool {
	sub = normalizeSpace(strings.ToLower(sub))
	for _, t := range texts {
		if strings.Contains(normalizeSpace(strings.ToLower(t)), sub) {
			return true
		}
	}
	return false
}

func normalizeSpace(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
