package routing

import (
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"sync"
	"time"
)

// ErrLimited is wrapped by the error of a call refused because a tenant is
// over a request, token or budget limit. errors.As with *LimitError tells
// which and when to retry.
var ErrLimited = errors.New("limit reached")

// LimitError says which limit refused a call and when it may pass.
type LimitError struct {
	// Scope is "tenant" or "route <name>".
	Scope string
	// Kind is "requests", "tokens" or "budget".
	Kind string
	// RetryAfter is how long until the call would pass, given no other use.
	RetryAfter time.Duration
	// Left and Cost, for a budget not yet spent, are what it has left and
	// what the call was expected to cost: a smaller max_tokens may fit.
	// InFlight is what calls still running hold of it, given back in part
	// when they finish.
	Left, Cost, InFlight int64
}

func (e *LimitError) Error() string {
	wait := e.RetryAfter.Round(time.Millisecond)
	if wait > time.Minute {
		wait = e.RetryAfter.Round(time.Second)
	}
	if e.Left > 0 {
		held := ""
		if e.InFlight > 0 {
			held = fmt.Sprintf(", and calls in flight hold %d more", e.InFlight)
		}
		return fmt.Sprintf("%s %s has %d micros left%s, less than this call may cost (up to %d: its prompt "+
			"and reply at the dearest candidate's price); a smaller max_tokens may fit, or retry in %s",
			e.Scope, e.Kind, e.Left, held, e.Cost, wait)
	}
	return fmt.Sprintf("%s %s limit reached; retry in %s", e.Scope, e.Kind, wait)
}

// Unwrap returns ErrLimited.
func (e *LimitError) Unwrap() error { return ErrLimited }

// limiter keeps the request and token rates and budget spend of every
// tenant, per tenant and per route. Reserve takes what a call is expected to
// use before it starts; Settle puts back the difference once its real use
// is known. It is safe for concurrent use: a tenant's state sits in one of
// several shards, each under its own lock.
//
// Replicas share their use through the USAGE stream (AddUse, fed by
// FollowUsage), which also gives a restarted router the budget spent so far
// in the period.
type limiter struct {
	seed   maphash.Seed
	shards [32]limitShard
}

type limitShard struct {
	mu    sync.Mutex
	state map[limitKey]*limitState
}

// limitKey is a tenant (route empty) or a tenant on one route.
type limitKey struct {
	tenant, route string
}

// limitState is one key's token buckets and budget window.
type limitState struct {
	requests, tokens bucket
	// periodStart is the start of the budget period that spent and
	// reserved count.
	periodStart     time.Time
	spent, reserved int64
}

// bucket is a token bucket that refills its capacity every minute. Its
// level can go below zero when a call used more than it reserved.
type bucket struct {
	level float64
	last  time.Time
}

// refill adds what capacity per minute gives back between b's last use
// and now; an unused bucket starts full.
func (b *bucket) refill(capacity float64, now time.Time) {
	if b.last.IsZero() {
		b.level = capacity
	} else if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.level = math.Min(capacity, b.level+elapsed*capacity/60)
	}
	b.last = now
}

// take refills b for capacity per minute at now and takes n when the level
// allows. When it does not, it returns how long until it would.
func (b *bucket) take(capacity, n float64, now time.Time) (bool, time.Duration) {
	b.refill(capacity, now)
	// A call larger than the whole capacity passes when the bucket is full.
	n = math.Min(n, capacity)
	if b.level >= n {
		b.level -= n
		return true, 0
	}
	return false, time.Duration((n - b.level) / rate(capacity) * float64(time.Second))
}

// spend takes n used elsewhere at time at, as if taken then: the bucket is
// refilled up to at, so that what it has refilled since is not taken
// again. at is kept between the bucket's last use and now: use reported
// late counts as of the last use, and a time in the future (another
// replica's clock running fast) as now, never moving the bucket ahead of
// its own clock.
func (b *bucket) spend(capacity, n float64, at, now time.Time) {
	if at.Before(b.last) {
		at = b.last
	}
	if at.After(now) {
		at = now
	}
	b.refill(capacity, at)
	b.owe(capacity, n)
}

