package routing

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// countingServer is an httptest server that counts the connections made
// to it.
func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

func post(t *testing.T, client *http.Client, ctx context.Context, url, body string) (string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return string(out), err
}

func TestDirectTransportReusesConnections(t *testing.T) {
	t.Parallel()

	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Query().Get("chunked") != "" {
			for _, part := range []string{"a", "b", "c"} {
				_, _ = io.WriteString(w, part)
				w.(http.Flusher).Flush()
			}
			return
		}
		_, _ = fmt.Fprintf(w, "echo %s", body)
	})
	client := &http.Client{Transport: newDirectTransport()}
	for i := range 10 {
		got, err := post(t, client, context.Background(), srv.URL, fmt.Sprint(i))
		if err != nil || got != fmt.Sprintf("echo %d", i) {
			t.Fatalf("request %d: %q, %v", i, got, err)
		}
		got, err = post(t, client, context.Background(), srv.URL+"?chunked=1", "")
		if err != nil || got != "abc" {
			t.Fatalf("chunked request %d: %q, %v", i, got, err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("connections = %d, want 1 kept alive", n)
	}
}

func TestDirectTransportConcurrent(t *testing.T) {
	t.Parallel()

	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		_, _ = w.Write(body)
	})
	client := &http.Client{Transport: newDirectTransport()}
	var wg sync.WaitGroup
	errs := make(chan error, 16*50)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				want := fmt.Sprintf("%d-%d", g, i)
				if got, err := post(t, client, context.Background(), srv.URL, want); err != nil || got != want {
					errs <- fmt.Errorf("%s: got %q, %v", want, got, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := conns.Load(); n > 16 {
		t.Errorf("connections = %d, want at most one per client", n)
	}
}

// TestDirectTransportStaleConnection: a server that closes each connection
// after one response without saying so; the next request finds the pooled
// connection closed before it is sent, and goes on a new one.
func TestDirectTransportStaleConnection(t *testing.T) {
	t.Parallel()

	var served atomic.Int32
	closed := make(chan struct{}, 1)
	url, _ := rawServer(t, func(c net.Conn, _ *http.Request) {
		served.Add(1)
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		_ = c.Close()
		closed <- struct{}{}
	})
	client := &http.Client{Transport: newDirectTransport()}
	for i := range 5 {
		if got, err := post(t, client, context.Background(), url+"/", "x"); err != nil || got != "ok" {
			t.Fatalf("request %d: %q, %v", i, got, err)
		}
		<-closed
	}
	if n := served.Load(); n != 5 {
		t.Errorf("server answered %d requests, want 5 (each once)", n)
	}
}

// TestDirectTransportNeverSendsTwice: a request written to a connection the
// server then drops, having started to answer or not, fails; it is not
// sent again, since the server may have acted on it.
func TestDirectTransportNeverSendsTwice(t *testing.T) {
	t.Parallel()

	var served atomic.Int32
	url, _ := rawServer(t, func(c net.Conn, req *http.Request) {
		served.Add(1)
		switch req.URL.Path {
		case "/partial":
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n")
			_ = c.Close()
		case "/silent":
			_ = c.Close()
		default:
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	client := &http.Client{Transport: newDirectTransport()}
	for _, path := range []string{"/partial", "/silent"} {
		if got, err := post(t, client, context.Background(), url+"/warm", "x"); err != nil || got != "ok" {
			t.Fatalf("warming a connection: %q, %v", got, err)
		}
		before := served.Load()
		if got, err := post(t, client, context.Background(), url+path, "x"); err == nil {
			t.Errorf("%s: got %q, want an error", path, got)
		}
		if n := served.Load() - before; n != 1 {
			t.Errorf("%s reached the server %d times, want once", path, n)
		}
	}
}

// TestDirectTransportSweepsIdleConnections: connections idle past the idle
// timeout are closed without waiting for another request.
func TestDirectTransportSweepsIdleConnections(t *testing.T) {
	t.Parallel()

	closed := make(chan struct{}, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closed <- struct{}{}
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	tr := newDirectTransport()
	tr.idleTimeout = 50 * time.Millisecond
	if got, err := post(t, &http.Client{Transport: tr}, context.Background(), srv.URL, ""); err != nil || got != "ok" {
		t.Fatalf("request: %q, %v", got, err)
	}
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the idle connection was never closed")
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if len(tr.idle) != 0 {
		t.Errorf("pool still holds %v", tr.idle)
	}
}

func TestDirectTransportCancel(t *testing.T) {
	t.Parallel()

	release := make(chan struct{})
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hang" {
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	t.Cleanup(func() { close(release) })
	client := &http.Client{Transport: newDirectTransport()}

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/hang", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(resp.Body)
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("reading a hanging body after cancel: %v, want %v", err, context.Canceled)
	}
	_ = resp.Body.Close()

	// The cancelled connection is not reused.
	if got, err := post(t, client, context.Background(), srv.URL+"/ok", ""); err != nil || got != "ok" {
		t.Fatalf("after cancel: %q, %v", got, err)
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("connections = %d, want 2 (the cancelled one was dropped)", n)
	}

	// A body closed before its end takes its connection with it too.
	req, _ = http.NewRequest(http.MethodGet, srv.URL+"/ok", nil)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if _, err := post(t, client, context.Background(), srv.URL+"/ok", ""); err != nil {
		t.Fatal(err)
	}
	if n := conns.Load(); n != 3 {
		t.Errorf("connections = %d, want 3", n)
	}
}

func TestSchemeTransportSendsHTTPSThroughTheOther(t *testing.T) {
	t.Parallel()

	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "tls")
	}))
	t.Cleanup(srv.Close)
	client := &http.Client{Transport: schemeTransport{direct: newDirectTransport(), other: srv.Client().Transport}}
	if got, err := post(t, client, context.Background(), srv.URL, ""); err != nil || got != "tls" {
		t.Errorf("https request: %q, %v", got, err)
	}
	if _, err := newDirectTransport().RoundTrip(httptest.NewRequest(http.MethodGet, srv.URL, nil)); err == nil ||
		errors.Is(err, context.Canceled) {
		t.Errorf("direct transport took an https request: %v", err)
	}
}

