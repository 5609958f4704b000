package devstack

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// A start that fails half way returns an error, not a panic, and stops what
// it had started: the private Postgres cluster must not be left running.
func TestFailedStartCleansUp(t *testing.T) {
	// Hold the fixed NATS port so that the start fails after Postgres is up.
	// If something else holds it already, the start fails all the same.
	if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(DefaultNATSPort)); err == nil {
		t.Cleanup(func() { l.Close() })
	}
	base := t.TempDir()
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	st, err := Start(ctx, Options{DataDir: base})
	if err == nil {
		st.Stop()
		t.Fatal("Start succeeded with the NATS port taken")
	}
	if _, statErr := os.Stat(filepath.Join(base, "postgres", "postmaster.pid")); !errors.Is(statErr, os.ErrNotExist) {
		t.Fatalf("private postgres still running after the failed start (postmaster.pid: %v); start error: %v", statErr, err)
	}
}
