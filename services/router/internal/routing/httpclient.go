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

// idleWatch is what an attempt's context carries for the idle watchdog.
type idleWatch struct {
	timeout time.Duration
	cancel  context.CancelCauseFunc
}

// withIdleTimeout makes requests sent with the returned context end, with
// cancel(errSilent), when their response stays silent for d.
func withIdleTimeout(ctx context.Context, d time.Duration, cancel context.CancelCauseFunc) context.Context {
	if d <= 0 {
		return ctx
	}
	return context.WithValue(ctx, idleKey{}, &idleWatch{timeout: d, cancel: cancel})
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
	timer := time.AfterFunc(w.timeout, func() { w.cancel(errSilent) })
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		timer.Stop()
		return nil, err
	}
	timer.Reset(w.timeout)
	resp.Body = &idleBody{ReadCloser: resp.Body, timer: timer, timeout: w.timeout}
	return resp, nil
}

// idleBody pushes the watchdog back whenever bytes arrive.
type idleBody struct {
	io.ReadCloser
	timeout time.Duration

	mu    sync.Mutex
	timer *time.Timer
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.mu.Lock()
		b.timer.Reset(b.timeout)
		b.mu.Unlock()
	}
	return n, err
}

func (b *idleBody) Close() error {
	b.mu.Lock()
	b.timer.Stop()
	b.mu.Unlock()
	return b.ReadCloser.Close()
}
