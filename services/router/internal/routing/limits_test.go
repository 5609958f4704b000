package routing

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keelhq/keel/services/router/internal/provider"
)

// near reports whether got is within a millisecond of want.
func near(got, want time.Duration) bool {
	d := got - want
	return d > -time.Millisecond && d < time.Millisecond
}

// limitErr returns err as a *LimitError, failing the test when it is not
// one or does not wrap ErrLimited.
func limitErr(t *testing.T, err error) *LimitError {
	t.Helper()
	var le *LimitError
	if !errors.As(err, &le) || !errors.Is(err, ErrLimited) {
		t.Fatalf("error = %v, want a *LimitError wrapping ErrLimited", err)
	}
	return le
}

// reserveN reserves n times and fails the test unless all pass.
func reserveN(t *testing.T, l *limiter, n int, tenantLimits, routeLimits Limits, tokens, micros int64, now time.Time) []reservation {
	t.Helper()
	var out []reservation
	for i := range n {
		res, err := l.Reserve("acme", "r", tenantLimits, routeLimits, tokens, micros, now)
		if err != nil {
			t.Fatalf("reserve %d of %d: %v", i+1, n, err)
		}
		out = append(out, res)
	}
	return out
}

func TestLimiterRequestsPerMinute(t *testing.T) {
	t.Parallel()

	l := newLimiter()
	lim := Limits{RequestsPerMinute: 6} // one every 10s
	now := clockStart
	reserveN(t, l, 6, lim, Limits{}, 0, 0, now)

	_, err := l.Reserve("acme", "r", lim, Limits{}, 0, 0, now)
	le := limitErr(t, err)
	if le.Scope != "tenant" || le.Kind != "requests" || !near(le.RetryAfter, 10*time.Second) {
		t.Errorf("refusal = %+v, want tenant requests, retry in 10s", le)
	}

	// Half a request later, half the wait is left.
	now = now.Add(5 * time.Second)
	_, err = l.Reserve("acme", "r", lim, Limits{}, 0, 0, now)
	if le := limitErr(t, err); !near(le.RetryAfter, 5*time.Second) {
		t.Errorf("retry after = %v, want 5s", le.RetryAfter)
	}

	// Once one request has refilled, exactly one passes.
	now = now.Add(5 * time.Second)
	reserveN(t, l, 1, lim, Limits{}, 0, 0, now)
	if _, err := l.Reserve("acme", "r", lim, Limits{}, 0, 0, now); !errors.Is(err, ErrLimited) {
		t.Errorf("second request after one refilled: %v, want refused", err)
	}

	// A minute refills the bucket, but not beyond its capacity.
	now = now.Add(time.Hour)
	reserveN(t, l, 6, lim, Limits{}, 0, 0, now)
	if _, err := l.Reserve("acme", "r", lim, Limits{}, 0, 0, now); !errors.Is(err, ErrLimited) {
		t.Errorf("seventh request after an idle hour: %v, want refused", err)
	}
}

func TestLimiterTokensSettle(t *testing.T) {
	t.Parallel()

	l := newLimiter()
	lim := Limits{TokensPerMinute: 6000} // 100 a second
	now := clockStart

	res := reserveN(t, l, 1, lim, Limits{}, 1000, 0, now)[0]
	// The call used 500 more than it reserved: 4500 left.
	l.Settle(res, 1500, 0, now)
	_, err := l.Reserve("acme", "r", lim, Limits{}, 4501, 0, now)
	if le := limitErr(t, err); le.Kind != "tokens" || !near(le.RetryAfter, 10*time.Millisecond) {
		t.Errorf("refusal = %+v, want tokens, retry in 10ms (one token short)", le)
	}
	res = reserveN(t, l, 1, lim, Limits{}, 4500, 0, now)[0]

	// It used less: the rest comes back.
	l.Settle(res, 500, 0, now)
	reserveN(t, l, 1, lim, Limits{}, 4000, 0, now)
	_, err = l.Reserve("acme", "r", lim, Limits{}, 1, 0, now)
	if le := limitErr(t, err); !near(le.RetryAfter, 10*time.Millisecond) {
		t.Errorf("retry after = %v, want 10ms for one token", le.RetryAfter)
	}
}

