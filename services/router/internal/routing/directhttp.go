package routing

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"golang.org/x/net/http/httpguts"

	"github.com/keelhq/keel/pkg/rawio"
)

// directTransport sends plaintext HTTP/1.1 requests on the calling
// goroutine: it writes the request and reads the response itself over a
// pooled keep-alive connection, where net/http's Transport hands each
// request to two goroutines of the connection and back. On loopback and LAN
// upstreams (a local mock, vLLM, Ollama) those hand-offs are a large part
// of what a gateway adds to a call. https upstreams, requests a proxy
// applies to, and request bodies over maxDirectBody or of unknown length go
// through net/http's Transport (TLS, HTTP/2, proxies, and a reader that
// sees an early answer while a large body is still being sent).
//
// Nothing reads a pooled connection while it waits, so the transport makes
// sure no byte that came before a request is taken for its answer: interim
// 1xx responses are read past, a connection with bytes left over after its
// response is closed, and before reuse the socket is peeked without
// blocking: anything there (stray bytes, or the server's close) retires the
// connection. What a server sends unasked after the next request has gone
// out cannot be told from its answer, here or in any HTTP/1.1 client.
// Connections idle longer than idleTimeout are closed, since servers close
// idle keep-alive connections themselves (uvicorn, behind vLLM, after 5 s).
type directTransport struct {
	dialer         net.Dialer
	maxIdle        int
	idleTimeout    time.Duration
	maxHeaderBytes int64

	mu      sync.Mutex
	idle    map[string][]*directConn // by host:port, most recent last
	sweeper *time.Timer              // closes connections idle too long
}

type directConn struct {
	net.Conn
	in       *meteredReader
	br       *bufio.Reader
	bw       *bufio.Writer
	body     boundedWriter // a request body goes through it: its length, not a byte more
	lastUsed time.Time
}

func newDirectTransport() *directTransport {
	return &directTransport{
		dialer:         net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second},
		maxIdle:        256,
		idleTimeout:    4 * time.Second,
		maxHeaderBytes: 1 << 20,
		idle:           make(map[string][]*directConn),
	}
}

// maxInterim bounds the 1xx responses read past before the final one.
const maxInterim = 8

// maxDirectBody is the largest request body sent directly; a server may
// answer a larger one early (413) and stop reading it, which only a
// transport reading while it writes sees.
const maxDirectBody = 256 << 10

// direct reports whether req can go through the direct transport. A body
// of length 0 that is not http.NoBody is one of unknown length to
// net/http, which would send it chunked: it goes to net/http's Transport.
func direct(req *http.Request) bool {
	return req.URL.Scheme == "http" &&
		(req.Body == nil || req.Body == http.NoBody || (req.ContentLength > 0 && req.ContentLength <= maxDirectBody))
}

// errNothingWritten marks a request that could not be written to a pooled
// connection: the server had closed it, and never saw the request.
var errNothingWritten = errors.New("pooled connection closed by the server before the request was sent")

// RoundTrip sends req, which must be plain http. A request that could not
// be written to a pooled connection is sent once more on a new one when its
// body can be sent again; one that was written is never sent twice, as in
// net/http: the server may have acted on it.
func (t *directTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" {
		closeBody(req)
		return nil, fmt.Errorf("direct transport: scheme %q", req.URL.Scheme)
	}
	plain, err := checkRequest(req)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	addr := req.URL.Host
	if req.URL.Port() == "" {
		addr = net.JoinHostPort(req.URL.Hostname(), "80")
	}
	resp, err := t.roundTrip(req, addr, plain, false)
	if err == nil || !errors.Is(err, errNothingWritten) {
		return resp, err
	}
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
	return t.roundTrip(req, addr, plain, true)
}

// closeBody closes the body of a request that goes no further: a
// RoundTripper closes it, on errors too.
func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

