package hnsw

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// The data of BenchmarkSearch100k: a mildly clustered synthetic set of
// 384-dimensional vectors, the size of a large tenant embedded by a MiniLM
// class model. Each vector lies around one of benchClusters random centres,
// its offset as long as the centre (spread 1), so members of a cluster have
// a cosine similarity of about 0.5 with each other and 0.7 with their
// centre, and vectors of different clusters about 0. Queries are drawn the
// same way but are not in the index. Uniformly random vectors, with no
// structure at all, are a much harder case for any proximity graph; the
// recall tests cover them at a smaller size.
const (
	benchVectors  = 100_000
	benchDim      = 384
	benchClusters = 100
	benchSpread   = 1.0
	// benchQueries queries measure recall against an exact search; the
	// latency loop cycles through them.
	benchQueries = 300
	benchK       = 10
)

// searchBench is the index of BenchmarkSearch100k with its queries and
// their exact answers.
type searchBench struct {
	index   *Index
	queries [][]float32
	exact   [][]string
	// build is how long AddBatch took; heapPerVector the heap it grew by,
	// per vector.
	build         time.Duration
	heapPerVector float64
}

// search100k builds the index of BenchmarkSearch100k once per process,
// which takes a minute or two, and only when a benchmark asks for it.
var search100k = sync.OnceValue(func() *searchBench {
	rng := rand.New(rand.NewPCG(100, 384))
	all := clusteredVectors(rng, benchVectors+benchQueries, benchDim, benchClusters, benchSpread)
	vectors, queries := all[:benchVectors], all[benchVectors:]
	exact := make([][]string, len(queries))
	for i, q := range queries {
		exact[i] = exactTopK(vectors, allLive, q, benchK, nil)
	}

	// The heap the index grows by includes its copies of the ids but not
	// the slice that passes them.
	before := heapInUse()
	ids := make([]string, len(vectors))
	for i := range ids {
		ids[i] = idOf(i)
	}
	x, err := New(benchDim, Options{Seed: 1})
	if err != nil {
		panic(err)
	}
	start := time.Now()
	if err := x.AddBatch(ids, vectors); err != nil {
		panic(err)
	}
	build := time.Since(start)
	heap := heapInUse() - before

	return &searchBench{
		index:         x,
		queries:       queries,
		exact:         exact,
		build:         build,
		heapPerVector: float64(heap) / benchVectors,
	}
})

// heapInUse returns the bytes of live heap objects after a collection.
func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// BenchmarkSearch100k measures k=10 searches with default options over
// 100,000 vectors of 384 dimensions (see benchVectors). Besides ns/op it
// reports the 50th and 99th percentile latency of single searches, the
// recall@10 against exact search, how long the index took to build with
// AddBatch and the heap it takes per vector.
func BenchmarkSearch100k(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a 100,000-vector index")
	}
	set := search100k()

	found := 0
	for i, q := range set.queries {
		results, err := set.index.Search(q, benchK, 0, nil)
		if err != nil {
			b.Fatalf("Search: %v", err)
		}
		for _, r := range results {
			if slices.Contains(set.exact[i], r.ID) {
				found++
			}
		}
	}
	recall := float64(found) / float64(len(set.queries)*benchK)

	b.ReportAllocs()
	latencies := make([]time.Duration, 0, b.N)
	i := 0
	for b.Loop() {
		start := time.Now()
		if _, err := set.index.Search(set.queries[i%len(set.queries)], benchK, 0, nil); err != nil {
			b.Fatalf("Search: %v", err)
		}
		latencies = append(latencies, time.Since(start))
		i++
	}

	slices.Sort(latencies)
	b.ReportMetric(float64(percentile(latencies, 0.50).Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(percentile(latencies, 0.99).Nanoseconds()), "p99-ns")
	b.ReportMetric(recall, "recall@10")
	b.ReportMetric(set.build.Seconds(), "build-s")
	b.ReportMetric(set.heapPerVector, "heap-B/vector")
}

// percentile returns the p-th quantile of sorted latencies.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

// addBase is the 10,000-vector index BenchmarkAdd adds to, built once per
// process, with the vectors it adds.
var addBase = sync.OnceValues(func() (*Index, [][]float32) {
	const base, extra = 10_000, 50_000
	rng := rand.New(rand.NewPCG(7, 384))
	vectors := clusteredVectors(rng, base+extra, benchDim, benchClusters, benchSpread)
	ids := make([]string, base)
	for i := range ids {
		ids[i] = idOf(i)
	}
	x, err := New(benchDim, Options{Seed: 1})
	if err != nil {
		panic(err)
	}
	if err := x.AddBatch(ids, vectors[:base]); err != nil {
		panic(err)
	}
	return x, vectors[base:]
})

// BenchmarkAdd measures Add of one 384-dimensional vector at a time, with
// default options, into an index that starts at 10,000 vectors and grows
// by what earlier runs added. It reports inserts per second.
func BenchmarkAdd(b *testing.B) {
	x, extra := addBase()
	next := x.Len()

	b.ReportAllocs()
	for b.Loop() {
		v := extra[(next)%len(extra)]
		if err := x.Add(idOf(next), v); err != nil {
			b.Fatalf("Add: %v", err)
		}
		next++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "inserts/s")
}

// BenchmarkDot measures the similarity of two 384-dimensional vectors, the
// inner loop of every search and insert.
func BenchmarkDot(b *testing.B) {
	v := randomVectors(rand.New(rand.NewPCG(1, 2)), 2, benchDim)
	var sum float32
	for b.Loop() {
		sum += dot(v[0], v[1])
	}
	if sum == 0 {
		b.Log(sum)
	}
}
