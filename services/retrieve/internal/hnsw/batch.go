package hnsw

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// Batches in which AddBatch and rebuilds link nodes.
const (
	// maxBatch is the most nodes planned at once.
	maxBatch = 128
	// batchDivisor keeps a batch at most this fraction of the graph it is
	// linked into: the nodes of a batch do not see each other while they
	// search the graph, so they must stay a small part of it.
	batchDivisor = 16
)

// AddBatch indexes vecs[i] under ids[i] for each i, as calling Add for each
// pair in order would, but searches the graph for the new vectors'
// neighbours from runtime.GOMAXPROCS(0) goroutines at once. The graph it
// builds is not the one those Add calls would build, though of like
// quality, and it is the same for the same seed and calls whatever the
// number of goroutines.
//
// AddBatch checks every pair before changing anything and returns the
// first error Add would return for one of them, leaving the index
// unchanged; it also returns an error when ids and vecs differ in length.
// Searches wait until it returns.
func (x *Index) AddBatch(ids []string, vecs [][]float32) error {
	if len(ids) != len(vecs) {
		return fmt.Errorf("hnsw: add batch of %d ids and %d vectors", len(ids), len(vecs))
	}
	norms := make([]float64, len(vecs))
	for i, id := range ids {
		if id == "" || len(id) > MaxIDLen {
			return fmt.Errorf("%w: length %d is outside 1..%d", ErrInvalidID, len(id), MaxIDLen)
		}
		norm, err := checkVector(vecs[i])
		if err != nil {
			return fmt.Errorf("add %q: %w", id, err)
		}
		norms[i] = norm
	}

	x.mu.Lock()
	defer x.mu.Unlock()
	g := x.g
	for i, vec := range vecs {
		if len(vec) != g.dim {
			return fmt.Errorf("add %q: %w: %d, index has %d", ids[i], ErrWrongDimension, len(vec), g.dim)
		}
	}
	if g.nodeCount()+len(ids) > maxNodes {
		return ErrFull
	}

	g.grow(len(ids))
	nodes := make([]uint32, len(ids))
	for i, id := range ids {
		if old, ok := g.live[id]; ok {
			g.markDeleted(old)
		}
		nodes[i] = g.appendNode(id, vecs[i], 1/norms[i], x.randomLevel())
	}
	x.linkNodes(nodes)
	x.compactIfNeeded()
	return nil
}

// linkNodes links nodes, the last ones appended, into the graph in
// batches: the nodes of a batch are planned in parallel on the graph as it
// stands, then linked one after another, each also considering the batch
// nodes linked before it. The caller holds mu for writing.
func (x *Index) linkNodes(nodes []uint32) {
	g := x.g
	scratches := make([]*scratch, min(runtime.GOMAXPROCS(0), len(nodes)))
	for i := range scratches {
		scratches[i] = x.getScratch()
	}
	defer func() {
		for _, s := range scratches {
			x.scratch.Put(s)
		}
	}()
	if len(x.plans) < min(maxBatch, len(nodes)) {
		x.plans = make([]insertPlan, min(maxBatch, len(nodes)))
	}
	plans := x.plans

	for start := 0; start < len(nodes); {
		// Batch sizes depend on node numbers only, so the graph does not
		// depend on the number of goroutines.
		size := min(max(int(nodes[start])/batchDivisor, 1), maxBatch, len(nodes)-start)
		batch := nodes[start : start+size]
		g.planAll(batch, plans, x.efConstruction, scratches)
		for i, n := range batch {
			g.link(n, &plans[i], batch[:i], scratches[0])
		}
		start += size
	}
}

// planAll plans each node of batch into plans, spreading the nodes over
// one goroutine per scratch.
func (g *graph) planAll(
	batch []uint32,
	plans []insertPlan,
	efConstruction int,
	scratches []*scratch,
) {
	if len(batch) == 1 || len(scratches) == 1 {
		for i, n := range batch {
			g.plan(n, efConstruction, scratches[0], &plans[i])
		}
		return
	}

	var next atomic.Int64
	var wg sync.WaitGroup
	for _, s := range scratches {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(batch) {
					return
				}
				g.plan(batch[i], efConstruction, s, &plans[i])
			}
		})
	}
	wg.Wait()
}
