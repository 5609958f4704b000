//go:build !unix

package rawio

import "net"

// peeks is whether Quiet can look at a socket here.
const peeks = false

func wrap(c net.Conn) net.Conn { return c }

// quietConn cannot peek here: a pooled connection is then never reused.
func quietConn(net.Conn) bool { return false }
