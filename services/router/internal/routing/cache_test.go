package routing

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel/pkg/tenant"
	"github.com/keelhq/keel/services/router/internal/provider"
)

// cacheRouter returns a router with one route over scripted provider a,
// shaped by route, and the shadow provider s.
func cacheRouter(t *testing.T, route Route, a []step, clock *fakeClock, rec Recorder) (*Router, *callLog) {
	t.Helper()
	log := &callLog{}
	route.Providers = []Candidate{{Provider: "a", Model: "ma"}}
	file := File{
		Routes:    map[string]Route{"r": route},
		Providers: map[string]ProviderConfig{"a": {Type: TypeLocal}, "s": {Type: TypeLocal}},
	}
	r, err := New(file, map[string]provider.Provider{
		"a": &scriptedProvider{name: "a", steps: a, log: log},
		"s": &scriptedProvider{name: "s", log: log},
	}, clock.options(rec))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r, log
}

func userRequest(text string) provider.Request {
	return provider.Request{Messages: []provider.Message{{Role: provider.RoleUser, Content: text}}}
}

func TestResponseCache(t *testing.T) {
	t.Parallel()

	clock := newFakeClock()
	rec := &recorderFunc{}
	r, log := cacheRouter(t, Route{Cache: Cache{TTL: time.Minute}}, nil, clock, rec)
	acme := tenant.With(context.Background(), "acme")

	first, err := r.Do(acme, Call{UseCase: "r", Request: userRequest("hello")})
	if err != nil || first.Cached {
		t.Fatalf("first call: %+v, %v", first, err)
	}
	second, err := r.Do(acme, Call{UseCase: "r", Request: userRequest("hello")})
	if err != nil {
		t.Fatal(err)
	}
	if !second.Cached || second.CostMicros != 0 || second.Response.Text != first.Response.Text {
		t.Errorf("second call = %+v, want the first answer from the cache at no cost", second)
	}
	// No tokens were used for it: a client billing by usage counts none.
	if first.Response.Usage == (provider.Usage{}) || second.Response.Usage != (provider.Usage{}) {
		t.Errorf("usage first %+v, cached %+v; want the cached answer's zero", first.Response.Usage, second.Response.Usage)
	}
	if got := len(log.get()); got != 1 {
		t.Errorf("provider calls = %d, want 1", got)
	}
	if len(rec.records) != 2 || !rec.records[1].Cached || rec.records[1].Reserved || !rec.records[0].Reserved {
		t.Errorf("records = %+v, want the second marked cached and not reserved", rec.records)
	}

	// Another tenant, another question and an expired entry each miss.
	globex := tenant.With(context.Background(), "globex")
	if res, _ := r.Do(globex, Call{UseCase: "r", Request: userRequest("hello")}); res.Cached {
		t.Error("another tenant got acme's cached answer")
	}
	if res, _ := r.Do(acme, Call{UseCase: "r", Request: userRequest("hello there")}); res.Cached {
		t.Error("a different request was served from the cache")
	}
	clock.Advance(2 * time.Minute)
	if res, _ := r.Do(acme, Call{UseCase: "r", Request: userRequest("hello")}); res.Cached {
		t.Error("an expired answer was served")
	}
	if got := len(log.get()); got != 4 {
		t.Errorf("provider calls = %d, want 4", got)
	}

	// A streamed call served from the cache is told so first, then gets
	// the text as one piece.
	var deltas []string
	var start []StreamStart
	res, err := r.Do(acme, Call{UseCase: "r", Request: userRequest("hello"), Emit: func(d provider.Delta) error {
		deltas = append(deltas, d.Text)
		return nil
	}, Started: func(s StreamStart) error {
		if len(deltas) > 0 {
			t.Error("started after a piece")
		}
		start = append(start, s)
		return nil
	}})
	if err != nil || !res.Cached || strings.Join(deltas, "") != res.Response.Text || len(deltas) != 1 {
		t.Errorf("streamed hit: %+v, deltas %q, %v", res, deltas, err)
	}
	if len(start) != 1 || !start[0].Cached || start[0].Provider != res.Provider {
		t.Errorf("started %+v, want once, cached, naming %s", start, res.Provider)
	}
}