// rawServer answers each request on a loopback connection with answer,
// which writes to the connection as it is (what it leaves of the body is
// read after it); it counts the connections made.
func rawServer(t *testing.T, answer func(c net.Conn, req *http.Request)) (string, *atomic.Int32) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lis.Close() })
	var conns atomic.Int32
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					answer(c, req)
					_, _ = io.Copy(io.Discard, req.Body)
				}
			}()
		}
	}()
	return "http://" + lis.Addr().String(), &conns
}

// TestDirectTransportInterimResponses: 1xx responses before the answer are
// read past, and the connection stays in use.
func TestDirectTransportInterimResponses(t *testing.T) {
	t.Parallel()

	url, conns := rawServer(t, func(c net.Conn, req *http.Request) {
		interim := "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n"
		if req.URL.Path == "/many" {
			interim = strings.Repeat("HTTP/1.1 103 Early Hints\r\n\r\n", maxInterim+1)
		}
		_, _ = io.WriteString(c, interim+"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nanswer")
	})
	client := &http.Client{Transport: newDirectTransport()}
	for i := range 3 {
		if got, err := post(t, client, context.Background(), url+"/", "x"); err != nil || got != "answer" {
			t.Fatalf("request %d: %q, %v", i, got, err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("connections = %d, want 1 kept alive past interim responses", n)
	}
	if got, err := post(t, client, context.Background(), url+"/many", "x"); err == nil {
		t.Errorf("%d interim responses: got %q, want an error", maxInterim+1, got)
	}
}

// TestDirectTransportStrayBytes: bytes a server sends beyond its answer,
// with the answer or while the connection waits in the pool, are never read
// as the next caller's answer; the connection they came on is retired.
func TestDirectTransportStrayBytes(t *testing.T) {
	t.Parallel()

	proceed, sent := make(chan struct{}), make(chan struct{})
	url, conns := rawServer(t, func(c net.Conn, req *http.Request) {
		answer := "HTTP/1.1 200 OK\r\nContent-Length: " + fmt.Sprint(len(req.URL.Path)) + "\r\n\r\n" + req.URL.Path
		stray := "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nSTRAY"
		switch req.URL.Query().Get("stray") {
		case "with":
			_, _ = io.WriteString(c, answer+stray)
		case "later": // once the caller has its answer and the connection is pooled
			_, _ = io.WriteString(c, answer)
			<-proceed
			_, _ = io.WriteString(c, stray)
			close(sent)
		default:
			_, _ = io.WriteString(c, answer)
		}
	})
	client := &http.Client{Transport: newDirectTransport()}

	for i, mode := range []string{"with", "later"} {
		first := fmt.Sprintf("/first-%d", i)
		if got, err := post(t, client, context.Background(), url+first+"?stray="+mode, ""); err != nil || got != first {
			t.Fatalf("%s: first answer %q, %v", mode, got, err)
		}
		if mode == "later" {
			close(proceed)
			<-sent
		}
		second := fmt.Sprintf("/second-%d", i)
		if got, err := post(t, client, context.Background(), url+second, ""); err != nil || got != second {
			t.Fatalf("%s: second caller got %q, %v; want its own answer", mode, got, err)
		}
		// "with" retires the first connection; "later" its first call
		// reuses the second and retires it.
		if n, want := conns.Load(), int32(2+i); n != want {
			t.Errorf("%s: connections = %d, want %d (the one with stray bytes retired)", mode, n, want)
		}
	}
}

// TestDirectTransportRefusesBadAnswers: a response whose headers run past
// the limit, or one switching protocols nobody asked for, is an error.
func TestDirectTransportRefusesBadAnswers(t *testing.T) {
	t.Parallel()

	url, _ := rawServer(t, func(c net.Conn, req *http.Request) {
		switch req.URL.Path {
		case "/huge":
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Big: "+strings.Repeat("a", 2<<20)+"\r\nContent-Length: 2\r\n\r\nok")
		case "/switch":
			_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		case "/low":
			_, _ = io.WriteString(c, "HTTP/1.1 050 Low\r\nContent-Length: 2\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	tr := newDirectTransport()
	client := &http.Client{Transport: tr}
	if _, err := post(t, client, context.Background(), url+"/huge", ""); !errors.Is(err, errHeadersTooLarge) {
		t.Errorf("2 MB of headers: %v, want %v", err, errHeadersTooLarge)
	}
	if got, err := post(t, client, context.Background(), url+"/switch", ""); err == nil {
		t.Errorf("101 answer: %q, want an error", got)
	}
	if got, err := post(t, client, context.Background(), url+"/low", ""); err == nil {
		t.Errorf("status 050: %q, want an error", got)
	}
}

// TestDirectTransportEmptyBodies: answers without a body (204, HEAD) give
// their connection back at once.
func TestDirectTransportEmptyBodies(t *testing.T) {
	t.Parallel()

	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "4")
		if r.Method == http.MethodHead {
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	client := &http.Client{Transport: newDirectTransport()}
	for i := range 3 {
		resp, err := client.Head(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		resp, err = client.Post(srv.URL, "text/plain", strings.NewReader("x"))
		if err != nil || resp.StatusCode != http.StatusNoContent {
			t.Fatalf("request %d: %v, %v", i, resp, err)
		}
		_ = resp.Body.Close()
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("connections = %d, want 1", n)
	}
}

// TestSchemeTransportSendsProxiedThroughTheOther: a plain http request a
// proxy applies to is not sent directly.
func TestSchemeTransportSendsProxiedThroughTheOther(t *testing.T) {
	t.Parallel()

	srv, conns := countingServer(t, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "direct")
	})
	var viaOther atomic.Int32
	other := roundTripFunc(func(*http.Request) (*http.Response, error) {
		viaOther.Add(1)
		return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader("proxied"))}, nil
	})
	proxy, _ := neturl.Parse("http://proxy.invalid:3128")
	client := &http.Client{Transport: schemeTransport{
		direct: newDirectTransport(), other: other,
		proxy: func(*http.Request) (*neturl.URL, error) { return proxy, nil },
	}}
	if got, err := post(t, client, context.Background(), srv.URL, ""); err != nil || got != "proxied" {
		t.Errorf("request with a proxy: %q, %v", got, err)
	}
	if viaOther.Load() != 1 || conns.Load() != 0 {
		t.Errorf("other transport used %d times, %d direct connections; want 1 and 0", viaOther.Load(), conns.Load())
	}

	// A body too large to send directly goes through the other transport
	// too, which reads an early answer while it writes.
	client = &http.Client{Transport: schemeTransport{direct: newDirectTransport(), other: other}}
	if got, err := post(t, client, context.Background(), srv.URL, strings.Repeat("b", maxDirectBody+1)); err != nil || got != "proxied" {
		t.Errorf("large body: %q, %v", got, err)
	}
	if got, err := post(t, client, context.Background(), srv.URL, "small"); err != nil || got != "direct" {
		t.Errorf("small body: %q, %v", got, err)
	}
	if viaOther.Load() != 2 || conns.Load() != 1 {
		t.Errorf("other transport used %d times, %d direct connections; want 2 and 1", viaOther.Load(), conns.Load())
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// cannedServer answers every request on a loopback connection with the
// same response, parsing no more of the request than its Content-Length,
// so that what a benchmark counts is the client's work.
func cannedServer(tb testing.TB, answer string) string {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = lis.Close() })
	out := []byte(answer)
	serve := func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			length := 0
			for {
				line, err := br.ReadSlice('\n')
				if err != nil {
					return
				}
				if len(line) <= 2 {
					break
				}
				if name, value, ok := bytes.Cut(line, []byte(":")); ok && strings.EqualFold(string(name), "Content-Length") {
					length, _ = strconv.Atoi(string(bytes.TrimSpace(value)))
				}
			}
			if _, err := br.Discard(length); err != nil {
				return
			}
			if _, err := c.Write(out); err != nil {
				return
			}
		}
	}
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	return "http://" + lis.Addr().String()
}

// BenchmarkDirectRoundTrip measures a model call's request as the providers
// build it (POST, a JSON body, Content-Type, Accept, Authorization) through
// the direct transport to a loopback server, its answer read to the end.
func BenchmarkDirectRoundTrip(b *testing.B) {
	url := cannedServer(b, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
	payload := []byte(`{"model":"m","messages":[{"role":"user","content":"` + strings.Repeat("hello ", 100) + `"}],"stream":false}`)
	client := &http.Client{Transport: newDirectTransport()}
	defer client.CloseIdleConnections()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/chat/completions", bytes.NewReader(payload))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Authorization", "Bearer sk-test")
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			b.Fatal(err)
		}
		_ = resp.Body.Close()
	}
}

