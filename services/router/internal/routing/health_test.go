package routing

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keelhq/keel/services/router/internal/provider"
)

// switchable is a provider that fails with err while failing is set.
func switchable(name string, log *callLog, failing *atomic.Bool, err error) *funcProvider {
	return &funcProvider{name: name, log: log, fn: func(_ context.Context, req provider.Request, _ func(provider.Delta) error) (provider.Response, error) {
		if failing.Load() {
			return provider.Response{}, err
		}
		return okResponse(name, req), nil
	}}
}

// breakerRouter is a route "r" over a (which fails while failing is set)
// and b, with a fake clock.
func breakerRouter(t *testing.T, cfg HealthConfig, failing *atomic.Bool, err error) (*Router, *callLog, *fakeClock) {
	t.Helper()
	log := &callLog{}
	clock := newFakeClock()
	file := File{
		Routes: map[string]Route{"r": {Providers: []Candidate{{Provider: "a", Model: "ma"}, {Provider: "b", Model: "mb"}}}},
		Health: cfg,
	}
	r := newTestRouter(t, file, map[string]provider.Provider{
		"a": switchable("a", log, failing, err),
		"b": &funcProvider{name: "b", log: log},
	}, clock.options(nil))
	return r, log, clock
}

// callsOf makes one call and returns the providers it asked.
func callsOf(t *testing.T, r *Router, log *callLog) []string {
	t.Helper()
	before := len(log.get())
	if _, err := r.Generate(tenantCtx("acme"), "r", provider.Request{}); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return log.get()[before:]
}

func TestBreakerOpensAndBacksOff(t *testing.T) {
	t.Parallel()

	var failing atomic.Bool
	failing.Store(true)
	r, log, clock := breakerRouter(t,
		HealthConfig{FailureThreshold: 3, OpenFor: 10 * time.Second, MaxOpenFor: 25 * time.Second},
		&failing, classErr(provider.ErrServerFailed))

	step := func(name string, want ...string) {
		t.Helper()
		if diff := cmp.Diff(want, callsOf(t, r, log)); diff != "" {
			t.Errorf("%s: calls (-want +got):\n%s", name, diff)
		}
	}
	for i := range 3 {
		step("failure "+string(rune('1'+i)), "a", "b")
	}
	step("open", "b")
	clock.Advance(10*time.Second - time.Millisecond)
	step("still open", "b")

	// Half-open: one trial, which fails and doubles the open time.
	clock.Advance(time.Millisecond)
	step("first trial", "a", "b")
	clock.Advance(20*time.Second - time.Millisecond)
	step("open twice as long", "b")
	clock.Advance(time.Millisecond)
	step("second trial", "a", "b")

	// Doubled again it would be 40s; MaxOpenFor caps it at 25s.
	clock.Advance(25*time.Second - time.Millisecond)
	step("open for the maximum", "b")
	clock.Advance(time.Millisecond)
	failing.Store(false)
	step("successful trial", "a")
	step("closed", "a")

	// Closing forgot the streak: fewer failures than the threshold leave
	// the circuit closed.
	failing.Store(true)
	step("new failure 1", "a", "b")
	step("new failure 2", "a", "b")
	failing.Store(false)
	step("still closed", "a")
}

