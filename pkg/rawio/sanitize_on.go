//go:build race || msan || asan

package rawio

// sanitized is set when the race detector, MemorySanitizer or
// AddressSanitizer is built in: package net's reads and writes tell them
// what the kernel reads and writes, and order memory between a goroutine
// that sends and one that receives, which raw system calls do not.
const sanitized = true
