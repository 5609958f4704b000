// Package h1 serves HTTP/1.1 to an http.Handler with less per-request work
// than net/http's server, for the gateway's hot path, where what the server
// adds to a call counts in tens of microseconds.
//
// A request head of the common form (HTTP/1.1, a path as target, a known
// method, one Host, a Content-Length or no body, all of it already read)
// is parsed here, into the request http.ReadRequest would make of it;
// FuzzReadHead holds the two to that. Every other request, malformed ones
// included, is parsed by http.ReadRequest itself, with net/http's
// framing, chunked bodies, rules against smuggling and errors. Beyond
// parsing, what this package does differently is:
//
//   - net/http starts a goroutine per request that reads the connection to
//     notice a client going away, and stops it when the handler returns.
//     Here a handler that has been running for WatchAfter (1 ms by default)
//     gets that watch; one that answers sooner never pays for it. A client
//     that leaves is noticed at most WatchAfter and a tick of the watch
//     clock late (watchclock.go: a tick of 5 ms or WatchAfter).
//   - A response the handler finishes without flushing is sent in one write,
//     with its Content-Length; one that flushes or outgrows the buffer is
//     sent chunked, as net/http does.
//
// It serves HTTP/1.0 and 1.1 in clear text, no HTTP/2, TLS, Hijack or
// pipelined request concurrency (pipelined requests are answered in turn).
// Differences from net/http that Keel's routes do not meet: a request in
// absolute form needs no Host header (net/http's parser drops it, so it is
// not checked either), an empty Host header is refused, an Expect that
// names anything but 100-continue, on any of its lines, gets 417, and
// OPTIONS * reaches the handler.
package h1

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/keelhq/keel/pkg/rawio"
)

// Server serves HTTP/1.x requests on listeners with Handler.
type Server struct {
	Handler http.Handler
	// ReadHeaderTimeout bounds reading a request's headers; ReadTimeout the
	// whole request, body included; IdleTimeout the wait for the next
	// request on a kept-alive connection (ReadHeaderTimeout when zero).
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	IdleTimeout       time.Duration
	// MaxHeaderBytes bounds the request line and headers (1 MiB when zero).
	MaxHeaderBytes int
	// WatchAfter is how long a handler runs before the server watches its
	// connection for the client going away (DefaultWatchAfter when zero),
	// give or take a tick of the watch clock (watchclock.go).
	WatchAfter time.Duration
	// Logger receives handler panics and refused requests.
	Logger *slog.Logger

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	shutdown  atomic.Bool

	// The watch clock (watchclock.go), under clockMu.
	clockMu   sync.Mutex
	running   map[*conn]dueWatch
	clockRun  bool
	clockWake chan struct{} // the running clock's, to end it after shutdown
}

// DefaultWatchAfter is how long a handler runs before its connection is
// watched for the client going away, when Server.WatchAfter is zero.
const DefaultWatchAfter = time.Millisecond

// maxDrain is how much of a request body the handler left unread is read
// and dropped to keep the connection; more, and the connection is closed.
const maxDrain = 256 << 10

// Serve accepts connections on l and serves each on its own goroutine
// until l fails or the server shuts down, when it returns
// http.ErrServerClosed. It closes l when it returns.
func (s *Server) Serve(l net.Listener) error {
	defer l.Close()
	if !s.track(l, true) {
		return http.ErrServerClosed
	}
	defer s.track(l, false)
	var delay time.Duration
	for {
		rwc, err := l.Accept()
		if err != nil {
			if s.shutdown.Load() {
				return http.ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Out of file descriptors and the like: back off and go on, as
			// net/http does; connections closing free what is missing.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.logger().Warn("http accept failed; retrying", "error", err, "delay", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		c := s.newConn(rawio.Wrap(rwc))
		if c == nil {
			_ = rwc.Close()
			continue
		}
		go c.serve()
	}
}

// Shutdown stops accepting connections, closes idle ones, and waits until
// every request in progress has been answered or ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdown.Store(true)
	s.stopClock()
	s.mu.Lock()
	for l := range s.listeners {
		_ = l.Close()
	}
	s.mu.Unlock()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.closeIdle() == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Close stops accepting connections and closes every connection at once.
func (s *Server) Close() error {
	s.shutdown.Store(true)
	s.stopClock()
	s.mu.Lock()
	defer s.mu.Unlock()
	for l := range s.listeners {
		_ = l.Close()
	}
	for c := range s.conns {
		_ = c.rwc.Close()
	}
	return nil
}

func (s *Server) track(l net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.listeners, l)
		return true
	}
	if s.shutdown.Load() {
		return false
	}
	if s.listeners == nil {
		s.listeners = make(map[net.Listener]struct{})
	}
	s.listeners[l] = struct{}{}
	return true
}

