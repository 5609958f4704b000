package routing

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keelhq/keel/services/router/internal/provider"
	"github.com/keelhq/keel/services/router/internal/provider/openai"
)

// abcFile is one route, "r", over candidates a, b and c (models ma, mb, mc)
// after route has been applied to it.
func abcFile(route Route) File {
	route.Providers = []Candidate{{Provider: "a", Model: "ma"}, {Provider: "b", Model: "mb"}, {Provider: "c", Model: "mc"}}
	return File{
		Routes:    map[string]Route{"r": route},
		Providers: map[string]ProviderConfig{"a": {Type: TypeLocal}, "b": {Type: TypeLocal}, "c": {Type: TypeLocal}},
	}
}

func TestRetries(t *testing.T) {
	t.Parallel()

	server := classErr(provider.ErrServerFailed)
	tests := []struct {
		name      string
		a         []step
		wantCalls []string
		// wantSleeps are the exact waits; nil with jitter set checks the
		// jittered waits' bounds instead.
		wantSleeps []time.Duration
		jitter     int
		wantErr    error
	}{
		{
			name:      "retryable errors retry the same candidate with jittered backoff",
			a:         []step{{err: server}, {err: classErr(provider.ErrOverloaded)}},
			wantCalls: []string{"a", "a", "a"},
			jitter:    2,
		},
		{
			name:      "retries exhausted move to the next candidate",
			a:         []step{{err: server}, {err: server}, {err: server}},
			wantCalls: []string{"a", "a", "a", "b"},
			jitter:    2,
		},
		{
			name:       "Retry-After is the wait",
			a:          []step{{err: retryAfterErr(provider.ErrRateLimited, 3*time.Second)}},
			wantCalls:  []string{"a", "a"},
			wantSleeps: []time.Duration{3 * time.Second},
		},
		{
			name:      "Retry-After longer than 10s moves on without waiting",
			a:         []step{{err: retryAfterErr(provider.ErrRateLimited, 11*time.Second)}},
			wantCalls: []string{"a", "b"},
		},
		{
			name:      "rejected request stops at once",
			a:         []step{{err: classErr(provider.ErrRequestRejected)}},
			wantCalls: []string{"a"},
			wantErr:   provider.ErrRequestRejected,
		},
		{
			name:      "refused content stops at once",
			a:         []step{{err: classErr(provider.ErrContentRefused)}},
			wantCalls: []string{"a"},
			wantErr:   provider.ErrContentRefused,
		},
		{
			name:      "exhausted quota fails over without retry",
			a:         []step{{err: classErr(provider.ErrQuotaExceeded)}},
			wantCalls: []string{"a", "b"},
		},
		{
			name:      "rejected credentials fail over without retry",
			a:         []step{{err: classErr(provider.ErrCredentialsRejected)}},
			wantCalls: []string{"a", "b"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			clock := newFakeClock()
			log := &callLog{}
			r := newTestRouter(t, abcFile(Route{Retries: 2}),
				scripted(log, map[string][]step{"a": tt.a}, "a", "b", "c"), clock.options(nil))

			res, err := r.Generate(tenantCtx("acme"), "r", provider.Request{})
			if diff := cmp.Diff(tt.wantCalls, log.get()); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			sleeps := clock.Sleeps()
			if tt.jitter > 0 {
				if len(sleeps) != tt.jitter {
					t.Fatalf("sleeps = %v, want %d", sleeps, tt.jitter)
				}
				for i, d := range sleeps {
					if ceiling := retryBase << i; d < 0 || d > ceiling {
						t.Errorf("sleep %d = %v, want within [0, %v]", i, d, ceiling)
					}
				}
			} else if diff := cmp.Diff(tt.wantSleeps, sleeps); diff != "" {
				t.Errorf("sleeps (-want +got):\n%s", diff)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if want := tt.wantCalls[len(tt.wantCalls)-1]; res.Provider != want || res.Attempts != len(tt.wantCalls) {
				t.Errorf("result = %s after %d attempts, want %s after %d", res.Provider, res.Attempts, want, len(tt.wantCalls))
			}
		})
	}
}

// TestRetryStopsWhenSleepFails checks that a wait cut short ends the call
// with the provider's error and tries nobody else.
func TestRetryStopsWhenSleepFails(t *testing.T) {
	t.Parallel()

	log := &callLog{}
	cut := errors.New("sleep cut short")
	r := newTestRouter(t, abcFile(Route{Retries: 2}),
		scripted(log, map[string][]step{"a": {{err: classErr(provider.ErrServerFailed)}}}, "a", "b", "c"),
		Options{Sleep: func(context.Context, time.Duration) error { return cut }})
	_, err := r.Generate(tenantCtx("acme"), "r", provider.Request{})
	if !errors.Is(err, provider.ErrServerFailed) {
		t.Errorf("error = %v, want the provider's ErrServerFailed", err)
	}
	if diff := cmp.Diff([]string{"a"}, log.get()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestContextWindowFailover(t *testing.T) {
	t.Parallel()

	tooLong := classErr(provider.ErrContextTooLong)
	file := func(windows ...int) File {
		f := abcFile(Route{})
		route := f.Routes["r"]
		for i := range route.Providers {
			route.Providers[i].ContextWindow = windows[i]
		}
		f.Routes["r"] = route
		return f
	}

	t.Run("skips candidates no larger", func(t *testing.T) {
		t.Parallel()
		log := &callLog{}
		r := newTestRouter(t, file(8000, 8000, 128000),
			scripted(log, map[string][]step{"a": {{err: tooLong}}}, "a", "b", "c"), Options{})
		res, err := r.Generate(tenantCtx("acme"), "r", provider.Request{})
		if err != nil {
			t.Fatalf("Generate: %v", err)
		}
		if res.Provider != "c" {
			t.Errorf("provider = %q, want c", res.Provider)
		}
		if diff := cmp.Diff([]string{"a", "c"}, log.get()); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
	})

	t.Run("none larger", func(t *testing.T) {
		t.Parallel()
		log := &callLog{}
		r := newTestRouter(t, file(8000, 8000, 4000),
			scripted(log, map[string][]step{"a": {{err: tooLong}}}, "a", "b", "c"), Options{})
		_, err := r.Generate(tenantCtx("acme"), "r", provider.Request{})
		if !errors.Is(err, provider.ErrContextTooLong) {
			t.Fatalf("error = %v, want ErrContextTooLong", err)
		}
		if diff := cmp.Diff([]string{"a"}, log.get()); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
	})

	t.Run("the larger one too long as well", func(t *testing.T) {
		t.Parallel()
		log := &callLog{}
		r := newTestRouter(t, file(8000, 8000, 128000),
			scripted(log, map[string][]step{"a": {{err: tooLong}}, "c": {{err: tooLong}}}, "a", "b", "c"), Options{})
		_, err := r.Generate(tenantCtx("acme"), "r", provider.Request{})
		if !errors.Is(err, provider.ErrContextTooLong) {
			t.Fatalf("error = %v, want ErrContextTooLong", err)
		}
		if diff := cmp.Diff([]string{"a", "c"}, log.get()); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
	})
}

func TestFallbackReply(t *testing.T) {
	t.Parallel()

	const reply = "We are busy; a person will answer shortly."
	server := classErr(provider.ErrServerFailed)

	t.Run("every candidate failed", func(t *testing.T) {
		t.Parallel()
		rec := &recorderFunc{}
		log := &callLog{}
		r := newTestRouter(t, abcFile(Route{Fallback: Fallback{Reply: reply}}),
			scripted(log, map[string][]step{
				"a": {{err: server}}, "b": {{err: classErr(provider.ErrTimedOut)}}, "c": {{err: server}},
			}, "a", "b", "c"), Options{Recorder: rec})

		res, err := r.Generate(tenantCtx("acme"), "r", provider.Request{})
		if err != nil {
			t.Fatalf("Generate: %v", err)
		}
		if !res.Degraded || res.Response.Text != reply || res.Provider != "fallback" || res.Route != "r" {
			t.Errorf("result = %+v, want the degraded fallback", res)
		}
		if res.DegradedReason != "server" {
			t.Errorf("degraded reason = %q, want the last error's class", res.DegradedReason)
		}
		if res.Attempts != 3 {
			t.Errorf("attempts = %d, want the 3 provider calls made", res.Attempts)
		}
		got := rec.last(t)
		if !got.Degraded || got.Err != nil || got.Provider != "fallback" || got.Tenant != "acme" || got.Attempts != 3 {
			t.Errorf("record = %+v, want a degraded success after 3 attempts", got)
		}
	})

	for _, class := range []error{provider.ErrRequestRejected, provider.ErrContentRefused} {
		t.Run("not for "+provider.ClassName(class), func(t *testing.T) {
			t.Parallel()
			rec := &recorderFunc{}
			r := newTestRouter(t, abcFile(Route{Fallback: Fallback{Reply: reply}}),
				scripted(&callLog{}, map[string][]step{"a": {{err: classErr(class)}}}, "a", "b", "c"),
				Options{Recorder: rec})
			res, err := r.Generate(tenantCtx("acme"), "r", provider.Request{})
			if !errors.Is(err, class) || res.Degraded {
				t.Errorf("result %+v, error %v; want %v and no fallback", res, err, class)
			}
			if got := rec.last(t); got.Degraded || !errors.Is(got.Err, class) {
				t.Errorf("record = %+v, want the failure", got)
			}
		})
	}

	t.Run("not once part of a stream was sent", func(t *testing.T) {
		t.Parallel()
		r := newTestRouter(t, abcFile(Route{Fallback: Fallback{Reply: reply}}),
			scripted(&callLog{}, map[string][]step{"a": {{deltas: []string{"Hel"}, err: server}}}, "a", "b", "c"),
			Options{})
		var got strings.Builder
		res, err := r.Stream(tenantCtx("acme"), "r", provider.Request{}, func(d provider.Delta) error {
			got.WriteString(d.Text)
			return nil
		})
		if !errors.Is(err, provider.ErrServerFailed) || res.Degraded {
			t.Errorf("result %+v, error %v; want ErrServerFailed and no fallback", res, err)
		}
		if got.String() != "Hel" {
			t.Errorf("streamed %q, want only the first provider's delta", got.String())
		}
	})
}

func TestFirstTokenTimeout(t *testing.T) {
	t.Parallel()

	for _, bare := range []bool{false, true} {
		t.Run(map[bool]string{false: "classified", true: "bare context error"}[bare], func(t *testing.T) {
			t.Parallel()
			log := &callLog{}
			// The attempt timeout is long: only the first-token timeout can
			// end the silent attempt.
			r := newTestRouter(t, abcFile(Route{FirstTokenTimeout: 50 * time.Millisecond, Timeout: time.Minute}),
				scripted(log, map[string][]step{
					"a": {{block: true, bare: bare}},
					"b": {{deltas: []string{"Hel", "lo"}}},
				}, "a", "b", "c"), Options{})
			var got []string
			res, err := r.Stream(tenantCtx("acme"), "r", provider.Request{}, func(d provider.Delta) error {
				got = append(got, d.Text)
				return nil
			})
			if err != nil {
				t.Fatalf("Stream: %v", err)
			}
			if res.Provider != "b" || res.Attempts != 2 {
				t.Errorf("result = %+v, want b on the second attempt", res)
			}
			if diff := cmp.Diff([]string{"Hel", "lo"}, got); diff != "" {
				t.Errorf("deltas (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"a", "b"}, log.get()); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("the attempt's error names a timeout", func(t *testing.T) {
		t.Parallel()
		r := newTestRouter(t, File{Routes: map[string]Route{"r": {
			Providers:         []Candidate{{Provider: "a"}},
			FirstTokenTimeout: 50 * time.Millisecond, Timeout: time.Minute,
		}}}, scripted(&callLog{}, map[string][]step{"a": {{block: true, bare: true}}}, "a"), Options{})
		_, err := r.Stream(tenantCtx("acme"), "r", provider.Request{}, func(provider.Delta) error { return nil })
		if !errors.Is(err, provider.ErrTimedOut) || !strings.Contains(err.Error(), errFirstToken.Error()) {
			t.Errorf("error = %v, want ErrTimedOut for the first token", err)
		}
	})

	t.Run("stopped by the first delta", func(t *testing.T) {
		t.Parallel()
		log := &callLog{}
		const first = 20 * time.Millisecond
		// After its first delta the provider stays quiet for several
		// first-token timeouts; that must not end the attempt.
		slow := &funcProvider{name: "a", log: log, fn: func(ctx context.Context, req provider.Request, emit func(provider.Delta) error) (provider.Response, error) {
			if err := emit(provider.Delta{Text: "Hel"}); err != nil {
				return provider.Response{}, err
			}
			select {
			case <-ctx.Done():
				return provider.Response{}, &provider.Error{Class: provider.ErrTimedOut, Err: context.Cause(ctx)}
			case <-time.After(5 * first):
			}
			if err := emit(provider.Delta{Text: "lo"}); err != nil {
				return provider.Response{}, err
			}
			return okResponse("a", req), nil
		}}
		r := newTestRouter(t, File{Routes: map[string]Route{"r": {
			Providers:         []Candidate{{Provider: "a"}, {Provider: "b"}},
			FirstTokenTimeout: first, Timeout: time.Minute,
		}}}, map[string]provider.Provider{"a": slow, "b": &funcProvider{name: "b", log: log}}, Options{})
		var got strings.Builder
		res, err := r.Stream(tenantCtx("acme"), "r", provider.Request{}, func(d provider.Delta) error {
			got.WriteString(d.Text)
			return nil
		})
		if err != nil {
			t.Fatalf("Stream: %v", err)
		}
		if res.Provider != "a" || got.String() != "Hello" {
			t.Errorf("provider %q streamed %q, want a's whole reply", res.Provider, got.String())
		}
	})

	t.Run("an error after a delta is returned as it is", func(t *testing.T) {
		t.Parallel()
		log := &callLog{}
		r := newTestRouter(t, abcFile(Route{FirstTokenTimeout: 50 * time.Millisecond, Timeout: time.Minute}),
			scripted(log, map[string][]step{"a": {{deltas: []string{"Hel"}, err: classErr(provider.ErrOverloaded)}}}, "a", "b", "c"),
			Options{})
		var got []string
		_, err := r.Stream(tenantCtx("acme"), "r", provider.Request{}, func(d provider.Delta) error {
			got = append(got, d.Text)
			return nil
		})
		if !errors.Is(err, provider.ErrOverloaded) {
			t.Fatalf("error = %v, want ErrOverloaded", err)
		}
		if diff := cmp.Diff([]string{"a"}, log.get()); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"Hel"}, got); diff != "" {
			t.Errorf("deltas (-want +got):\n%s", diff)
		}
	})
}

func TestTotalTimeout(t *testing.T) {
	t.Parallel()

	for _, bare := range []bool{false, true} {
		t.Run(map[bool]string{false: "classified", true: "bare context error"}[bare], func(t *testing.T) {
			t.Parallel()
			rec := &recorderFunc{}
			log := &callLog{}
			// Each attempt may take a minute, the whole call 100ms: the
			// first silent candidate uses it all and nobody else is asked.
			r := newTestRouter(t, abcFile(Route{TotalTimeout: 100 * time.Millisecond, Timeout: time.Minute}),
				scripted(log, map[string][]step{
					"a": {{block: true, bare: bare}}, "b": {{block: true, bare: bare}},
				}, "a", "b", "c"), Options{Recorder: rec})

			_, err := r.Generate(tenantCtx("acme"), "r", provider.Request{})
			if !errors.Is(err, errTotal) {
				t.Fatalf("error = %v, want the call deadline", err)
			}
			if !errors.Is(err, provider.ErrTimedOut) {
				t.Errorf("error = %v, want it classed as a timeout", err)
			}
			if diff := cmp.Diff([]string{"a"}, log.get()); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			if got := rec.last(t); ErrorClass(got.Err) != "timeout" {
				t.Errorf("record error class = %q (%v), want timeout", ErrorClass(got.Err), got.Err)
			}
		})
	}

	t.Run("answered by the fallback", func(t *testing.T) {
		t.Parallel()
		r := newTestRouter(t, abcFile(Route{
			TotalTimeout: 100 * time.Millisecond, Timeout: time.Minute, Fallback: Fallback{Reply: "later"},
		}), scripted(&callLog{}, map[string][]step{"a": {{block: true, bare: true}}}, "a", "b", "c"), Options{})
		res, err := r.Generate(tenantCtx("acme"), "r", provider.Request{})
		if err != nil {
			t.Fatalf("Generate: %v", err)
		}
		if !res.Degraded || res.DegradedReason != "timeout" {
			t.Errorf("result = %+v, want the fallback for a timeout", res)
		}
	})
}

// TestRouterConcurrencyGate runs batch and interactive calls through a
// route with capacity 3, one slot kept for interactive calls.
func TestRouterConcurrencyGate(t *testing.T) {
	t.Parallel()

	log := &callLog{}
	entered := make(chan struct{}, 8)
	release := make(chan struct{})
	p := &funcProvider{name: "a", log: log, fn: func(ctx context.Context, req provider.Request, _ func(provider.Delta) error) (provider.Response, error) {
		if m, _ := req.LastUserMessage(); m.Content == "batch" {
			entered <- struct{}{}
			select {
			case <-release:
			case <-ctx.Done():
				return provider.Response{}, ctx.Err()
			}
		}
		return okResponse("a", req), nil
	}}
	r := newTestRouter(t, File{Routes: map[string]Route{"r": {
		Providers: []Candidate{{Provider: "a"}}, Concurrency: 3, InteractiveReserve: 1,
	}}}, map[string]provider.Provider{"a": p}, Options{})

	batchReq := provider.Request{Messages: []provider.Message{{Role: provider.RoleUser, Content: "batch"}}}
	ctx, cancel := context.WithTimeout(tenantCtx("acme"), 30*time.Second)
	defer cancel()
	done := make(chan error, 3)
	for range 3 {
		go func() {
			_, err := r.Do(ctx, Call{UseCase: "r", Request: batchReq, Priority: Batch})
			done <- err
		}()
	}
	<-entered
	<-entered

	// Two batch calls hold their share; the interactive call still runs.
	if _, err := r.Do(ctx, Call{UseCase: "r", Priority: Interactive}); err != nil {
		t.Fatalf("interactive call: %v", err)
	}
	select {
	case <-entered:
		t.Fatal("a third batch call got in while two were running")
	case err := <-done:
		t.Fatalf("a batch call ended early: %v", err)
	default:
	}

	// A batch call given up while waiting reports the context's error.
	waitCtx, stop := context.WithCancel(ctx)
	stop()
	if _, err := r.Do(waitCtx, Call{UseCase: "r", Request: batchReq, Priority: Batch}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled batch call: %v, want context.Canceled", err)
	}

	close(release)
	for range 3 {
		if err := <-done; err != nil {
			t.Errorf("batch call: %v", err)
		}
	}
	g := r.routeGs["r"]
	if len(g.all) != 0 || len(g.batch) != 0 {
		t.Errorf("slots still held after every call ended: all %d, batch %d", len(g.all), len(g.batch))
	}
	if got := len(log.get()); got != 4 {
		t.Errorf("provider calls = %d, want 4 (three batch, one interactive)", got)
	}
}

type retainingProvider struct {
	provider.Provider
	text string
}

func (p retainingProvider) Retention() string { return p.text }

// The routes list shows each candidate's retention: the provider's own
// setting, or, where the routes file chose the provider's default, that
// Keel sends none.
func TestRouteInfosRetention(t *testing.T) {
	t.Parallel()
	file := File{
		Routes: map[string]Route{"r": {Providers: []Candidate{{Provider: "a", Model: "m"}, {Provider: "b", Model: "m"}}}},
		Providers: map[string]ProviderConfig{
			"a": {Type: TypeLocal},
			"b": {Type: TypeLocal, Retention: "provider_default"},
		},
	}
	base := scripted(&callLog{}, nil, "a", "b")
	providers := map[string]provider.Provider{
		"a": retainingProvider{base["a"], "store=false on every request"},
		"b": retainingProvider{base["b"], "store=false on every request"},
	}
	r := newTestRouter(t, file, providers, Options{})
	infos := r.RouteInfos()
	if len(infos) != 1 || len(infos[0].Candidates) != 2 {
		t.Fatalf("route infos %+v", infos)
	}
	if got := infos[0].Candidates[0].Retention; got != "store=false on every request" {
		t.Errorf("a: %q", got)
	}
	if got := infos[0].Candidates[1].Retention; strings.Contains(got, "store=false") || !strings.Contains(got, "sends no retention setting") {
		t.Errorf("b, provider_default: %q", got)
	}
}

// A route's prompt_cache asks every call to cache its prompt, whether or
// not the caller asked; a caller's own wish goes through on other routes.
func TestRoutePromptCache(t *testing.T) {
	t.Parallel()
	var (
		mu   sync.Mutex
		seen []bool
	)
	capture := &funcProvider{name: "a", log: &callLog{}, fn: func(
		_ context.Context, req provider.Request, _ func(provider.Delta) error,
	) (provider.Response, error) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, req.PromptCache)
		return provider.Response{Text: "ok", FinishReason: provider.FinishStop}, nil
	}}
	providers := map[string]provider.Provider{"a": capture, "b": &funcProvider{name: "b", log: &callLog{}}, "c": &funcProvider{name: "c", log: &callLog{}}}
	for _, tt := range []struct {
		route, caller, want bool
	}{{true, false, true}, {false, false, false}, {false, true, true}} {
		r, err := New(abcFile(Route{Params: Params{PromptCache: tt.route}}), providers, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Do(tenantCtx("acme"), Call{UseCase: "r", Request: provider.Request{PromptCache: tt.caller}}); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		got := seen[len(seen)-1]
		mu.Unlock()
		if got != tt.want {
			t.Errorf("route prompt_cache %v, caller %v: provider asked %v, want %v", tt.route, tt.caller, got, tt.want)
		}
	}
}

// A provider holding a tool call back until it is whole says the reply has
// begun with an empty piece: the first-token timeout no longer applies.
func TestFirstTokenTimeoutStoppedByHeldToolCall(t *testing.T) {
	t.Parallel()
	const first = 20 * time.Millisecond
	slow := &funcProvider{name: "a", log: &callLog{}, fn: func(ctx context.Context, _ provider.Request, emit func(provider.Delta) error) (provider.Response, error) {
		if err := emit(provider.Delta{}); err != nil {
			return provider.Response{}, err
		}
		select {
		case <-ctx.Done():
			return provider.Response{}, &provider.Error{Class: provider.ErrTimedOut, Err: context.Cause(ctx)}
		case <-time.After(5 * first):
		}
		call := provider.ToolCall{ID: "c1", Name: "lookup", Arguments: "{}"}
		if err := emit(provider.Delta{ToolCall: &call}); err != nil {
			return provider.Response{}, err
		}
		return provider.Response{ToolCalls: []provider.ToolCall{call}, FinishReason: provider.FinishToolCalls}, nil
	}}
	r := newTestRouter(t, File{Routes: map[string]Route{"r": {
		Providers: []Candidate{{Provider: "a"}}, FirstTokenTimeout: first, Timeout: time.Minute,
	}}}, map[string]provider.Provider{"a": slow}, Options{})
	var got []provider.Delta
	res, err := r.Stream(tenantCtx("acme"), "r", provider.Request{}, func(d provider.Delta) error {
		got = append(got, d)
		return nil
	})
	if err != nil || len(res.Response.ToolCalls) != 1 {
		t.Fatalf("Stream: %+v, %v; want the tool call", res, err)
	}
	if len(got) != 1 || got[0].ToolCall == nil {
		t.Errorf("caller got %+v, want the tool call alone (the sign of its start is the router's)", got)
	}
}

// The idle timeout watches the provider, not the caller: while a slow
// caller takes a piece, the provider's quiet does not count.
func TestIdleTimeoutPausedForSlowCaller(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		// Pieces 10 ms apart: the provider is never silent for the 100 ms.
		for _, piece := range []string{
			`data: {"choices":[{"index":0,"delta":{"content":"Hel"}}]}`,
			`data: {"choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}`,
			"data: [DONE]",
		} {
			_, _ = io.WriteString(w, piece+"\n\n")
			w.(http.Flusher).Flush()
			time.Sleep(10 * time.Millisecond)
		}
	}))
	t.Cleanup(srv.Close)
	r := newTestRouter(t, File{
		Routes:    map[string]Route{"r": {Providers: []Candidate{{Provider: "p", Model: "m"}}, IdleTimeout: 100 * time.Millisecond}},
		Providers: map[string]ProviderConfig{"p": {Type: TypeLocal}},
	}, map[string]provider.Provider{"p": openai.New(openai.Config{Name: "p", BaseURL: srv.URL + "/v1", HTTPClient: NewHTTPClient()})}, Options{})
	var text strings.Builder
	_, err := r.Stream(tenantCtx("acme"), "r", provider.Request{}, func(d provider.Delta) error {
		time.Sleep(200 * time.Millisecond) // a caller slow to take each piece
		text.WriteString(d.Text)
		return nil
	})
	if err != nil || text.String() != "Hello" {
		t.Errorf("Stream: %q, %v; want Hello, the slow caller's wait not counted as the provider's silence", text.String(), err)
	}
}

