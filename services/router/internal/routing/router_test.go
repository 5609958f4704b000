package routing

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keelhq/keel/pkg/tenant"
	"github.com/keelhq/keel/services/router/internal/provider"
	"github.com/keelhq/keel/services/router/internal/provider/local"
	"github.com/keelhq/keel/services/router/internal/provider/openai"
)

// scriptedProvider answers each call with the next step of its script.
type scriptedProvider struct {
	name  string
	steps []step
	log   *callLog

	mu    sync.Mutex
	calls int
}

// step is one scripted answer. block waits for the attempt's context to
// end; bare then returns the context's error unclassified.
type step struct {
	err    error
	deltas []string
	block  bool
	bare   bool
}

type callLog struct {
	mu     sync.Mutex
	names  []string
	models []string
}

func (l *callLog) add(name, model string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.names = append(l.names, name)
	l.models = append(l.models, model)
}

func (l *callLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.names...)
}

func (p *scriptedProvider) Name() string { return p.name }

func (p *scriptedProvider) Generate(ctx context.Context, req provider.Request) (provider.Response, error) {
	return p.Stream(ctx, req, func(provider.Delta) error { return nil })
}

func (p *scriptedProvider) Stream(
	ctx context.Context,
	req provider.Request,
	onDelta func(provider.Delta) error,
) (provider.Response, error) {
	p.log.add(p.name, req.Model)
	p.mu.Lock()
	s := step{}
	if p.calls < len(p.steps) {
		s = p.steps[p.calls]
	}
	p.calls++
	p.mu.Unlock()

	for _, d := range s.deltas {
		if err := onDelta(provider.Delta{Text: d}); err != nil {
			return provider.Response{}, err
		}
	}
	if s.block {
		<-ctx.Done()
		if s.bare {
			return provider.Response{}, ctx.Err()
		}
		return provider.Response{}, &provider.Error{Class: provider.ErrTimedOut, Err: ctx.Err()}
	}
	if s.err != nil {
		return provider.Response{}, s.err
	}
	return provider.Response{
		Text:         "reply from " + p.name,
		Model:        req.Model + "-resolved",
		Usage:        provider.Usage{InputTokens: 1000, OutputTokens: 2000},
		FinishReason: provider.FinishStop,
	}, nil
}

// The record of a failed call names the candidate that failed last: the
// provider was called and may have billed, whatever it answered.
func TestFailedCallRecordNamesProvider(t *testing.T) {
	t.Parallel()
	fail := []step{{err: classErr(provider.ErrServerFailed)}}
	rec := &recorderFunc{}
	r, _ := threeProviders(t, fail, fail, fail, Options{Recorder: rec})
	if _, err := r.Generate(context.Background(), "support_reply", provider.Request{}); err == nil {
		t.Fatal("want an error")
	}
	if last := rec.last(t); last.Provider != "c" || last.Model != "mc" || last.Err == nil || last.CostMicros != 0 {
		t.Errorf("record names %q %q (error %v, cost %d), want c mc, failed, free", last.Provider, last.Model, last.Err, last.CostMicros)
	}

	rec = &recorderFunc{}
	r, _ = threeProviders(t, []step{{err: classErr(provider.ErrRequestRejected)}}, nil, nil, Options{Recorder: rec})
	if _, err := r.Generate(context.Background(), "support_reply", provider.Request{}); !errors.Is(err, provider.ErrRequestRejected) {
		t.Fatalf("error = %v, want the refusal", err)
	}
	if last := rec.last(t); last.Provider != "a" || last.Model != "ma" {
		t.Errorf("record of a refused request names %q %q, want a ma", last.Provider, last.Model)
	}
}

// laggingContext has a deadline that has passed but does not say it is
// done yet, as a context is for a moment after its deadline while its timer
// is still to fire.
type laggingContext struct{ context.Context }

func (laggingContext) Deadline() (time.Time, bool) { return time.Now().Add(-time.Millisecond), true }

