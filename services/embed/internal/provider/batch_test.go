package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// funcEmbedder is an Embedder made of a function.
type funcEmbedder struct {
	dims  int
	embed func(ctx context.Context, texts []string) ([][]float32, error)
}

func (f funcEmbedder) Model() string   { return "func" }
func (f funcEmbedder) Dimensions() int { return f.dims }
func (f funcEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	return f.embed(ctx, texts)
}

// queued returns the number of texts waiting in b's queue.
func queued(b *Batcher) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue)
}

// waitFor polls cond until it holds, failing the test after a while.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestBatcherManyCallersWithinBounds(t *testing.T) {
	t.Parallel()
	const (
		dims     = 4
		maxTexts = 8
		maxBytes = 64
	)
	fake := newFakeProvider(t, openAIWire, dims)
	b := NewBatcher(fake.client(t, clientOptions{}), BatchOptions{
		MaxTexts: maxTexts, MaxBytes: maxBytes, MaxWait: 2 * time.Millisecond, MaxInFlight: 3,
	})

	// Sixty callers with one to five texts each; some texts are longer than
	// a whole request may be.
	var wg sync.WaitGroup
	total := 0
	for c := range 60 {
		texts := make([]string, 1+c%5)
		for i := range texts {
			texts[i] = fmt.Sprintf("caller %d text %d", c, i)
			if c%17 == 0 && i == 0 {
				texts[i] = strings.Repeat("long ", 20) + texts[i]
			}
		}
		total += len(texts)
		wg.Go(func() {
			got, err := b.Embed(context.Background(), texts)
			if err != nil {
				t.Errorf("caller %d: Embed: %v", c, err)
				return
			}
			if diff := cmp.Diff(fakeVectors(texts, dims), got); diff != "" {
				t.Errorf("caller %d: vectors mismatch (-want +got):\n%s", c, diff)
			}
		})
	}
	wg.Wait()

	sent := 0
	for _, r := range fake.requests() {
		size := 0
		for _, text := range r.texts {
			size += len(text)
		}
		sent += len(r.texts)
		if len(r.texts) > maxTexts {
			t.Errorf("request of %d texts, at most %d allowed", len(r.texts), maxTexts)
		}
		if size > maxBytes && len(r.texts) > 1 {
			t.Errorf("request of %d bytes in %d texts, at most %d allowed", size, len(r.texts), maxBytes)
		}
	}
	if sent != total {
		t.Errorf("provider got %d texts, want %d", sent, total)
	}
}

func TestBatcherGathersConcurrentCalls(t *testing.T) {
	t.Parallel()
	stub := &stubEmbedder{dims: 2}
	// Nothing is sent before three texts are queued.
	b := NewBatcher(stub, BatchOptions{MaxTexts: 3, MaxWait: time.Hour})

	var wg sync.WaitGroup
	for _, texts := range [][]string{{"a"}, {"b", "c"}} {
		wg.Go(func() {
			got, err := b.Embed(context.Background(), texts)
			if err != nil {
				t.Errorf("Embed(%v): %v", texts, err)
				return
			}
			if diff := cmp.Diff(fakeVectors(texts, 2), got); diff != "" {
				t.Errorf("Embed(%v) mismatch (-want +got):\n%s", texts, diff)
			}
		})
	}
	wg.Wait()

	calls := stub.recorded()
	if len(calls) != 1 || len(calls[0]) != 3 {
		t.Errorf("embedder calls = %v, want one call with all three texts", calls)
	}
}

func TestBatcherFlushesPartialBatchAfterWait(t *testing.T) {
	t.Parallel()
	stub := &stubEmbedder{dims: 2}
	b := NewBatcher(stub, BatchOptions{MaxTexts: 100, MaxWait: 5 * time.Millisecond})

	got, err := b.Embed(context.Background(), []string{"lonely"})
	if err != nil {
		t.Fatalf("Embed: %v", err)
	}
	if diff := cmp.Diff(fakeVectors([]string{"lonely"}, 2), got); diff != "" {
		t.Errorf("vectors mismatch (-want +got):\n%s", diff)
	}
	if calls := stub.recorded(); len(calls) != 1 {
		t.Errorf("embedder got %d calls, want 1", len(calls))
	}
}