func (s *Server) newConn(rwc net.Conn) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown.Load() {
		return nil
	}
	c := &conn{srv: s, rwc: rwc, remoteAddr: rwc.RemoteAddr().String()}
	c.in = &connReader{c: c, left: -1}
	c.br = bufio.NewReaderSize(c.in, 4<<10)
	c.bw = bufio.NewWriterSize(checkedWriter{c}, 4<<10)
	c.idle = true
	if s.conns == nil {
		s.conns = make(map[*conn]struct{})
	}
	s.conns[c] = struct{}{}
	return c
}

// closeIdle closes the connections waiting for a request and returns how
// many connections remain.
func (s *Server) closeIdle() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.idle {
			_ = c.rwc.Close()
			delete(s.conns, c)
		}
	}
	return len(s.conns)
}

// setIdle marks c waiting for a request or serving one; false when the
// server is shutting down, and c is to close. A connection Shutdown closed
// as idle never starts a request.
func (s *Server) setIdle(c *conn, idle bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown.Load() {
		return false
	}
	c.idle = idle
	return true
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// conn is one client connection.
type conn struct {
	srv        *Server
	rwc        net.Conn
	remoteAddr string
	in         *connReader
	br         *bufio.Reader
	bw         *bufio.Writer
	// idle is set while the connection waits for a request (under srv.mu).
	idle bool
	// werr is the first error writing to the client.
	werr error
	// unread is set when the connection closes with a request body not
	// read to its end.
	unread bool

	// The watch for a client going away, under wmu.
	wmu       sync.Mutex
	gen       uint64 // counts requests, so that a late watch clock is ignored
	cancel    context.CancelCauseFunc
	watchDue  bool // the handler has run for WatchAfter
	bodyRead  bool // the request body has been read to its end
	finished  bool // the handler has returned
	watching  bool
	aborting  bool
	watchDone chan struct{}
}

// errClientGone is the cause of a request's context when its client closed
// the connection.
var errClientGone = errors.New("client closed the connection")

func (c *conn) serve() {
	defer func() {
		if c.unread {
			c.closeGently()
		}
		_ = c.rwc.Close()
		c.srv.forget(c)
	}()
	for first := true; ; first = false {
		t0, ok := c.waitForRequest(first)
		if !ok || !c.srv.setIdle(c, false) {
			return
		}
		if !c.serveOne(t0) || !c.srv.setIdle(c, true) {
			return
		}
	}
}

// waitForRequest waits for the first byte of the next request: up to the
// header timeout on a new connection, the idle timeout on a kept one. It
// returns when the request's header time starts: the connection's start
// for the first request, the first byte for the next ones.
func (c *conn) waitForRequest(first bool) (time.Time, bool) {
	start := time.Now()
	d := c.srv.IdleTimeout
	if d == 0 || first {
		d = c.srv.ReadHeaderTimeout
	}
	if d > 0 {
		_ = c.rwc.SetReadDeadline(start.Add(d))
	} else {
		_ = c.rwc.SetReadDeadline(time.Time{})
	}
	// What is read from here to the end of the headers is bounded.
	maxHeader := c.srv.MaxHeaderBytes
	if maxHeader <= 0 {
		maxHeader = 1 << 20
	}
	c.in.left = int64(maxHeader) + 4096 // slack for the request line, as net/http allows
	// Up to two empty lines (CRLF or a bare LF) before a request are
	// dropped, for clients that end a body with one (RFC 9112, 2.2); a
	// lone CR is no line end, and is left to the parser to refuse.
	for dropped := 0; dropped < 4; {
		b, err := c.br.Peek(1)
		if err != nil {
			return start, false
		}
		n := 0
		switch b[0] {
		case '\n':
			n = 1
		case '\r':
			if b, err = c.br.Peek(2); err != nil {
				return start, false
			}
			if b[1] == '\n' {
				n = 2
			}
		}
		if n == 0 {
			break
		}
		_, _ = c.br.Discard(n)
		dropped += n
	}
	if _, err := c.br.Peek(1); err != nil {
		return start, false
	}
	if !first {
		start = time.Now()
	}
	return start, true
}

// serveOne reads one request and answers it; it reports whether the
// connection can carry another.
func (c *conn) serveOne(t0 time.Time) bool {
	if d := c.srv.ReadHeaderTimeout; d > 0 {
		_ = c.rwc.SetReadDeadline(t0.Add(d))
	} else {
		_ = c.rwc.SetReadDeadline(time.Time{})
	}
	req := readHead(c.br)
	if req == nil {
		if req = c.readRequest(); req == nil {
			return false
		}
	}
	c.in.left = -1 // the header's bound is over
	var deadline time.Time
	if d := c.srv.ReadTimeout; d > 0 {
		deadline = t0.Add(d)
	}
	_ = c.rwc.SetReadDeadline(deadline)

	w := newResponse(c, req)
	switch expectation(req.Header["Expect"]) {
	case "":
	case "100-continue":
		// An HTTP/1.0 client gets no 100 Continue, as in net/http.
		w.sendContinue = req.ProtoAtLeast(1, 1) && req.ContentLength != 0
	default:
		w.closeAfter = true
		w.WriteHeader(http.StatusExpectationFailed)
		_ = w.finish()
		c.unread = req.ContentLength != 0
		return false
	}

	ctx, cancel := context.WithCancelCause(context.Background())
	c.wmu.Lock()
	c.gen++
	gen := c.gen
	c.cancel, c.watchDue, c.bodyRead, c.finished = cancel, false, false, false
	c.wmu.Unlock()
	body := &trackedBody{rc: req.Body, w: w, eof: req.Body == http.NoBody}
	if body.eof {
		c.markBodyRead()
	} else {
		req.Body = body
	}
	req.RemoteAddr = c.remoteAddr
	req = req.WithContext(ctx)
	w.req = req

	c.srv.watchLater(c, gen)
	ok := c.runHandler(w, req)
	c.srv.watchNoMore(c)
	c.stopWatch()
	if ok {
		if err := w.finish(); err != nil {
			ok = false
		}
	}
	cancel(context.Canceled)
	// A write deadline the handler set ends with its response.
	_ = c.rwc.SetWriteDeadline(time.Time{})
	c.unread = !body.eof
	if !ok || w.closeAfter || c.werr != nil {
		return false
	}
	// What the handler left of the body is read and dropped, up to
	// maxDrain; a larger remainder closes the connection.
	if !body.eof {
		n, err := io.CopyN(io.Discard, body.rc, maxDrain+1)
		if n > maxDrain || (err != nil && err != io.EOF) {
			return false
		}
		c.unread = false
	}
	return true
}

// expectation reads the Expect field lines: "" when they name nothing,
// "100-continue" when they name only that, anything else otherwise. A
// server may refuse any other expectation (RFC 9110, 10.1.1), and one it
// does not meet must not pass as met beside a 100-continue.
func expectation(lines []string) string {
	var got string
	for _, line := range lines {
		for member := range strings.SplitSeq(line, ",") {
			switch member = textproto.TrimString(member); {
			case member == "":
			case strings.EqualFold(member, "100-continue"):
				got = "100-continue"
			default:
				return member
			}
		}
	}
	return got
}

// readRequest reads a head readHead left with net/http's parser, and
// checks what readHead checks as it reads: HTTP/1.x, a valid Host, header
// fields without bad bytes. It answers a request it refuses, and returns
// nil for it.
func (c *conn) readRequest() *http.Request {
	req, err := http.ReadRequest(c.br)
	tooLarge := c.in.left == 0
	c.in.left = -1
	if err != nil {
		switch {
		case tooLarge:
			c.refuse(http.StatusRequestHeaderFieldsTooLarge, "request headers too large")
		case isNetError(err):
			// The client went away or was too slow: nothing to answer.
		default:
			// The parser's message quotes the input: it is logged, not sent.
			c.srv.logger().Debug("http request unreadable", "error", err, "remote", c.remoteAddr)
			c.refuse(http.StatusBadRequest, "")
		}
		return nil
	}
	if req.ProtoMajor != 1 {
		c.refuse(http.StatusHTTPVersionNotSupported, "unsupported protocol version")
		return nil
	}
	if msg := invalid(req); msg != "" {
		c.refuse(http.StatusBadRequest, msg)
		return nil
	}
	return req
}

// lingerTimeout bounds how long a connection closing with a request body
// still arriving keeps reading it.
const lingerTimeout = 500 * time.Millisecond

// closeGently ends a connection whose client may still be sending a body:
// it says it is done writing, then reads and drops what comes for a while,
// so that closing does not reset the connection before the client has read
// its answer.
func (c *conn) closeGently() {
	cw, ok := c.rwc.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	_ = c.rwc.SetReadDeadline(time.Now().Add(lingerTimeout))
	_, _ = io.Copy(io.Discard, io.LimitReader(c.rwc, 4<<20))
}

// runHandler calls the handler, and reports false when it panicked: its
// response is then cut off and the connection closed.
func (c *conn) runHandler(w *response, req *http.Request) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			ok = false
			if p != http.ErrAbortHandler {
				c.srv.logger().Error("http handler panic", "path", req.URL.Path,
					"panic", p, "stack", string(debug.Stack()))
			}
		}
	}()
	c.srv.Handler.ServeHTTP(w, req)
	return true
}

