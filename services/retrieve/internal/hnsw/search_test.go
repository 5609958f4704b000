package hnsw

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRecallWithDefaults(t *testing.T) {
	t.Parallel()
	const (
		dim     = 64
		queries = 200
		k       = 10
	)
	// Recall does not depend on concurrency; the race detector makes the
	// full size take minutes, so it checks a smaller index.
	n := 5000
	if raceDetector {
		n = 1000
	}
	tests := []struct {
		name    string
		vectors func(rng *rand.Rand, n int) [][]float32
	}{
		{
			name:    "random",
			vectors: func(rng *rand.Rand, n int) [][]float32 { return randomVectors(rng, n, dim) },
		},
		{
			name: "clustered",
			vectors: func(rng *rand.Rand, n int) [][]float32 {
				return clusteredVectors(rng, n, dim, 50, 1)
			},
		},
		{
			name: "tight clusters",
			vectors: func(rng *rand.Rand, n int) [][]float32 {
				return clusteredVectors(rng, n, dim, 20, 0.2)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(1, 2))
			all := tt.vectors(rng, n+queries)
			vectors, qs := all[:n], all[n:]
			x := buildIndex(t, vectors, Options{Seed: 1})

			found := 0
			for _, q := range qs {
				want := exactTopK(vectors, allLive, q, k, nil)
				found += overlap(want, search(t, x, q, k, 0, nil))
			}
			recall := float64(found) / float64(queries*k)
			t.Logf("recall@%d = %.4f", k, recall)
			if recall < 0.95 {
				t.Errorf("recall@%d = %.4f, want at least 0.95", k, recall)
			}
		})
	}
}

func TestSearchFilter(t *testing.T) {
	t.Parallel()
	const (
		n       = 4000
		dim     = 32
		k       = 10
		queries = 30
	)
	rng := rand.New(rand.NewPCG(3, 4))
	vectors := randomVectors(rng, n, dim)
	qs := randomVectors(rng, queries, dim)
	x := buildIndex(t, vectors, Options{EfConstruction: 40, Seed: 2})

	tests := []struct {
		name string
		// accepted is how many vectors the filter accepts, chosen at
		// random.
		accepted int
		// minRecall is the least recall@k the search must reach against
		// the exact answer.
		minRecall float64
	}{
		{name: "half", accepted: n / 2, minRecall: 0.9},
		{name: "a tenth", accepted: n / 10, minRecall: 0.9},
		{name: "5 percent", accepted: 5 * n / 100, minRecall: 0.9},
		{name: "1 percent", accepted: n / 100, minRecall: 1},
		{name: "exactly k", accepted: k, minRecall: 1},
		{name: "fewer than k", accepted: 3, minRecall: 1},
		{name: "none", accepted: 0, minRecall: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			allowed := make(map[string]bool, tt.accepted)
			for _, i := range rand.New(rand.NewPCG(5, 6)).Perm(n)[:tt.accepted] {
				allowed[idOf(i)] = true
			}
			accept := func(id string) bool { return allowed[id] }

			found, wanted := 0, 0
			for _, q := range qs {
				want := exactTopK(vectors, allLive, q, k, accept)
				got := search(t, x, q, k, 0, accept)
				for _, id := range got {
					if !allowed[id] {
						t.Fatalf("Search returned %s, which the filter rejects", id)
					}
				}
				if len(got) != min(k, tt.accepted) {
					t.Fatalf("Search returned %d results, want %d", len(got), min(k, tt.accepted))
				}
				found += overlap(want, got)
				wanted += len(want)
			}
			if wanted == 0 {
				return
			}
			if recall := float64(found) / float64(wanted); recall < tt.minRecall {
				t.Errorf("filtered recall@%d = %.4f, want at least %.2f", k, recall, tt.minRecall)
			}
		})
	}
}

func TestSearchFilterFarFromQuery(t *testing.T) {
	t.Parallel()
	// Two far-apart groups; the filter accepts only the group away from
	// the query, which the walk reaches only after the rejected group. The
	// members of a group differ by more than half precision blurs.
	const n, dim, k = 600, 16, 20
	rng := rand.New(rand.NewPCG(7, 8))
	vectors := make([][]float32, n)
	for i := range vectors {
		vectors[i] = gaussian(rng, dim, 0.1)
		vectors[i][i%2] += 1
	}
	x := buildIndex(t, vectors, Options{M: 4, EfConstruction: 16, Seed: 3})
	accept := func(id string) bool { return indexOf(t, id)%2 == 1 }
	q := make([]float32, dim)
	q[0] = 1

	got := search(t, x, q, k, 0, accept)
	if len(got) != k {
		t.Errorf("Search returned %d results, want %d", len(got), k)
	}
	if overlap(exactTopK(vectors, allLive, q, k, accept), got) < k*9/10 {
		t.Errorf("Search found %v, far from the exact answer", got)
	}
}

