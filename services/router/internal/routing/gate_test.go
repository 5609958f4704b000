package routing

import (
	"context"
	"errors"
	"testing"
	"time"
)

// acquireNow takes a slot that must be free; a full gate fails the test
// after a generous wait instead of hanging it.
func acquireNow(t *testing.T, g *gate, p Priority) func() {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	release, err := g.acquire(ctx, p)
	if err != nil {
		t.Fatalf("acquire(%v): %v", p, err)
	}
	return release
}

func TestGateInteractiveReserve(t *testing.T) {
	t.Parallel()

	g := newGate(3, 1)
	b1 := acquireNow(t, g, Batch)
	b2 := acquireNow(t, g, Batch)

	// A third batch call waits...
	third := make(chan func(), 1)
	go func() {
		release, err := g.acquire(context.Background(), Batch)
		if err != nil {
			t.Errorf("third batch call: %v", err)
			return
		}
		third <- release
	}()

	// ...while an interactive call still gets the reserved slot.
	i1 := acquireNow(t, g, Interactive)
	select {
	case <-third:
		t.Fatal("third batch call admitted beyond capacity minus reserve")
	default:
	}
	if len(g.all) != 3 {
		t.Errorf("slots taken = %d, want 3", len(g.all))
	}

	// With every slot taken, a batch call that gives up gets the context's
	// error.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.acquire(ctx, Batch); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled wait: %v, want context.Canceled", err)
	}
	if _, err := g.acquire(ctx, Interactive); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled interactive wait: %v, want context.Canceled", err)
	}

	// A batch slot freed goes to the waiting batch call.
	b1()
	b3 := <-third
	b2()
	b3()
	i1()
	if len(g.all) != 0 || len(g.batch) != 0 {
		t.Errorf("slots held after every release: all %d, batch %d", len(g.all), len(g.batch))
	}
}

// TestGateCancelWhileHoldingBatchSlot cancels a batch call that got its
// batch slot and waits for a general one: it must give the batch slot back.
func TestGateCancelWhileHoldingBatchSlot(t *testing.T) {
	t.Parallel()

	g := newGate(2, 1)
	i1 := acquireNow(t, g, Interactive)
	i2 := acquireNow(t, g, Interactive)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := g.acquire(ctx, Batch)
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("acquire = %v, want context.Canceled", err)
	}
	if len(g.batch) != 0 {
		t.Errorf("batch slots held after a cancelled wait: %d", len(g.batch))
	}
	i1()
	i2()
	// Both kinds still get their full share.
	b := acquireNow(t, g, Batch)
	i := acquireNow(t, g, Interactive)
	b()
	i()
}

func TestGateInteractiveUsesAll(t *testing.T) {
	t.Parallel()

	g := newGate(3, 1)
	var releases []func()
	for range 3 {
		releases = append(releases, acquireNow(t, g, Interactive))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.acquire(ctx, Interactive); !errors.Is(err, context.Canceled) {
		t.Errorf("fourth call: %v, want it to wait until cancelled", err)
	}
	for _, r := range releases {
		r()
	}
	if newGate(0, 0) != nil {
		t.Error("a zero capacity gate is not nil (no cap)")
	}
}
