package routing

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// errSilent is the cause of an attempt ended by its idle timeout.
var errSilent = errors.New("provider went silent")

// NewHTTPClient returns the client the providers share: connections kept
// alive and pooled for many concurrent calls to one host (plain http
// through directTransport, https and proxied requests through net/http's
// Transport), no timeout of its own (each call's context governs), and a
// watchdog that ends a call whose response stays silent longer than the
// idle timeout in its context.
func NewHTTPClient() *http.Client {
	base := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	direct := schemeTransport{direct: newDirectTransport(), other: base, proxy: http.ProxyFromEnvironment}
	return &http.Client{
		Transport: idleTransport{base: direct},
		// A provider API does not redirect; one that does is answered with
		// its redirect (an error to the provider), and the prompt and the
		// key go nowhere else.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

type idleKey struct{}

// idleWatch is what an attempt's context carries for the idle watchdog: a
// timer that ends the attempt, with cancel(errSilent), when its response
// stays silent for timeout. It is paused while the attempt hands a piece to
// a caller who is slow to take it: that wait is not the provider's silence.
// The response is read, and its pieces handed on, by one goroutine, so no
// read rearms it while it is paused.
type idleWatch struct {
	timeout time.Duration
	cancel  context.CancelCauseFunc

	mu      sync.Mutex
	timer   *time.Timer // nil until the request goes out
	stopped bool
}

// withIdleTimeout makes requests sent with the returned context end, with
// cancel(errSilent), when their response stays silent for d. The watch is
// nil when d is not positive.
func withIdleTimeout(ctx context.Context, d time.Duration, cancel context.CancelCauseFunc) (context.Context, *idleWatch) {
	if d <= 0 {
		return ctx, nil
	}
	w := &idleWatch{timeout: d, cancel: cancel}
	return context.WithValue(ctx, idleKey{}, w), w
}

// start arms the watchdog as the request goes out.
func (w *idleWatch) start() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.timer = time.AfterFunc(w.timeout, func() { w.cancel(errSilent) })
}

// rearm gives the response a whole timeout again: bytes arrived, or a
// paused watchdog goes on.
func (w *idleWatch) rearm() {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil && !w.stopped {
		w.timer.Reset(w.timeout)
	}
}

// pause stops the watchdog until rearm.
func (w *idleWatch) pause() {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil {
		w.timer.Stop()
	}
}

// stop disarms the watchdog for good.
func (w *idleWatch) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil {
		w.timer.Stop()
	}
	w.stopped = true
}

// idleTransport arms the idle watchdog of a request whose context asks for
// one: from the request until the headers, and between reads of the body.
type idleTransport struct {
	base http.RoundTripper
}

// CloseIdleConnections closes the pooled connections of the transport below.
func (t idleTransport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func (t idleTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	w, _ := req.Context().Value(idleKey{}).(*idleWatch)
	if w == nil {
		return t.base.RoundTrip(req)
	}
	w.start()
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		w.stop()
		return nil, err
	}
	w.rearm()
	resp.Body = &idleBody{ReadCloser: resp.Body, watch: w}
	return resp, nil
}

// idleBody pushes the watchdog back whenever bytes arrive.
type idleBody struct {
	io.ReadCloser
	watch *idleWatch
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.watch.rearm()
	}
	return n, err
}

func (b *idleBody) Close() error {
	b.watch.stop()
	return b.ReadCloser.Close()
}
