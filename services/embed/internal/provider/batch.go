package provider

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/keelhq/keel/services/embed/internal/embedder"
)

// Defaults of BatchOptions.
const (
	// DefaultBatchTexts is the most texts of one provider request.
	DefaultBatchTexts = 64
	// DefaultBatchBytes is the most text bytes of one provider request.
	DefaultBatchBytes = 256 << 10
	// DefaultBatchWait is how long a text waits for others to fill its
	// request.
	DefaultBatchWait = 20 * time.Millisecond
	// DefaultMaxInFlight is the most provider requests at once.
	DefaultMaxInFlight = 4
)

// BatchOptions tunes a Batcher. Zero fields take the defaults above.
type BatchOptions struct {
	// MaxTexts is the most texts of one request.
	MaxTexts int
	// MaxBytes is the most text bytes of one request; a single text
	// larger than that goes alone.
	MaxBytes int
	// MaxWait is how long the first text of a partial request waits for
	// more; a negative value sends partial requests at once.
	MaxWait time.Duration
	// MaxInFlight is the most requests sent at once; texts wait in the
	// queue while that many are outstanding.
	MaxInFlight int
}

// Batcher is an Embedder that gathers the texts of concurrent Embed calls
// into requests to the wrapped embedder. A request is sent when it is full
// (MaxTexts or MaxBytes) or when its oldest text has waited MaxWait, and
// only while fewer than MaxInFlight requests are outstanding. Each caller
// gets exactly the vectors of its own texts; a failed request fails only
// the calls that had texts in it, and a request the provider rejected
// (ErrRequestRejected) is sent again per call, so only the call whose
// texts it rejects fails. A caller whose context ends gets the
// context's error at once, and its texts that were not sent yet are
// dropped. Batcher is safe for concurrent use.
//
// A request runs under a context of its own that ends when every caller
// with texts in it has gone, and carries the latest of their deadlines when
// all of them have one; it carries none of their values.
type Batcher struct {
	next embedder.Embedder
	opts BatchOptions

	mu         sync.Mutex
	queue      []*batchItem
	queueBytes int
	inFlight   int
	timer      *time.Timer
}

var _ embedder.Embedder = (*Batcher)(nil)

// batchCall is one Embed call waiting for its vectors.
type batchCall struct {
	ctx     context.Context
	done    chan struct{}
	mu      sync.Mutex
	vectors [][]float32
	left    int
	err     error
}

// batchItem is one text of a call in the queue.
type batchItem struct {
	call     *batchCall
	index    int
	text     string
	enqueued time.Time
}

// NewBatcher returns a Batcher around next.
func NewBatcher(next embedder.Embedder, opts BatchOptions) *Batcher {
	if opts.MaxTexts <= 0 {
		opts.MaxTexts = DefaultBatchTexts
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultBatchBytes
	}
	if opts.MaxWait == 0 {
		opts.MaxWait = DefaultBatchWait
	}
	if opts.MaxWait < 0 {
		opts.MaxWait = 0
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = DefaultMaxInFlight
	}
	return &Batcher{next: next, opts: opts}
}

// Model returns the wrapped embedder's model.
func (b *Batcher) Model() string {
	return b.next.Model()
}

// Dimensions returns the wrapped embedder's dimensions.
func (b *Batcher) Dimensions() int {
	return b.next.Dimensions()
}

