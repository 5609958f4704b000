//go:build unix

package natsserver

import (
	"errors"
	"testing"
)

// A second server on a store in use is refused; once the first has shut
// down, the store can be used again.
func TestStoreLocked(t *testing.T) {
	dir := t.TempDir()
	first, err := Start(Options{StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if second, err := Start(Options{StoreDir: dir}); !errors.Is(err, ErrStoreInUse) {
		if second != nil {
			second.Shutdown()
		}
		t.Fatalf("second server on the same store: %v, want %v", err, ErrStoreInUse)
	}
	first.Shutdown()
	again, err := Start(Options{StoreDir: dir})
	if err != nil {
		t.Fatalf("after the first shut down: %v", err)
	}
	again.Shutdown()
}