func (t *directTransport) roundTrip(req *http.Request, addr string, plain, fresh bool) (*http.Response, error) {
	ctx := req.Context()
	c, reused, err := t.conn(ctx, addr, fresh)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	// Cancellation ends blocked reads and writes by moving the deadline.
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })

	fail := func(err error) (*http.Response, error) {
		stop()
		_ = c.Close()
		if ctxErr := context.Cause(ctx); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, err
	}
	if plain {
		err = c.writeRequest(req)
	} else {
		err = req.Write(c.bw)
	}
	if err != nil {
		return fail(err)
	}
	if err := c.bw.Flush(); err != nil {
		if reused && closedByPeer(err) {
			err = fmt.Errorf("%w: %w", errNothingWritten, err)
		}
		return fail(err)
	}
	c.in.limit(t.maxHeaderBytes)
	var resp *http.Response
	for interim := 0; ; interim++ {
		resp, err = readResponse(c.br, req)
		if err != nil {
			if c.in.left == 0 {
				err = errHeadersTooLarge
			}
			return fail(err)
		}
		if resp.StatusCode < 100 {
			return fail(fmt.Errorf("malformed status %d", resp.StatusCode))
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
		if interim == maxInterim {
			return fail(fmt.Errorf("more than %d interim responses", maxInterim))
		}
	}
	c.in.limit(-1)
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// The router never asks a provider to switch protocols.
		return fail(errors.New("server switched protocols unasked"))
	}
	keep := !resp.Close && !req.Close
	if resp.Body == http.NoBody {
		t.finish(addr, c, keep, stop)
		return resp, nil
	}
	resp.Body = &directBody{body: resp.Body, ctx: ctx, conn: c, t: t, addr: addr, keep: keep, stop: stop}
	return resp, nil
}

// closedByPeer reports whether err is what a write to a connection the
// server has closed returns.
func closedByPeer(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// checkRequest refuses, before anything is written, a request net/http's
// Transport would refuse or that would change meaning on the wire: a method
// or header field name that is not a token, a header value with CR, LF or
// NUL (which req.Write would turn into spaces), a bad Host or a
// request-target with spaces or control bytes. It reports whether
// writeRequest can write the request: the plain requests the providers
// make. Anything unusual (chunked or trailers, a body of unannounced
// length, Expect, CONNECT, a Host net/http would rewrite, header names not
// in canonical form) goes through req.Write.
func checkRequest(req *http.Request) (plain bool, err error) {
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	// A method is a token, as a header field name is.
	if !httpguts.ValidHeaderFieldName(method) {
		return false, fmt.Errorf("direct transport: invalid method %q", method)
	}
	if method != http.MethodConnect { // whose target req.Write takes from the Host
		path, query, _ := requestTarget(req.URL)
		if !cleanTarget(path) || !cleanTarget(query) {
			return false, errors.New("direct transport: space or control byte in the request URI")
		}
	}
	plain = method != http.MethodConnect && len(req.TransferEncoding) == 0 && len(req.Trailer) == 0
	for k, vv := range req.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return false, fmt.Errorf("direct transport: invalid header field name %q", k)
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				// The value may be a secret: it stays out of the error.
				return false, fmt.Errorf("direct transport: invalid header field value for %q", k)
			}
		}
		if ck := textproto.CanonicalMIMEHeaderKey(k); ck != k {
			// req.Write leaves out or writes itself the headers it
			// manages by their canonical names only: another spelling
			// would go out as well as its own.
			if managedHeader(ck) {
				return false, fmt.Errorf("direct transport: header %q spelled %q", ck, k)
			}
			plain = false
		}
		plain = plain && k != "Expect"
	}
	switch {
	case !plain:
		return false, nil
	case req.Body == nil || req.Body == http.NoBody:
		if req.ContentLength != 0 {
			return false, nil
		}
	case req.ContentLength <= 0:
		// A body of unknown length: net/http reads ahead or sends it chunked.
		return false, nil
	default:
		// What http.NewRequest makes of a bytes or strings Reader: it is
		// written in one piece, with no copy buffer.
		if _, ok := req.Body.(io.WriterTo); !ok {
			return false, nil
		}
	}
	host := requestHost(req)
	for i := range len(host) {
		if host[i] == '%' || host[i] >= utf8.RuneSelf {
			// net/http drops an IPv6 zone and sends an IDN in punycode.
			return false, nil
		}
	}
	if !httpguts.ValidHostHeader(host) {
		return false, fmt.Errorf("direct transport: invalid Host %q", host)
	}
	return true, nil
}

// requestHost is what net/http sends as Host.
func requestHost(req *http.Request) string {
	if req.Host != "" {
		return req.Host
	}
	return req.URL.Host
}

// requestTarget is u.RequestURI() in parts: the path, and the query when
// hasQuery, so that writing it allocates nothing.
func requestTarget(u *url.URL) (path, query string, hasQuery bool) {
	if u.Opaque != "" {
		return u.RequestURI(), "", false
	}
	path = u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return path, u.RawQuery, u.ForceQuery || u.RawQuery != ""
}

