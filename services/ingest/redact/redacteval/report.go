package redacteval

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// f2Beta weighs recall over precision: a missed entity leaks personal data,
// a spurious one only hides a few harmless characters.
const f2Beta = 2

// Report is the outcome of Evaluate. Its fields serialise to JSON.
type Report struct {
	// Examples counts the examples evaluated.
	Examples int `json:"examples"`
	// Types has one row per entity type seen in gold or predictions, by name.
	Types []Score `json:"types"`
	// Kinds has one row per kind of example, over every type, by name.
	Kinds []Score `json:"kinds"`
	// Groups has one row per group of types: GroupStructured, then
	// GroupNamesAddresses.
	Groups []Score `json:"groups"`
	// Total sums every type: micro-averaged precision, recall and F2.
	Total Score `json:"total"`
	// Errors lists every false positive and false negative, by example, then
	// by position.
	Errors []Mismatch `json:"errors"`
}

// Score is one row of a Report. Precision, Recall, F2 and Leak are 0 when
// undefined (no prediction, no gold span, no gold character).
type Score struct {
	// Name is the entity type, kind, group or "total".
	Name string `json:"name"`
	// Support counts the gold spans.
	Support int `json:"support"`
	TP      int `json:"tp"`
	FP      int `json:"fp"`
	FN      int `json:"fn"`
	// Precision is TP / (TP + FP).
	Precision float64 `json:"precision"`
	// Recall is TP / (TP + FN).
	Recall float64 `json:"recall"`
	// F2 is the F-score with beta 2, favouring recall.
	F2 float64 `json:"f2"`
	// GoldChars counts the code points of the gold spans.
	GoldChars int `json:"gold_chars"`
	// LeakedChars counts the gold code points no prediction covers.
	LeakedChars int `json:"leaked_chars"`
	// Leak is LeakedChars / GoldChars.
	Leak float64 `json:"leak"`
}

// Mismatch is one false positive or false negative, with its context.
type Mismatch struct {
	// ID and Kind are those of the example.
	ID   string `json:"id"`
	Kind string `json:"kind"`
	// Outcome is OutcomeFalsePositive or OutcomeFalseNegative.
	Outcome string `json:"outcome"`
	// Type, Start and End are those of the unmatched span.
	Type  string `json:"type"`
	Start int    `json:"start"`
	End   int    `json:"end"`
	// Text is the text of the span.
	Text string `json:"text"`
	// Before and After are up to 30 code points of context on each side.
	Before string `json:"before"`
	After  string `json:"after"`
	// Overlaps lists the spans of the other side overlapping this one:
	// predictions for a false negative, gold spans for a false positive.
	Overlaps []Overlap `json:"overlaps,omitempty"`
}

// Overlap is a span overlapping a Mismatch, with its text.
type Overlap struct {
	Type  string `json:"type"`
	Start int    `json:"start"`
	End   int    `json:"end"`
	Text  string `json:"text"`
}

// report turns the tallies into a Report.
func (ev *evaluator) report() Report {
	r := Report{
		Examples: ev.examples,
		Types:    scores(ev.types),
		Kinds:    scores(ev.kinds),
		Groups: []Score{
			ev.groups[GroupStructured].score(GroupStructured),
			ev.groups[GroupNamesAddresses].score(GroupNamesAddresses),
		},
		Total:  ev.total.score("total"),
		Errors: ev.errors,
	}
	if r.Errors == nil {
		r.Errors = []Mismatch{}
	}
	return r
}

