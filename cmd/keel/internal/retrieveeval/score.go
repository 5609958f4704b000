package retrieveeval

import (
	"slices"
	"strings"
)

// Cut-offs of the report: the copilot grounds a draft on about five
// passages, and ten is how far a person would look.
const (
	ShortList = 5
	LongList  = 10
)

// articleIDPrefix starts the document id of every help-centre article (see
// upstream.ArticleEvent); the rest is the article's file stem.
const articleIDPrefix = "kb-"

// Hit is one passage a search returned, named by its article.
type Hit struct {
	// Article is the file stem of the passage's article.
	Article string `json:"article"`
	// Title is the passage's title with its heading path.
	Title string `json:"title"`
	// Score is the fused score; VectorScore and KeywordScore are its legs.
	Score        float64 `json:"score"`
	VectorScore  float64 `json:"vector_score"`
	KeywordScore float64 `json:"keyword_score"`
}

// Outcome is how retrieval did on one question.
type Outcome struct {
	Question
	// Short and Long are the passages of searches with top_k ShortList and
	// LongList.
	Short []Hit `json:"top5"`
	Long  []Hit `json:"top10"`
	// Rank is the 1-based rank of the first passage of a relevant article
	// in Long, 0 when there is none.
	Rank int `json:"rank"`
	// InShort and InLong say whether a relevant article is among Short and
	// Long.
	InShort bool `json:"in_top5"`
	InLong  bool `json:"in_top10"`
}

// newOutcome scores the passages found for q.
func newOutcome(q Question, short, long []Hit) Outcome {
	o := Outcome{Question: q, Short: short, Long: long}
	o.Rank = firstRelevant(q, long)
	o.InShort = firstRelevant(q, short) > 0
	o.InLong = o.Rank > 0
	return o
}

// firstRelevant returns the 1-based rank of the first hit of a relevant
// article, or 0.
func firstRelevant(q Question, hits []Hit) int {
	for i, h := range hits {
		if slices.Contains(q.Relevant, h.Article) {
			return i + 1
		}
	}
	return 0
}

// Scores summarise outcomes. Recall@k is the share of questions with a
// passage of a relevant article among the first k; MRR is the mean of
// 1/rank of the first such passage within the first LongList, 0 when none.
type Scores struct {
	Questions  int     `json:"questions"`
	RecallAt5  float64 `json:"recall_at_5"`
	RecallAt10 float64 `json:"recall_at_10"`
	MRR        float64 `json:"mrr"`
}

// Summarize returns the scores of outcomes; all zero when there are none.
func Summarize(outcomes []Outcome) Scores {
	s := Scores{Questions: len(outcomes)}
	if len(outcomes) == 0 {
		return s
	}
	for _, o := range outcomes {
		if o.InShort {
			s.RecallAt5++
		}
		if o.InLong {
			s.RecallAt10++
		}
		if o.Rank > 0 {
			s.MRR += 1 / float64(o.Rank)
		}
	}
	n := float64(len(outcomes))
	s.RecallAt5 /= n
	s.RecallAt10 /= n
	s.MRR /= n
	return s
}

// BySplit returns the scores of each split present in outcomes.
func BySplit(outcomes []Outcome) map[string]Scores {
	groups := map[string][]Outcome{}
	for _, o := range outcomes {
		groups[o.Split] = append(groups[o.Split], o)
	}
	out := make(map[string]Scores, len(groups))
	for split, group := range groups {
		out[split] = Summarize(group)
	}
	return out
}

// ArticleOf returns the article file stem of a document id.
func ArticleOf(docID string) string {
	return strings.TrimPrefix(docID, articleIDPrefix)
}
