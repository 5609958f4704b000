package routing

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// directTransport sends plaintext HTTP/1.1 requests on the calling
// goroutine: it writes the request and reads the response itself over a
// pooled keep-alive connection, where net/http's Transport hands each
// request to two goroutines of the connection and back. On loopback and
// LAN upstreams (a local mock, vLLM, Ollama) that saves a few scheduler
// hops per call, which is most of what a gateway adds. https upstreams go
// through net/http's Transport (TLS, HTTP/2).
//
// A connection idle longer than idleTimeout is not reused: servers close
// idle keep-alive connections (uvicorn, behind vLLM, after 5 s), and a
// request written to a connection the server is closing is retried once on
// a new one only when it failed before any byte of a response arrived.
type directTransport struct {
	dialer      net.Dialer
	maxIdle     int
	idleTimeout time.Duration

	mu   sync.Mutex
	idle map[string][]*directConn // by host:port, most recent last
}

type directConn struct {
	net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	lastUsed time.Time
}

func newDirectTransport() *directTransport {
	return &directTransport{
		dialer:      net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second},
		maxIdle:     256,
		idleTimeout: 4 * time.Second,
		idle:        make(map[string][]*directConn),
	}
}

// errConnReused marks a failure on a pooled connection before any byte of
// the response arrived: the server had closed it, and a fresh connection
// may succeed.
var errConnReused = errors.New("pooled connection closed by the server")

// RoundTrip sends req, which must be plain http.
func (t *directTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" {
		return nil, fmt.Errorf("direct transport: scheme %q", req.URL.Scheme)
	}
	addr := req.URL.Host
	if req.URL.Port() == "" {
		addr = net.JoinHostPort(req.URL.Hostname(), "80")
	}
	for try := 0; ; try++ {
		resp, err := t.roundTrip(req, addr)
		if err == nil || !errors.Is(err, errConnReused) || try > 0 {
			return resp, err
		}
		// A request whose body cannot be sent again is not retried.
		if req.Body != nil && req.Body != http.NoBody {
			if req.GetBody == nil {
				return nil, err
			}
			body, gerr := req.GetBody()
			if gerr != nil {
				return nil, err
			}
			req = req.Clone(req.Context())
			req.Body = body
		}
	}
}

func (t *directTransport) roundTrip(req *http.Request, addr string) (*http.Response, error) {
	ctx := req.Context()
	c, reused, err := t.conn(ctx, addr)
	if err != nil {
		return nil, err
	}
	// Cancellation ends blocked reads and writes by moving the deadline.
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })

	fail := func(err error) (*http.Response, error) {
		stop()
		_ = c.Close()
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		if reused {
			return nil, fmt.Errorf("%w: %w", errConnReused, err)
		}
		return nil, err
	}
	if err := req.Write(c.bw); err != nil {
		return fail(err)
	}
	if err := c.bw.Flush(); err != nil {
		return fail(err)
	}
	resp, err := http.ReadResponse(c.br, req)
	if err != nil {
		if c.br.Buffered() > 0 {
			reused = false // the server answered something: not a stale connection
		}
		return fail(err)
	}
	keep := !resp.Close && !req.Close
	resp.Body = &directBody{body: resp.Body, conn: c, t: t, addr: addr, keep: keep, stop: stop}
	return resp, nil
}

// conn returns an idle connection to addr or dials one.
func (t *directTransport) conn(ctx context.Context, addr string) (*directConn, bool, error) {
	now := time.Now()
	t.mu.Lock()
	for list := t.idle[addr]; len(list) > 0; list = t.idle[addr] {
		c := list[len(list)-1]
		t.idle[addr] = list[:len(list)-1]
		if now.Sub(c.lastUsed) < t.idleTimeout {
			t.mu.Unlock()
			return c, true, nil
		}
		_ = c.Close()
	}
	t.mu.Unlock()

	nc, err := t.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	return &directConn{Conn: nc, br: bufio.NewReaderSize(nc, 16<<10), bw: bufio.NewWriterSize(nc, 16<<10)}, false, nil
}

// release returns c to the pool, or closes it when the pool is full.
func (t *directTransport) release(addr string, c *directConn) {
	_ = c.SetDeadline(time.Time{})
	c.lastUsed = time.Now()
	t.mu.Lock()
	if len(t.idle[addr]) < t.maxIdle {
		t.idle[addr] = append(t.idle[addr], c)
		t.mu.Unlock()
		return
	}
	t.mu.Unlock()
	_ = c.Close()
}

// directBody gives the connection back once the body has been read to its
// end and closed; a body closed early takes its connection with it, since
// the rest of the response is still on the wire.
type directBody struct {
	body io.ReadCloser
	conn *directConn
	t    *directTransport
	addr string
	keep bool
	stop func() bool

	once sync.Once
	eof  bool
}

func (b *directBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

func (b *directBody) Close() error {
	err := b.body.Close()
	b.once.Do(func() {
		// stop reports false when cancellation already moved the deadline:
		// the connection is then in an unknown state.
		if b.stop() && b.eof && b.keep {
			b.t.release(b.addr, b.conn)
			return
		}
		_ = b.conn.Close()
	})
	return err
}

// schemeTransport sends http requests through direct and the rest through
// other.
type schemeTransport struct {
	direct *directTransport
	other  http.RoundTripper
}

func (t schemeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && t.direct != nil {
		return t.direct.RoundTrip(req)
	}
	return t.other.RoundTrip(req)
}
