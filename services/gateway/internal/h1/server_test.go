package h1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/keelhq/keel/pkg/httpbody"
)

// start serves h on loopback and returns the server and its address.
func start(t *testing.T, h http.HandlerFunc, configure ...func(*Server)) (*Server, string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 5 * time.Second}
	for _, f := range configure {
		f(srv)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(lis) }()
	t.Cleanup(func() {
		_ = srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return srv, lis.Addr().String()
}

// countConns wraps a client transport's dialer to count connections.
func client(conns *atomic.Int32) *http.Client {
	d := &net.Dialer{}
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if conns != nil {
			conns.Add(1)
		}
		return d.DialContext(ctx, network, addr)
	}}}
}

// raw sends request bytes on a new connection and returns everything the
// server sends until it closes the connection or goes quiet for 2 s.
func raw(t *testing.T, addr, request string) string {
	t.Helper()
	c := dial(t, addr)
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	out, _ := io.ReadAll(c)
	return string(out)
}

// dial connects to addr, closed when the test ends; its reads and writes
// give up after 10 seconds.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

func TestServesKeptAliveConnections(t *testing.T) {
	t.Parallel()
	_, addr := start(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain")
		_, _ = fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.Path, body)
	})
	var conns atomic.Int32
	c := client(&conns)
	for i := range 20 {
		resp, err := c.Post("http://"+addr+"/p/"+fmt.Sprint(i), "text/plain", strings.NewReader("b"+fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		want := fmt.Sprintf("POST /p/%d b%d", i, i)
		if string(body) != want || resp.ContentLength != int64(len(want)) {
			t.Fatalf("request %d: %q (length %d), want %q with its length", i, body, resp.ContentLength, want)
		}
		if resp.Header.Get("Date") == "" {
			t.Error("no Date header")
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 20 requests, want 1", n)
	}
}

// A flushed response reaches the client while the handler still runs, in
// chunks; so does one that outgrows what is held.
func TestStreamsFlushedAndLargeResponses(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	_, addr := start(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/large" {
			_, _ = w.Write([]byte(strings.Repeat("x", 3*holdBytes)))
			return
		}
		_, _ = io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		<-release
		_, _ = io.WriteString(w, "data: two\n\n")
	})
	resp, err := client(nil).Get("http://" + addr + "/sse")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if len(resp.TransferEncoding) == 0 || resp.TransferEncoding[0] != "chunked" {
		t.Errorf("transfer encoding %v, want chunked", resp.TransferEncoding)
	}
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "data: one\n" {
		t.Fatalf("first event before the handler ends: %q, %v", line, err)
	}
	close(release)
	rest, _ := io.ReadAll(br)
	if string(rest) != "\ndata: two\n\n" {
		t.Errorf("rest %q", rest)
	}

	resp, err = client(nil).Get("http://" + addr + "/large")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if len(body) != 3*holdBytes {
		t.Errorf("large body %d bytes, want %d", len(body), 3*holdBytes)
	}
}

// The framing follows what the handler declares, and what the status
// allows.
func TestFraming(t *testing.T) {
	t.Parallel()
	_, addr := start(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/declared":
			w.Header().Set("Content-Length", "5")
			_, _ = io.WriteString(w, "hello")
			if _, err := io.WriteString(w, "!"); !errors.Is(err, http.ErrContentLength) {
				panic(fmt.Sprintf("write past Content-Length: %v", err))
			}
		case "/short":
			w.Header().Set("Content-Length", "10")
			_, _ = io.WriteString(w, "abc")
		case "/nocontent":
			w.WriteHeader(http.StatusNoContent)
			if _, err := io.WriteString(w, "x"); !errors.Is(err, http.ErrBodyNotAllowed) {
				panic(fmt.Sprintf("write on 204: %v", err))
			}
		default:
			_, _ = io.WriteString(w, "<html>hi</html>")
		}
	})
	got := raw(t, addr, "GET /declared HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if !strings.Contains(got, "Content-Length: 5\r\n") || !strings.HasSuffix(got, "\r\n\r\nhello") {
		t.Errorf("declared length:\n%s", got)
	}
	// Fewer bytes than declared: the connection closes after them.
	c := dial(t, addr)
	_, _ = io.WriteString(c, "GET /short HTTP/1.1\r\nHost: x\r\n\r\n")
	short, err := io.ReadAll(c)
	if err != nil || !strings.HasSuffix(string(short), "abc") {
		t.Errorf("short body: %q, %v; want it, then the connection closed", short, err)
	}
	got = raw(t, addr, "GET /nocontent HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if !strings.HasPrefix(got, "HTTP/1.1 204 No Content\r\n") || strings.Contains(got, "Content-Length") ||
		!strings.HasSuffix(got, "\r\n\r\n") {
		t.Errorf("204:\n%s", got)
	}
	got = raw(t, addr, "HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if !strings.Contains(got, "Content-Length: 15\r\n") || !strings.HasSuffix(got, "\r\n\r\n") {
		t.Errorf("HEAD:\n%s", got)
	}
	// HTTP/1.0: the body ends with the connection unless it asked to keep it.
	got = raw(t, addr, "GET / HTTP/1.0\r\n\r\n")
	if !strings.HasPrefix(got, "HTTP/1.1 200 OK\r\n") || !strings.Contains(got, "Connection: close\r\n") {
		t.Errorf("HTTP/1.0:\n%s", got)
	}
}

