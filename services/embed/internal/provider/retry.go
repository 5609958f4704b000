package provider

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/keelhq/keel/services/embed/internal/embedder"
)

// Defaults of RetryOptions.
const (
	// DefaultMaxRetries is how many times a failed request is sent again.
	DefaultMaxRetries = 4
	// DefaultBaseDelay is the backoff ceiling of the first retry; it
	// doubles with every further one.
	DefaultBaseDelay = 250 * time.Millisecond
	// DefaultMaxDelay caps the backoff ceiling.
	DefaultMaxDelay = 20 * time.Second
	// DefaultMaxRetryAfter is the longest wait a provider may ask for
	// before the Retrier gives up instead of waiting.
	DefaultMaxRetryAfter = time.Minute
)

// RetryOptions tunes a Retrier. Zero fields take the defaults above.
type RetryOptions struct {
	// MaxRetries is how many times a failed request is sent again; a
	// negative value sends every request once.
	MaxRetries int
	// BaseDelay is the backoff ceiling of the first retry.
	BaseDelay time.Duration
	// MaxDelay caps the backoff ceiling.
	MaxDelay time.Duration
	// MaxRetryAfter is the longest wait a provider may ask for; a longer
	// one ends the retries, so the caller can decide (the NATS consumer
	// redelivers the document later).
	MaxRetryAfter time.Duration
	// Now returns the current time, to compare waits with the context's
	// deadline; time.Now when nil.
	Now func() time.Time
	// Sleep waits for d or until ctx ends, returning ctx's error then;
	// a timer when nil. Tests record the waits instead.
	Sleep func(ctx context.Context, d time.Duration) error
	// Jitter returns a random number in [0, 1); math/rand/v2 when nil.
	Jitter func() float64
}

// Retrier is an Embedder that sends a failed request again while the
// failure is retryable (see Retryable): after the delay the provider asked
// for (Retry-After, Gemini's RetryInfo), or else after an exponential
// backoff with full jitter. It never waits past the context's deadline. It
// is safe for concurrent use.
type Retrier struct {
	next embedder.Embedder
	opts RetryOptions
}

var _ embedder.Embedder = (*Retrier)(nil)

// NewRetrier returns a Retrier around next.
func NewRetrier(next embedder.Embedder, opts RetryOptions) *Retrier {
	if opts.MaxRetries == 0 {
		opts.MaxRetries = DefaultMaxRetries
	}
	if opts.MaxRetries < 0 {
		opts.MaxRetries = 0
	}
	if opts.BaseDelay <= 0 {
		opts.BaseDelay = DefaultBaseDelay
	}
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = DefaultMaxDelay
	}
	if opts.MaxRetryAfter <= 0 {
		opts.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	if opts.Jitter == nil {
		opts.Jitter = rand.Float64
	}
	return &Retrier{next: next, opts: opts}
}

// Model returns the wrapped embedder's model.
func (r *Retrier) Model() string {
	return r.next.Model()
}

// Dimensions returns the wrapped embedder's dimensions.
func (r *Retrier) Dimensions() int {
	return r.next.Dimensions()
}

// Embed calls the wrapped embedder until it succeeds, fails for good or the
// retries run out. It returns the last error, with the number of attempts
// when there was more than one, or the context's error when ctx ends
// while waiting.
func (r *Retrier) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	for attempt := 0; ; attempt++ {
		vectors, err := r.next.Embed(ctx, texts)
		if err == nil {
			return vectors, nil
		}
		if ctx.Err() != nil || !Retryable(err) {
			return nil, attemptsError(err, attempt+1)
		}
		if attempt >= r.opts.MaxRetries {
			return nil, attemptsError(err, attempt+1)
		}

		wait, asked := RetryAfter(err)
		if asked && wait > r.opts.MaxRetryAfter {
			return nil, fmt.Errorf("provider asked to wait %v, longer than %v: %w",
				wait, r.opts.MaxRetryAfter, attemptsError(err, attempt+1))
		}
		if !asked {
			wait = r.backoff(attempt)
		}
		if deadline, ok := ctx.Deadline(); ok && !r.opts.Now().Add(wait).Before(deadline) {
			return nil, fmt.Errorf("no time left to wait %v for another attempt: %w", wait, attemptsError(err, attempt+1))
		}
		if err := r.opts.Sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// backoff returns the wait before retry number attempt+1: a random
// duration up to BaseDelay doubled attempt times, capped at MaxDelay.
func (r *Retrier) backoff(attempt int) time.Duration {
	ceiling := r.opts.MaxDelay
	if attempt < 32 {
		ceiling = min(r.opts.BaseDelay<<attempt, r.opts.MaxDelay)
		if ceiling <= 0 {
			ceiling = r.opts.MaxDelay
		}
	}
	return time.Duration(r.opts.Jitter() * float64(ceiling))
}

// attemptsError adds the number of attempts to err when there was more than
// one.
func attemptsError(err error, attempts int) error {
	if attempts == 1 {
		return err
	}
	return fmt.Errorf("after %d attempts: %w", attempts, err)
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
