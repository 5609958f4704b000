package h1

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// Heads as clients of the gateway send them.
var commonHeads = map[string]string{
	"curl": "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n" +
		"Authorization: Bearer sk-test\r\nContent-Type: application/json\r\nContent-Length: 19\r\n\r\n" +
		`{"model":"m","n":1}`,
	"go": "POST /v1/embeddings HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: Go-http-client/1.1\r\nContent-Length: 2\r\n" +
		"Authorization: Bearer sk-test\r\nContent-Type: application/json\r\nAccept-Encoding: gzip\r\n\r\n{}",
	"go get": "GET /v1/models?limit=10&after=m-1 HTTP/1.1\r\nHost: gateway.internal\r\nUser-Agent: Go-http-client/1.1\r\n" +
		"Authorization: Bearer sk-test\r\nAccept-Encoding: gzip\r\n\r\n",
	"python": "POST /v1/chat/completions HTTP/1.1\r\nHost: api.example.com\r\nAccept-Encoding: gzip, deflate\r\n" +
		"Connection: keep-alive\r\nAccept: application/json\r\nContent-Type: application/json\r\n" +
		"User-Agent: OpenAI/Python 1.54.4\r\nX-Stainless-Lang: python\r\nX-Stainless-Package-Version: 1.54.4\r\n" +
		"X-Stainless-OS: Linux\r\nX-Stainless-Arch: x64\r\nX-Stainless-Runtime: CPython\r\n" +
		"X-Stainless-Runtime-Version: 3.12.3\r\nAuthorization: Bearer sk-test\r\nX-Stainless-Async: false\r\n" +
		"x-stainless-retry-count: 0\r\nx-stainless-read-timeout: 600\r\nContent-Length: 2\r\n\r\n{}",
	"node": "POST /v1/chat/completions HTTP/1.1\r\nhost: api.example.com\r\nconnection: keep-alive\r\n" +
		"content-type: application/json\r\naccept: application/json\r\nuser-agent: OpenAI/JS 4.77.0\r\n" +
		"x-stainless-lang: js\r\nx-stainless-package-version: 4.77.0\r\nx-stainless-os: Linux\r\n" +
		"x-stainless-arch: x64\r\nx-stainless-runtime: node\r\nx-stainless-runtime-version: v20.18.1\r\n" +
		"authorization: Bearer sk-test\r\nx-stainless-retry-count: 0\r\ncontent-length: 2\r\n" +
		"accept-language: *\r\nsec-fetch-mode: cors\r\naccept-encoding: gzip, deflate\r\n\r\n{}",
	"closing": "DELETE /v1/files/file-1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
}

// The heads clients send take the fast path, and give what net/http
// gives.
func TestReadHeadCommon(t *testing.T) {
	for name, head := range commonHeads {
		if !sameAsNetHTTP(t, []byte(head), 5) {
			t.Errorf("%s: head not taken by readHead:\n%s", name, head)
		}
	}
}

