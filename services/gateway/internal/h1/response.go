package h1

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// holdBytes is how much of a body is held before the headers are sent: a
// handler that writes no more and does not flush gets one write with a
// Content-Length; beyond it the body is sent chunked.
const holdBytes = 8 << 10

var holdPool = sync.Pool{New: func() any { b := make([]byte, 0, holdBytes); return &b }}

// response is the http.ResponseWriter of one request. It also gives
// http.ResponseController what it asks for: FlushError, SetWriteDeadline
// and SetReadDeadline.
type response struct {
	c      *conn
	req    *http.Request
	header http.Header
	status int
	isHead bool

	wroteHeader bool // the handler has set the status
	committed   bool // the status and headers are on their way
	chunked     bool
	hold        *[]byte // the body until committed
	written     int64   // body bytes the handler wrote
	declared    int64   // the Content-Length the handler set, or -1
	closeAfter  bool

	sendContinue bool // the client waits for 100 Continue before its body
	continueSent bool
}

func newResponse(c *conn, req *http.Request) *response {
	return &response{
		c:          c,
		req:        req,
		header:     make(http.Header, 4),
		isHead:     req.Method == http.MethodHead,
		declared:   -1,
		closeAfter: req.Close,
	}
}

func (w *response) Header() http.Header { return w.header }

func (w *response) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if w.wroteHeader {
		return // superfluous, as net/http ignores it
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		w.writeInterim(code)
		return
	}
	w.wroteHeader = true
	w.status = code
	if cl := w.header.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n >= 0 {
			w.declared = n
		} else {
			w.header.Del("Content-Length")
		}
	}
}

// writeInterim sends a 1xx status with the headers set so far.
func (w *response) writeInterim(code int) {
	if code == http.StatusContinue {
		if w.continueSent {
			return
		}
		w.continueSent = true
	}
	_, _ = w.c.bw.WriteString("HTTP/1.1 " + statusLine(code) + "\r\n")
	_ = w.header.Write(w.c.bw)
	_, _ = w.c.bw.WriteString("\r\n")
	_ = w.c.bw.Flush()
}

// writeContinue answers a client waiting for 100 Continue, when the body
// is first read and nothing else has been sent.
func (w *response) writeContinue() {
	w.sendContinue = false
	if w.continueSent || w.committed {
		return
	}
	w.continueSent = true
	_, _ = w.c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
	_ = w.c.bw.Flush()
}

func (w *response) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if w.c.werr != nil {
		return 0, w.c.werr
	}
	if w.declared >= 0 && w.written+int64(len(p)) > w.declared {
		return 0, http.ErrContentLength
	}
	w.written += int64(len(p))
	if w.isHead {
		return len(p), nil
	}
	if !w.committed {
		if w.hold == nil {
			w.hold = holdPool.Get().(*[]byte)
		}
		if len(*w.hold)+len(p) <= holdBytes {
			*w.hold = append(*w.hold, p...)
			return len(p), nil
		}
		w.commit(false)
		if err := w.writeHeld(); err != nil {
			return 0, err
		}
	}
	if err := w.writeBody(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// writeBody sends p, in a chunk when the body is chunked.
func (w *response) writeBody(p []byte) error {
	if len(p) == 0 {
		return w.c.werr
	}
	if w.chunked {
		_, _ = w.c.bw.WriteString(strconv.FormatInt(int64(len(p)), 16))
		_, _ = w.c.bw.WriteString("\r\n")
		_, _ = w.c.bw.Write(p)
		_, err := w.c.bw.WriteString("\r\n")
		if err != nil {
			return err
		}
		return w.c.werr
	}
	_, err := w.c.bw.Write(p)
	return err
}

// writeHeld sends the body held so far and gives its buffer back.
func (w *response) writeHeld() error {
	if w.hold == nil {
		return nil
	}
	err := w.writeBody(*w.hold)
	w.release()
	return err
}

func (w *response) release() {
	if w.hold != nil {
		*w.hold = (*w.hold)[:0]
		holdPool.Put(w.hold)
		w.hold = nil
	}
}

// Flush sends what has been written so far.
func (w *response) Flush() { _ = w.FlushError() }

// FlushError sends what has been written so far and reports a failure.
func (w *response) FlushError() error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		w.commit(false)
		if err := w.writeHeld(); err != nil {
			return err
		}
	}
	if err := w.c.bw.Flush(); err != nil {
		return err
	}
	return w.c.werr
}

