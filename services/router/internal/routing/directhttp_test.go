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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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
			if _, err := io.WriteString(c, answer); err != nil {
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
