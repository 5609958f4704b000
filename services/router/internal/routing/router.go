package routing

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/keelhq/keel/pkg/tenant"
	"github.com/keelhq/keel/services/router/internal/provider"
)

// ErrRouteNotFound is returned by Generate and Stream when the use case has
// no route and the routes file sets no default route.
var ErrRouteNotFound = errors.New("route not found")

// ErrNoProvider is returned by New when a route names a provider that was
// not built.
var ErrNoProvider = errors.New("provider not configured")

// Result is a successful call: the reply and where it came from.
type Result struct {
	Response provider.Response
	// Route is the route that served the call; it is the default route's
	// name when the use case had none of its own.
	Route    string
	Provider string
	Model    string
	// CostMicros is the call's cost at the provider's configured price.
	CostMicros int64
	// Latency is the time from the first attempt to the reply.
	Latency time.Duration
	// Attempts counts the providers tried, the successful one included.
	Attempts int
}

// Options are the optional parts of a Router.
type Options struct {
	// Recorder receives a Record for every call; nil records nothing.
	Recorder Recorder
	// Logger receives warnings about failed attempts; slog.Default() when
	// nil.
	Logger *slog.Logger
	// Now returns the current time; time.Now when nil.
	Now func() time.Time
}

// Router sends requests to the providers of their use case's route. It is
// safe for concurrent use.
//
// TODO: tenant budgets, A/B splits, response caching and active health
// checks from DESIGN.md; a route is an ordered failover list and a
// Retry-After cool-down is the only health signal.
type Router struct {
	file      File
	providers map[string]provider.Provider
	recorder  Recorder
	logger    *slog.Logger
	now       func() time.Time

	mu sync.Mutex
	// coolingUntil holds, per provider, the end of the wait it asked for
	// with Retry-After; until then it is tried after the others.
	coolingUntil map[string]time.Time
}

// New returns a Router for the routes of file, calling providers by name.
// It returns an error wrapping ErrNoProvider when a route names a provider
// missing from providers.
func New(file File, providers map[string]provider.Provider, opts Options) (*Router, error) {
	for name, route := range file.Routes {
		for _, c := range route.Providers {
			if _, ok := providers[c.Provider]; !ok {
				return nil, fmt.Errorf("route %s: %w: %s", name, ErrNoProvider, c.Provider)
			}
		}
	}
	r := &Router{
		file:         file,
		providers:    providers,
		recorder:     opts.Recorder,
		logger:       opts.Logger,
		now:          opts.Now,
		coolingUntil: make(map[string]time.Time),
	}
	if r.logger == nil {
		r.logger = slog.Default()
	}
	if r.now == nil {
		r.now = time.Now
	}
	return r, nil
}

// Generate sends req to the route of useCase and returns the first
// successful reply.
//
// Candidates are tried in the route's order; a provider that asked to be
// left alone with Retry-After goes last until the wait is over. The router
// moves on to the next candidate after a rate limit, server error, timeout,
// unreachable provider or rejected credentials, and stops at once when the
// request itself was rejected (ErrRequestRejected, ErrContextTooLong) or
// ctx ended. The returned error wraps ErrRouteNotFound, the last
// provider's error, or ctx's error.
func (r *Router) Generate(ctx context.Context, useCase string, req provider.Request) (Result, error) {
	return r.call(ctx, useCase, req, nil)
}

// Stream is Generate with the reply handed to onDelta as it is produced.
// Once a candidate has delivered a delta the router can no longer fail over
// without sending the customer two replies, so an error after the first
// delta is returned as it is.
func (r *Router) Stream(
	ctx context.Context,
	useCase string,
	req provider.Request,
	onDelta func(delta string) error,
) (Result, error) {
	return r.call(ctx, useCase, req, onDelta)
}

func (r *Router) call(
	ctx context.Context,
	useCase string,
	req provider.Request,
	onDelta func(string) error,
) (Result, error) {
	routeName, route, err := r.route(useCase)
	if err != nil {
		return Result{}, err
	}
	log := r.logger.With("route", routeName)
	if t, ok := tenant.From(ctx); ok {
		log = log.With("tenant", t)
	}

	start := r.now()
	var lastErr error
	for i, c := range r.order(route.Providers) {
		attempt, err := r.attempt(ctx, route, c, req, onDelta)
		if err == nil {
			res := attempt.Result
			res.Route = routeName
			res.Latency = r.now().Sub(start)
			res.Attempts = i + 1
			r.record(ctx, useCase, res, nil)
			return res, nil
		}
		lastErr = err
		if ctx.Err() != nil || !failOver(err) || attempt.streamed {
			break
		}
		log.Warn("provider failed, trying the next one",
			"provider", c.Provider, "model", c.Model, "class", provider.ClassName(err), "error", err)
	}

	err = fmt.Errorf("route %s: %w", routeName, lastErr)
	r.record(ctx, useCase, Result{Route: routeName, Latency: r.now().Sub(start)}, err)
	return Result{}, err
}

