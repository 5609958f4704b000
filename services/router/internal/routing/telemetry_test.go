package routing

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/keelhq/keel/services/router/internal/provider"
)

// Content that must never reach a span or a metric.
const (
	secretPrompt   = "SECRET-PROMPT my card is 4111 1111 1111 1111"
	secretSystem   = "SECRET-SYSTEM you are a helpful assistant"
	secretReply    = "SECRET-REPLY here is your answer"
	secretVariable = "SECRET-VARIABLE"
	secretKey      = "sk-SECRET-KEY"
)

// telHarness is a tracer and a meter provider that keep what they get.
type telHarness struct {
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
	clock  *fakeClock
}

func newTelHarness(t *testing.T) *telHarness {
	t.Helper()
	h := &telHarness{
		spans:  tracetest.NewSpanRecorder(),
		reader: sdkmetric.NewManualReader(),
		clock:  newFakeClock(),
	}
	return h
}

// options returns router options sending telemetry to h.
func (h *telHarness) options(t *testing.T, rec Recorder) Options {
	t.Helper()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(h.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(h.reader))
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	opts := h.clock.options(rec)
	opts.TracerProvider = tp
	opts.MeterProvider = mp
	return opts
}

// ended returns the ended spans in the order they started.
func (h *telHarness) ended() []sdktrace.ReadOnlySpan {
	spans := h.spans.Ended()
	slices.SortStableFunc(spans, func(a, b sdktrace.ReadOnlySpan) int {
		return a.StartTime().Compare(b.StartTime())
	})
	return spans
}

// histogram returns the data points of the named histogram.
func histogram[N int64 | float64](t *testing.T, h *telHarness, name string) []metricdata.HistogramDataPoint[N] {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := h.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("collect metrics: %v", err)
	}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != instrumentationName {
			continue
		}
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			hist, ok := m.Data.(metricdata.Histogram[N])
			if !ok {
				t.Fatalf("metric %s is %T", name, m.Data)
			}
			return hist.DataPoints
		}
	}
	return nil
}

// metricUnit returns the unit of the named metric.
func metricUnit(t *testing.T, h *telHarness, name string) string {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := h.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("collect metrics: %v", err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m.Unit
			}
		}
	}
	t.Fatalf("no metric %s", name)
	return ""
}

// attrMap renders attributes as strings by key.
func attrMap(kvs []attribute.KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.Emit()
	}
	return m
}

func setMap(s attribute.Set) map[string]string { return attrMap(s.ToSlice()) }

// assertNoContent fails when any attribute of any span, span event or
// metric point holds a piece of the request's or the reply's content.
func assertNoContent(t *testing.T, h *telHarness) {
	t.Helper()
	secrets := []string{"SECRET", "4111", secretKey}
	check := func(where string, kvs []attribute.KeyValue) {
		for _, kv := range kvs {
			var values []string
			if kv.Value.Type() == attribute.STRINGSLICE {
				values = kv.Value.AsStringSlice()
			} else {
				values = []string{kv.Value.Emit()}
			}
			for _, v := range values {
				for _, s := range secrets {
					if strings.Contains(v, s) {
						t.Errorf("%s: attribute %s = %q holds content", where, kv.Key, v)
					}
				}
			}
		}
	}
	for _, s := range h.spans.Ended() {
		check("span "+s.Name(), s.Attributes())
		for _, s2 := range secrets {
			if strings.Contains(s.Name(), s2) || strings.Contains(s.Status().Description, s2) {
				t.Errorf("span %q (status %q) holds content", s.Name(), s.Status().Description)
			}
		}
		for _, e := range s.Events() {
			check("event "+e.Name, e.Attributes)
		}
	}
	var rm metricdata.ResourceMetrics
	if err := h.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("collect metrics: %v", err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Histogram[int64]:
				for _, p := range d.DataPoints {
					check("metric "+m.Name, p.Attributes.ToSlice())
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					check("metric "+m.Name, p.Attributes.ToSlice())
				}
			}
		}
	}
}

func secretRequest() provider.Request {
	return provider.Request{
		Messages: []provider.Message{
			{Role: provider.RoleSystem, Content: secretSystem},
			{Role: provider.RoleUser, Content: secretPrompt},
		},
		Stop: []string{"SECRET-STOP"},
	}
}

