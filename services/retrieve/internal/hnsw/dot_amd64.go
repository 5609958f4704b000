//go:build amd64 && !purego

package hnsw

import "golang.org/x/sys/cpu"

// useFMA is set when the processor has AVX2 and FMA, as every x86-64
// server of the last decade does.
var useFMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA

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
