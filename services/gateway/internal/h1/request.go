package h1

import (
	"bufio"
	"bytes"
	"math"
	"net/http"
	"net/url"

	"golang.org/x/net/http/httpguts"

	"github.com/keelhq/keel/pkg/httpbody"
)

// maxFields bounds the header lines of a head readHead takes; a head with
// more goes to net/http.
const maxFields = 32

// Byte classes of the common head.
const (
	inName   = 1 << iota // a token byte, of a header name
	inValue              // a header value byte: no controls but HTAB
	inTarget             // visible ASCII but '#', in a request target
	inPath               // a path byte url leaves as it is (no RawPath)
)

var classes = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		if c == '\t' || c >= ' ' && c != 0x7f {
			t[c] |= inValue
		}
		if c > ' ' && c < 0x7f && c != '#' {
			t[c] |= inTarget
		}
	}
	for _, c := range []byte("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
		t[c] |= inName
	}
	for _, c := range []byte("-._~$&+,/:;=@0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
		t[c] |= inPath
	}
	return t
}()

// parsed is a request readHead built, with its URL and body: one
// allocation for the three.
type parsed struct {
	req  http.Request
	url  url.URL
	body httpbody.Fixed // unlike net/http's, Close reads nothing: serveOne drops what the handler left, up to maxDrain
}

type field struct{ name, value []byte }

// readHead reads a request head of the form common clients send, when all
// of it is in br's buffer: "METHOD /target HTTP/1.1" with a known method
// and a target of visible ASCII but '#', CRLF line ends, "Name: value"
// lines without folding, one valid Host, no Transfer-Encoding, at most one
// Content-Length. It returns what http.ReadRequest would (FuzzReadHead
// holds the two to that), for less work. Anything else, errors included,
// gets nil, with br as it was, for http.ReadRequest: net/http keeps the
// last word on what is unusual, and its error messages.
func readHead(br *bufio.Reader) *http.Request {
	buf, _ := br.Peek(br.Buffered())
	eol := bytes.IndexByte(buf, '\n')
	if eol < 1 || buf[eol-1] != '\r' {
		return nil
	}
	line := buf[:eol-1]
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return nil
	}
	method := knownMethod(line[:sp])
	target, ok := bytes.CutSuffix(line[sp+1:], []byte(" HTTP/1.1"))
	if method == "" || !ok || len(target) == 0 || target[0] != '/' {
		return nil
	}
	query := bytes.IndexByte(target, '?')
	if query < 0 {
		query = len(target)
	}
	// A plain path is its own URL path: no escapes, nothing url changes.
	plain := true
	for i, c := range target {
		if classes[c]&inTarget == 0 {
			return nil
		}
		if i < query && classes[c]&inPath == 0 {
			plain = false
		}
	}

	var fields [maxFields]field
	n, size := 0, len(target)
	rest := buf[eol+1:]
	for {
		eol = bytes.IndexByte(rest, '\n')
		if eol < 1 || rest[eol-1] != '\r' {
			return nil // not all buffered, or a bare LF
		}
		line, rest = rest[:eol-1], rest[eol+1:]
		if len(line) == 0 {
			break
		}
		// A name of token bytes right up to the colon: no leading
		// whitespace (folding), none before the colon.
		colon := 0
		for colon < len(line) && classes[line[colon]]&inName != 0 {
			colon++
		}
		if colon == 0 || colon == len(line) || line[colon] != ':' || n == maxFields {
			return nil
		}
		value := line[colon+1:]
		for _, c := range value {
			if classes[c]&inValue == 0 {
				return nil
			}
		}
		fields[n] = field{line[:colon], trimOWS(value)}
		size += colon + len(fields[n].value)
		n++
	}
	headLen := len(buf) - len(rest)

	// One string holds the target, the canonical names and the values,
	// put together on the stack when they fit.
	var stack [2 << 10]byte
	b := stack[:0]
	if size > len(stack) {
		b = make([]byte, 0, size)
	}
	b = append(b, target...)
	for _, f := range fields[:n] {
		b = appendCanonical(b, f.name)
		b = append(b, f.value...)
	}
	s := string(b)

	h := make(http.Header, n)
	values := make([]string, n)
	host, length := "", int64(0)
	hosts, lengths := 0, 0
	at := len(target)
	for _, f := range fields[:n] {
		k := s[at : at+len(f.name)]
		at += len(k)
		v := s[at : at+len(f.value)]
		at += len(v)
		switch k {
		case "Host":
			// Not in the header map, as in net/http.
			host = v
			hosts++
			continue
		case "Transfer-Encoding":
			return nil
		case "Content-Length":
			if length, ok = parseLength(v); !ok {
				return nil
			}
			lengths++
		}
		if vv, ok := h[k]; ok {
			h[k] = append(vv, v)
		} else {
			values[0] = v
			h[k], values = values[:1:1], values[1:]
		}
	}
	if hosts != 1 || host == "" || !httpguts.ValidHostHeader(host) || lengths > 1 {
		return nil
	}
	if vv := h["Pragma"]; len(vv) > 0 && vv[0] == "no-cache" {
		// As net/http does, for HTTP/1.0 caches.
		if _, ok := h["Cache-Control"]; !ok {
			h["Cache-Control"] = []string{"no-cache"}
		}
	}

	p := new(parsed)
	r := &p.req
	r.Method = method
	r.RequestURI = s[:len(target)]
	if plain {
		p.url.Path = r.RequestURI[:query]
		if query < len(target) {
			p.url.RawQuery = r.RequestURI[query+1:]
			p.url.ForceQuery = p.url.RawQuery == ""
		}
		r.URL = &p.url
	} else {
		u, err := url.ParseRequestURI(r.RequestURI)
		if err != nil {
			return nil
		}
		r.URL = u
	}
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	r.Header = h
	r.Host = host
	r.Close = httpguts.HeaderValuesContainsToken(h["Connection"], "close")
	r.ContentLength = length
	r.Body = http.NoBody
	if length > 0 {
		p.body.Reset(br, length)
		r.Body = &p.body
	}
	_, _ = br.Discard(headLen)
	return r
}

func knownMethod(b []byte) string {
	switch string(b) {
	case http.MethodGet:
		return http.MethodGet
	case http.MethodPost:
		return http.MethodPost
	case http.MethodHead:
		return http.MethodHead
	case http.MethodPut:
		return http.MethodPut
	case http.MethodPatch:
		return http.MethodPatch
	case http.MethodDelete:
		return http.MethodDelete
	case http.MethodOptions:
		return http.MethodOptions
	}
	return ""
}

// appendCanonical appends name as textproto canonicalises it: upper case
// at the start and after '-', lower case elsewhere.
func appendCanonical(b, name []byte) []byte {
	upper := true
	for _, c := range name {
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
		upper = c == '-'
	}
	return b
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// parseLength reads a Content-Length as net/http accepts one: digits only,
// within int64.
func parseLength(v string) (int64, bool) {
	if v == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		d := int64(v[i] - '0')
		if v[i] < '0' || v[i] > '9' || n > (math.MaxInt64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}