// echoProvider answers with the prompt in its reply after taking took on
// the fake clock.
func echoProvider(name string, clock *fakeClock, took time.Duration, usage provider.Usage) *funcProvider {
	return &funcProvider{name: name, log: &callLog{}, fn: func(
		_ context.Context, req provider.Request, emit func(provider.Delta) error,
	) (provider.Response, error) {
		clock.Advance(took)
		last, _ := req.LastUserMessage()
		text := secretReply + " to " + last.Content
		if err := emit(provider.Delta{Text: text}); err != nil {
			return provider.Response{}, err
		}
		return provider.Response{
			Text:         text,
			Model:        req.Model + "-0613",
			Usage:        usage,
			FinishReason: provider.FinishStop,
		}, nil
	}}
}

// failingProvider fails every call with err after taking took.
func failingProvider(name string, clock *fakeClock, took time.Duration, err error) *funcProvider {
	return &funcProvider{name: name, log: &callLog{}, fn: func(
		context.Context, provider.Request, func(provider.Delta) error,
	) (provider.Response, error) {
		clock.Advance(took)
		return provider.Response{}, err
	}}
}

func ptr[T any](v T) *T { return &v }

func TestTelemetryCallAndAttemptSpans(t *testing.T) {
	t.Parallel()
	h := newTelHarness(t)
	file := File{
		Routes: map[string]Route{"support": {
			Providers: []Candidate{{Provider: "oa", Model: "gpt-test"}},
			Params:    Params{Temperature: ptr(0.25), TopP: ptr(0.5), MaxOutputTokens: 256},
		}},
		Providers: map[string]ProviderConfig{"oa": {
			Type: TypeOpenAI, Flavor: "openai", BaseURL: "http://127.0.0.1:8089/v1", APIKeyEnv: "KEY",
		}},
	}
	r := newTestRouter(t, file, map[string]provider.Provider{
		"oa": echoProvider("oa", h.clock, 1500*time.Millisecond, provider.Usage{InputTokens: 12, OutputTokens: 34}),
	}, h.options(t, nil))

	// A call refused before any attempt (the route renders no template,
	// so template variables are refused) has a call span and no attempt.
	_, err := r.Do(tenantCtx("acme"), Call{
		UseCase:   "support",
		Request:   secretRequest(),
		Variables: map[string]string{"name": secretVariable},
	})
	if !errors.Is(err, provider.ErrRequestRejected) {
		t.Fatalf("Do with variables: %v, want a rejected request", err)
	}
	var streamed []string
	res, err := r.Do(tenantCtx("acme"), Call{
		UseCase:      "support",
		Request:      secretRequest(),
		Conversation: "conv-1",
		Emit:         func(d provider.Delta) error { streamed = append(streamed, d.Text); return nil },
	})
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	if !strings.Contains(res.Response.Text, secretPrompt) || len(streamed) == 0 {
		t.Fatalf("reply %q does not echo the prompt", res.Response.Text)
	}

	spans := h.ended()
	if len(spans) != 3 {
		t.Fatalf("got %d spans, want 3 (refused call, call, attempt)", len(spans))
	}
	refused, call, attempt := spans[0], spans[1], spans[2]

	if refused.Name() != "keel.route support" || refused.Status().Code != codes.Error {
		t.Errorf("refused call span = %q status %v", refused.Name(), refused.Status())
	}
	if got := attrMap(refused.Attributes())["error.type"]; got != "bad_request" {
		t.Errorf("refused call error.type = %q, want bad_request", got)
	}

	if call.Name() != "keel.route support" || call.SpanKind() != trace.SpanKindInternal {
		t.Errorf("call span = %q kind %v", call.Name(), call.SpanKind())
	}
	if call.Parent().IsValid() {
		t.Errorf("call span has a parent")
	}
	if call.Status().Code != codes.Unset {
		t.Errorf("call span status = %v", call.Status())
	}
	wantCall := map[string]string{
		"keel.route":    "support",
		"keel.tenant":   "acme",
		"keel.use_case": "support",
		"keel.stream":   "true",
		"keel.attempts": "1",
		"keel.degraded": "false",
		"keel.cached":   "false",
		"keel.provider": "oa",
	}
	if diff := cmp.Diff(wantCall, attrMap(call.Attributes())); diff != "" {
		t.Errorf("call span attributes (-want +got):\n%s", diff)
	}

	if attempt.Name() != "chat gpt-test" || attempt.SpanKind() != trace.SpanKindClient {
		t.Errorf("attempt span = %q kind %v", attempt.Name(), attempt.SpanKind())
	}
	if attempt.Parent().SpanID() != call.SpanContext().SpanID() ||
		attempt.SpanContext().TraceID() != call.SpanContext().TraceID() {
		t.Errorf("attempt span is not the call span's child")
	}
	if attempt.Status().Code != codes.Unset {
		t.Errorf("attempt span status = %v", attempt.Status())
	}
	wantAttempt := map[string]string{
		"gen_ai.operation.name":          "chat",
		"gen_ai.provider.name":           "openai",
		"gen_ai.request.model":           "gpt-test",
		"server.address":                 "127.0.0.1",
		"server.port":                    "8089",
		"gen_ai.request.max_tokens":      "256",
		"gen_ai.request.temperature":     "0.25",
		"gen_ai.request.top_p":           "0.5",
		"gen_ai.conversation.id":         "conv-1",
		"gen_ai.response.model":          "gpt-test-0613",
		"gen_ai.response.finish_reasons": `["stop"]`,
		"gen_ai.usage.input_tokens":      "12",
		"gen_ai.usage.output_tokens":     "34",
		"keel.route":                     "support",
		"keel.tenant":                    "acme",
		"keel.attempt":                   "1",
		"keel.provider":                  "oa",
	}
	if diff := cmp.Diff(wantAttempt, attrMap(attempt.Attributes())); diff != "" {
		t.Errorf("attempt span attributes (-want +got):\n%s", diff)
	}

	// Metrics.
	if u := metricUnit(t, h, "gen_ai.client.token.usage"); u != "{token}" {
		t.Errorf("token usage unit = %q", u)
	}
	if u := metricUnit(t, h, "gen_ai.client.operation.duration"); u != "s" {
		t.Errorf("duration unit = %q", u)
	}
	base := map[string]string{
		"gen_ai.operation.name": "chat",
		"gen_ai.provider.name":  "openai",
		"gen_ai.request.model":  "gpt-test",
		"gen_ai.response.model": "gpt-test-0613",
		"server.address":        "127.0.0.1",
		"server.port":           "8089",
	}
	tokens := histogram[int64](t, h, "gen_ai.client.token.usage")
	gotTokens := map[string]int64{}
	for _, p := range tokens {
		attrs := setMap(p.Attributes)
		typ := attrs["gen_ai.token.type"]
		delete(attrs, "gen_ai.token.type")
		if diff := cmp.Diff(base, attrs); diff != "" {
			t.Errorf("token usage %s attributes (-want +got):\n%s", typ, diff)
		}
		if p.Count != 1 {
			t.Errorf("token usage %s count = %d, want 1", typ, p.Count)
		}
		if !slices.Equal(p.Bounds, tokenUsageBuckets) {
			t.Errorf("token usage bounds = %v", p.Bounds)
		}
		gotTokens[typ] = p.Sum
	}
	if diff := cmp.Diff(map[string]int64{"input": 12, "output": 34}, gotTokens); diff != "" {
		t.Errorf("token usage (-want +got):\n%s", diff)
	}
	durations := histogram[float64](t, h, "gen_ai.client.operation.duration")
	if len(durations) != 1 {
		t.Fatalf("duration points = %d, want 1", len(durations))
	}
	d := durations[0]
	if diff := cmp.Diff(base, setMap(d.Attributes)); diff != "" {
		t.Errorf("duration attributes (-want +got):\n%s", diff)
	}
	if d.Count != 1 || d.Sum != 1.5 {
		t.Errorf("duration count %d sum %v, want 1 and 1.5 (seconds on the fake clock)", d.Count, d.Sum)
	}
	if !slices.Equal(d.Bounds, operationDurationBuckets) {
		t.Errorf("duration bounds = %v", d.Bounds)
	}

	assertNoContent(t, h)
}

