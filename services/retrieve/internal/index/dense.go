package index

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/keelhq/keel/services/retrieve/internal/hnsw"
)

// The dense leg. A tenant keeps its chunk vectors in groups by embedding
// model and dimension, since a query vector is comparable only with the
// vectors of one such group. A small group is searched by an exact scan;
// from graphThreshold vectors on, a group also keeps an HNSW graph of them,
// named by entry key and brought in step with every change before the
// change is visible, and its searches walk the graph with the query's
// filter applied inside the walk.
const (
	// graphThreshold is the number of vectors of one model and dimension
	// from which a tenant searches them through an HNSW graph. Below it an
	// exact scan costs well under a millisecond and is exact.
	graphThreshold = 2048
	// graphDropSize is the size below which a group gives its graph up
	// again. The gap to graphThreshold keeps a tenant that hovers around
	// the threshold from building and dropping its graph over and over.
	graphDropSize = graphThreshold / 2
	// graphEfConstruction is the candidates considered when a vector is
	// linked into a graph, a third of hnsw's default. On the clustered
	// 384-dimensional set of BenchmarkSearch100k, 64 links about 1.5 times
	// as many vectors per second as 100 at recall@10 0.9955 (100: 0.9965;
	// 40: 0.9935); linking is most of what ingest costs (BENCHMARKS.md).
	graphEfConstruction = 64
	// graphSeed seeds the levels of graph nodes, so that the same changes
	// build the same graph.
	graphSeed = 1
)

// denseKey names a group of comparable vectors.
type denseKey struct {
	model string
	dim   int
}

// denseGroup holds a tenant's vectors of one model and dimension. The
// tenant's mu guards it.
type denseGroup struct {
	key     denseKey
	members map[string]*entry
	// fingerprint is the sum of the members' fingerprints, so it depends
	// on every member's key and vector but not on their order. A graph file
	// stores it to prove that its graph holds the same vectors.
	fingerprint uint64
	// unlinkable counts the members whose key is too long for a graph id;
	// a group with any of them is only scanned.
	unlinkable int

	// graph is the group's HNSW graph, nil below graphThreshold. Between
	// changes it holds exactly the members, each with its vector.
	//
	// The graph holds its own copy of every vector in half precision
	// (0.75 KB for 384 dimensions) beside the chunk's float32 one (1.5 KB),
	// which the snapshot, the exact scan and the rescoring of the graph's
	// candidates read.
	graph *hnsw.Index
	// While a change is under way, pending holds the members the graph
	// lacks or holds with another vector, and unlinked the vectors of graph
	// nodes whose members left, by key; syncGraph applies both.
	pending  map[string]*entry
	unlinked map[string][]float32
	// graphErr is why linking into the graph failed, which the checks in
	// joinDense should rule out. The group is then only scanned for the
	// rest of the process rather than rebuilt on every change.
	graphErr error
	// building is set while a graph of the group is built outside the lock
	// (see startBuilds); pending and unlinked then gather the changes the
	// graph will lack, as they do for a graph in use.
	building bool
}

// beforeGraphAttach is called when a background build has its graph and
// is about to attach it; tests set it to make changes in between.
var beforeGraphAttach = func() {}

// buildJob is a graph being built in the background for group, from the
// members it had when the job started.
type buildJob struct {
	group   *denseGroup
	ids     []string
	vectors [][]float32
}

// startBuilds marks every group that wants a graph and has none as
// building and returns the jobs that build them. The caller holds mu for
// writing and runs each job with finishBuild, without holding mu.
func (ti *tenantIndex) startBuilds() []buildJob {
	var jobs []buildJob
	for _, g := range ti.dense {
		if g.graph != nil || g.building || !g.wantsGraph() {
			continue
		}
		g.building = true
		clear(g.pending)
		clear(g.unlinked)
		ids, vectors := sortedVectors(g.members)
		jobs = append(jobs, buildJob{group: g, ids: ids, vectors: vectors})
	}
	return jobs
}

// finishBuild builds job's graph without holding mu, then takes mu to
// bring the graph up to date with the changes made meanwhile and make it
// the group's, unless the group gave up on it in between (it shrank or
// emptied).
func (ti *tenantIndex) finishBuild(job buildJob) error {
	g := job.group
	opts := hnsw.Options{EfConstruction: graphEfConstruction, Seed: graphSeed}
	graph, err := hnsw.New(g.key.dim, opts)
	if err == nil {
		err = graph.AddBatch(job.ids, job.vectors)
	}
	beforeGraphAttach()

	ti.mu.Lock()
	defer ti.mu.Unlock()
	if !g.building || ti.dense[g.key] != g {
		return nil
	}
	g.building = false
	if err != nil {
		g.failGraph(err)
		return fmt.Errorf("graph of model %q, dimension %d: build from %d vectors: %w", g.key.model, g.key.dim, len(job.ids), err)
	}
	g.graph = graph
	if err := g.syncGraph(); err != nil {
		return fmt.Errorf("graph of model %q, dimension %d: %w", g.key.model, g.key.dim, err)
	}
	return nil
}

