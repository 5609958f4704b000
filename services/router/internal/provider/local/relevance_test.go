package local

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keelhq/keel/services/router/internal/provider"
)

func chosenTexts(sel selection) []string {
	var texts []string
	for _, c := range sel.chosen {
		texts = append(texts, c.text)
	}
	return texts
}

func TestSelectSentences(t *testing.T) {
	t.Parallel()

	// Nine sentences share the customer's noise words ("Christmas",
	// "order"), one shares the rare topical ones ("cracked", "kettle").
	// Counted plainly, both kinds share two words with the question.
	christmas := provider.Passage{
		ChunkID: "kb-holidays#0",
		Text: "Christmas orders ship until 20 December.\n" +
			"Christmas orders come in gift wrap.\nChristmas orders include a gift receipt.\n" +
			"Christmas orders over $75 ship free.\nChristmas orders can be cancelled online.\n" +
			"Christmas orders from abroad need more time.\nChristmas orders earn double points.\n" +
			"Christmas orders are packed by hand.\nChristmas orders get a card from our team.",
	}
	kettle := provider.Passage{
		ChunkID: "kb-damaged#0",
		Text:    "A cracked kettle is replaced under warranty.",
	}
	policies := provider.Passage{
		ChunkID: "kb-returns#0",
		Text: "Unused kettles can be returned for a refund.\n" +
			"Unused kettles can be returned within 30 days for a refund.\n" +
			"Unused kettles can be returned for a refund, however long you kept them.",
	}

	tests := []struct {
		name     string
		question string
		passages []provider.Passage
		want     []string
	}{
		{
			name:     "a rare topical word beats common noise words",
			question: "My Christmas order: the kettle arrived cracked.",
			passages: []provider.Passage{christmas, kettle},
			want:     []string{"A cracked kettle is replaced under warranty."},
		},
		{
			name:     "a sentence that states a policy wins a tie, near-duplicates are skipped",
			question: "Can I return an unused kettle for a refund?",
			passages: []provider.Passage{policies},
			want:     []string{"Unused kettles can be returned within 30 days for a refund."},
		},
		{
			name: "quotes follow passage order, not score order",
			question: "Subject: cracked kettle\n\nMy kettle arrived cracked. " +
				"Can Christmas orders with gift wrap ship until December?",
			passages: []provider.Passage{christmas, kettle},
			want: []string{
				"Christmas orders ship until 20 December.",
				"Christmas orders come in gift wrap.",
				"A cracked kettle is replaced under warranty.",
			},
		},
		{
			// The second sentence adds "PayPal" but otherwise repeats the
			// first word for word.
			name:     "a near-duplicate of a quoted sentence is skipped",
			question: "How long do refunds to my card or PayPal take?",
			passages: []provider.Passage{
				{Text: "Refunds to a card take 5 to 10 business days after our inspection."},
				{Text: "Refunds to PayPal take 5 to 10 business days after our inspection."},
			},
			want: []string{"Refunds to a card take 5 to 10 business days after our inspection."},
		},
		{
			name:     "no shared content words",
			question: "Can I change the colour of my sofa cushions?",
			passages: []provider.Passage{christmas, kettle},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			sel := selectSentences(tt.question, tt.passages)
			if diff := cmp.Diff(tt.want, chosenTexts(sel)); diff != "" {
				t.Errorf("chosen sentences (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConfidence(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		question string
		passages []provider.Passage
		// The confidence must lie in [min, max].
		min, max float64
	}{
		{name: "empty question", question: "", passages: helpArticles, min: 0, max: 0},
		{
			name:     "only pleasantries",
			question: "Hello, please help. Thanks!",
			passages: helpArticles,
			min:      0, max: 0,
		},
		{
			name:     "subject help and a question mark",
			question: "Subject: help\n\n?\n\nSent from my iPhone",
			passages: helpArticles,
			min:      0, max: 0,
		},
		{
			name:     "one content word that matches is still vague",
			question: "Subject: refunds\n\n?",
			passages: helpArticles,
			min:      0.01, max: vagueQuestionConfidence,
		},
		{
			name:     "two content words that match are still vague",
			question: "express shipping?",
			passages: helpArticles,
			min:      0.01, max: vagueQuestionConfidence,
		},
		{
			name:     "a question in another language",
			question: "Subject: Entrega del pedido\n\n¿Pueden entregarlo el sábado en mi oficina?",
			passages: helpArticles,
			min:      0, max: 0,
		},
		{
			name:     "every key word covered",
			question: "How many days do I have to return an unused item?",
			passages: helpArticles,
			min:      1, max: 1,
		},
		{
			// The passages name gift wrap and fees only in passing, in
			// sentences too weak to quote, so those words stay uncovered.
			name:     "part of the question answered",
			question: "Can I return an unused kettle within 30 days, and is the gift wrap free?",
			passages: []provider.Passage{
				{Text: "Unused kettles can be returned within 30 days."},
				{Text: "Gift cards never expire."},
				{Text: "Wrapping paper is sold in our shops."},
				{Text: "Delivery is free over $75."},
			},
			min: 0.3, max: 0.8,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			sel := selectSentences(tt.question, tt.passages)
			if sel.confidence < tt.min || sel.confidence > tt.max {
				t.Errorf("confidence = %v, want in [%v, %v]; chose %q",
					sel.confidence, tt.min, tt.max, chosenTexts(sel))
			}
			if tt.max == 0 && len(sel.chosen) != 0 {
				t.Errorf("chose %q, want nothing without confidence", chosenTexts(sel))
			}
		})
	}
}

// TestSelectSentencesDeterministic checks that ties, which are common with
// short passages, always break the same way however maps iterate.
func TestSelectSentencesDeterministic(t *testing.T) {
	t.Parallel()

	passages := []provider.Passage{
		{Text: "Returns are free within 30 days.\nRefunds are free within 30 days."},
		{Text: "Exchanges are free within 30 days.\nStore credit is free within 30 days."},
		{Text: "Returns, refunds, exchanges and store credit are explained below."},
	}
	question := "Subject: returns refunds exchanges\n\n" +
		"Are returns, refunds, exchanges and store credit free?"

	first := selectSentences(question, passages)
	if len(first.chosen) == 0 {
		t.Fatal("chose nothing")
	}
	for range 50 {
		again := selectSentences(question, passages)
		if diff := cmp.Diff(chosenTexts(first), chosenTexts(again)); diff != "" {
			t.Fatalf("chosen sentences differ (-first +again):\n%s", diff)
		}
		if again.confidence != first.confidence {
			t.Fatalf("confidence %v, then %v", first.confidence, again.confidence)
		}
	}
}