// Heads out of the common form, or not all buffered, go to net/http with
// the reader as it was.
func TestReadHeadFallsBack(t *testing.T) {
	for name, head := range map[string]string{
		"http/1.0":           "GET / HTTP/1.0\r\nHost: x\r\n\r\n",
		"absolute form":      "GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n",
		"asterisk":           "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
		"other method":       "TRACE / HTTP/1.1\r\nHost: x\r\n\r\n",
		"lower case method":  "get / HTTP/1.1\r\nHost: x\r\n\r\n",
		"fragment":           "GET /a#b HTTP/1.1\r\nHost: x\r\n\r\n",
		"non-ascii target":   "GET /\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n",
		"bad escape":         "GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n",
		"two spaces":         "GET  / HTTP/1.1\r\nHost: x\r\n\r\n",
		"no host":            "GET / HTTP/1.1\r\n\r\n",
		"empty host":         "GET / HTTP/1.1\r\nHost: \r\n\r\n",
		"two hosts":          "GET / HTTP/1.1\r\nHost: x\r\nHost: x\r\n\r\n",
		"bad host":           "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
		"chunked":            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"two lengths":        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na",
		"signed length":      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\na",
		"huge length":        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 9223372036854775808\r\n\r\n",
		"empty length":       "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n",
		"folded":             "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n",
		"leading space":      "GET / HTTP/1.1\r\n Host: x\r\n\r\n",
		"space before colon": "GET / HTTP/1.1\r\nHost: x\r\nX-A : a\r\n\r\n",
		"no colon":           "GET / HTTP/1.1\r\nHost: x\r\nX-A\r\n\r\n",
		"bare lf":            "GET / HTTP/1.1\nHost: x\n\n",
		"bare lf in header":  "GET / HTTP/1.1\r\nHost: x\nX-A: a\r\n\r\n",
		"control in value":   "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01\r\n\r\n",
		"unfinished":         "GET / HTTP/1.1\r\nHost: x\r\n",
		"many headers":       "GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-A: a\r\n", maxFields) + "\r\n",
	} {
		br := bufio.NewReaderSize(strings.NewReader(head), 4<<10)
		_, _ = br.Peek(1)
		if readHead(br) != nil {
			t.Errorf("%s: readHead took %q", name, head)
		}
		if br.Buffered() != len(head) {
			t.Errorf("%s: readHead left %d bytes buffered of %d", name, br.Buffered(), len(head))
		}
	}
	// A head that arrives in pieces is net/http's, as it was before.
	head := commonHeads["python"]
	br := bufio.NewReaderSize(iotest.OneByteReader(strings.NewReader(head)), 4<<10)
	_, _ = br.Peek(1)
	if readHead(br) != nil || br.Buffered() != 1 {
		t.Fatalf("readHead took a head not all buffered (%d buffered)", br.Buffered())
	}
	if req, err := http.ReadRequest(br); err != nil || req.Header.Get("X-Stainless-Os") != "Linux" {
		t.Errorf("net/http after readHead declined: %v, %v", req, err)
	}
}

// inPath holds exactly the bytes url leaves alone in a path, so that a
// target of them is its own URL path.
func TestPathBytes(t *testing.T) {
	for c := 0x21; c < 0x7f; c++ {
		target := "/a" + string(rune(c)) + "b"
		u, err := url.ParseRequestURI(target)
		plain := err == nil && u.Path == target && u.RawPath == "" && u.RawQuery == "" && !u.ForceQuery
		if got := classes[c]&inPath != 0; got != plain {
			t.Errorf("byte %q: in path %v, url leaves it alone %v", rune(c), got, plain)
		}
	}
}

func TestReadHeadBodies(t *testing.T) {
	for name, input := range map[string]string{
		"short":         "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",
		"nothing":       "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n",
		"pipelined":     "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"no length":     "POST / HTTP/1.1\r\nHost: x\r\n\r\nabc",
		"get with body": "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab",
		"zero":          "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 000\r\n\r\n",
		"leading zeros": "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0002\r\n\r\nabc",
	} {
		for _, chunk := range []int{1, 2, 64} {
			if !sameAsNetHTTP(t, []byte(input), chunk) {
				t.Errorf("%s: not taken by readHead", name)
			}
		}
	}
}

