package routing

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/keelhq/keel/pkg/tenant"
	"github.com/keelhq/keel/services/router/internal/prompt"
	"github.com/keelhq/keel/services/router/internal/provider"
)

// ErrRouteNotFound is returned by Generate and Stream when the use case has
// no route and the routes file sets no default route.
var ErrRouteNotFound = errors.New("route not found")

// ErrNoProvider is returned by New when a route names a provider that was
// not built.
var ErrNoProvider = errors.New("provider not configured")

// ErrInvalidCall is wrapped by errors about the call itself that the router
// finds before calling any provider (template variables, for now); their
// messages are Keel's own, never a provider's, and can be shown to the
// caller.
var ErrInvalidCall = errors.New("invalid call")

// ErrNoHealthyCandidate is returned when every candidate of a route is
// cooling down or has an open circuit; it is retryable later.
var ErrNoHealthyCandidate = errors.New("no healthy candidate")

// Causes of an attempt ended by the router's own deadlines.
var (
	errFirstToken = errors.New("no first token in time")
	errTotal      = errors.New("call deadline passed")
	// errAttemptTimeout ends an attempt that outlived its own timeout.
	errAttemptTimeout = errors.New("attempt timeout")
)

// Retry backoff: full jitter between zero and base*2^n, capped; a provider's
// Retry-After longer than maxRetryWait moves on to the next candidate
// instead of waiting.
const (
	retryBase    = 100 * time.Millisecond
	retryCap     = 2 * time.Second
	maxRetryWait = 10 * time.Second
)

// Priority is a call's capacity class.
type Priority int

// Priorities; the zero value is interactive.
const (
	Interactive Priority = iota
	Batch
)

// Call is one request to a route.
type Call struct {
	// UseCase selects the route.
	UseCase string
	Request provider.Request
	// Priority decides which share of the capacity the call may use.
	Priority Priority
	// Conversation keeps a conversation on one side of a weighted split of
	// a route that is sticky by conversation.
	Conversation string
	// Emit, when set, makes the call streamed: it receives text and whole
	// tool calls as they come.
	Emit func(provider.Delta) error
	// Started, when set with Emit, is told who answers before the first
	// piece goes to Emit.
	Started func(StreamStart) error
	// Variables are the values of the route's prompt template variables.
	Variables map[string]string
	// ExactRoute refuses a use case without a route of its own instead of
	// serving it from the default route.
	ExactRoute bool
}

// StreamStart says who answers a streamed call.
type StreamStart struct {
	Provider, Model string
	// Cached is set for an answer from the route's response cache.
	Cached bool
	// Template and TemplateVersion name the route's prompt template, when
	// it has one.
	Template        string
	TemplateVersion int
}

// started tells call who answers, when it asked.
func (call Call) started(s StreamStart) error {
	if call.Started == nil {
		return nil
	}
	return call.Started(s)
}

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
	// Latency is the time from the call to the reply.
	Latency time.Duration
	// Attempts counts the provider calls made, the successful one included.
	Attempts int
	// Degraded is set when the reply is the route's fallback, not a model's;
	// DegradedReason says why.
	Degraded       bool
	DegradedReason string
	// Cached is set when the reply came from the response cache; no
	// provider was called (or paid) for it.
	Cached bool
	// Shadow is set on the record of a shadow call, whose answer nobody
	// saw.
	Shadow bool
	// Template and TemplateVersion name the prompt template the call was
	// rendered with; empty when the route has none.
	Template        string
	TemplateVersion int
	// Repaired is set when the reply matched the request's response
	// schema only after one repair attempt (structured.go).
	Repaired bool

	// reserved is set when the call took from the limits (Record.Reserved).
	reserved bool
}

// Options are the optional parts of a Router.
type Options struct {
	// Recorder receives a Record for every call; nil records nothing. It is
	// called on the request path: give it an Outbox to publish off it.
	Recorder Recorder
	// Logger receives warnings about failed attempts; slog.Default() when
	// nil.
	Logger *slog.Logger
	// Now returns the current time; time.Now when nil.
	Now func() time.Time
	// Sleep waits between retries; a context-aware sleep when nil.
	Sleep func(ctx context.Context, d time.Duration) error
	// TracerProvider and MeterProvider receive the spans and metrics of
	// every call and provider attempt (telemetry.go); the OpenTelemetry
	// global providers when nil.
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
}

