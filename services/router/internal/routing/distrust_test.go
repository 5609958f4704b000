package routing

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/keelhq/keel/services/router/internal/provider"
)

// A provider's report of its own usage and model is not trusted: negative
// token counts are replaced by an estimate, absurd ones are bounded, so
// that neither hands budget back nor overflows a cost,
// and a model name that could not be recorded is replaced by the
// configured one.
func TestProviderReportsAreBounded(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name      string
		usage     provider.Usage
		model     string
		wantUsage provider.Usage
		wantModel string
	}{
		{
			name:  "negative counts",
			usage: provider.Usage{InputTokens: -1e9, OutputTokens: -1e9, CachedInputTokens: -5},
			model: "gpt-x",
			// No report at all: Keel's estimate of the reply "hi".
			wantUsage: provider.Usage{OutputTokens: 1, Estimated: true},
			wantModel: "gpt-x",
		},
		{
			name:      "absurd counts",
			usage:     provider.Usage{InputTokens: 1e14, OutputTokens: math.MaxInt64, CachedInputTokens: 1e15},
			model:     strings.Repeat("m", 2<<20),
			wantUsage: provider.Usage{InputTokens: provider.MaxCallTokens, OutputTokens: provider.MaxCallTokens, CachedInputTokens: provider.MaxCallTokens},
			wantModel: "ma",
		},
		{
			name:      "control characters in the model",
			usage:     provider.Usage{InputTokens: 10, OutputTokens: 5, CachedInputTokens: 20, CacheWriteTokens: 3},
			model:     "gpt\x00x",
			wantUsage: provider.Usage{InputTokens: 10, OutputTokens: 5, CachedInputTokens: 10},
			wantModel: "ma",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorderFunc{}
			file := limitedFile(TenantLimits{Default: Limits{BudgetMicros: 1 << 40}}, Limits{})
			p := &funcProvider{name: "a", log: &callLog{}, fn: func(context.Context, provider.Request, func(provider.Delta) error) (provider.Response, error) {
				return provider.Response{Text: "hi", Model: tt.model, Usage: tt.usage, FinishReason: provider.FinishStop}, nil
			}}
			r := newTestRouter(t, file, map[string]provider.Provider{"a": p}, Options{Recorder: rec})
			res, err := r.Generate(tenantCtx("acme"), "r", provider.Request{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Response.Usage != tt.wantUsage || res.Model != tt.wantModel || res.Response.Model != tt.wantModel {
				t.Errorf("result usage %+v model %.20q, want %+v %q", res.Response.Usage, res.Model, tt.wantUsage, tt.wantModel)
			}
			if res.CostMicros < 0 {
				t.Errorf("cost %d is negative", res.CostMicros)
			}
			last := rec.last(t)
			if last.Usage != tt.wantUsage || last.Model != tt.wantModel || last.CostMicros != res.CostMicros {
				t.Errorf("record usage %+v model %.20q cost %d", last.Usage, last.Model, last.CostMicros)
			}
		})
	}
}

func TestCostMicrosSaturates(t *testing.T) {
	t.Parallel()
	dear := Price{InputPerMillion: math.MaxInt64 / 2, OutputPerMillion: math.MaxInt64 / 2}
	got := dear.CostMicros(provider.Usage{InputTokens: provider.MaxCallTokens, OutputTokens: provider.MaxCallTokens})
	if got != math.MaxInt64/1_000_000 {
		t.Errorf("cost = %d, want the saturated %d", got, int64(math.MaxInt64/1_000_000))
	}
	plain := Price{InputPerMillion: 3_000_000, OutputPerMillion: 15_000_000, CachedInputPerMillion: 300_000}
	// 600 plain input tokens at 3 µ each, 400 cached at 0.3, 100 output at 15.
	if got := plain.CostMicros(provider.Usage{InputTokens: 1000, CachedInputTokens: 400, OutputTokens: 100}); got != 1800+120+1500 {
		t.Errorf("cost = %d, want 3420", got)
	}
	// Parts of a micro-unit are charged as a whole one: a call of 0.75 µ
	// costs 1, never 0, and 3.2 µ costs 4.
	cheap := Price{InputPerMillion: 150_000, OutputPerMillion: 600_000}
	for _, tt := range []struct {
		u    provider.Usage
		want int64
	}{
		{provider.Usage{InputTokens: 1, OutputTokens: 1}, 1},
		{provider.Usage{InputTokens: 4, OutputTokens: 4}, 3},
		{provider.Usage{InputTokens: 20, OutputTokens: 0}, 3},
		{provider.Usage{}, 0},
	} {
		if got := cheap.CostMicros(tt.u); got != tt.want {
			t.Errorf("cost of %+v = %d, want %d", tt.u, got, tt.want)
		}
	}
}

// A caller that cannot take a piece of a streamed reply (its connection's
// write deadline passed) ends the call, recorded as cancelled, with the
// reply sent so far estimated.
func TestCallerThatStopsTakingTheReply(t *testing.T) {
	t.Parallel()
	rec := &recorderFunc{}
	r, _ := threeProviders(t, []step{{deltas: []string{"one two", " three"}}}, nil, nil, Options{Recorder: rec})
	stuck := errors.New("write tcp: i/o timeout")
	_, err := r.Stream(context.Background(), "support_reply", provider.Request{}, func(provider.Delta) error {
		return stuck
	})
	if !errors.Is(err, stuck) {
		t.Fatalf("error = %v, want the caller's write error", err)
	}
	last := rec.last(t)
	if got := ErrorClass(last.Err); got != "cancelled" {
		t.Errorf("recorded class %q, want cancelled", got)
	}
	if !last.Usage.Estimated || last.Usage.OutputTokens == 0 {
		t.Errorf("recorded usage %+v, want an estimate of the piece sent", last.Usage)
	}
}

// A provider that streams far past the max_tokens it was sent is cut off:
// the caller gets an error after what was sent, and is charged an
// estimate of that, not whatever the provider would go on to send.
func TestStreamPastMaxTokensIsCutOff(t *testing.T) {
	t.Parallel()
	rec := &recorderFunc{}
	var words []string
	for range 1000 {
		words = append(words, "word ")
	}
	r, _ := threeProviders(t, []step{{deltas: words}, {deltas: words}, {deltas: words}}, nil, nil, Options{Recorder: rec})
	var got int
	_, err := r.Stream(context.Background(), "support_reply", provider.Request{MaxOutputTokens: 10},
		func(provider.Delta) error { got++; return nil })
	if !errors.Is(err, provider.ErrServerFailed) || !errors.Is(err, ErrOverran) {
		t.Fatalf("error = %v, want a server failure saying the provider overran", err)
	}
	if got == 0 || got >= 1000 {
		t.Errorf("caller got %d pieces, want some but not all", got)
	}
	if u := rec.last(t).Usage; u.OutputTokens > 2*10+64+2 || !u.Estimated {
		t.Errorf("charged %+v, want an estimate near the cap", u)
	}

	// Within the cap (and without one) the stream is whole.
	for _, maxTokens := range []int{0, 2000} {
		got = 0
		if _, err := r.Stream(context.Background(), "support_reply", provider.Request{MaxOutputTokens: maxTokens},
			func(provider.Delta) error { got++; return nil }); err != nil || got != 1000 {
			t.Errorf("max_tokens %d: %d pieces, %v; want all 1000", maxTokens, got, err)
		}
	}
}
