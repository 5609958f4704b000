package index

import (
	"cmp"
	"context"
	"slices"

	"github.com/keelhq/keel/services/retrieve/internal/hnsw"
	"github.com/keelhq/keel/services/retrieve/internal/store"
)

// rrfK damps the weight of the top ranks in reciprocal rank fusion: a hit
// at rank r of a leg adds 1/(rrfK+r).
const rrfK = 60

// Search runs q over tenant's index only and returns at most q.TopK results,
// best first. The keyword and dense legs run side by side; when ctx ends
// before a leg answers, the results are those of the other leg and the
// response names the missing one, and when neither answered Search returns
// ctx's error. A tenant without an index has no results. It returns
// ErrInvalidTenant, ErrInvalidQuery or ErrClosed.
func (s *Store) Search(ctx context.Context, tenantID string, q Query) (Response, error) {
	if err := store.ValidTenant(tenantID); err != nil {
		return Response{}, err
	}
	if err := store.ValidQuery(q); err != nil {
		return Response{}, err
	}
	ti, err := s.tenant(tenantID, false)
	if err != nil || ti == nil {
		return Response{}, err
	}
	topK := q.TopK
	if topK <= 0 {
		topK = store.DefaultTopK
	}
	depth := max(topK*10, 100)

	// Each leg takes the read lock on its own and answers with entry keys,
	// so a leg left behind by the deadline finishes harmlessly and a change
	// between the legs and the fusion below only drops hits that are gone.
	type answer struct {
		leg  string
		hits []keyedHit
		// unanswerable marks a dense leg that found no vectors of the
		// query's model and dimension in a tenant that has vectors: the
		// documents were embedded by another model and the leg cannot
		// compare, which the response reports as a missing leg.
		unanswerable bool
	}
	answers := make(chan answer, 2)
	before, after := beforeAnswer, afterAnswer
	var asked []string
	if q.Text != "" {
		asked = append(asked, store.LegKeyword)
		go func() {
			hits := ti.keywordSearch(q, depth)
			before(store.LegKeyword)
			answers <- answer{leg: store.LegKeyword, hits: hits}
			after(store.LegKeyword)
		}()
	}
	if len(q.Vector) > 0 {
		asked = append(asked, store.LegDense)
		go func() {
			hits, comparable := ti.denseSearch(q, depth)
			before(store.LegDense)
			answers <- answer{store.LegDense, hits, !comparable}
			after(store.LegDense)
		}()
	}
	legs := make(map[string][]keyedHit, len(asked))
	unanswerable := false
wait:
	for len(legs) < len(asked) {
		select {
		case a := <-answers:
			legs[a.leg] = a.hits
			unanswerable = unanswerable || a.unanswerable
		case <-ctx.Done():
			break wait
		}
	}
	// An answer that came in with the deadline still counts.
	for len(legs) < len(asked) {
		a, ok := tryReceive(answers)
		if !ok {
			break
		}
		legs[a.leg] = a.hits
		unanswerable = unanswerable || a.unanswerable
	}
	if len(legs) == 0 {
		return Response{}, ctx.Err()
	}
	if unanswerable {
		delete(legs, store.LegDense)
	}
	resp := Response{}
	for _, leg := range asked {
		if _, ok := legs[leg]; !ok {
			resp.Missing = append(resp.Missing, leg)
		}
	}

	// Reciprocal rank fusion over the best depth hits of each leg.
	type fusedHit struct {
		score, vector, keyword float64
		dense, lexical         bool
	}
	fused := make(map[string]*fusedHit)
	for leg, hits := range legs {
		for rank, hit := range hits {
			f := fused[hit.key]
			if f == nil {
				f = new(fusedHit)
				fused[hit.key] = f
			}
			f.score += 1 / float64(rrfK+rank+1)
			if leg == store.LegDense {
				f.vector, f.dense = hit.score, true
			} else {
				f.keyword, f.lexical = hit.score, true
			}
		}
	}

	ti.mu.RLock()
	defer ti.mu.RUnlock()
	type candidate struct {
		e *entry
		f *fusedHit
	}
	candidates := make([]candidate, 0, len(fused))
	for key, f := range fused {
		if pos, ok := ti.pos[key]; ok {
			candidates = append(candidates, candidate{ti.entries[pos], f})
		}
	}
	slices.SortFunc(candidates, func(a, b candidate) int {
		return cmp.Or(
			cmp.Compare(b.f.score, a.f.score),
			cmp.Compare(b.f.vector, a.f.vector),
			cmp.Compare(b.f.keyword, a.f.keyword),
			cmp.Compare(a.e.chunk.DocID, b.e.chunk.DocID),
			cmp.Compare(a.e.chunk.Ordinal, b.e.chunk.Ordinal),
			cmp.Compare(a.e.chunk.ID, b.e.chunk.ID),
		)
	})
	candidates = candidates[:min(topK, len(candidates))]

	// Both scores of every result are exact, whichever leg found it and
	// however the dense leg searched; a leg that did not answer in time
	// leaves its score at 0.
	queryNorm := vectorNorm(q.Vector)
	var queryTerms map[string]bool
	resp.Results = make([]Result, len(candidates))
	for i, c := range candidates {
		r := Result{Chunk: c.e.chunk, Score: c.f.score, VectorScore: c.f.vector, KeywordScore: c.f.keyword}
		if !c.f.dense && legs[store.LegDense] != nil {
			r.VectorScore = cosine(c.e, q.Vector, queryNorm, q.Model)
		}
		if !c.f.lexical && legs[store.LegKeyword] != nil {
			if queryTerms == nil {
				queryTerms = termSet(q.Text)
			}
			r.KeywordScore = ti.bm25(c.e, queryTerms)
		}
		r.Chunk.Vector = nil
		r.Chunk.ACL = slices.Clone(r.Chunk.ACL)
		r.Chunk.HeadingPath = slices.Clone(r.Chunk.HeadingPath)
		r.Chunk.Tags = slices.Clone(r.Chunk.Tags)
		r.Chunk.Subjects = slices.Clone(r.Chunk.Subjects)
		resp.Results[i] = r
	}
	return resp, nil
}