// Requests that cannot be served are refused with the status net/http
// gives them, and the connection closed.
func TestRefusesMalformedRequests(t *testing.T) {
	t.Parallel()
	var served atomic.Int32
	_, addr := start(t, func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "ok")
	}, func(s *Server) { s.MaxHeaderBytes = 1 << 10 })

	for _, tc := range []struct{ name, request, status string }{
		{"garbage", "HELLO\r\n\r\n", "400"},
		{"no host", "GET / HTTP/1.1\r\n\r\n", "400"},
		{"bad host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", "400"},
		{"bad header value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n", "400"},
		{"two lengths", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", "400"},
		{"bad length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", "400"},
		{"unknown encoding", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", "4"},
		{"headers too large", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 8<<10) + "\r\n\r\n", "431"},
		{"http/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "505"},
		{"expectation", "POST / HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nContent-Length: 1\r\n\r\na", "417"},
		{"expectation beside 100-continue", "POST / HTTP/1.1\r\nHost: x\r\nExpect: foo\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\na", "417"},
		{"expectation in a list", "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue, foo\r\nContent-Length: 1\r\n\r\na", "417"},
		{"bare CR before the request", "\rGET / HTTP/1.1\r\nHost: x\r\n\r\n", "400"},
		// Targets that are no URL (the parser's *url.Error is a net.Error
		// too, yet the client is still there to be told).
		{"bad escape in target", "GET %zz HTTP/1.1\r\nHost: x\r\n\r\n", "400"},
		{"control byte in target", "GET /a\x7f HTTP/1.1\r\nHost: x\r\n\r\n", "400"},
		{"unclosed address in target", "GET http://[::1 HTTP/1.1\r\nHost: x\r\n\r\n", "400"},
	} {
		got := raw(t, addr, tc.request)
		if !strings.HasPrefix(got, "HTTP/1.1 "+tc.status) {
			t.Errorf("%s: got\n%q\nwant status %s", tc.name, got, tc.status)
		}
	}
	if n := served.Load(); n != 0 {
		t.Errorf("handler ran %d times for malformed requests", n)
	}

	// Content-Length beside chunked: the chunked body counts, as in net/http.
	got := raw(t, addr, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\nab\r\n0\r\n\r\n")
	if !strings.HasPrefix(got, "HTTP/1.1 200 OK") || !strings.HasSuffix(got, "ok") {
		t.Errorf("chunked with a length:\n%s", got)
	}
}

// A client waiting for 100 Continue gets it when the handler reads the
// body, and not when the handler answers without reading it.
func TestExpectContinue(t *testing.T) {
	t.Parallel()
	_, addr := start(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/read" {
			body, _ := io.ReadAll(r.Body)
			_, _ = w.Write(body)
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
	})
	c := dial(t, addr)
	br := bufio.NewReader(c)
	_, _ = io.WriteString(c, "POST /read HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
	line, _ := br.ReadString('\n')
	if line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("first line %q, want 100 Continue", line)
	}
	_, _ = br.ReadString('\n')
	_, _ = io.WriteString(c, "abc")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "abc" {
		t.Errorf("body %q", body)
	}

	got := raw(t, addr, "POST /refuse HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
	if !strings.HasPrefix(got, "HTTP/1.1 401") || strings.Contains(got, "100 Continue") || !strings.Contains(got, "Connection: close") {
		t.Errorf("refused before the body:\n%s", got)
	}
}

// A client that closes its connection while the handler runs cancels the
// request's context, also when bytes of another request came after its
// own.
func TestClientGoneCancelsRequest(t *testing.T) {
	t.Parallel()
	for name, after := range map[string]string{"alone": "", "bytes after it": "GE"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cause := make(chan error, 1)
			_, addr := start(t, func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.ReadAll(r.Body)
				select {
				case <-r.Context().Done():
					cause <- context.Cause(r.Context())
				case <-time.After(20 * time.Second):
					cause <- nil
				}
			})
			c := dial(t, addr)
			_, _ = io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"+after)
			time.Sleep(20 * time.Millisecond) // past the watch delay, though any order must work
			_ = c.Close()
			if err := <-cause; !errors.Is(err, errClientGone) {
				t.Errorf("request context ended with %v, want %v", err, errClientGone)
			}
		})
	}
}

