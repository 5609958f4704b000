// Package embedder turns text into vectors. It defines the Embedder
// interface the embed service depends on and a deterministic local
// implementation, Hashing, that needs no model download: it hashes word,
// word-pair and character n-gram features of the text into a fixed number of
// dimensions. Its tokenizer knows the vocabulary of customer support: how
// customers ask (synonym words and phrases, irregular verbs, informal
// filler) and which words nearly every help-centre article shares.
package embedder

import (
	"context"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"
)

// Embedder turns texts into vectors of a fixed dimension.
type Embedder interface {
	// Model names the embedding model; vectors of different models are not
	// comparable.
	Model() string
	// Dimensions is the length of every vector Embed returns.
	Dimensions() int
	// Embed returns one vector per text, in order. It returns the context's
	// error when ctx ends first.
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// Identity of the hashing embedder.
const (
	HashingModel      = "keel-hash-384-v2"
	HashingDimensions = 384
)

// Feature weights: whole words carry the meaning, word pairs add phrase
// order, character n-grams give partial credit to related word forms and
// misspellings. Each is scaled by the token's weight (Tokenizer.Weight); a
// word pair takes the lower weight of its two words. Word pairs weigh
// little because in 384 dimensions every feature of a long chunk adds
// collision noise to the others.
const (
	unigramWeight  = 1.0
	bigramWeight   = 0.3
	chargramWeight = 0.2
)

// Hashing is the deterministic local Embedder. Each text is tokenized
// (lowercase, stopwords removed, light stemming, support-domain synonyms
// folded into canonical tokens), every feature is weighted by its token's
// weight and by sublinear term frequency and added with a hash-chosen sign
// into one of the dimensions, and the vector is L2-normalised. A text
// without features maps to the zero vector. Hashing is safe for concurrent
// use.
type Hashing struct {
	tokenizer *Tokenizer
	dims      int
}

var _ Embedder = (*Hashing)(nil)

// NewHashing returns the hashing embedder with HashingDimensions dimensions.
func NewHashing() *Hashing {
	return &Hashing{tokenizer: NewTokenizer(), dims: HashingDimensions}
}

// Model returns HashingModel.
func (h *Hashing) Model() string {
	return HashingModel
}

// Dimensions returns HashingDimensions.
func (h *Hashing) Dimensions() int {
	return h.dims
}

// Embed returns the vectors of texts. It returns the context's error when
// ctx ends before every text is embedded.
func (h *Hashing) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	vectors := make([][]float32, len(texts))
	for i, text := range texts {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("embed text %d: %w", i, err)
		}
		vectors[i] = h.embed(text)
	}
	return vectors, nil
}

// embed hashes the features of one text into a normalised vector.
func (h *Hashing) embed(text string) []float32 {
	tokens := h.tokenizer.Tokens(text)

	// Features are kept in first-seen order so the sums below always add up
	// in the same order and the vector is bit-for-bit reproducible.
	type feature struct {
		key    uint64
		tf     float64
		weight float64
	}
	var features []feature
	seen := make(map[uint64]int, len(tokens)*8)
	add := func(key uint64, weight float64) {
		if i, ok := seen[key]; ok {
			features[i].tf++
			return
		}
		seen[key] = len(features)
		features = append(features, feature{key: key, tf: 1, weight: weight})
	}
	prevWeight := 0.0
	for i, tok := range tokens {
		weight := h.tokenizer.Weight(tok)
		add(hashFeature('w', tok, ""), unigramWeight*weight)
		if i > 0 {
			add(hashFeature('b', tokens[i-1], tok), bigramWeight*min(weight, prevWeight))
		}
		forEachCharGram(tok, func(key uint64) {
			add(key, chargramWeight*weight)
		})
		prevWeight = weight
	}

	// Sublinear term frequency; the top hash bit picks the sign so that
	// colliding features tend to cancel rather than pile up.
	vec := make([]float64, h.dims)
	for _, f := range features {
		value := f.weight * (1 + math.Log(f.tf))
		if f.key>>63 == 1 {
			value = -value
		}
		vec[f.key%uint64(h.dims)] += value
	}
	return normalize(vec)
}

// forEachCharGram calls fn with the feature key of every character 3-gram
// and 4-gram of tok padded with boundary marks, so that prefixes and
// suffixes are features too.
func forEachCharGram(tok string, fn func(key uint64)) {
	padded := make([]rune, 0, len(tok)+2)
	padded = append(padded, '<')
	padded = append(padded, []rune(tok)...)
	padded = append(padded, '>')

	var buf [4 * utf8.UTFMax]byte
	for _, n := range []int{3, 4} {
		for i := 0; i+n <= len(padded); i++ {
			gram := buf[:0]
			for _, r := range padded[i : i+n] {
				gram = utf8.AppendRune(gram, r)
			}
			fn(hashFeature('c', string(gram), ""))
		}
	}
}

// FNV-1a, 64 bit.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// hashFeature hashes a feature kind and its one or two parts with FNV-1a
// without building the feature string.
func hashFeature(kind byte, first, second string) uint64 {
	h := uint64(fnvOffset)
	write := func(b byte) {
		h ^= uint64(b)
		h *= fnvPrime
	}
	write(kind)
	for i := 0; i < len(first); i++ {
		write(first[i])
	}
	if second != "" {
		write(0)
		for i := 0; i < len(second); i++ {
			write(second[i])
		}
	}
	return h
}

// normalize returns vec scaled to unit length as float32, or zeros when vec
// is zero.
func normalize(vec []float64) []float32 {
	var sum float64
	for _, v := range vec {
		sum += v * v
	}
	out := make([]float32, len(vec))
	if sum == 0 {
		return out
	}
	norm := math.Sqrt(sum)
	for i, v := range vec {
		out[i] = float32(v / norm)
	}
	return out
}

// ErrDimensionMismatch is returned by Cosine when the vectors differ in
// length.
var ErrDimensionMismatch = errors.New("embedder: vectors differ in dimension")

// Cosine returns the cosine similarity of a and b, or 0 when either is zero.
// It returns ErrDimensionMismatch when their lengths differ.
func Cosine(a, b []float32) (float64, error) {
	if len(a) != len(b) {
		return 0, ErrDimensionMismatch
	}
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0, nil
	}
	return dot / math.Sqrt(na*nb), nil
}
