// Package index is the embedded hybrid search index of the retrieve service.
// Every tenant has its own index, reached only through its tenant id: dense
// vectors compared by cosine similarity, a BM25 keyword index over the chunk
// text, both legs fused by reciprocal rank fusion, and filters by kind,
// source and access list applied inside each leg, before ranking.
//
// The dense leg scans a tenant's vectors of one embedding model and
// dimension exactly while they are few, and searches them through an HNSW
// graph (package hnsw) from graphThreshold vectors on. Each tenant's chunks
// are snapshotted to a file shortly after they change and its graphs to a
// second file beside it; Open loads both, so a restart neither embeds the
// documents again nor, unless the graph file is missing or out of date,
// rebuilds the graphs.
package index

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/keelhq/keel/pkg/tenant"
)

// Defaults for Options and Query.
const (
	DefaultSnapshotDelay = time.Second
	DefaultTopK          = 5
)

var (
	// ErrInvalidTenant is returned when a tenant id is empty or malformed.
	ErrInvalidTenant = errors.New("index: invalid tenant")
	// ErrInvalidBatch is returned by Replace for a document without an id or
	// with chunks that lack an id or repeat one.
	ErrInvalidBatch = errors.New("index: invalid chunk batch")
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("index: closed")
)

// Chunk is one indexed passage of a document.
type Chunk struct {
	ID      string
	DocID   string
	Ordinal int
	Title   string
	Text    string
	Kind    string
	Source  string
	// ACL lists the principals that may read the chunk; empty means every
	// principal of the tenant.
	ACL []string
	// Vector is the chunk's embedding and Model the model that made it.
	Vector []float32
	Model  string
	// Start and End are byte offsets of Text in the source document.
	Start, End int
	// HeadingPath is the section the chunk comes from, outermost first.
	HeadingPath []string
	// Header is what the chunk continues (a table's header row, a diff's
	// hunk header); it counts for keyword search but is not part of Text.
	Header string
	// Quoted marks a chunk of an email's quoted reply chain.
	Quoted bool
}

// Options configures a Store.
type Options struct {
	// Dir holds one snapshot file per tenant. Empty keeps the index in
	// memory only.
	Dir string
	// SnapshotDelay is how long a tenant's changes gather before its
	// snapshot is written (default DefaultSnapshotDelay).
	SnapshotDelay time.Duration
	// OnSnapshotError, when set, is told about a background snapshot that
	// could not be written. The tenant stays dirty and is tried again on the
	// next change or on Close.
	OnSnapshotError func(tenant string, err error)
	// OnGraphError, when set, is told about a graph problem the store got
	// over: a graph file that Open could not use (missing, out of date or
	// corrupt), after which the tenant's graphs were rebuilt from the
	// snapshot's vectors, or a graph that could not be built or updated,
	// after which its vectors are searched by exact scan.
	OnGraphError func(tenant string, err error)
}

// Store holds the index of every tenant. It is safe for concurrent use.
type Store struct {
	opts Options

	mu      sync.RWMutex
	tenants map[string]*tenantIndex
	closed  bool
}

// Open returns a Store and loads every tenant snapshot found in opts.Dir,
// creating the directory when it does not exist. It returns an error
// wrapping ErrSnapshotCorrupt when a snapshot cannot be read.
func Open(opts Options) (*Store, error) {
	if opts.SnapshotDelay <= 0 {
		opts.SnapshotDelay = DefaultSnapshotDelay
	}
	s := &Store{opts: opts, tenants: make(map[string]*tenantIndex)}
	if opts.Dir == "" {
		return s, nil
	}

	loaded, err := loadSnapshots(opts.Dir)
	if err != nil {
		return nil, err
	}
	for _, id := range slices.Sorted(maps.Keys(loaded)) {
		ti := newTenantIndex()
		for _, c := range loaded[id] {
			ti.add(c)
		}
		s.tenants[id] = ti
		s.loadGraphs(id, ti)
	}
	return s, nil
}

// loadGraphs gives ti, just loaded from its snapshot, the graphs of its
// graph file, or builds them when the file cannot be used. A rebuilt graph
// is written to the file again shortly after.
//
// TODO: rebuild in the background with the exact scan serving meanwhile;
// today Open waits, about 40 s for a 100,000-chunk tenant.
func (s *Store) loadGraphs(tenantID string, ti *tenantIndex) {
	saved, readErr := readGraphFile(s.opts.Dir, tenantID)
	problem := ti.attachGraphs(saved)
	if problem != nil && readErr != nil {
		problem = readErr
	}

	ti.mu.Lock()
	syncErr := ti.syncGraphs()
	ti.mu.Unlock()

	if problem != nil {
		s.graphError(tenantID, fmt.Errorf("graph file not used, graphs rebuilt: %w", problem))
		s.changed(tenantID, ti)
	}
	if syncErr != nil {
		s.graphError(tenantID, syncErr)
	}
}

