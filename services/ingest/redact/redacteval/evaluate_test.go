package redacteval

import (
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fixed returns a detector that predicts the same spans for every text.
func fixed(spans ...Span) func(kind, text string) []Span {
	return func(string, string) []Span { return spans }
}

// counts is the TP/FP/FN of one type.
type counts struct{ TP, FP, FN int }

// typeCounts returns the counts of every type row of r.
func typeCounts(r Report) map[string]counts {
	m := make(map[string]counts)
	for _, s := range r.Types {
		m[s.Name] = counts{s.TP, s.FP, s.FN}
	}
	return m
}

func TestEvaluateMatching(t *testing.T) {
	t.Parallel()
	text := strings.Repeat("x", 40)
	tests := []struct {
		name string
		gold []Span
		pred []Span
		want map[string]counts
	}{
		{
			name: "exact match",
			gold: []Span{{"PERSON", 0, 10}},
			pred: []Span{{"PERSON", 0, 10}},
			want: map[string]counts{"PERSON": {1, 0, 0}},
		},
		{
			name: "IoU exactly one half matches",
			gold: []Span{{"PERSON", 0, 10}},
			pred: []Span{{"PERSON", 0, 5}},
			want: map[string]counts{"PERSON": {1, 0, 0}},
		},
		{
			name: "prediction twice the gold matches",
			gold: []Span{{"PERSON", 2, 6}},
			pred: []Span{{"PERSON", 0, 8}},
			want: map[string]counts{"PERSON": {1, 0, 0}},
		},
		{
			name: "IoU below one half does not match",
			gold: []Span{{"PERSON", 0, 10}},
			pred: []Span{{"PERSON", 0, 4}},
			want: map[string]counts{"PERSON": {0, 1, 1}},
		},
		{
			name: "disjoint",
			gold: []Span{{"PERSON", 0, 10}},
			pred: []Span{{"PERSON", 20, 30}},
			want: map[string]counts{"PERSON": {0, 1, 1}},
		},
		{
			name: "type mismatch on the same characters",
			gold: []Span{{"CREDIT_CARD", 0, 16}},
			pred: []Span{{"PHONE_NUMBER", 0, 16}},
			want: map[string]counts{"CREDIT_CARD": {0, 0, 1}, "PHONE_NUMBER": {0, 1, 0}},
		},
		{
			name: "two predictions for one gold",
			gold: []Span{{"PERSON", 0, 10}},
			pred: []Span{{"PERSON", 0, 10}, {"PERSON", 1, 10}},
			want: map[string]counts{"PERSON": {1, 1, 0}},
		},
		{
			name: "one prediction over two gold",
			gold: []Span{{"PERSON", 0, 5}, {"PERSON", 5, 10}},
			pred: []Span{{"PERSON", 0, 10}},
			want: map[string]counts{"PERSON": {1, 0, 1}},
		},
		{
			// P overlaps A (0.75) and B (0.91); Q only A (0.7). Taking A's best
			// prediction first would leave B unmatched; highest IoU first
			// matches both.
			name: "greedy by IoU, not by gold order",
			gold: []Span{{"PERSON", 0, 10}, {"PERSON", 2, 12}},
			pred: []Span{{"PERSON", 1, 12}, {"PERSON", 0, 7}},
			want: map[string]counts{"PERSON": {2, 0, 0}},
		},
		{
			name: "empty prediction is a false positive",
			gold: []Span{{"PERSON", 0, 10}},
			pred: []Span{{"PERSON", 3, 3}},
			want: map[string]counts{"PERSON": {0, 1, 1}},
		},
		{
			name: "prediction outside the text is clipped",
			gold: []Span{{"PERSON", 30, 40}},
			pred: []Span{{"PERSON", 32, 99}, {"EMAIL_ADDRESS", -5, -1}},
			want: map[string]counts{"PERSON": {1, 0, 0}, "EMAIL_ADDRESS": {0, 1, 0}},
		},
		{
			name: "no predictions",
			gold: []Span{{"PERSON", 0, 3}, {"US_SSN", 5, 16}},
			want: map[string]counts{"PERSON": {0, 0, 1}, "US_SSN": {0, 0, 1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ex := []Example{{ID: "e-1", Kind: KindNote, Text: text, Gold: tt.gold}}
			got := typeCounts(Evaluate(ex, fixed(tt.pred...)))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("counts (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEvaluateTieBreakIsDeterministic(t *testing.T) {
	t.Parallel()
	// Both predictions have IoU 0.75 with the gold span: the first one wins.
	ex := []Example{{ID: "e-1", Kind: KindNote, Text: "abcdef", Gold: []Span{{"PERSON", 0, 4}}}}
	for range 20 {
		r := Evaluate(ex, fixed(Span{"PERSON", 0, 3}, Span{"PERSON", 1, 4}))
		if len(r.Errors) != 1 || r.Errors[0].Start != 1 || r.Errors[0].Outcome != OutcomeFalsePositive {
			t.Fatalf("errors = %+v, want the second prediction [1,4) as the false positive", r.Errors)
		}
	}
}

func TestEvaluatePassesKindAndText(t *testing.T) {
	t.Parallel()
	examples := []Example{
		{ID: "e-1", Kind: KindEmail, Text: "one"},
		{ID: "c-1", Kind: KindChat, Text: "two"},
	}
	var got []string
	Evaluate(examples, func(kind, text string) []Span {
		got = append(got, kind+":"+text)
		return nil
	})
	if diff := cmp.Diff([]string{"email:one", "chat:two"}, got); diff != "" {
		t.Errorf("detector calls (-want +got):\n%s", diff)
	}
}

func TestEvaluateLeak(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		gold        []Span
		pred        []Span
		typ         string
		wantLeaked  int
		wantLeak    float64
		wantMatched bool
	}{
		{
			name:       "found under another type does not leak",
			gold:       []Span{{"CREDIT_CARD", 0, 16}},
			pred:       []Span{{"PHONE_NUMBER", 0, 16}},
			typ:        "CREDIT_CARD",
			wantLeaked: 0,
			wantLeak:   0,
		},
		{
			name:       "partly covered, overlapping predictions counted once",
			gold:       []Span{{"PERSON", 0, 10}},
			pred:       []Span{{"PERSON", 0, 4}, {"LOCATION", 2, 4}, {"URL", 6, 8}},
			typ:        "PERSON",
			wantLeaked: 4,
			wantLeak:   0.4,
		},
		{
			name:        "matched but short still leaks its tail",
			gold:        []Span{{"PERSON", 0, 10}},
			pred:        []Span{{"PERSON", 0, 6}},
			typ:         "PERSON",
			wantLeaked:  4,
			wantLeak:    0.4,
			wantMatched: true,
		},
		{
			name:       "nothing predicted leaks everything",
			gold:       []Span{{"US_SSN", 3, 14}, {"US_SSN", 20, 31}},
			typ:        "US_SSN",
			wantLeaked: 22,
			wantLeak:   1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ex := []Example{{ID: "e-1", Kind: KindNote, Text: strings.Repeat("y", 40), Gold: tt.gold}}
			r := Evaluate(ex, fixed(tt.pred...))
			s := findScore(t, r.Types, tt.typ)
			if s.LeakedChars != tt.wantLeaked || math.Abs(s.Leak-tt.wantLeak) > 1e-9 {
				t.Errorf("leaked %d (%v), want %d (%v)", s.LeakedChars, s.Leak, tt.wantLeaked, tt.wantLeak)
			}
			if matched := s.TP > 0; matched != tt.wantMatched {
				t.Errorf("matched = %v, want %v", matched, tt.wantMatched)
			}
		})
	}
}

func TestEvaluateRows(t *testing.T) {
	t.Parallel()
	examples := []Example{
		{ID: "e-1", Kind: KindEmail, Text: "aaaaaaaaaaaaaaaaaaaa", Gold: []Span{
			{"EMAIL_ADDRESS", 0, 5}, {"PERSON", 6, 10}, {"AU_TFN", 11, 20},
		}},
		{ID: "c-1", Kind: KindChat, Text: "bbbbbbbbbbbbbbbbbbbb", Gold: []Span{
			{"PHONE_NUMBER", 0, 10}, {"LOCATION", 10, 20},
		}},
	}
	detect := func(kind, _ string) []Span {
		if kind == KindEmail {
			// EMAIL and AU_TFN found, PERSON missed, one spurious IP.
			return []Span{{"EMAIL_ADDRESS", 0, 5}, {"AU_TFN", 11, 20}, {"IP_ADDRESS", 15, 19}}
		}
		// PHONE found, LOCATION missed.
		return []Span{{"PHONE_NUMBER", 0, 10}}
	}
	r := Evaluate(examples, detect)

	if r.Examples != 2 {
		t.Errorf("Examples = %d, want 2", r.Examples)
	}
	rowCounts := func(rows []Score) map[string]counts {
		m := make(map[string]counts)
		for _, s := range rows {
			m[s.Name] = counts{s.TP, s.FP, s.FN}
		}
		return m
	}
	wantKinds := map[string]counts{"email": {2, 1, 1}, "chat": {1, 0, 1}}
	if diff := cmp.Diff(wantKinds, rowCounts(r.Kinds)); diff != "" {
		t.Errorf("kinds (-want +got):\n%s", diff)
	}
	wantGroups := map[string]counts{GroupStructured: {2, 1, 0}, GroupNamesAddresses: {0, 0, 2}}
	if diff := cmp.Diff(wantGroups, rowCounts(r.Groups)); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}
	if r.Groups[0].Name != GroupStructured || r.Groups[1].Name != GroupNamesAddresses {
		t.Errorf("group order = %s, %s", r.Groups[0].Name, r.Groups[1].Name)
	}
	var names []string
	for _, s := range r.Types {
		names = append(names, s.Name)
	}
	wantNames := []string{"AU_TFN", "EMAIL_ADDRESS", "IP_ADDRESS", "LOCATION", "PERSON", "PHONE_NUMBER"}
	if diff := cmp.Diff(wantNames, names); diff != "" {
		t.Errorf("type rows (-want +got):\n%s", diff)
	}

	// Micro totals: tp 3, fp 1, fn 2.
	total := r.Total
	if total.Support != 5 || total.TP != 3 || total.FP != 1 || total.FN != 2 {
		t.Fatalf("total = %+v, want support 5, tp 3, fp 1, fn 2", total)
	}
	p, rec := 3.0/4, 3.0/5
	wantF2 := 5 * p * rec / (4*p + rec)
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"precision", total.Precision, p},
		{"recall", total.Recall, rec},
		{"F2", total.F2, wantF2},
		{"leak", total.Leak, 14.0 / 38},
	} {
		if math.Abs(c.got-c.want) > 1e-9 {
			t.Errorf("total %s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestEvaluateErrors(t *testing.T) {
	t.Parallel()
	// 40 code points of "é" before and after, so context must be cut by code
	// point, not by byte.
	pad := strings.Repeat("é", 40)
	text := pad + "Grace 4111 1111 1111 1111" + pad
	ex := []Example{{ID: "e-9", Kind: KindEmail, Text: text, Gold: []Span{
		{"PERSON", 40, 45}, {"CREDIT_CARD", 46, 65},
	}}}
	r := Evaluate(ex, fixed(Span{"PHONE_NUMBER", 46, 65}))

	want := []Mismatch{
		{
			ID: "e-9", Kind: "email", Outcome: OutcomeFalseNegative, Type: "PERSON",
			Start: 40, End: 45, Text: "Grace",
			Before: strings.Repeat("é", 30), After: " 4111 1111 1111 1111" + strings.Repeat("é", 10),
		},
		{
			ID: "e-9", Kind: "email", Outcome: OutcomeFalseNegative, Type: "CREDIT_CARD",
			Start: 46, End: 65, Text: "4111 1111 1111 1111",
			Before: strings.Repeat("é", 24) + "Grace ", After: strings.Repeat("é", 30),
			Overlaps: []Overlap{{Type: "PHONE_NUMBER", Start: 46, End: 65, Text: "4111 1111 1111 1111"}},
		},
		{
			ID: "e-9", Kind: "email", Outcome: OutcomeFalsePositive, Type: "PHONE_NUMBER",
			Start: 46, End: 65, Text: "4111 1111 1111 1111",
			Before: strings.Repeat("é", 24) + "Grace ", After: strings.Repeat("é", 30),
			Overlaps: []Overlap{{Type: "CREDIT_CARD", Start: 46, End: 65, Text: "4111 1111 1111 1111"}},
		},
	}
	if diff := cmp.Diff(want, r.Errors); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

func TestEvaluateNoExamples(t *testing.T) {
	t.Parallel()
	r := Evaluate(nil, fixed())
	if r.Examples != 0 || len(r.Types) != 0 || r.Total.Support != 0 || r.Errors == nil {
		t.Errorf("Evaluate(nil) = %+v, want an empty report with a non-nil Errors", r)
	}
	if len(r.Groups) != 2 {
		t.Errorf("Groups = %+v, want both groups even when empty", r.Groups)
	}
}

// findScore returns the row called name.
func findScore(t *testing.T, rows []Score, name string) Score {
	t.Helper()
	for _, s := range rows {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no row %q in %+v", name, rows)
	return Score{}
}
