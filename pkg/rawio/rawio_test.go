package rawio

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// pair returns both ends of a loopback TCP connection: the dialled end
// wrapped, and the accepted end as package net made it.
func pair(t *testing.T) (wrapped, peer net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer = <-accepted
	if peer == nil {
		t.Fatal("accept failed")
	}
	wrapped = Wrap(c)
	t.Cleanup(func() {
		_ = wrapped.Close()
		_ = peer.Close()
	})
	return wrapped, peer
}

func TestWrapTakesTCPOnly(t *testing.T) {
	c, _ := pair(t)
	// The raw connection's type exists on Linux only: the test names none.
	_, plain := c.(*net.TCPConn)
	if raw := runtime.GOOS == "linux" && !sanitized; plain == raw {
		t.Fatalf("Wrap(TCP) = %T on %s (raw calls: %v)", c, runtime.GOOS, raw)
	}
	if _, ok := c.(interface{ CloseWrite() error }); !ok {
		t.Fatal("the wrapped connection lost CloseWrite")
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if got := Wrap(a); got != a {
		t.Fatalf("Wrap(pipe) = %T, want the pipe itself", got)
	}
}

func TestRoundTripLargeBothWays(t *testing.T) {
	c, peer := pair(t)
	want := make([]byte, 8<<20+13) // more than socket buffers and maxChunk
	for i := range want {
		want[i] = byte(rand.Uint32())
	}
	// The peer reads in small pieces, slowly at first, so that writes meet
	// a full socket and wait in the netpoller.
	got := make(chan []byte, 1)
	go func() {
		var buf bytes.Buffer
		piece := make([]byte, 4096)
		for i := 0; buf.Len() < len(want); i++ {
			if i < 20 {
				time.Sleep(time.Millisecond)
			}
			n, err := peer.Read(piece)
			buf.Write(piece[:n])
			if err != nil {
				break
			}
		}
		got <- buf.Bytes()
	}()
	n, err := c.Write(want)
	if err != nil || n != len(want) {
		t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(want))
	}
	if g := <-got; !bytes.Equal(g, want) {
		t.Fatalf("peer read %d bytes, not the %d written", len(g), len(want))
	}

	// And back: the wrapped end reads what the peer writes in one piece.
	go func() { _, _ = peer.Write(want) }()
	back, err := io.ReadAll(io.LimitReader(c, int64(len(want))))
	if err != nil || !bytes.Equal(back, want) {
		t.Fatalf("read back %d bytes, %v; want %d", len(back), err, len(want))
	}
}

func TestReadWaitsForData(t *testing.T) {
	c, peer := pair(t)
	go func() {
		time.Sleep(20 * time.Millisecond)
		_, _ = peer.Write([]byte("late"))
	}()
	buf := make([]byte, 16)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "late" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	if n, err := c.Read(nil); n != 0 || err != nil {
		t.Fatalf("Read(nil) = %d, %v; want 0, nil", n, err)
	}
}

// The errors of a wrapped connection read as package net's: the same
// text, the same Timeout, the same sentinel errors.
func TestErrorsMatchPackageNet(t *testing.T) {
	c, peer := pair(t)
	// The accepted end, unwrapped, is the reference.
	for _, end := range []net.Conn{c, peer} {
		_ = end.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	}
	_, errWrapped := c.Read(make([]byte, 8))
	_, errNet := peer.Read(make([]byte, 8))
	if !errors.Is(errWrapped, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past the deadline = %v, want os.ErrDeadlineExceeded", errWrapped)
	}
	var ne net.Error
	if !errors.As(errWrapped, &ne) || !ne.Timeout() {
		t.Fatalf("Read past the deadline = %#v, want a net.Error that timed out", errWrapped)
	}
	if want := swapAddrs(errNet.Error(), peer, c); errWrapped.Error() != want {
		t.Fatalf("timeout error %q, package net says %q", errWrapped, want)
	}
	_ = c.SetReadDeadline(time.Time{})
	_ = peer.SetReadDeadline(time.Time{})

	// A write that cannot finish before its deadline reports what it wrote.
	_ = c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	n, err := c.Write(make([]byte, 64<<20))
	if !errors.Is(err, os.ErrDeadlineExceeded) || n <= 0 || n >= 64<<20 {
		t.Fatalf("Write past the deadline = %d, %v; want part written and os.ErrDeadlineExceeded", n, err)
	}
	if !bytes.HasPrefix([]byte(err.Error()), []byte("write tcp ")) {
		t.Fatalf("write error %q, want it worded as package net's", err)
	}
}

