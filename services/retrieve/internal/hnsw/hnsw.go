// Package hnsw is an approximate nearest-neighbour index over float32
// vectors compared by cosine similarity, built as a Hierarchical Navigable
// Small World graph (Malkov and Yashunin, "Efficient and robust approximate
// nearest neighbor search using Hierarchical Navigable Small World graphs",
// 2016).
//
// Vectors are stored normalised to unit length, so the score of a result is
// the dot product of two unit vectors: its cosine similarity with the query.
// Callers name vectors by string ids; the index numbers them densely inside.
//
// Deleting a vector leaves a tombstone in the graph: it still guides searches
// but is never returned. Once tombstones make up more than a quarter of the
// graph, the Add, AddBatch or Delete that made them so rebuilds it from the
// live vectors (see CompactShare).
//
// Search takes an optional filter that is applied while the graph is walked,
// so a filtered search keeps exploring until it has enough acceptable
// results; a filter that accepts very few vectors is answered by an exact
// scan instead (see ExactScanShare).
//
// WriteTo and ReadFrom save and load the whole index in a versioned,
// checksummed binary format, so a restart does not rebuild the graph.
package hnsw

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
)

// Defaults for Options.
const (
	DefaultM              = 16
	DefaultEfConstruction = 200
	// DefaultEfSearch reaches a recall@10 of 0.95 on uniformly random
	// 64-dimensional vectors (TestRecallWithDefaults), where 64 reaches
	// 0.90, and about 0.99 on the clustered 384-dimensional vectors of
	// BenchmarkSearch100k.
	DefaultEfSearch = 128
)

// Limits on Options, on vectors and on ids. ReadFrom applies them to a file
// as well.
const (
	// MaxM is the largest M; level 0 allows 2*MaxM links per node.
	MaxM = 128
	// MaxEf is the largest EfConstruction, EfSearch or ef passed to Search.
	MaxEf = 1 << 16
	// MaxDim is the largest vector dimension.
	MaxDim = 1 << 16
	// MaxIDLen is the longest id in bytes.
	MaxIDLen = math.MaxUint16
	// maxNodes bounds the node numbers, live and deleted; math.MaxUint32
	// itself marks "no entry point" in a file.
	maxNodes = math.MaxUint32 - 1
	// levelCap is the highest graph level a node is given. With M=2 a level
	// above it has a chance of 2^-24 per node; capping only flattens that
	// tail.
	levelCap = 24
)

// CompactShare is the share of tombstones in the graph above which the Add,
// AddBatch or Delete that passes it rebuilds the graph from the live
// vectors before returning. Until then deleted vectors keep their place in
// the graph and are skipped by Search; a rebuild costs about as much as
// adding every live vector again with AddBatch.
const CompactShare = 0.25

var (
	// ErrInvalidOptions is returned by New for a dimension or option out of
	// range.
	ErrInvalidOptions = errors.New("hnsw: invalid options")
	// ErrInvalidID is returned by Add and AddBatch for an empty id or one
	// longer than MaxIDLen bytes.
	ErrInvalidID = errors.New("hnsw: invalid id")
	// ErrWrongDimension is returned by Add, AddBatch and Search for a
	// vector whose length is not the index's dimension.
	ErrWrongDimension = errors.New("hnsw: wrong vector dimension")
	// ErrInvalidVector is returned by Add, AddBatch and Search for a vector
	// that is empty, holds NaN or an infinity, or whose components are all
	// zero.
	ErrInvalidVector = errors.New("hnsw: invalid vector")
	// ErrFull is returned by Add and AddBatch when the index would hold
	// more nodes, live and deleted, than its node numbers can count.
	ErrFull = errors.New("hnsw: index full")
)

// Options tunes an Index. A zero field takes its default.
type Options struct {
	// M is the number of links a node keeps on each level above the
	// bottom one; the bottom level keeps 2*M. More links raise recall and
	// memory use. Default DefaultM, at most MaxM, at least 2.
	M int
	// EfConstruction is the number of candidates considered when a vector
	// is linked into the graph. Higher builds a better graph more slowly.
	// Default DefaultEfConstruction.
	EfConstruction int
	// EfSearch is the number of candidates Search keeps when its caller
	// passes no ef. Default DefaultEfSearch.
	EfSearch int
	// Seed seeds the random levels given to new nodes, so that the same
	// sequence of calls builds the same graph.
	Seed int64
}

// Index is an HNSW index of unit vectors named by string ids. Create one
// with New, or fill a zero Index with ReadFrom: ReadFrom is the only method
// a zero Index supports.
//
// An Index is safe for concurrent use. A sync.RWMutex guards it: any
// number of Search, Len, Dim and WriteTo calls run together, while Add,
// AddBatch, Delete, Compact and ReadFrom run alone.
type Index struct {
	mu             sync.RWMutex
	g              *graph
	efConstruction int
	efSearch       int
	// levelSource is the source of random node levels; rng draws from it.
	levelSource *rand.PCG
	rng         *rand.Rand
	// scratch pools the working memory of searches and inserts; plans
	// holds the plans of a batch of inserts.
	scratch sync.Pool
	plans   []insertPlan
}

