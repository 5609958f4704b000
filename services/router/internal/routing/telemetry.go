package routing

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"

	"github.com/keelhq/keel/services/router/internal/provider"
	"github.com/keelhq/keel/services/router/internal/provider/anthropic"
	"github.com/keelhq/keel/services/router/internal/provider/gemini"
)

// The router's telemetry follows the OpenTelemetry semantic conventions for
// generative AI clients (gen_ai.*, development status; the names below are
// those of the convention's registry, kept here as strings because the
// semconv packages of the pinned OpenTelemetry release lag behind it).
//
// Every call of Do that finds its route is a span "keel.route {route}"
// (kind INTERNAL) holding one span "chat {model}" (kind CLIENT) per provider
// attempt, shadow and repair attempts included. Every attempt records one gen_ai.client.operation.duration
// point; every successful attempt whose provider reported its usage records
// two gen_ai.client.token.usage points, input and output.
//
// No prompt, reply, template variable, provider error message or key ever
// goes into a span or a metric: errors are described by their class only
// (provider.ClassName), never by their text.

// instrumentationName is the scope of the router's tracer and meter.
const instrumentationName = "github.com/keelhq/keel/services/router/internal/routing"

// GenAI semantic convention attributes.
const (
	attrOperationName     = "gen_ai.operation.name"
	attrProviderName      = "gen_ai.provider.name"
	attrRequestModel      = "gen_ai.request.model"
	attrRequestMaxTokens  = "gen_ai.request.max_tokens"
	attrRequestTemp       = "gen_ai.request.temperature"
	attrRequestTopP       = "gen_ai.request.top_p"
	attrOutputType        = "gen_ai.output.type"
	attrConversationID    = "gen_ai.conversation.id"
	attrResponseModel     = "gen_ai.response.model"
	attrFinishReasons     = "gen_ai.response.finish_reasons"
	attrUsageInputTokens  = "gen_ai.usage.input_tokens"
	attrUsageOutputTokens = "gen_ai.usage.output_tokens"
	attrTokenType         = "gen_ai.token.type"
	attrErrorType         = "error.type"
	attrServerAddress     = "server.address"
	attrServerPort        = "server.port"
)

// Keel's own attributes.
const (
	attrKeelRoute          = "keel.route"
	attrKeelTenant         = "keel.tenant"
	attrKeelUseCase        = "keel.use_case"
	attrKeelAttempt        = "keel.attempt"
	attrKeelAttempts       = "keel.attempts"
	attrKeelProvider       = "keel.provider"
	attrKeelShadow         = "keel.shadow"
	attrKeelStream         = "keel.stream"
	attrKeelDegraded       = "keel.degraded"
	attrKeelDegradedReason = "keel.degraded_reason"
	attrKeelCached         = "keel.cached"
	attrKeelUsageEstimated = "keel.usage_estimated"
)

// Well-known values.
const (
	// operationChat is the operation of every model call the router makes.
	operationChat = "chat"

	tokenInput  = "input"
	tokenOutput = "output"
	outputJSON  = "json"

	// providerKeelLocal is the gen_ai.provider.name of Keel's built-in
	// local provider; the convention has no value for it.
	providerKeelLocal = "keel.local"
)

// GenAI client metrics.
const (
	metricTokenUsage        = "gen_ai.client.token.usage"
	metricOperationDuration = "gen_ai.client.operation.duration"
)

// Bucket boundaries the convention recommends.
var (
	tokenUsageBuckets = []float64{
		1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
	}
	operationDurationBuckets = []float64{
		0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
	}
)

// genAIProviderName maps a provider's configuration to gen_ai.provider.name:
// the convention's well-known value where there is one. OpenAI-compatible
// servers speak OpenAI's API and are reported as "openai" (server.address
// tells them apart); an unknown type falls back to the provider's name in
// the routes file.
func genAIProviderName(name string, cfg ProviderConfig) string {
	switch cfg.Type {
	case TypeOpenAI:
		if cfg.Flavor == "xai" {
			return "x_ai"
		}
		return "openai"
	case TypeXAI:
		return "x_ai"
	case TypeAnthropic:
		return "anthropic"
	case TypeGemini:
		return "gcp.gemini"
	case TypeLocal:
		return providerKeelLocal
	}
	return name
}

