package qdrant

import (
	"hash/fnv"
	"slices"

	"github.com/keelhq/keel/services/retrieve/internal/index"
	"github.com/keelhq/keel/services/retrieve/internal/store"
)

// keywordK1 saturates term frequency as BM25's k1 does: a term seen tf
// times weighs tf*(k1+1)/(tf+k1), 1 for one occurrence and never more than
// k1+1.
const keywordK1 = 1.2

// sparseTerms is a keyword sparse vector: term hashes ascending, with
// their weights.
type sparseTerms struct {
	indices []uint32
	values  []float32
}

// termIndex maps a token to its sparse dimension, a 32-bit FNV-1a hash.
// Two tokens may share a dimension; their occurrences then add up, which
// is rare enough at 2^32 dimensions to leave alone.
func termIndex(token string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(token))
	return h.Sum32()
}

// chunkTerms returns the keyword vector of a chunk: the tokens of its
// title, header and text, tokenised as the embedded index does, each
// weighted by its saturated term frequency.
//
// The weights are the term-frequency half of BM25 with b = 0: there is no
// length normalisation, because the average chunk length is a property of
// the collection that a single point cannot know. The collection's sparse
// vector carries Qdrant's IDF modifier, which multiplies in the other
// half at query time, so a one-term query scores idf(t) * tf part, the
// BM25 score without length normalisation.
func chunkTerms(c *store.Chunk) sparseTerms {
	tf := map[uint32]int{}
	for _, tok := range index.Tokenize(c.Title + "\n" + c.Header + "\n" + c.Text) {
		tf[termIndex(tok)]++
	}
	return weighTerms(tf, func(n int) float32 {
		return float32(n) * (keywordK1 + 1) / (float32(n) + keywordK1)
	})
}

// queryTerms returns the keyword vector of a query: each distinct token
// with weight 1, so the score is the sum of what matching terms weigh in
// the chunk, times their IDF.
func queryTerms(text string) sparseTerms {
	tf := map[uint32]int{}
	for _, tok := range index.Tokenize(text) {
		tf[termIndex(tok)]++
	}
	return weighTerms(tf, func(int) float32 { return 1 })
}

func weighTerms(tf map[uint32]int, weight func(n int) float32) sparseTerms {
	out := sparseTerms{indices: make([]uint32, 0, len(tf)), values: make([]float32, 0, len(tf))}
	for idx := range tf {
		out.indices = append(out.indices, idx)
	}
	slices.Sort(out.indices)
	for _, idx := range out.indices {
		out.values = append(out.values, weight(tf[idx]))
	}
	return out
}