// Router sends calls to the candidates of their use case's route, within the
// tenant's limits and the providers' capacity, failing over and retrying by
// error class. It is safe for concurrent use.
type Router struct {
	file      File
	providers map[string]provider.Provider
	recorder  Recorder
	logger    *slog.Logger
	now       func() time.Time
	sleep     func(context.Context, time.Duration) error

	health *health
	limits *limiter
	cache  *responseCache
	// templates holds the compiled prompt templates by name and version.
	templates map[TemplateRef]*prompt.Template
	shadows   chan struct{}    // slots for shadow calls in flight
	gates     map[string]*gate // by provider name
	routeGs   map[string]*gate // by route name
	tel       *telemetry
	// snapshotEvery is how often FollowUsage saves its budget book.
	snapshotEvery time.Duration
}

// New returns a Router for the routes of file, calling providers by name.
// It returns an error wrapping ErrNoProvider when a route names a provider
// missing from providers.
func New(file File, providers map[string]provider.Provider, opts Options) (*Router, error) {
	for name, route := range file.Routes {
		for _, c := range route.candidates() {
			if _, ok := providers[c.Provider]; !ok {
				return nil, fmt.Errorf("route %s: %w: %s", name, ErrNoProvider, c.Provider)
			}
		}
	}
	r := &Router{
		file:      file,
		providers: providers,
		recorder:  opts.Recorder,
		logger:    cmp.Or(opts.Logger, slog.Default()),
		now:       opts.Now,
		sleep:     opts.Sleep,
		health:    newHealth(file.Health),
		limits:    newLimiter(),
		cache:     newResponseCache(file),
		shadows:   make(chan struct{}, maxShadowsInFlight),
		gates:     make(map[string]*gate),
		routeGs:   make(map[string]*gate),

		snapshotEvery: DefaultSnapshotEvery,
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.sleep == nil {
		r.sleep = sleepContext
	}
	r.tel = newTelemetry(file, opts, r.now, r.logger)
	for name, p := range file.Providers {
		if g := newGate(p.Concurrency, p.InteractiveReserve); g != nil {
			r.gates[name] = g
		}
	}
	for name, route := range file.Routes {
		if g := newGate(route.Concurrency, route.InteractiveReserve); g != nil {
			r.routeGs[name] = g
		}
	}
	r.templates = make(map[TemplateRef]*prompt.Template)
	for name, versions := range file.Templates {
		for _, v := range versions {
			tpl, err := prompt.Compile(name, v)
			if err != nil {
				return nil, err
			}
			r.templates[TemplateRef{Name: name, Version: v.Version}] = tpl
		}
	}
	return r, nil
}

// Generate sends req to the route of useCase and returns the first
// successful reply. It is Do with a Call of interactive priority.
func (r *Router) Generate(ctx context.Context, useCase string, req provider.Request) (Result, error) {
	return r.Do(ctx, Call{UseCase: useCase, Request: req})
}

// Stream is Generate with the reply handed to emit as it is produced.
func (r *Router) Stream(
	ctx context.Context,
	useCase string,
	req provider.Request,
	emit func(provider.Delta) error,
) (Result, error) {
	return r.Do(ctx, Call{UseCase: useCase, Request: req, Emit: emit})
}

// Do routes one call.
//
// The tenant's limits and the route's are reserved first (an over-limit
// call fails with a *LimitError and calls nobody). Candidates are tried in
// the route's order, the caller's side of a weighted split first, skipping
// those whose circuit is open or that asked to be left alone with
// Retry-After. A retryable error (rate limit, overload, server error,
// timeout, unreachable) is retried on the same candidate up to the route's
// Retries with jittered backoff that honours Retry-After, then the next
// candidate is tried; rejected credentials and exhausted quotas move on at
// once; a context length error moves on only to a candidate with a larger
// window; a rejected or refused request stops. Once any part of a streamed
// reply reached the caller, the router no longer fails over and returns the
// error as it is. When every candidate failed, a route with a fallback
// answers with it, marked degraded.
func (r *Router) Do(ctx context.Context, call Call) (result Result, callErr error) {
	start := r.now()
	routeName, route, err := r.route(call.UseCase)
	if err == nil && call.ExactRoute && routeName != call.UseCase {
		err = fmt.Errorf("use case %q: %w", call.UseCase, ErrRouteNotFound)
	}
	if err != nil {
		// Recorded too (record bounds the name: it is the caller's text).
		r.record(ctx, call, Result{Latency: r.now().Sub(start)}, err)
		return Result{}, err
	}
	t, _ := tenant.From(ctx)
	ctx, span := r.tel.startCall(ctx, call, routeName, t)
	defer func() { span.end(result, callErr) }()
	// refuse records a call that ends before any provider is asked;
	// reserved says whether it took from the limits first.
	refuse := func(err error, reserved bool) (Result, error) {
		err = fmt.Errorf("route %s: %w", routeName, err)
		res := Result{Route: routeName, Latency: r.now().Sub(start), reserved: reserved}
		res.setTemplate(route.Template)
		r.record(ctx, call, res, err)
		return Result{}, err
	}
	prepared := r.prepare(route, call.Request)
	req, err := r.render(route.Template, prepared, call.Variables)
	if err != nil {
		return refuse(err, false)
	}
	if ref := route.Template; ref != nil && call.Started != nil {
		// Whoever answers (a candidate, the cache, a repair), the route's
		// template rendered the request.
		started := call.Started
		call.Started = func(s StreamStart) error {
			s.Template, s.TemplateVersion = ref.Name, ref.Version
			return started(s)
		}
	}
	key := r.cacheKey(t, routeName, route, req)
	if hit, ok := r.cache.get(key, route.Cache.TTL, r.now()); ok {
		return r.serveCached(ctx, call, routeName, hit, start)
	}

	res, err := r.reserve(t, routeName, route, req)
	if err != nil {
		return refuse(err, false)
	}

	total := cmp.Or(route.TotalTimeout, DefaultTotalTimeout)
	tctx, cancel := context.WithTimeoutCause(ctx, total, errTotal)
	defer cancel()
	if g := r.routeGs[routeName]; g != nil {
		release, err := g.acquire(tctx, call.Priority)
		if err != nil {
			r.limits.Settle(res, 0, 0, r.now())
			return refuse(fmt.Errorf("waiting for capacity: %w", err), true)
		}
		defer release()
	}

	// A response schema is checked, and a bad reply repaired once, in
	// tryStructured (structured.go); without one it is tryCandidates.
	out, err := r.tryStructured(tctx, ctx, call, routeName, route, t, req)
	out.Route = routeName
	out.Latency = r.now().Sub(start)
	out.setTemplate(route.Template)
	out.reserved = true
	if err != nil && route.Fallback.any() && ctx.Err() == nil && !out.streamed && fallbackAllowed(err) {
		if fb, ok := r.fallback(routeName, route, key, req.Schema != nil, err); ok {
			fb.Attempts = out.Attempts
			fb.Latency = r.now().Sub(start)
			fb.reserved = true
			r.limits.Settle(res, 0, 0, r.now())
			r.record(ctx, call, fb, nil)
			return fb, nil
		}
	}
	r.limits.Settle(res, out.Response.Usage.InputTokens+out.Response.Usage.OutputTokens, out.CostMicros, r.now())
	if err != nil {
		err = fmt.Errorf("route %s: %w", routeName, err)
		r.record(ctx, call, out.Result, err)
		return Result{}, err
	}
	r.cache.put(key, out.Result, r.now())
	r.shadow(shadowTelemetry(ctx, route), call, routeName, route, prepared)
	r.record(ctx, call, out.Result, nil)
	return out.Result, nil
}

// estimatedUsage is Keel's estimate of a call that sent req and got about
// outputTokens back, for a provider that reported none it can use.
func estimatedUsage(req provider.Request, outputTokens int64) provider.Usage {
	return provider.Usage{
		InputTokens:  provider.EstimateInputTokens(req),
		OutputTokens: outputTokens,
		Estimated:    true,
	}
}

// callerGoneError is what a provider's stream returns when the caller
// could not take a piece of the reply (it hung up or stopped reading).
type callerGoneError struct{ err error }

func (e *callerGoneError) Error() string { return "caller could not take the reply: " + e.err.Error() }
func (e *callerGoneError) Unwrap() error { return e.err }

// plausibleModel reports whether a provider's model name can be recorded
// and shown as it is: short, printable UTF-8.
func plausibleModel(name string) bool {
	if name == "" || len(name) > maxNameBytes || !utf8.ValidString(name) {
		return false
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// maxNameBytes bounds a use case name taken from a caller into a record.
const maxNameBytes = 64

// BoundedName is name cut to maxNameBytes, on a character boundary, with
// control characters and invalid UTF-8 replaced: a caller's name as a
// record, a log line or an error message may repeat it.
func BoundedName(name string) string {
	name = strings.ToValidUTF8(name, "\uFFFD")
	if len(name) > maxNameBytes {
		cut := maxNameBytes
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		name = name[:cut]
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '\uFFFD'
		}
		return r
	}, name)
}

// setTemplate names the template version the call was rendered with.
func (res *Result) setTemplate(ref *TemplateRef) {
	if ref != nil {
		res.Template, res.TemplateVersion = ref.Name, ref.Version
	}
}

// prepare applies the route's settings and defaults to req.
func (r *Router) prepare(route Route, req provider.Request) provider.Request {
	req.Grounded = route.Grounded
	if req.Temperature == nil {
		req.Temperature = route.Params.Temperature
	}
	if req.TopP == nil {
		req.TopP = route.Params.TopP
	}
	if req.MaxOutputTokens == 0 {
		req.MaxOutputTokens = route.Params.MaxOutputTokens
	}
	req.PromptCache = req.PromptCache || route.Params.PromptCache
	return req
}

// render puts the system message of the template version ref, rendered
// with vars, first in req. Bad variables are a rejected request.
func (r *Router) render(ref *TemplateRef, req provider.Request, vars map[string]string) (provider.Request, error) {
	if ref == nil {
		if len(vars) > 0 {
			return req, fmt.Errorf("%w: %w", ErrInvalidCall, &provider.Error{Class: provider.ErrRequestRejected,
				Message: "template variables given, but the route renders no template"})
		}
		return req, nil
	}
	tpl := r.templates[*ref]
	if tpl == nil {
		return req, fmt.Errorf("template %s version %d is not declared", ref.Name, ref.Version)
	}
	system, err := tpl.Render(vars)
	if err != nil {
		return req, fmt.Errorf("%w: %w", ErrInvalidCall, &provider.Error{Class: provider.ErrRequestRejected, Err: err})
	}
	req.Messages = append([]provider.Message{{Role: provider.RoleSystem, Content: system}}, req.Messages...)
	return req, nil
}

// reserve takes the call's expected use from the tenant's limits.
func (r *Router) reserve(t, routeName string, route Route, req provider.Request) (reservation, error) {
	tenantLimits, _ := r.limitsOf(t, routeName)
	if tenantLimits.zero() && route.Limits.zero() {
		return reservation{}, nil
	}
	// The expected use: the prompt, and the reply at its cap (or a modest
	// guess), at the dearest candidate's price.
	in := provider.EstimateInputTokens(req)
	out := int64(cmp.Or(req.MaxOutputTokens, expectedOutputTokens))
	var micros int64
	for _, c := range route.Providers {
		price := r.file.Providers[c.Provider].Price
		micros = max(micros, price.CostMicros(provider.Usage{InputTokens: in, OutputTokens: out}))
	}
	// A call that may cost more than a whole budget period would wait
	// forever: it is refused as asked, not as over the limit.
	for _, budget := range [2]int64{tenantLimits.BudgetMicros, route.Limits.BudgetMicros} {
		if budget > 0 && micros > budget {
			return reservation{}, fmt.Errorf("%w: %w", ErrInvalidCall, &provider.Error{
				Class: provider.ErrRequestRejected,
				Message: fmt.Sprintf("the call (a prompt of about %d tokens and up to %d of reply) may cost "+
					"up to %d micros, more than the whole budget of %d; shorten the prompt or ask for "+
					"fewer output tokens (max_tokens)", in, out, micros, budget),
			})
		}
	}
	return r.limits.Reserve(t, routeName, tenantLimits, route.Limits, in+out, micros, r.now())
}

// expectedOutputTokens is the reply size reserved when a request sets no
// cap; Settle corrects it.
const expectedOutputTokens = 512

// attemptOutcome is a Result plus whether any of a streamed reply reached
// the caller.
type attemptOutcome struct {
	Result
	streamed bool
}

func (r *Router) tryCandidates(
	ctx, callerCtx context.Context,
	call Call,
	routeName string,
	route Route,
	t string,
	req provider.Request,
) (attemptOutcome, error) {
	// The logger gets the call's attributes only when there is something
	// to say, which keeps the common path free of its allocations.
	log := lazyLogger{base: r.logger, route: routeName, tenant: t}
	var (
		lastErr  error
		attempts int
		// tooLong is the context window that a context length error
		// ruled out; only larger candidates are tried after it.
		tooLong     = -1
		soonest     time.Time
		anyAdmitted bool
		// last is the candidate that failed last.
		last Result
	)
	for _, c := range r.order(route, t, call.Conversation) {
		if tooLong >= 0 && c.ContextWindow <= tooLong {
			continue
		}
		key := breakerKey{c.Provider, c.Model}
		for try := 0; try <= route.Retries; try++ {
			ok, trial, until := r.health.admit(key, r.now())
			if !ok {
				if soonest.IsZero() || until.Before(soonest) {
					soonest = until
				}
				break
			}
			anyAdmitted = true
			attempts++
			out, err := r.attempt(ctx, route, c, req, call)
			out.Attempts = attempts
			if err == nil {
				r.health.success(key)
				return out, nil
			}
			lastErr, last = err, out.Result
			if out.streamed || ended(callerCtx) {
				r.health.release(key, trial)
				return out, err
			}
			if errors.Is(context.Cause(ctx), errTotal) || ended(ctx) {
				r.health.release(key, trial)
				return out, fmt.Errorf("%w: %w", errTotal, err)
			}

			wait, _ := provider.RetryAfter(err)
			switch {
			case provider.Retryable(err):
				r.health.failure(key, trial, wait, r.now())
			case errors.Is(err, provider.ErrQuotaExceeded):
				// Waiting does not cure a spent quota; leave this
				// provider and model alone for a while.
				r.health.failure(key, trial, cmp.Or(r.file.Health.OpenFor, DefaultOpenFor), r.now())
			default:
				r.health.release(key, trial)
			}
			class := provider.ClassName(err)
			switch {
			case errors.Is(err, provider.ErrContextTooLong):
				tooLong = c.ContextWindow
				if c.ContextWindow == 0 {
					tooLong = -1
				}
				log.Warn("prompt too long for the model, trying a larger one", "provider", c.Provider, "model", c.Model)
			case errors.Is(err, provider.ErrCredentialsRejected), errors.Is(err, provider.ErrQuotaExceeded),
				errors.Is(err, provider.ErrModelUnavailable):
				log.Warn("provider refused the key or model, trying the next candidate",
					"provider", c.Provider, "model", c.Model, "class", class, "error", provider.LogText(err))
			case provider.Retryable(err):
				if try < route.Retries {
					d := backoff(try, wait)
					if wait <= maxRetryWait && r.fits(ctx, d) {
						log.Warn("provider failed, retrying", "provider", c.Provider, "model", c.Model,
							"class", class, "wait", d, "error", provider.LogText(err))
						if r.sleep(ctx, d) != nil {
							return out, err
						}
						continue
					}
				}
				log.Warn("provider failed, trying the next candidate",
					"provider", c.Provider, "model", c.Model, "class", class, "error", provider.LogText(err))
			default:
				// The request itself was refused: another candidate
				// would refuse it too, or must not be asked.
				return out, err
			}
			break
		}
	}
	if lastErr == nil {
		if !anyAdmitted && !soonest.IsZero() {
			return attemptOutcome{}, &provider.Error{
				Class: ErrNoHealthyCandidate, RetryAfter: max(soonest.Sub(r.now()), time.Second),
			}
		}
		return attemptOutcome{}, fmt.Errorf("%w: no candidate large enough", provider.ErrContextTooLong)
	}
	return attemptOutcome{Result: Result{Attempts: attempts, Provider: last.Provider, Model: last.Model}}, lastErr
}

// fits reports whether waiting d leaves time before ctx's deadline. A
// context's deadline is on the wall clock, so it is compared with the wall
// clock, not with r.now.
func (r *Router) fits(ctx context.Context, d time.Duration) bool {
	deadline, ok := ctx.Deadline()
	return !ok || time.Until(deadline) > d
}

// backoff returns the wait before retry try+1: the provider's Retry-After
// when it gave one, else full jitter up to retryBase*2^try, capped.
func backoff(try int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return retryAfter
	}
	ceiling := min(retryBase<<try, retryCap)
	return time.Duration(rand.Int64N(int64(ceiling) + 1))
}

