package hnsw

import (
	"fmt"
	"math"
)

// Dot returns the dot product of a and b, which have the same length, with
// the processor's vector instructions where the build has them (see
// dot_amd64.go).
func Dot(a, b []float32) float32 {
	return dot(a, b)
}

// dotGeneric is dot in plain Go. The loop takes eight components at a
// time into four sums, which keeps the processor's floating-point units
// busy and lets the compiler drop most bounds checks.
func dotGeneric(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+8 <= len(a); i += 8 {
		x := a[i : i+8 : i+8]
		y := b[i : i+8 : i+8]
		s0 += x[0]*y[0] + x[4]*y[4]
		s1 += x[1]*y[1] + x[5]*y[5]
		s2 += x[2]*y[2] + x[6]*y[6]
		s3 += x[3]*y[3] + x[7]*y[7]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// normalise returns a copy of v scaled to unit length. It returns
// ErrInvalidVector as checkVector does.
func normalise(v []float32) ([]float32, error) {
	norm, err := checkVector(v)
	if err != nil {
		return nil, err
	}
	return appendScaled(make([]float32, 0, len(v)), v, 1/norm), nil
}

// checkVector returns the Euclidean norm of v. It returns ErrInvalidVector
// when v is empty, holds NaN or an infinity, or is all zeros.
func checkVector(v []float32) (float64, error) {
	if len(v) == 0 {
		return 0, fmt.Errorf("%w: no components", ErrInvalidVector)
	}
	var sum float64
	for i, x := range v {
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("%w: component %d is %v", ErrInvalidVector, i, x)
		}
		sum += f * f
	}
	if sum == 0 {
		return 0, fmt.Errorf("%w: all %d components are zero", ErrInvalidVector, len(v))
	}
	return math.Sqrt(sum), nil
}

// appendScaled appends the components of v multiplied by factor to dst.
func appendScaled(dst, v []float32, factor float64) []float32 {
	for _, x := range v {
		dst = append(dst, float32(float64(x)*factor))
	}
	return dst
}