// serverEndpoint returns the host and port a provider is called at, when it
// is a remote one; only the host and port of the URL are kept.
func serverEndpoint(cfg ProviderConfig) (string, int, bool) {
	base := cfg.BaseURL
	if base == "" {
		switch cfg.Type {
		case TypeAnthropic:
			base = anthropic.DefaultBaseURL
		case TypeGemini:
			base = gemini.DefaultBaseURL
		case TypeXAI:
			base = XAIBaseURL
		}
	}
	u, err := url.Parse(base)
	if base == "" || err != nil || u.Hostname() == "" {
		return "", 0, false
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		switch u.Scheme {
		case "https":
			port = 443
		case "http":
			port = 80
		}
	}
	return u.Hostname(), port, true
}

// telemetry holds the router's tracer and instruments and what is known of
// every candidate before any call, so that a call builds nothing it does
// not record.
type telemetry struct {
	tracer   trace.Tracer
	tokens   metric.Int64Histogram
	duration metric.Float64Histogram
	now      func() time.Time

	callNames map[string]string // by route: "keel.route {route}"
	cands     map[telKey]*candidateTel
	file      File
}

type telKey struct{ provider, model string }

// candidateTel is what every attempt at one provider and model shares.
type candidateTel struct {
	spanName string
	// attrs are the attributes known before the call: operation,
	// provider, requested model and server. They go on the span at its
	// start (for samplers) and on every metric point.
	attrs     []attribute.KeyValue
	startOpts []trace.SpanStartOption
	keelName  attribute.KeyValue
}

// newTelemetry creates the tracer and instruments from opts' providers, the
// global ones when nil. An instrument that cannot be created is replaced
// by a no-op one, with a warning: telemetry never stops the router.
func newTelemetry(file File, opts Options, now func() time.Time, logger *slog.Logger) *telemetry {
	tp := opts.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	mp := opts.MeterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	meter := mp.Meter(instrumentationName)
	t := &telemetry{
		tracer:    tp.Tracer(instrumentationName),
		now:       now,
		callNames: make(map[string]string, len(file.Routes)),
		cands:     make(map[telKey]*candidateTel),
		file:      file,
	}
	var err error
	t.tokens, err = meter.Int64Histogram(metricTokenUsage,
		metric.WithDescription("Number of input and output tokens used."),
		metric.WithUnit("{token}"),
		metric.WithExplicitBucketBoundaries(tokenUsageBuckets...))
	if err != nil {
		logger.Warn("create metric failed", "metric", metricTokenUsage, "error", err)
		t.tokens = metricnoop.Int64Histogram{}
	}
	t.duration, err = meter.Float64Histogram(metricOperationDuration,
		metric.WithDescription("GenAI operation duration."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(operationDurationBuckets...))
	if err != nil {
		logger.Warn("create metric failed", "metric", metricOperationDuration, "error", err)
		t.duration = metricnoop.Float64Histogram{}
	}
	for name, route := range file.Routes {
		t.callNames[name] = "keel.route " + name
		for _, c := range route.candidates() {
			key := telKey{c.Provider, c.Model}
			if _, ok := t.cands[key]; !ok {
				t.cands[key] = t.newCandidate(key)
			}
		}
	}
	return t
}

func (t *telemetry) newCandidate(key telKey) *candidateTel {
	cfg, _ := t.file.provider(key.provider)
	attrs := []attribute.KeyValue{
		attribute.String(attrOperationName, operationChat),
		attribute.String(attrProviderName, genAIProviderName(key.provider, cfg)),
		attribute.String(attrRequestModel, key.model),
	}
	if host, port, ok := serverEndpoint(cfg); ok {
		attrs = append(attrs, attribute.String(attrServerAddress, host))
		if port != 0 {
			attrs = append(attrs, attribute.Int(attrServerPort, port))
		}
	}
	return &candidateTel{
		spanName: operationChat + " " + key.model,
		attrs:    attrs,
		startOpts: []trace.SpanStartOption{
			trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attrs...),
		},
		keelName: attribute.String(attrKeelProvider, key.provider),
	}
}

