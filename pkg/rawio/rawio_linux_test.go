package rawio

import (
	"io"
	"syscall"
	"testing"
	"unsafe"
)

// siocinq is FIONREAD on a socket: how many bytes wait to be read.
const siocinq = 0x541b

// A read, like a write, hands the kernel at most maxChunk bytes: the call
// holds its P while the kernel copies, and a socket's receive buffer grows
// to tens of megabytes (one read of 25 MB took 24 ms).
func TestReadBoundedByMaxChunk(t *testing.T) {
	if sanitized {
		t.Skip("package net reads here")
	}
	c, peer := pair(t)
	want := 4 * maxChunk
	_ = c.(*conn).SetReadBuffer(2 << 20)
	go func() {
		// Enough for the receive buffer to grow past maxChunk first, while
		// the loop below reads at full speed.
		_, _ = peer.Write(make([]byte, 64<<20))
		_, _ = peer.Write(make([]byte, want))
	}()
	buf := make([]byte, want)
	if _, err := io.ReadFull(c, make([]byte, 64<<20)); err != nil {
		t.Fatal(err)
	}
	// Wait until more than maxChunk bytes are waiting in the socket.
	raw, _ := rawConn(c)
	waitFor(t, func() bool {
		var queued int32
		_ = raw.Control(func(fd uintptr) {
			_, _, _ = syscall.Syscall(syscall.SYS_IOCTL, fd, siocinq, uintptr(unsafe.Pointer(&queued)))
		})
		return int(queued) > maxChunk
	})
	for got := 0; got < want; {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		if n > maxChunk {
			t.Fatalf("Read took %d bytes in one call, more than maxChunk (%d)", n, maxChunk)
		}
		got += n
	}
}