// recordingServer answers every request with an empty 200 and sends the
// bytes it came in, head and body, on the returned channel; it counts the
// connections made.
func recordingServer(t *testing.T) (string, <-chan []byte, *atomic.Int32) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lis.Close() })
	raw := make(chan []byte, 64)
	var conns atomic.Int32
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer c.Close()
				rec := &recorder{r: c}
				br := bufio.NewReader(rec)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, req.Body)
					// The client waits for the answer: nothing of a next
					// request is in the buffer.
					raw <- rec.take(br.Buffered())
					if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"); err != nil || req.Close {
						return
					}
				}
			}()
		}
	}()
	return "http://" + lis.Addr().String(), raw, &conns
}

// recorder keeps what is read through it.
type recorder struct {
	r   io.Reader
	buf []byte
}

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.buf = append(r.buf, p[:n]...)
	return n, err
}

// take returns what was read but the last unread bytes, and forgets it.
func (r *recorder) take(unread int) []byte {
	n := len(r.buf) - unread
	out := bytes.Clone(r.buf[:n])
	r.buf = append(r.buf[:0], r.buf[n:]...)
	return out
}

// nextRaw is the next request the recording server got.
func nextRaw(t *testing.T, raw <-chan []byte) []byte {
	t.Helper()
	select {
	case b := <-raw:
		return b
	case <-time.After(10 * time.Second):
		t.Fatal("the server got no request")
		return nil
	}
}