func TestSearchAppliesFilterDuringTheWalk(t *testing.T) {
	t.Parallel()
	const n, dim, k = 5000, 16, 10
	rng := rand.New(rand.NewPCG(24, 25))
	x := buildIndex(t, randomVectors(rng, n, dim), Options{EfConstruction: 40, Seed: 9})

	calls := 0
	accept := func(id string) bool {
		calls++
		return indexOf(t, id)%2 == 0
	}
	got := search(t, x, randomVectors(rng, 1, dim)[0], k, 0, accept)
	if len(got) != k {
		t.Fatalf("Search returned %d results, want %d", len(got), k)
	}
	// An exact scan or a filter applied before the search would ask about
	// every vector.
	if calls >= n/2 {
		t.Errorf("a filter that accepts half the vectors was called %d times for %d vectors", calls, n)
	}
}

func TestSearchChoosesExactScanBelowShare(t *testing.T) {
	t.Parallel()
	const n = 10_000
	x := buildIndex(t, randomVectors(rand.New(rand.NewPCG(26, 27)), n, 4), Options{EfConstruction: 8})
	tests := []struct {
		name  string
		every int
		exact bool
	}{
		{name: "1 in 10", every: 10, exact: false},
		{name: "1 in 20", every: 20, exact: false},
		{name: "1 in 200", every: 200, exact: true},
		{name: "1 in 1000", every: 1000, exact: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			accept := func(id string) bool { return indexOf(t, id)%tt.every == 3 }
			share := x.g.acceptedShare(accept)
			if got := share < ExactScanShare; got != tt.exact {
				t.Errorf("accepting 1 in %d: estimated share %.4f, exact scan %v, want %v",
					tt.every, share, got, tt.exact)
			}
		})
	}
}

func TestSearchFallsBackToExactScan(t *testing.T) {
	t.Parallel()
	const n, dim, k = 1000, 8, 10
	rng := rand.New(rand.NewPCG(28, 29))
	vectors := randomVectors(rng, n, dim)
	x := buildIndex(t, vectors, Options{Seed: 10})

	// Cut every link to a tenth of the nodes, leaving them unreachable,
	// and accept only those.
	g := x.g
	cut := func(node uint32) bool { return node%10 == 1 && node != g.entry }
	for n := range g.nodeCount() {
		for level := range int(g.levels[n]) + 1 {
			var kept []candidate
			for _, nb := range g.neighbours(uint32(n), level) {
				if !cut(nb) {
					kept = append(kept, candidate{node: nb})
				}
			}
			setNeighbours(g.slot(uint32(n), level), kept)
		}
	}
	accept := func(id string) bool { return cut(g.live[id]) }

	q := randomVectors(rng, 1, dim)[0]
	got := search(t, x, q, k, 0, accept)
	if diff := cmp.Diff(exactTopK(vectors, allLive, q, k, accept), got); diff != "" {
		t.Errorf("Search over unreachable nodes mismatch (-want +got):\n%s", diff)
	}
}

func TestSearchSmallIndexes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		vectors int
		k       int
		want    int
	}{
		{name: "empty", vectors: 0, k: 5, want: 0},
		{name: "one vector", vectors: 1, k: 5, want: 1},
		{name: "k above Len", vectors: 7, k: 10, want: 7},
		{name: "k zero", vectors: 7, k: 0, want: 0},
		{name: "k negative", vectors: 7, k: -1, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(9, 10))
			x := newIndex(t, 8, Options{})
			for i, v := range randomVectors(rng, tt.vectors, 8) {
				if err := x.Add(idOf(i), v); err != nil {
					t.Fatalf("Add: %v", err)
				}
			}
			got := search(t, x, randomVectors(rng, 1, 8)[0], tt.k, 0, nil)
			if len(got) != tt.want {
				t.Errorf("Search returned %d results, want %d", len(got), tt.want)
			}
		})
	}
}

func TestSearchRejectsBadQueries(t *testing.T) {
	t.Parallel()
	x := buildIndex(t, randomVectors(rand.New(rand.NewPCG(1, 1)), 10, 4), Options{})
	tests := []struct {
		name  string
		query []float32
		want  error
	}{
		{name: "short", query: []float32{1, 0, 0}, want: ErrWrongDimension},
		{name: "long", query: []float32{1, 0, 0, 0, 0}, want: ErrWrongDimension},
		{name: "empty", query: nil, want: ErrInvalidVector},
		{name: "zero", query: []float32{0, 0, 0, 0}, want: ErrInvalidVector},
		{name: "NaN", query: []float32{1, nan(), 0, 0}, want: ErrInvalidVector},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := x.Search(tt.query, 3, 0, nil); !errors.Is(err, tt.want) {
				t.Errorf("Search(%v) error = %v, want %v", tt.query, err, tt.want)
			}
		})
	}
}