// graphError passes err to the OnGraphError hook, if any.
func (s *Store) graphError(tenantID string, err error) {
	if s.opts.OnGraphError != nil {
		s.opts.OnGraphError(tenantID, err)
	}
}

// Replace makes chunks the whole content of document docID of tenant: the
// document's previous chunks are removed first, so replaying the same batch
// leaves the index as it was. An empty chunks removes the document. It
// returns ErrInvalidTenant, ErrInvalidBatch or ErrClosed.
func (s *Store) Replace(tenantID, docID string, chunks []Chunk) error {
	if err := validTenant(tenantID); err != nil {
		return err
	}
	if err := validBatch(docID, chunks); err != nil {
		return err
	}

	ti, err := s.tenant(tenantID, true)
	if err != nil {
		return err
	}
	owned := make([]Chunk, len(chunks))
	for i, c := range chunks {
		c.DocID = docID
		c.ACL = slices.Clone(c.ACL)
		c.Vector = slices.Clone(c.Vector)
		owned[i] = c
	}
	graphErr := ti.replaceDoc(docID, owned)
	if graphErr != nil {
		s.graphError(tenantID, graphErr)
	}
	s.changed(tenantID, ti)
	return nil
}

// DeleteDocument removes every chunk of document docID of tenant. Deleting
// a document that is not indexed is not an error. It returns
// ErrInvalidTenant or ErrClosed.
func (s *Store) DeleteDocument(tenantID, docID string) error {
	return s.Replace(tenantID, docID, nil)
}

// Stats returns the number of documents and chunks of tenant. It returns
// ErrInvalidTenant or ErrClosed.
func (s *Store) Stats(tenantID string) (documents, chunks int, err error) {
	if err := validTenant(tenantID); err != nil {
		return 0, 0, err
	}
	ti, err := s.tenant(tenantID, false)
	if err != nil || ti == nil {
		return 0, 0, err
	}
	ti.mu.RLock()
	defer ti.mu.RUnlock()
	return len(ti.docs), len(ti.entries), nil
}

// Empty reports whether no tenant has any chunk, as for a new data
// directory.
func (s *Store) Empty() bool {
	s.mu.RLock()
	tenants := slices.Collect(maps.Values(s.tenants))
	s.mu.RUnlock()

	for _, ti := range tenants {
		ti.mu.RLock()
		n := len(ti.entries)
		ti.mu.RUnlock()
		if n > 0 {
			return false
		}
	}
	return true
}

// Close writes every pending snapshot and stops the store. It returns the
// snapshot errors joined; calling it again returns nil.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	tenants := maps.Clone(s.tenants)
	s.mu.Unlock()

	var errs []error
	for _, id := range slices.Sorted(maps.Keys(tenants)) {
		ti := tenants[id]
		ti.mu.Lock()
		if ti.timer != nil {
			ti.timer.Stop()
			ti.timer = nil
		}
		ti.mu.Unlock()
		if err := s.save(id, ti); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// tenant returns the index of tenantID, creating it when create is set. It
// returns nil without error for an unknown tenant when create is not set.
func (s *Store) tenant(tenantID string, create bool) (*tenantIndex, error) {
	s.mu.RLock()
	ti, closed := s.tenants[tenantID], s.closed
	s.mu.RUnlock()
	if closed {
		return nil, ErrClosed
	}
	if ti != nil || !create {
		return ti, nil
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if ti = s.tenants[tenantID]; ti == nil {
		ti = newTenantIndex()
		s.tenants[tenantID] = ti
	}
	return ti, nil
}

// changed marks ti dirty and schedules its snapshot after SnapshotDelay,
// unless one is already scheduled.
func (s *Store) changed(tenantID string, ti *tenantIndex) {
	if s.opts.Dir == "" {
		return
	}
	ti.mu.Lock()
	defer ti.mu.Unlock()
	ti.dirty = true
	if ti.timer != nil {
		return
	}
	ti.timer = time.AfterFunc(s.opts.SnapshotDelay, func() {
		ti.mu.Lock()
		ti.timer = nil
		ti.mu.Unlock()
		if err := s.save(tenantID, ti); err != nil && s.opts.OnSnapshotError != nil {
			s.opts.OnSnapshotError(tenantID, err)
		}
	})
}

func validTenant(id string) error {
	if err := tenant.Valid(id); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidTenant, err)
	}
	return nil
}

func validBatch(docID string, chunks []Chunk) error {
	if docID == "" {
		return fmt.Errorf("%w: document id is empty", ErrInvalidBatch)
	}
	seen := make(map[string]bool, len(chunks))
	for i, c := range chunks {
		if c.ID == "" {
			return fmt.Errorf("%w: chunk %d has no id", ErrInvalidBatch, i)
		}
		if seen[c.ID] {
			return fmt.Errorf("%w: chunk id %s repeats", ErrInvalidBatch, c.ID)
		}
		if c.DocID != "" && c.DocID != docID {
			return fmt.Errorf("%w: chunk %s belongs to document %s", ErrInvalidBatch, c.ID, c.DocID)
		}
		seen[c.ID] = true
	}
	return nil
}