// beforeAnswer and afterAnswer are called around a leg handing in its
// answer; tests set them to hold a leg back or to end the search once a
// leg has answered.
var (
	beforeAnswer = func(leg string) {}
	afterAnswer  = func(leg string) {}
)

// tryReceive returns a value from ch if one is ready.
func tryReceive[T any](ch <-chan T) (T, bool) {
	select {
	case v := <-ch:
		return v, true
	default:
		var zero T
		return zero, false
	}
}

// keyedHit is a hit of one leg named by its entry key, which stays valid
// after the leg releases the lock.
type keyedHit struct {
	key   string
	score float64
}

// keywordSearch runs the keyword leg of q under the read lock and returns
// its depth best hits the query may see, best first.
func (ti *tenantIndex) keywordSearch(q Query, depth int) []keyedHit {
	ti.mu.RLock()
	defer ti.mu.RUnlock()
	hits := ti.keywordLeg(q.Text)
	defer ti.release(hits)
	visible := func(idx int) bool { return q.Accepts(&ti.entries[idx].chunk) }
	return ti.keyed(hits.best(depth, ti.byKey, visible))
}

// denseSearch runs the dense leg of q under the read lock and returns its
// depth best hits the query may see, best first. comparable is false when
// the tenant has vectors but none of q's model and dimension.
func (ti *tenantIndex) denseSearch(q Query, depth int) (hits []keyedHit, comparable bool) {
	ti.mu.RLock()
	defer ti.mu.RUnlock()
	comparable = len(ti.dense) == 0
	for key := range ti.dense {
		if key.dim == len(q.Vector) && (q.Model == "" || key.model == q.Model) {
			comparable = true
			break
		}
	}
	allowed := func(e *entry) bool { return q.Accepts(&e.chunk) }
	return ti.keyed(ti.denseLeg(q.Vector, q.Model, allowed, depth)), comparable
}

// keyed names hits by entry key. The caller holds mu.
func (ti *tenantIndex) keyed(hits []scored) []keyedHit {
	out := make([]keyedHit, len(hits))
	for i, h := range hits {
		out[i] = keyedHit{key: ti.entries[h.idx].key, score: h.score}
	}
	return out
}

// dot returns the dot product of two vectors of the same length.
func dot(a, b []float32) float64 {
	return float64(hnsw.Dot(a, b))
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
