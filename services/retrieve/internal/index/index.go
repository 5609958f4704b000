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
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/keelhq/keel/services/retrieve/internal/store"
)

// DefaultSnapshotDelay is how long a tenant's changes gather before its
// snapshot is written, unless Options says otherwise.
const DefaultSnapshotDelay = time.Second

// The chunk, query and result types and the errors are those of the store
// contract, which Store implements.
type (
	Chunk    = store.Chunk
	Query    = store.Query
	Result   = store.Result
	Response = store.Response
)

var (
	ErrInvalidTenant = store.ErrInvalidTenant
	ErrInvalidBatch  = store.ErrInvalidBatch
	ErrInvalidQuery  = store.ErrInvalidQuery
	ErrClosed        = store.ErrClosed
)

var _ store.Backend = (*Store)(nil)

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

	// builds counts the graphs being built in the background after Open.
	builds sync.WaitGroup
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
// graph file. Graphs the file cannot give (missing, out of date or
// corrupt) are built in the background from the snapshot's vectors; until
// each is ready its group is searched by exact scan, and changes made
// meanwhile are applied to it before it is used. A rebuilt graph is written
// to the file shortly after.
func (s *Store) loadGraphs(tenantID string, ti *tenantIndex) {
	saved, readErr := readGraphFile(s.opts.Dir, tenantID)
	problem := ti.attachGraphs(saved)
	if problem != nil && readErr != nil {
		problem = readErr
	}
	if problem != nil {
		s.graphError(tenantID, fmt.Errorf("graph file not used, graphs rebuilt in the background: %w", problem))
	}

	ti.mu.Lock()
	jobs := ti.startBuilds()
	syncErr := ti.syncGraphs()
	ti.mu.Unlock()
	if syncErr != nil {
		s.graphError(tenantID, syncErr)
	}
	for _, job := range jobs {
		s.builds.Add(1)
		go func() {
			defer s.builds.Done()
			if err := ti.finishBuild(job); err != nil {
				s.graphError(tenantID, err)
			}
			s.changed(tenantID, ti)
		}()
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
// returns ErrInvalidTenant, ErrInvalidBatch or ErrClosed. It does not
// block, so ctx is not consulted.
func (s *Store) Replace(_ context.Context, tenantID, docID string, chunks []Chunk) error {
	if err := store.ValidTenant(tenantID); err != nil {
		return err
	}
	if err := store.ValidBatch(docID, chunks); err != nil {
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
		c.HeadingPath = slices.Clone(c.HeadingPath)
		c.Tags = slices.Clone(c.Tags)
		c.Subjects = slices.Clone(c.Subjects)
		owned[i] = c
	}
	_, graphErr := ti.replaceDocs([]string{docID}, owned)
	if graphErr != nil {
		s.graphError(tenantID, graphErr)
	}
	s.changed(tenantID, ti)
	return nil
}

// DeleteDocuments removes every chunk of the documents docIDs and returns
// how many chunks went. A document that is not indexed is not an error. It
// returns ErrInvalidTenant or ErrClosed.
func (s *Store) DeleteDocuments(_ context.Context, tenantID string, docIDs []string) (int, error) {
	if err := store.ValidTenant(tenantID); err != nil {
		return 0, err
	}
	ti, err := s.tenant(tenantID, false)
	if err != nil || ti == nil {
		return 0, err
	}
	removed, graphErr := ti.replaceDocs(docIDs, nil)
	if graphErr != nil {
		s.graphError(tenantID, graphErr)
	}
	if removed > 0 {
		s.changed(tenantID, ti)
	}
	return removed, nil
}

// SubjectDocuments returns the ids of tenant's documents with a chunk that
// names subject among its data subjects, sorted. An empty subject names
// nobody. It returns ErrInvalidTenant or ErrClosed.
func (s *Store) SubjectDocuments(_ context.Context, tenantID, subject string) ([]string, error) {
	if err := store.ValidTenant(tenantID); err != nil {
		return nil, err
	}
	ti, err := s.tenant(tenantID, false)
	if err != nil || ti == nil || subject == "" {
		return nil, err
	}
	ti.mu.RLock()
	defer ti.mu.RUnlock()
	docs := make(map[string]bool)
	for _, e := range ti.entries {
		if !docs[e.chunk.DocID] && slices.Contains(e.chunk.Subjects, subject) {
			docs[e.chunk.DocID] = true
		}
	}
	return slices.Sorted(maps.Keys(docs)), nil
}

// Stats returns the number of documents and chunks of tenant. It returns
// ErrInvalidTenant or ErrClosed.
func (s *Store) Stats(_ context.Context, tenantID string) (documents, chunks int, err error) {
	if err := store.ValidTenant(tenantID); err != nil {
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
// directory. It never fails.
func (s *Store) Empty(context.Context) (bool, error) {
	s.mu.RLock()
	tenants := slices.Collect(maps.Values(s.tenants))
	s.mu.RUnlock()

	for _, ti := range tenants {
		ti.mu.RLock()
		n := len(ti.entries)
		ti.mu.RUnlock()
		if n > 0 {
			return false, nil
		}
	}
	return true, nil
}

// Close waits for the graphs Open is building, writes every pending
// snapshot and stops the store. It returns the
// snapshot errors joined; calling it again returns nil.
func (s *Store) Close() error {
	// Graphs still building after Open are waited for, so that they are
	// written with the snapshots.
	s.builds.Wait()
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

// snapshotCostFactor bounds the time spent writing a tenant's snapshots to
// about one part in snapshotCostFactor+1 of its time under constant change.
const snapshotCostFactor = 8

// changed marks ti dirty and schedules its snapshot after SnapshotDelay, or
// longer for a tenant whose snapshots take long to write, unless one is
// already scheduled.
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
	// A large tenant under steady change would otherwise spend most of its
	// time writing snapshots: the next one waits at least
	// snapshotCostFactor times as long as the last one took.
	delay := max(s.opts.SnapshotDelay, snapshotCostFactor*ti.lastSave)
	ti.timer = time.AfterFunc(delay, func() {
		ti.mu.Lock()
		ti.timer = nil
		ti.mu.Unlock()
		if err := s.save(tenantID, ti); err != nil && s.opts.OnSnapshotError != nil {
			s.opts.OnSnapshotError(tenantID, err)
		}
	})
}