func TestTelemetryFailover(t *testing.T) {
	t.Parallel()
	h := newTelHarness(t)
	file := File{
		Routes: map[string]Route{"r": {Providers: []Candidate{
			{Provider: "claude", Model: "claude-x"},
			{Provider: "gem", Model: "gem-y"},
		}}},
		Providers: map[string]ProviderConfig{
			"claude": {Type: TypeAnthropic},
			"gem":    {Type: TypeGemini},
		},
	}
	serverErr := &provider.Error{Class: provider.ErrServerFailed, StatusCode: 500, Message: "upstream said: " + secretPrompt}
	r := newTestRouter(t, file, map[string]provider.Provider{
		"claude": failingProvider("claude", h.clock, 250*time.Millisecond, serverErr),
		"gem":    echoProvider("gem", h.clock, 2*time.Second, provider.Usage{InputTokens: 100, OutputTokens: 7}),
	}, h.options(t, nil))

	res, err := r.Do(tenantCtx("acme"), Call{UseCase: "r", Request: secretRequest()})
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	if res.Provider != "gem" || res.Attempts != 2 {
		t.Fatalf("served by %s after %d attempts, want gem after 2", res.Provider, res.Attempts)
	}

	spans := h.ended()
	if len(spans) != 3 {
		t.Fatalf("got %d spans, want 3", len(spans))
	}
	call, first, second := spans[0], spans[1], spans[2]
	for _, s := range []sdktrace.ReadOnlySpan{first, second} {
		if s.Parent().SpanID() != call.SpanContext().SpanID() {
			t.Errorf("span %s is not the call span's child", s.Name())
		}
		if s.SpanKind() != trace.SpanKindClient {
			t.Errorf("span %s kind %v", s.Name(), s.SpanKind())
		}
	}
	if call.Name() != "keel.route r" || call.Status().Code != codes.Unset {
		t.Errorf("call span %q status %v", call.Name(), call.Status())
	}
	if got := attrMap(call.Attributes())["keel.attempts"]; got != "2" {
		t.Errorf("call keel.attempts = %s, want 2", got)
	}

	if first.Name() != "chat claude-x" {
		t.Errorf("first attempt span = %q", first.Name())
	}
	if first.Status().Code != codes.Error || first.Status().Description != "server" {
		t.Errorf("first attempt status = %+v, want Error \"server\"", first.Status())
	}
	wantFirst := map[string]string{
		"gen_ai.operation.name": "chat",
		"gen_ai.provider.name":  "anthropic",
		"gen_ai.request.model":  "claude-x",
		"server.address":        "api.anthropic.com",
		"server.port":           "443",
		"error.type":            "server",
		"keel.route":            "r",
		"keel.tenant":           "acme",
		"keel.attempt":          "1",
		"keel.provider":         "claude",
	}
	if diff := cmp.Diff(wantFirst, attrMap(first.Attributes())); diff != "" {
		t.Errorf("first attempt attributes (-want +got):\n%s", diff)
	}
	if len(first.Events()) != 0 {
		t.Errorf("first attempt has events %v; errors are not recorded as events", first.Events())
	}

	secondAttrs := attrMap(second.Attributes())
	if second.Name() != "chat gem-y" || second.Status().Code != codes.Unset {
		t.Errorf("second attempt span %q status %v", second.Name(), second.Status())
	}
	for k, want := range map[string]string{
		"gen_ai.provider.name":  "gcp.gemini",
		"server.address":        "generativelanguage.googleapis.com",
		"keel.attempt":          "2",
		"gen_ai.response.model": "gem-y-0613",
	} {
		if secondAttrs[k] != want {
			t.Errorf("second attempt %s = %q, want %q", k, secondAttrs[k], want)
		}
	}
	if _, ok := secondAttrs["error.type"]; ok {
		t.Errorf("second attempt has error.type")
	}

	// One duration point per attempt, the failed one with error.type.
	durations := histogram[float64](t, h, "gen_ai.client.operation.duration")
	byProvider := map[string]metricdata.HistogramDataPoint[float64]{}
	var total uint64
	for _, p := range durations {
		total += p.Count
		byProvider[setMap(p.Attributes)["gen_ai.provider.name"]] = p
	}
	if total != 2 || len(durations) != 2 {
		t.Fatalf("duration: %d points, %d measurements; want 2 and 2", len(durations), total)
	}
	failed := setMap(byProvider["anthropic"].Attributes)
	if failed["error.type"] != "server" || failed["gen_ai.response.model"] != "" {
		t.Errorf("failed attempt duration attributes = %v", failed)
	}
	if byProvider["anthropic"].Sum != 0.25 || byProvider["gcp.gemini"].Sum != 2 {
		t.Errorf("durations = %v and %v, want 0.25 and 2", byProvider["anthropic"].Sum, byProvider["gcp.gemini"].Sum)
	}
	if _, ok := setMap(byProvider["gcp.gemini"].Attributes)["error.type"]; ok {
		t.Errorf("successful attempt's duration has error.type")
	}

	// Tokens only from the attempt that answered.
	got := map[string]int64{}
	for _, p := range histogram[int64](t, h, "gen_ai.client.token.usage") {
		attrs := setMap(p.Attributes)
		got[attrs["gen_ai.provider.name"]+"/"+attrs["gen_ai.token.type"]] += p.Sum
	}
	if diff := cmp.Diff(map[string]int64{"gcp.gemini/input": 100, "gcp.gemini/output": 7}, got); diff != "" {
		t.Errorf("token usage (-want +got):\n%s", diff)
	}

	assertNoContent(t, h)
}