func TestReadHeadHeaders(t *testing.T) {
	for name, input := range map[string]string{
		"repeated":      "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nx-a: 2\r\nX-B: 3\r\nX-A: 4\r\n\r\n",
		"whitespace":    "GET / HTTP/1.1\r\nHost:\tx \r\nX-A:  a b\t \r\nX-B:\r\nX-C: \t\r\n\r\n",
		"pragma":        "GET / HTTP/1.1\r\nHost: x\r\nPragma: no-cache\r\n\r\n",
		"pragma, cc":    "GET / HTTP/1.1\r\nHost: x\r\nPragma: no-cache\r\nCache-Control: max-age=0\r\n\r\n",
		"close token":   "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Close\r\n\r\n",
		"upgrade":       "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
		"expect":        "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nz",
		"odd names":     "GET / HTTP/1.1\r\nHost: x\r\nx_y-z: 1\r\nA--B: 2\r\n1-x: 3\r\n!#$%&'*+.^`|~: 4\r\nCONTENT-type: t\r\n\r\n",
		"high bytes":    "GET / HTTP/1.1\r\nHost: x\r\nX-A: caf\xc3\xa9 \xff\r\n\r\n",
		"trailer":       "POST / HTTP/1.1\r\nHost: x\r\nTrailer: X-T\r\nContent-Length: 1\r\n\r\na",
		"query":         "GET /a/b?x=1&y=%zz&z=a+b?c HTTP/1.1\r\nHost: x\r\n\r\n",
		"empty query":   "GET /? HTTP/1.1\r\nHost: x\r\n\r\n",
		"two marks":     "GET /a?? HTTP/1.1\r\nHost: x\r\n\r\n",
		"escaped path":  "GET /a%2Fb/%41!(x) HTTP/1.1\r\nHost: x\r\n\r\n",
		"double slash":  "GET //x/../y HTTP/1.1\r\nHost: x\r\n\r\n",
		"host and port": "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
		"max headers":   "GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-A: a\r\n", maxFields-1) + "\r\n",
		"options":       "OPTIONS /v1 HTTP/1.1\r\nHost: x\r\n\r\n",
		"head":          "HEAD /v1 HTTP/1.1\r\nHost: x\r\n\r\n",
		"put and patch": "PUT /v1 HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\naPATCH /v1 HTTP/1.1\r\nHost: x\r\n\r\n",
	} {
		if !sameAsNetHTTP(t, []byte(input), 3) {
			t.Errorf("%s: not taken by readHead", name)
		}
	}
}

// FuzzReadHead holds readHead to http.ReadRequest: any head it takes,
// net/http takes too, and makes the same request of, with the same body.
func FuzzReadHead(f *testing.F) {
	for _, head := range commonHeads {
		f.Add([]byte(head), uint8(7))
	}
	for _, seed := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /a?b=c HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab",
		"GET /a%20b HTTP/1.1\r\nhost: x\r\npragma: no-cache\r\nconnection: close\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nX-A:  a \r\nX-a: b\r\n\r\n",
		"PUT //x HTTP/1.1\r\nHost: x:1\r\nContent-Length: 01\r\n\r\nzGET / HTTP/1.1\r\n",
	} {
		f.Add([]byte(seed), uint8(1))
	}
	f.Fuzz(func(t *testing.T, input []byte, chunk uint8) {
		sameAsNetHTTP(t, input, int(chunk))
	})
}