// roundTrip sends req through tr and reads its answer to the end.
func roundTrip(tr http.RoundTripper, req *http.Request) error {
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return err
}

// sameOnTheWire reports how two raw requests differ as HTTP: request line,
// header lines taken as a set, and what http.ReadRequest makes of them.
func sameOnTheWire(got, want []byte) error {
	parse := func(b []byte) (*http.Request, []string, string, error) {
		head, _, ok := bytes.Cut(b, []byte("\r\n\r\n"))
		if !ok {
			return nil, nil, "", fmt.Errorf("no end of head in %q", b)
		}
		lines := strings.Split(string(head), "\r\n")
		slices.Sort(lines[1:])
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			return nil, nil, "", fmt.Errorf("%w in %q", err, b)
		}
		body, err := io.ReadAll(req.Body)
		return req, lines, string(body), err
	}
	g, gLines, gBody, err := parse(got)
	if err != nil {
		return err
	}
	w, wLines, wBody, err := parse(want)
	if err != nil {
		return err
	}
	if diff := cmp.Diff(wLines, gLines); diff != "" {
		return fmt.Errorf("head lines (-req.Write +direct):\n%s", diff)
	}
	if g.Method != w.Method || g.RequestURI != w.RequestURI || g.Host != w.Host || g.Close != w.Close ||
		g.ContentLength != w.ContentLength || gBody != wBody || !reflect.DeepEqual(g.Header, w.Header) {
		return fmt.Errorf("parsed as %s %s host %q close %v length %d %v %q, want %s %s host %q close %v length %d %v %q",
			g.Method, g.RequestURI, g.Host, g.Close, g.ContentLength, g.Header, gBody,
			w.Method, w.RequestURI, w.Host, w.Close, w.ContentLength, w.Header, wBody)
	}
	return nil
}