// swapAddrs rewrites an error of one end into what the other end would say.
func swapAddrs(msg string, from, to net.Conn) string {
	old := from.LocalAddr().String() + "->" + from.RemoteAddr().String()
	repl := to.LocalAddr().String() + "->" + to.RemoteAddr().String()
	return string(bytes.Replace([]byte(msg), []byte(old), []byte(repl), 1))
}

func TestCloseUnblocksRead(t *testing.T) {
	c, _ := pair(t)
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 8))
		done <- err
	}()
	time.Sleep(10 * time.Millisecond)
	_ = c.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Read after Close = %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read still blocked after Close")
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close = %v, want net.ErrClosed", err)
	}
	// Empty reads and writes too, as package net's.
	if _, err := c.Read(nil); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read(nil) after Close = %v, want net.ErrClosed", err)
	}
	if _, err := c.Write(nil); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write(nil) after Close = %v, want net.ErrClosed", err)
	}
}

func TestPeerCloseAndReset(t *testing.T) {
	c, peer := pair(t)
	_, _ = peer.Write([]byte("bye"))
	_ = peer.(*net.TCPConn).CloseWrite()
	all, err := io.ReadAll(c)
	if err != nil || string(all) != "bye" {
		t.Fatalf("ReadAll = %q, %v; want the bytes, then EOF", all, err)
	}
	if n, err := c.Read(make([]byte, 8)); n != 0 || err != io.EOF {
		t.Fatalf("Read after EOF = %d, %v; want 0, io.EOF", n, err)
	}

	c2, peer2 := pair(t)
	_ = peer2.(*net.TCPConn).SetLinger(0)
	_ = peer2.Close() // sends RST
	_, err = c2.Read(make([]byte, 8))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("Read after reset = %v, want ECONNRESET", err)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "read" {
		t.Fatalf("Read after reset = %#v, want a net.OpError for read", err)
	}
	_, err = c2.Write([]byte("x"))
	if !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("Write after reset = %v, want EPIPE or ECONNRESET", err)
	}
}

func TestQuiet(t *testing.T) {
	c, peer := pair(t)
	if !peeks {
		if Quiet(c) {
			t.Fatal("Quiet = true where sockets cannot be peeked")
		}
		return
	}
	if !Quiet(c) {
		t.Fatal("Quiet = false on a connection with nothing to read")
	}
	_, _ = peer.Write([]byte("z"))
	waitFor(t, func() bool { return !Quiet(c) })
	b := make([]byte, 1)
	if n, err := c.Read(b); n != 1 || err != nil || b[0] != 'z' {
		t.Fatalf("Quiet took the byte: Read = %d, %v, %q", n, err, b[:n])
	}
	if !Quiet(c) {
		t.Fatal("Quiet = false once the byte was read")
	}
	_ = peer.Close()
	waitFor(t, func() bool { return !Quiet(c) })

	// A connection Wrap left alone is peeked too.
	_, p2 := pair(t)
	if !Quiet(p2) {
		t.Fatal("Quiet = false on an unwrapped connection with nothing to read")
	}
	a, b2 := net.Pipe()
	defer a.Close()
	defer b2.Close()
	if Quiet(a) {
		t.Fatal("Quiet = true on a connection it cannot peek")
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatal("condition not met in 5 s")
}

// Reading, writing and peeking allocate nothing when they need not wait.
func TestNoAllocations(t *testing.T) {
	if runtime.GOOS != "linux" || sanitized {
		t.Skip("raw system calls are used on Linux without sanitizers only")
	}
	c, peer := pair(t)
	if _, err := peer.Write(make([]byte, 500)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return !Quiet(c) })
	one := make([]byte, 1)
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := c.Read(one); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(one); err != nil {
			t.Fatal(err)
		}
		_ = Quiet(c)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per read, write and peek, want 0", allocs)
	}
}

// Bytes that went through a socket order memory for the race detector, as
// package net's reads and writes do: what a goroutine wrote before sending
// is read after receiving without a report. It matters only under -race,
// where a test that checks a handler's work once its answer has arrived
// would otherwise fail.
func TestSocketOrdersMemoryForTheRaceDetector(t *testing.T) {
	for _, dir := range []string{"wrapped writes", "wrapped reads"} {
		c, peer := pair(t)
		from, to := c, peer
		if dir == "wrapped reads" {
			from, to = peer, c
		}
		var shared int
		go func() {
			shared = 1
			_, _ = from.Write([]byte("x"))
		}()
		if _, err := to.Read(make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
		if shared != 1 {
			t.Fatalf("%s: the write before sending is not seen", dir)
		}
	}
}
