package routing

import (
	"cmp"
	"context"
	"sync"
	"time"

	"github.com/keelhq/keel/services/router/internal/provider"
)

// Circuit breaker defaults.
const (
	DefaultFailureThreshold = 5
	DefaultOpenFor          = 30 * time.Second
	DefaultMaxOpenFor       = 5 * time.Minute
	DefaultCheckInterval    = 15 * time.Second
)

// breakerKey names one circuit: a provider and a model (a provider holds one
// key, so the key is part of the provider).
type breakerKey struct {
	provider, model string
}

// breaker is the health of one provider and model.
//
// Closed: calls go through; FailureThreshold consecutive retryable failures
// open it. Open: calls skip it until openUntil; then it is half-open and
// lets one trial call through; a passed active health check makes it
// half-open at once. A failed trial opens it again for twice as long, up to
// MaxOpenFor. A Retry-After wait keeps it cooling until that time; the
// failure still counts towards the streak.
type breaker struct {
	failures  int
	openFor   time.Duration
	openUntil time.Time
	// trial is set while the one half-open call is in flight.
	trial bool
}

// health holds the breakers of a router. It is safe for concurrent use.
type health struct {
	threshold  int
	openFor    time.Duration
	maxOpenFor time.Duration

	mu       sync.Mutex
	breakers map[breakerKey]*breaker
}

func newHealth(cfg HealthConfig) *health {
	return &health{
		threshold:  cmp.Or(cfg.FailureThreshold, DefaultFailureThreshold),
		openFor:    cmp.Or(cfg.OpenFor, DefaultOpenFor),
		maxOpenFor: cmp.Or(cfg.MaxOpenFor, DefaultMaxOpenFor),
		breakers:   make(map[breakerKey]*breaker),
	}
}

// admit reports whether a call may go to k now, and whether it is the
// half-open trial (whose outcome decides the circuit). When it may not, it
// returns when it may again.
func (h *health) admit(k breakerKey, now time.Time) (ok, trial bool, until time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	b := h.breakers[k]
	if b == nil || b.openUntil.IsZero() {
		return true, false, time.Time{}
	}
	if now.Before(b.openUntil) {
		return false, false, b.openUntil
	}
	if b.failures < h.threshold {
		// A Retry-After wait is over; no trial needed.
		b.openUntil = time.Time{}
		return true, false, time.Time{}
	}
	if b.trial {
		return false, false, now.Add(time.Second)
	}
	b.trial = true
	return true, true, time.Time{}
}

// success closes k's circuit.
func (h *health) success(k breakerKey) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if b := h.breakers[k]; b != nil {
		delete(h.breakers, k)
	}
}

// failure counts a retryable failure of k. wait is the provider's own
// Retry-After, zero when it gave none.
func (h *health) failure(k breakerKey, trial bool, wait time.Duration, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	b := h.breakers[k]
	if b == nil {
		b = &breaker{}
		h.breakers[k] = b
	}
	b.failures++
	b.trial = false
	switch {
	case trial:
		b.openFor = min(max(2*b.openFor, h.openFor), h.maxOpenFor)
		b.openUntil = now.Add(max(b.openFor, wait))
	case b.failures >= h.threshold:
		b.openFor = h.openFor
		b.openUntil = now.Add(max(b.openFor, wait))
	case wait > 0:
		b.openUntil = laterOf(b.openUntil, now.Add(wait))
	}
}

// release ends a half-open trial whose outcome said nothing about the
// provider (the caller gave up, the request was refused).
func (h *health) release(k breakerKey, trial bool) {
	if !trial {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if b := h.breakers[k]; b != nil {
		b.trial = false
	}
}

// open returns the open circuits, for the active health checks.
func (h *health) open() []breakerKey {
	h.mu.Lock()
	defer h.mu.Unlock()
	var keys []breakerKey
	for k, b := range h.breakers {
		if b.failures >= h.threshold && !b.trial {
			keys = append(keys, k)
		}
	}
	return keys
}

// probed records a passed active health check: the circuit goes half-open
// at once, so the next call is the trial.
func (h *health) probed(k breakerKey, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if b := h.breakers[k]; b != nil && now.Before(b.openUntil) {
		b.openUntil = now
	}
}

func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// RunHealthChecks probes the open circuits every interval until ctx ends:
// a provider that implements provider.HealthChecker and answers makes its
// circuits half-open at once, so the next call is their trial instead of
// waiting out the open time. Providers without a check wait it out.
func (r *Router) RunHealthChecks(ctx context.Context) {
	interval := cmp.Or(r.file.Health.CheckInterval, DefaultCheckInterval)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.checkOpenCircuits(ctx, interval)
	}
}

// checkOpenCircuits probes each open circuit once, within timeout.
func (r *Router) checkOpenCircuits(ctx context.Context, timeout time.Duration) {
	for _, k := range r.health.open() {
		hc, ok := r.providers[k.provider].(provider.HealthChecker)
		if !ok {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, timeout)
		err := hc.Check(cctx, k.model)
		cancel()
		if err != nil {
			r.logger.Debug("health check failed", "provider", k.provider, "model", k.model, "error", provider.LogText(err))
			continue
		}
		r.logger.Info("health check passed; next call is a trial", "provider", k.provider, "model", k.model)
		r.health.probed(k, r.now())
	}
}