// TestDirectTransportWritesWhatNetHTTPWrites: the requests the providers
// make, and the corners of the request head, reach the server as
// req.Write writes them; the unusual ones are written by req.Write.
func TestDirectTransportWritesWhatNetHTTPWrites(t *testing.T) {
	t.Parallel()

	url, raw, _ := recordingServer(t)
	payload := `{"model":"m","messages":[{"role":"user","content":"hi"}]}`
	newReq := func(method, path string, body io.Reader) *http.Request {
		req, err := http.NewRequestWithContext(context.Background(), method, url+path, body)
		if err != nil {
			t.Fatal(err)
		}
		return req
	}
	jsonPost := func(path string) *http.Request {
		req := newReq(http.MethodPost, path, bytes.NewReader([]byte(payload)))
		req.Header.Set("Content-Type", "application/json")
		return req
	}
	cases := []struct {
		name  string
		plain bool
		build func() *http.Request
	}{
		{"openai chat", true, func() *http.Request {
			req := jsonPost("/v1/chat/completions")
			req.Header.Set("Accept", "text/event-stream")
			req.Header.Set("Authorization", "Bearer sk-test")
			return req
		}},
		{"anthropic messages", true, func() *http.Request {
			req := jsonPost("/v1/messages")
			req.Header.Set("anthropic-version", "2023-06-01")
			req.Header.Set("Accept", "application/json")
			req.Header.Set("x-api-key", "sk-ant")
			return req
		}},
		{"gemini stream", true, func() *http.Request {
			req := jsonPost("/v1beta/models/m:streamGenerateContent?alt=sse")
			req.Header.Set("x-goog-api-key", "g")
			return req
		}},
		{"models check", true, func() *http.Request {
			req := newReq(http.MethodGet, "/v1/models", nil)
			req.Header.Set("Authorization", "Bearer sk-test")
			return req
		}},
		{"post without body", true, func() *http.Request { return newReq(http.MethodPost, "/", nil) }},
		{"put no body", true, func() *http.Request { return newReq(http.MethodPut, "/", http.NoBody) }},
		{"patch no body", true, func() *http.Request { return newReq(http.MethodPatch, "/", nil) }},
		{"delete no body", true, func() *http.Request { return newReq(http.MethodDelete, "/", nil) }},
		{"head", true, func() *http.Request { return newReq(http.MethodHead, "/", nil) }},
		{"get with a body", true, func() *http.Request { return newReq(http.MethodGet, "/", strings.NewReader("q")) }},
		{"empty method", true, func() *http.Request {
			req := newReq(http.MethodGet, "/", nil)
			req.Method = ""
			return req
		}},
		{"empty path", true, func() *http.Request { return newReq(http.MethodGet, "", nil) }},
		{"escaped path and empty query", true, func() *http.Request { return newReq(http.MethodGet, "/a b/%2F?", nil) }},
		{"opaque", true, func() *http.Request {
			req := newReq(http.MethodGet, "/", nil)
			req.URL.Opaque = "/v1/x%2Fy"
			req.URL.RawQuery = "k=v"
			return req
		}},
		{"host with port", true, func() *http.Request {
			req := newReq(http.MethodGet, "/", nil)
			req.Host = "api.example.com:8080"
			return req
		}},
		{"ipv6 host", true, func() *http.Request {
			req := newReq(http.MethodGet, "/", nil)
			req.Host = "[::1]:11434"
			return req
		}},
		{"user agent", true, func() *http.Request {
			req := newReq(http.MethodGet, "/", nil)
			req.Header["User-Agent"] = []string{" keel/1 ", "second"}
			return req
		}},
		{"empty user agent", true, func() *http.Request {
			req := newReq(http.MethodGet, "/", nil)
			req.Header.Set("User-Agent", "")
			return req
		}},
		{"user agent without values", true, func() *http.Request {
			req := newReq(http.MethodGet, "/", nil)
			req.Header["User-Agent"] = nil
			return req
		}},
		{"values", true, func() *http.Request {
			req := jsonPost("/")
			req.Header.Add("X-Multi", "a")
			req.Header.Add("X-Multi", "b")
			req.Header.Set("X-Padded", " \tv w\t ")
			req.Header.Set("X-Empty", "")
			req.Header["X-None"] = nil
			req.Header.Set("X-Obs", "caf\xc3\xa9")
			return req
		}},
		{"managed headers in the map", true, func() *http.Request {
			req := jsonPost("/")
			req.Header.Set("Host", "evil.example")
			req.Header.Set("Content-Length", "999")
			req.Header.Set("Transfer-Encoding", "chunked")
			req.Header.Set("Trailer", "X-T")
			return req
		}},
		{"close", true, func() *http.Request {
			req := jsonPost("/")
			req.Close = true
			return req
		}},
		{"close asked twice", true, func() *http.Request {
			req := jsonPost("/")
			req.Close = true
			req.Header.Set("Connection", "Close")
			return req
		}},
		{"close and keep-alive", true, func() *http.Request {
			req := jsonPost("/")
			req.Close = true
			req.Header.Set("Connection", "keep-alive")
			return req
		}},

		{"expect", false, func() *http.Request {
			req := jsonPost("/")
			req.Header.Set("Expect", "100-continue")
			return req
		}},
		{"body of unannounced length", false, func() *http.Request {
			req := newReq(http.MethodPost, "/", nil)
			req.Body = io.NopCloser(strings.NewReader(payload))
			return req
		}},
		{"body that does not write itself", false, func() *http.Request {
			req := newReq(http.MethodPost, "/", struct{ io.Reader }{strings.NewReader(payload)})
			req.ContentLength = int64(len(payload))
			return req
		}},
		{"chunked", false, func() *http.Request {
			req := jsonPost("/")
			req.TransferEncoding = []string{"chunked"}
			return req
		}},
		{"header name not canonical", false, func() *http.Request {
			req := jsonPost("/")
			req.Header["x-lower"] = []string{"v"}
			return req
		}},
		{"idn host", false, func() *http.Request {
			req := newReq(http.MethodGet, "/", nil)
			req.Host = "bücher.example"
			return req
		}},
		{"ipv6 zone", false, func() *http.Request {
			req := newReq(http.MethodGet, "/", nil)
			req.Host = "[fe80::1%en0]:80"
			return req
		}},
	}
	tr := newDirectTransport()
	for _, tc := range cases {
		if plain, err := checkRequest(tc.build()); plain != tc.plain || err != nil {
			t.Errorf("%s: checkRequest = %v, %v; want %v", tc.name, plain, err, tc.plain)
		}
		if err := roundTrip(tr, tc.build()); err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		got := nextRaw(t, raw)
		var want bytes.Buffer
		if err := tc.build().Write(&want); err != nil {
			t.Fatal(err)
		}
		if err := sameOnTheWire(got, want.Bytes()); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// trackedBody is a request body that tells whether it was closed.
type trackedBody struct {
	*bytes.Reader
	closed atomic.Bool
}

func (b *trackedBody) Close() error {
	b.closed.Store(true)
	return nil
}

// TestDirectTransportRefusesBadHeads: a request whose head would not read
// back as it was meant (a header value with CR, LF or NUL, a name, method,
// Host or request-target that is no such thing) is an error before a byte
// is written; its body is closed and the pooled connection serves the next
// request.
func TestDirectTransportRefusesBadHeads(t *testing.T) {
	t.Parallel()

	url, raw, conns := recordingServer(t)
	tr := newDirectTransport()
	build := func(body *trackedBody) *http.Request {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url+"/v1/chat/completions", body)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = int64(body.Len())
		req.Header.Set("Content-Type", "application/json")
		return req
	}
	good := func() {
		t.Helper()
		if err := roundTrip(tr, build(&trackedBody{Reader: bytes.NewReader([]byte("{}"))})); err != nil {
			t.Fatal(err)
		}
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(nextRaw(t, raw))))
		if err != nil || req.URL.Path != "/v1/chat/completions" || req.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("the server read %v, %v after a refused request", req, err)
		}
	}
	good()

	const secret = "sk-secret"
	cases := map[string]func(*http.Request){
		"CRLF in a value": func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+secret+"\r\nX-Injected: 1") },
		"LF in a value":   func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+secret+"\nX-Injected: 1") },
		"NUL in a value":  func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+secret+"\x00") },
		"CR in a value of the old path": func(r *http.Request) {
			r.Header.Set("Expect", "100-continue")
			r.Header["x-lower"] = []string{secret + "\r"}
		},
		"another spelling of a header net/http writes": func(r *http.Request) { r.Header["content-length"] = []string{"999"} },
		"space in a name":     func(r *http.Request) { r.Header["X Bad"] = []string{"v"} },
		"colon in a name":     func(r *http.Request) { r.Header["X-Bad:"] = []string{"v"} },
		"empty name":          func(r *http.Request) { r.Header[""] = []string{"v"} },
		"space in the method": func(r *http.Request) { r.Method = "PO ST" },
		"space in the Host":   func(r *http.Request) { r.Host = "a b" },
		"CRLF in the Host":    func(r *http.Request) { r.Host = "a\r\nX-Injected: 1" },
		"space in the query":  func(r *http.Request) { r.URL.RawQuery = "a=b c" },
		"space in the query of the old path": func(r *http.Request) {
			r.Header.Set("Expect", "100-continue")
			r.URL.RawQuery = "a=b c"
		},
		"control in the query":    func(r *http.Request) { r.URL.RawQuery = "a=\x7f" },
		"CRLF in the opaque path": func(r *http.Request) { r.URL.Opaque = "/x\r\nX-Injected: 1" },
	}
	for name, spoil := range cases {
		body := &trackedBody{Reader: bytes.NewReader([]byte("{}"))}
		req := build(body)
		spoil(req)
		err := roundTrip(tr, req)
		if err == nil {
			t.Errorf("%s: no error", name)
		} else if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: the error shows the header's value: %v", name, err)
		}
		if !body.closed.Load() {
			t.Errorf("%s: the body was not closed", name)
		}
		good()
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("connections = %d, want 1: a refused request leaves the pooled one alone", n)
	}
}

