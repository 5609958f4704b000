package hnsw

import "math"

// The graph keeps its unit vectors as IEEE 754 half-precision numbers:
// half the memory, and half the memory traffic of linking and searching,
// which at 100,000 vectors of 384 dimensions is what the dot product waits
// on. A unit vector's components lose at most one part in 4,096 to the
// rounding, which moves a cosine similarity by about 0.001 at most; the
// retrieve index recomputes the similarities it reports from the original
// vectors.

// toHalf returns the half-precision number nearest to f, ties to even.
func toHalf(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23&0xff) - 127 + 15
	mant := b & 0x7fffff
	switch {
	case b>>23&0xff == 0xff: // infinity or NaN
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	case exp >= 31: // too large: infinity
		return sign | 0x7c00
	case exp <= 0: // a subnormal half, or zero
		if exp < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint32(14 - exp)
		h := uint16(mant >> shift)
		rest, halfway := mant&(1<<shift-1), uint32(1)<<(shift-1)
		if rest > halfway || (rest == halfway && h&1 == 1) {
			h++
		}
		return sign | h
	}
	h := sign | uint16(exp)<<10 | uint16(mant>>13)
	// Rounding up may carry into the exponent, which is the right result.
	if rest := mant & 0x1fff; rest > 0x1000 || (rest == 0x1000 && h&1 == 1) {
		h++
	}
	return h
}

// fromHalf returns the value of the half-precision number h.
func fromHalf(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		e := uint32(127 - 14)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// decodeHalf writes the values of h to dst, which has its length, and
// returns it.
func decodeHalf(dst []float32, h []uint16) []float32 {
	dst = dst[:len(h)]
	for i, x := range h {
		dst[i] = fromHalf(x)
	}
	return dst
}

// dotHalfGeneric is dotHalf in plain Go.
func dotHalfGeneric(q []float32, h []uint16) float32 {
	h = h[:len(q)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(q); i += 4 {
		s0 += q[i] * fromHalf(h[i])
		s1 += q[i+1] * fromHalf(h[i+1])
		s2 += q[i+2] * fromHalf(h[i+2])
		s3 += q[i+3] * fromHalf(h[i+3])
	}
	for ; i < len(q); i++ {
		s0 += q[i] * fromHalf(h[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// dotHalvesGeneric is dotHalves in plain Go.
func dotHalvesGeneric(a, b []uint16) float32 {
	b = b[:len(a)]
	var s float32
	for i, x := range a {
		s += fromHalf(x) * fromHalf(b[i])
	}
	return s
}