// Pipelined requests are answered in order, also when the next one
// arrives while a watched handler runs.
func TestPipelinedRequests(t *testing.T) {
	t.Parallel()
	_, addr := start(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(50 * time.Millisecond) // long enough to be watched
		}
		if err := r.Context().Err(); err != nil {
			t.Errorf("%s: context ended: %v", r.URL.Path, context.Cause(r.Context()))
		}
		_, _ = io.WriteString(w, r.URL.Path)
	})
	c := dial(t, addr)
	br := bufio.NewReader(c)
	_, _ = io.WriteString(c, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
	_, _ = io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(10 * time.Millisecond)
	_, _ = io.WriteString(c, "GET /c HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, want := range []string{"/a", "/b", "/slow", "/c"} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("reading the answer to %s: %v", want, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if string(body) != want {
			t.Errorf("answer %q, want %q", body, want)
		}
	}
}

// A body the handler left unread is dropped to keep the connection when
// small; a large one closes it.
func TestUnreadBodies(t *testing.T) {
	t.Parallel()
	_, addr := start(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ignored")
	})
	var conns atomic.Int32
	c := client(&conns)
	for _, size := range []int{10, 10, maxDrain + 10, 10} {
		resp, err := c.Post("http://"+addr+"/", "text/plain", strings.NewReader(strings.Repeat("b", size)))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.ReadAll(resp.Body)
		_ = resp.Body.Close()
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2 (a new one after the large unread body)", n)
	}
}

// A panicking handler loses its connection, not the server.
func TestHandlerPanic(t *testing.T) {
	t.Parallel()
	_, addr := start(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			panic("boom")
		}
		_, _ = io.WriteString(w, "ok")
	})
	if got := raw(t, addr, "GET /panic HTTP/1.1\r\nHost: x\r\n\r\n"); got != "" {
		t.Errorf("a panicking handler sent %q", got)
	}
	if got := raw(t, addr, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); !strings.HasSuffix(got, "ok") {
		t.Errorf("after a panic: %q", got)
	}
}