// refuse answers a request that could not be read, with msg (the
// server's own words) when not empty, and closes gently: the rest of the
// request may still be arriving.
func (c *conn) refuse(code int, msg string) {
	body := statusLine(code)
	if msg != "" {
		body += ": " + sanitize(msg)
	}
	_ = c.rwc.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = io.WriteString(c.bw, "HTTP/1.1 "+statusLine(code)+"\r\nContent-Type: text/plain; charset=utf-8\r\n"+
		"X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n"+body)
	_ = c.bw.Flush()
	c.unread = true
}

// invalid returns why req's headers are malformed, or "".
func invalid(req *http.Request) string {
	if req.ProtoAtLeast(1, 1) && req.Host == "" && req.Method != "CONNECT" {
		return "missing required Host header"
	}
	if req.Host != "" && !httpguts.ValidHostHeader(req.Host) {
		return "malformed Host header"
	}
	for k, vv := range req.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return "invalid header name"
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return "invalid header value"
			}
		}
	}
	return ""
}

func isNetError(err error) bool {
	// A request target that is no URL comes back from the parser as a
	// *url.Error, which is also a net.Error: that one is a bad request.
	var ue *url.Error
	if errors.As(err, &ue) {
		return false
	}
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ne) ||
		errors.Is(err, net.ErrClosed)
}