func TestTelemetryCallOutcomes(t *testing.T) {
	t.Parallel()
	rejected := &provider.Error{Class: provider.ErrRequestRejected, StatusCode: 400, Message: secretPrompt}
	tests := []struct {
		name      string
		fallback  Fallback
		err       error
		wantErr   bool
		wantCode  codes.Code
		wantAttrs map[string]string
	}{
		{
			name:     "failure",
			err:      rejected,
			wantErr:  true,
			wantCode: codes.Error,
			wantAttrs: map[string]string{
				"error.type": "bad_request", "keel.degraded": "false", "keel.attempts": "1",
			},
		},
		{
			name:     "degraded to the fallback",
			fallback: Fallback{Reply: "Sorry, try again later."},
			err:      &provider.Error{Class: provider.ErrOverloaded, StatusCode: 529},
			wantCode: codes.Unset,
			wantAttrs: map[string]string{
				"keel.degraded": "true", "keel.degraded_reason": "overloaded", "keel.attempts": "1",
				"keel.provider": "fallback",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newTelHarness(t)
			file := File{
				Routes:    map[string]Route{"r": {Providers: []Candidate{{Provider: "a", Model: "ma"}}, Fallback: tt.fallback}},
				Providers: map[string]ProviderConfig{"a": {Type: TypeXAI}},
			}
			r := newTestRouter(t, file, map[string]provider.Provider{
				"a": failingProvider("a", h.clock, time.Second, tt.err),
			}, h.options(t, nil))
			_, err := r.Do(tenantCtx("acme"), Call{UseCase: "r", Request: secretRequest()})
			if (err != nil) != tt.wantErr {
				t.Fatalf("Do error = %v, want error %v", err, tt.wantErr)
			}
			spans := h.ended()
			if len(spans) != 2 {
				t.Fatalf("got %d spans, want 2", len(spans))
			}
			call, attempt := spans[0], spans[1]
			if call.Status().Code != tt.wantCode {
				t.Errorf("call status = %v, want %v", call.Status(), tt.wantCode)
			}
			got := attrMap(call.Attributes())
			for k, want := range tt.wantAttrs {
				if got[k] != want {
					t.Errorf("call %s = %q, want %q", k, got[k], want)
				}
			}
			if attempt.Status().Code != codes.Error {
				t.Errorf("attempt status = %v, want Error", attempt.Status())
			}
			if p := attrMap(attempt.Attributes())["gen_ai.provider.name"]; p != "x_ai" {
				t.Errorf("attempt provider = %q, want x_ai", p)
			}
			if n := len(histogram[int64](t, h, "gen_ai.client.token.usage")); n != 0 {
				t.Errorf("failed attempt recorded %d token usage points", n)
			}
			assertNoContent(t, h)
		})
	}
}

