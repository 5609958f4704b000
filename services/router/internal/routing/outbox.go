package routing

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/keelhq/keel/pkg/bus"
)

// DefaultOutboxSize is how many records an Outbox holds before Record
// waits for room.
const DefaultOutboxSize = 8192

// DefaultOutboxLinger is how long an outbox worker holding one record
// waits for more to publish with it. Every batch costs the same stream write
// and acknowledgement, whatever it holds: 10 ms instead of 2 took 5-7 µs of
// CPU off each call with 16 clients and 15-30 µs off the one-client p50
// (BENCHMARKS.md, "seventh pass"), for other replicas seeing the use up
// to 8 ms later.
const DefaultOutboxLinger = 10 * time.Millisecond

// maxBatch is the most records a worker publishes together.
const maxBatch = 256

// BatchRecorder records many records at once and returns those that
// failed; *BusRecorder is one.
type BatchRecorder interface {
	Recorder
	RecordBatch(ctx context.Context, recs []Record) []Record
}

// Outbox hands records to a Recorder from a few goroutines of its own, so
// that publishing usage and audit events stays off the request path. A full
// outbox makes Record wait (up to its context) rather than drop a record.
//
// TODO: the queue is in memory; a crash loses the records not yet
// published. A local journal would close that gap.
type Outbox struct {
	next   Recorder
	logger *slog.Logger
	queue  chan Record
	linger time.Duration
	wg     sync.WaitGroup

	// closing is closed by Close: lingering workers publish at once.
	closing chan struct{}
	// ctx ends when Close gives up waiting; every publish runs under it.
	ctx          context.Context
	cancel       context.CancelFunc
	closeTimeout time.Duration

	// mu is held for reading while a record is queued and for writing to
	// close the queue, so that a late record (a shadow call finishing
	// during shutdown) gets ErrOutboxClosed instead of a closed channel.
	mu     sync.RWMutex
	closed bool
}

// ErrOutboxClosed is returned by Record after Close.
var ErrOutboxClosed = errors.New("outbox closed")

// OutboxConfig sizes an Outbox.
type OutboxConfig struct {
	// Size is how many records wait before Record blocks (at least 1).
	Size int
	// Workers is how many goroutines publish (at least 1).
	Workers int
	// Linger is how long a worker with one record in hand waits for more
	// before publishing, when the Recorder records batches: a few
	// milliseconds turn a stream write per call into one per batch, which
	// is most of what usage events cost a busy gateway. Zero publishes
	// what is queued at once.
	Linger time.Duration
	// CloseTimeout bounds how long Close waits for the queue to drain
	// (DefaultOutboxCloseTimeout when zero): with the bus away, what is
	// still queued then is given up and logged, so that shutdown ends.
	CloseTimeout time.Duration
	Logger       *slog.Logger
}

// DefaultOutboxCloseTimeout is how long Close waits for queued records.
const DefaultOutboxCloseTimeout = 15 * time.Second

// publishTries is how many times a record (or a batch) is tried.
const publishTries = 3

// NewOutbox starts cfg.Workers goroutines that pass queued records to next.
// Close stops them once the queue is empty.
func NewOutbox(next Recorder, cfg OutboxConfig) *Outbox {
	o := &Outbox{
		next:   next,
		logger: cfg.Logger,
		queue:  make(chan Record, max(cfg.Size, 1)),
		linger: cfg.Linger,

		closing: make(chan struct{}),

		closeTimeout: cmp.Or(cfg.CloseTimeout, DefaultOutboxCloseTimeout),
	}
	o.ctx, o.cancel = context.WithCancel(context.Background())
	if o.logger == nil {
		o.logger = slog.Default()
	}
	for range max(cfg.Workers, 1) {
		o.wg.Add(1)
		go o.run()
	}
	return o
}

// Record queues rec. It fails only when the outbox stays full until ctx
// ends.
func (o *Outbox) Record(ctx context.Context, rec Record) error {
	return o.put(ctx, rec)
}

// TryRecord queues rec if there is room now, and reports whether it did.
func (o *Outbox) TryRecord(rec Record) bool {
	return o.put(nil, rec) == nil
}