func TestLimiterCallLargerThanBucket(t *testing.T) {
	t.Parallel()

	l := newLimiter()
	lim := Limits{TokensPerMinute: 1000}
	now := clockStart

	// Not full: a call larger than the whole bucket waits until it is.
	small := reserveN(t, l, 1, lim, Limits{}, 1, 0, now)[0]
	_, err := l.Reserve("acme", "r", lim, Limits{}, 5000, 0, now)
	if le := limitErr(t, err); !near(le.RetryAfter, 60*time.Millisecond) {
		t.Errorf("retry after = %v, want 60ms for the one token missing from a full bucket", le.RetryAfter)
	}
	l.Settle(small, 0, 0, now)

	// Full: it passes and empties the bucket.
	big := reserveN(t, l, 1, lim, Limits{}, 5000, 0, now)[0]
	_, err = l.Reserve("acme", "r", lim, Limits{}, 1, 0, now)
	if le := limitErr(t, err); !near(le.RetryAfter, 60*time.Millisecond) {
		t.Errorf("retry after = %v, want 60ms for one token", le.RetryAfter)
	}

	// Settling charges what it really used beyond the bucket: 4000 more,
	// four minutes of refill before the next token.
	l.Settle(big, 5000, 0, now)
	_, err = l.Reserve("acme", "r", lim, Limits{}, 1, 0, now)
	if le := limitErr(t, err); !near(le.RetryAfter, 4*time.Minute+60*time.Millisecond) {
		t.Errorf("retry after = %v, want 4m0.06s", le.RetryAfter)
	}
}

func TestLimiterBudgetDay(t *testing.T) {
	t.Parallel()

	l := newLimiter()
	lim := Limits{BudgetMicros: 100}
	// 05:00 at UTC+10 is 19:00 UTC the day before: the day ends in 5h.
	now := time.Date(2100, time.March, 15, 5, 0, 0, 0, time.FixedZone("AEST", 10*3600))

	first := reserveN(t, l, 1, lim, Limits{}, 0, 40, now)[0]
	reserveN(t, l, 1, lim, Limits{}, 0, 40, now)
	// Both calls are still in flight: 80 reserved.
	_, err := l.Reserve("acme", "r", lim, Limits{}, 0, 30, now)
	le := limitErr(t, err)
	if le.Kind != "budget" || le.Scope != "tenant" || le.RetryAfter != 5*time.Hour {
		t.Errorf("refusal = %+v, want tenant budget, retry in 5h at the next UTC day", le)
	}

	// The first cost 10, not 40: 10 spent, 40 reserved, 50 left.
	l.Settle(first, 0, 10, now)
	reserveN(t, l, 1, lim, Limits{}, 0, 30, now)
	if _, err := l.Reserve("acme", "r", lim, Limits{}, 0, 21, now); !errors.Is(err, ErrLimited) {
		t.Errorf("21 over 80 of 100: %v, want refused", err)
	}
	reserveN(t, l, 1, lim, Limits{}, 0, 20, now)

	// A new UTC day starts afresh.
	now = now.Add(5 * time.Hour)
	reserveN(t, l, 1, lim, Limits{}, 0, 100, now)
}

