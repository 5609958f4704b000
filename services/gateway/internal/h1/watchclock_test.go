package h1

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"
)

func (s *Server) clockState() (running int, on bool) {
	s.clockMu.Lock()
	defer s.clockMu.Unlock()
	return len(s.running), s.clockRun
}

// The watch clock starts the watch of a handler that runs long enough,
// stops once nothing has run for a while, and starts again with the next
// handler.
func TestWatchClockStopsAndStartsAgain(t *testing.T) {
	t.Parallel()
	cause := make(chan error, 1)
	srv, addr := start(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			cause <- context.Cause(r.Context())
		case <-time.After(10 * time.Second):
			cause <- nil
		}
	}, func(s *Server) { s.WatchAfter = 2 * time.Millisecond })

	goneMidway := func() {
		t.Helper()
		c := dial(t, addr)
		_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		time.Sleep(30 * time.Millisecond)
		_ = c.Close()
		if err := <-cause; !errors.Is(err, errClientGone) {
			t.Fatalf("request context ended with %v, want %v", err, errClientGone)
		}
	}
	goneMidway()
	// 100 idle ticks of 5 ms, and then some.
	waitClockOff(t, srv, "long after the last handler")
	goneMidway()
}

// waitClockOff waits up to 5 s for srv's watch clock to stop, with no
// handler under it.
func waitClockOff(t *testing.T, srv *Server, when string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, on := srv.clockState()
		if n == 0 && !on {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("watch clock still on (%d handlers under it) %s", n, when)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A handler that ends before its watch is due leaves nothing under the
// clock, and never had its connection watched.
func TestShortHandlersAreNotWatched(t *testing.T) {
	t.Parallel()
	var srv *Server
	srv, addr := start(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "quick")
	}, func(s *Server) { s.WatchAfter = time.Hour })
	c := client(nil)
	for range 20 {
		resp, err := c.Get("http://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if n, _ := srv.clockState(); n != 0 {
			t.Fatalf("%d handlers left under the watch clock after their answers", n)
		}
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	for conn := range srv.conns {
		conn.wmu.Lock()
		watched := conn.watchDue || conn.watching
		conn.wmu.Unlock()
		if watched {
			t.Fatal("a connection was watched although no handler ran for WatchAfter")
		}
	}
}

// The watch clock ends with the server, however long its tick: after
// Shutdown (and after Close, once the handlers still running return) no
// goroutine of the server goes on ticking.
func TestWatchClockEndsWithTheServer(t *testing.T) {
	t.Parallel()
	for _, stop := range []string{"Shutdown", "Close"} {
		t.Run(stop, func(t *testing.T) {
			t.Parallel()
			entered, release := make(chan struct{}), make(chan struct{})
			srv, addr := start(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/slow" {
					close(entered)
					<-release
				}
				_, _ = io.WriteString(w, "done")
			}, func(s *Server) { s.WatchAfter = time.Hour })
			raw(t, addr, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			c := dial(t, addr)
			_, _ = io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
			<-entered
			if stop == "Shutdown" {
				go func() { _ = srv.Shutdown(context.Background()) }()
			} else {
				_ = srv.Close()
			}
			time.Sleep(20 * time.Millisecond)
			if _, on := srv.clockState(); !on {
				t.Fatal("watch clock stopped with a handler still running")
			}
			close(release)
			waitClockOff(t, srv, "seconds after "+stop)
		})
	}
}
