package redacteval

import (
	"sort"
)

// Names of the groups of entity types in Report.Groups.
const (
	// GroupStructured holds the types with a fixed syntax that most
	// detectors find with patterns and checksums.
	GroupStructured = "structured"
	// GroupNamesAddresses holds person names and postal addresses, which need
	// context to find.
	GroupNamesAddresses = "names+addresses"
)

// Outcomes of a Mismatch.
const (
	// OutcomeFalsePositive is a prediction that matches no gold span.
	OutcomeFalsePositive = "FP"
	// OutcomeFalseNegative is a gold span that no prediction matches.
	OutcomeFalseNegative = "FN"
)

// contextRunes is how many code points of context a Mismatch shows on
// each side of its span.
const contextRunes = 30

// groupOf returns the group of an entity type, or "" when it has none.
func groupOf(typ string) string {
	switch typ {
	case "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "IP_ADDRESS":
		return GroupStructured
	case "PERSON", "LOCATION":
		return GroupNamesAddresses
	}
	return ""
}

// Evaluate runs detect on the text of every example and scores its
// predictions against the gold spans.
//
// A prediction is a true positive when it has the type of a gold span not
// matched yet and their intersection over union, in code points, is at least
// one half. Each gold span and each prediction matches at most once; pairs are
// taken greedily from the highest intersection over union, ties broken by
// position in Gold, then in the predictions. Unmatched predictions are false
// positives of their type and unmatched gold spans false negatives of theirs.
//
// Independently of matching, the gold code points no prediction of any type
// covers are counted as leaked: a card number found as a phone number is
// still hidden. Predictions reaching outside the text are clipped to it.
func Evaluate(examples []Example, detect func(kind, text string) []Span) Report {
	ev := newEvaluator()
	for _, ex := range examples {
		ev.add(ex, detect(ex.Kind, ex.Text))
	}
	return ev.report()
}

// tally counts the outcomes of one row of a Report.
type tally struct {
	support, tp, fp, fn int
	goldChars, leaked   int
}

// evaluator accumulates the tallies of every example.
type evaluator struct {
	examples int
	types    map[string]*tally
	kinds    map[string]*tally
	groups   map[string]*tally
	total    tally
	errors   []Mismatch
}

func newEvaluator() *evaluator {
	return &evaluator{
		types: make(map[string]*tally),
		kinds: make(map[string]*tally),
		groups: map[string]*tally{
			GroupStructured:     {},
			GroupNamesAddresses: {},
		},
	}
}

// rowsFor returns every tally an outcome of type typ in an example of kind
// kind counts towards.
func (ev *evaluator) rowsFor(kind, typ string) []*tally {
	rows := []*tally{rowOf(ev.types, typ), rowOf(ev.kinds, kind), &ev.total}
	if g := groupOf(typ); g != "" {
		rows = append(rows, ev.groups[g])
	}
	return rows
}

// rowOf returns the tally of name in m, adding it when missing.
func rowOf(m map[string]*tally, name string) *tally {
	t, ok := m[name]
	if !ok {
		t = &tally{}
		m[name] = t
	}
	return t
}

// add scores the predictions for one example.
func (ev *evaluator) add(ex Example, predicted []Span) {
	ev.examples++
	rowOf(ev.kinds, ex.Kind)

	runes := []rune(ex.Text)
	gold := clipSpans(ex.Gold, len(runes))
	pred := clipSpans(predicted, len(runes))
	goldMatched, predMatched := match(gold, pred)
	covered := coverage(pred, len(runes))

	var mismatches []Mismatch
	for i, g := range gold {
		leaked := countUncovered(covered, g)
		for _, t := range ev.rowsFor(ex.Kind, g.Type) {
			t.support++
			t.goldChars += g.End - g.Start
			t.leaked += leaked
			if goldMatched[i] {
				t.tp++
			} else {
				t.fn++
			}
		}
		if !goldMatched[i] {
			mismatches = append(mismatches, newMismatch(ex, runes, OutcomeFalseNegative, g, pred))
		}
	}
	for j, p := range pred {
		if predMatched[j] {
			continue
		}
		for _, t := range ev.rowsFor(ex.Kind, p.Type) {
			t.fp++
		}
		mismatches = append(mismatches, newMismatch(ex, runes, OutcomeFalsePositive, p, gold))
	}
	sort.SliceStable(mismatches, func(a, b int) bool { return mismatches[a].Start < mismatches[b].Start })
	ev.errors = append(ev.errors, mismatches...)
}

