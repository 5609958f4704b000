package routing

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keelhq/keel/services/router/internal/provider"
)

// blockingRecorder records the tenants of what it is given. With entered
// set, each call first signals entered and waits for release.
type blockingRecorder struct {
	entered chan string
	release chan struct{}
	// fail makes the first fail calls for each tenant fail.
	fail int

	mu    sync.Mutex
	tries map[string]int
	got   []string
}

func (b *blockingRecorder) Record(ctx context.Context, rec Record) error {
	if b.entered != nil {
		b.entered <- rec.Tenant
		select {
		case <-b.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tries == nil {
		b.tries = make(map[string]int)
	}
	b.tries[rec.Tenant]++
	if b.tries[rec.Tenant] <= b.fail {
		return errors.New("bus away")
	}
	b.got = append(b.got, rec.Tenant)
	return nil
}

func (b *blockingRecorder) recorded() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Sorted(slices.Values(b.got))
}

func TestOutboxDrainsOnClose(t *testing.T) {
	t.Parallel()

	next := &blockingRecorder{}
	o := NewOutbox(next, OutboxConfig{Size: 1000, Workers: 4})
	var want []string
	for i := range 500 {
		name := fmt.Sprintf("t%03d", i)
		want = append(want, name)
		if err := o.Record(context.Background(), Record{Tenant: name}); err != nil {
			t.Fatalf("Record: %v", err)
		}
	}
	o.Close()
	if got := next.recorded(); !slices.Equal(got, want) {
		t.Errorf("recorded %d records, want all %d exactly once", len(got), len(want))
	}
	o.Close() // twice is fine
}

func TestOutboxFullWaits(t *testing.T) {
	t.Parallel()

	next := &blockingRecorder{entered: make(chan string, 4), release: make(chan struct{})}
	o := NewOutbox(next, OutboxConfig{Size: 1, Workers: 1})
	ctx := context.Background()

	// The worker holds the first record; the second fills the queue.
	if err := o.Record(ctx, Record{Tenant: "first"}); err != nil {
		t.Fatal(err)
	}
	if got := <-next.entered; got != "first" {
		t.Fatalf("worker got %q", got)
	}
	if err := o.Record(ctx, Record{Tenant: "second"}); err != nil {
		t.Fatal(err)
	}

	// The third waits for room until its context ends.
	full := errors.New("caller gave up")
	waitCtx, cancel := context.WithCancelCause(ctx)
	done := make(chan error, 1)
	go func() { done <- o.Record(waitCtx, Record{Tenant: "third"}) }()
	cancel(full)
	if err := <-done; !errors.Is(err, full) {
		t.Errorf("Record on a full outbox = %v, want the context's cause", err)
	}

	close(next.release)
	o.Close()
	if got := next.recorded(); !slices.Equal(got, []string{"first", "second"}) {
		t.Errorf("recorded %v, want first and second only", got)
	}
}

// TestOutboxTryRecord checks that TryRecord queues while there is room and
// never waits: a full or closed outbox says no at once.
func TestOutboxTryRecord(t *testing.T) {
	t.Parallel()

	next := &blockingRecorder{entered: make(chan string, 4), release: make(chan struct{})}
	o := NewOutbox(next, OutboxConfig{Size: 1, Workers: 1})
	if !o.TryRecord(Record{Tenant: "first"}) {
		t.Fatal("TryRecord on an empty outbox failed")
	}
	<-next.entered // the worker holds the first
	if !o.TryRecord(Record{Tenant: "second"}) {
		t.Fatal("TryRecord with room failed")
	}
	if o.TryRecord(Record{Tenant: "third"}) {
		t.Error("TryRecord on a full outbox queued the record")
	}
	close(next.release)
	o.Close()
	if o.TryRecord(Record{Tenant: "fourth"}) {
		t.Error("TryRecord after Close queued the record")
	}
	if got := next.recorded(); !slices.Equal(got, []string{"first", "second"}) {
		t.Errorf("recorded %v, want first and second only", got)
	}
}

func TestOutboxRetriesFailures(t *testing.T) {
	t.Parallel()

	next := &blockingRecorder{fail: 2}
	o := NewOutbox(next, OutboxConfig{Size: 10, Workers: 1})
	if err := o.Record(context.Background(), Record{Tenant: "acme"}); err != nil {
		t.Fatal(err)
	}
	o.Close()
	if got := next.recorded(); !slices.Equal(got, []string{"acme"}) {
		t.Errorf("recorded %v, want acme after two failures", got)
	}
	next.mu.Lock()
	defer next.mu.Unlock()
	if next.tries["acme"] != 3 {
		t.Errorf("tries = %d, want 3", next.tries["acme"])
	}
}

// TestOutboxGivesUp checks that a record the next recorder keeps refusing
// is dropped after its tries and does not hold up the rest.
func TestOutboxGivesUp(t *testing.T) {
	t.Parallel()

	next := &blockingRecorder{fail: 100}
	o := NewOutbox(next, OutboxConfig{Size: 10, Workers: 1})
	for _, tn := range []string{"a", "b"} {
		if err := o.Record(context.Background(), Record{Tenant: tn}); err != nil {
			t.Fatal(err)
		}
	}
	o.Close()
	next.mu.Lock()
	defer next.mu.Unlock()
	if next.tries["a"] != 3 || next.tries["b"] != 3 || len(next.got) != 0 {
		t.Errorf("tries = %v, recorded %v; want 3 tries each and nothing recorded", next.tries, next.got)
	}
}

// TestOutboxBehindRouter records a routed call through an outbox.
func TestOutboxBehindRouter(t *testing.T) {
	t.Parallel()

	next := &recorderFunc{}
	o := NewOutbox(next, OutboxConfig{Size: 10, Workers: 2})
	r, _ := threeProviders(t, nil, nil, nil, Options{Recorder: o})
	ctx, cancel := context.WithTimeout(tenantCtx("acme"), 30*time.Second)
	defer cancel()
	if _, err := r.Generate(ctx, "support_reply", provider.Request{}); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	o.Close()
	if recs := next.all(); len(recs) != 1 || recs[0].Tenant != "acme" || recs[0].Provider != "a" {
		t.Errorf("records = %+v, want acme's call at a", recs)
	}
}

// batchRecorder is a BatchRecorder whose first batch waits for release and
// whose batches fail the records of tenant "flaky" the first time.
type batchRecorder struct {
	entered chan struct{}
	release chan struct{}

	mu      sync.Mutex
	batches [][]Record
	singles []Record
	failed  bool
}

func (b *batchRecorder) RecordBatch(ctx context.Context, recs []Record) []Record {
	b.mu.Lock()
	first := len(b.batches) == 0
	b.batches = append(b.batches, slices.Clone(recs))
	b.mu.Unlock()
	if first && b.entered != nil {
		b.entered <- struct{}{}
		select {
		case <-b.release:
		case <-ctx.Done():
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var failed []Record
	for _, rec := range recs {
		if rec.Tenant == "flaky" && !b.failed {
			b.failed = true
			failed = append(failed, rec)
		}
	}
	return failed
}

func (b *batchRecorder) Record(_ context.Context, rec Record) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.singles = append(b.singles, rec)
	return nil
}

func TestOutboxBatches(t *testing.T) {
	t.Parallel()

	next := &batchRecorder{entered: make(chan struct{}, 1), release: make(chan struct{})}
	o := NewOutbox(next, OutboxConfig{Size: 1000, Workers: 1})
	ctx := context.Background()
	if err := o.Record(ctx, Record{Tenant: "first"}); err != nil {
		t.Fatal(err)
	}
	<-next.entered

	// While the worker is busy, 300 records queue up, one of them flaky
	// and one with an id of its own.
	for i := range 300 {
		rec := Record{Tenant: fmt.Sprintf("t%03d", i)}
		switch i {
		case 10:
			rec.Tenant = "flaky"
		case 20:
			rec.ID = "given-id"
		}
		if err := o.Record(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	close(next.release)
	o.Close()

	next.mu.Lock()
	defer next.mu.Unlock()
	var sizes []int
	ids := map[string]bool{}
	var flakyID string
	for i, batch := range next.batches {
		sizes = append(sizes, len(batch))
		if i == 2 {
			// The retry of the record the batch before failed.
			continue
		}
		for _, rec := range batch {
			if rec.ID == "" || ids[rec.ID] {
				t.Errorf("record %s has id %q: empty or shared", rec.Tenant, rec.ID)
			}
			ids[rec.ID] = true
			switch rec.Tenant {
			case "flaky":
				flakyID = rec.ID
			case "t020":
				if rec.ID != "given-id" {
					t.Errorf("record's own id replaced by %q", rec.ID)
				}
			}
		}
	}
	if !slices.Equal(sizes, []int{1, maxBatch, 1, 300 - maxBatch}) {
		t.Fatalf("batch sizes = %v, want [1 %d 1 %d]", sizes, maxBatch, 300-maxBatch)
	}
	// The record the batch failed is tried again as a batch of its own,
	// under the same id, never through the one-by-one path.
	if retry := next.batches[2]; retry[0].Tenant != "flaky" || retry[0].ID != flakyID {
		t.Errorf("retried = %+v, want the flaky record with id %q", retry, flakyID)
	}
	if len(next.singles) != 0 {
		t.Errorf("recorded one by one: %+v", next.singles)
	}
}

func TestOutboxRecordAfterClose(t *testing.T) {
	t.Parallel()

	o := NewOutbox(&recorderFunc{}, OutboxConfig{Size: 4, Workers: 1})
	o.Close()
	o.Close() // twice is fine
	if err := o.Record(context.Background(), Record{Tenant: "acme"}); !errors.Is(err, ErrOutboxClosed) {
		t.Errorf("Record after Close = %v, want ErrOutboxClosed", err)
	}
}

// stuckRecorder never gets a batch through: it waits until its context ends.
type stuckRecorder struct{ ended chan struct{} }

func (s *stuckRecorder) Record(ctx context.Context, _ Record) error {
	<-ctx.Done()
	return ctx.Err()
}

func (s *stuckRecorder) RecordBatch(ctx context.Context, recs []Record) []Record {
	<-ctx.Done()
	select {
	case s.ended <- struct{}{}:
	default:
	}
	return recs
}

// With the bus away, Close gives up the queued records after its timeout
// instead of retrying them forever.
func TestOutboxCloseGivesUp(t *testing.T) {
	t.Parallel()

	next := &stuckRecorder{ended: make(chan struct{}, 1)}
	o := NewOutbox(next, OutboxConfig{Size: 100, Workers: 1, CloseTimeout: 50 * time.Millisecond})
	for i := range 10 {
		if err := o.Record(context.Background(), Record{Tenant: fmt.Sprintf("t%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	o.Close() // returns: the test would time out otherwise
	select {
	case <-next.ended:
	default:
		t.Error("the publish in flight was not ended by Close")
	}
	if err := o.Record(context.Background(), Record{Tenant: "late"}); !errors.Is(err, ErrOutboxClosed) {
		t.Errorf("Record after Close: %v, want ErrOutboxClosed", err)
	}
}

// A worker that lingers publishes what arrived meanwhile with the first
// record, and Close does not wait for the linger to end.
func TestOutboxLingers(t *testing.T) {
	t.Parallel()

	next := &batchRecorder{}
	o := NewOutbox(next, OutboxConfig{Size: 100, Workers: 1, Linger: time.Hour})
	for i := range 5 {
		if err := o.Record(context.Background(), Record{Tenant: fmt.Sprintf("t%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	o.Close()
	next.mu.Lock()
	defer next.mu.Unlock()
	if len(next.batches) != 1 || len(next.batches[0]) != 5 {
		var sizes []int
		for _, b := range next.batches {
			sizes = append(sizes, len(b))
		}
		t.Errorf("batch sizes %v, want one batch of 5", sizes)
	}

	// A short linger ends by itself.
	next = &batchRecorder{}
	o = NewOutbox(next, OutboxConfig{Size: 100, Workers: 1, Linger: time.Millisecond})
	defer o.Close()
	if err := o.Record(context.Background(), Record{Tenant: "alone"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a lone record published after its linger", func() bool {
		next.mu.Lock()
		defer next.mu.Unlock()
		return len(next.batches) == 1
	})
}
