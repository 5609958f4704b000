//go:build !amd64 || purego

package hnsw

// dot returns the dot product of a and b, which have the same length.
func dot(a, b []float32) float32 {
	return dotGeneric(a, b)
}

// dotHalf returns the dot product of q and the half-precision vector h of
// the same length.
func dotHalf(q []float32, h []uint16) float32 {
	return dotHalfGeneric(q, h)
}

// dotHalves returns the dot product of two half-precision vectors of the
// same length.
func dotHalves(a, b []uint16) float32 {
	return dotHalvesGeneric(a, b)
}
