package provider

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// embedOrFail embeds texts with e and checks the vectors, failing the test
// (without stopping it, so goroutines may call it) when they are wrong.
func embedOrFail(t *testing.T, e interface {
	Embed(context.Context, []string) ([][]float32, error)
}, texts ...string) [][]float32 {
	t.Helper()
	got, err := e.Embed(context.Background(), texts)
	if err != nil {
		t.Errorf("Embed(%v): %v", texts, err)
		return nil
	}
	if diff := cmp.Diff(fakeVectors(texts, 3), got); diff != "" {
		t.Errorf("Embed(%v) mismatch (-want +got):\n%s", texts, diff)
	}
	return got
}

func TestCacheSecondCallSendsNothing(t *testing.T) {
	t.Parallel()
	stub := &stubEmbedder{dims: 3}
	c := NewCache(stub, 10)

	embedOrFail(t, c, "refund", "shipping")
	embedOrFail(t, c, "shipping", "refund")

	if calls := stub.recorded(); len(calls) != 1 {
		t.Errorf("embedder calls = %v, want one", calls)
	}
	want := CacheStats{Hits: 2, Misses: 2, Entries: 2}
	if diff := cmp.Diff(want, c.Stats()); diff != "" {
		t.Errorf("Stats() mismatch (-want +got):\n%s", diff)
	}
}

func TestCacheSendsOnlyMisses(t *testing.T) {
	t.Parallel()
	stub := &stubEmbedder{dims: 3}
	c := NewCache(stub, 10)

	embedOrFail(t, c, "refund")
	embedOrFail(t, c, "shipping", "refund", "returns")

	want := [][]string{{"refund"}, {"shipping", "returns"}}
	if diff := cmp.Diff(want, stub.recorded()); diff != "" {
		t.Errorf("embedder calls mismatch (-want +got):\n%s", diff)
	}
}

func TestCacheDuplicatesWithinCallSentOnce(t *testing.T) {
	t.Parallel()
	stub := &stubEmbedder{dims: 3}
	c := NewCache(stub, 10)

	embedOrFail(t, c, "a", "b", "a", "a", "b")

	if diff := cmp.Diff([][]string{{"a", "b"}}, stub.recorded()); diff != "" {
		t.Errorf("embedder calls mismatch (-want +got):\n%s", diff)
	}
	if got := c.Stats(); got.Hits != 3 || got.Misses != 2 {
		t.Errorf("Stats() = %+v, want 3 hits and 2 misses", got)
	}
}

func TestCacheConcurrentMissesSentOnce(t *testing.T) {
	t.Parallel()
	stub := &stubEmbedder{dims: 3, block: make(chan struct{})}
	c := NewCache(stub, 10)

	var wg sync.WaitGroup
	wg.Go(func() { embedOrFail(t, c, "shared") })
	waitFor(t, "first call sent", func() bool { return len(stub.recorded()) == 1 })
	for range 5 {
		wg.Go(func() { embedOrFail(t, c, "shared") })
	}
	waitFor(t, "every call waiting", func() bool { return c.Stats().Hits == 5 })
	close(stub.block)
	wg.Wait()

	if calls := stub.recorded(); len(calls) != 1 {
		t.Errorf("embedder calls = %v, want one", calls)
	}
}

func TestCacheWaiterTakesOverFromCancelledCall(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	started := make(chan struct{})
	e := funcEmbedder{dims: 3, embed: func(ctx context.Context, texts []string) ([][]float32, error) {
		if calls.Add(1) == 1 {
			close(started)
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return fakeVectors(texts, 3), nil
	}}
	c := NewCache(e, 10)

	ctx, cancel := context.WithCancel(context.Background())
	firstDone := make(chan error, 1)
	go func() {
		_, err := c.Embed(ctx, []string{"shared"})
		firstDone <- err
	}()
	<-started
	secondDone := make(chan struct{})
	go func() {
		defer close(secondDone)
		embedOrFail(t, c, "shared")
	}()
	waitFor(t, "second call waiting", func() bool { return c.Stats().Hits == 1 })
	cancel()

	if err := <-firstDone; !errors.Is(err, context.Canceled) {
		t.Errorf("first call: err = %v, want context.Canceled", err)
	}
	<-secondDone
	if n := calls.Load(); n != 2 {
		t.Errorf("embedder got %d calls, want 2", n)
	}
}

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	stub := &stubEmbedder{dims: 3}
	c := NewCache(stub, 2)

	embedOrFail(t, c, "a")
	embedOrFail(t, c, "b")
	embedOrFail(t, c, "a") // a is now the most recently used
	embedOrFail(t, c, "c") // evicts b
	embedOrFail(t, c, "a") // still cached
	embedOrFail(t, c, "b") // embedded again

	want := [][]string{{"a"}, {"b"}, {"c"}, {"b"}}
	if diff := cmp.Diff(want, stub.recorded()); diff != "" {
		t.Errorf("embedder calls mismatch (-want +got):\n%s", diff)
	}
	if got := c.Stats().Entries; got != 2 {
		t.Errorf("Stats().Entries = %d, want 2", got)
	}
}

func TestCacheVectorsDoNotAlias(t *testing.T) {
	t.Parallel()
	stub := &stubEmbedder{dims: 3}
	c := NewCache(stub, 10)

	first := embedOrFail(t, c, "refund", "refund")
	if first == nil {
		t.FailNow()
	}
	first[0][0] = 999 // the caller that caused the miss
	first[1][1] = 999 // its duplicate
	second := embedOrFail(t, c, "refund")
	if second == nil {
		t.FailNow()
	}
	second[0][2] = 999 // a caller served from the cache
	embedOrFail(t, c, "refund")
}

func TestCacheDoesNotKeepErrors(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	stub := &stubEmbedder{dims: 3, fail: failFirst(1, boom)}
	c := NewCache(stub, 10)

	if _, err := c.Embed(context.Background(), []string{"refund"}); !errors.Is(err, boom) {
		t.Fatalf("Embed() error = %v, want boom", err)
	}
	embedOrFail(t, c, "refund")
	if calls := stub.recorded(); len(calls) != 2 {
		t.Errorf("embedder calls = %v, want two", calls)
	}
}

func TestCacheKeyHoldsModelAndDimensions(t *testing.T) {
	t.Parallel()
	// One cache in front of an embedder whose model changes: vectors of the
	// old model are not served for the new one.
	model := "m1"
	var calls atomic.Int32
	e := &switchingEmbedder{model: &model, calls: &calls}
	c := NewCache(e, 10)

	if _, err := c.Embed(context.Background(), []string{"refund"}); err != nil {
		t.Fatal(err)
	}
	model = "m2"
	if _, err := c.Embed(context.Background(), []string{"refund"}); err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("embedder got %d calls, want 2", n)
	}
}

// switchingEmbedder reports whatever model its pointer holds.
type switchingEmbedder struct {
	model *string
	calls *atomic.Int32
}

func (s *switchingEmbedder) Model() string   { return *s.model }
func (s *switchingEmbedder) Dimensions() int { return 3 }
func (s *switchingEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	s.calls.Add(1)
	return fakeVectors(texts, 3), nil
}
