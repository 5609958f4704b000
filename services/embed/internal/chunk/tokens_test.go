package chunk

import (
	"testing"
	"unicode/utf8"
)

func TestEstimateTokens(t *testing.T) {
	t.Parallel()

	tests := []struct {
		text string
		want int
	}{
		{text: "", want: 0},
		{text: " \n\t ", want: 0},
		{text: "the", want: 1},
		{text: "refund", want: 2},
		{text: "internationalization", want: 5},
		{text: "Refund it.", want: 4},
		{text: "a+b=c", want: 5},
		{text: "12345", want: 2},
		{text: "naïve café", want: 3},
		{text: "日本語", want: 3},
		{text: "한국어 문장", want: 5},
		{text: "👍🏽", want: 2},
		{text: "👩‍👩‍👧", want: 5},
		{text: "\xff\xfe", want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			t.Parallel()
			if got := EstimateTokens(tt.text); got != tt.want {
				t.Errorf("EstimateTokens(%q) = %d, want %d", tt.text, got, tt.want)
			}
		})
	}
}

func FuzzEstimateTokensNeverGrowsWhenCut(f *testing.F) {
	f.Add("refund policy", 3)
	f.Add("日本語のテキスト", 4)
	f.Add("\xe6\x97\xa5\xe6", 2)
	f.Add("a.b,c;d", 1)

	f.Fuzz(func(t *testing.T, text string, cut int) {
		if len(text) == 0 {
			return
		}
		cut = (cut%len(text) + len(text)) % len(text)
		whole, left, right := EstimateTokens(text), EstimateTokens(text[:cut]), EstimateTokens(text[cut:])
		if left+right < whole {
			t.Fatalf("tokens(%q) = %d, but its parts at %d make %d + %d", text, whole, cut, left, right)
		}
		if whole > utf8.RuneCountInString(text) {
			t.Fatalf("tokens(%q) = %d, more than its runes", text, whole)
		}
	})
}

func TestCountWords(t *testing.T) {
	t.Parallel()

	for text, want := range map[string]int{"": 0, "  ": 0, "one": 1, " one  two\nthree ": 3, "日本 語": 2} {
		if got := countWords(text); got != want {
			t.Errorf("countWords(%q) = %d, want %d", text, got, want)
		}
	}
}
