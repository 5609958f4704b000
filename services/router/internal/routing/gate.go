package routing

import "context"

// gate caps the calls in flight to a provider and keeps part of the cap for
// interactive calls: batch calls must first pass a smaller inner cap, so at
// most capacity-reserve of them run and reserve slots stay free for
// interactive calls however many batch calls wait.
type gate struct {
	all   chan struct{}
	batch chan struct{}
}

// newGate returns a gate for capacity calls, reserve of them interactive
// only; nil when capacity is zero (no cap).
func newGate(capacity, reserve int) *gate {
	if capacity <= 0 {
		return nil
	}
	return &gate{
		all:   make(chan struct{}, capacity),
		batch: make(chan struct{}, capacity-reserve),
	}
}

// acquire waits for a slot for priority p, or for ctx to end. The returned
// function gives the slot back.
func (g *gate) acquire(ctx context.Context, p Priority) (func(), error) {
	if p == Batch {
		select {
		case g.batch <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	select {
	case g.all <- struct{}{}:
	case <-ctx.Done():
		if p == Batch {
			<-g.batch
		}
		return nil, ctx.Err()
	}
	return func() {
		<-g.all
		if p == Batch {
			<-g.batch
		}
	}, nil
}
