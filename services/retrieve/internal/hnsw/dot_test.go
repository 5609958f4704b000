package hnsw

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestDotMatchesGeneric compares dot, which may use vector instructions,
// with the plain Go loop for every length up to a few blocks and for
// values of mixed sign and scale.
func TestDotMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for n := 0; n <= 100; n++ {
		for range 5 {
			a, b := make([]float32, n), make([]float32, n)
			for i := range a {
				a[i] = float32(rng.NormFloat64() * 10)
				b[i] = float32(rng.NormFloat64())
			}
			got, want := float64(dot(a, b)), exactDot(a, b)
			if math.Abs(got-want) > 1e-4*(1+math.Abs(want)) {
				t.Fatalf("n=%d: dot = %v, exact %v", n, got, want)
			}
			if g := float64(dotGeneric(a, b)); math.Abs(g-want) > 1e-4*(1+math.Abs(want)) {
				t.Fatalf("n=%d: dotGeneric = %v, exact %v", n, g, want)
			}
		}
	}
	// b longer than a: only len(a) components count.
	if got := dot([]float32{1, 2, 3, 4, 5, 6, 7, 8, 9}, []float32{1, 1, 1, 1, 1, 1, 1, 1, 1, 100}); got != 45 {
		t.Errorf("dot with a longer b = %v, want 45", got)
	}
	if got := Dot([]float32{0.5, 0.5}, []float32{2, 4}); got != 3 {
		t.Errorf("Dot = %v, want 3", got)
	}
}

func exactDot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// BenchmarkDotGeneric measures the plain Go loop beside BenchmarkDot.
func BenchmarkDotGeneric(b *testing.B) {
	v := randomVectors(rand.New(rand.NewPCG(1, 2)), 2, benchDim)
	var sum float32
	for b.Loop() {
		sum += dotGeneric(v[0], v[1])
	}
	if sum == 0 {
		b.Log(sum)
	}
}