// SetWriteDeadline bounds the writes to the client from now on.
func (w *response) SetWriteDeadline(t time.Time) error { return w.c.rwc.SetWriteDeadline(t) }

// SetReadDeadline bounds the reads of the request body from now on.
func (w *response) SetReadDeadline(t time.Time) error { return w.c.rwc.SetReadDeadline(t) }

// finish ends the response once the handler has returned.
func (w *response) finish() error {
	defer w.release()
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		w.commit(true)
		if err := w.writeHeld(); err != nil {
			return err
		}
	} else if w.chunked {
		_, _ = w.c.bw.WriteString("0\r\n\r\n")
	}
	if w.declared >= 0 && w.written < w.declared && !w.isHead && bodyAllowed(w.status) {
		// Fewer bytes than declared: the client would wait for the rest.
		w.closeAfter = true
	}
	if err := w.c.bw.Flush(); err != nil {
		return err
	}
	return w.c.werr
}

// commit writes the status line and headers, framing the body: with a
// Content-Length when the handler set one or has finished (final), else
// chunked (HTTP/1.1) or closed at its end (HTTP/1.0).
func (w *response) commit(final bool) {
	w.committed = true
	h := w.header
	// The server frames the body, from what the handler declared when it
	// set the status; later changes to these headers do not count.
	h.Del("Transfer-Encoding")
	h.Del("Content-Length")
	contentLength := w.declared // written beside h, as is Date
	if v := h["Connection"]; len(v) > 0 && strings.EqualFold(strings.TrimSpace(v[0]), "close") {
		w.closeAfter = true
	}
	if !w.c.bodyDone() && w.req.ContentLength > maxDrain {
		w.closeAfter = true // more left than the server reads to keep the connection
	}
	if w.sendContinue && !w.continueSent {
		// Answered before the body it was waiting to send: the client may
		// send it yet, or not.
		w.closeAfter = true
	}
	held := 0
	if w.hold != nil {
		held = len(*w.hold)
	}
	switch {
	case !bodyAllowed(w.status):
		contentLength = -1
	case w.declared >= 0:
	case final && (!w.isHead || w.written > 0):
		contentLength = w.written
	case final, w.isHead:
		// A HEAD answer carries no body, so no framing for one.
	case w.req.ProtoAtLeast(1, 1):
		w.chunked = true
		h.Set("Transfer-Encoding", "chunked")
	default:
		w.closeAfter = true
	}
	if _, ok := h["Content-Type"]; !ok && held > 0 && bodyAllowed(w.status) {
		h.Set("Content-Type", http.DetectContentType((*w.hold)[:held]))
	}
	date := ""
	if _, ok := h["Date"]; !ok {
		date = httpDate()
	}
	switch {
	case w.closeAfter || w.c.srv.shutdown.Load():
		w.closeAfter = true
		h.Set("Connection", "close")
	case !w.req.ProtoAtLeast(1, 1):
		h.Set("Connection", "keep-alive")
	}
	bw := w.c.bw
	_, _ = bw.WriteString("HTTP/1.1 ")
	_, _ = bw.Write(strconv.AppendInt(bw.AvailableBuffer(), int64(w.status), 10))
	_, _ = bw.WriteString(" ")
	_, _ = bw.WriteString(http.StatusText(w.status))
	_, _ = bw.WriteString("\r\n")
	writeHeader(bw, h, contentLength, date) // drops invalid names and turns newlines in values to spaces
	_, _ = bw.WriteString("\r\n")
}

func bodyAllowed(code int) bool {
	return code >= 200 && code != http.StatusNoContent && code != http.StatusNotModified
}

func statusLine(code int) string {
	return strconv.Itoa(code) + " " + http.StatusText(code)
}

// dateCache holds the Date header of the current second.
var dateCache atomic.Pointer[cachedDate]

type cachedDate struct {
	sec int64
	s   string
}

func httpDate() string {
	now := time.Now()
	if d := dateCache.Load(); d != nil && d.sec == now.Unix() {
		return d.s
	}
	d := &cachedDate{sec: now.Unix(), s: now.UTC().Format(http.TimeFormat)}
	dateCache.Store(d)
	return d.s
}

// sanitize keeps msg printable for a plain-text error body.
func sanitize(msg string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, msg)
}