func TestCachedFallback(t *testing.T) {
	t.Parallel()

	clock := newFakeClock()
	rec := &recorderFunc{}
	route := Route{Fallback: Fallback{Cached: true, MaxAge: time.Hour}}
	failing := step{err: classErr(provider.ErrServerFailed)}
	r, _ := cacheRouter(t, route, []step{{}, failing, failing}, clock, rec)
	acme := tenant.With(context.Background(), "acme")

	first, err := r.Do(acme, Call{UseCase: "r", Request: userRequest("where is my order")})
	if err != nil {
		t.Fatal(err)
	}
	// The route does not serve from the cache while the provider answers...
	// but when it fails, the last answer comes back, marked degraded.
	res, err := r.Do(acme, Call{UseCase: "r", Request: userRequest("where is my order")})
	if err != nil {
		t.Fatalf("Do with a failing provider: %v", err)
	}
	if !res.Degraded || !res.Cached || res.Response.Text != first.Response.Text ||
		!strings.Contains(res.DegradedReason, "cached answer") {
		t.Errorf("fallback = %+v, want the cached answer marked degraded", res)
	}
	if last := rec.records[len(rec.records)-1]; !last.Degraded || !last.Cached {
		t.Errorf("record = %+v, want degraded and cached", last)
	}

	// A request never answered has nothing cached: the error comes back.
	if _, err := r.Do(acme, Call{UseCase: "r", Request: userRequest("something else")}); err == nil {
		t.Error("a failed call with nothing cached and no reply succeeded")
	}
}