// TestBreakerSingleTrial keeps the half-open trial in flight while another
// call comes: that one skips the candidate.
func TestBreakerSingleTrial(t *testing.T) {
	t.Parallel()

	log := &callLog{}
	clock := newFakeClock()
	var failing atomic.Bool
	failing.Store(true)
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	var hold atomic.Bool
	a := &funcProvider{name: "a", log: log, fn: func(ctx context.Context, req provider.Request, _ func(provider.Delta) error) (provider.Response, error) {
		if hold.Load() {
			entered <- struct{}{}
			select {
			case <-release:
			case <-ctx.Done():
				return provider.Response{}, ctx.Err()
			}
		}
		if failing.Load() {
			return provider.Response{}, classErr(provider.ErrUnreachable)
		}
		return okResponse("a", req), nil
	}}
	file := File{
		Routes: map[string]Route{"r": {Providers: []Candidate{{Provider: "a"}, {Provider: "b"}}}},
		Health: HealthConfig{FailureThreshold: 1, OpenFor: time.Minute},
	}
	r := newTestRouter(t, file, map[string]provider.Provider{"a": a, "b": &funcProvider{name: "b", log: log}}, clock.options(nil))

	if diff := cmp.Diff([]string{"a", "b"}, callsOf(t, r, log)); diff != "" {
		t.Fatalf("opening call (-want +got):\n%s", diff)
	}
	clock.Advance(time.Minute)
	failing.Store(false)
	hold.Store(true)

	trial := make(chan Result, 1)
	go func() {
		res, err := r.Generate(tenantCtx("acme"), "r", provider.Request{})
		if err != nil {
			t.Errorf("trial call: %v", err)
		}
		trial <- res
	}()
	<-entered
	hold.Store(false)
	if diff := cmp.Diff([]string{"b"}, callsOf(t, r, log)); diff != "" {
		t.Errorf("call during the trial (-want +got):\n%s", diff)
	}
	close(release)
	if res := <-trial; res.Provider != "a" {
		t.Errorf("trial answered by %q, want a", res.Provider)
	}
	if diff := cmp.Diff([]string{"a"}, callsOf(t, r, log)); diff != "" {
		t.Errorf("call after the trial (-want +got):\n%s", diff)
	}
}

// TestBreakerRetryAfterCooldown checks that a provider's Retry-After rests
// just that provider and model, and only for as long as it asked.
func TestBreakerRetryAfterCooldown(t *testing.T) {
	t.Parallel()

	log := &callLog{}
	clock := newFakeClock()
	var calls atomic.Int32
	a := &funcProvider{name: "a", log: log, fn: func(_ context.Context, req provider.Request, _ func(provider.Delta) error) (provider.Response, error) {
		if req.Model == "m1" && calls.Add(1) == 1 {
			return provider.Response{}, retryAfterErr(provider.ErrRateLimited, 5*time.Second)
		}
		return okResponse("a", req), nil
	}}
	file := File{
		Routes: map[string]Route{"r": {Providers: []Candidate{{Provider: "a", Model: "m1"}, {Provider: "a", Model: "m2"}}}},
		// A circuit, had one opened, would stay open for a minute.
		Health: HealthConfig{OpenFor: time.Minute},
	}
	r := newTestRouter(t, file, map[string]provider.Provider{"a": a}, clock.options(nil))
	models := func() []string {
		t.Helper()
		before := len(log.getModels())
		res, err := r.Generate(tenantCtx("acme"), "r", provider.Request{})
		if err != nil {
			t.Fatalf("Generate: %v", err)
		}
		got := log.getModels()[before:]
		if res.Model != got[len(got)-1] {
			t.Errorf("answered by %q, want the last model called", res.Model)
		}
		return got
	}

	if diff := cmp.Diff([]string{"m1", "m2"}, models()); diff != "" {
		t.Errorf("rate limited call (-want +got):\n%s", diff)
	}
	clock.Advance(5*time.Second - time.Millisecond)
	if diff := cmp.Diff([]string{"m2"}, models()); diff != "" {
		t.Errorf("during the wait (-want +got):\n%s", diff)
	}
	clock.Advance(time.Millisecond)
	if diff := cmp.Diff([]string{"m1"}, models()); diff != "" {
		t.Errorf("after the wait (-want +got):\n%s", diff)
	}
}