// sameAsNetHTTP reads input with readHead and, when it takes the head,
// with http.ReadRequest, and fails t unless the two give the same request
// and body, the body read chunk bytes at a time, and leave the same bytes
// after it. It reports whether readHead took the head.
func sameAsNetHTTP(t testing.TB, input []byte, chunk int) bool {
	t.Helper()
	br := bufio.NewReaderSize(bytes.NewReader(input), 4<<10)
	_, _ = br.Peek(1)
	buffered := br.Buffered()
	got := readHead(br)
	if got == nil {
		if br.Buffered() != buffered {
			t.Fatalf("readHead declined %q and consumed %d bytes", input, buffered-br.Buffered())
		}
		return false
	}
	sr := bufio.NewReaderSize(bytes.NewReader(input), 4<<10)
	want, err := http.ReadRequest(sr)
	if err != nil {
		t.Fatalf("readHead took %q, which net/http refuses: %v", input, err)
	}
	if diff := requestDiff(got, want); diff != "" {
		t.Fatalf("readHead and net/http differ on %q:\n%s", input, diff)
	}
	// serveOne does not check a head readHead took: readHead must have.
	if got.ProtoMajor != 1 || invalid(got) != "" {
		t.Fatalf("readHead took %q, which serveOne refuses: %q", input, invalid(got))
	}
	if (got.Body == http.NoBody) != (want.Body == http.NoBody) {
		t.Fatalf("NoBody: readHead %v, net/http %v; input %q", got.Body == http.NoBody, want.Body == http.NoBody, input)
	}
	// The body, read alike: the same bytes and errors at every step, one
	// read past the first error, then what follows it on the connection.
	sizes := []int{max(chunk, 1), 1, 0, 4096}
	for i, ended := 0, 0; ended < 2; i++ {
		p, q := make([]byte, sizes[i%len(sizes)]), make([]byte, sizes[i%len(sizes)])
		n, err := got.Body.Read(p)
		m, werr := want.Body.Read(q)
		if n != m || !errors.Is(err, werr) || !bytes.Equal(p[:n], q[:m]) {
			t.Fatalf("body read %d: readHead %q, %v; net/http %q, %v; input %q", i, p[:n], err, q[:m], werr, input)
		}
		if err != nil {
			ended++
		}
	}
	rest, _ := io.ReadAll(br)
	wantRest, _ := io.ReadAll(sr)
	if !bytes.Equal(rest, wantRest) {
		t.Fatalf("after the body: readHead left %q, net/http %q; input %q", rest, wantRest, input)
	}
	_, _ = got.Body.Close(), want.Body.Close()
	_, err = got.Body.Read(make([]byte, 1))
	_, werr := want.Body.Read(make([]byte, 1))
	if !errors.Is(err, werr) {
		t.Fatalf("read after Close: readHead %v, net/http %v; input %q", err, werr, input)
	}
	return true
}

// requestDiff describes how two requests differ, but for their bodies.
func requestDiff(got, want *http.Request) string {
	var diff strings.Builder
	check := func(name string, a, b any) {
		if !reflect.DeepEqual(a, b) {
			fmt.Fprintf(&diff, "%s: %#v, want %#v\n", name, a, b)
		}
	}
	check("Method", got.Method, want.Method)
	check("URL", *got.URL, *want.URL)
	check("URL.String()", got.URL.String(), want.URL.String())
	check("Proto", got.Proto, want.Proto)
	check("ProtoMajor", got.ProtoMajor, want.ProtoMajor)
	check("ProtoMinor", got.ProtoMinor, want.ProtoMinor)
	check("Header", got.Header, want.Header)
	check("Host", got.Host, want.Host)
	check("RequestURI", got.RequestURI, want.RequestURI)
	check("ContentLength", got.ContentLength, want.ContentLength)
	check("TransferEncoding", got.TransferEncoding, want.TransferEncoding)
	check("Close", got.Close, want.Close)
	check("Trailer", got.Trailer, want.Trailer)
	check("Context", got.Context(), context.Background())
	// Then everything else, unexported fields included.
	a, b := *got, *want
	a.Body, b.Body = nil, nil
	if diff.Len() == 0 && !reflect.DeepEqual(a, b) {
		fmt.Fprintf(&diff, "requests: %#v, want %#v\n", a, b)
	}
	return diff.String()
}

func BenchmarkReadHead(b *testing.B) {
	head := []byte(commonHeads["python"])
	for _, bc := range []struct {
		name string
		read func(*bufio.Reader) (*http.Request, error)
	}{
		{"fast", func(br *bufio.Reader) (*http.Request, error) { return readHead(br), nil }},
		{"net-http", http.ReadRequest},
	} {
		b.Run(bc.name, func(b *testing.B) {
			src := bytes.NewReader(head)
			br := bufio.NewReaderSize(src, 4<<10)
			b.ReportAllocs()
			for b.Loop() {
				src.Reset(head)
				br.Reset(src)
				_, _ = br.Peek(1)
				req, err := bc.read(br)
				if req == nil || err != nil {
					b.Fatal("not read: ", err)
				}
			}
		})
	}
}
