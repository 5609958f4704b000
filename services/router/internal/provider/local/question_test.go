package local

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseQuestion(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		text string
		want map[string]float64
	}{
		{
			name: "subject words weigh more than body words",
			text: "Subject: Damaged kettle\n\nThe kettle arrived with a dent.",
			want: map[string]float64{"damag": 2, "kettl": 2, "arriv": 1, "dent": 1},
		},
		{
			name: "address blocks, sign-offs and phone signatures are dropped",
			text: "Subject: Change address\n\nCan you change the delivery address?\n\n" +
				"New address:\n5902 Ridgeview Drive\nWesterville, OH 43081\n\nThanks,\n[PERSON_1]\n\n" +
				"Sent from my iPhone",
			want: map[string]float64{"chang": 2, "address": 2, "delivery": 1},
		},
		{
			name: "quoted lines of earlier messages are dropped",
			text: "Subject: Refund\n\nWhere is my refund?\n\n> We opened a claim with UPS.\n> Kind regards",
			want: map[string]float64{"refund": 2},
		},
		{
			name: "order numbers, placeholders and numbers are not words",
			text: "Order ORD-10421 for [PERSON_1] shipped on 24 November to 45410.",
			want: map[string]float64{"order": 1, "ship": 1, "november": 1},
		},
		{
			name: "a body without punctuation counts whole",
			text: "kettle broken want refund",
			want: map[string]float64{"kettl": 1, "broken": 1, "want": 1, "refund": 1},
		},
		{
			name: "a nearly empty message has no content words",
			text: "Subject: help\n\n?\n\nSent from my iPhone",
			want: map[string]float64{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			if diff := cmp.Diff(tt.want, parseQuestion(tt.text).weights); diff != "" {
				t.Errorf("parseQuestion weights (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStem(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		words []string
	}{
		{name: "refund", words: []string{"refund", "refunds", "refunded", "refunding"}},
		{name: "ship", words: []string{"ship", "ships", "shipped", "shipping"}},
		{name: "damage", words: []string{"damage", "damages", "damaged"}},
		{name: "delivery", words: []string{"delivery", "deliveries"}},
		{name: "address", words: []string{"address", "addresses"}},
		{name: "box", words: []string{"box", "boxes"}},
		{name: "use", words: []string{"use", "used", "uses"}},
		{name: "cancel", words: []string{"cancel", "cancels", "canceled", "cancelled"}},
		{name: "kettle", words: []string{"kettle", "kettles"}},
		{name: "knife", words: []string{"knife", "knives"}},
		{name: "need", words: []string{"need", "needs"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			want := stem(tt.words[0])
			for _, w := range tt.words[1:] {
				if got := stem(w); got != want {
					t.Errorf("stem(%q) = %q, want %q like stem(%q)", w, got, want, tt.words[0])
				}
			}
		})
	}

	// Words that only look like plurals or past tenses keep their ending.
	for _, w := range []string{"status", "business", "analysis"} {
		if got := stem(w); got != w {
			t.Errorf("stem(%q) = %q, want it unchanged", w, got)
		}
	}
}