func TestLimiterBudgetMonth(t *testing.T) {
	t.Parallel()

	l := newLimiter()
	lim := Limits{BudgetMicros: 100, BudgetPeriod: "month"}
	now := time.Date(2100, time.January, 15, 12, 0, 0, 0, time.UTC)

	res := reserveN(t, l, 1, lim, Limits{}, 0, 10, now)[0]
	l.Settle(res, 0, 100, now)

	// A new day is not a new month.
	now = time.Date(2100, time.January, 31, 23, 0, 0, 0, time.UTC)
	_, err := l.Reserve("acme", "r", lim, Limits{}, 0, 1, now)
	if le := limitErr(t, err); le.Kind != "budget" || le.RetryAfter != time.Hour {
		t.Errorf("refusal = %+v, want budget, retry in 1h at February", le)
	}

	now = time.Date(2100, time.February, 1, 0, 0, 0, 0, time.UTC)
	reserveN(t, l, 1, lim, Limits{}, 0, 100, now)
}

// TestLimiterSettleAcrossPeriods settles a reservation made on one day
// after another call opened the next: the new day's reservations stay
// counted.
func TestLimiterSettleAcrossPeriods(t *testing.T) {
	t.Parallel()

	l := newLimiter()
	lim := Limits{BudgetMicros: 100}
	evening := time.Date(2100, time.March, 14, 23, 59, 59, 0, time.UTC)
	morning := evening.Add(2 * time.Second)

	yesterday := reserveN(t, l, 1, lim, Limits{}, 0, 60, evening)[0]
	reserveN(t, l, 1, lim, Limits{}, 0, 60, morning) // in flight
	l.Settle(yesterday, 0, 0, morning)

	// 60 of today's 100 are still reserved.
	if _, err := l.Reserve("acme", "r", lim, Limits{}, 0, 60, morning); !errors.Is(err, ErrLimited) {
		t.Errorf("60 over 60 in flight of 100: %v, want refused", err)
	}
	reserveN(t, l, 1, lim, Limits{}, 0, 40, morning)
}

func TestLimiterScopesAllOrNothing(t *testing.T) {
	t.Parallel()

	l := newLimiter()
	tenantLim := Limits{RequestsPerMinute: 10, TokensPerMinute: 1000, BudgetMicros: 1000}
	routeLim := Limits{RequestsPerMinute: 1}
	now := clockStart

	reserveN(t, l, 1, tenantLim, routeLim, 100, 100, now)
	st := l.shard("acme").state[limitKey{tenant: "acme"}]
	before := *st

	_, err := l.Reserve("acme", "r", tenantLim, routeLim, 100, 100, now)
	if le := limitErr(t, err); le.Scope != "route r" || le.Kind != "requests" {
		t.Errorf("refusal = %+v, want route r requests", le)
	}
	if *st != before {
		t.Errorf("tenant state changed by a refusal of the route:\nbefore %+v\nafter  %+v", before, *st)
	}

	// The tenant has 9 requests, 900 tokens and 900 micros left on other
	// routes, not 8, 800 and 800.
	for range 9 {
		if _, err := l.Reserve("acme", "other", tenantLim, Limits{}, 100, 100, now); err != nil {
			t.Fatalf("tenant limit taken by a refused call: %v", err)
		}
	}
	if _, err := l.Reserve("acme", "other", tenantLim, Limits{}, 0, 0, now); !errors.Is(err, ErrLimited) {
		t.Errorf("eleventh request: %v, want refused", err)
	}

	// A refusal by the tenant's tokens gives back the request it took.
	l2 := newLimiter()
	lim := Limits{RequestsPerMinute: 2, TokensPerMinute: 100}
	reserveN(t, l2, 1, lim, Limits{}, 100, 0, now)
	if _, err := l2.Reserve("acme", "r", lim, Limits{}, 50, 0, now); limitErr(t, err).Kind != "tokens" {
		t.Errorf("refusal = %v, want tokens", err)
	}
	// One request is left for a call that needs no tokens.
	reserveN(t, l2, 1, lim, Limits{}, 0, 0, now)
}