func (r *Router) attempt(
	ctx context.Context,
	route Route,
	c Candidate,
	req provider.Request,
	call Call,
) (out attemptOutcome, err error) {
	ctx, span := r.tel.startAttempt(ctx, c, req, call)
	defer func() { span.end(ctx, out, err) }()
	release, err := r.acquire(ctx, c.Provider, call.Priority)
	if err != nil {
		return attemptOutcome{}, err
	}
	defer release()

	// Every way the router ends an attempt is a cause of actx: its own
	// timeout, the first-token timer and the idle watchdog. The attempt's
	// timeout is a timer, not a deadline, so that a stream can outlive it:
	// once the reply streams, the idle watchdog and the call's total
	// timeout bound it (a long, healthy reply was cut at 30 s).
	timeout := cmp.Or(c.Timeout, route.Timeout, DefaultAttemptTimeout)
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	attemptTimer := time.AfterFunc(timeout, func() { cancel(errAttemptTimeout) })
	defer attemptTimer.Stop()
	actx, idle := withIdleTimeout(actx, route.IdleTimeout, cancel)

	p := r.providers[c.Provider]
	req.Model = c.Model
	if r.file.Providers[c.Provider].Retention == "provider_default" {
		req.Retention = provider.RetentionProviderDefault
	}
	var (
		resp     provider.Response
		streamed bool
		told     bool // call.Started, once
		// sent estimates the reply that reached the caller, for a stream
		// that breaks before the provider reports its usage.
		sent provider.ReplyEstimate
	)
	if call.Emit == nil {
		resp, err = p.Generate(actx, req)
	} else {
		var first *time.Timer
		if route.FirstTokenTimeout > 0 {
			first = time.AfterFunc(route.FirstTokenTimeout, func() { cancel(errFirstToken) })
			defer first.Stop()
		}
		resp, err = p.Stream(actx, req, func(d provider.Delta) error {
			// Any piece, a sign of a tool call still held back too, is
			// the reply begun.
			if first != nil {
				first.Stop()
			}
			attemptTimer.Stop()
			if d.Text == "" && d.ToolCall == nil {
				return nil
			}
			// Waiting for a slow caller to take the piece is not the
			// provider's silence.
			idle.pause()
			defer idle.rearm()
			streamed = true
			sent.Add(d.Text)
			if d.ToolCall != nil {
				sent.Add(" " + d.ToolCall.Name + " " + d.ToolCall.Arguments + " ")
			}
			if provider.Overran(req.MaxOutputTokens, sent.Tokens()) {
				// The provider ignores the cap it was sent; what it
				// would still send is not given to (or charged to) the
				// caller.
				return &provider.Error{Class: provider.ErrServerFailed, Err: ErrOverran}
			}
			if !told {
				told = true
				if err := call.started(StreamStart{Provider: c.Provider, Model: cmp.Or(d.Model, c.Model)}); err != nil {
					return &callerGoneError{err: err}
				}
			}
			if err := call.Emit(d); err != nil {
				return &callerGoneError{err: err}
			}
			return nil
		})
	}
	price := r.file.Providers[c.Provider].Price
	if err != nil {
		err = r.classifyAttemptError(ctx, actx, err)
		// The record of a failed call names the candidate that failed it.
		out := attemptOutcome{streamed: streamed, Result: Result{Provider: c.Provider, Model: c.Model}}
		if streamed {
			// The provider was paid for what it sent: the call is
			// settled and recorded with an estimate of it.
			usage := estimatedUsage(req, sent.Tokens())
			out.Result = Result{
				Response:   provider.Response{Usage: usage},
				Provider:   c.Provider,
				Model:      c.Model,
				CostMicros: price.CostMicros(usage),
			}
		}
		return out, fmt.Errorf("provider %s: %w", c.Provider, err)
	}

	// What the provider says of itself is checked before it is counted,
	// recorded or passed on: usage within sane bounds (negative counts are
	// no report at all, and estimated), and the model it names only when it
	// is a plausible name (else the configured one).
	if u := resp.Usage; u.InputTokens < 0 || u.OutputTokens < 0 {
		resp.Usage = estimatedUsage(req, provider.EstimateTokens(resp.Text))
	}
	resp.Usage = resp.Usage.Sane()
	model := c.Model
	if plausibleModel(resp.Model) {
		model = resp.Model
	}
	resp.Model = model
	return attemptOutcome{Result: Result{
		Response:   resp,
		Provider:   c.Provider,
		Model:      model,
		CostMicros: price.CostMicros(resp.Usage),
	}}, nil
}

