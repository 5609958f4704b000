package index

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tenant of BenchmarkSearch100k: 100,000 chunks of 384 dimensions, the
// size of a large tenant embedded by a MiniLM class model, in documents of
// 64 chunks. Vectors lie around benchClusters random centres, each as far
// from its centre as the centre is from the origin, so that members of a
// cluster have a cosine similarity of about 0.5, as topics of text
// embeddings do. Texts are benchWords words drawn from a Zipf distribution
// over benchVocabulary words, so common words have postings of most of the
// tenant and rare ones of a few chunks. One chunk in ten is restricted to a
// group the searching principal is not in, so every search filters.
const (
	benchChunks     = 100_000
	benchDim        = 384
	benchClusters   = 100
	benchPerDoc     = 64
	benchVocabulary = 5_000
	benchWords      = 30
	benchQueryWords = 3
	// benchQueries queries measure recall against an exact search; the
	// latency loop cycles through them.
	benchQueries = 200
	benchTopK    = 10
)

// benchPrincipals is who searches in the benchmarks.
var benchPrincipals = []string{"user:ana", "group:support"}

// benchData generates the vectors and texts of the benchmarks.
type benchData struct {
	rng     *rand.Rand
	zipf    *rand.Zipf
	centres [][]float32
}

func newBenchData(seed uint64) *benchData {
	rng := rand.New(rand.NewPCG(seed, benchDim))
	d := &benchData{rng: rng, zipf: rand.NewZipf(rng, 1.1, 2, benchVocabulary-1)}
	d.centres = make([][]float32, benchClusters)
	for i := range d.centres {
		d.centres[i] = normal(rng, benchDim, 1)
		scaleTo(d.centres[i], 1)
	}
	return d
}

func (d *benchData) vector() []float32 {
	v := normal(d.rng, benchDim, 1/math.Sqrt(benchDim))
	centre := d.centres[d.rng.IntN(len(d.centres))]
	for i := range v {
		v[i] += centre[i]
	}
	return v
}

func (d *benchData) text(words int) string {
	parts := make([]string, words)
	for i := range parts {
		parts[i] = fmt.Sprintf("w%d", d.zipf.Uint64())
	}
	return strings.Join(parts, " ")
}

// document returns document number n of the benchmark tenant.
func (d *benchData) document(n int) []Chunk {
	chunks := make([]Chunk, benchPerDoc)
	for i := range chunks {
		chunks[i] = Chunk{
			ID:      fmt.Sprintf("c%d", i),
			DocID:   fmt.Sprintf("doc-%d", n),
			Ordinal: i,
			Text:    d.text(benchWords),
			Kind:    "article",
			Source:  "kb",
			Vector:  d.vector(),
			Model:   "minilm",
		}
		if (n*benchPerDoc+i)%10 == 0 {
			chunks[i].ACL = []string{"group:finance"}
		}
	}
	return chunks
}

// searchBench is the tenant of BenchmarkSearch100k with its queries and the
// exact answers of their dense leg.
type searchBench struct {
	store   *Store
	chunks  []Chunk
	queries []Query
	exact   [][]string
	// ingest is how long the Replace calls that filled the tenant took.
	ingest time.Duration
}

// search100k fills the tenant of BenchmarkSearch100k once per process,
// which takes a few minutes, and only when a benchmark asks for it.
var search100k = sync.OnceValue(func() *searchBench {
	d := newBenchData(100)
	s, err := Open(Options{})
	if err != nil {
		panic(err)
	}
	var chunks []Chunk
	var ingest time.Duration
	for n := range benchChunks / benchPerDoc {
		doc := d.document(n)
		start := time.Now()
		if err := s.Replace(bg, "acme", doc[0].DocID, doc); err != nil {
			panic(err)
		}
		ingest += time.Since(start)
		chunks = append(chunks, doc...)
	}

	queries := make([]Query, benchQueries)
	exact := make([][]string, benchQueries)
	visible := func(c Chunk) bool { return len(c.ACL) == 0 }
	for i := range queries {
		queries[i] = Query{
			Text:       d.text(benchQueryWords),
			Vector:     d.vector(),
			Model:      "minilm",
			TopK:       benchTopK,
			Principals: benchPrincipals,
		}
		exact[i] = exactIDs(chunks, queries[i].Vector, benchTopK, visible)
	}
	return &searchBench{store: s, chunks: chunks, queries: queries, exact: exact, ingest: ingest}
})