// shadowRecorder signals every shadow record.
type shadowRecorder struct {
	shadows chan Record
}

func (s *shadowRecorder) Record(_ context.Context, rec Record) error {
	if rec.Shadow {
		s.shadows <- rec
	}
	return nil
}

func TestTelemetryShadowAttempt(t *testing.T) {
	t.Parallel()
	h := newTelHarness(t)
	file := File{
		Routes: map[string]Route{"r": {
			Providers: []Candidate{{Provider: "a", Model: "ma"}},
			Shadow:    &Shadow{Provider: "b", Model: "mb", Share: 1},
		}},
		Providers: map[string]ProviderConfig{"a": {Type: TypeLocal}, "b": {Type: TypeLocal}},
	}
	rec := &shadowRecorder{shadows: make(chan Record, 1)}
	r := newTestRouter(t, file, map[string]provider.Provider{
		"a": echoProvider("a", h.clock, 0, provider.Usage{InputTokens: 1, OutputTokens: 2}),
		"b": echoProvider("b", h.clock, 0, provider.Usage{InputTokens: 1, OutputTokens: 2}),
	}, h.options(t, rec))
	if _, err := r.Do(tenantCtx("acme"), Call{UseCase: "r", Request: secretRequest()}); err != nil {
		t.Fatalf("Do: %v", err)
	}
	select {
	case <-rec.shadows:
	case <-time.After(10 * time.Second):
		t.Fatal("no shadow record")
	}

	var call, main, shadow sdktrace.ReadOnlySpan
	for _, s := range h.ended() {
		switch s.Name() {
		case "keel.route r":
			call = s
		case "chat ma":
			main = s
		case "chat mb":
			shadow = s
		}
	}
	if call == nil || main == nil || shadow == nil {
		t.Fatalf("spans: call %v, attempt %v, shadow %v", call != nil, main != nil, shadow != nil)
	}
	if got := attrMap(call.Attributes())["keel.attempts"]; got != "1" {
		t.Errorf("call keel.attempts = %s, want 1 (the shadow is not an attempt of the call)", got)
	}
	if _, ok := attrMap(main.Attributes())["keel.shadow"]; ok {
		t.Errorf("main attempt marked shadow")
	}
	sa := attrMap(shadow.Attributes())
	if sa["keel.shadow"] != "true" || sa["keel.attempt"] != "1" || sa["keel.route"] != "r" ||
		sa["gen_ai.provider.name"] != "keel.local" {
		t.Errorf("shadow attempt attributes = %v", sa)
	}
	if shadow.SpanContext().TraceID() != call.SpanContext().TraceID() {
		t.Errorf("shadow attempt is in another trace")
	}
	assertNoContent(t, h)
}