// New returns an empty index of vectors with dim components. It returns
// ErrInvalidOptions when dim or an option is out of range.
func New(dim int, opts Options) (*Index, error) {
	if opts.M == 0 {
		opts.M = DefaultM
	}
	if opts.EfConstruction == 0 {
		opts.EfConstruction = DefaultEfConstruction
	}
	if opts.EfSearch == 0 {
		opts.EfSearch = DefaultEfSearch
	}
	if err := validateShape(dim, opts.M, opts.EfConstruction, opts.EfSearch); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}

	source := rand.NewPCG(uint64(opts.Seed), uint64(opts.Seed)^0x9e3779b97f4a7c15)
	return &Index{
		g:              newGraph(dim, opts.M, 0),
		efConstruction: opts.EfConstruction,
		efSearch:       opts.EfSearch,
		levelSource:    source,
		rng:            rand.New(source),
	}, nil
}

// validateShape checks the parameters that New takes and that a file
// stores.
func validateShape(dim, m, efConstruction, efSearch int) error {
	switch {
	case dim < 1 || dim > MaxDim:
		return fmt.Errorf("dimension %d is outside 1..%d", dim, MaxDim)
	case m < 2 || m > MaxM:
		return fmt.Errorf("M %d is outside 2..%d", m, MaxM)
	case efConstruction < 1 || efConstruction > MaxEf:
		return fmt.Errorf("EfConstruction %d is outside 1..%d", efConstruction, MaxEf)
	case efSearch < 1 || efSearch > MaxEf:
		return fmt.Errorf("EfSearch %d is outside 1..%d", efSearch, MaxEf)
	}
	return nil
}

// Add indexes vec under id, replacing the vector id had. vec is copied and
// normalised. It returns ErrInvalidID, ErrWrongDimension, ErrInvalidVector
// or ErrFull, and leaves the index unchanged when it does.
//
// Replacing a vector tombstones its old node and links a new one, so it
// counts towards CompactShare like a Delete and may make Add rebuild the
// graph before it returns.
func (x *Index) Add(id string, vec []float32) error {
	return x.AddBatch([]string{id}, [][]float32{vec})
}

// Delete removes id from the index and reports whether it was there. Its
// node stays in the graph as a tombstone; when tombstones then exceed
// CompactShare of the nodes, Delete rebuilds the graph before it returns.
func (x *Index) Delete(id string) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	node, ok := x.g.live[id]
	if !ok {
		return false
	}
	x.g.markDeleted(node)
	x.compactIfNeeded()
	return true
}

// Compact rebuilds the graph from the live vectors now, dropping every
// tombstone, as Add, AddBatch and Delete do by themselves past
// CompactShare. It is a no-op without tombstones. Searches wait while it
// runs.
func (x *Index) Compact() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.g.deletedCount > 0 {
		x.compact()
	}
}

// Len returns the number of live vectors.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.g.live)
}

// Dim returns the number of components of the index's vectors.
func (x *Index) Dim() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.g.dim
}

// compactIfNeeded rebuilds the graph once tombstones exceed CompactShare
// of its nodes. The caller holds mu for writing.
func (x *Index) compactIfNeeded() {
	if float64(x.g.deletedCount) > CompactShare*float64(x.g.nodeCount()) {
		x.compact()
	}
}

// compact replaces the graph by one holding only the live nodes, in their
// old order and with their old levels. The caller holds mu for writing.
//
// TODO: build the new graph outside the write lock and replay the changes
// made meanwhile; today searches wait for the whole rebuild, about as long
// as adding every live vector again with AddBatch.
func (x *Index) compact() {
	old := x.g
	g := newGraph(old.dim, old.maxLinks, len(old.live))
	nodes := make([]uint32, 0, len(old.live))
	var buf []float32
	for n := range old.nodeCount() {
		node := uint32(n)
		if !old.deleted[node] {
			buf = old.decode(node, buf)
			nodes = append(nodes, g.appendNode(old.ids[node], buf, 1, int(old.levels[node])))
		}
	}
	x.g = g
	x.linkNodes(nodes)
}

// randomLevel draws the top level of a new node: level l or above with
// probability M^-l, as the paper prescribes. The caller holds mu for
// writing.
func (x *Index) randomLevel() int {
	levelMult := 1 / math.Log(float64(x.g.maxLinks))
	level := int(-math.Log(1-x.rng.Float64()) * levelMult)
	return min(level, levelCap)
}

// getScratch returns working memory for one search or insert.
func (x *Index) getScratch() *scratch {
	if s, ok := x.scratch.Get().(*scratch); ok {
		return s
	}
	return new(scratch)
}
