// Package rawio reads and writes TCP sockets without telling the Go
// runtime that a system call is under way.
//
// The sockets of package net are non-blocking: a read or write either
// completes at once or fails with EAGAIN, and the wait for readiness is
// the netpoller's. Yet every such call goes through the runtime's
// entersyscall and exitsyscall, and when the process was idle the first one
// wakes the sysmon thread. On a gateway answering one client at a time that
// is a thread hand-off per request on the critical path (BENCHMARKS.md,
// "seventh pass"). A connection wrapped by Wrap makes the same calls with
// syscall.RawSyscall inside syscall.RawConn's Read and Write, which still
// wait in the netpoller and honour deadlines and Close.
//
// What is given up: a call holds its P while the kernel copies; a read or
// write hands the kernel at most maxChunk bytes a call to bound that. A
// wrapped connection must stay non-blocking: Fd of the file TCPConn.File
// returns makes the socket blocking, and a raw read would then hold its
// thread and P until bytes came. Built with the race detector,
// MemorySanitizer or AddressSanitizer, Wrap leaves connections to package
// net, whose reads and writes those tools see (raw calls would hide the
// kernel's accesses to the buffers, and the ordering that bytes sent from
// one goroutine and received on another give: a test checking what a
// handler did once its answer arrived would be reported as a race).
package rawio

import (
	"net"
	"syscall"
)

// maxChunk is the most bytes one read or write system call is given.
const maxChunk = 256 << 10

// Wrap returns c reading and writing by raw system calls when it is a
// *net.TCPConn on a platform where that is done (Linux) and no sanitizer is
// built in, and c itself otherwise. Everything but Read and Write is the
// TCPConn's.
func Wrap(c net.Conn) net.Conn {
	return wrap(c)
}

// Quiet reports whether nothing is waiting to be read on c: no bytes and
// no close from the peer. It peeks without blocking and takes nothing;
// false where c cannot be peeked.
func Quiet(c net.Conn) bool {
	return quietConn(c)
}

func rawConn(c net.Conn) (syscall.RawConn, bool) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil, false
	}
	raw, err := sc.SyscallConn()
	return raw, err == nil
}
