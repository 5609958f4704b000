// Package httpbody reads HTTP/1.1 message bodies framed by Content-Length
// straight off a buffered connection, for Keel's own HTTP server and
// client, as net/http's body reads one.
package httpbody

import (
	"bufio"
	"io"
	"net/http"
	"sync"
)

// Fixed is a body of a known number of bytes. Read returns io.EOF with
// the last bytes, io.ErrUnexpectedEOF when the connection ends first (and
// io.EOF after that), and http.ErrBodyReadAfterClose once closed. Close
// reads nothing of the rest: the server or transport decides what to do
// with a connection whose body was not read to its end.
type Fixed struct {
	mu     sync.Mutex
	br     *bufio.Reader
	left   int64
	closed bool
}

// Reset makes b the body of the next n bytes of br.
func (b *Fixed) Reset(br *bufio.Reader, n int64) {
	b.br, b.left, b.closed = br, n, false
}

// NewFixed returns the body of the next n bytes of br.
func NewFixed(br *bufio.Reader, n int64) *Fixed {
	return &Fixed{br: br, left: n}
}

func (b *Fixed) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	if b.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.br.Read(p)
	b.left -= int64(n)
	switch {
	case err == io.EOF && b.left > 0:
		b.left = 0
		err = io.ErrUnexpectedEOF
	case err == nil && n > 0 && b.left == 0:
		err = io.EOF
	}
	return n, err
}

// Close ends reading; see Fixed.
func (b *Fixed) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	return nil
}
