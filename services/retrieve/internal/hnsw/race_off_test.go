//go:build !race

package hnsw

// raceDetector reports whether the tests run under the race detector, which
// makes the largest of them take minutes.
const raceDetector = false