// errOutboxFull is put's answer when it was not to wait for room.
var errOutboxFull = errors.New("outbox full")

// put queues rec, waiting for room until ctx ends; with ctx nil it does
// not wait.
func (o *Outbox) put(ctx context.Context, rec Record) error {
	if rec.ID == "" {
		// Fixed now, so that every try publishes under the same id.
		rec.ID = bus.NewID()
	}
	o.mu.RLock()
	defer o.mu.RUnlock()
	if o.closed {
		return ErrOutboxClosed
	}
	select {
	case o.queue <- rec:
		return nil
	default:
	}
	if ctx == nil {
		return errOutboxFull
	}
	select {
	case o.queue <- rec:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Close publishes what is queued and stops the workers. When that takes
// longer than the close timeout (the bus is away), the records still
// waiting are given up and logged. Record fails with ErrOutboxClosed after
// Close.
func (o *Outbox) Close() {
	o.mu.Lock()
	if !o.closed {
		o.closed = true
		close(o.queue)
		close(o.closing)
	}
	o.mu.Unlock()
	done := make(chan struct{})
	go func() {
		o.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(o.closeTimeout):
		o.logger.Error("usage records still unpublished at shutdown; giving them up", "waited", o.closeTimeout)
		o.cancel()
		<-done
	}
	o.cancel()
}

func (o *Outbox) run() {
	defer o.wg.Done()
	batcher, ok := o.next.(BatchRecorder)
	if !ok {
		for rec := range o.queue {
			o.recordOne(rec)
		}
		return
	}
	batch := make([]Record, 0, maxBatch)
	var linger *time.Timer
	if o.linger > 0 {
		linger = time.NewTimer(o.linger)
		defer linger.Stop()
	}
	for rec := range o.queue {
		batch = append(batch[:0], rec)
		if linger != nil {
			linger.Reset(o.linger)
		}
		o.fill(&batch, linger)
		o.recordBatch(batcher, batch)
	}
}

// recordBatch publishes batch with a few tries. What failed is tried again
// as a batch, in the same order, which makes the same messages under the
// same ids: the stream drops the ones that did arrive although they were
// reported lost, where publishing the records one by one would store their
// events twice.
func (o *Outbox) recordBatch(b BatchRecorder, batch []Record) {
	failed := batch
	for try := range publishTries {
		if try > 0 && !o.pause(try) {
			break
		}
		ctx, cancel := context.WithTimeout(o.ctx, 10*time.Second)
		failed = b.RecordBatch(ctx, failed)
		cancel()
		if len(failed) == 0 {
			return
		}
	}
	for _, rec := range failed {
		o.logger.Error("record model call failed", "tenant", rec.Tenant, "route", rec.Route,
			"provider", rec.Provider, "id", rec.ID)
	}
}

// pause waits before try, or reports false when the outbox gave up.
func (o *Outbox) pause(try int) bool {
	t := time.NewTimer(time.Duration(try) * 200 * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-o.ctx.Done():
		return false
	}
}

// fill adds what else is queued to batch, up to maxBatch: with a linger
// timer, what has arrived when it fires (or when the outbox closes);
// without one, what is waiting now. While the timer runs the worker sleeps
// on it alone, so that records arriving meanwhile wake nobody: a busy
// gateway pays one wake-up per batch, not one per call.
func (o *Outbox) fill(batch *[]Record, linger *time.Timer) {
	if linger != nil {
		select {
		case <-linger.C:
		case <-o.closing:
		}
	}
	for len(*batch) < maxBatch {
		select {
		case more, ok := <-o.queue:
			if !ok {
				return
			}
			*batch = append(*batch, more)
		default:
			return
		}
	}
}

// recordOne records rec with a few tries: the bus may be briefly away.
func (o *Outbox) recordOne(rec Record) {
	var err error
	for try := range publishTries {
		if try > 0 && !o.pause(try) {
			break
		}
		ctx, cancel := context.WithTimeout(o.ctx, 5*time.Second)
		err = o.next.Record(ctx, rec)
		cancel()
		if err == nil {
			return
		}
	}
	o.logger.Error("record model call failed", "tenant", rec.Tenant, "route", rec.Route,
		"provider", rec.Provider, "id", rec.ID, "error", err)
}