func newDenseGroup(key denseKey) *denseGroup {
	return &denseGroup{
		key:      key,
		members:  make(map[string]*entry),
		pending:  make(map[string]*entry),
		unlinked: make(map[string][]float32),
	}
}

// maxVectorNorm bounds the norm of a vector in the dense leg, so that a
// dot product of two of them in float32 stays finite (the largest float32
// is about 3.4e38). Embeddings have norms near 1.
const maxVectorNorm = 1e15

// denseVector reports whether a vector of this norm and length can take
// part in the dense leg: finite, not all zero, not so long that a dot
// product overflows, and not of more dimensions than a graph accepts.
func denseVector(norm float64, dim int) bool {
	return norm > 0 && norm <= maxVectorNorm && dim <= hnsw.MaxDim
}

// joinDense adds e to the group of its model and dimension, if its vector
// can take part in the dense leg. The caller holds mu for writing.
func (ti *tenantIndex) joinDense(e *entry) {
	if !denseVector(e.norm, len(e.chunk.Vector)) {
		return
	}
	key := denseKey{model: e.chunk.Model, dim: len(e.chunk.Vector)}
	g := ti.dense[key]
	if g == nil {
		g = newDenseGroup(key)
		ti.dense[key] = g
	}

	e.group = g
	e.fingerprint = memberFingerprint(e.key, e.chunk.Vector)
	g.members[e.key] = e
	g.fingerprint += e.fingerprint
	if len(e.key) > hnsw.MaxIDLen {
		g.unlinkable++
	}
	if g.graph == nil && !g.building {
		return
	}

	// Replacing a chunk by itself, as re-ingesting a document does, keeps
	// its node.
	if old, ok := g.unlinked[e.key]; ok && slices.Equal(old, e.chunk.Vector) {
		delete(g.unlinked, e.key)
		return
	}
	g.pending[e.key] = e
}

// leaveDense removes e from its group, if it is in one. The caller holds
// mu for writing.
func (ti *tenantIndex) leaveDense(e *entry) {
	g := e.group
	if g == nil {
		return
	}
	delete(g.members, e.key)
	g.fingerprint -= e.fingerprint
	if len(e.key) > hnsw.MaxIDLen {
		g.unlinkable--
	}
	if g.graph == nil && !g.building {
		return
	}

	if _, ok := g.pending[e.key]; ok {
		delete(g.pending, e.key)
		return
	}
	g.unlinked[e.key] = e.chunk.Vector
}

// syncGraphs brings every group's graph in step with its members, building
// the graphs of groups that reached graphThreshold and dropping those of
// groups that fell below graphDropSize, and forgets empty groups. A group
// whose graph fails is scanned from then on; the errors are returned
// joined. The caller holds mu for writing.
func (ti *tenantIndex) syncGraphs() error {
	var errs []error
	for key, g := range ti.dense {
		if len(g.members) == 0 {
			delete(ti.dense, key)
			continue
		}
		if err := g.syncGraph(); err != nil {
			errs = append(errs, fmt.Errorf("graph of model %q, dimension %d: %w", key.model, key.dim, err))
		}
	}
	return errors.Join(errs...)
}

// syncGraph applies the pending changes to g's graph, or builds or drops
// the graph as g's size asks.
func (g *denseGroup) syncGraph() error {
	if g.building {
		// The builder applies the changes; a group that no longer wants a
		// graph gives the build up.
		if len(g.members) < graphDropSize || g.unlinkable > 0 {
			g.building = false
			g.dropGraph()
		}
		return nil
	}
	switch {
	case g.graph != nil && (len(g.members) < graphDropSize || g.unlinkable > 0):
		g.dropGraph()
		return nil
	case g.graph == nil && g.wantsGraph():
		return g.buildGraph()
	case g.graph == nil:
		return nil
	}

	for key := range g.unlinked {
		g.graph.Delete(key)
	}
	clear(g.unlinked)
	if len(g.pending) == 0 {
		return nil
	}
	ids, vectors := sortedVectors(g.pending)
	clear(g.pending)
	if err := g.graph.AddBatch(ids, vectors); err != nil {
		g.failGraph(err)
		return fmt.Errorf("link %d vectors: %w", len(ids), err)
	}
	return nil
}

// wantsGraph reports whether g is large enough for a graph and could have
// one.
func (g *denseGroup) wantsGraph() bool {
	return len(g.members) >= graphThreshold && g.unlinkable == 0 && g.graphErr == nil
}

