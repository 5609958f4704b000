//go:build unix

package natsserver

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// ErrStoreInUse is returned by Start when another server, in this process
// or another, uses the store directory.
var ErrStoreInUse = errors.New("natsserver: store directory in use by another server")

// lockWait is how long Start waits for a store a server that is shutting
// down still holds.
const lockWait = 2 * time.Second

// lockStore takes an exclusive lock on dir for as long as the server runs.
func lockStore(dir string) (func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("natsserver: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("natsserver: %w", err)
	}
	deadline := time.Now().Add(lockWait)
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			_ = f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, fmt.Errorf("%w: %s", ErrStoreInUse, dir)
			}
			return nil, fmt.Errorf("natsserver: lock %s: %w", dir, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
