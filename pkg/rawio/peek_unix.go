//go:build unix && !linux

package rawio

import (
	"errors"
	"net"
	"syscall"
)

const peeks = true

func wrap(c net.Conn) net.Conn { return c }

func quietConn(c net.Conn) bool {
	raw, ok := rawConn(c)
	if !ok {
		return false
	}
	idle := false
	var b [1]byte
	err := raw.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		idle = n <= 0 && errors.Is(err, syscall.EAGAIN)
		return true // never wait for the socket to become readable
	})
	return err == nil && idle
}
