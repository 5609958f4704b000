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
	raw syscall.RawConn

	// The callbacks given to raw are made once, at Wrap: a closure made per
	// call would be two allocations a read. What they work on is kept here,
	// each side's under its lock (package net lets reads and writes run
	// at once, and several of each).
	rmu    sync.Mutex
	rbuf   []byte
	rn     int
	rerrno syscall.Errno
	readFn func(fd uintptr) bool
	idle   bool // what peekFn found
	peekFn func(fd uintptr) bool

	wmu     sync.Mutex
	wbuf    []byte
	wn      int
	werrno  syscall.Errno
	writeFn func(fd uintptr) bool
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
	w := &conn{TCPConn: tc, raw: raw}
	w.readFn, w.writeFn, w.peekFn = w.readSome, w.writeAll, w.peek
	return w
}

func (c *conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		// Package net's answer: 0, nil, or the error of a closed connection.
		return c.TCPConn.Read(p)
	}
	// As for a write, the kernel copies at most maxChunk bytes a call: a
	// receive buffer can hold tens of megabytes.
	p = p[:min(len(p), maxChunk)]
	c.rmu.Lock()
	c.rbuf, c.rn, c.rerrno = p, 0, 0
	err := c.raw.Read(c.readFn)
	n, errno := c.rn, c.rerrno
	c.rbuf = nil
	c.rmu.Unlock()
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

// readSome reads once into rbuf, or reports false to wait in the
// netpoller when nothing is there yet.
func (c *conn) readSome(fd uintptr) bool {
	p := c.rbuf
	for {
		r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		switch e {
		case 0:
			c.rn = int(r)
			return true
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			c.rerrno = e
			return true
		}
	}
}

func (c *conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	c.wbuf, c.wn, c.werrno = p, 0, 0
	err := c.raw.Write(c.writeFn)
	n, errno := c.wn, c.werrno
	c.wbuf = nil
	c.wmu.Unlock()
	switch {
	case err != nil:
		return n, c.opError("write", err)
	case errno != 0:
		return n, c.opError("write", os.NewSyscallError("write", errno))
	}
	return n, nil
}

// writeAll writes what is left of wbuf, or reports false to wait in the
// netpoller for room.
func (c *conn) writeAll(fd uintptr) bool {
	p := c.wbuf
	for c.wn < len(p) {
		chunk := min(len(p)-c.wn, maxChunk)
		r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[c.wn])), uintptr(chunk))
		switch e {
		case 0:
			c.wn += int(r)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			c.werrno = e
			return true
		}
	}
	return true
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
		w.rmu.Lock()
		w.idle = false
		err := w.raw.Read(w.peekFn)
		idle := w.idle
		w.rmu.Unlock()
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