// TestDirectTransportClosesRequestBodies: the request body is closed when
// the call is done, and when it fails before or while it is sent; a body
// of another length than announced sends nothing.
func TestDirectTransportClosesRequestBodies(t *testing.T) {
	t.Parallel()

	url, raw, conns := recordingServer(t)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + lis.Addr().String()
	_ = lis.Close()

	tr := newDirectTransport()
	send := func(url, body string, length int) (*trackedBody, error) {
		b := &trackedBody{Reader: bytes.NewReader([]byte(body))}
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, b)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = int64(length)
		return b, roundTrip(tr, req)
	}
	if b, err := send(url+"/ok", "abc", 3); err != nil || !b.closed.Load() {
		t.Errorf("a call: %v, body closed %v", err, b.closed.Load())
	}
	nextRaw(t, raw)
	if b, err := send(refused, "abc", 3); err == nil || !b.closed.Load() {
		t.Errorf("a refused connection: %v, body closed %v", err, b.closed.Load())
	}
	for _, length := range []int{2, 4} {
		if b, err := send(url+"/mismatch", "abc", length); err == nil || !b.closed.Load() {
			t.Errorf("3 bytes sent as %d: %v, body closed %v", length, err, b.closed.Load())
		}
	}
	if _, err := send(url+"/after", "abc", 3); err != nil {
		t.Fatal(err)
	}
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(nextRaw(t, raw))))
	if err != nil || req.URL.Path != "/after" {
		t.Errorf("the server read %v, %v; want the request after the mismatched ones", req, err)
	}
	// Each mismatch closed its connection.
	if n := conns.Load(); n != 3 {
		t.Errorf("connections = %d, want 3", n)
	}
}

