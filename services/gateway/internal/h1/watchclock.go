package h1

import "time"

// The watch of a connection for its client going away starts once the
// handler has run for WatchAfter. One goroutine per server, the watch clock,
// ticks while handlers run (every WatchAfter or minWatchTick, whichever is
// longer) and starts the watches that are due; a handler that ends first
// costs two map operations under a lock. A timer per request did the same, but a
// timer that is the earliest of its P wakes another thread to mind it: the
// clock took 10-23 µs off the one-client p50 and 2-4 µs of CPU off each
// call with 16 clients (BENCHMARKS.md, seventh pass). A watch starts up to
// one tick after it is due.

// minWatchTick is the shortest tick of the watch clock: each tick wakes a
// thread, a few hundred times a second costs less than a timer per request.
const minWatchTick = 5 * time.Millisecond

// clockIdleTicks is how many ticks the clock goes on with no handler
// running before its goroutine ends; the next handler starts another. Once
// the server shuts down, the clock ends as soon as no handler runs: a tick
// may be as long as WatchAfter, and a clock that went on for a hundred of
// them would outlive Shutdown by as much.
const clockIdleTicks = 100

// dueWatch is a running handler whose watch is not started yet: its
// connection's request count, and when the watch is due.
type dueWatch struct {
	gen uint64
	due time.Time
}

func (s *Server) watchAfter() time.Duration {
	if s.WatchAfter > 0 {
		return s.WatchAfter
	}
	return DefaultWatchAfter
}

// watchLater puts the handler of request gen on c under the watch clock,
// starting the clock if it stopped.
func (s *Server) watchLater(c *conn, gen uint64) {
	after := s.watchAfter()
	due := time.Now().Add(after)
	s.clockMu.Lock()
	if s.running == nil {
		s.running = make(map[*conn]dueWatch)
	}
	s.running[c] = dueWatch{gen: gen, due: due}
	start := !s.clockRun
	s.clockRun = true
	var wake chan struct{}
	if start {
		wake = make(chan struct{}, 1)
		s.clockWake = wake
	}
	s.clockMu.Unlock()
	if start {
		go s.runWatchClock(max(after, minWatchTick), wake)
	}
}

// watchNoMore takes c's handler from the clock: it has returned.
func (s *Server) watchNoMore(c *conn) {
	s.clockMu.Lock()
	delete(s.running, c)
	s.wakeClockLocked()
	s.clockMu.Unlock()
}

// stopClock has the clock end once no handler runs; Close and Shutdown
// call it.
func (s *Server) stopClock() {
	s.clockMu.Lock()
	s.wakeClockLocked()
	s.clockMu.Unlock()
}

// wakeClockLocked wakes the clock, when the server is shutting down and no
// handler runs, for it to end.
func (s *Server) wakeClockLocked() {
	if !s.clockRun || len(s.running) > 0 || !s.shutdown.Load() {
		return
	}
	select {
	case s.clockWake <- struct{}{}:
	default:
	}
}

func (s *Server) runWatchClock(tick time.Duration, wake <-chan struct{}) {
	t := time.NewTicker(tick)
	defer t.Stop()
	var (
		due  []*conn
		gens []uint64
		idle int
	)
	for {
		var now time.Time
		select {
		case now = <-t.C:
		case <-wake:
			s.clockMu.Lock()
			if len(s.running) == 0 && s.shutdown.Load() {
				s.clockRun = false
				s.clockMu.Unlock()
				return
			}
			s.clockMu.Unlock()
			continue
		}
		due, gens = due[:0], gens[:0]
		s.clockMu.Lock()
		for c, w := range s.running {
			if !now.Before(w.due) {
				due, gens = append(due, c), append(gens, w.gen)
				delete(s.running, c)
			}
		}
		if len(s.running) == 0 && len(due) == 0 {
			idle++
		} else {
			idle = 0
		}
		if idle >= clockIdleTicks {
			s.clockRun = false
			s.clockMu.Unlock()
			return
		}
		s.clockMu.Unlock()
		for i, c := range due {
			c.watchIsDue(gens[i])
		}
	}
}