func TestLimiterTenantsIndependent(t *testing.T) {
	t.Parallel()

	l := newLimiter()
	lim := Limits{RequestsPerMinute: 1}
	now := clockStart
	for _, tn := range []string{"acme", "globex"} {
		if _, err := l.Reserve(tn, "r", lim, lim, 0, 0, now); err != nil {
			t.Fatalf("%s: %v", tn, err)
		}
	}
	for _, tn := range []string{"acme", "globex"} {
		if _, err := l.Reserve(tn, "r", lim, Limits{}, 0, 0, now); !errors.Is(err, ErrLimited) {
			t.Errorf("%s second request: %v, want refused", tn, err)
		}
	}
	if _, err := l.Reserve("initech", "r", Limits{}, lim, 0, 0, now); err != nil {
		t.Errorf("another tenant on the same route: %v", err)
	}
}

// TestLimiterConcurrent reserves from many goroutines at one instant: the
// limits admit exactly what they allow, and settled totals are exact.
func TestLimiterConcurrent(t *testing.T) {
	t.Parallel()

	const goroutines, each = 64, 50
	now := clockStart
	run := func(fn func() bool) int64 {
		var admitted atomic.Int64
		var wg sync.WaitGroup
		for range goroutines {
			wg.Go(func() {
				for range each {
					if fn() {
						admitted.Add(1)
					}
				}
			})
		}
		wg.Wait()
		return admitted.Load()
	}

	t.Run("requests", func(t *testing.T) {
		t.Parallel()
		l := newLimiter()
		lim := Limits{RequestsPerMinute: 1000}
		got := run(func() bool {
			_, err := l.Reserve("acme", "r", lim, Limits{}, 0, 0, now)
			return err == nil
		})
		if got != 1000 {
			t.Errorf("admitted %d, want 1000", got)
		}
	})

	t.Run("budget reserved then settled", func(t *testing.T) {
		t.Parallel()
		l := newLimiter()
		lim := Limits{BudgetMicros: 10_000, TokensPerMinute: 1_000_000}
		var (
			mu   sync.Mutex
			held []reservation
		)
		got := run(func() bool {
			res, err := l.Reserve("acme", "r", lim, lim, 50, 7, now)
			if err != nil {
				return false
			}
			mu.Lock()
			held = append(held, res)
			mu.Unlock()
			return true
		})
		if got != 10_000/7 {
			t.Fatalf("admitted %d, want %d", got, 10_000/7)
		}
		var wg sync.WaitGroup
		for _, res := range held {
			wg.Go(func() { l.Settle(res, 30, 3, now) })
		}
		wg.Wait()
		for _, key := range []limitKey{{tenant: "acme"}, {tenant: "acme", route: "r"}} {
			st := l.shard("acme").state[key]
			if st.spent != 3*got || st.reserved != 0 || st.tokens.level != float64(1_000_000-30*got) {
				t.Errorf("%+v: spent %d reserved %d tokens %v, want %d, 0, %d",
					key, st.spent, st.reserved, st.tokens.level, 3*got, 1_000_000-30*got)
			}
		}
	})

	t.Run("reserve and settle interleaved", func(t *testing.T) {
		t.Parallel()
		l := newLimiter()
		lim := Limits{BudgetMicros: 10_000}
		got := run(func() bool {
			res, err := l.Reserve("acme", "r", lim, Limits{}, 0, 7, now)
			if err != nil {
				return false
			}
			l.Settle(res, 0, 7, now)
			return true
		})
		if got != 10_000/7 {
			t.Errorf("admitted %d, want %d", got, 10_000/7)
		}
		st := l.shard("acme").state[limitKey{tenant: "acme"}]
		if st.spent != 7*got || st.reserved != 0 {
			t.Errorf("spent %d reserved %d, want %d and 0", st.spent, st.reserved, 7*got)
		}
	})
}

// limitedFile is a route "r" over a single provider a that charges one
// micro per token.
func limitedFile(tenants TenantLimits, routeLimits Limits) File {
	return File{
		Routes: map[string]Route{"r": {Providers: []Candidate{{Provider: "a", Model: "ma"}}, Limits: routeLimits}},
		Providers: map[string]ProviderConfig{"a": {
			Type: TypeLocal, Price: Price{InputPerMillion: 1_000_000, OutputPerMillion: 1_000_000},
		}},
		Tenants: tenants,
	}
}

