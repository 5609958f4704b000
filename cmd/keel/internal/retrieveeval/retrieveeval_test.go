package retrieveeval

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

func TestLoadGolden(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		content string
		want    []Question
		wantErr bool
	}{
		{
			name: "two questions and a blank line",
			content: `{"id":"a","question":"where is my parcel","relevant":["tracking"],"split":"dev"}

{"id":"b","question":"refund please","relevant":["refund-timing","refund-methods"],"split":"test"}
`,
			want: []Question{
				{ID: "a", Text: "where is my parcel", Relevant: []string{"tracking"}, Split: SplitDev},
				{ID: "b", Text: "refund please", Relevant: []string{"refund-timing", "refund-methods"}, Split: SplitTest},
			},
		},
		{name: "empty file", content: "\n", wantErr: true},
		{name: "not json", content: "where is my parcel\n", wantErr: true},
		{name: "unknown field", content: `{"id":"a","question":"q","relevant":["x"],"split":"dev","answer":"y"}`, wantErr: true},
		{name: "no relevant article", content: `{"id":"a","question":"q","relevant":[],"split":"dev"}`, wantErr: true},
		{name: "empty question", content: `{"id":"a","question":" ","relevant":["x"],"split":"dev"}`, wantErr: true},
		{name: "unknown split", content: `{"id":"a","question":"q","relevant":["x"],"split":"train"}`, wantErr: true},
		{
			name: "repeated id",
			content: `{"id":"a","question":"q","relevant":["x"],"split":"dev"}
{"id":"a","question":"r","relevant":["y"],"split":"test"}`,
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			path := filepath.Join(t.TempDir(), "golden.jsonl")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := LoadGolden(path)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidGolden) {
					t.Errorf("LoadGolden: err = %v, want ErrInvalidGolden", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadGolden: %v", err)
			}
			if !reflect.DeepEqual(tt.want, got) {
				t.Errorf("LoadGolden = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestScores(t *testing.T) {
	t.Parallel()

	hits := func(articles ...string) []Hit {
		out := make([]Hit, len(articles))
		for i, a := range articles {
			out[i] = Hit{Article: a}
		}
		return out
	}
	first := Question{ID: "1", Relevant: []string{"refund-timing"}, Split: SplitDev}
	second := Question{ID: "2", Relevant: []string{"gift-cards", "store-credit"}, Split: SplitDev}
	third := Question{ID: "3", Relevant: []string{"password-reset"}, Split: SplitTest}
	long := hits("a", "b", "c", "d", "e", "f", "store-credit", "h", "i", "j")
	outcomes := []Outcome{
		newOutcome(first, hits("refund-timing", "b"), hits("refund-timing", "b")),
		newOutcome(second, long[:5], long),
		newOutcome(third, hits("a"), hits("a", "b")),
	}

	if got := []int{outcomes[0].Rank, outcomes[1].Rank, outcomes[2].Rank}; !slices.Equal(got, []int{1, 7, 0}) {
		t.Errorf("ranks = %v, want [1 7 0]", got)
	}
	checkScores(t, "all", Summarize(outcomes), Scores{Questions: 3, RecallAt5: 1.0 / 3, RecallAt10: 2.0 / 3, MRR: (1 + 1.0/7) / 3})
	splits := BySplit(outcomes)
	if len(splits) != 2 {
		t.Errorf("BySplit returned %d splits, want 2", len(splits))
	}
	checkScores(t, SplitDev, splits[SplitDev], Scores{Questions: 2, RecallAt5: 0.5, RecallAt10: 1, MRR: (1 + 1.0/7) / 2})
	checkScores(t, SplitTest, splits[SplitTest], Scores{Questions: 1})
	checkScores(t, "none", Summarize(nil), Scores{})
}

// checkScores compares scores up to rounding.
func checkScores(t *testing.T, name string, got, want Scores) {
	t.Helper()
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	if got.Questions != want.Questions || !near(got.RecallAt5, want.RecallAt5) ||
		!near(got.RecallAt10, want.RecallAt10) || !near(got.MRR, want.MRR) {
		t.Errorf("%s scores = %+v, want %+v", name, got, want)
	}
}

func TestFilterSplit(t *testing.T) {
	t.Parallel()

	questions := []Question{{ID: "a", Split: SplitDev}, {ID: "b", Split: SplitTest}, {ID: "c", Split: SplitDev}}
	for split, want := range map[string]int{"dev": 2, "test": 1, "all": 3, "": 3} {
		if got := len(FilterSplit(questions, split)); got != want {
			t.Errorf("FilterSplit(%q) kept %d questions, want %d", split, got, want)
		}
	}
}

func TestArticleOf(t *testing.T) {
	t.Parallel()

	if got := ArticleOf("kb-gift-cards"); got != "gift-cards" {
		t.Errorf("ArticleOf(kb-gift-cards) = %q, want gift-cards", got)
	}
}
