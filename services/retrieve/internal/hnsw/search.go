package hnsw

import (
	"fmt"
	"math"
)

// ExactScanShare is the share of live vectors below which Search answers a
// filtered query by an exact scan of the accepted vectors rather than by
// walking the graph. Search estimates the share by asking the filter about
// 256 vectors spread over the index (filterSample).
//
// Walking the graph for a filter that accepts a share p of the vectors
// scores about ef/p nodes before it holds ef acceptable ones; near 2% that
// is thousands of nodes scattered over the graph, while the exact scan
// scores only the accepted few and calls the filter once per vector.
const ExactScanShare = 0.02

// filterSample is the number of vectors Search passes to a filter to
// estimate the share it accepts.
const filterSample = 256

// goldenFraction is the fractional part of the golden ratio.
const goldenFraction = 0.6180339887498949

// Result is one vector found by Search.
type Result struct {
	// ID is the id the vector was added under.
	ID string
	// Score is the cosine similarity of the vector with the query, from
	// the graph's half-precision copy: within about 0.001 of the exact one.
	Score float32
}

// Search returns the k live vectors most similar to query, best first,
// among those accept accepts, or among all when accept is nil. Results of
// equal score come in the order they were added.
//
// ef is the number of candidates Search keeps while walking the graph: zero
// or less uses Options.EfSearch, and less than k is raised to k. A higher
// ef finds the true nearest vectors more often and costs more.
//
// accept is called with ids from the calling goroutine while the index's
// read lock is held, so it must not call Add, AddBatch, Delete, Compact or
// ReadFrom. Rejected vectors still guide the walk, which goes on until it
// holds ef accepted ones, so Search returns k results whenever at least k
// live vectors are accepted. When a sample suggests that accept takes fewer
// than ExactScanShare of the live vectors, or when the walk ends with fewer
// than k results, Search scores every accepted vector instead and calls
// accept once for each live vector.
//
// Search returns ErrWrongDimension or ErrInvalidVector for a bad query.
func (x *Index) Search(query []float32, k, ef int, accept func(id string) bool) ([]Result, error) {
	if k <= 0 {
		return nil, nil
	}
	q, err := normalise(query)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}

	x.mu.RLock()
	defer x.mu.RUnlock()
	g := x.g
	if len(q) != g.dim {
		return nil, fmt.Errorf("search: %w: %d, index has %d", ErrWrongDimension, len(q), g.dim)
	}
	if len(g.live) == 0 {
		return nil, nil
	}
	if ef <= 0 {
		ef = x.efSearch
	}
	ef = min(max(ef, k), MaxEf)

	s := x.getScratch()
	defer x.scratch.Put(s)
	eligible := g.eligibility(accept)

	var found []candidate
	if accept != nil && g.acceptedShare(accept) < ExactScanShare {
		found = g.exactSearch(q, k, eligible, s)
	} else {
		found = g.graphSearch(q, ef, eligible, s)
		walkedAll := s.visits == g.nodeCount()
		if len(found) < k && !walkedAll {
			found = g.exactSearch(q, k, eligible, s)
		}
	}

	found = found[:min(k, len(found))]
	results := make([]Result, len(found))
	for i, c := range found {
		results[i] = Result{ID: g.ids[c.node], Score: c.score}
	}
	return results, nil
}

// eligibility returns the test a node must pass to be a result: live and
// accepted. It returns nil when every node passes.
func (g *graph) eligibility(accept func(string) bool) func(uint32) bool {
	switch {
	case accept == nil && g.deletedCount == 0:
		return nil
	case accept == nil:
		return func(n uint32) bool { return !g.deleted[n] }
	}
	return func(n uint32) bool { return !g.deleted[n] && accept(g.ids[n]) }
}

// acceptedShare estimates the share of live nodes that accept takes. It
// asks about every node of a small graph, and otherwise about filterSample
// nodes picked by a golden-ratio sequence, which spreads them over the node
// numbers without falling into step with a filter that accepts every
// so-many nodes.
func (g *graph) acceptedShare(accept func(string) bool) float64 {
	count := g.nodeCount()
	sampled, accepted := 0, 0
	for i := range min(count, filterSample) {
		n := i
		if count > filterSample {
			n = int(math.Mod(float64(i)*goldenFraction, 1) * float64(count))
		}
		if g.deleted[n] {
			continue
		}
		sampled++
		if accept(g.ids[n]) {
			accepted++
		}
	}
	if sampled == 0 {
		return 0
	}
	return float64(accepted) / float64(sampled)
}

// graphSearch descends from the entry point to level 0 and searches it for
// the ef eligible nodes most similar to q, best first.
func (g *graph) graphSearch(
	q []float32,
	ef int,
	eligible func(uint32) bool,
	s *scratch,
) []candidate {
	start := candidate{node: g.entry, score: dotHalf(q, g.vector(g.entry))}
	start = g.descend(q, start, g.maxLevel, 0)
	s.entries = append(s.entries[:0], start)
	return g.searchLayer(q, s.entries, ef, 0, eligible, s)
}

// exactSearch scores every eligible node and returns the k most similar to
// q, best first.
func (g *graph) exactSearch(
	q []float32,
	k int,
	eligible func(uint32) bool,
	s *scratch,
) []candidate {
	s.results.reset(false)
	for n := range g.nodeCount() {
		node := uint32(n)
		if eligible != nil && !eligible(node) {
			continue
		}
		c := candidate{node: node, score: dotHalf(q, g.vector(node))}
		if s.results.len() == k {
			if c.score <= s.results.top().score {
				continue
			}
			s.results.pop()
		}
		s.results.push(c)
	}

	s.found = append(s.found[:0], s.results.items...)
	sortBestFirst(s.found)
	return s.found
}
