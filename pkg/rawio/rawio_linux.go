package rawio

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"
)

const peeks = true

type conn struct {
	*net.TCPConn
	r, w side // reads and writes, through the TCPConn's RawConn

	idle   bool // what peekFn found, under r.mu
	peekFn func(fd uintptr) bool
}

// side is one direction of a connection's raw calls. The callback it hands
// to RawConn is made once, at Wrap (a closure made per call would be two
// allocations a read), and works on buf under mu: package net lets reads
// and writes run at once, and several of each.
type side struct {
	mu    sync.Mutex
	buf   []byte
	n     int
	errno syscall.Errno
	call  func(func(fd uintptr) bool) error // the RawConn's Read or Write
	fn    func(fd uintptr) bool
}

func wrap(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok || sanitized {
		return c
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	w := &conn{TCPConn: tc}
	w.r.call, w.r.fn = raw.Read, w.r.readOnce
	w.w.call, w.w.fn = raw.Write, w.w.writeAll
	w.peekFn = w.peek
	return w
}

// run hands p to the side's callback and returns what it did.
func (s *side) run(p []byte) (int, syscall.Errno, error) {
	s.mu.Lock()
	s.buf, s.n, s.errno = p, 0, 0
	err := s.call(s.fn)
	n, errno := s.n, s.errno
	s.buf = nil
	s.mu.Unlock()
	return n, errno, err
}

func (c *conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		// Package net's answer: 0, nil, or the error of a closed connection.
		return c.TCPConn.Read(p)
	}
	// As for a write, the kernel copies at most maxChunk bytes a call: a
	// receive buffer can hold tens of megabytes.
	n, errno, err := c.r.run(p[:min(len(p), maxChunk)])
	switch {
	case err != nil:
		return 0, c.opError("read", err)
	case errno != 0:
		return 0, c.opError("read", os.NewSyscallError("read", errno))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// readOnce reads once into buf, or reports false to wait in the netpoller
// when nothing is there yet.
func (s *side) readOnce(fd uintptr) bool {
	n, e := sysRW(syscall.SYS_READ, fd, s.buf)
	switch e {
	case 0:
		s.n = n
	case syscall.EAGAIN:
		return false
	default:
		s.errno = e
	}
	return true
}

func (c *conn) Write(p []byte) (int, error) {
	n, errno, err := c.w.run(p)
	if err == nil && errno != 0 {
		err = os.NewSyscallError("write", errno)
	}
	if err != nil {
		return n, c.opError("write", err)
	}
	return n, nil
}

// writeAll writes what is left of buf, or reports false to wait in the
// netpoller for room.
func (s *side) writeAll(fd uintptr) bool {
	for s.n < len(s.buf) {
		n, e := sysRW(syscall.SYS_WRITE, fd, s.buf[s.n:min(len(s.buf), s.n+maxChunk)])
		if e == syscall.EAGAIN {
			return false
		}
		if e != 0 {
			s.errno = e
			return true
		}
		s.n += n
	}
	return true
}

// sysRW makes one read or write system call (trap) on fd with p, again
// when a signal interrupts it.
func sysRW(trap, fd uintptr, p []byte) (int, syscall.Errno) {
	for {
		r, _, e := syscall.RawSyscall(trap, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		if e != syscall.EINTR {
			return int(r), e
		}
	}
}

// opError words err as package net's Read and Write do: RawConn names its
// operations raw-read and raw-write.
func (c *conn) opError(op string, err error) error {
	if oe, ok := err.(*net.OpError); ok {
		oe.Op = op
		return oe
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

func quietConn(c net.Conn) bool {
	if w, ok := c.(*conn); ok {
		w.r.mu.Lock()
		w.idle = false
		err := w.r.call(w.peekFn)
		idle := w.idle
		w.r.mu.Unlock()
		return err == nil && idle
	}
	raw, ok := rawConn(c)
	if !ok {
		return false
	}
	idle := false
	err := raw.Read(func(fd uintptr) bool {
		idle = peekIdle(fd)
		return true
	})
	return err == nil && idle
}

func (c *conn) peek(fd uintptr) bool {
	c.idle = peekIdle(fd)
	return true // never wait for the socket to become readable
}

// peekIdle peeks at one byte without taking it or waiting: true when
// there is none and the peer has not closed.
func peekIdle(fd uintptr) bool {
	var b [1]byte
	_, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), 1,
		syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
	return e == syscall.EAGAIN
}
