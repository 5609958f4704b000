package index

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/keelhq/keel/pkg/tenant"
)

// Snapshot files are named <tenant>.snap; a write goes to a temporary file
// first and is renamed over the old snapshot, so a crash leaves either the
// old or the new one. The tenant's graph file (see graphfile.go) is written
// after it in the same way.
const (
	snapshotExt     = ".snap"
	snapshotTempExt = ".tmp"
	// snapshotVersion is the version of the gob snapshots of earlier
	// releases, which Open still reads; snapcodec.go writes the current
	// format.
	snapshotVersion = 1
)

// ErrSnapshotCorrupt is returned by Open when a snapshot file cannot be
// decoded or belongs to another tenant than its name says.
var ErrSnapshotCorrupt = errors.New("index: snapshot corrupt")

// snapshot is the content of one tenant's file (gob-encoded in version 1).
type snapshot struct {
	Version int
	Tenant  string
	Chunks  []Chunk
}

// save writes ti's snapshot and then its graph file when it has changed
// since the last save. The tenant is marked dirty again when a write fails.
func (s *Store) save(tenantID string, ti *tenantIndex) error {
	if s.opts.Dir == "" {
		return nil
	}
	ti.saveMu.Lock()
	defer ti.saveMu.Unlock()

	// Chunks are never mutated once indexed, so the copy can be encoded
	// outside the lock.
	ti.mu.Lock()
	if !ti.dirty {
		ti.mu.Unlock()
		return nil
	}
	snap := snapshot{Version: snapshotVersion, Tenant: tenantID, Chunks: ti.chunks()}
	version := ti.version
	ti.dirty = false
	ti.mu.Unlock()

	start := time.Now()
	err := writeSnapshot(s.opts.Dir, snap)
	if err == nil {
		err = s.saveGraphs(tenantID, ti, version)
	}
	took := time.Since(start)
	ti.mu.Lock()
	ti.lastSave = took
	if err != nil {
		ti.dirty = true
	}
	ti.mu.Unlock()
	return err
}

// saveGraphs writes ti's graph file when ti has not changed since version,
// the state its snapshot holds. Otherwise the change has made ti dirty
// again and the next save writes both files; until then the graph file on
// disk no longer matches the snapshot and Open would rebuild the graphs.
//
// The graphs cannot change during the write, so the tenant's changes wait
// for it, and its searches wait behind a waiting change.
func (s *Store) saveGraphs(tenantID string, ti *tenantIndex, version uint64) error {
	ti.mu.RLock()
	defer ti.mu.RUnlock()
	if ti.version != version {
		return nil
	}
	return writeGraphFile(s.opts.Dir, tenantID, ti.graphHeaders())
}

// writeSnapshot writes snap to dir atomically.
func writeSnapshot(dir string, snap snapshot) (err error) {
	f, err := os.CreateTemp(dir, snap.Tenant+".*"+snapshotTempExt)
	if err != nil {
		return fmt.Errorf("create snapshot of %s: %w", snap.Tenant, err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()

	if err := encodeSnapshot(f, snap.Tenant, snap.Chunks); err != nil {
		return fmt.Errorf("write snapshot of %s: %w", snap.Tenant, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync snapshot of %s: %w", snap.Tenant, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close snapshot of %s: %w", snap.Tenant, err)
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, snap.Tenant+snapshotExt)); err != nil {
		return fmt.Errorf("replace snapshot of %s: %w", snap.Tenant, err)
	}
	return nil
}

// loadSnapshots creates dir if needed, removes temporary files a crash left
// behind and returns the chunks of every tenant snapshot in it.
func loadSnapshots(dir string) (map[string][]Chunk, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create index dir: %w", err)
	}
	files, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read index dir: %w", err)
	}

	loaded := make(map[string][]Chunk)
	for _, file := range files {
		name := file.Name()
		if file.IsDir() {
			continue
		}
		if strings.HasSuffix(name, snapshotTempExt) {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return nil, fmt.Errorf("remove stale snapshot %s: %w", name, err)
			}
			continue
		}
		id, ok := strings.CutSuffix(name, snapshotExt)
		if !ok || tenant.Valid(id) != nil {
			continue
		}
		chunks, err := readSnapshot(filepath.Join(dir, name), id)
		if err != nil {
			return nil, err
		}
		loaded[id] = chunks
	}
	return loaded, nil
}

// readSnapshot decodes the snapshot at path, in either format, and checks
// that it belongs to tenantID and holds well-formed chunks.
func readSnapshot(path, tenantID string) ([]Chunk, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("open snapshot of %s: %w", tenantID, err)
	}

	var snap snapshot
	if bytes.HasPrefix(data, []byte(snapshotMagic)) {
		snap.Tenant, snap.Chunks, err = decodeSnapshot(data)
		if err != nil {
			return nil, fmt.Errorf("%w: decode %s: %w", ErrSnapshotCorrupt, path, err)
		}
	} else {
		if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&snap); err != nil {
			return nil, fmt.Errorf("%w: decode %s: %w", ErrSnapshotCorrupt, path, err)
		}
		if snap.Version != snapshotVersion {
			return nil, fmt.Errorf("%w: %s has version %d, want %d", ErrSnapshotCorrupt, path, snap.Version, snapshotVersion)
		}
	}
	if snap.Tenant != tenantID {
		return nil, fmt.Errorf("%w: %s holds tenant %q", ErrSnapshotCorrupt, path, snap.Tenant)
	}
	for i, c := range snap.Chunks {
		if c.ID == "" || c.DocID == "" {
			return nil, fmt.Errorf("%w: %s chunk %d has no id", ErrSnapshotCorrupt, path, i)
		}
	}
	return snap.Chunks, nil
}