func TestGenAIProviderName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cfg  ProviderConfig
		want string
	}{
		{ProviderConfig{Type: TypeOpenAI, Flavor: "openai"}, "openai"},
		{ProviderConfig{Type: TypeOpenAI}, "openai"}, // compatible server
		{ProviderConfig{Type: TypeAnthropic}, "anthropic"},
		{ProviderConfig{Type: TypeGemini}, "gcp.gemini"},
		{ProviderConfig{Type: TypeXAI}, "x_ai"},
		{ProviderConfig{Type: TypeLocal}, "keel.local"},
		{ProviderConfig{Type: "future"}, "mine"},
	}
	for _, tt := range tests {
		if got := genAIProviderName("mine", tt.cfg); got != tt.want {
			t.Errorf("genAIProviderName(%+v) = %q, want %q", tt.cfg, got, tt.want)
		}
	}
}

func TestServerEndpoint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cfg      ProviderConfig
		host     string
		port     int
		wantSome bool
	}{
		{ProviderConfig{Type: TypeOpenAI, BaseURL: "http://user:pw@127.0.0.1:11434/v1"}, "127.0.0.1", 11434, true},
		{ProviderConfig{Type: TypeOpenAI, BaseURL: "https://api.openai.com/v1"}, "api.openai.com", 443, true},
		{ProviderConfig{Type: TypeAnthropic}, "api.anthropic.com", 443, true},
		{ProviderConfig{Type: TypeLocal}, "", 0, false},
	}
	for _, tt := range tests {
		host, port, ok := serverEndpoint(tt.cfg)
		if host != tt.host || port != tt.port || ok != tt.wantSome {
			t.Errorf("serverEndpoint(%+v) = %q, %d, %v", tt.cfg, host, port, ok)
		}
	}
}