// scores returns the scores of the tallies in m, by name.
func scores(m map[string]*tally) []Score {
	out := make([]Score, 0, len(m))
	for name, t := range m {
		out = append(out, t.score(name))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (t *tally) score(name string) Score {
	s := Score{
		Name:        name,
		Support:     t.support,
		TP:          t.tp,
		FP:          t.fp,
		FN:          t.fn,
		Precision:   ratio(t.tp, t.tp+t.fp),
		Recall:      ratio(t.tp, t.tp+t.fn),
		GoldChars:   t.goldChars,
		LeakedChars: t.leaked,
		Leak:        ratio(t.leaked, t.goldChars),
	}
	s.F2 = fScore(s.Precision, s.Recall, f2Beta)
	return s
}

// ratio returns num/den, or 0 when den is 0.
func ratio(num, den int) float64 {
	if den == 0 {
		return 0
	}
	return float64(num) / float64(den)
}

// fScore is the weighted harmonic mean of precision and recall.
func fScore(precision, recall, beta float64) float64 {
	b2 := beta * beta
	den := b2*precision + recall
	if den == 0 {
		return 0
	}
	return (1 + b2) * precision * recall / den
}

// WriteTable writes the report as an aligned plain-text table: one row per
// type, then per kind, per group and the total. Undefined rates print as "-".
func (r Report) WriteTable(w io.Writer) error {
	rows := [][]string{{"type", "support", "tp", "fp", "fn", "precision", "recall", "F2", "leak"}}
	for _, s := range r.Types {
		rows = append(rows, s.cells(s.Name))
	}
	rows = append(rows, nil)
	for _, s := range r.Kinds {
		rows = append(rows, s.cells("kind "+s.Name))
	}
	rows = append(rows, nil)
	for _, s := range r.Groups {
		rows = append(rows, s.cells("group "+s.Name))
	}
	rows = append(rows, nil, r.Total.cells("total"))

	if _, err := fmt.Fprintf(w, "%d examples, %d gold spans\n\n", r.Examples, r.Total.Support); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return writeAligned(w, rows)
}

// cells formats the row of s under the given label.
func (s Score) cells(label string) []string {
	return []string{
		label,
		strconv.Itoa(s.Support),
		strconv.Itoa(s.TP),
		strconv.Itoa(s.FP),
		strconv.Itoa(s.FN),
		rate(s.Precision, s.TP+s.FP),
		rate(s.Recall, s.TP+s.FN),
		rate(s.F2, s.TP+s.FP+s.FN),
		rate(s.Leak, s.GoldChars),
	}
}

// rate formats v with three decimals, or "-" when its denominator is 0.
func rate(v float64, den int) string {
	if den == 0 {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

// writeAligned writes rows with the first column left-aligned and the others
// right-aligned; a nil row is a blank line.
func writeAligned(w io.Writer, rows [][]string) error {
	var widths []int
	for _, row := range rows {
		for i, cell := range row {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}

	var b strings.Builder
	for _, row := range rows {
		for i, cell := range row {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell))
			if i == 0 {
				b.WriteString(cell + pad)
				continue
			}
			b.WriteString("  " + pad + cell)
		}
		b.WriteString("\n")
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// WriteErrors writes the first limit errors of the report, each with its
// context and the spans overlapping it; limit <= 0 writes them all.
func (r Report) WriteErrors(w io.Writer, limit int) error {
	shown := r.Errors
	if limit > 0 && len(shown) > limit {
		shown = shown[:limit]
	}
	fp := 0
	for _, m := range r.Errors {
		if m.Outcome == OutcomeFalsePositive {
			fp++
		}
	}

	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d errors (%d FP, %d FN)\n", len(shown), len(r.Errors), fp, len(r.Errors)-fp)
	for _, m := range shown {
		fmt.Fprintf(&b, "\n%s %s %s %s\n", m.Outcome, m.Type, m.ID, strconv.Quote(m.Text))
		fmt.Fprintf(&b, "    %s\n", strconv.Quote(m.Before+"⟦"+m.Text+"⟧"+m.After))
		for _, o := range m.Overlaps {
			side := "predicted"
			if m.Outcome == OutcomeFalsePositive {
				side = "gold"
			}
			fmt.Fprintf(&b, "    %s %s %s\n", side, o.Type, strconv.Quote(o.Text))
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write errors: %w", err)
	}
	return nil
}
