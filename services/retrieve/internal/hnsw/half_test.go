package hnsw

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestHalfRoundTrip converts every half-precision number to float32 and
// back, and checks the rounding of float32 values between halves.
func TestHalfRoundTrip(t *testing.T) {
	for h := range 1 << 16 {
		x := uint16(h)
		f := fromHalf(x)
		if math.IsNaN(float64(f)) {
			if got := toHalf(f); got&0x7c00 != 0x7c00 || got&0x3ff == 0 {
				t.Fatalf("NaN %#04x came back as %#04x", x, got)
			}
			continue
		}
		if got := toHalf(f); got != x {
			t.Fatalf("%#04x -> %v -> %#04x", x, f, got)
		}
	}
	for _, tt := range []struct {
		in   float32
		want uint16
	}{
		{1, 0x3c00},
		{-2, 0xc000},
		{65504, 0x7bff},
		{65520, 0x7c00},                     // rounds up past the largest half: infinity
		{1 + 1.0/2048, 0x3c00},              // halfway between 1 and the next half: to even
		{1 + 3.0/2048, 0x3c02},              // halfway, odd below: up
		{float32(math.Pow(2, -24)), 0x0001}, // the smallest subnormal
		{float32(math.Pow(2, -26)), 0x0000}, // below half of it
		{float32(math.Pow(2, -14)), 0x0400}, // the smallest normal
	} {
		if got := toHalf(tt.in); got != tt.want {
			t.Errorf("toHalf(%v) = %#04x, want %#04x", tt.in, got, tt.want)
		}
	}
	// Any unit-vector component is within half an ulp of its half.
	rng := rand.New(rand.NewPCG(5, 6))
	for range 100000 {
		f := float32(rng.Float64()*2 - 1)
		back := fromHalf(toHalf(f))
		ulp := math.Max(math.Pow(2, math.Floor(math.Log2(math.Abs(float64(f))))-10), math.Pow(2, -24))
		if d := math.Abs(float64(back - f)); d > ulp/2+1e-12 {
			t.Fatalf("%v came back as %v, off by %g, more than half an ulp (%g)", f, back, d, ulp/2)
		}
	}
}

// TestDotHalfMatchesGeneric compares the vector-instruction dot products
// of half-precision vectors with the plain loops, for every length up to a
// few blocks.
func TestDotHalfMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for n := 0; n <= 70; n++ {
		q := make([]float32, n)
		a, b := make([]uint16, n), make([]uint16, n)
		var wantQA, wantAB float64
		for i := range q {
			q[i] = float32(rng.NormFloat64())
			a[i] = toHalf(float32(rng.NormFloat64()))
			b[i] = toHalf(float32(rng.NormFloat64()))
			wantQA += float64(q[i]) * float64(fromHalf(a[i]))
			wantAB += float64(fromHalf(a[i])) * float64(fromHalf(b[i]))
		}
		for name, got := range map[string][2]float64{
			"dotHalf":          {float64(dotHalf(q, a)), wantQA},
			"dotHalfGeneric":   {float64(dotHalfGeneric(q, a)), wantQA},
			"dotHalves":        {float64(dotHalves(a, b)), wantAB},
			"dotHalvesGeneric": {float64(dotHalvesGeneric(a, b)), wantAB},
		} {
			if math.Abs(got[0]-got[1]) > 1e-4*(1+math.Abs(got[1])) {
				t.Fatalf("n=%d: %s = %v, exact %v", n, name, got[0], got[1])
			}
		}
	}
}