func TestShadowTraffic(t *testing.T) {
	t.Parallel()

	clock := newFakeClock()
	rec := &recorderFunc{}
	r, log := cacheRouter(t, Route{Shadow: &Shadow{Provider: "s", Model: "ms", Share: 1}}, nil, clock, rec)
	acme := tenant.With(context.Background(), "acme")

	res, err := r.Do(acme, Call{UseCase: "r", Request: userRequest("hello")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Provider != "a" || res.Response.Text != "reply from a" {
		t.Errorf("result = %+v, want the primary's answer", res)
	}
	// The shadow runs in the background; wait for its record.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		rec.mu.Lock()
		n := len(rec.records)
		var shadow *Record
		for i := range rec.records {
			if rec.records[i].Shadow {
				shadow = &rec.records[i]
			}
		}
		rec.mu.Unlock()
		if shadow != nil {
			if shadow.Provider != "s" || shadow.Model != "ms-resolved" || shadow.Tenant != "acme" || n != 2 {
				t.Errorf("shadow record = %+v (of %d)", *shadow, n)
			}
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("no shadow record")
		case <-time.After(5 * time.Millisecond):
		}
	}
	if calls := log.get(); len(calls) != 2 || calls[1] != "s" {
		t.Errorf("calls = %v, want a then the shadow s", calls)
	}
}

func TestHoldingReplyNotGivenToStructuredCalls(t *testing.T) {
	t.Parallel()

	clock := newFakeClock()
	failing := step{err: classErr(provider.ErrServerFailed)}
	r, _ := cacheRouter(t, Route{Fallback: Fallback{Reply: "We are busy."}}, []step{failing, failing}, clock, &recorderFunc{})
	acme := tenant.With(context.Background(), "acme")

	req := userRequest("extract the order")
	req.Schema = &provider.Schema{Name: "order", JSON: []byte(`{"type":"object"}`)}
	if res, err := r.Do(acme, Call{UseCase: "r", Request: req}); err == nil {
		t.Errorf("structured call answered with %+v, want the error", res)
	}
	if res, err := r.Do(acme, Call{UseCase: "r", Request: userRequest("hello")}); err != nil || !res.Degraded {
		t.Errorf("plain call: %+v, %v; want the holding reply", res, err)
	}
}

// TestRouterDeadlineIsNoCancellation: a provider that returns the bare
// context error when the router's first-token deadline ends its attempt
// must not make the call look cancelled by the caller (which the gateway
// would answer with nothing at all).
func TestRouterDeadlineIsNoCancellation(t *testing.T) {
	t.Parallel()

	log := &callLog{}
	file := File{
		Routes: map[string]Route{"r": {
			Providers:         []Candidate{{Provider: "a", Model: "ma"}},
			FirstTokenTimeout: 50 * time.Millisecond,
		}},
		Providers: map[string]ProviderConfig{"a": {Type: TypeLocal}},
	}
	r, err := New(file, map[string]provider.Provider{
		"a": &scriptedProvider{name: "a", steps: []step{{block: true, bare: true}}, log: log},
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Do(tenant.With(context.Background(), "acme"), Call{
		UseCase: "r", Request: userRequest("hi"), Emit: func(provider.Delta) error { return nil },
	})
	if !errors.Is(err, provider.ErrTimedOut) || errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want a timeout that is no cancellation", err)
	}
}

func TestCacheKeepsNoLargeAnswers(t *testing.T) {
	t.Parallel()

	c := newResponseCache(File{Routes: map[string]Route{"r": {Cache: Cache{TTL: time.Minute}}}})
	now := time.Now()
	big := Result{Response: provider.Response{ToolCalls: []provider.ToolCall{{Name: "f", Arguments: strings.Repeat("x", cacheMaxAnswer)}}}}
	c.put(cacheKey{1}, big, now)
	if _, ok := c.get(cacheKey{1}, time.Minute, now); ok {
		t.Error("a tool call larger than the bound was cached")
	}
	signed := Result{Response: provider.Response{ToolCalls: []provider.ToolCall{{Name: "f", Signature: strings.Repeat("s", cacheMaxAnswer)}}}}
	c.put(cacheKey{3}, signed, now)
	if _, ok := c.get(cacheKey{3}, time.Minute, now); ok {
		t.Error("a tool call with a signature larger than the bound was cached")
	}
	small := Result{Response: provider.Response{Text: "ok"}}
	c.put(cacheKey{2}, small, now)
	if _, ok := c.get(cacheKey{2}, time.Minute, now); !ok {
		t.Error("a small answer was not cached")
	}
}

// A cached answer's tool calls keep their signatures, whole and streamed:
// the caller sends them back with the next turn.
func TestCacheKeepsSignatures(t *testing.T) {
	t.Parallel()

	call := provider.ToolCall{ID: "c1", Name: "lookup", Arguments: "{}", Signature: "c2lnbmVk"}
	p := &funcProvider{name: "a", log: &callLog{}, fn: func(context.Context, provider.Request, func(provider.Delta) error) (provider.Response, error) {
		return provider.Response{ToolCalls: []provider.ToolCall{call}, FinishReason: provider.FinishToolCalls}, nil
	}}
	r := newTestRouter(t, File{Routes: map[string]Route{"r": {
		Providers: []Candidate{{Provider: "a"}}, Cache: Cache{TTL: time.Minute},
	}}}, map[string]provider.Provider{"a": p}, Options{})
	acme := tenantCtx("acme")

	if _, err := r.Do(acme, Call{UseCase: "r", Request: userRequest("look it up")}); err != nil {
		t.Fatal(err)
	}
	hit, err := r.Do(acme, Call{UseCase: "r", Request: userRequest("look it up")})
	if err != nil || !hit.Cached || len(hit.Response.ToolCalls) != 1 || hit.Response.ToolCalls[0] != call {
		t.Errorf("hit %+v, %v; want the cached call with its signature", hit, err)
	}
	var emitted []provider.ToolCall
	hit, err = r.Do(acme, Call{UseCase: "r", Request: userRequest("look it up"), Emit: func(d provider.Delta) error {
		if d.ToolCall != nil {
			emitted = append(emitted, *d.ToolCall)
		}
		return nil
	}})
	if err != nil || !hit.Cached || len(emitted) != 1 || emitted[0] != call {
		t.Errorf("streamed hit %v, %v, emitted %+v; want the cached call with its signature", hit.Cached, err, emitted)
	}
	if got := len(p.log.get()); got != 1 {
		t.Errorf("provider calls = %d, want 1", got)
	}
}
