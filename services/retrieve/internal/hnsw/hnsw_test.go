package hnsw

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
)

func nan() float32 { return float32(math.NaN()) }

func TestNewRejectsInvalidOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		dim  int
		opts Options
	}{
		{name: "zero dimension", dim: 0},
		{name: "negative dimension", dim: -3},
		{name: "dimension above MaxDim", dim: MaxDim + 1},
		{name: "M of 1", dim: 8, opts: Options{M: 1}},
		{name: "negative M", dim: 8, opts: Options{M: -16}},
		{name: "M above MaxM", dim: 8, opts: Options{M: MaxM + 1}},
		{name: "negative EfConstruction", dim: 8, opts: Options{EfConstruction: -1}},
		{name: "EfSearch above MaxEf", dim: 8, opts: Options{EfSearch: MaxEf + 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := New(tt.dim, tt.opts); !errors.Is(err, ErrInvalidOptions) {
				t.Errorf("New(%d, %+v) error = %v, want ErrInvalidOptions", tt.dim, tt.opts, err)
			}
		})
	}
}

func TestNewAppliesDefaults(t *testing.T) {
	t.Parallel()
	x := newIndex(t, 8, Options{})
	defaults := x.g.maxLinks == DefaultM &&
		x.efConstruction == DefaultEfConstruction &&
		x.efSearch == DefaultEfSearch
	if !defaults {
		t.Errorf("New with zero Options: M %d, EfConstruction %d, EfSearch %d; want %d, %d, %d",
			x.g.maxLinks, x.efConstruction, x.efSearch, DefaultM, DefaultEfConstruction, DefaultEfSearch)
	}
}

func TestAddRejectsInvalidInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		id   string
		vec  []float32
		want error
	}{
		{name: "empty id", id: "", vec: []float32{1, 0, 0}, want: ErrInvalidID},
		{
			name: "id too long",
			id:   strings.Repeat("x", MaxIDLen+1),
			vec:  []float32{1, 0, 0},
			want: ErrInvalidID,
		},
		{name: "short vector", id: "a", vec: []float32{1, 0}, want: ErrWrongDimension},
		{name: "long vector", id: "a", vec: []float32{1, 0, 0, 0}, want: ErrWrongDimension},
		{name: "empty vector", id: "a", vec: nil, want: ErrInvalidVector},
		{name: "NaN", id: "a", vec: []float32{1, nan(), 0}, want: ErrInvalidVector},
		{name: "infinity", id: "a", vec: []float32{float32(math.Inf(-1)), 0, 0}, want: ErrInvalidVector},
		{name: "zero vector", id: "a", vec: []float32{0, 0, 0}, want: ErrInvalidVector},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			x := newIndex(t, 3, Options{})
			if err := x.Add("kept", []float32{0, 1, 0}); err != nil {
				t.Fatalf("Add(kept): %v", err)
			}
			if err := x.Add(tt.id, tt.vec); !errors.Is(err, tt.want) {
				t.Errorf("Add(%.10q, %v) error = %v, want %v", tt.id, tt.vec, err, tt.want)
			}
			if got := x.Len(); got != 1 {
				t.Errorf("Len after a rejected Add = %d, want 1", got)
			}
		})
	}
}

func TestAddNormalisesAndCopies(t *testing.T) {
	t.Parallel()
	x := newIndex(t, 2, Options{})
	vec := []float32{3, 4}
	if err := x.Add("a", vec); err != nil {
		t.Fatalf("Add: %v", err)
	}
	vec[0] = -3

	results, err := x.Search([]float32{3, 4}, 1, 0, nil)
	if err != nil {
		t.Fatalf("Search: %v", err)
	}
	// Half precision moves a similarity by up to about 0.001.
	if len(results) != 1 || results[0].ID != "a" || math.Abs(float64(results[0].Score)-1) > 1e-3 {
		t.Errorf("Search = %v, want a with score 1", results)
	}
}

func TestDeletedVectorsAreNeverReturned(t *testing.T) {
	t.Parallel()
	const n, dim, k = 2000, 24, 10
	rng := rand.New(rand.NewPCG(11, 12))
	vectors := randomVectors(rng, n, dim)
	x := buildIndex(t, vectors, Options{Seed: 4})

	// A fifth, below CompactShare, so the tombstones stay in the graph.
	deleted := make(map[string]bool)
	for i := 0; i < n; i += 5 {
		if !x.Delete(idOf(i)) {
			t.Fatalf("Delete(%s) = false, want true", idOf(i))
		}
		deleted[idOf(i)] = true
	}
	if x.Delete(idOf(0)) {
		t.Errorf("Delete of a deleted id = true, want false")
	}
	if x.Delete("never added") {
		t.Errorf("Delete of an unknown id = true, want false")
	}
	if got, want := x.Len(), n-len(deleted); got != want {
		t.Errorf("Len = %d, want %d", got, want)
	}
	if x.g.deletedCount != len(deleted) {
		t.Fatalf("graph holds %d tombstones, want %d: compacted too early",
			x.g.deletedCount, len(deleted))
	}

	// Querying with the deleted vectors themselves puts them first in line.
	for i := 0; i < n; i += 25 {
		got := search(t, x, vectors[i], k, 0, nil)
		if len(got) != k {
			t.Fatalf("Search returned %d results, want %d", len(got), k)
		}
		for _, id := range got {
			if deleted[id] {
				t.Fatalf("Search for %s returned deleted %s", idOf(i), id)
			}
		}
	}
}