// A provider failing because the caller's deadline passed is not the
// provider's failure: however often it happens, its circuit stays closed
// for the next caller.
func TestCallerDeadlineLeavesCircuitClosed(t *testing.T) {
	t.Parallel()
	timeouts := make([]step, 20)
	for i := range timeouts {
		timeouts[i] = step{err: &provider.Error{Class: provider.ErrTimedOut, Err: errors.New("dial tcp: i/o timeout")}}
	}
	r, log := threeProviders(t, timeouts, nil, nil, Options{})
	lagging := laggingContext{context.Background()}
	for range 10 {
		if _, err := r.Generate(lagging, "support_reply", provider.Request{}); !errors.Is(err, provider.ErrTimedOut) {
			t.Fatalf("error = %v, want the timeout", err)
		}
	}
	if got := log.get(); len(got) != 10 || slices.Contains(got, "b") {
		t.Errorf("calls %v, want a alone, once per call: the caller's deadline ends the call", got)
	}
	// Ten timeouts would have opened a's circuit (five do): the next
	// caller still reaches a.
	if _, err := r.Generate(context.Background(), "support_reply", provider.Request{}); err != nil {
		t.Fatalf("error = %v, want b's answer after a's timeout", err)
	}
	if got := log.get(); len(got) < 11 || got[10] != "a" {
		t.Errorf("calls %v: a's circuit opened on the callers' deadlines", got)
	}
}

func classErr(class error) error {
	return &provider.Error{Class: class, StatusCode: 418}
}

// recorderFunc records into a slice.
type recorderFunc struct {
	mu      sync.Mutex
	records []Record
}

func (r *recorderFunc) Record(_ context.Context, rec Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec)
	return nil
}

// threeProviders returns a routes file with one route over a, b and c and a
// router over the scripted providers.
func threeProviders(t *testing.T, a, b, c []step, opts Options) (*Router, *callLog) {
	t.Helper()
	log := &callLog{}
	file := File{
		Routes: map[string]Route{"support_reply": {
			Providers: []Candidate{{Provider: "a", Model: "ma"}, {Provider: "b", Model: "mb"}, {Provider: "c", Model: "mc"}},
			Timeout:   time.Minute,
		}},
		Providers: map[string]ProviderConfig{
			"a": {Type: TypeLocal}, "b": {Type: TypeLocal, Price: Price{InputPerMillion: 1000, OutputPerMillion: 3000}},
			"c": {Type: TypeLocal},
		},
	}
	r, err := New(file, map[string]provider.Provider{
		"a": &scriptedProvider{name: "a", steps: a, log: log},
		"b": &scriptedProvider{name: "b", steps: b, log: log},
		"c": &scriptedProvider{name: "c", steps: c, log: log},
	}, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r, log
}

func TestFailover(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name         string
		a, b         []step
		wantCalls    []string
		wantProvider string
		wantErr      error
	}{
		{name: "first succeeds", wantCalls: []string{"a"}, wantProvider: "a"},
		{
			name:      "rate limited fails over",
			a:         []step{{err: classErr(provider.ErrRateLimited)}},
			wantCalls: []string{"a", "b"}, wantProvider: "b",
		},
		{
			name:      "server error fails over",
			a:         []step{{err: classErr(provider.ErrServerFailed)}},
			wantCalls: []string{"a", "b"}, wantProvider: "b",
		},
		{
			name:      "unreachable fails over",
			a:         []step{{err: classErr(provider.ErrUnreachable)}},
			wantCalls: []string{"a", "b"}, wantProvider: "b",
		},
		{
			name:      "rejected credentials fail over",
			a:         []step{{err: classErr(provider.ErrCredentialsRejected)}},
			wantCalls: []string{"a", "b"}, wantProvider: "b",
		},
		{
			name:      "two failures reach the third",
			a:         []step{{err: classErr(provider.ErrServerFailed)}},
			b:         []step{{err: classErr(provider.ErrTimedOut)}},
			wantCalls: []string{"a", "b", "c"}, wantProvider: "c",
		},
		{
			name:      "bad request stops",
			a:         []step{{err: classErr(provider.ErrRequestRejected)}},
			wantCalls: []string{"a"},
			wantErr:   provider.ErrRequestRejected,
		},
		{
			// The windows are unknown here, so the next one may be larger.
			name:      "context length moves on when windows are unknown",
			a:         []step{{err: classErr(provider.ErrContextTooLong)}},
			wantCalls: []string{"a", "b"}, wantProvider: "b",
		},
		{
			name:      "error after a bad request at the second stops there",
			a:         []step{{err: classErr(provider.ErrServerFailed)}},
			b:         []step{{err: classErr(provider.ErrRequestRejected)}},
			wantCalls: []string{"a", "b"},
			wantErr:   provider.ErrRequestRejected,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			rec := &recorderFunc{}
			r, log := threeProviders(t, tt.a, tt.b, nil, Options{Recorder: rec})
			ctx := tenant.With(context.Background(), "acme")

			res, err := r.Generate(ctx, "support_reply", provider.Request{})
			if diff := cmp.Diff(tt.wantCalls, log.get()); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error = %v, want %v", err, tt.wantErr)
				}
				if len(rec.records) != 1 || !errors.Is(rec.records[0].Err, tt.wantErr) {
					t.Errorf("records = %+v, want one failure", rec.records)
				}
				return
			}
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if res.Provider != tt.wantProvider || res.Route != "support_reply" ||
				res.Attempts != len(tt.wantCalls) || res.Model != "m"+tt.wantProvider+"-resolved" {
				t.Errorf("result = %+v", res)
			}
			if len(rec.records) != 1 {
				t.Fatalf("records = %+v, want one", rec.records)
			}
			got := rec.records[0]
			if got.Tenant != "acme" || got.Provider != tt.wantProvider || got.Err != nil ||
				got.Usage.OutputTokens != 2000 || got.UseCase != "support_reply" {
				t.Errorf("record = %+v", got)
			}
		})
	}
}

