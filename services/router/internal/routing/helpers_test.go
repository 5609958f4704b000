package routing

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/keelhq/keel/pkg/tenant"
	"github.com/keelhq/keel/services/router/internal/provider"
)

// clockStart is the fake clocks' start: far from the wall clock on purpose,
// so that code mixing the injected clock with real time shows.
var clockStart = time.Date(2100, time.March, 14, 12, 0, 0, 0, time.UTC)

// fakeClock is an injectable clock whose Sleep records the wait and moves
// the clock on instead of waiting.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{now: clockStart} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

func (c *fakeClock) options(rec Recorder) Options {
	return Options{Now: c.Now, Sleep: c.Sleep, Recorder: rec}
}

// funcProvider answers every call with fn, logging the call first.
type funcProvider struct {
	name string
	log  *callLog
	fn   func(ctx context.Context, req provider.Request, emit func(provider.Delta) error) (provider.Response, error)
}

func (p *funcProvider) Name() string { return p.name }

func (p *funcProvider) Generate(ctx context.Context, req provider.Request) (provider.Response, error) {
	return p.Stream(ctx, req, func(provider.Delta) error { return nil })
}

func (p *funcProvider) Stream(
	ctx context.Context,
	req provider.Request,
	emit func(provider.Delta) error,
) (provider.Response, error) {
	p.log.add(p.name, req.Model)
	if p.fn == nil {
		return okResponse(p.name, req), nil
	}
	return p.fn(ctx, req, emit)
}

func okResponse(name string, req provider.Request) provider.Response {
	return provider.Response{
		Text:         "reply from " + name,
		Model:        req.Model,
		Usage:        provider.Usage{InputTokens: 1000, OutputTokens: 2000},
		FinishReason: provider.FinishStop,
	}
}

// newTestRouter builds a router over file whose providers are the given
// ones; every provider of the file's routes must be among them.
func newTestRouter(t *testing.T, file File, providers map[string]provider.Provider, opts Options) *Router {
	t.Helper()
	r, err := New(file, providers, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

// scripted returns scripted providers named by names, sharing one log.
func scripted(log *callLog, steps map[string][]step, names ...string) map[string]provider.Provider {
	out := make(map[string]provider.Provider, len(names))
	for _, n := range names {
		out[n] = &scriptedProvider{name: n, steps: steps[n], log: log}
	}
	return out
}

func (l *callLog) getModels() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.models...)
}

func tenantCtx(name string) context.Context {
	return tenant.With(context.Background(), name)
}

func (r *recorderFunc) all() []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Record(nil), r.records...)
}

func (r *recorderFunc) last(t *testing.T) Record {
	t.Helper()
	recs := r.all()
	if len(recs) == 0 {
		t.Fatal("no record")
	}
	return recs[len(recs)-1]
}

func retryAfterErr(class error, d time.Duration) error {
	return &provider.Error{Class: class, StatusCode: 429, RetryAfter: d}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