func TestBatcherErrorsReachOnlyTheirCallers(t *testing.T) {
	t.Parallel()
	poisoned := errors.New("poisoned text")
	stub := &stubEmbedder{dims: 2, fail: func(_ int, texts []string) error {
		for _, text := range texts {
			if strings.HasPrefix(text, "poison") {
				return poisoned
			}
		}
		return nil
	}}
	// One text per request, so each request fails or succeeds alone.
	b := NewBatcher(stub, BatchOptions{MaxTexts: 1, MaxInFlight: 2})

	tests := []struct {
		texts   []string
		wantErr bool
	}{
		{texts: []string{"a"}},
		{texts: []string{"poison"}, wantErr: true},
		{texts: []string{"c", "poison 2", "c2"}, wantErr: true},
		{texts: []string{"d1", "d2"}},
	}
	var wg sync.WaitGroup
	for _, tt := range tests {
		wg.Go(func() {
			got, err := b.Embed(context.Background(), tt.texts)
			if tt.wantErr {
				if !errors.Is(err, poisoned) || got != nil {
					t.Errorf("Embed(%v) = %v, %v, want only the poisoned error", tt.texts, got, err)
				}
				return
			}
			if err != nil {
				t.Errorf("Embed(%v): %v", tt.texts, err)
				return
			}
			if diff := cmp.Diff(fakeVectors(tt.texts, 2), got); diff != "" {
				t.Errorf("Embed(%v) mismatch (-want +got):\n%s", tt.texts, diff)
			}
		})
	}
	wg.Wait()
}

func TestBatcherCallerStopsWaiting(t *testing.T) {
	t.Parallel()
	stub := &stubEmbedder{dims: 2, block: make(chan struct{})}
	b := NewBatcher(stub, BatchOptions{MaxTexts: 2, MaxWait: time.Hour})

	// Two callers share one request; the first gives up while it is out.
	ctx, cancel := context.WithCancel(context.Background())
	firstDone := make(chan error, 1)
	go func() {
		_, err := b.Embed(ctx, []string{"first"})
		firstDone <- err
	}()
	waitFor(t, "first text queued", func() bool { return queued(b) == 1 })
	secondDone := make(chan error, 1)
	var second [][]float32
	go func() {
		var err error
		second, err = b.Embed(context.Background(), []string{"second"})
		secondDone <- err
	}()
	waitFor(t, "request sent", func() bool { return len(stub.recorded()) == 1 })

	cancel()
	if err := <-firstDone; !errors.Is(err, context.Canceled) {
		t.Errorf("first caller: err = %v, want context.Canceled", err)
	}
	// The request goes on for the caller still waiting.
	close(stub.block)
	if err := <-secondDone; err != nil {
		t.Fatalf("second caller: %v", err)
	}
	if diff := cmp.Diff(fakeVectors([]string{"second"}, 2), second); diff != "" {
		t.Errorf("second caller mismatch (-want +got):\n%s", diff)
	}
}

func TestBatcherCancelsRequestWhenEveryCallerLeft(t *testing.T) {
	t.Parallel()
	requestStarted := make(chan struct{})
	requestEnded := make(chan error, 1)
	e := funcEmbedder{dims: 2, embed: func(ctx context.Context, _ []string) ([][]float32, error) {
		close(requestStarted)
		<-ctx.Done()
		requestEnded <- ctx.Err()
		return nil, ctx.Err()
	}}
	b := NewBatcher(e, BatchOptions{MaxTexts: 1})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := b.Embed(ctx, []string{"a"})
		done <- err
	}()
	<-requestStarted
	cancel()

	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Embed() error = %v, want context.Canceled", err)
	}
	if err := <-requestEnded; !errors.Is(err, context.Canceled) {
		t.Errorf("request context error = %v, want context.Canceled", err)
	}
}

func TestBatcherRequestCarriesLatestDeadline(t *testing.T) {
	t.Parallel()
	deadlines := make(chan time.Time, 1)
	e := funcEmbedder{dims: 2, embed: func(ctx context.Context, texts []string) ([][]float32, error) {
		d, _ := ctx.Deadline()
		deadlines <- d
		return fakeVectors(texts, 2), nil
	}}
	b := NewBatcher(e, BatchOptions{MaxTexts: 2, MaxWait: time.Hour})

	early := time.Now().Add(time.Hour)
	late := early.Add(time.Hour)
	var wg sync.WaitGroup
	for _, d := range []time.Time{early, late} {
		wg.Go(func() {
			ctx, cancel := context.WithDeadline(context.Background(), d)
			defer cancel()
			if _, err := b.Embed(ctx, []string{d.String()}); err != nil {
				t.Errorf("Embed: %v", err)
			}
		})
	}
	wg.Wait()
	if got := <-deadlines; !got.Equal(late) {
		t.Errorf("request deadline = %v, want the later one %v", got, late)
	}
}