// owe takes n even below zero, but never more than maxDebtMinutes of
// capacity below it: a call larger than the limit is charged in full (the
// bucket refills it before the next call), yet no single report, however
// absurd, can shut a tenant out for more than an hour.
func (b *bucket) owe(capacity, n float64) {
	b.level = math.Max(b.level-n, -capacity*maxDebtMinutes)
}

// maxDebtMinutes bounds how far below empty a bucket can go, in minutes of
// refill.
const maxDebtMinutes = 60

// addSat adds two non-negative amounts, saturating rather than wrapping.
func addSat(a, b int64) int64 {
	if b > math.MaxInt64-a {
		return math.MaxInt64
	}
	return a + b
}

// rate is capacity per minute in units per second.
func rate(capacity float64) float64 { return capacity / 60 }

func newLimiter() *limiter {
	l := &limiter{seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].state = make(map[limitKey]*limitState)
	}
	return l
}

// reservation is what Reserve took, for Settle.
type reservation struct {
	tenant string
	// scopes are the tenant's and the route's limits, n of them in use:
	// an array, so that a reservation on the request path allocates
	// nothing.
	scopes [2]reservedScope
	n      int
	tokens int64
	micros int64
	// at is when the reservation was made: its micros count as reserved
	// in the budget period of that time only.
	at time.Time
}

type reservedScope struct {
	key    limitKey
	limits Limits
}

// Reserve takes one request, tokens and micros from the tenant's limits and
// from its limits on route, all or nothing. It returns a *LimitError when
// any of them would be exceeded.
func (l *limiter) Reserve(
	tenant, route string,
	tenantLimits, routeLimits Limits,
	tokens, micros int64,
	now time.Time,
) (reservation, error) {
	res := reservation{tenant: tenant, tokens: tokens, micros: micros, at: now}
	if !tenantLimits.zero() {
		res.scopes[res.n] = reservedScope{limitKey{tenant: tenant}, tenantLimits}
		res.n++
	}
	if !routeLimits.zero() {
		res.scopes[res.n] = reservedScope{limitKey{tenant: tenant, route: route}, routeLimits}
		res.n++
	}
	if res.n == 0 {
		return res, nil
	}

	sh := l.shard(tenant)
	sh.mu.Lock()
	defer sh.mu.Unlock()

	// Check every scope before taking from any, so a refusal takes nothing.
	var (
		states   [2]*limitState
		snapshot [2]limitState
	)
	for i, s := range res.scopes[:res.n] {
		st := sh.stateOf(s.key)
		states[i], snapshot[i] = st, *st
	}
	for i, s := range res.scopes[:res.n] {
		if err := states[i].reserve(s.limits, tokens, micros, now); err != nil {
			for j := range i + 1 {
				*states[j] = snapshot[j]
			}
			err.Scope = "tenant"
			if s.key.route != "" {
				err.Scope = "route " + s.key.route
			}
			return reservation{}, err
		}
	}
	return res, nil
}

// Settle replaces the reservation's tokens and micros by what the call
// really used.
func (l *limiter) Settle(res reservation, tokens, micros int64, now time.Time) {
	if res.n == 0 {
		return
	}
	sh := l.shard(res.tenant)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for _, s := range res.scopes[:res.n] {
		st := sh.state[s.key]
		if st == nil {
			continue
		}
		if s.limits.TokensPerMinute > 0 {
			// Only what the reservation really took was taken: a call
			// larger than the bucket took the bucket's capacity.
			taken := math.Min(float64(res.tokens), float64(s.limits.TokensPerMinute))
			st.tokens.owe(float64(s.limits.TokensPerMinute), float64(tokens)-taken)
		}
		if s.limits.BudgetMicros > 0 {
			// A reservation made in an earlier period is no longer
			// among the reserved micros of the current one.
			if st.periodStart.Equal(periodStart(s.limits.BudgetPeriod, res.at)) {
				st.reserved = max(st.reserved-res.micros, 0)
			}
			st.rollPeriod(s.limits.BudgetPeriod, now)
			st.spent = addSat(st.spent, micros)
		}
	}
}

