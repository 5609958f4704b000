//go:build !race && !msan && !asan

package rawio

const sanitized = false