func TestFailoverAllFail(t *testing.T) {
	t.Parallel()

	r, log := threeProviders(t,
		[]step{{err: classErr(provider.ErrServerFailed)}},
		[]step{{err: classErr(provider.ErrServerFailed)}},
		[]step{{err: classErr(provider.ErrRateLimited)}},
		Options{})
	_, err := r.Generate(context.Background(), "support_reply", provider.Request{})
	if !errors.Is(err, provider.ErrRateLimited) {
		t.Errorf("error = %v, want the last provider's ErrRateLimited", err)
	}
	if !strings.Contains(err.Error(), "route support_reply") || !strings.Contains(err.Error(), "provider c") {
		t.Errorf("error %q does not name the route and provider", err)
	}
	if got := len(log.get()); got != 3 {
		t.Errorf("calls = %d, want 3", got)
	}
}

func TestCostFromPrice(t *testing.T) {
	t.Parallel()

	r, _ := threeProviders(t, []step{{err: classErr(provider.ErrServerFailed)}}, nil, nil, Options{})
	res, err := r.Generate(context.Background(), "support_reply", provider.Request{})
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	// 1000 input tokens at 1000 and 2000 output at 3000 per million.
	if res.CostMicros != 7 {
		t.Errorf("cost = %d, want 7", res.CostMicros)
	}
}

func TestAttemptTimeout(t *testing.T) {
	t.Parallel()

	for _, bare := range []bool{false, true} {
		log := &callLog{}
		file := File{Routes: map[string]Route{"r": {
			Providers: []Candidate{{Provider: "slow", Timeout: 20 * time.Millisecond}, {Provider: "fast"}},
		}}}
		r, err := New(file, map[string]provider.Provider{
			"slow": &scriptedProvider{name: "slow", steps: []step{{block: true, bare: bare}}, log: log},
			"fast": &scriptedProvider{name: "fast", log: log},
		}, Options{})
		if err != nil {
			t.Fatal(err)
		}

		res, err := r.Generate(context.Background(), "r", provider.Request{})
		if err != nil {
			t.Fatalf("bare=%v: Generate: %v", bare, err)
		}
		if res.Provider != "fast" {
			t.Errorf("bare=%v: provider = %q, want fast after the slow one timed out", bare, res.Provider)
		}
	}
}