// attemptResult is a Result plus whether any delta reached the caller.
type attemptResult struct {
	Result
	streamed bool
}

func (r *Router) attempt(
	ctx context.Context,
	route Route,
	c Candidate,
	req provider.Request,
	onDelta func(string) error,
) (attemptResult, error) {
	timeout := cmp.Or(c.Timeout, route.Timeout, DefaultAttemptTimeout)
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	p := r.providers[c.Provider]
	req.Model = c.Model
	var (
		resp     provider.Response
		err      error
		streamed bool
	)
	if onDelta == nil {
		resp, err = p.Generate(actx, req)
	} else {
		resp, err = p.Stream(actx, req, func(d string) error {
			streamed = true
			return onDelta(d)
		})
	}
	if err != nil {
		// The attempt's own deadline is a timeout even when the provider
		// returned the bare context error.
		if ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) &&
			!errors.Is(err, provider.ErrTimedOut) {
			err = &provider.Error{Class: provider.ErrTimedOut, Err: err}
		}
		r.noteRetryAfter(c.Provider, err)
		return attemptResult{streamed: streamed}, fmt.Errorf("provider %s: %w", c.Provider, err)
	}

	model := resp.Model
	if model == "" {
		model = c.Model
	}
	price := r.file.Providers[c.Provider].Price
	return attemptResult{Result: Result{
		Response:   resp,
		Provider:   c.Provider,
		Model:      model,
		CostMicros: price.CostMicros(resp.Usage),
	}}, nil
}

// route returns the route of useCase, or the default route.
func (r *Router) route(useCase string) (string, Route, error) {
	if route, ok := r.file.Routes[useCase]; ok {
		return useCase, route, nil
	}
	if r.file.DefaultRoute != "" {
		return r.file.DefaultRoute, r.file.Routes[r.file.DefaultRoute], nil
	}
	return "", Route{}, fmt.Errorf("use case %q: %w", useCase, ErrRouteNotFound)
}

// order returns the candidates with those still cooling down after a rate
// limit moved to the end, keeping the route's order otherwise.
func (r *Router) order(candidates []Candidate) []Candidate {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()

	ready := make([]Candidate, 0, len(candidates))
	var cooling []Candidate
	for _, c := range candidates {
		if until, ok := r.coolingUntil[c.Provider]; ok && now.Before(until) {
			cooling = append(cooling, c)
			continue
		}
		ready = append(ready, c)
	}
	return slices.Concat(ready, cooling)
}

func (r *Router) noteRetryAfter(name string, err error) {
	wait, ok := provider.RetryAfter(err)
	if !ok {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.coolingUntil[name] = r.now().Add(wait)
}

func (r *Router) record(ctx context.Context, useCase string, res Result, callErr error) {
	if r.recorder == nil {
		return
	}
	t, _ := tenant.From(ctx)
	rec := Record{
		Tenant:       t,
		UseCase:      useCase,
		Route:        res.Route,
		Provider:     res.Provider,
		Model:        res.Model,
		Usage:        res.Response.Usage,
		CostMicros:   res.CostMicros,
		Latency:      res.Latency,
		FinishReason: res.Response.FinishReason,
		Citations:    len(res.Response.Citations),
		Attempts:     res.Attempts,
		Subject:      SubjectFrom(ctx),
		Err:          callErr,
	}
	// Recording must not be cut short because the caller hung up after the
	// reply was paid for.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := r.recorder.Record(rctx, rec); err != nil {
		// TODO: keep unrecorded usage in a local outbox and retry; today a
		// NATS outage loses the usage and audit event of the call.
		r.logger.Error("record model call failed", "tenant", t, "route", res.Route,
			"provider", res.Provider, "error", err)
	}
}

// failOver reports whether another candidate may succeed where this one
// failed: yes for transient errors and for rejected credentials (another
// provider has its own), no when the request itself was refused.
func failOver(err error) bool {
	return provider.Retryable(err) || errors.Is(err, provider.ErrCredentialsRejected)
}
