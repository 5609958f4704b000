package index

import (
	"cmp"
	"slices"
)

// rrfK damps the weight of the top ranks in reciprocal rank fusion: a hit
// at rank r of a leg adds 1/(rrfK+r).
const rrfK = 60

// Query is one hybrid search.
type Query struct {
	// Text feeds the keyword leg.
	Text string
	// Vector feeds the dense leg; without it only the keyword leg runs.
	Vector []float32
	// Model made Vector; chunks embedded by another model are left out of the
	// dense leg. Empty compares with every chunk of the same dimension.
	Model string
	// TopK is the number of results (default DefaultTopK).
	TopK int
	// Kinds and Sources keep only chunks of these kinds and sources; empty
	// means any.
	Kinds   []string
	Sources []string
	// Principals the caller acts as. A chunk with an ACL is returned only
	// when one of them is on it.
	Principals []string
}

// Result is one chunk found by Search.
type Result struct {
	// Chunk is a copy of the indexed chunk without its vector.
	Chunk Chunk
	// Score is the fused reciprocal rank score.
	Score float64
	// VectorScore is the cosine similarity to the query vector, 0 when the
	// dense leg did not run or found no similarity.
	VectorScore float64
	// KeywordScore is the BM25 score, 0 without a matching term.
	KeywordScore float64
}

// Search runs q over tenant's index only and returns at most q.TopK results,
// best first. A tenant without an index has no results. It returns
// ErrInvalidTenant or ErrClosed.
func (s *Store) Search(tenantID string, q Query) ([]Result, error) {
	if err := validTenant(tenantID); err != nil {
		return nil, err
	}
	ti, err := s.tenant(tenantID, false)
	if err != nil || ti == nil {
		return nil, err
	}
	topK := q.TopK
	if topK <= 0 {
		topK = DefaultTopK
	}
	depth := max(topK*10, 100)
	allowed := q.filter()

	ti.mu.RLock()
	defer ti.mu.RUnlock()

	keyword := ti.keywordLeg(q.Text)
	defer ti.release(keyword)
	visible := func(idx int) bool { return allowed(ti.entries[idx]) }
	keywordBest := keyword.best(depth, ti.byKey, visible)
	dense := ti.denseLeg(q.Vector, q.Model, allowed, depth)

	// Reciprocal rank fusion over the best depth hits of each leg.
	fused := make(map[int]float64)
	for _, leg := range [][]scored{keywordBest, dense} {
		for rank, hit := range leg {
			fused[hit.idx] += 1 / float64(rrfK+rank+1)
		}
	}

	// Both scores of every result are exact, whichever leg found it and
	// however the dense leg searched.
	queryNorm := vectorNorm(q.Vector)
	results := make([]Result, 0, len(fused))
	for idx, score := range fused {
		e := ti.entries[idx]
		c := e.chunk
		c.Vector = nil
		c.ACL = slices.Clone(c.ACL)
		c.HeadingPath = slices.Clone(c.HeadingPath)
		results = append(results, Result{
			Chunk:        c,
			Score:        score,
			VectorScore:  cosine(e, q.Vector, queryNorm, q.Model),
			KeywordScore: keyword.score(idx),
		})
	}
	slices.SortFunc(results, func(a, b Result) int {
		return cmp.Or(
			cmp.Compare(b.Score, a.Score),
			cmp.Compare(b.VectorScore, a.VectorScore),
			cmp.Compare(b.KeywordScore, a.KeywordScore),
			cmp.Compare(a.Chunk.DocID, b.Chunk.DocID),
			cmp.Compare(a.Chunk.Ordinal, b.Chunk.Ordinal),
			cmp.Compare(a.Chunk.ID, b.Chunk.ID),
		)
	})
	return results[:min(topK, len(results))], nil
}

// dot returns the dot product of two vectors of the same length.
func dot(a, b []float32) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return float64(s0) + float64(s1) + float64(s2) + float64(s3)
}

// scored is an entry position with its score in one leg.
type scored struct {
	idx   int
	score float64
}

// topHits keeps the best hits offered to it, up to a limit.
type topHits struct {
	limit int
	// better orders hits by falling score, then by tie on their positions.
	better func(a, b scored) int
	// heap is a bounded heap whose root is the worst of the best so far.
	heap []scored
}

// newTopHits keeps the limit best hits; tie orders equal scores by
// position.
func newTopHits(limit int, tie func(a, b int) int) *topHits {
	return &topHits{
		limit: limit,
		better: func(a, b scored) int {
			if c := cmp.Compare(b.score, a.score); c != 0 {
				return c
			}
			return tie(a.idx, b.idx)
		},
	}
}

// admits reports whether hit has a positive score and is among the best
// so far.
func (t *topHits) admits(hit scored) bool {
	if hit.score <= 0 || t.limit <= 0 {
		return false
	}
	return len(t.heap) < t.limit || t.better(hit, t.heap[0]) < 0
}

// add keeps hit, which t admits, dropping the worst hit kept when full.
func (t *topHits) add(hit scored) {
	if len(t.heap) < t.limit {
		t.heap = append(t.heap, hit)
		siftUp(t.heap, len(t.heap)-1, t.better)
		return
	}
	t.heap[0] = hit
	siftDown(t.heap, 0, t.better)
}

// best returns the hits kept, best first.
func (t *topHits) best() []scored {
	slices.SortFunc(t.heap, t.better)
	return t.heap
}

// bestScored returns the limit best hits with a positive score, best
// first; tie orders equal scores by position.
func bestScored(hits []scored, limit int, tie func(a, b int) int) []scored {
	top := newTopHits(limit, tie)
	for _, hit := range hits {
		if top.admits(hit) {
			top.add(hit)
		}
	}
	return top.best()
}

// siftUp and siftDown keep the worst element (by better) at the root.
func siftUp(h []scored, i int, better func(a, b scored) int) {
	for i > 0 {
		parent := (i - 1) / 2
		if better(h[i], h[parent]) <= 0 {
			return
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
}

func siftDown(h []scored, i int, better func(a, b scored) int) {
	for {
		worst, left, right := i, 2*i+1, 2*i+2
		if left < len(h) && better(h[left], h[worst]) > 0 {
			worst = left
		}
		if right < len(h) && better(h[right], h[worst]) > 0 {
			worst = right
		}
		if worst == i {
			return
		}
		h[i], h[worst] = h[worst], h[i]
		i = worst
	}
}

// byKey orders entry positions by entry key, which unlike positions does
// not change when other documents are replaced. The caller holds mu.
func (ti *tenantIndex) byKey(a, b int) int {
	return cmp.Compare(ti.entries[a].key, ti.entries[b].key)
}

// filter returns the predicate that keeps the chunks q may see.
func (q Query) filter() func(*entry) bool {
	kinds, sources, principals := set(q.Kinds), set(q.Sources), set(q.Principals)
	return func(e *entry) bool {
		if len(kinds) > 0 && !kinds[e.chunk.Kind] {
			return false
		}
		if len(sources) > 0 && !sources[e.chunk.Source] {
			return false
		}
		if len(e.chunk.ACL) == 0 {
			return true
		}
		for _, p := range e.chunk.ACL {
			if principals[p] {
				return true
			}
		}
		return false
	}
}

// set returns the non-empty values as a set.
func set(values []string) map[string]bool {
	out := make(map[string]bool, len(values))
	for _, v := range values {
		if v != "" {
			out[v] = true
		}
	}
	return out
}
