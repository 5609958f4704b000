package hnsw

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

func TestAddBatchRecallAndDeterminism(t *testing.T) {
	t.Parallel()
	const n, dim, k = 3000, 32, 10
	rng := rand.New(rand.NewPCG(30, 31))
	vectors := clusteredVectors(rng, n, dim, 30, 1)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = idOf(i)
	}

	var files [2][]byte
	var x *Index
	for i := range files {
		x = newIndex(t, dim, Options{EfConstruction: 64, Seed: 11})
		if err := x.AddBatch(ids, vectors); err != nil {
			t.Fatalf("AddBatch: %v", err)
		}
		files[i] = encode(t, x)
	}
	// The batch is planned by several goroutines; the graph must not
	// depend on how they were scheduled.
	if !bytes.Equal(files[0], files[1]) {
		t.Errorf("two AddBatch builds of the same vectors with the same seed differ")
	}

	found := 0
	qs := clusteredVectors(rng, 100, dim, 30, 1)
	for _, q := range qs {
		found += overlap(exactTopK(vectors, allLive, q, k, nil), search(t, x, q, k, 0, nil))
	}
	if recall := float64(found) / float64(len(qs)*k); recall < 0.95 {
		t.Errorf("recall@%d of an AddBatch build = %.4f, want at least 0.95", k, recall)
	}
}

func TestAddBatchIsAllOrNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ids  []string
		vecs [][]float32
		want error
	}{
		{
			name: "bad vector last",
			ids:  []string{"a", "b", "c"},
			vecs: [][]float32{{1, 0}, {0, 1}, {0, 0}},
			want: ErrInvalidVector,
		},
		{
			name: "wrong dimension",
			ids:  []string{"a", "b"},
			vecs: [][]float32{{1, 0}, {0, 1, 0}},
			want: ErrWrongDimension,
		},
		{
			name: "empty id",
			ids:  []string{"a", ""},
			vecs: [][]float32{{1, 0}, {0, 1}},
			want: ErrInvalidID,
		},
		{
			name: "lengths differ",
			ids:  []string{"a", "b"},
			vecs: [][]float32{{1, 0}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			x := newIndex(t, 2, Options{})
			err := x.AddBatch(tt.ids, tt.vecs)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Errorf("AddBatch error = %v, want %v", err, tt.want)
			}
			if got := x.Len(); got != 0 {
				t.Errorf("Len after a rejected AddBatch = %d, want 0", got)
			}
		})
	}
}

func TestAddBatchRepeatedIDKeepsLast(t *testing.T) {
	t.Parallel()
	x := newIndex(t, 2, Options{})
	err := x.AddBatch([]string{"a", "b", "a"}, [][]float32{{1, 0}, {0, 1}, {-1, 0}})
	if err != nil {
		t.Fatalf("AddBatch: %v", err)
	}
	if got := x.Len(); got != 2 {
		t.Errorf("Len = %d, want 2", got)
	}
	results := mustSearch(t, x, []float32{-1, 0}, 1)
	if len(results) != 1 || results[0].ID != "a" || results[0].Score < 0.9999 {
		t.Errorf("Search for a's last vector = %v, want a with score 1", results)
	}
}