func TestBreakerQuotaRests(t *testing.T) {
	t.Parallel()

	var failing atomic.Bool
	failing.Store(true)
	r, log, clock := breakerRouter(t, HealthConfig{OpenFor: 30 * time.Second}, &failing, classErr(provider.ErrQuotaExceeded))
	if diff := cmp.Diff([]string{"a", "b"}, callsOf(t, r, log)); diff != "" {
		t.Errorf("quota (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"b"}, callsOf(t, r, log)); diff != "" {
		t.Errorf("while resting (-want +got):\n%s", diff)
	}
	clock.Advance(30 * time.Second)
	failing.Store(false)
	if diff := cmp.Diff([]string{"a"}, callsOf(t, r, log)); diff != "" {
		t.Errorf("after resting (-want +got):\n%s", diff)
	}
}

func TestNoHealthyCandidate(t *testing.T) {
	t.Parallel()

	log := &callLog{}
	clock := newFakeClock()
	rec := &recorderFunc{}
	waits := map[string]time.Duration{"a": 40 * time.Second, "b": 20 * time.Second}
	limited := func(name string) *funcProvider {
		return &funcProvider{name: name, log: log, fn: func(context.Context, provider.Request, func(provider.Delta) error) (provider.Response, error) {
			return provider.Response{}, retryAfterErr(provider.ErrRateLimited, waits[name])
		}}
	}
	file := File{Routes: map[string]Route{"r": {Providers: []Candidate{{Provider: "a"}, {Provider: "b"}}}}}
	r := newTestRouter(t, file, map[string]provider.Provider{"a": limited("a"), "b": limited("b")}, clock.options(rec))
	ctx := tenantCtx("acme")

	if _, err := r.Generate(ctx, "r", provider.Request{}); !errors.Is(err, provider.ErrRateLimited) {
		t.Fatalf("first call: %v, want ErrRateLimited", err)
	}
	clock.Advance(5 * time.Second)
	_, err := r.Generate(ctx, "r", provider.Request{})
	if !errors.Is(err, ErrNoHealthyCandidate) {
		t.Fatalf("error = %v, want ErrNoHealthyCandidate", err)
	}
	if wait, ok := provider.RetryAfter(err); !ok || wait != 15*time.Second {
		t.Errorf("retry after = %v, %v; want 15s, until b's wait ends", wait, ok)
	}
	if got := rec.last(t); ErrorClass(got.Err) != "no_healthy_candidate" {
		t.Errorf("record = %+v, want a no_healthy_candidate failure", got)
	}
	if got := len(log.get()); got != 2 {
		t.Errorf("provider calls = %d, want 2: nobody is asked while all rest", got)
	}

	// Never less than a second.
	clock.Advance(15*time.Second - time.Millisecond)
	_, err = r.Generate(ctx, "r", provider.Request{})
	if wait, _ := provider.RetryAfter(err); wait != time.Second {
		t.Errorf("retry after = %v, want the 1s floor", wait)
	}

	t.Run("open circuits", func(t *testing.T) {
		t.Parallel()
		var failing atomic.Bool
		failing.Store(true)
		log := &callLog{}
		clock := newFakeClock()
		file := File{
			Routes: map[string]Route{"r": {Providers: []Candidate{{Provider: "a"}, {Provider: "b"}}}},
			Health: HealthConfig{FailureThreshold: 1, OpenFor: 30 * time.Second},
		}
		r := newTestRouter(t, file, map[string]provider.Provider{
			"a": switchable("a", log, &failing, classErr(provider.ErrServerFailed)),
			"b": switchable("b", log, &failing, classErr(provider.ErrOverloaded)),
		}, clock.options(nil))
		if _, err := r.Generate(tenantCtx("acme"), "r", provider.Request{}); !errors.Is(err, provider.ErrOverloaded) {
			t.Fatalf("first call: %v", err)
		}
		clock.Advance(10 * time.Second)
		_, err := r.Generate(tenantCtx("acme"), "r", provider.Request{})
		if wait, ok := provider.RetryAfter(err); !errors.Is(err, ErrNoHealthyCandidate) || !ok || wait != 20*time.Second {
			t.Errorf("error = %v, retry after %v; want ErrNoHealthyCandidate, 20s", err, wait)
		}
	})
}

func TestHealthUnit(t *testing.T) {
	t.Parallel()

	now := clockStart
	k := breakerKey{"a", "m"}

	t.Run("probed makes the next call the trial", func(t *testing.T) {
		t.Parallel()
		h := newHealth(HealthConfig{FailureThreshold: 2, OpenFor: time.Minute})
		h.failure(k, false, 0, now)
		if ok, _, _ := h.admit(k, now); !ok {
			t.Fatal("one failure below the threshold refused")
		}
		if got := h.open(); len(got) != 0 {
			t.Errorf("open = %v before the threshold", got)
		}
		h.failure(k, false, 0, now)
		if ok, _, until := h.admit(k, now); ok || !until.Equal(now.Add(time.Minute)) {
			t.Errorf("admit = %v until %v, want refused for a minute", ok, until)
		}
		if got := h.open(); !slices.Equal(got, []breakerKey{k}) {
			t.Errorf("open = %v, want [%v]", got, k)
		}
		h.probed(k, now.Add(time.Second))
		ok, trial, _ := h.admit(k, now.Add(time.Second))
		if !ok || !trial {
			t.Fatalf("admit after a passed probe = %v, trial %v; want the trial", ok, trial)
		}
		if got := h.open(); len(got) != 0 {
			t.Errorf("open = %v with the trial in flight", got)
		}
		if ok, _, _ := h.admit(k, now.Add(time.Second)); ok {
			t.Error("a second call admitted during the trial")
		}
		// A trial that says nothing about the provider frees the slot.
		h.release(k, true)
		if ok, trial, _ := h.admit(k, now.Add(time.Second)); !ok || !trial {
			t.Errorf("admit after a released trial = %v, trial %v", ok, trial)
		}
		h.success(k)
		if ok, trial, _ := h.admit(k, now.Add(time.Second)); !ok || trial {
			t.Errorf("admit after success = %v, trial %v; want closed", ok, trial)
		}
	})

	t.Run("a long Retry-After outlasts the open time", func(t *testing.T) {
		t.Parallel()
		h := newHealth(HealthConfig{FailureThreshold: 1, OpenFor: time.Second})
		h.failure(k, false, time.Minute, now)
		if ok, _, until := h.admit(k, now); ok || !until.Equal(now.Add(time.Minute)) {
			t.Errorf("admit = %v until %v, want refused for the minute asked", ok, until)
		}
	})

	t.Run("defaults", func(t *testing.T) {
		t.Parallel()
		h := newHealth(HealthConfig{})
		if h.threshold != DefaultFailureThreshold || h.openFor != DefaultOpenFor || h.maxOpenFor != DefaultMaxOpenFor {
			t.Errorf("health = %+v, want the defaults", h)
		}
	})
}

// checkedProvider is a scripted provider with a health check.
type checkedProvider struct {
	scriptedProvider
	checkErr error
	checks   []string
}

func (p *checkedProvider) Check(_ context.Context, model string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.checks = append(p.checks, model)
	return p.checkErr
}

func TestActiveHealthCheck(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		name      string
		checkErr  error
		wantTrial bool
	}{
		{name: "passed check makes the circuit half-open", wantTrial: true},
		{name: "failed check leaves it open", checkErr: classErr(provider.ErrServerFailed)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
			p := &checkedProvider{scriptedProvider: scriptedProvider{name: "a", log: &callLog{}}, checkErr: tc.checkErr}
			file := File{
				Routes:    map[string]Route{"r": {Providers: []Candidate{{Provider: "a", Model: "ma"}}}},
				Providers: map[string]ProviderConfig{"a": {Type: TypeLocal}},
				Health:    HealthConfig{FailureThreshold: 1, OpenFor: time.Hour},
			}
			r, err := New(file, map[string]provider.Provider{"a": p}, Options{Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			k := breakerKey{"a", "ma"}
			r.health.failure(k, false, 0, now)
			if ok, _, _ := r.health.admit(k, now); ok {
				t.Fatal("circuit not open after the threshold")
			}

			r.checkOpenCircuits(context.Background(), time.Second)

			if len(p.checks) != 1 || p.checks[0] != "ma" {
				t.Errorf("checks = %v, want one for model ma", p.checks)
			}
			ok, trial, _ := r.health.admit(k, now)
			if ok != tc.wantTrial || trial != tc.wantTrial {
				t.Errorf("after the check: admitted %v, trial %v; want %v", ok, trial, tc.wantTrial)
			}
		})
	}
}
