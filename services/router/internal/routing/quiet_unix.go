//go:build unix

package routing

import (
	"errors"
	"net"
	"syscall"
)

// quiet reports whether nothing is waiting to be read on c: no bytes and no
// close from the server. It peeks without blocking and without taking
// anything.
func quiet(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	idle := false
	var b [1]byte
	err = raw.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		idle = n <= 0 && errors.Is(err, syscall.EAGAIN)
		return true // never wait for the socket to become readable
	})
	return err == nil && idle
}