// clipSpans returns a copy of spans moved inside [0, n), with End never
// before Start.
func clipSpans(spans []Span, n int) []Span {
	out := make([]Span, len(spans))
	for i, s := range spans {
		s.Start = min(max(s.Start, 0), n)
		s.End = min(max(s.End, s.Start), n)
		out[i] = s
	}
	return out
}

// candidate is a gold span and a prediction that may match.
type candidate struct {
	gold, pred   int
	inter, union int
}

// match pairs gold spans with predictions as Evaluate describes and reports
// which of each were matched.
func match(gold, pred []Span) (goldMatched, predMatched []bool) {
	var cands []candidate
	for i, g := range gold {
		for j, p := range pred {
			if g.Type != p.Type {
				continue
			}
			inter, union := overlap(g, p)
			if union > 0 && 2*inter >= union {
				cands = append(cands, candidate{gold: i, pred: j, inter: inter, union: union})
			}
		}
	}
	// Highest IoU first; inter/union compared as cross products to stay exact.
	sort.SliceStable(cands, func(a, b int) bool {
		x, y := cands[a], cands[b]
		if l, r := x.inter*y.union, y.inter*x.union; l != r {
			return l > r
		}
		if x.gold != y.gold {
			return x.gold < y.gold
		}
		return x.pred < y.pred
	})

	goldMatched, predMatched = make([]bool, len(gold)), make([]bool, len(pred))
	for _, c := range cands {
		if goldMatched[c.gold] || predMatched[c.pred] {
			continue
		}
		goldMatched[c.gold], predMatched[c.pred] = true, true
	}
	return goldMatched, predMatched
}

// overlap returns the size of the intersection and of the union of a and b.
func overlap(a, b Span) (inter, union int) {
	inter = max(0, min(a.End, b.End)-max(a.Start, b.Start))
	return inter, (a.End - a.Start) + (b.End - b.Start) - inter
}

// coverage marks the code points of a text of n code points that any span
// covers.
func coverage(spans []Span, n int) []bool {
	covered := make([]bool, n)
	for _, s := range spans {
		for i := s.Start; i < s.End; i++ {
			covered[i] = true
		}
	}
	return covered
}

// countUncovered counts the code points of s that covered does not mark.
func countUncovered(covered []bool, s Span) int {
	n := 0
	for i := s.Start; i < s.End; i++ {
		if !covered[i] {
			n++
		}
	}
	return n
}

// newMismatch describes span s of ex as an error with the given outcome;
// others are the spans of the other side (predictions for a false negative,
// gold for a false positive), of which those overlapping s are listed.
func newMismatch(ex Example, runes []rune, outcome string, s Span, others []Span) Mismatch {
	m := Mismatch{
		ID:      ex.ID,
		Kind:    ex.Kind,
		Outcome: outcome,
		Type:    s.Type,
		Start:   s.Start,
		End:     s.End,
		Text:    string(runes[s.Start:s.End]),
		Before:  string(runes[max(0, s.Start-contextRunes):s.Start]),
		After:   string(runes[s.End:min(len(runes), s.End+contextRunes)]),
	}
	for _, o := range others {
		if inter, _ := overlap(s, o); inter > 0 {
			m.Overlaps = append(m.Overlaps, Overlap{
				Type:  o.Type,
				Start: o.Start,
				End:   o.End,
				Text:  string(runes[o.Start:o.End]),
			})
		}
	}
	return m
}
