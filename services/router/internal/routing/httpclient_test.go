package routing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keelhq/keel/services/router/internal/provider"
	"github.com/keelhq/keel/services/router/internal/provider/openai"
)

const idleTimeout = 200 * time.Millisecond

// idleServer serves handler on loopback; handlers wait on the returned
// channel (closed at cleanup) as well as on their request's context.
func idleServer(t *testing.T, handler func(w http.ResponseWriter, r *http.Request, stop <-chan struct{})) *httptest.Server {
	t.Helper()
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler(w, r, stop)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(stop) })
	return srv
}

// idleRequest sends a GET to url with the idle watchdog armed and returns
// the watchdog's context; a generous outer deadline keeps a broken
// watchdog from hanging the test.
func idleRequest(t *testing.T, url string) (context.Context, *http.Response, error) {
	t.Helper()
	outer, cancelOuter := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancelOuter)
	ctx, cancel := context.WithCancelCause(outer)
	t.Cleanup(func() { cancel(nil) })
	ictx, _ := withIdleTimeout(ctx, idleTimeout, cancel)
	req, err := http.NewRequestWithContext(ictx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	client := NewHTTPClient()
	t.Cleanup(client.CloseIdleConnections)
	resp, err := client.Do(req)
	if err == nil {
		t.Cleanup(func() { _ = resp.Body.Close() })
	}
	return ctx, resp, err
}

func TestIdleTimeoutSilentBody(t *testing.T) {
	t.Parallel()

	srv := idleServer(t, func(w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	})
	ctx, resp, err := idleRequest(t, srv.URL)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Fatalf("read %q to the end, want the watchdog to cut it", body)
	}
	if string(body) != "data: one\n\n" {
		t.Errorf("body = %q, want the first chunk", body)
	}
	if cause := context.Cause(ctx); !errors.Is(cause, errSilent) {
		t.Errorf("cause = %v, want errSilent", cause)
	}
}

func TestIdleTimeoutSilentHeaders(t *testing.T) {
	t.Parallel()

	srv := idleServer(t, func(_ http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	})
	ctx, _, err := idleRequest(t, srv.URL)
	if err == nil {
		t.Fatal("request succeeded, want the watchdog to cut it")
	}
	if cause := context.Cause(ctx); !errors.Is(cause, errSilent) {
		t.Errorf("cause = %v, want errSilent", cause)
	}
}

func TestIdleTimeoutSteadyStream(t *testing.T) {
	t.Parallel()

	// 40 chunks 10ms apart: the whole body takes twice the idle timeout,
	// but no gap comes near it.
	const chunks = 40
	srv := idleServer(t, func(w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range chunks {
			_, _ = fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	})
	ctx, resp, err := idleRequest(t, srv.URL)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read: %v (cause %v)", err, context.Cause(ctx))
	}
	if got := strings.Count(string(body), "data: "); got != chunks {
		t.Errorf("chunks = %d, want %d", got, chunks)
	}
	if err := resp.Body.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if cause := context.Cause(ctx); cause != nil {
		t.Errorf("cause = %v, want none", cause)
	}
}