// TestDirectTransportSendsConnectionClose: a request asking to close its
// connection says so once, and the connection is not used again.
func TestDirectTransportSendsConnectionClose(t *testing.T) {
	t.Parallel()

	url, raw, conns := recordingServer(t)
	tr := newDirectTransport()
	for i, header := range []string{"", "close", "keep-alive"} {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		req.Close = true
		if header != "" {
			req.Header.Set("Connection", header)
		}
		if err := roundTrip(tr, req); err != nil {
			t.Fatal(err)
		}
		got := strings.ToLower(string(nextRaw(t, raw)))
		if n := strings.Count(got, "\r\nconnection: close\r\n"); n != 1 {
			t.Errorf("Connection header %q: %d lines Connection: close in\n%s", header, n, got)
		}
		if n := conns.Load(); n != int32(i+1) {
			t.Errorf("connections = %d, want %d: none reused", n, i+1)
		}
	}
}

// BenchmarkDirectWriteRequest compares writing a provider's request with
// req.Write and with checkRequest and writeRequest, with no connection
// below.
func BenchmarkDirectWriteRequest(b *testing.B) {
	payload := []byte(`{"model":"m","messages":[{"role":"user","content":"` + strings.Repeat("hello ", 100) + `"}],"stream":true}`)
	body := &trackedBody{Reader: bytes.NewReader(payload)}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, "http://127.0.0.1:8000/v1/chat/completions", body)
	if err != nil {
		b.Fatal(err)
	}
	req.ContentLength = int64(len(payload))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer sk-test")
	c := &directConn{bw: bufio.NewWriterSize(io.Discard, 16<<10)}
	for _, w := range []struct {
		name  string
		write func() error
	}{
		{"req.Write", func() error { return req.Write(c.bw) }},
		{"checkRequest+writeRequest", func() error {
			if plain, err := checkRequest(req); !plain || err != nil {
				return fmt.Errorf("not plain: %v", err)
			}
			return c.writeRequest(req)
		}},
	} {
		b.Run(w.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = body.Seek(0, io.SeekStart)
				if err := w.write(); err != nil {
					b.Fatal(err)
				}
				if err := c.bw.Flush(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestDirectTakesKnownLengths: a body net/http would send chunked (length
// 0 but not NoBody) goes to net/http's Transport, not the direct one.
func TestDirectTakesKnownLengths(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		name string
		body io.Reader
		want bool
	}{
		{"no body", nil, true},
		{"known length", strings.NewReader("abc"), true},
		{"unknown length", io.MultiReader(strings.NewReader("abc")), false},
		{"over the direct limit", strings.NewReader(strings.Repeat("a", maxDirectBody+1)), false},
	} {
		req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:9/v1", tc.body)
		if err != nil {
			t.Fatal(err)
		}
		if got := direct(req); got != tc.want {
			t.Errorf("%s: direct = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestDirectBodyEOFAfterAnError: a body cut short by the server reads
// io.ErrUnexpectedEOF, then io.EOF (net/http's does); it was not read to
// its end, and its connection is not pooled.
func TestDirectBodyEOFAfterAnError(t *testing.T) {
	t.Parallel()

	client, server := net.Pipe()
	defer server.Close()
	tr := newDirectTransport()
	defer tr.CloseIdleConnections()
	c := &directConn{Conn: client, br: bufio.NewReader(strings.NewReader("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab"))}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &directBody{body: resp.Body, ctx: context.Background(), conn: c, t: tr,
		addr: "upstream:80", keep: true, stop: func() bool { return true }}
	var errs []error
	for range 3 {
		_, err := b.Read(make([]byte, 8))
		errs = append(errs, err)
	}
	if !reflect.DeepEqual(errs, []error{nil, io.ErrUnexpectedEOF, io.EOF}) {
		t.Fatalf("reads ended %v", errs)
	}
	_ = b.Close()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if n := len(tr.idle["upstream:80"]); n != 0 {
		t.Errorf("%d connections pooled after a body cut short", n)
	}
}