// buildGraph gives g a new graph of all its members.
func (g *denseGroup) buildGraph() error {
	opts := hnsw.Options{EfConstruction: graphEfConstruction, Seed: graphSeed}
	graph, err := hnsw.New(g.key.dim, opts)
	if err != nil {
		g.failGraph(err)
		return fmt.Errorf("create: %w", err)
	}
	ids, vectors := sortedVectors(g.members)
	if err := graph.AddBatch(ids, vectors); err != nil {
		g.failGraph(err)
		return fmt.Errorf("build from %d vectors: %w", len(ids), err)
	}
	g.useGraph(graph)
	return nil
}

// useGraph makes graph, which holds exactly g's members, g's graph.
func (g *denseGroup) useGraph(graph *hnsw.Index) {
	g.graph = graph
	clear(g.pending)
	clear(g.unlinked)
}

func (g *denseGroup) dropGraph() {
	g.graph = nil
	clear(g.pending)
	clear(g.unlinked)
}

func (g *denseGroup) failGraph(err error) {
	g.dropGraph()
	g.graphErr = err
}

// sortedVectors returns the keys of entries in order with their vectors,
// so that the same entries build the same graph.
func sortedVectors(entries map[string]*entry) ([]string, [][]float32) {
	ids := slices.Sorted(maps.Keys(entries))
	vectors := make([][]float32, len(ids))
	for i, id := range ids {
		vectors[i] = entries[id].chunk.Vector
	}
	return ids, vectors
}

// memberFingerprint hashes an entry key and its vector.
func memberFingerprint(key string, vector []float32) uint64 {
	buf := make([]byte, 0, binary.MaxVarintLen64+len(key)+4*len(vector))
	buf = binary.AppendUvarint(buf, uint64(len(key)))
	buf = append(buf, key...)
	for _, x := range vector {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(x))
	}
	sum := sha256.Sum256(buf)
	return binary.LittleEndian.Uint64(sum[:8])
}

// denseLeg returns the depth entries most similar to vector among those
// allowed and embedded by model (any model when empty), best first, with
// their cosine similarity; only positive similarities count. The caller
// holds mu.
func (ti *tenantIndex) denseLeg(
	vector []float32,
	model string,
	allowed func(*entry) bool,
	depth int,
) []scored {
	norm := vectorNorm(vector)
	if !denseVector(norm, len(vector)) {
		return nil
	}
	var hits []scored
	for key, g := range ti.dense {
		if key.dim != len(vector) || (model != "" && key.model != model) {
			continue
		}
		hits = append(hits, g.search(vector, norm, depth, allowed)...)
	}
	return bestScored(hits, depth, ti.byKey)
}

// search returns up to depth allowed members of g similar to vector, by a
// walk of the graph when g has one and an exact scan otherwise.
func (g *denseGroup) search(
	vector []float32,
	norm float64,
	depth int,
	allowed func(*entry) bool,
) []scored {
	if g.graph == nil {
		return g.scan(vector, norm, allowed)
	}

	accept := func(key string) bool {
		e := g.members[key]
		return e != nil && allowed(e)
	}
	found, err := g.graph.Search(vector, depth, 0, accept)
	if err != nil {
		// Unreachable: vector was checked and has the graph's dimension.
		// The scan gives the same answer more slowly.
		return g.scan(vector, norm, allowed)
	}
	// The graph compares in half precision; the hits are scored again
	// from the chunks' own vectors, so that the leg ranks its candidates
	// exactly, as a quantised index rescores.
	hits := make([]scored, 0, len(found))
	for _, r := range found {
		e := g.members[r.ID]
		if e == nil {
			continue
		}
		if cos := dot(e.chunk.Vector, vector) / (norm * e.norm); cos > 0 {
			hits = append(hits, scored{idx: e.idx, score: cos})
		}
	}
	return hits
}

// scan returns every allowed member of g with a positive cosine similarity
// to vector.
func (g *denseGroup) scan(vector []float32, norm float64, allowed func(*entry) bool) []scored {
	var hits []scored
	for _, e := range g.members {
		if !allowed(e) {
			continue
		}
		if cos := dot(e.chunk.Vector, vector) / (norm * e.norm); cos > 0 {
			hits = append(hits, scored{idx: e.idx, score: cos})
		}
	}
	return hits
}

// cosine returns the cosine similarity of e's vector with vector when the
// dense leg compares them (same dimension, and same model unless model is
// empty) and it is positive, and 0 otherwise.
func cosine(e *entry, vector []float32, norm float64, model string) float64 {
	g := e.group
	if g == nil || g.key.dim != len(vector) || (model != "" && g.key.model != model) {
		return 0
	}
	if !denseVector(norm, len(vector)) {
		return 0
	}
	return max(dot(e.chunk.Vector, vector)/(norm*e.norm), 0)
}
