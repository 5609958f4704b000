//go:build amd64 && !purego

package hnsw

import "golang.org/x/sys/cpu"

// useFMA is set when the processor has AVX2 and FMA, as every x86-64
// server of the last decade does; useF16C when it can also convert half
// precision numbers.
var (
	useFMA  = cpu.X86.HasAVX2 && cpu.X86.HasFMA
	useF16C = useFMA && cpu.X86.HasF16C
)

// dotFMA returns the dot product of the n components at a and b, 32 at a
// time in four 8-wide fused multiply-add accumulators (dot_amd64.s).
//
//go:noescape
func dotFMA(a, b *float32, n int) float32

// dot returns the dot product of a and b, which have the same length.
func dot(a, b []float32) float32 {
	if !useFMA || len(a) == 0 {
		return dotGeneric(a, b)
	}
	b = b[:len(a)]
	return dotFMA(&a[0], &b[0], len(a))
}

// dotHalfFMA returns the dot product of the n float32 at q and the n half
// precision numbers at h, n a multiple of 8, converting eight halves at a
// time (dot_amd64.s).
//
//go:noescape
func dotHalfFMA(q *float32, h *uint16, n int) float32

// dotHalf returns the dot product of q and the half-precision vector h of
// the same length.
func dotHalf(q []float32, h []uint16) float32 {
	n := len(q) &^ 7
	if !useF16C || n == 0 {
		return dotHalfGeneric(q, h)
	}
	h = h[:len(q)]
	s := dotHalfFMA(&q[0], &h[0], n)
	if n < len(q) {
		s += dotHalfGeneric(q[n:], h[n:])
	}
	return s
}

// dotHalvesFMA returns the dot product of the n half-precision numbers at
// a and b, n a multiple of 8 (dot_amd64.s).
//
//go:noescape
func dotHalvesFMA(a, b *uint16, n int) float32

// dotHalves returns the dot product of two half-precision vectors of the
// same length.
func dotHalves(a, b []uint16) float32 {
	n := len(a) &^ 7
	if !useF16C || n == 0 {
		return dotHalvesGeneric(a, b)
	}
	b = b[:len(a)]
	s := dotHalvesFMA(&a[0], &b[0], n)
	if n < len(a) {
		s += dotHalvesGeneric(a[n:], b[n:])
	}
	return s
}