// ended reports whether ctx is done or its deadline has passed. A dial or a
// read given that deadline can fail a moment before the context says it is
// done: the deadline, not the provider, ended the attempt, and the provider's
// circuit must not count it (one tenant's tiny deadlines would open it for
// every tenant).
func ended(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

// classifyAttemptError names the router's own deadlines as timeouts even
// when the provider returned the bare context error.
func (r *Router) classifyAttemptError(ctx, actx context.Context, err error) error {
	if errors.Is(err, provider.ErrTimedOut) {
		return err
	}
	// ctx ends with the caller's context or with the call's own deadline;
	// only the latter is the router's.
	// The router's own deadlines are timeouts, whatever the provider
	// returned; the context error it may have returned is not kept, so that
	// nobody mistakes the router's cancellation for the caller's.
	if errors.Is(context.Cause(ctx), errTotal) {
		return &provider.Error{Class: provider.ErrTimedOut, Err: errTotal}
	}
	if ctx.Err() != nil {
		return err
	}
	switch cause := context.Cause(actx); {
	case errors.Is(cause, errSilent), errors.Is(cause, errFirstToken), errors.Is(cause, errAttemptTimeout):
		return &provider.Error{Class: provider.ErrTimedOut, Err: cause}
	}
	return err
}

// acquire takes a slot of the provider's capacity for priority p.
func (r *Router) acquire(ctx context.Context, name string, p Priority) (func(), error) {
	g := r.gates[name]
	if g == nil {
		return func() {}, nil
	}
	return g.acquire(ctx, p)
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

// order returns the route's candidates in the order to try them: for a
// weighted split, the candidate the caller is assigned to first and the
// rest in the route's order.
func (r *Router) order(route Route, t, conversation string) []Candidate {
	var weights int
	for _, c := range route.Providers {
		weights += c.Weight
	}
	if weights == 0 {
		return route.Providers
	}
	sticky := t
	if route.Sticky == "conversation" && conversation != "" {
		sticky = t + "\x00" + conversation
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(sticky))
	point := int(h.Sum64() % uint64(weights))
	chosen := 0
	for i, c := range route.Providers {
		if point < c.Weight {
			chosen = i
			break
		}
		point -= c.Weight
	}
	if chosen == 0 {
		return route.Providers
	}
	out := make([]Candidate, 0, len(route.Providers))
	out = append(out, route.Providers[chosen])
	out = append(out, route.Providers[:chosen]...)
	return append(out, route.Providers[chosen+1:]...)
}

// fallback is the route's degraded answer: the last answer to the same
// request when the route keeps them and one is known, else the holding
// reply. Either is marked degraded.
//
// A structured call never gets the holding reply, which is prose and would
// not match its schema; a cached answer to it was validated when stored.
func (r *Router) fallback(routeName string, route Route, key cacheKey, structured bool, cause error) (Result, bool) {
	if route.Fallback.Cached {
		if hit, ok := r.cache.get(key, cmp.Or(route.Fallback.MaxAge, DefaultFallbackMaxAge), r.now()); ok {
			hit = hit.givenAgain(routeName)
			hit.Degraded = true
			hit.DegradedReason = ErrorClass(cause) + "; cached answer"
			return hit, true
		}
	}
	if route.Fallback.Reply == "" || structured {
		// Nothing cached and no holding reply that fits: the caller gets
		// the error.
		return Result{}, false
	}
	return Result{
		Response: provider.Response{
			Text:         route.Fallback.Reply,
			FinishReason: provider.FinishStop,
		},
		Route:          routeName,
		Provider:       "fallback",
		Model:          "fallback",
		Degraded:       true,
		DegradedReason: ErrorClass(cause),
	}, true
}

// fallbackAllowed reports whether a failure may be answered by a holding
// reply: not when the request itself was refused or is over a limit, nor
// when the model answered but not in the response schema's shape.
func fallbackAllowed(err error) bool {
	return !errors.Is(err, provider.ErrRequestRejected) &&
		!errors.Is(err, provider.ErrContentRefused) &&
		!errors.Is(err, ErrLimited) &&
		!errors.Is(err, ErrSchemaMismatch) &&
		!errors.Is(err, ErrOutputTruncated)
}

func (r *Router) record(ctx context.Context, call Call, res Result, callErr error) {
	if r.recorder == nil {
		return
	}
	t, _ := tenant.From(ctx)
	rec := Record{
		Tenant:          t,
		UseCase:         BoundedName(call.UseCase),
		Route:           res.Route,
		Provider:        res.Provider,
		Model:           res.Model,
		Usage:           res.Response.Usage,
		CostMicros:      res.CostMicros,
		Latency:         res.Latency,
		FinishReason:    res.Response.FinishReason,
		Citations:       len(res.Response.Citations),
		Attempts:        res.Attempts,
		Degraded:        res.Degraded,
		Cached:          res.Cached,
		Shadow:          res.Shadow,
		Template:        res.Template,
		TemplateVersion: res.TemplateVersion,
		Repaired:        res.Repaired,
		Subject:         SubjectFrom(ctx),
		Err:             callErr,
		At:              r.now(),
		Reserved:        res.reserved,
	}
	if q, ok := r.recorder.(queuer); ok && q.TryRecord(rec) {
		return
	}
	// Recording must not be cut short because the caller hung up after the
	// reply was paid for.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := r.recorder.Record(rctx, rec); err != nil {
		r.logger.Error("record model call failed", "tenant", t, "route", res.Route,
			"provider", res.Provider, "error", err)
	}
}

func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// RouteInfo describes a route for callers choosing one.
type RouteInfo struct {
	Name       string
	Default    bool
	Candidates []CandidateInfo
}

// CandidateInfo is a route candidate and how its provider keeps content.
type CandidateInfo struct {
	Provider, Model, Retention string
	Weight                     int
}

// Retentioner is implemented by providers that can say how they keep the
// content they are sent.
type Retentioner interface {
	Retention() string
}

// RouteInfos lists the routes by name.
func (r *Router) RouteInfos() []RouteInfo {
	var out []RouteInfo
	for _, name := range sortedKeys(r.file.Routes) {
		info := RouteInfo{Name: name, Default: name == r.file.DefaultRoute}
		for _, c := range r.file.Routes[name].Providers {
			ci := CandidateInfo{Provider: c.Provider, Model: c.Model, Weight: c.Weight}
			if rp, ok := r.providers[c.Provider].(Retentioner); ok {
				ci.Retention = rp.Retention()
			}
			if r.file.Providers[c.Provider].Retention == "provider_default" {
				// What the provider would otherwise be sent (store=false)
				// is left out: its account's own settings apply.
				ci.Retention = "provider default (chosen for this provider): Keel sends no retention setting; " +
					"the provider account's own settings apply"
			}
			info.Candidates = append(info.Candidates, ci)
		}
		out = append(out, info)
	}
	return out
}

// lazyLogger adds its attributes to a warning only when one is logged.
type lazyLogger struct {
	base          *slog.Logger
	route, tenant string
}

// Warn logs msg with the call's route and tenant. Callers pass provider
// errors through provider.LogText: their own text may quote the prompt.
func (l lazyLogger) Warn(msg string, args ...any) {
	l.base.Warn(msg, append([]any{"route", l.route, "tenant", l.tenant}, args...)...)
}