func (t *telemetry) candidate(c Candidate) *candidateTel {
	if ct, ok := t.cands[telKey{c.Provider, c.Model}]; ok {
		return ct
	}
	// Not a candidate of the routes file (the map is read-only after
	// New, so this one is built for the attempt alone).
	return t.newCandidate(telKey{c.Provider, c.Model})
}

// callState is a call's telemetry state, carried in its context to its
// attempts.
type callState struct {
	route, tenant string
	shadow        bool
	attempts      atomic.Int32
}

type callStateKey struct{}

func callStateFrom(ctx context.Context) *callState {
	st, _ := ctx.Value(callStateKey{}).(*callState)
	return st
}

// shadowTelemetry marks the attempts made under ctx, when the route has a
// shadow, as the shadow call's: numbered on their own, with keel.shadow.
func shadowTelemetry(ctx context.Context, route Route) context.Context {
	if route.Shadow == nil {
		return ctx
	}
	st := callStateFrom(ctx)
	if st == nil {
		return ctx
	}
	sh := &callState{route: st.route, tenant: st.tenant, shadow: true}
	return context.WithValue(ctx, callStateKey{}, sh)
}

// callTel is the span of one call of Do.
type callTel struct {
	span  trace.Span
	state *callState
}

// startCall starts the span of a call to routeName for tenant t. The
// call's state goes into the context only when the span is recording: a
// trace that is not recorded has no recorded attempt spans either, and
// the metrics need no state.
func (t *telemetry) startCall(ctx context.Context, call Call, routeName, tenantName string) (context.Context, callTel) {
	name, ok := t.callNames[routeName]
	if !ok {
		name = "keel.route " + routeName
	}
	ctx, span := t.tracer.Start(ctx, name)
	if !span.IsRecording() {
		return ctx, callTel{span: span}
	}
	span.SetAttributes(
		attribute.String(attrKeelRoute, routeName),
		attribute.String(attrKeelTenant, tenantName),
		attribute.String(attrKeelUseCase, call.UseCase),
		attribute.Bool(attrKeelStream, call.Emit != nil),
	)
	st := &callState{route: routeName, tenant: tenantName}
	return context.WithValue(ctx, callStateKey{}, st), callTel{span: span, state: st}
}

// end ends the call's span with the call's outcome.
func (c callTel) end(res Result, err error) {
	if c.state != nil && c.span.IsRecording() {
		c.span.SetAttributes(
			attribute.Int(attrKeelAttempts, int(c.state.attempts.Load())),
			attribute.Bool(attrKeelDegraded, res.Degraded),
			attribute.Bool(attrKeelCached, res.Cached),
		)
		if res.Degraded {
			c.span.SetAttributes(attribute.String(attrKeelDegradedReason, res.DegradedReason))
		}
		if res.Provider != "" {
			c.span.SetAttributes(attribute.String(attrKeelProvider, res.Provider))
		}
		if err != nil {
			class := errorType(err)
			c.span.SetAttributes(attribute.String(attrErrorType, class))
			c.span.SetStatus(codes.Error, class)
		}
	}
	c.span.End()
}

// attemptTel is the span and clock of one provider attempt.
type attemptTel struct {
	t     *telemetry
	span  trace.Span
	cand  *candidateTel
	start time.Time
}

// startAttempt starts the span of an attempt at candidate c with the
// prepared request req. Only the request's parameters are recorded, never
// its content.
func (t *telemetry) startAttempt(ctx context.Context, c Candidate, req provider.Request, call Call) (context.Context, attemptTel) {
	ct := t.candidate(c)
	st := callStateFrom(ctx)
	var n int32
	if st != nil {
		n = st.attempts.Add(1)
	}
	ctx, span := t.tracer.Start(ctx, ct.spanName, ct.startOpts...)
	if span.IsRecording() {
		kvs := make([]attribute.KeyValue, 0, 12)
		kvs = append(kvs, ct.keelName)
		if st != nil {
			kvs = append(kvs,
				attribute.Int(attrKeelAttempt, int(n)),
				attribute.String(attrKeelRoute, st.route),
				attribute.String(attrKeelTenant, st.tenant))
			if st.shadow {
				kvs = append(kvs, attribute.Bool(attrKeelShadow, true))
			}
		}
		if req.MaxOutputTokens > 0 {
			kvs = append(kvs, attribute.Int(attrRequestMaxTokens, req.MaxOutputTokens))
		}
		if req.Temperature != nil {
			kvs = append(kvs, attribute.Float64(attrRequestTemp, *req.Temperature))
		}
		if req.TopP != nil {
			kvs = append(kvs, attribute.Float64(attrRequestTopP, *req.TopP))
		}
		if req.Schema != nil {
			kvs = append(kvs, attribute.String(attrOutputType, outputJSON))
		}
		if call.Conversation != "" {
			kvs = append(kvs, attribute.String(attrConversationID, call.Conversation))
		}
		span.SetAttributes(kvs...)
	}
	return ctx, attemptTel{t: t, span: span, cand: ct, start: t.now()}
}