// Embed queues texts and waits for their vectors. It returns the error of
// the first failed request that held one of its texts, or the context's
// error when ctx ends first.
func (b *Batcher) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if len(texts) == 0 {
		return [][]float32{}, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	call := &batchCall{
		ctx:     ctx,
		done:    make(chan struct{}),
		vectors: make([][]float32, len(texts)),
		left:    len(texts),
	}

	now := time.Now()
	b.mu.Lock()
	for i, text := range texts {
		b.queue = append(b.queue, &batchItem{call: call, index: i, text: text, enqueued: now})
		b.queueBytes += len(text)
	}
	b.dispatchLocked()
	b.mu.Unlock()

	select {
	case <-call.done:
		return call.result()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// dispatchLocked sends every request that is due while there is room in
// flight, then arms the timer for the oldest text still waiting. b.mu must
// be held.
func (b *Batcher) dispatchLocked() {
	for b.inFlight < b.opts.MaxInFlight {
		b.dropCancelledLocked()
		if len(b.queue) == 0 || !b.dueLocked(time.Now()) {
			break
		}
		items := b.takeLocked()
		b.inFlight++
		go b.send(items)
	}

	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	if len(b.queue) > 0 && b.inFlight < b.opts.MaxInFlight {
		wait := b.opts.MaxWait - time.Since(b.queue[0].enqueued)
		b.timer = time.AfterFunc(max(wait, 0), b.onTimer)
	}
}

// dueLocked reports whether the queue holds a full request or its oldest
// text has waited long enough.
func (b *Batcher) dueLocked(now time.Time) bool {
	return len(b.queue) >= b.opts.MaxTexts ||
		b.queueBytes >= b.opts.MaxBytes ||
		now.Sub(b.queue[0].enqueued) >= b.opts.MaxWait
}

// takeLocked removes the texts of the next request from the queue: as many
// as fit within MaxTexts and MaxBytes, at least one.
func (b *Batcher) takeLocked() []*batchItem {
	n, size := 0, 0
	for n < len(b.queue) && n < b.opts.MaxTexts {
		next := len(b.queue[n].text)
		if n > 0 && size+next > b.opts.MaxBytes {
			break
		}
		size += next
		n++
	}
	items := make([]*batchItem, n)
	copy(items, b.queue[:n])
	clear(b.queue[:n])
	b.queue = b.queue[n:]
	b.queueBytes -= size
	return items
}

// dropCancelledLocked removes the texts of calls that have already returned
// from the queue.
func (b *Batcher) dropCancelledLocked() {
	kept := b.queue[:0]
	for _, it := range b.queue {
		if it.call.ctx.Err() != nil || it.call.finished() {
			b.queueBytes -= len(it.text)
			continue
		}
		kept = append(kept, it)
	}
	clear(b.queue[len(kept):])
	b.queue = kept
}

// onTimer sends the request whose oldest text has waited MaxWait.
func (b *Batcher) onTimer() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.dispatchLocked()
}

// send embeds one request and hands each vector to its call.
func (b *Batcher) send(items []*batchItem) {
	defer func() {
		b.mu.Lock()
		b.inFlight--
		b.dispatchLocked()
		b.mu.Unlock()
	}()

	vectors, err := b.request(items)
	if groups := groupByCall(items); errors.Is(err, ErrRequestRejected) && len(groups) > 1 {
		// The provider may have rejected the text of one caller, such as
		// one too long for the model: each caller's texts go again on
		// their own, so the others do not fail with it.
		for _, group := range groups {
			vectors, err := b.request(group)
			deliver(group, vectors, err)
		}
		return
	}
	deliver(items, vectors, err)
}

// request sends the texts of items to the wrapped embedder in one call.
func (b *Batcher) request(items []*batchItem) ([][]float32, error) {
	ctx, cancel := requestContext(items)
	defer cancel()

	texts := make([]string, len(items))
	for i, it := range items {
		texts[i] = it.text
	}
	vectors, err := b.next.Embed(ctx, texts)
	if err != nil {
		return nil, err
	}
	if len(vectors) != len(texts) {
		return nil, fmt.Errorf("embed batch: got %d vectors for %d texts", len(vectors), len(texts))
	}
	return vectors, nil
}

// deliver hands the vector of each item, or err, to its call.
func deliver(items []*batchItem, vectors [][]float32, err error) {
	for i, it := range items {
		if err != nil {
			it.call.fail(err)
			continue
		}
		it.call.set(it.index, vectors[i])
	}
}

// groupByCall splits items by the call they belong to, keeping their
// order.
func groupByCall(items []*batchItem) [][]*batchItem {
	var groups [][]*batchItem
	index := make(map[*batchCall]int)
	for _, it := range items {
		g, ok := index[it.call]
		if !ok {
			g = len(groups)
			index[it.call] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], it)
	}
	return groups
}

// requestContext returns the context of a request holding items: it ends
// when the contexts of all their calls have ended, and has the latest of
// their deadlines when every one of them has a deadline.
func requestContext(items []*batchItem) (context.Context, context.CancelFunc) {
	calls := make(map[*batchCall]struct{})
	var latest time.Time
	allDeadlines := true
	for _, it := range items {
		if _, seen := calls[it.call]; seen {
			continue
		}
		calls[it.call] = struct{}{}
		d, ok := it.call.ctx.Deadline()
		if !ok {
			allDeadlines = false
		} else if d.After(latest) {
			latest = d
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	if allDeadlines {
		var cancelDeadline context.CancelFunc
		ctx, cancelDeadline = context.WithDeadline(ctx, latest)
		parentCancel := cancel
		cancel = func() { cancelDeadline(); parentCancel() }
	}

	var mu sync.Mutex
	live := len(calls)
	stops := make([]func() bool, 0, len(calls))
	for c := range calls {
		stops = append(stops, context.AfterFunc(c.ctx, func() {
			mu.Lock()
			defer mu.Unlock()
			live--
			if live == 0 {
				cancel()
			}
		}))
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
}

// set stores the vector of text i and finishes the call when it was the
// last one.
func (c *batchCall) set(i int, v []float32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.left == 0 {
		return
	}
	c.vectors[i] = v
	c.left--
	if c.left == 0 {
		close(c.done)
	}
}

// fail finishes the call with err unless it has finished already.
func (c *batchCall) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.left == 0 {
		return
	}
	c.err = err
	c.left = 0
	c.vectors = nil
	close(c.done)
}

// finished reports whether the call has all its vectors or has failed.
func (c *batchCall) finished() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.left == 0
}

// result returns the call's vectors or its error.
func (c *batchCall) result() ([][]float32, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.vectors, c.err
}