func TestCompactionDropsTombstones(t *testing.T) {
	t.Parallel()
	const n, dim, k = 1200, 16, 10
	rng := rand.New(rand.NewPCG(13, 14))
	vectors := randomVectors(rng, n, dim)
	x := buildIndex(t, vectors, Options{Seed: 5})

	deleted := make(map[int]bool)
	for i := range n / 4 {
		x.Delete(idOf(4 * i))
		deleted[4*i] = true
	}
	if x.g.deletedCount != n/4 || x.g.nodeCount() != n {
		t.Fatalf("after deleting exactly a quarter: %d tombstones of %d nodes, want %d of %d",
			x.g.deletedCount, x.g.nodeCount(), n/4, n)
	}
	x.Delete(idOf(1))
	deleted[1] = true
	if x.g.deletedCount != 0 || x.g.nodeCount() != n-len(deleted) {
		t.Fatalf("after passing CompactShare: %d tombstones of %d nodes, want 0 of %d",
			x.g.deletedCount, x.g.nodeCount(), n-len(deleted))
	}
	if got := x.Len(); got != n-len(deleted) {
		t.Errorf("Len = %d, want %d", got, n-len(deleted))
	}

	live := func(i int) bool { return !deleted[i] }
	found := 0
	qs := randomVectors(rng, 50, dim)
	for _, q := range qs {
		got := search(t, x, q, k, 0, nil)
		for _, id := range got {
			if deleted[indexOf(t, id)] {
				t.Fatalf("Search returned deleted %s", id)
			}
		}
		found += overlap(exactTopK(vectors, live, q, k, nil), got)
	}
	if recall := float64(found) / float64(len(qs)*k); recall < 0.95 {
		t.Errorf("recall@%d after compaction = %.4f, want at least 0.95", k, recall)
	}
}

func TestReplaceMovesVector(t *testing.T) {
	t.Parallel()
	const n, dim = 500, 16
	rng := rand.New(rand.NewPCG(15, 16))
	vectors := randomVectors(rng, n, dim)
	x := buildIndex(t, vectors, Options{Seed: 6})

	moved := randomVectors(rng, 1, dim)[0]
	if err := x.Add(idOf(7), moved); err != nil {
		t.Fatalf("Add: %v", err)
	}
	if got := x.Len(); got != n {
		t.Errorf("Len after replacing = %d, want %d", got, n)
	}

	results, err := x.Search(moved, 1, 0, nil)
	if err != nil {
		t.Fatalf("Search: %v", err)
	}
	if len(results) != 1 || results[0].ID != idOf(7) || results[0].Score < 0.999 {
		t.Errorf("Search for the new vector = %v, want %s with score 1", results, idOf(7))
	}
	for _, r := range mustSearch(t, x, vectors[7], 5) {
		if r.ID == idOf(7) && r.Score > 0.9999 {
			t.Errorf("Search for the old vector found %s with score %v", r.ID, r.Score)
		}
	}
}

func TestSameSeedBuildsSameIndex(t *testing.T) {
	t.Parallel()
	vectors := randomVectors(rand.New(rand.NewPCG(17, 18)), 300, 8)
	var files [2]bytes.Buffer
	for i := range files {
		x := buildIndex(t, vectors, Options{Seed: 42})
		x.Delete(idOf(3))
		if _, err := x.WriteTo(&files[i]); err != nil {
			t.Fatalf("WriteTo: %v", err)
		}
	}
	if !bytes.Equal(files[0].Bytes(), files[1].Bytes()) {
		t.Errorf("two indexes built alike with seed 42 differ")
	}
}

// TestConcurrentUse runs searches beside adds, replaces and deletes, which
// cross CompactShare several times; run it with -race.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	const dim, base = 8, 200
	rng := rand.New(rand.NewPCG(19, 20))
	vectors := randomVectors(rng, 4*base, dim)
	x := buildIndex(t, vectors[:base], Options{M: 6, EfConstruction: 24, Seed: 7})

	var wg sync.WaitGroup
	for w := range 4 {
		queries := randomVectors(rand.New(rand.NewPCG(21, uint64(w))), 150, dim)
		wg.Go(func() {
			for i, q := range queries {
				accept := func(id string) bool { return len(id)%2 == i%2 }
				if i%3 == 0 {
					accept = nil
				}
				results, err := x.Search(q, 5, 0, accept)
				if err != nil {
					t.Errorf("Search: %v", err)
					return
				}
				if len(results) > 5 {
					t.Errorf("Search returned %d results, want at most 5", len(results))
				}
				_ = x.Len()
			}
		})
	}
	wg.Go(func() {
		for i := base; i < len(vectors); i++ {
			if err := x.Add(idOf(i), vectors[i]); err != nil {
				t.Errorf("Add: %v", err)
				return
			}
		}
	})
	wg.Go(func() {
		for i := range 2 * base {
			x.Delete(idOf(i))
			if i%4 == 0 {
				if err := x.Add(idOf(i+1), vectors[i]); err != nil {
					t.Errorf("Add: %v", err)
					return
				}
			}
		}
	})
	wg.Go(func() {
		for range 5 {
			var buf bytes.Buffer
			if _, err := x.WriteTo(&buf); err != nil {
				t.Errorf("WriteTo: %v", err)
				return
			}
		}
	})
	wg.Wait()

	if got := x.Len(); got > len(vectors) {
		t.Errorf("Len = %d, more than the %d ids ever added", got, len(vectors))
	}
}