func TestRouterLimits(t *testing.T) {
	t.Parallel()

	tenants := TenantLimits{
		Default: Limits{RequestsPerMinute: 2},
		Overrides: map[string]Limits{
			"vip": {RequestsPerMinute: 4},
			// An override replaces the default whole: no request limit.
			"bigco": {BudgetMicros: 1_000_000_000},
		},
	}
	tests := []struct {
		name      string
		tenants   TenantLimits
		route     Limits
		tenant    string
		allowed   int
		wantScope string
	}{
		{name: "default", tenants: tenants, tenant: "acme", allowed: 2, wantScope: "tenant"},
		{name: "anonymous callers get the default", tenants: tenants, tenant: "", allowed: 2, wantScope: "tenant"},
		{name: "override", tenants: tenants, tenant: "vip", allowed: 4, wantScope: "tenant"},
		{name: "override without a request limit", tenants: tenants, tenant: "bigco", allowed: 10},
		{name: "route", route: Limits{RequestsPerMinute: 3}, tenant: "acme", allowed: 3, wantScope: "route r"},
		{name: "route under a looser tenant limit", tenants: tenants, route: Limits{RequestsPerMinute: 1},
			tenant: "vip", allowed: 1, wantScope: "route r"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			rec := &recorderFunc{}
			log := &callLog{}
			r := newTestRouter(t, limitedFile(tt.tenants, tt.route), scripted(log, nil, "a"), clock.options(rec))
			ctx := tenantCtx(tt.tenant)
			for i := range tt.allowed {
				if _, err := r.Generate(ctx, "r", provider.Request{}); err != nil {
					t.Fatalf("call %d: %v", i+1, err)
				}
			}
			if tt.wantScope == "" {
				return
			}
			_, err := r.Generate(ctx, "r", provider.Request{})
			le := limitErr(t, err)
			if le.Scope != tt.wantScope || le.Kind != "requests" {
				t.Errorf("refusal = %+v, want %s requests", le, tt.wantScope)
			}
			if got := len(log.get()); got != tt.allowed {
				t.Errorf("provider calls = %d, want %d: the refused call must call nobody", got, tt.allowed)
			}
			got := rec.last(t)
			if !errors.Is(got.Err, ErrLimited) || got.Tenant != tt.tenant || got.Route != "r" || got.Provider != "" ||
				ErrorClass(got.Err) != "limit" {
				t.Errorf("record = %+v, want a failed call over its limit", got)
			}
		})
	}
}

// TestRouterBudget reserves the expected cost and settles the real one: the
// provider charges 3000 micros a call and 512 are reserved.
func TestRouterBudget(t *testing.T) {
	t.Parallel()

	clock := newFakeClock()
	rec := &recorderFunc{}
	log := &callLog{}
	r := newTestRouter(t, limitedFile(TenantLimits{Default: Limits{BudgetMicros: 6500}}, Limits{}),
		scripted(log, nil, "a"), clock.options(rec))
	ctx := tenantCtx("acme")
	for i := range 2 {
		res, err := r.Generate(ctx, "r", provider.Request{})
		if err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
		if res.CostMicros != 3000 {
			t.Fatalf("cost = %d, want 3000", res.CostMicros)
		}
	}
	// 6000 spent: 512 more would go over. What is left is said, and that
	// a smaller max_tokens may fit.
	_, err := r.Generate(ctx, "r", provider.Request{})
	le := limitErr(t, err)
	if le.Kind != "budget" || le.RetryAfter != 12*time.Hour || le.Left != 500 ||
		!strings.Contains(le.Error(), "500 micros left,") || !strings.Contains(le.Error(), "smaller max_tokens") {
		t.Errorf("refusal = %+v (%v), want budget until the next UTC day, 12h away, 500 left", le, le)
	}
	// A smaller reply cap reserves less.
	if _, err := r.Generate(ctx, "r", provider.Request{MaxOutputTokens: 500}); err != nil {
		t.Errorf("call reserving 500: %v", err)
	}
	if got := len(log.get()); got != 3 {
		t.Errorf("provider calls = %d, want 3", got)
	}

	clock.Advance(12 * time.Hour)
	if _, err := r.Generate(ctx, "r", provider.Request{}); err != nil {
		t.Errorf("next day: %v", err)
	}

	// A call that could cost more than the whole budget could never pass:
	// it is a bad request, not a wait.
	_, err = r.Generate(tenantCtx("globex"), "r", provider.Request{MaxOutputTokens: 7000})
	if !errors.Is(err, ErrInvalidCall) || errors.Is(err, ErrLimited) || !strings.Contains(err.Error(), "max_tokens") {
		t.Errorf("call reserving more than the budget: %v, want an invalid call naming max_tokens", err)
	}
}

