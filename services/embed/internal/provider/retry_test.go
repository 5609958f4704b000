package provider

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// stubEmbedder answers with fake vectors, or with the error fail returns
// for a call, and records the texts of every call.
type stubEmbedder struct {
	dims int
	fail func(call int, texts []string) error
	// block, when set, is received from before every call returns.
	block chan struct{}

	mu    sync.Mutex
	calls [][]string
}

func (s *stubEmbedder) Model() string   { return "stub" }
func (s *stubEmbedder) Dimensions() int { return s.dims }

func (s *stubEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	s.mu.Lock()
	n := len(s.calls)
	s.calls = append(s.calls, append([]string(nil), texts...))
	s.mu.Unlock()

	if s.block != nil {
		select {
		case <-s.block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if s.fail != nil {
		if err := s.fail(n, texts); err != nil {
			return nil, err
		}
	}
	return fakeVectors(texts, s.dims), nil
}

func (s *stubEmbedder) recorded() [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]string(nil), s.calls...)
}

// failFirst returns a fail function that fails the first n calls with err.
func failFirst(n int, err error) func(int, []string) error {
	return func(call int, _ []string) error {
		if call < n {
			return err
		}
		return nil
	}
}

func TestRetrierNeverWaitsPastTheDeadline(t *testing.T) {
	t.Parallel()
	limited := &Error{Provider: "stub", Class: ErrRateLimited, StatusCode: 429, RetryAfter: 30 * time.Second}
	stub := &stubEmbedder{dims: 2, fail: failFirst(1, limited)}
	start := time.Now()
	r, sleeps := testRetrier(stub, start)

	ctx, cancel := context.WithDeadline(context.Background(), start.Add(10*time.Second))
	defer cancel()
	_, err := r.Embed(ctx, []string{"refund"})
	if !errors.Is(err, ErrRateLimited) || !strings.Contains(err.Error(), "no time left") {
		t.Fatalf("Embed() error = %v, want ErrRateLimited with no time left", err)
	}
	if waits := sleeps.recorded(); len(waits) != 0 {
		t.Errorf("retrier waited %v past the deadline", waits)
	}
	if n := len(stub.recorded()); n != 1 {
		t.Errorf("embedder got %d calls, want 1", n)
	}
}

func TestRetrierGivesUpOnLongRetryAfter(t *testing.T) {
	t.Parallel()
	limited := &Error{Provider: "stub", Class: ErrRateLimited, StatusCode: 429, RetryAfter: time.Hour}
	stub := &stubEmbedder{dims: 2, fail: failFirst(1, limited)}
	r, sleeps := testRetrier(stub, testNow)

	_, err := r.Embed(context.Background(), []string{"refund"})
	if !errors.Is(err, ErrRateLimited) || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("Embed() error = %v, want ErrRateLimited with a wait too long", err)
	}
	if waits := sleeps.recorded(); len(waits) != 0 {
		t.Errorf("retrier waited %v", waits)
	}
}

func TestRetrierBackoff(t *testing.T) {
	t.Parallel()
	failed := &Error{Provider: "stub", Class: ErrServerFailed, StatusCode: 500}
	stub := &stubEmbedder{dims: 2, fail: failFirst(6, failed)}
	rec := &sleepRecorder{}
	r := NewRetrier(stub, RetryOptions{
		MaxRetries: 6,
		BaseDelay:  100 * time.Millisecond,
		MaxDelay:   time.Second,
		Sleep:      rec.sleep,
		Jitter:     func() float64 { return 0.999999 },
	})

	if _, err := r.Embed(context.Background(), []string{"refund"}); err != nil {
		t.Fatalf("Embed: %v", err)
	}
	// The ceiling doubles from BaseDelay until MaxDelay caps it; full
	// jitter stays below it.
	ceilings := []time.Duration{100, 200, 400, 800, 1000, 1000}
	waits := rec.recorded()
	if len(waits) != len(ceilings) {
		t.Fatalf("got %d waits, want %d", len(waits), len(ceilings))
	}
	for i, w := range waits {
		ceiling := ceilings[i] * time.Millisecond
		if w < ceiling*99/100 || w >= ceiling {
			t.Errorf("wait %d = %v, want just under %v", i, w, ceiling)
		}
	}
}

func TestRetrierNoRetries(t *testing.T) {
	t.Parallel()
	failed := &Error{Provider: "stub", Class: ErrServerFailed, StatusCode: 500}
	stub := &stubEmbedder{dims: 2, fail: failFirst(1, failed)}
	r := NewRetrier(stub, RetryOptions{MaxRetries: -1})

	if _, err := r.Embed(context.Background(), []string{"refund"}); !errors.Is(err, ErrServerFailed) {
		t.Fatalf("Embed() error = %v, want ErrServerFailed", err)
	}
	if n := len(stub.recorded()); n != 1 {
		t.Errorf("embedder got %d calls, want 1", n)
	}
}

func TestRetrierStopsWhenCancelledWhileWaiting(t *testing.T) {
	t.Parallel()
	failed := &Error{Provider: "stub", Class: ErrServerFailed, StatusCode: 500}
	stub := &stubEmbedder{dims: 2, fail: failFirst(10, failed)}
	ctx, cancel := context.WithCancel(context.Background())
	r := NewRetrier(stub, RetryOptions{
		// The real sleep, cut short by the cancellation below.
		BaseDelay: time.Hour,
		MaxDelay:  time.Hour,
		Jitter:    func() float64 { cancel(); return 0.5 },
	})

	if _, err := r.Embed(ctx, []string{"refund"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Embed() error = %v, want context.Canceled", err)
	}
	if n := len(stub.recorded()); n != 1 {
		t.Errorf("embedder got %d calls, want 1", n)
	}
}

func TestRetryableClasses(t *testing.T) {
	t.Parallel()
	var got []string
	for _, class := range []error{
		ErrRateLimited, ErrQuotaExhausted, ErrCredentialsRejected, ErrRequestRejected,
		ErrServerFailed, ErrTimedOut, ErrUnreachable, ErrMalformedResponse,
	} {
		if Retryable(&Error{Provider: "p", Class: class}) {
			got = append(got, class.Error())
		}
	}
	want := []string{"rate limited", "server error", "timed out", "unreachable"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("retryable classes mismatch (-want +got):\n%s", diff)
	}
	if Retryable(context.Canceled) || Retryable(errors.New("other")) {
		t.Error("Retryable() is true for an error of no class")
	}
}