// Shutdown lets the request in progress finish, closes idle connections
// and ends Serve.
func TestShutdown(t *testing.T) {
	t.Parallel()
	entered, release := make(chan struct{}), make(chan struct{})
	srv, addr := start(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(entered)
			<-release
		}
		_, _ = io.WriteString(w, "done")
	})
	idle := dial(t, addr)
	answer := make(chan string, 1)
	go func() { answer <- raw(t, addr, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n") }()
	<-entered
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	// The idle connection is closed while the slow request goes on.
	_ = idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := idle.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("idle connection read: %v, want EOF", err)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a request in progress", err)
	default:
	}
	close(release)
	if got := <-answer; !strings.HasSuffix(got, "done") || !strings.Contains(got, "Connection: close") {
		t.Errorf("request in progress got %q", got)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// A client that sends its headers too slowly is cut off.
func TestReadHeaderTimeout(t *testing.T) {
	t.Parallel()
	_, addr := start(t, func(w http.ResponseWriter, r *http.Request) {}, func(s *Server) {
		s.ReadHeaderTimeout = 100 * time.Millisecond
	})
	c := dial(t, addr)
	_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n")
	if _, err := c.Read(make([]byte, 64)); !errors.Is(err, io.EOF) {
		t.Errorf("read on a connection with unfinished headers: %v, want the server to close it", err)
	}
}

// A write deadline a handler sets ends with its response: the next
// request on the connection is answered after it has passed.
func TestWriteDeadlineEndsWithTheResponse(t *testing.T) {
	t.Parallel()
	_, addr := start(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/first" {
			_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
		}
		_, _ = io.WriteString(w, r.URL.Path)
	})
	var conns atomic.Int32
	c := client(&conns)
	for _, path := range []string{"/first", "/second"} {
		resp, err := c.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if string(body) != path {
			t.Errorf("%s: got %q", path, body)
		}
		time.Sleep(100 * time.Millisecond) // past the first response's deadline
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

// http.ResponseController reaches the deadlines and flushes.
func TestResponseController(t *testing.T) {
	t.Parallel()
	_, addr := start(t, func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(time.Now().Add(time.Second)); err != nil {
			t.Errorf("SetWriteDeadline: %v", err)
		}
		if err := rc.SetReadDeadline(time.Now().Add(time.Second)); err != nil {
			t.Errorf("SetReadDeadline: %v", err)
		}
		_, _ = io.WriteString(w, "x")
		if err := rc.Flush(); err != nil {
			t.Errorf("Flush: %v", err)
		}
	})
	if got := raw(t, addr, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); !strings.HasSuffix(got, "1\r\nx\r\n0\r\n\r\n") {
		t.Errorf("flushed response:\n%q", got)
	}
}

// A CRLF after a body, as old clients send, is not taken for a request.
func TestCRLFAfterBody(t *testing.T) {
	t.Parallel()
	_, addr := start(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		_, _ = w.Write(body)
	})
	got := raw(t, addr, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc\r\n"+
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\ndef")
	if strings.Contains(got, "400") || !strings.HasSuffix(got, "def") || strings.Count(got, "200 OK") != 2 {
		t.Errorf("two requests with a CRLF between:\n%s", got)
	}
}

// A HEAD answer, flushed or not, carries no body and no chunk framing, and
// the framing headers are the ones declared with the status.
func TestHeadAndLateHeaders(t *testing.T) {
	t.Parallel()
	_, addr := start(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/flush":
			_, _ = io.WriteString(w, "body")
			w.(http.Flusher).Flush()
		case "/late":
			w.Header().Set("Content-Length", "5")
			w.WriteHeader(http.StatusOK)
			w.Header().Set("Content-Length", "50")
			_, _ = io.WriteString(w, "hello")
		default:
			_, _ = io.WriteString(w, r.URL.Path)
		}
	})
	c := dial(t, addr)
	_, _ = io.WriteString(c, "HEAD /flush HTTP/1.1\r\nHost: x\r\n\r\nGET /late HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(c)
	head, err := http.ReadResponse(br, &http.Request{Method: http.MethodHead})
	if err != nil {
		t.Fatal(err)
	}
	if len(head.TransferEncoding) != 0 {
		t.Errorf("HEAD answer framed %v", head.TransferEncoding)
	}
	for _, want := range []string{"hello", "/after"} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("answer %q: %v", want, err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil || string(body) != want {
			t.Errorf("answer %q, %v; want %q", body, err, want)
		}
	}
}

// An accept that fails (out of file descriptors, say) does not end Serve.
func TestAcceptFailureRetried(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(newFailingListener(lis, 2)) }()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	if got := raw(t, lis.Addr().String(), "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); !strings.HasSuffix(got, "ok") {
		t.Errorf("after failed accepts: %q", got)
	}
}

// failingListener fails its first accepts as a process out of file
// descriptors does.
type failingListener struct {
	net.Listener
	fails atomic.Int32
}

func newFailingListener(lis net.Listener, n int32) *failingListener {
	l := &failingListener{Listener: lis}
	l.fails.Store(n)
	return l
}

func (l *failingListener) Accept() (net.Conn, error) {
	if l.fails.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
	}
	return l.Listener.Accept()
}

// A common request is parsed by readHead, not net/http, and its handler
// gets the request and body net/http would have made of it.
func TestCommonHeadReadHere(t *testing.T) {
	t.Parallel()
	_, addr := start(t, func(w http.ResponseWriter, r *http.Request) {
		var rc io.ReadCloser
		if tb, ok := r.Body.(*trackedBody); ok {
			rc = tb.rc
		}
		if _, ok := rc.(*httpbody.Fixed); !ok {
			t.Errorf("request body %T, want one readHead made", rc)
		}
		body, err := io.ReadAll(r.Body)
		_, _ = fmt.Fprintf(w, "%s %s %s %q %v", r.Method, r.URL, r.Header.Get("X-Stainless-Os"), body, err)
	})
	c := dial(t, addr)
	_, _ = io.WriteString(c, commonHeads["python"])
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	if want := `POST /v1/chat/completions Linux "{}" <nil>`; string(got) != want {
		t.Errorf("handler saw %q, want %q", got, want)
	}
}