// cleanTarget reports whether s can go in a request line: a space would
// end the target early, and control bytes have no place in it.
func cleanTarget(s string) bool {
	for i := range len(s) {
		if s[i] <= ' ' || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// defaultUserAgent is what req.Write sent for a request without one; the
// upstreams see no change.
const defaultUserAgent = "Go-http-client/1.1"

// writeRequest writes req, which checkRequest found plain, as req.Write
// would, straight into the connection's buffer: req.Write copies and sorts
// the header and formats each line, a few percent of what a call costs.
// The body is closed, as a RoundTripper must.
func (c *directConn) writeRequest(req *http.Request) error {
	c.writeHead(req)
	if req.Body == nil {
		return nil
	}
	var err error
	if n := req.ContentLength; n > 0 {
		c.body = boundedWriter{w: c.bw, left: n}
		var sent int64
		sent, err = req.Body.(io.WriterTo).WriteTo(&c.body)
		if err == nil && sent != n {
			err = fmt.Errorf("direct transport: request body of %d bytes, Content-Length %d", sent, n)
		}
	}
	if cerr := req.Body.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeHead writes the request line and header; the buffer keeps any
// write error for the flush.
func (c *directConn) writeHead(req *http.Request) {
	w := c.bw
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	path, query, hasQuery := requestTarget(req.URL)
	_, _ = w.WriteString(method)
	_ = w.WriteByte(' ')
	_, _ = w.WriteString(path)
	if hasQuery {
		_ = w.WriteByte('?')
		_, _ = w.WriteString(query)
	}
	_, _ = w.WriteString(" HTTP/1.1\r\nHost: ")
	_, _ = w.WriteString(requestHost(req))
	_, _ = w.WriteString("\r\n")

	// A User-Agent header with no value, or an empty one, asks for none.
	ua := defaultUserAgent
	if vv, ok := req.Header["User-Agent"]; ok {
		ua = ""
		if len(vv) > 0 {
			ua = textproto.TrimString(vv[0])
		}
	}
	if ua != "" {
		writeField(w, "User-Agent", ua)
	}
	if req.Close && !httpguts.HeaderValuesContainsToken(req.Header["Connection"], "close") {
		_, _ = w.WriteString("Connection: close\r\n")
	}
	// Servers expect a length on these methods even when it is 0.
	if n := req.ContentLength; n > 0 || method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
		_, _ = w.WriteString("Content-Length: ")
		_, _ = w.Write(strconv.AppendInt(w.AvailableBuffer(), n, 10))
		_, _ = w.WriteString("\r\n")
	}

	// Sorted, as net/http does: the same request makes the same bytes.
	var room [16]string
	keys := room[:0]
	for k := range req.Header {
		if !managedHeader(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range req.Header[k] {
			writeField(w, k, textproto.TrimString(v))
		}
	}
	_, _ = w.WriteString("\r\n")
}

// managedHeader reports whether the header k is written from the request's
// fields, or not at all, whatever the header map holds.
func managedHeader(k string) bool {
	switch k {
	case "Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer":
		return true
	}
	return false
}

func writeField(w *bufio.Writer, name, value string) {
	_, _ = w.WriteString(name)
	_, _ = w.WriteString(": ")
	_, _ = w.WriteString(value)
	_, _ = w.WriteString("\r\n")
}

// boundedWriter takes no more than left bytes: a body longer than its
// Content-Length would otherwise put its extra bytes on the connection,
// where the server reads them as the next request.
type boundedWriter struct {
	w    io.Writer
	left int64
}

var errBodyTooLong = errors.New("direct transport: request body longer than its Content-Length")

func (b *boundedWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > b.left {
		return 0, errBodyTooLong
	}
	n, err := b.w.Write(p)
	b.left -= int64(n)
	return n, err
}

// conn returns an idle connection to addr that nothing has been sent on
// since its last response, or dials one (always when fresh).
func (t *directTransport) conn(ctx context.Context, addr string, fresh bool) (*directConn, bool, error) {
	now := time.Now()
	for !fresh {
		t.mu.Lock()
		list := t.idle[addr]
		if len(list) == 0 {
			t.mu.Unlock()
			break
		}
		c := list[len(list)-1]
		t.idle[addr] = list[:len(list)-1]
		t.mu.Unlock()
		if now.Sub(c.lastUsed) < t.idleTimeout && rawio.Quiet(c.Conn) {
			return c, true, nil
		}
		_ = c.Close()
	}

	nc, err := t.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	nc = rawio.Wrap(nc)
	in := &meteredReader{r: nc, left: -1}
	return &directConn{Conn: nc, in: in, br: bufio.NewReaderSize(in, 16<<10), bw: bufio.NewWriterSize(nc, 16<<10)}, false, nil
}

// finish settles the connection of a response read to its end: back to the
// pool when it can carry another request, closed otherwise. stop reports
// false when cancellation already moved the deadline: the connection is
// then in an unknown state.
func (t *directTransport) finish(addr string, c *directConn, keep bool, stop func() bool) {
	if !stop() || !keep || c.br.Buffered() > 0 {
		_ = c.Close()
		return
	}
	_ = c.SetDeadline(time.Time{})
	c.lastUsed = time.Now()
	t.mu.Lock()
	list := t.idle[addr]
	// The oldest connection goes when it has waited too long or the pool is
	// full; pools shrink as traffic falls without a sweeper.
	if len(list) > 0 && (len(list) >= t.maxIdle || c.lastUsed.Sub(list[0].lastUsed) >= t.idleTimeout) {
		_ = list[0].Close()
		list = list[1:]
	}
	t.idle[addr] = append(list, c)
	if t.sweeper == nil {
		t.sweeper = time.AfterFunc(t.idleTimeout, t.sweep)
	}
	t.mu.Unlock()
}

// sweep closes the connections idle longer than idleTimeout, which the
// servers have likely closed (they would sit in CLOSE-WAIT otherwise), and
// comes back while any are left.
func (t *directTransport) sweep() {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	left := 0
	for addr, list := range t.idle {
		keep := list[:0]
		for _, c := range list {
			if now.Sub(c.lastUsed) >= t.idleTimeout {
				_ = c.Close()
				continue
			}
			keep = append(keep, c)
		}
		if len(keep) == 0 {
			delete(t.idle, addr)
			continue
		}
		t.idle[addr] = keep
		left += len(keep)
	}
	t.sweeper = nil
	if left > 0 {
		t.sweeper = time.AfterFunc(t.idleTimeout, t.sweep)
	}
}

// CloseIdleConnections closes the pooled connections.
func (t *directTransport) CloseIdleConnections() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sweeper != nil {
		t.sweeper.Stop()
		t.sweeper = nil
	}
	for addr, list := range t.idle {
		for _, c := range list {
			_ = c.Close()
		}
		delete(t.idle, addr)
	}
}

// directBody gives the connection back once the body has been read to its
// end and closed; a body closed early takes its connection with it, since
// the rest of the response is still on the wire.
type directBody struct {
	body io.ReadCloser
	ctx  context.Context
	conn *directConn
	t    *directTransport
	addr string
	keep bool
	stop func() bool

	// failed is set by a read that failed: a body cut short reads
	// io.EOF after io.ErrUnexpectedEOF, and is not at its end.
	failed bool
	once   sync.Once
	eof    atomic.Bool
}

func (b *directBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	switch {
	case err == io.EOF:
		if !b.failed {
			b.eof.Store(true)
		}
	case err != nil:
		b.failed = true
		if b.ctx.Err() != nil {
			// The deadline cancellation set is the cause, not the network.
			err = context.Cause(b.ctx)
		}
	}
	return n, err
}

func (b *directBody) Close() error {
	var err error
	b.once.Do(func() {
		if b.eof.Load() {
			err = b.body.Close() // nothing left to read: it touches no connection
			b.t.finish(b.addr, b.conn, b.keep, b.stop)
			return
		}
		b.stop()
		_ = b.conn.Close()
		_ = b.body.Close()
	})
	return err
}

// meteredReader bounds what may be read from a connection while a limit is
// set: response headers, whose size the server chooses.
type meteredReader struct {
	r    io.Reader
	left int64 // negative: no limit
}

var errHeadersTooLarge = errors.New("response headers too large")

func (m *meteredReader) limit(n int64) { m.left = n }

func (m *meteredReader) Read(p []byte) (int, error) {
	if m.left < 0 {
		return m.r.Read(p)
	}
	if m.left == 0 {
		return 0, errHeadersTooLarge
	}
	if int64(len(p)) > m.left {
		p = p[:m.left]
	}
	n, err := m.r.Read(p)
	m.left -= int64(n)
	return n, err
}

// schemeTransport sends plain http requests with small bodies through
// direct and the rest, and any request proxy applies to, through other.
type schemeTransport struct {
	direct *directTransport
	other  http.RoundTripper
	proxy  func(*http.Request) (*url.URL, error)
}

func (t schemeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.direct != nil && direct(req) && !t.proxied(req) {
		return t.direct.RoundTrip(req)
	}
	return t.other.RoundTrip(req)
}

func (t schemeTransport) proxied(req *http.Request) bool {
	if t.proxy == nil {
		return false
	}
	u, err := t.proxy(req)
	return err != nil || u != nil
}

// CloseIdleConnections closes both transports' pooled connections.
func (t schemeTransport) CloseIdleConnections() {
	if t.direct != nil {
		t.direct.CloseIdleConnections()
	}
	if c, ok := t.other.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
