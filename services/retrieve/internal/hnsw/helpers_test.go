package hnsw

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// randomVectors returns n vectors of dim components spread uniformly over
// directions: the hard case for a proximity graph, as no vector has much
// nearer neighbours than any other.
func randomVectors(rng *rand.Rand, n, dim int) [][]float32 {
	out := make([][]float32, n)
	for i := range out {
		out[i] = gaussian(rng, dim, 1)
	}
	return out
}

// clusteredVectors returns n vectors of dim components around clusters
// random centres, each component of a vector off its centre's by a normal
// deviation of spread/sqrt(dim): spread 1 puts a vector about as far from
// its centre as the centre is from the origin, so clusters overlap, as the
// topics of text embeddings do.
func clusteredVectors(rng *rand.Rand, n, dim, clusters int, spread float64) [][]float32 {
	centres := randomVectors(rng, clusters, dim)
	for _, c := range centres {
		scale(c, 1/norm(c))
	}
	out := make([][]float32, n)
	for i := range out {
		v := gaussian(rng, dim, spread/math.Sqrt(float64(dim)))
		centre := centres[rng.IntN(clusters)]
		for j := range v {
			v[j] += centre[j]
		}
		out[i] = v
	}
	return out
}

// gaussian returns dim normal deviates with standard deviation sigma.
func gaussian(rng *rand.Rand, dim int, sigma float64) []float32 {
	v := make([]float32, dim)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * sigma)
	}
	return v
}

func norm(v []float32) float64 {
	var sum float64
	for _, x := range v {
		sum += float64(x) * float64(x)
	}
	return math.Sqrt(sum)
}

func scale(v []float32, by float64) {
	for i := range v {
		v[i] = float32(float64(v[i]) * by)
	}
}

// idOf names the i-th test vector.
func idOf(i int) string { return fmt.Sprintf("v%d", i) }

// indexOf returns the i of an id made by idOf.
func indexOf(t testing.TB, id string) int {
	t.Helper()
	i, err := strconv.Atoi(strings.TrimPrefix(id, "v"))
	if err != nil {
		t.Fatalf("id %q is not made by idOf", id)
	}
	return i
}

// newIndex returns an index of dim or fails the test.
func newIndex(t testing.TB, dim int, opts Options) *Index {
	t.Helper()
	x, err := New(dim, opts)
	if err != nil {
		t.Fatalf("New(%d, %+v): %v", dim, opts, err)
	}
	return x
}

// buildIndex adds vectors[i] under idOf(i) to a new index.
func buildIndex(t testing.TB, vectors [][]float32, opts Options) *Index {
	t.Helper()
	x := newIndex(t, len(vectors[0]), opts)
	for i, v := range vectors {
		if err := x.Add(idOf(i), v); err != nil {
			t.Fatalf("Add(%s): %v", idOf(i), err)
		}
	}
	return x
}

// search runs a search that must succeed and returns the result ids.
func search(t testing.TB, x *Index, q []float32, k, ef int, accept func(string) bool) []string {
	t.Helper()
	results, err := x.Search(q, k, ef, accept)
	if err != nil {
		t.Fatalf("Search: %v", err)
	}
	if !slices.IsSortedFunc(results, func(a, b Result) int { return cmp.Compare(b.Score, a.Score) }) {
		t.Fatalf("Search results are not best first: %v", results)
	}
	ids := make([]string, len(results))
	for i, r := range results {
		ids[i] = r.ID
	}
	return ids
}

// mustSearch runs a search that must succeed and returns its results.
func mustSearch(t *testing.T, x *Index, q []float32, k int) []Result {
	t.Helper()
	results, err := x.Search(q, k, 0, nil)
	if err != nil {
		t.Fatalf("Search: %v", err)
	}
	return results
}

// exactTopK returns the ids of the k vectors most similar to q by cosine
// similarity among those whose index live accepts and accept accepts (any
// when accept is nil), computed in float64 by brute force.
func exactTopK(
	vectors [][]float32,
	live func(i int) bool,
	q []float32,
	k int,
	accept func(string) bool,
) []string {
	type scored struct {
		id    string
		score float64
	}
	qNorm := norm(q)
	var all []scored
	for i, v := range vectors {
		if !live(i) || (accept != nil && !accept(idOf(i))) {
			continue
		}
		var d float64
		for j := range v {
			d += float64(v[j]) * float64(q[j])
		}
		all = append(all, scored{idOf(i), d / (norm(v) * qNorm)})
	}
	slices.SortFunc(all, func(a, b scored) int { return cmp.Compare(b.score, a.score) })
	ids := make([]string, 0, k)
	for _, s := range all[:min(k, len(all))] {
		ids = append(ids, s.id)
	}
	return ids
}

// allLive is the live func of an index nothing was deleted from.
func allLive(int) bool { return true }

// overlap returns how many of want are in got.
func overlap(want, got []string) int {
	n := 0
	for _, id := range want {
		if slices.Contains(got, id) {
			n++
		}
	}
	return n
}