// TestRouterLimitsConcurrent sends many calls at once through a tenant's
// request limit: exactly the limit reaches the provider.
func TestRouterLimitsConcurrent(t *testing.T) {
	t.Parallel()

	const goroutines, each, limit = 32, 25, 300
	clock := newFakeClock()
	log := &callLog{}
	r := newTestRouter(t, limitedFile(TenantLimits{Default: Limits{RequestsPerMinute: limit}}, Limits{}),
		scripted(log, nil, "a"), clock.options(nil))
	var (
		ok, limited atomic.Int64
		wg          sync.WaitGroup
	)
	for g := range goroutines {
		wg.Go(func() {
			ctx := tenantCtx("acme")
			for range each {
				_, err := r.Generate(ctx, "r", provider.Request{})
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, ErrLimited):
					limited.Add(1)
				default:
					t.Errorf("goroutine %d: %v", g, err)
				}
			}
		})
	}
	wg.Wait()
	if ok.Load() != limit || limited.Load() != goroutines*each-limit || len(log.get()) != limit {
		t.Errorf("ok %d, limited %d, provider calls %d; want %d, %d, %d",
			ok.Load(), limited.Load(), len(log.get()), limit, goroutines*each-limit, limit)
	}
}

func TestLimitErrorMessage(t *testing.T) {
	t.Parallel()

	err := error(&LimitError{Scope: "route r", Kind: "tokens", RetryAfter: 1500 * time.Microsecond})
	if diff := cmp.Diff("route r tokens limit reached; retry in 2ms", err.Error()); diff != "" {
		t.Errorf("message (-want +got):\n%s", diff)
	}
	wrapped := fmt.Errorf("route r: %w", err)
	if !errors.Is(wrapped, ErrLimited) {
		t.Error("wrapped LimitError does not match ErrLimited")
	}
}