// TestIdleTimeoutWithoutWatch checks that requests without an idle timeout
// in their context pass through untouched.
func TestIdleTimeoutWithoutWatch(t *testing.T) {
	t.Parallel()

	srv := idleServer(t, func(w http.ResponseWriter, _ *http.Request, _ <-chan struct{}) {
		_, _ = io.WriteString(w, "ok")
	})
	parent := context.Background()
	if got, w := withIdleTimeout(parent, 0, func(error) {}); got != parent || w != nil {
		t.Error("withIdleTimeout(0) changed the context")
	}
	client := NewHTTPClient()
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(parent, http.MethodGet, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	defer resp.Body.Close()
	if _, ok := resp.Body.(*idleBody); ok {
		t.Error("body watched without an idle timeout")
	}
	if b, _ := io.ReadAll(resp.Body); string(b) != "ok" {
		t.Errorf("body = %q", b)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger used from several
// goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestIdleTimeoutThroughRouter routes to an OpenAI-compatible server that
// sends part of its reply and goes silent: the route's idle timeout ends
// the attempt as a timeout and the call fails over.
func TestIdleTimeoutThroughRouter(t *testing.T) {
	t.Parallel()

	srv := idleServer(t, func(w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"chatcmpl-1",`)
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	})
	file, err := ParseFile([]byte(`
routes:
  r:
    providers:
      - {provider: hosted, model: m}
      - {provider: local, model: keel-local-1}
    idle_timeout: 200ms
    timeout: 1m
providers:
  hosted: {type: openai, base_url: "` + srv.URL + `/v1"}
`))
	if err != nil {
		t.Fatalf("ParseFile: %v", err)
	}
	client := NewHTTPClient()
	t.Cleanup(client.CloseIdleConnections)
	providers, err := file.BuildProviders(func(string) string { return "" }, nil, client)
	if err != nil {
		t.Fatalf("BuildProviders: %v", err)
	}
	var logs syncBuffer
	r := newTestRouter(t, file, providers, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})

	res, err := r.Generate(tenantCtx("acme"), "r", provider.Request{
		Messages: []provider.Message{{Role: provider.RoleUser, Content: "hello"}},
	})
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if res.Provider != "local" || res.Attempts != 2 {
		t.Errorf("result = %+v, want local on the second attempt", res)
	}
	if out := logs.String(); !strings.Contains(out, "class=timeout") || !strings.Contains(out, errSilent.Error()) {
		t.Errorf("log does not show a silent provider's timeout:\n%s", out)
	}
}

// TestNoAnswerCrossesCallers: a provider that sends an interim 103 before
// its answer, and stray bytes after it, on a kept-alive connection must not
// make any caller receive another's answer.
func TestNoAnswerCrossesCallers(t *testing.T) {
	t.Parallel()

	url, _ := rawServer(t, func(c net.Conn, req *http.Request) {
		var body struct {
			Messages []struct{ Content string } `json:"messages"`
		}
		_ = json.NewDecoder(req.Body).Decode(&body)
		prompt := body.Messages[len(body.Messages)-1].Content
		answer := fmt.Sprintf(`{"choices":[{"index":0,"message":{"role":"assistant","content":"ECHO:%s"},"finish_reason":"stop"}]}`, prompt)
		_, _ = fmt.Fprintf(c, "HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n"+
			"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"+
			"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nSTRAY", len(answer), answer)
	})

	p := openai.New(openai.Config{Name: "p", BaseURL: url + "/v1", HTTPClient: NewHTTPClient()})
	answered := 0
	for i := range 5 {
		prompt := fmt.Sprintf("caller-%d", i)
		resp, err := p.Generate(context.Background(), provider.Request{
			Model: "m", Messages: []provider.Message{{Role: provider.RoleUser, Content: prompt}},
		})
		if err != nil {
			continue // a connection spoiled by stray bytes may fail; it must not lie
		}
		if resp.Text != "ECHO:"+prompt {
			t.Fatalf("caller %d got %q", i, resp.Text)
		}
		answered++
	}
	if answered == 0 {
		t.Error("no caller got an answer")
	}
}

// A provider's redirect is not followed: the prompt goes nowhere else.
func TestProviderRedirectNotFollowed(t *testing.T) {
	t.Parallel()

	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { elsewhere.Add(1) }))
	t.Cleanup(other.Close)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(srv.Close)
	p := openai.New(openai.Config{Name: "p", BaseURL: srv.URL + "/v1", HTTPClient: NewHTTPClient()})
	_, err := p.Generate(context.Background(), provider.Request{
		Model: "m", Messages: []provider.Message{{Role: provider.RoleUser, Content: "hi"}},
	})
	if err == nil {
		t.Error("a redirected call succeeded")
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the redirect target got %d requests", n)
	}
}
