package routing

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"strings"
	"sync/atomic"

	"github.com/keelhq/keel/pkg/httpbody"
)

// readResponse reads the answer to req from br. The head upstreams send
// (HTTP/1.1, a status of 200-599 with a body, plain header lines, a
// Content-Length or chunked) is read by fastResponse when all of it is
// already buffered; anything else, errors included, by http.ReadResponse,
// whose MIME reader, canonicalisation and copies were a few percent of
// the gateway's CPU. FuzzFastResponse holds the two to the same result.
func readResponse(br *bufio.Reader, req *http.Request) (*http.Response, error) {
	if _, err := br.Peek(1); err != nil {
		// Peek has taken the error from br, which would not give it to
		// http.ReadResponse again: this is what it makes of a first read
		// that fails.
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if resp := fastResponse(br, req); resp != nil {
		return resp, nil
	}
	return http.ReadResponse(br, req)
}

// maxFastFields bounds the header lines fastResponse reads: it keeps their
// places on the stack.
const maxFastFields = 32

// headField is a header line: its canonical key when that is a constant,
// and where its key and value are, in the buffer and then in the head's
// text.
type headField struct {
	key    string
	k0, k1 int
	v0, v1 int
	conn   bool // a Connection header
}

// fastResponse returns the response whose head starts br's buffer, and
// consumes the head, when all of the head is there and in the strict form
// it reads exactly as http.ReadResponse does; otherwise nil, with nothing
// consumed. It never reads from the connection.
func fastResponse(br *bufio.Reader, req *http.Request) *http.Response {
	if req.Method == http.MethodHead {
		// Its Content-Length is that of a body not sent.
		return nil
	}
	buf, _ := br.Peek(br.Buffered())
	end := lineEnd(buf, 0)
	if end < len("HTTP/1.1 200 ") || string(buf[:9]) != "HTTP/1.1 " || buf[12] != ' ' || !fieldText(buf[13:end]) {
		return nil
	}
	code := 0
	for _, c := range buf[9:12] {
		if c < '0' || c > '9' {
			return nil
		}
		code = code*10 + int(c-'0')
	}
	// 1xx and 101 go to the caller's loop through net/http; 204 and 304
	// have no body, whatever their header says.
	if code < 200 || code > 599 || code == http.StatusNoContent || code == http.StatusNotModified {
		return nil
	}
	status := buf[9:end]

	var (
		room    [maxFastFields]headField
		fields  = room[:0]
		scratch [64]byte
		length  int64 = -1
		chunked bool
		closing bool
		conns   int
		size    = len(status) // of the head's text: status, values, keys not constant
	)
	pos := end + 2
	for {
		end = lineEnd(buf, pos)
		if end < 0 {
			return nil
		}
		if end == pos {
			pos += 2
			break
		}
		line := buf[pos:end]
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || colon > len(scratch) || len(fields) == maxFastFields {
			return nil
		}
		for _, c := range line[:colon] {
			if !tokenByte[c] {
				// Space before the colon, a folded line, anything odd.
				return nil
			}
		}
		v0, v1 := colon+1, len(line)
		for v0 < v1 && (line[v0] == ' ' || line[v0] == '\t') {
			v0++
		}
		for v1 > v0 && (line[v1-1] == ' ' || line[v1-1] == '\t') {
			v1--
		}
		value := line[v0:v1]
		if !fieldText(value) {
			return nil
		}
		f := headField{k0: pos, k1: pos + colon, v0: pos + v0, v1: pos + v1}
		f.key = commonKey(canonical(&scratch, line[:colon]))
		pos = end + 2
		switch f.key {
		case "Content-Length":
			n, ok := parseLength(value)
			if !ok || length >= 0 {
				// A repeated one net/http checks and merges.
				return nil
			}
			length = n
		case "Transfer-Encoding":
			// net/http takes one, chunked, and keeps it out of Header.
			if chunked || !asciiEqualFold(value, "chunked") {
				return nil
			}
			chunked = true
			continue
		case "Connection":
			c, ok := connectionClose(value)
			if !ok {
				return nil
			}
			closing = closing || c
			f.conn = true
			conns++
		case "Pragma", "Trailer":
			// net/http adds a Cache-Control for the one and moves the
			// other to Response.Trailer.
			return nil
		case "":
			size += colon
		}
		size += len(value)
		fields = append(fields, f)
	}
	if chunked == (length >= 0) {
		// Neither (a body that ends with the connection) or both.
		return nil
	}
	// net/http drops the Connection header that asks to close.
	n := len(fields)
	if closing {
		n -= conns
	}

	// The head's strings are one allocation, sliced.
	var text strings.Builder
	text.Grow(size)
	text.Write(status)
	for i := range fields {
		f := &fields[i]
		if f.conn && closing {
			continue
		}
		if f.key == "" {
			k0 := text.Len()
			text.Write(canonical(&scratch, buf[f.k0:f.k1]))
			f.k0, f.k1 = k0, text.Len()
		}
		v0 := text.Len()
		text.Write(buf[f.v0:f.v1])
		f.v0, f.v1 = v0, text.Len()
	}
	s := text.String()

	vals := make([]string, n+1) // the last for TransferEncoding
	h := make(http.Header, n)
	i := 0
	for j, f := range fields {
		if f.conn && closing {
			continue
		}
		key := f.name(s)
		vals[i] = s[f.v0:f.v1]
		// Capped: an append to one key's values must not write over the
		// next key's.
		h[key] = vals[i : i+1 : i+1]
		if len(h) == i {
			// A repeated key, rare: it gets a slice of its own.
			h[key] = valuesOf(key, fields[:j+1], s, closing)
			continue
		}
		i++
	}
	resp := &http.Response{
		Status:        s[:len(status)],
		StatusCode:    code,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		ContentLength: length,
		Close:         closing,
		Request:       req,
	}
	_, _ = br.Discard(pos)
	switch {
	case chunked:
		vals[n] = "chunked"
		resp.TransferEncoding = vals[n : n+1 : n+1]
		resp.Body = &chunkedBody{r: httputil.NewChunkedReader(br), br: br, resp: resp}
	case length == 0:
		resp.Body = http.NoBody
	default:
		// Its Close reads nothing: the transport closes a connection
		// whose body was not read to its end.
		resp.Body = httpbody.NewFixed(br, length)
	}
	return resp
}

// name is f's canonical key, in the head's text s.
func (f *headField) name(s string) string {
	if f.key != "" {
		return f.key
	}
	return s[f.k0:f.k1]
}

// valuesOf returns the values of key in fields, in order.
func valuesOf(key string, fields []headField, s string, closing bool) []string {
	var vv []string
	for i := range fields {
		if f := &fields[i]; !(f.conn && closing) && f.name(s) == key {
			vv = append(vv, s[f.v0:f.v1])
		}
	}
	return vv
}

// lineEnd returns where the line that starts at i in buf ends, before its
// CRLF; -1 when the line ends in a bare LF or is not all in buf.
func lineEnd(buf []byte, i int) int {
	n := bytes.IndexByte(buf[i:], '\n')
	if n < 1 || buf[i+n-1] != '\r' {
		return -1
	}
	return i + n - 1
}

// tokenByte marks the bytes of a token (RFC 9110 5.6.2): a header name.
var tokenByte = func() (t [256]bool) {
	for _, c := range []byte("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") {
		t[c] = true
	}
	return t
}()

// fieldText reports whether b has no control bytes but HTAB: the bytes
// textproto takes in a header value.
func fieldText(b []byte) bool {
	for _, c := range b {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// canonical returns the header name as textproto canonicalises it, in dst,
// which it must fit: upper case first and after each hyphen, lower case
// elsewhere.
func canonical(dst *[64]byte, name []byte) []byte {
	upper := true
	for i, c := range name {
		switch {
		case upper && 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		case !upper && 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		dst[i] = c
		upper = c == '-'
	}
	return dst[:len(name)]
}

// commonKey returns the constant for a canonical key an upstream commonly
// sends, or "". Those the head reader must see are among them.
func commonKey(k []byte) string {
	switch string(k) {
	case "Content-Type":
		return "Content-Type"
	case "Content-Length":
		return "Content-Length"
	case "Transfer-Encoding":
		return "Transfer-Encoding"
	case "Connection":
		return "Connection"
	case "Date":
		return "Date"
	case "Server":
		return "Server"
	case "Keep-Alive":
		return "Keep-Alive"
	case "Retry-After":
		return "Retry-After"
	case "X-Request-Id":
		return "X-Request-Id"
	case "Request-Id":
		return "Request-Id"
	case "Cache-Control":
		return "Cache-Control"
	case "Vary":
		return "Vary"
	case "Content-Encoding":
		return "Content-Encoding"
	case "Access-Control-Allow-Origin":
		return "Access-Control-Allow-Origin"
	case "Access-Control-Allow-Credentials":
		return "Access-Control-Allow-Credentials"
	case "X-Content-Type-Options":
		return "X-Content-Type-Options"
	case "X-Accel-Buffering":
		return "X-Accel-Buffering"
	case "Openai-Processing-Ms":
		return "Openai-Processing-Ms"
	case "Openai-Version":
		return "Openai-Version"
	case "Pragma":
		return "Pragma"
	case "Trailer":
		return "Trailer"
	}
	return ""
}

// parseLength reads a Content-Length as net/http does: digits only, within
// an int64.
func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// asciiEqualFold compares b and s ignoring ASCII case only, as net/http
// compares tokens (strings.EqualFold would take the Kelvin sign for a k).
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// connectionClose reports whether a Connection value names close, when its
// tokens are all close or keep-alive; ok is false otherwise.
func connectionClose(v []byte) (closing, ok bool) {
	for {
		elem, rest, more := bytes.Cut(v, []byte(","))
		elem = bytes.Trim(elem, " \t")
		switch {
		case asciiEqualFold(elem, "close"):
			closing = true
		case !asciiEqualFold(elem, "keep-alive"):
			return false, false
		}
		if !more {
			return closing, true
		}
		v = rest
	}
}

// chunkedBody is a chunked body: net/http's chunk reader, then the trailer
// read past as net/http's body reads it, so that io.EOF means the
// connection is at the next response.
type chunkedBody struct {
	r      io.Reader
	br     *bufio.Reader
	resp   *http.Response
	eof    bool
	closed atomic.Bool
}

func (b *chunkedBody) Read(p []byte) (int, error) {
	if b.closed.Load() {
		return 0, http.ErrBodyReadAfterClose
	}
	if b.eof {
		return 0, io.EOF
	}
	n, err := b.r.Read(p)
	if err == io.EOF {
		if terr := readTrailer(b.br, b.resp); terr != nil {
			// As net/http: a body whose trailer failed reads no more.
			b.closed.Store(true)
			return n, terr
		}
		b.eof = true
	}
	return n, err
}

func (b *chunkedBody) Close() error {
	b.closed.Store(true)
	return nil
}

// net/http's errors for a trailer.
var (
	errTrailerEOF  = errors.New("http: unexpected EOF reading trailer")
	errLongTrailer = errors.New("http: suspiciously long trailer after chunked body")
)

// readTrailer reads what follows the last chunk: the CRLF that ends the
// body, or trailer fields, which go to resp.Trailer, when their end is in
// reach of the buffer.
func readTrailer(br *bufio.Reader, resp *http.Response) error {
	next, _ := br.Peek(2)
	if string(next) == "\r\n" {
		_, _ = br.Discard(2)
		return nil
	}
	if len(next) < 2 {
		return errTrailerEOF
	}
	if !trailerEnds(br) {
		return errLongTrailer
	}
	h, err := textproto.NewReader(br).ReadMIMEHeader()
	if err != nil {
		if err == io.EOF {
			err = errTrailerEOF
		}
		return err
	}
	resp.Trailer = http.Header(h)
	return nil
}

// trailerEnds reports whether a blank line (CRLF CRLF) comes before br's
// buffer is full or the connection ends, reading no more than it takes to
// see one: net/http bounds a trailer so.
func trailerEnds(br *bufio.Reader) bool {
	for {
		buf, _ := br.Peek(br.Buffered())
		if bytes.Contains(buf, []byte("\r\n\r\n")) {
			return true
		}
		if len(buf) == br.Size() {
			return false
		}
		if _, err := br.Peek(len(buf) + 1); err != nil {
			buf, _ = br.Peek(br.Buffered())
			return bytes.Contains(buf, []byte("\r\n\r\n"))
		}
	}
}
