//go:build !unix

package routing

import "net"

// quiet reports false where the socket cannot be peeked: a pooled
// connection is then never reused.
func quiet(net.Conn) bool { return false }