// AddUse counts a call another router replica made (or this process made
// before a restart), which reached this one through the USAGE stream: its
// request and tokens against the per-minute rates, less what they would
// have refilled since it was made, and its cost against the budget of the
// period it was made in. Nothing is refused; the next Reserve sees the use.
func (l *limiter) AddUse(
	tenant, route string,
	tenantLimits, routeLimits Limits,
	tokens, micros int64,
	at, now time.Time,
) {
	if tenantLimits.zero() && routeLimits.zero() {
		return
	}
	sh := l.shard(tenant)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	scopes := [2]reservedScope{{limitKey{tenant: tenant}, tenantLimits}, {limitKey{tenant, route}, routeLimits}}
	for _, s := range scopes {
		if s.limits.zero() {
			continue
		}
		sh.stateOf(s.key).addUse(s.limits, tokens, micros, at, now)
	}
}

// addSpent counts micros already spent this period against key's budget:
// a snapshot's sum, read when a router starts.
func (l *limiter) addSpent(key limitKey, lim Limits, micros int64, now time.Time) {
	if lim.BudgetMicros <= 0 || micros <= 0 {
		return
	}
	sh := l.shard(key.tenant)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	st := sh.stateOf(key)
	st.rollPeriod(lim.BudgetPeriod, now)
	st.spent = addSat(st.spent, micros)
}

func (st *limitState) addUse(lim Limits, tokens, micros int64, at, now time.Time) {
	if lim.RequestsPerMinute > 0 {
		st.requests.spend(float64(lim.RequestsPerMinute), 1, at, now)
	}
	if lim.TokensPerMinute > 0 {
		st.tokens.spend(float64(lim.TokensPerMinute), float64(tokens), at, now)
	}
	if lim.BudgetMicros > 0 && micros > 0 {
		st.rollPeriod(lim.BudgetPeriod, now)
		if periodStart(lim.BudgetPeriod, at).Equal(st.periodStart) {
			st.spent = addSat(st.spent, micros)
		}
	}
}

// reserve takes from one scope's limits.
func (st *limitState) reserve(lim Limits, tokens, micros int64, now time.Time) *LimitError {
	if lim.RequestsPerMinute > 0 {
		if ok, wait := st.requests.take(float64(lim.RequestsPerMinute), 1, now); !ok {
			return &LimitError{Kind: "requests", RetryAfter: wait}
		}
	}
	if lim.TokensPerMinute > 0 {
		if ok, wait := st.tokens.take(float64(lim.TokensPerMinute), float64(tokens), now); !ok {
			return &LimitError{Kind: "tokens", RetryAfter: wait}
		}
	}
	if lim.BudgetMicros > 0 {
		st.rollPeriod(lim.BudgetPeriod, now)
		if held := addSat(st.spent, st.reserved); addSat(held, micros) > lim.BudgetMicros {
			e := &LimitError{Kind: "budget", RetryAfter: nextPeriod(lim.BudgetPeriod, now).Sub(now)}
			if held < lim.BudgetMicros {
				e.Left, e.Cost, e.InFlight = lim.BudgetMicros-held, micros, st.reserved
			}
			return e
		}
		st.reserved = addSat(st.reserved, micros)
	}
	return nil
}

// rollPeriod starts a new budget period when now is past the current one.
func (st *limitState) rollPeriod(period string, now time.Time) {
	if start := periodStart(period, now); !start.Equal(st.periodStart) {
		st.periodStart, st.spent, st.reserved = start, 0, 0
	}
}

func periodStart(period string, now time.Time) time.Time {
	now = now.UTC()
	if period == "month" {
		return time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	return time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
}

func nextPeriod(period string, now time.Time) time.Time {
	start := periodStart(period, now)
	if period == "month" {
		return start.AddDate(0, 1, 0)
	}
	return start.AddDate(0, 0, 1)
}

// stateOf returns key's state, made empty when it has none; sh.mu is held.
func (sh *limitShard) stateOf(key limitKey) *limitState {
	st := sh.state[key]
	if st == nil {
		st = &limitState{}
		sh.state[key] = st
	}
	return st
}

func (l *limiter) shard(tenant string) *limitShard {
	return &l.shards[maphash.String(l.seed, tenant)%uint64(len(l.shards))]
}
