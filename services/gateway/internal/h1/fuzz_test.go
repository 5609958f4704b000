package h1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// FuzzServe feeds arbitrary bytes to a connection: the server must answer
// or close, never panic or hang, and what it sends must parse as responses.
func FuzzServe(f *testing.F) {
	for _, seed := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /e HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nz",
		"GET /flush HTTP/1.0\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"\r\n\r\nGET / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET / HTTP/1.1\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	srv := &Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
			if r.URL.Path == "/flush" {
				_, _ = w.Write(body)
				w.(http.Flusher).Flush()
			}
			_, _ = w.Write(body)
		}),
		ReadHeaderTimeout: 20 * time.Millisecond,
		IdleTimeout:       20 * time.Millisecond,
		ReadTimeout:       60 * time.Millisecond,
		MaxHeaderBytes:    4 << 10,
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		client, server := net.Pipe()
		defer client.Close()
		c := srv.newConn(server)
		served := make(chan struct{})
		go func() {
			defer close(served)
			c.serve()
		}()
		go func() { _, _ = client.Write(input) }()
		_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
		out, err := io.ReadAll(client)
		if err != nil {
			t.Fatalf("the server neither answered nor closed: %v\ninput %q", err, input)
		}
		_ = client.Close()
		select {
		case <-served:
		case <-time.After(5 * time.Second):
			t.Fatalf("connection still served after the client closed; input %q", input)
		}
		if bytes.Contains(bytes.ToUpper(input), []byte("HEAD")) {
			return // a HEAD answer's length describes a body it does not carry
		}
		br := bufio.NewReader(bytes.NewReader(out))
		for {
			if _, err := br.Peek(1); err != nil {
				break
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("answer does not parse: %v\ninput %q\noutput %q", err, input, out)
			}
			if _, err := io.Copy(io.Discard, resp.Body); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("answer body: %v\ninput %q\noutput %q", err, input, out)
			}
			_ = resp.Body.Close()
		}
	})
}