// end ends the attempt's span and records its metrics.
func (a attemptTel) end(ctx context.Context, out attemptOutcome, err error) {
	elapsed := a.t.now().Sub(a.start)
	resp := out.Response
	var class string
	if err != nil {
		class = errorType(err)
	}
	if a.span.IsRecording() {
		if err != nil {
			a.span.SetAttributes(attribute.String(attrErrorType, class))
			// The class, not the error's text: a provider's message may
			// quote the request.
			a.span.SetStatus(codes.Error, class)
		} else {
			kvs := make([]attribute.KeyValue, 0, 5)
			if resp.Model != "" {
				kvs = append(kvs, attribute.String(attrResponseModel, resp.Model))
			}
			kvs = append(kvs,
				attribute.Int64(attrUsageInputTokens, resp.Usage.InputTokens),
				attribute.Int64(attrUsageOutputTokens, resp.Usage.OutputTokens))
			if resp.Usage.Estimated {
				kvs = append(kvs, attribute.Bool(attrKeelUsageEstimated, true))
			}
			if resp.FinishReason != "" {
				kvs = append(kvs, attribute.StringSlice(attrFinishReasons, []string{string(resp.FinishReason)}))
			}
			a.span.SetAttributes(kvs...)
		}
	}
	a.span.End()

	durationOn := a.t.duration.Enabled(ctx)
	// Token counts Keel estimated itself are not reported: the convention
	// allows only counts the provider gave (or opted-in offline counting).
	tokensOn := err == nil && !resp.Usage.Estimated && a.t.tokens.Enabled(ctx)
	if !durationOn && !tokensOn {
		return
	}
	kvs := make([]attribute.KeyValue, 0, len(a.cand.attrs)+1)
	kvs = append(kvs, a.cand.attrs...)
	switch {
	case err != nil:
		kvs = append(kvs, attribute.String(attrErrorType, class))
	case resp.Model != "":
		kvs = append(kvs, attribute.String(attrResponseModel, resp.Model))
	}
	if durationOn {
		a.t.duration.Record(ctx, elapsed.Seconds(), metric.WithAttributeSet(attribute.NewSet(kvs...)))
	}
	if tokensOn {
		// attribute.NewSet sorts the slice it is given in place: each set
		// gets its own copy (the full slice expression forces append to
		// copy).
		n := len(kvs)
		in := append(kvs[:n:n], attribute.String(attrTokenType, tokenInput))
		out := append(kvs[:n:n], attribute.String(attrTokenType, tokenOutput))
		a.t.tokens.Record(ctx, resp.Usage.InputTokens, metric.WithAttributeSet(attribute.NewSet(in...)))
		a.t.tokens.Record(ctx, resp.Usage.OutputTokens, metric.WithAttributeSet(attribute.NewSet(out...)))
	}
}

// errorType is the error.type of a failed attempt or call: the provider
// error class (provider.ClassName), or the router's own reason when the
// error is not a provider's.
func errorType(err error) string {
	if class := provider.ClassName(err); class != "unknown" {
		return class
	}
	switch {
	case errors.Is(err, ErrSchemaMismatch):
		return "schema_mismatch"
	case errors.Is(err, ErrOutputTruncated):
		return "output_truncated"
	case errors.Is(err, ErrLimited):
		return "limited"
	case errors.Is(err, ErrNoHealthyCandidate):
		return "no_healthy_candidate"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "unknown"
}