// The watch: once the handler has run for WatchAfter and the request body
// has been read (before, the handler's own reads would notice), a goroutine
// reads the connection; an error there means the client has gone, and the
// request's context is cancelled. A byte there is the start of a pipelined
// request, kept for the next read after what the bufio.Reader holds.

func (c *conn) watchIsDue(gen uint64) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if gen != c.gen {
		return
	}
	c.watchDue = true
	c.startWatchLocked()
}

// bodyDone reports whether the request body has been read to its end.
func (c *conn) bodyDone() bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.bodyRead
}

func (c *conn) markBodyRead() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.bodyRead = true
	c.startWatchLocked()
}

func (c *conn) startWatchLocked() {
	if !c.watchDue || !c.bodyRead || c.finished || c.watching || c.in.hasByte {
		return
	}
	c.watching = true
	c.watchDone = make(chan struct{})
	_ = c.rwc.SetReadDeadline(time.Time{})
	go c.watch(c.cancel, c.watchDone)
}

func (c *conn) watch(cancel context.CancelCauseFunc, done chan struct{}) {
	defer close(done)
	n, err := c.rwc.Read(c.in.byteBuf[:])
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.watching = false
	if n == 1 {
		c.in.hasByte = true
	}
	if err != nil && !c.aborting {
		cancel(errClientGone)
	}
}

// stopWatch ends the watch when the handler returns.
func (c *conn) stopWatch() {
	c.wmu.Lock()
	c.finished = true
	if !c.watching {
		c.wmu.Unlock()
		return
	}
	c.aborting = true
	done := c.watchDone
	_ = c.rwc.SetReadDeadline(time.Unix(1, 0))
	c.wmu.Unlock()
	<-done
	c.wmu.Lock()
	c.aborting = false
	c.wmu.Unlock()
	_ = c.rwc.SetReadDeadline(time.Time{})
}

// connReader reads the connection for the bufio.Reader: first a byte the
// watch took, and within a limit while headers are read.
type connReader struct {
	c       *conn
	left    int64 // bytes allowed; negative: no limit
	hasByte bool
	byteBuf [1]byte
}

func (r *connReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if r.left == 0 {
		return 0, io.EOF
	}
	if r.left > 0 && int64(len(p)) > r.left {
		p = p[:r.left]
	}
	if r.hasByte {
		r.hasByte = false
		p[0] = r.byteBuf[0]
		if r.left > 0 {
			r.left--
		}
		return 1, nil
	}
	n, err := r.c.rwc.Read(p)
	if r.left > 0 {
		r.left -= int64(n)
	}
	return n, err
}

// checkedWriter writes to the connection and remembers the first failure,
// which cancels the request: the client cannot get its answer.
type checkedWriter struct{ c *conn }

func (w checkedWriter) Write(p []byte) (int, error) {
	n, err := w.c.rwc.Write(p)
	if err != nil && w.c.werr == nil {
		w.c.werr = err
		w.c.wmu.Lock()
		if w.c.cancel != nil {
			w.c.cancel(errClientGone)
		}
		w.c.wmu.Unlock()
	}
	return n, err
}

// trackedBody is a request body that tells the connection when it has
// been read to its end, and sends 100 Continue before the first read when
// the client waits for it.
type trackedBody struct {
	rc  io.ReadCloser
	w   *response
	eof bool
}

func (b *trackedBody) Read(p []byte) (int, error) {
	if b.w.sendContinue {
		b.w.writeContinue()
	}
	n, err := b.rc.Read(p)
	if err == io.EOF && !b.eof {
		b.eof = true
		b.w.c.markBodyRead()
	}
	return n, err
}

func (b *trackedBody) Close() error { return nil }
