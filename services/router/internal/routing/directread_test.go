package routing

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// sameRead reads a response to a request of method from data with
// readResponse and with http.ReadResponse, and reports how the two differ:
// the error, every field of the response, the body read step bytes at a
// time call by call, a read after Close, and what is left after a body
// read to its end. fast reports whether fastResponse took the head.
func sameRead(data []byte, method string, step int) (fast bool, err error) {
	req, err := http.NewRequest(method, "http://127.0.0.1:8000/v1/chat/completions", nil)
	if err != nil {
		return false, err
	}
	reader := func() *bufio.Reader { return bufio.NewReaderSize(bytes.NewReader(data), 16<<10) }
	probe := reader()
	_, _ = probe.Peek(1)
	fast = fastResponse(probe, req) != nil

	gr, wr := reader(), reader()
	got, gerr := readResponse(gr, req)
	want, werr := http.ReadResponse(wr, req)
	if fast && werr != nil {
		return fast, fmt.Errorf("fast path took a head net/http refuses: %v", werr)
	}
	if errText(gerr) != errText(werr) {
		return fast, fmt.Errorf("error %v, net/http %v", gerr, werr)
	}
	if werr != nil {
		return fast, nil
	}
	if got.Request != req {
		return fast, errors.New("Request is not the request")
	}
	if diff := cmp.Diff(head(want), head(got)); diff != "" {
		return fast, fmt.Errorf("head (-net/http +readResponse):\n%s", diff)
	}
	g, w := *got, *want
	g.Body, w.Body = nil, nil
	if !reflect.DeepEqual(g, w) {
		return fast, fmt.Errorf("response %+v, net/http %+v", g, w)
	}
	if (got.Body == http.NoBody) != (want.Body == http.NoBody) {
		return fast, fmt.Errorf("body %T, net/http %T", got.Body, want.Body)
	}
	gt, gEOF := readTrace(got.Body, step)
	wt, wEOF := readTrace(want.Body, step)
	if diff := cmp.Diff(wt, gt); diff != "" {
		return fast, fmt.Errorf("body reads of %d bytes (-net/http +readResponse):\n%s", step, diff)
	}
	if !reflect.DeepEqual(got.Trailer, want.Trailer) {
		return fast, fmt.Errorf("trailer %v, net/http %v", got.Trailer, want.Trailer)
	}
	if gEOF && wEOF {
		gl, _ := io.ReadAll(gr)
		wl, _ := io.ReadAll(wr)
		if !bytes.Equal(gl, wl) {
			return fast, fmt.Errorf("left after the body %q, net/http %q", gl, wl)
		}
	}
	return fast, nil
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// respHead is what a response says besides its body, for cmp.
type respHead struct {
	Status                 string
	StatusCode             int
	Proto                  string
	ProtoMajor, ProtoMinor int
	Header                 http.Header
	ContentLength          int64
	TransferEncoding       []string
	Close, Uncompressed    bool
	Trailer                http.Header
}

func head(r *http.Response) respHead {
	return respHead{r.Status, r.StatusCode, r.Proto, r.ProtoMajor, r.ProtoMinor, r.Header,
		r.ContentLength, r.TransferEncoding, r.Close, r.Uncompressed, r.Trailer}
}

// readTrace reads body in reads of step bytes until an error, once more,
// then closes it and reads again; it returns each call's result and whether the
// body ended in io.EOF.
func readTrace(body io.ReadCloser, step int) ([]string, bool) {
	var trace []string
	p := make([]byte, step)
	for range 1 << 16 {
		n, err := body.Read(p)
		trace = append(trace, fmt.Sprintf("%q %v", p[:n], err))
		if err != nil {
			eof := err == io.EOF
			n, err = body.Read(p)
			trace = append(trace, fmt.Sprintf("again %q %v", p[:n], err))
			if eof {
				trace = append(trace, fmt.Sprintf("close %v", body.Close()))
			} else {
				_ = body.Close() // net/http's reads the rest and gives its error
			}
			n, err = body.Read(p)
			return append(trace, fmt.Sprintf("after close %d %v", n, err)), eof
		}
	}
	return append(trace, "no end"), false
}

// commonAnswers are responses as the upstreams the direct transport serves
// send them: vLLM and other uvicorn servers (lower-case names), Ollama and
// Go servers (canonical names), errors with Retry-After.
func commonAnswers() []string {
	completion := `{"id":"chatcmpl-1","object":"chat.completion","created":1733000000,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hello!"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}`
	sse := "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n"
	chunks := fmt.Sprintf("%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n", len(sse), sse, len("data: [DONE]\n\n"), "data: [DONE]\n\n")
	rate := `{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`
	cl := func(body string) string { return strconv.Itoa(len(body)) }
	return []string{
		// vLLM, a completion.
		"HTTP/1.1 200 OK\r\ndate: Tue, 09 Dec 2025 10:00:00 GMT\r\nserver: uvicorn\r\ncontent-length: " + cl(completion) +
			"\r\ncontent-type: application/json\r\n\r\n" + completion,
		// vLLM with request ids, a stream.
		"HTTP/1.1 200 OK\r\ndate: Tue, 09 Dec 2025 10:00:00 GMT\r\nserver: uvicorn\r\ncontent-type: text/event-stream; charset=utf-8\r\n" +
			"x-request-id: 5f0c3d52-8a3e-4d6b-9a52-1f2e3d4c5b6a\r\ntransfer-encoding: chunked\r\n\r\n" + chunks,
		// uvicorn, too many requests.
		"HTTP/1.1 429 Too Many Requests\r\ndate: Tue, 09 Dec 2025 10:00:00 GMT\r\nserver: uvicorn\r\nretry-after: 7\r\ncontent-length: " + cl(rate) +
			"\r\ncontent-type: application/json\r\n\r\n" + rate,
		// Ollama and Go servers, a completion and a stream.
		"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nDate: Tue, 09 Dec 2025 10:00:00 GMT\r\nContent-Length: " + cl(completion) +
			"\r\n\r\n" + completion,
		"HTTP/1.1 200 OK\r\nCache-Control: no-cache\r\nConnection: keep-alive\r\nContent-Type: text/event-stream\r\nDate: Tue, 09 Dec 2025 10:00:00 GMT\r\n" +
			"X-Accel-Buffering: no\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks,
		"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nDate: Tue, 09 Dec 2025 10:00:00 GMT\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"d\r\n{\"done\":true}\r\n0\r\n\r\n",
		// An OpenAI-compatible proxy, too many requests, closing.
		"HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nRetry-After: 20\r\nX-Request-Id: req_8d2a\r\n" +
			"X-Ratelimit-Limit-Requests: 500\r\nX-Ratelimit-Remaining-Requests: 0\r\nX-Ratelimit-Reset-Requests: 20s\r\n" +
			"Vary: Origin\r\nVary: Accept-Encoding\r\nConnection: close\r\nContent-Length: " + cl(rate) + "\r\n\r\n" + rate,
		// A server error, with an empty body.
		"HTTP/1.1 503 Service Unavailable\r\nServer: mock\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n",
	}
}

// goServerAnswers are the bytes a Go net/http server sends for a
// completion, a stream and a 429, as read off a loopback connection.
func goServerAnswers(t *testing.T) []string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/stream":
			w.Header().Set("Content-Type", "text/event-stream")
			w.Header().Set("Cache-Control", "no-cache")
			for _, ev := range []string{"data: {\"choices\":[]}\n\n", "data: [DONE]\n\n"} {
				_, _ = io.WriteString(w, ev)
				w.(http.Flusher).Flush()
			}
		case "/limited":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, `{"error":{"message":"slow down"}}`)
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"choices":[{"message":{"content":"hi"}}]}`)
		}
	}))
	defer srv.Close()
	var out []string
	for _, path := range []string{"/", "/stream", "/limited"} {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		// The server closes the connection after its answer, which then
		// says Connection: close.
		_, err = io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: upstream\r\nConnection: close\r\n\r\n")
		raw, rerr := io.ReadAll(c)
		_ = c.Close()
		if err != nil || rerr != nil {
			t.Fatal(err, rerr)
		}
		out = append(out, string(raw))
	}
	return out
}

// TestFastResponseReadsCommonAnswers: what the upstreams send takes the
// fast path, and reads as net/http reads it. A reader that gave up on
// everything would pass the fuzz test, not this one.
func TestFastResponseReadsCommonAnswers(t *testing.T) {
	t.Parallel()

	answers := append(commonAnswers(), goServerAnswers(t)...)
	for _, a := range answers {
		for _, step := range []int{1, 7, 512} {
			fast, err := sameRead([]byte(a), http.MethodPost, step)
			if !fast {
				t.Errorf("fast path not taken for\n%s", a)
				break
			}
			if err != nil {
				t.Errorf("reads of %d: %v\nin\n%s", step, err, a)
			}
		}
	}
}

// TestFastResponseLeavesRareHeads: heads outside the common form go to
// net/http untouched, which gives its own response or error.
func TestFastResponseLeavesRareHeads(t *testing.T) {
	t.Parallel()

	const ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	cases := map[string]string{
		"HTTP/1.0":                  "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"interim":                   "HTTP/1.1 100 Continue\r\n\r\n" + ok,
		"early hints":               "HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n" + ok,
		"switching protocols":       "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
		"no content":                "HTTP/1.1 204 No Content\r\nContent-Length: 4\r\n\r\n",
		"not modified":              "HTTP/1.1 304 Not Modified\r\nContent-Length: 4\r\n\r\n",
		"status 600":                "HTTP/1.1 600 Odd\r\nContent-Length: 2\r\n\r\nok",
		"status 050":                "HTTP/1.1 050 Low\r\nContent-Length: 2\r\n\r\nok",
		"no reason":                 "HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok",
		"two spaces":                "HTTP/1.1  200 OK\r\nContent-Length: 2\r\n\r\nok",
		"control in the reason":     "HTTP/1.1 200 O\x01K\r\nContent-Length: 2\r\n\r\nok",
		"no length":                 "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nbody to the close",
		"length and chunked":        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
		"deflate":                   "HTTP/1.1 200 OK\r\nTransfer-Encoding: deflate\r\n\r\n0\r\n\r\n",
		"Connection: x-foo":         "HTTP/1.1 200 OK\r\nConnection: x-foo\r\nContent-Length: 2\r\n\r\nok",
		"gzip, chunked":             "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
		"two transfer encodings":    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"same length twice":         "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
		"two lengths":               "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
		"signed length":             "HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok",
		"empty length":              "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\nok",
		"huge length":               "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\nok",
		"length past 2^64":          "HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551618\r\n\r\nok",
		"folded line":               "HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 2\r\n\r\nok",
		"space before the colon":    "HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok",
		"bare LF":                   "HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
		"bare CR":                   "HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 2\r\n\r\nok",
		"NUL in a value":            "HTTP/1.1 200 OK\r\nX-A: a\x00\r\nContent-Length: 2\r\n\r\nok",
		"DEL in a value":            "HTTP/1.1 200 OK\r\nX-A: a\x7f\r\nContent-Length: 2\r\n\r\nok",
		"CTL in a value":            "HTTP/1.1 200 OK\r\nX-A: a\x1fb\r\nContent-Length: 2\r\n\r\nok",
		"pragma":                    "HTTP/1.1 200 OK\r\nPragma: no-cache\r\nContent-Length: 2\r\n\r\nok",
		"trailer":                   "HTTP/1.1 200 OK\r\nTrailer: X-T\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-T: v\r\n\r\n",
		"connection upgrade":        "HTTP/1.1 200 OK\r\nConnection: close, upgrade\r\nContent-Length: 2\r\n\r\nok",
		"head cut short":            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n",
		"nothing":                   "",
		"garbage":                   "SSH-2.0-OpenSSH_9.6\r\n",
		"no name":                   "HTTP/1.1 200 OK\r\n: v\r\nContent-Length: 2\r\n\r\nok",
		"many lines":                "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-A: a\r\n", maxFastFields) + "Content-Length: 2\r\n\r\nok",
		"unicode in a name":         "HTTP/1.1 200 OK\r\nX-\xc3\xa9: v\r\nContent-Length: 2\r\n\r\nok",
		"Kelvin sign in chunked":    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chun\xe2\x84\xaaed\r\n\r\n0\r\n\r\n",
		"leading space, first line": "HTTP/1.1 200 OK\r\n X-A: a\r\nContent-Length: 2\r\n\r\nok",
		"long name":                 "HTTP/1.1 200 OK\r\n" + strings.Repeat("x", 65) + ": v\r\nContent-Length: 2\r\n\r\nok",
	}
	for name, a := range cases {
		fast, err := sameRead([]byte(a), http.MethodPost, 3)
		if fast {
			t.Errorf("%s: fast path taken", name)
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// An answer to HEAD has a length and no body.
	if fast, err := sameRead([]byte(ok), http.MethodHead, 3); fast || err != nil {
		t.Errorf("HEAD: fast %v, %v", fast, err)
	}
}

// TestFastResponseBodies: bodies cut short, bad chunks and trailers read
// as net/http reads them, and a body read to its end leaves the reader at
// the next response.
func TestFastResponseBodies(t *testing.T) {
	t.Parallel()

	const chunkedHead = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	next := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	for name, a := range map[string]string{
		"length":                 "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" + next,
		"length cut short":       "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nhello",
		"zero length":            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" + next,
		"leading zeros":          "HTTP/1.1 200 OK\r\nContent-Length: 0005\r\n\r\nhello",
		"chunks":                 chunkedHead + "5\r\nhello\r\n1;ext=1\r\n!\r\n0\r\n\r\n" + next,
		"upper-case chunked":     "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n" + next,
		"trailer fields":         chunkedHead + "5\r\nhello\r\n0\r\nX-Checksum: abc\r\nx-other:  v \r\n\r\n" + next,
		"trailer cut short":      chunkedHead + "5\r\nhello\r\n0\r\nX-Checksum: abc\r\n",
		"no end after chunks":    chunkedHead + "5\r\nhello\r\n0\r\n",
		"one byte after":         chunkedHead + "0\r\n\r",
		"bad trailer":            chunkedHead + "0\r\nno colon\r\n\r\n" + next,
		"bare LF trailer":        chunkedHead + "0\r\n\n\r\n\r\n" + next,
		"chunk cut short":        chunkedHead + "50\r\nhello",
		"bad chunk size":         chunkedHead + "zz\r\nhello\r\n0\r\n\r\n",
		"chunk without CRLF":     chunkedHead + "5\r\nhelloXX0\r\n\r\n",
		"bare LF chunk line":     chunkedHead + "5\nhello\r\n0\r\n\r\n",
		"long trailer":           chunkedHead + "0\r\nX-Big: " + strings.Repeat("a", 17<<10) + "\r\n\r\n",
		"close":                  "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
		"close and keep-alive":   "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nConnection: Keep-Alive, CLOSE\r\nContent-Length: 2\r\n\r\nok",
		"keep-alive":             "HTTP/1.1 200 OK\r\nconnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
		"close, then keep-alive": "HTTP/1.1 200 OK\r\nConnection: close\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
		"keep-alive twice":       "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nX-A: a\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok",
		"name of 64 bytes":       "HTTP/1.1 200 OK\r\n" + strings.Repeat("x-", 32) + ": v\r\nContent-Length: 2\r\n\r\nok",
		"values":                 "HTTP/1.1 201 Created\r\nx-a: 1\r\nX-B:2\r\nx-A: \t3 \t\r\nX-Empty:\r\nX-Tab: a\tb\r\nX-Obs: caf\xc3\xa9\r\nweird_Name-x: v\r\nContent-Length: 2\r\n\r\nok",
	} {
		for _, step := range []int{1, 4, 4096} {
			fast, err := sameRead([]byte(a), http.MethodGet, step)
			if !fast {
				t.Errorf("%s: fast path not taken", name)
				break
			}
			if err != nil {
				t.Errorf("%s, reads of %d: %v", name, step, err)
			}
		}
	}
}

// TestFastResponseHeaderValuesAreCapped: appending to one header's values
// leaves the others as they were, as with net/http's.
func TestFastResponseHeaderValuesAreCapped(t *testing.T) {
	t.Parallel()

	br := bufio.NewReader(strings.NewReader("HTTP/1.1 200 OK\r\nX-A: a\r\nX-B: b\r\nContent-Length: 0\r\n\r\n"))
	_, _ = br.Peek(1)
	resp := fastResponse(br, httptest.NewRequest(http.MethodGet, "/", nil))
	if resp == nil {
		t.Fatal("fast path not taken")
	}
	resp.Header.Add("X-A", "a2")
	if got := resp.Header["X-B"]; !reflect.DeepEqual(got, []string{"b"}) {
		t.Errorf("X-B = %q after an append to X-A", got)
	}
}

// FuzzFastResponse holds readResponse to http.ReadResponse on any bytes: the
// same error or response, and the same body, read by calls of step bytes.
func FuzzFastResponse(f *testing.F) {
	for _, a := range commonAnswers() {
		f.Add([]byte(a), uint8(5))
	}
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: v\r\n\r\nHTTP/1.1"), uint8(2))
	f.Add([]byte("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 9\r\n\r\nshort"), uint8(1))
	f.Add([]byte("HTTP/1.1 200 OK\r\nx-a: 1\r\nX-A:2 \r\nContent-Length: 0\r\n\r\n"), uint8(9))
	f.Fuzz(func(t *testing.T, data []byte, step uint8) {
		if _, err := sameRead(data, http.MethodPost, int(step%64)+1); err != nil {
			t.Fatalf("%q: %v", data, err)
		}
	})
}

// BenchmarkReadResponseHead compares reading a vLLM completion's head, and
// its small body, with http.ReadResponse and with readResponse.
func BenchmarkReadResponseHead(b *testing.B) {
	answer := []byte(commonAnswers()[0])
	req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8000/v1/chat/completions", nil)
	rd := bytes.NewReader(answer)
	br := bufio.NewReaderSize(rd, 16<<10)
	for _, r := range []struct {
		name string
		read func(*bufio.Reader, *http.Request) (*http.Response, error)
	}{
		{"http.ReadResponse", http.ReadResponse},
		{"readResponse", readResponse},
	} {
		b.Run(r.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rd.Reset(answer)
				br.Reset(rd)
				resp, err := r.read(br, req)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, resp.Body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestDirectTransportReadsPastTrailers: a chunked answer with trailer fields
// gives them in Trailer and leaves its connection at the next answer.
func TestDirectTransportReadsPastTrailers(t *testing.T) {
	t.Parallel()

	url, conns := rawServer(t, func(c net.Conn, _ *http.Request) {
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"+
			"5\r\nhello\r\n0\r\nX-Usage: 7\r\n\r\n")
	})
	tr := newDirectTransport()
	for i := range 3 {
		req, err := http.NewRequest(http.MethodPost, url+"/", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if string(body) != "hello" || err != nil || resp.Trailer.Get("X-Usage") != "7" {
			t.Errorf("request %d: %q, %v, trailer %v", i, body, err, resp.Trailer)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("connections = %d, want 1", n)
	}
}