// Use made elsewhere (another replica, or this process before a restart)
// counts against the rates less what they refilled since, and against the
// budget of the period it was made in.
func TestLimiterAddUse(t *testing.T) {
	t.Parallel()

	now := clockStart
	lim := Limits{RequestsPerMinute: 3, TokensPerMinute: 1000, BudgetMicros: 100}
	l := newLimiter()
	l.AddUse("acme", "r", lim, Limits{}, 900, 60, now.Add(-10*time.Second), now)
	// 900 tokens taken 10 s ago have refilled by 10/60 of 1000: 266 are
	// left.
	if _, err := l.Reserve("acme", "r", lim, Limits{}, 300, 0, now); limitErr(t, err).Kind != "tokens" {
		t.Errorf("300 tokens with 266 left: %v, want the token limit", err)
	}
	reserveN(t, l, 1, lim, Limits{}, 100, 0, now)
	if _, err := l.Reserve("acme", "r", lim, Limits{}, 0, 41, now); limitErr(t, err).Kind != "budget" {
		t.Errorf("41 over 60 spent of 100: %v, want the budget", err)
	}
	// One request elsewhere 10 s ago (half refilled since) and two here
	// leave half of one of three.
	reserveN(t, l, 1, lim, Limits{}, 0, 40, now)
	if _, err := l.Reserve("acme", "r", lim, Limits{}, 0, 0, now); limitErr(t, err).Kind != "requests" {
		t.Errorf("fourth request in a minute: %v, want the request limit", err)
	}

	// Three requests of three a minute, made 40 s ago, have refilled two
	// since: two pass now.
	l = newLimiter()
	rpm := Limits{RequestsPerMinute: 3}
	for range 3 {
		l.AddUse("acme", "r", rpm, Limits{}, 0, 0, now.Add(-40*time.Second), now)
	}
	reserveN(t, l, 2, rpm, Limits{}, 0, 0, now)
	if _, err := l.Reserve("acme", "r", rpm, Limits{}, 0, 0, now); limitErr(t, err).Kind != "requests" {
		t.Errorf("third request: %v, want the request limit", err)
	}

	// Use from yesterday counts against neither, and the route's limits
	// count the route's use.
	l = newLimiter()
	routeLim := Limits{BudgetMicros: 50}
	l.AddUse("acme", "r", lim, routeLim, 1000, 100, now.Add(-25*time.Hour), now)
	reserveN(t, l, 1, lim, routeLim, 1000, 50, now)
	l = newLimiter()
	l.AddUse("acme", "r", Limits{}, routeLim, 0, 30, now, now)
	if _, err := l.Reserve("acme", "r", Limits{}, routeLim, 0, 21, now); limitErr(t, err).Scope != "route r" {
		t.Errorf("21 over 30 spent on the route: %v, want the route's budget", err)
	}
	// Use stamped in the future (a replica whose clock runs fast) counts
	// as made now and refills nothing.
	l = newLimiter()
	reserveN(t, l, 3, rpm, Limits{}, 0, 0, now)
	l.AddUse("acme", "r", rpm, Limits{}, 0, 0, now.Add(time.Minute), now)
	if _, err := l.Reserve("acme", "r", rpm, Limits{}, 0, 0, now); limitErr(t, err).Kind != "requests" {
		t.Errorf("request after a future-stamped use: %v, want the request limit", err)
	}

	// An absurd report leaves a debt of an hour's refill at most, here and
	// on a replica alike; a budget saturates instead of wrapping.
	tpm := Limits{TokensPerMinute: 1000, BudgetMicros: 100}
	for _, add := range []func(l *limiter){
		func(l *limiter) {
			res := reserveN(t, l, 1, tpm, Limits{}, 10, 0, now)[0]
			l.Settle(res, math.MaxInt64/2, math.MaxInt64, now)
		},
		func(l *limiter) { l.AddUse("acme", "r", tpm, Limits{}, math.MaxInt64/2, math.MaxInt64, now, now) },
	} {
		l := newLimiter()
		add(l)
		_, err := l.Reserve("acme", "r", tpm, Limits{}, 1, 0, now)
		if le := limitErr(t, err); le.Kind != "tokens" || le.RetryAfter > 61*time.Minute {
			t.Errorf("after an absurd report: %+v, want a token wait of an hour at most", le)
		}
		l.AddUse("acme", "r", tpm, Limits{}, 0, math.MaxInt64, now, now)
		if _, err := l.Reserve("acme", "r", Limits{BudgetMicros: 100}, Limits{}, 0, 1, now); limitErr(t, err).Kind != "budget" {
			t.Errorf("after saturated spend: %v, want the budget still spent", err)
		}
	}

	// Another tenant is untouched.
	if _, err := l.Reserve("globex", "r", Limits{}, routeLim, 0, 50, now); err != nil {
		t.Errorf("other tenant: %v", err)
	}
}