func TestCallerCancelStopsFailover(t *testing.T) {
	t.Parallel()

	ctx, cancel := context.WithCancel(context.Background())
	log := &callLog{}
	cancelling := &cancelProvider{cancel: cancel}
	file := File{Routes: map[string]Route{"r": {Providers: []Candidate{{Provider: "x"}, {Provider: "y"}}}}}
	r, err := New(file, map[string]provider.Provider{
		"x": cancelling,
		"y": &scriptedProvider{name: "y", log: log},
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}

	_, err = r.Generate(ctx, "r", provider.Request{})
	if err == nil {
		t.Fatal("Generate succeeded after the caller cancelled")
	}
	if got := log.get(); len(got) != 0 {
		t.Errorf("second provider was called: %v", got)
	}
}

// cancelProvider cancels the caller's context and fails like a provider
// whose request was cut off.
type cancelProvider struct{ cancel context.CancelFunc }

func (p *cancelProvider) Name() string { return "x" }

func (p *cancelProvider) Generate(ctx context.Context, _ provider.Request) (provider.Response, error) {
	p.cancel()
	<-ctx.Done()
	return provider.Response{}, &provider.Error{Class: provider.ErrUnreachable, Err: ctx.Err()}
}

func (p *cancelProvider) Stream(ctx context.Context, req provider.Request, _ func(provider.Delta) error) (provider.Response, error) {
	return p.Generate(ctx, req)
}

func TestRouteSelection(t *testing.T) {
	t.Parallel()

	log := &callLog{}
	providers := map[string]provider.Provider{"p": &scriptedProvider{name: "p", log: log}}
	routes := map[string]Route{
		"support_reply": {Providers: []Candidate{{Provider: "p", Model: "support"}}},
		"fallback":      {Providers: []Candidate{{Provider: "p", Model: "general"}}},
	}

	strict, err := New(File{Routes: routes}, providers, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := strict.Generate(context.Background(), "sales_brief", provider.Request{}); !errors.Is(err, ErrRouteNotFound) {
		t.Errorf("unknown use case without default: %v, want ErrRouteNotFound", err)
	}

	lenient, err := New(File{Routes: routes, DefaultRoute: "fallback"}, providers, Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := lenient.Generate(context.Background(), "sales_brief", provider.Request{})
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if res.Route != "fallback" || res.Model != "general-resolved" {
		t.Errorf("result = %+v, want the fallback route", res)
	}
}

func TestNewUnknownProvider(t *testing.T) {
	t.Parallel()

	file := File{Routes: map[string]Route{"r": {Providers: []Candidate{{Provider: "ghost"}}}}}
	if _, err := New(file, nil, Options{}); !errors.Is(err, ErrNoProvider) {
		t.Errorf("error = %v, want ErrNoProvider", err)
	}
}

func TestStreamFailover(t *testing.T) {
	t.Parallel()

	t.Run("before the first delta", func(t *testing.T) {
		t.Parallel()

		r, log := threeProviders(t, []step{{err: classErr(provider.ErrServerFailed)}}, []step{{deltas: []string{"He", "llo"}}}, nil, Options{})
		var got []string
		res, err := r.Stream(context.Background(), "support_reply", provider.Request{}, func(d provider.Delta) error {
			got = append(got, d.Text)
			return nil
		})
		if err != nil {
			t.Fatalf("Stream: %v", err)
		}
		if res.Provider != "b" || strings.Join(got, "") != "Hello" {
			t.Errorf("provider %q, deltas %q", res.Provider, got)
		}
		if diff := cmp.Diff([]string{"a", "b"}, log.get()); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
	})

	t.Run("after a delta", func(t *testing.T) {
		t.Parallel()

		rec := &recorderFunc{}
		r, log := threeProviders(t, []step{{deltas: []string{"Hel", "lo th", "ere"}, err: classErr(provider.ErrServerFailed)}},
			nil, nil, Options{Recorder: rec})
		var got []string
		req := provider.Request{Messages: []provider.Message{{Role: provider.RoleUser, Content: "one two three"}}}
		_, err := r.Stream(context.Background(), "support_reply", req, func(d provider.Delta) error {
			got = append(got, d.Text)
			return nil
		})
		if !errors.Is(err, provider.ErrServerFailed) {
			t.Fatalf("error = %v, want ErrServerFailed", err)
		}
		if diff := cmp.Diff([]string{"a"}, log.get()); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"Hel", "lo th", "ere"}, got); diff != "" {
			t.Errorf("deltas (-want +got):\n%s", diff)
		}
		// The provider reported no usage before it broke: the call is
		// recorded with an estimate of what was sent ("Hello there", a
		// word split between deltas counted once).
		last := rec.last(t)
		want := provider.Usage{InputTokens: 4, OutputTokens: 2, Estimated: true}
		if last.Usage != want || last.Provider != "a" || last.Err == nil {
			t.Errorf("record: usage %+v provider %q error %v; want usage %+v from a, failed", last.Usage, last.Provider, last.Err, want)
		}
	})
}

func TestRetryAfterCooldown(t *testing.T) {
	t.Parallel()

	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	limited := &provider.Error{Class: provider.ErrRateLimited, StatusCode: 429, RetryAfter: 30 * time.Second}
	r, log := threeProviders(t, []step{{err: limited}}, nil, nil, Options{Now: clock})

	for range 2 {
		if _, err := r.Generate(context.Background(), "support_reply", provider.Request{}); err != nil {
			t.Fatalf("Generate: %v", err)
		}
	}
	// The first call fails over from a; the second skips a while it cools.
	if diff := cmp.Diff([]string{"a", "b", "b"}, log.get()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}

	now = now.Add(31 * time.Second)
	if _, err := r.Generate(context.Background(), "support_reply", provider.Request{}); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if got := log.get(); got[len(got)-1] != "a" {
		t.Errorf("calls = %v, want a again once its wait is over", got)
	}
}

// TestFailoverOverHTTP runs a route whose first provider is an
// OpenAI-compatible server answering 500 and whose second is local.
func TestFailoverOverHTTP(t *testing.T) {
	t.Parallel()

	var hits int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"error":{"message":"boom","type":"server_error","param":null,"code":null}}`))
	}))
	t.Cleanup(srv.Close)

	file, err := ParseFile([]byte(`
routes:
  support_reply:
    providers:
      - {provider: hosted, model: gpt-4o-mini}
      - {provider: local, model: keel-local-1}
providers:
  hosted: {type: openai, base_url: "` + srv.URL + `/v1"}
`))
	if err != nil {
		t.Fatalf("ParseFile: %v", err)
	}
	providers, err := file.BuildProviders(func(string) string { return "" }, os.ReadFile, srv.Client())
	if err != nil {
		t.Fatalf("BuildProviders: %v", err)
	}
	if _, ok := providers["hosted"].(*openai.Provider); !ok {
		t.Fatalf("hosted = %T, want *openai.Provider", providers["hosted"])
	}
	r, err := New(file, providers, Options{})
	if err != nil {
		t.Fatal(err)
	}

	req := provider.Request{
		Messages: []provider.Message{{Role: provider.RoleUser, Content: "How fast is express shipping?"}},
		Passages: []provider.Passage{{ChunkID: "c1", Text: "Express shipping arrives the next business day."}},
	}
	res, err := r.Generate(context.Background(), "support_reply", req)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if res.Provider != "local" || res.Model != local.DefaultModel || res.Attempts != 2 {
		t.Errorf("result = %+v, want local on the second attempt", res)
	}
	if diff := cmp.Diff([]string{"c1"}, res.Response.Citations); diff != "" {
		t.Errorf("citations (-want +got):\n%s", diff)
	}
	mu.Lock()
	defer mu.Unlock()
	if hits != 1 {
		t.Errorf("hosted provider hit %d times, want 1", hits)
	}
}

// A streamed call says who answers once, before the first piece, and only
// for the candidate that does: one that failed before sending anything is
// never named.
func TestStreamStartNamesWhoAnswers(t *testing.T) {
	t.Parallel()
	r, _ := threeProviders(t, []step{{err: classErr(provider.ErrServerFailed)}}, []step{{deltas: []string{"Hel", "lo"}}}, nil, Options{})
	var events []string
	_, err := r.Do(context.Background(), Call{
		UseCase: "support_reply",
		Emit:    func(d provider.Delta) error { events = append(events, "piece "+d.Text); return nil },
		Started: func(s StreamStart) error {
			events = append(events, fmt.Sprintf("start %s %s %v", s.Provider, s.Model, s.Cached))
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"start b mb false", "piece Hel", "piece lo"}; !slices.Equal(events, want) {
		t.Errorf("events %q, want %q", events, want)
	}

	// A provider that names its model in the stream is taken at its word.
	named := newTestRouter(t, File{
		Routes:    map[string]Route{"r": {Providers: []Candidate{{Provider: "n", Model: "gpt-x"}}}},
		Providers: map[string]ProviderConfig{"n": {Type: TypeLocal}},
	}, map[string]provider.Provider{"n": namingProvider{}}, Options{})
	var start StreamStart
	if _, err := named.Do(context.Background(), Call{UseCase: "r",
		Emit:    func(provider.Delta) error { return nil },
		Started: func(s StreamStart) error { start = s; return nil },
	}); err != nil || start.Model != "gpt-x-2026-01-01" {
		t.Errorf("start %+v, %v; want the model the provider named", start, err)
	}
}

// namingProvider streams one piece naming its model version.
type namingProvider struct{}

func (namingProvider) Name() string { return "n" }
func (namingProvider) Generate(context.Context, provider.Request) (provider.Response, error) {
	return provider.Response{Text: "hi", Model: "gpt-x-2026-01-01", FinishReason: provider.FinishStop}, nil
}
func (namingProvider) Stream(_ context.Context, _ provider.Request, emit func(provider.Delta) error) (provider.Response, error) {
	if err := emit(provider.Delta{Text: "hi", Model: "gpt-x-2026-01-01"}); err != nil {
		return provider.Response{}, err
	}
	return provider.Response{Text: "hi", Model: "gpt-x-2026-01-01", FinishReason: provider.FinishStop}, nil
}