// BenchmarkSearch100k measures hybrid searches (text and vector, top 10,
// filtered by access list) over one tenant of 100,000 chunks of 384
// dimensions (see benchChunks). Besides ns/op it reports the 50th and 99th
// percentile latency of single searches, the recall@10 of the dense leg
// alone against an exact search, and the ingest rate and time of the
// Replace calls, 64 chunks each, that filled the tenant from empty.
func BenchmarkSearch100k(b *testing.B) {
	if testing.Short() {
		b.Skip("fills a 100,000-chunk tenant")
	}
	set := search100k()

	found := 0
	for i, q := range set.queries {
		dense := q
		dense.Text = ""
		results, err := set.store.searchResults("acme", dense)
		if err != nil {
			b.Fatalf("Search: %v", err)
		}
		for _, id := range resultIDs(results) {
			if slices.Contains(set.exact[i], id) {
				found++
			}
		}
	}
	recall := float64(found) / float64(len(set.queries)*benchTopK)

	b.ReportAllocs()
	latencies := make([]time.Duration, 0, 1024)
	i := 0
	for b.Loop() {
		start := time.Now()
		if _, err := set.store.searchResults("acme", set.queries[i%len(set.queries)]); err != nil {
			b.Fatalf("Search: %v", err)
		}
		latencies = append(latencies, time.Since(start))
		i++
	}

	slices.Sort(latencies)
	b.ReportMetric(float64(percentile(latencies, 0.50).Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(percentile(latencies, 0.99).Nanoseconds()), "p99-ns")
	b.ReportMetric(recall, "recall@10")
	b.ReportMetric(benchChunks/set.ingest.Seconds(), "ingest-chunks/s")
	b.ReportMetric(set.ingest.Seconds(), "ingest-s")
}

// BenchmarkOpen100k measures Open of the tenant of BenchmarkSearch100k
// from its snapshot and graph file ("graph-file"), and from its snapshot
// alone, which rebuilds the graph ("rebuild"). It reports how long writing
// the two files took and their sizes.
func BenchmarkOpen100k(b *testing.B) {
	if testing.Short() {
		b.Skip("fills a 100,000-chunk tenant")
	}
	set := search100k()
	dir := b.TempDir()
	ti, err := set.store.tenant("acme", false)
	if err != nil {
		b.Fatal(err)
	}

	ti.mu.RLock()
	start := time.Now()
	err = writeSnapshot(dir, snapshot{Version: snapshotVersion, Tenant: "acme", Chunks: ti.chunks()})
	snapshotTime := time.Since(start)
	if err == nil {
		start = time.Now()
		err = writeGraphFile(dir, "acme", ti.graphHeaders())
	}
	graphTime := time.Since(start)
	ti.mu.RUnlock()
	if err != nil {
		b.Fatal(err)
	}
	snapshotSize, graphSize := fileSize(b, dir, "acme"+snapshotExt), fileSize(b, dir, "acme"+graphExt)

	open := func(b *testing.B, dir string, keepGraphFile bool) {
		for b.Loop() {
			s, err := Open(Options{Dir: dir, SnapshotDelay: time.Hour})
			if err != nil {
				b.Fatal(err)
			}
			if docs, _, _ := s.Stats(bg, "acme"); docs != benchChunks/benchPerDoc {
				b.Fatalf("reopened tenant has %d documents", docs)
			}

			// A rebuilt graph is written on Close; the next run must
			// rebuild it again.
			b.StopTimer()
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
			if !keepGraphFile {
				if err := os.Remove(filepath.Join(dir, "acme"+graphExt)); err != nil {
					b.Fatal(err)
				}
			}
			b.StartTimer()
		}
		b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "open-s")
		b.ReportMetric(snapshotTime.Seconds(), "write-snapshot-s")
		b.ReportMetric(graphTime.Seconds(), "write-graph-s")
		b.ReportMetric(float64(snapshotSize)/(1<<20), "snapshot-MiB")
		b.ReportMetric(float64(graphSize)/(1<<20), "graph-MiB")
	}
	b.Run("graph-file", func(b *testing.B) { open(b, dir, true) })
	b.Run("rebuild", func(b *testing.B) {
		bare := b.TempDir()
		name := "acme" + snapshotExt
		if err := os.Link(filepath.Join(dir, name), filepath.Join(bare, name)); err != nil {
			b.Fatal(err)
		}
		open(b, bare, false)
	})
}

// ingestBase is the 10,000-chunk tenant BenchmarkIngest adds to, filled once
// per process, with the generator of further documents.
var ingestBase = sync.OnceValues(func() (*Store, *benchData) {
	const base = 10_000 / benchPerDoc
	d := newBenchData(7)
	s, err := Open(Options{})
	if err != nil {
		panic(err)
	}
	for n := range base {
		doc := d.document(n)
		if err := s.Replace(bg, "acme", doc[0].DocID, doc); err != nil {
			panic(err)
		}
	}
	return s, d
})

// BenchmarkIngest measures Store.Replace of new documents of 64 chunks of
// 384 dimensions into a tenant that starts at 10,000 chunks, so past
// graphThreshold, and grows by what earlier runs added. A chunk is
// searchable when Replace returns. It reports chunks per second; making
// the documents is not timed.
func BenchmarkIngest(b *testing.B) {
	s, d := ingestBase()
	_, chunks, err := s.Stats(bg, "acme")
	if err != nil {
		b.Fatal(err)
	}
	next := chunks / benchPerDoc

	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		doc := d.document(next)
		next++
		b.StartTimer()
		if err := s.Replace(bg, "acme", doc[0].DocID, doc); err != nil {
			b.Fatalf("Replace: %v", err)
		}
	}
	b.ReportMetric(float64(b.N*benchPerDoc)/b.Elapsed().Seconds(), "chunks/s")
}

// percentile returns the p-th quantile of sorted latencies.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

func fileSize(b *testing.B, dir, name string) int64 {
	b.Helper()
	info, err := os.Stat(filepath.Join(dir, name))
	if err != nil {
		b.Fatal(err)
	}
	return info.Size()
}