func TestBatcherDropsTextsOfCallersThatLeft(t *testing.T) {
	t.Parallel()
	stub := &stubEmbedder{dims: 2, block: make(chan struct{})}
	b := NewBatcher(stub, BatchOptions{MaxTexts: 1, MaxInFlight: 1})

	// The first request holds the only slot; the second caller's text
	// waits in the queue and its caller leaves.
	go func() { _, _ = b.Embed(context.Background(), []string{"first"}) }()
	waitFor(t, "first request sent", func() bool { return len(stub.recorded()) == 1 })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := b.Embed(ctx, []string{"abandoned"})
		done <- err
	}()
	waitFor(t, "second text queued", func() bool { return queued(b) == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Embed() error = %v, want context.Canceled", err)
	}
	close(stub.block)

	if _, err := b.Embed(context.Background(), []string{"third"}); err != nil {
		t.Fatalf("Embed: %v", err)
	}
	for _, call := range stub.recorded() {
		if call[0] == "abandoned" {
			t.Errorf("the text of a caller that left was sent")
		}
	}
}

func TestBatcherBoundsRequestsInFlight(t *testing.T) {
	t.Parallel()
	const maxInFlight = 3
	var mu sync.Mutex
	active, peak := 0, 0
	e := funcEmbedder{dims: 2, embed: func(_ context.Context, texts []string) ([][]float32, error) {
		mu.Lock()
		active++
		peak = max(peak, active)
		mu.Unlock()
		time.Sleep(time.Millisecond)
		mu.Lock()
		active--
		mu.Unlock()
		return fakeVectors(texts, 2), nil
	}}
	b := NewBatcher(e, BatchOptions{MaxTexts: 1, MaxInFlight: maxInFlight, MaxWait: -1})

	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			if _, err := b.Embed(context.Background(), []string{fmt.Sprint(i)}); err != nil {
				t.Errorf("Embed: %v", err)
			}
		})
	}
	wg.Wait()
	if peak > maxInFlight {
		t.Errorf("%d requests in flight at once, at most %d allowed", peak, maxInFlight)
	}
}

func TestBatcherWrongVectorCount(t *testing.T) {
	t.Parallel()
	e := funcEmbedder{dims: 2, embed: func(context.Context, []string) ([][]float32, error) {
		return [][]float32{{1, 2}}, nil
	}}
	b := NewBatcher(e, BatchOptions{MaxTexts: 2, MaxWait: -1})

	if _, err := b.Embed(context.Background(), []string{"a", "b"}); err == nil {
		t.Error("Embed() returned no error for a short answer")
	}
}

func TestBatcherIsolatesRejectedTexts(t *testing.T) {
	t.Parallel()
	rejected := &Error{Provider: "stub", Class: ErrRequestRejected, StatusCode: 400, Message: "input too long"}
	stub := &stubEmbedder{dims: 2, fail: func(_ int, texts []string) error {
		for _, text := range texts {
			if text == "too long" {
				return rejected
			}
		}
		return nil
	}}
	// Both calls land in one request, which the provider rejects.
	b := NewBatcher(stub, BatchOptions{MaxTexts: 3, MaxWait: time.Hour})

	var wg sync.WaitGroup
	wg.Go(func() {
		if _, err := b.Embed(context.Background(), []string{"fine", "too long"}); !errors.Is(err, ErrRequestRejected) {
			t.Errorf("caller with the rejected text: err = %v, want ErrRequestRejected", err)
		}
	})
	waitFor(t, "first call queued", func() bool { return queued(b) == 2 })
	wg.Go(func() {
		got, err := b.Embed(context.Background(), []string{"innocent"})
		if err != nil {
			t.Errorf("other caller: %v", err)
			return
		}
		if diff := cmp.Diff(fakeVectors([]string{"innocent"}, 2), got); diff != "" {
			t.Errorf("other caller mismatch (-want +got):\n%s", diff)
		}
	})
	wg.Wait()

	if calls := stub.recorded(); len(calls) != 3 {
		t.Errorf("embedder calls = %v, want the joint request and one per caller", calls)
	}
}