// A stream may outlive its attempt's timeout once it has begun: a long,
// healthy reply is bounded by the idle and total timeouts, not cut.
func TestStreamOutlivesAttemptTimeout(t *testing.T) {
	t.Parallel()
	const attempt = 50 * time.Millisecond
	long := &funcProvider{name: "a", log: &callLog{}, fn: func(ctx context.Context, _ provider.Request, emit func(provider.Delta) error) (provider.Response, error) {
		for range 10 { // 200 ms of pieces, four attempt timeouts
			if err := emit(provider.Delta{Text: "x"}); err != nil {
				return provider.Response{}, err
			}
			select {
			case <-ctx.Done():
				return provider.Response{}, &provider.Error{Class: provider.ErrTimedOut, Err: context.Cause(ctx)}
			case <-time.After(20 * time.Millisecond):
			}
		}
		return provider.Response{Text: "xxxxxxxxxx", FinishReason: provider.FinishStop}, nil
	}}
	r := newTestRouter(t, File{Routes: map[string]Route{"r": {
		Providers: []Candidate{{Provider: "a"}}, Timeout: attempt, IdleTimeout: time.Second,
	}}}, map[string]provider.Provider{"a": long}, Options{})
	res, err := r.Stream(tenantCtx("acme"), "r", provider.Request{}, func(provider.Delta) error { return nil })
	if err != nil || res.Response.Text != "xxxxxxxxxx" {
		t.Errorf("Stream: %q, %v; want the whole reply", res.Response.Text, err)
	}
	// Not streamed, the same reply is cut at the attempt's timeout.
	_, err = r.Generate(tenantCtx("acme"), "r", provider.Request{})
	if !errors.Is(err, provider.ErrTimedOut) {
		t.Errorf("Generate: %v, want the attempt's timeout", err)
	}
}