func TestErrorType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("provider a: %w", &provider.Error{Class: provider.ErrRateLimited}), "rate_limited"},
		{&provider.Error{Class: provider.ErrTimedOut}, "timeout"},
		{&LimitError{}, "limited"},
		{&provider.Error{Class: ErrNoHealthyCandidate}, "no_healthy_candidate"},
		{context.Canceled, "canceled"},
		{context.DeadlineExceeded, "timeout"},
		{errors.New("something else"), "unknown"},
	}
	for _, tt := range tests {
		if got := errorType(tt.err); got != tt.want {
			t.Errorf("errorType(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

// TestTelemetryGlobalProviders checks that a router without providers in
// its Options uses the OpenTelemetry globals. It sets them, so it does not
// run in parallel.
func TestTelemetryGlobalProviders(t *testing.T) {
	h := newTelHarness(t)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(h.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(h.reader))
	otel.SetTracerProvider(tp)
	otel.SetMeterProvider(mp)
	t.Cleanup(func() {
		otel.SetTracerProvider(tracenoop.NewTracerProvider())
		otel.SetMeterProvider(metricnoop.NewMeterProvider())
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})

	r := newTestRouter(t, abcFile(Route{}), map[string]provider.Provider{
		"a": echoProvider("a", h.clock, 0, provider.Usage{InputTokens: 3, OutputTokens: 4}),
		"b": echoProvider("b", h.clock, 0, provider.Usage{}),
		"c": echoProvider("c", h.clock, 0, provider.Usage{}),
	}, h.clock.options(nil))
	if _, err := r.Do(tenantCtx("acme"), Call{UseCase: "r", Request: secretRequest()}); err != nil {
		t.Fatalf("Do: %v", err)
	}
	if n := len(h.spans.Ended()); n != 2 {
		t.Errorf("global tracer provider got %d spans, want 2", n)
	}
	if n := len(histogram[float64](t, h, "gen_ai.client.operation.duration")); n != 1 {
		t.Errorf("global meter provider got %d duration points, want 1", n)
	}
}

// BenchmarkDoTelemetry measures a call through the router with no-op
// providers, with the OpenTelemetry globals before any SDK is installed, and
// with the SDK recording every span (no exporter, as with
// KEEL_TELEMETRY_EXPORTER=none) and aggregating every metric.
func BenchmarkDoTelemetry(b *testing.B) {
	file := abcFile(Route{Params: Params{Temperature: ptr(0.2), MaxOutputTokens: 128}})
	providers := map[string]provider.Provider{
		"a": &funcProvider{name: "a", log: &callLog{}, fn: func(
			_ context.Context, req provider.Request, _ func(provider.Delta) error,
		) (provider.Response, error) {
			return provider.Response{Text: "ok", Model: req.Model, Usage: provider.Usage{InputTokens: 10, OutputTokens: 20},
				FinishReason: provider.FinishStop}, nil
		}},
		"b": &funcProvider{name: "b", log: &callLog{}},
		"c": &funcProvider{name: "c", log: &callLog{}},
	}
	req := provider.Request{Messages: []provider.Message{{Role: provider.RoleUser, Content: "hello"}}}
	ctx := tenantCtx("acme")

	run := func(b *testing.B, opts Options) {
		r, err := New(file, providers, opts)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if _, err := r.Do(ctx, Call{UseCase: "r", Request: req}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("noop", func(b *testing.B) {
		run(b, Options{TracerProvider: tracenoop.NewTracerProvider(), MeterProvider: metricnoop.NewMeterProvider()})
	})
	b.Run("global-unset", func(b *testing.B) {
		// nil providers: the OpenTelemetry globals, no SDK installed (as
		// in keel dev).
		run(b, Options{})
	})
	b.Run("sdk", func(b *testing.B) {
		tp := sdktrace.NewTracerProvider() // records spans, exports none
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		defer func() {
			_ = tp.Shutdown(context.Background())
			_ = mp.Shutdown(context.Background())
		}()
		run(b, Options{TracerProvider: tp, MeterProvider: mp})
	})
}
