package index

import (
	"cmp"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel/services/retrieve/internal/hnsw"
)

// BenchmarkRecallOnSnapshot measures the dense leg's graph on real
// embeddings rather than synthetic ones: it reads the tenant snapshot named
// by KEEL_BENCH_SNAPSHOT (for example one left by BenchmarkIngestToSearchable
// in cmd/keel with KEEL_BENCH_DATA_DIR set), holds out every 200th vector
// as a query, builds a graph of the rest with the index's settings and
// reports recall@10 of the graph search against an exact scan, with the
// build rate and search latency. Without the variable there is nothing to
// measure and it is skipped.
func BenchmarkRecallOnSnapshot(b *testing.B) {
	path := os.Getenv("KEEL_BENCH_SNAPSHOT")
	if path == "" {
		b.Skip("set KEEL_BENCH_SNAPSHOT to a <tenant>.snap file")
	}
	tenantID := strings.TrimSuffix(filepath.Base(path), snapshotExt)
	chunks, err := readSnapshot(path, tenantID)
	if err != nil {
		b.Fatal(err)
	}
	var ids []string
	var vectors, queries [][]float32
	for i, c := range chunks {
		if len(c.Vector) == 0 || !denseVector(vectorNorm(c.Vector), len(c.Vector)) {
			continue
		}
		if i%200 == 0 {
			queries = append(queries, c.Vector)
			continue
		}
		ids = append(ids, entryKey(c.DocID, c.ID))
		vectors = append(vectors, c.Vector)
	}
	if len(vectors) == 0 || len(queries) == 0 {
		b.Fatalf("%s holds no usable vectors", path)
	}

	graph, err := hnsw.New(len(vectors[0]), hnsw.Options{EfConstruction: graphEfConstruction, Seed: graphSeed})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := graph.AddBatch(ids, vectors); err != nil {
		b.Fatal(err)
	}
	built := time.Since(start)

	norms := make([]float64, len(vectors))
	for i, v := range vectors {
		norms[i] = vectorNorm(v)
	}
	// The dense leg asks the graph for the best depth (100 for a top 10),
	// scores them again from the chunks' float32 vectors and fuses those;
	// recall@10 is given for the graph's own 10-deep answer and for the 10
	// best of a rescored 100-deep one, as the leg searches.
	byID := make(map[string]int, len(ids))
	for i, id := range ids {
		byID[id] = i
	}
	const k, depth = 10, 100
	var hits, deepHits, total int
	for _, q := range queries {
		qn := vectorNorm(q)
		type scoredID struct {
			id    string
			score float64
		}
		exact := make([]scoredID, len(vectors))
		for i, v := range vectors {
			exact[i] = scoredID{ids[i], dot(q, v) / (qn * norms[i])}
		}
		slices.SortFunc(exact, func(a, b scoredID) int { return cmp.Compare(b.score, a.score) })
		want := make(map[string]bool, k)
		for _, e := range exact[:k] {
			want[e.id] = true
		}
		found, err := graph.Search(q, k, 0, nil)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range found {
			if want[r.ID] {
				hits++
			}
		}
		deep, err := graph.Search(q, depth, 0, nil)
		if err != nil {
			b.Fatal(err)
		}
		rescored := make([]scoredID, len(deep))
		for i, r := range deep {
			v := byID[r.ID]
			rescored[i] = scoredID{r.ID, dot(q, vectors[v]) / (qn * norms[v])}
		}
		slices.SortFunc(rescored, func(a, b scoredID) int { return cmp.Compare(b.score, a.score) })
		for _, r := range rescored[:min(k, len(rescored))] {
			if want[r.id] {
				deepHits++
			}
		}
		total += k
	}

	latencies := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		if _, err := graph.Search(queries[i%len(queries)], k, 0, nil); err != nil {
			b.Fatal(err)
		}
		latencies = append(latencies, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(latencies)
	b.ReportMetric(float64(hits)/float64(total), "recall@10")
	b.ReportMetric(float64(deepHits)/float64(total), "recall@10-of-100")
	b.ReportMetric(float64(len(vectors))/built.Seconds(), "build-vectors/s")
	b.ReportMetric(float64(len(vectors)), "vectors")
	b.ReportMetric(float64(percentile(latencies, 0.99).Nanoseconds()), "p99-ns")
}
