// Package querycache keeps the answers to frequent searches per tenant.
// Every tenant has a generation that each change to its index advances;
// an answer is stored with the generation it was computed under and is
// served only while the tenant is still at that generation, so a change
// makes every earlier answer of that tenant unreachable at once, and an
// answer computed while a change landed is never stored as current.
package querycache

import (
	"container/list"
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/keelhq/keel/services/retrieve/internal/store"
)

// Defaults of a Cache.
const (
	DefaultEntries = 4096
	DefaultTTL     = 5 * time.Minute
)

// Key identifies a search within a tenant: everything that shapes its
// answer, with list order and repeats made irrelevant.
type Key [sha256.Size]byte

// KeyOf returns the key of q, whose vector is left out: it follows from
// the text and the embedding model, which the key holds.
func KeyOf(q store.Query) Key {
	h := sha256.New()
	field := func(s string) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	list := func(values []string) {
		values = slices.Clone(values)
		slices.Sort(values)
		values = slices.Compact(values)
		field(strconv.Itoa(len(values)))
		for _, v := range values {
			field(v)
		}
	}
	field(q.Text)
	field(q.Model)
	field(strconv.Itoa(q.TopK))
	list(q.Kinds)
	list(q.Sources)
	list(q.Tags)
	field(q.CreatedAfter.UTC().Format(time.RFC3339Nano))
	field(q.CreatedBefore.UTC().Format(time.RFC3339Nano))
	list(q.Principals)
	var k Key
	h.Sum(k[:0])
	return k
}

// Options configures a Cache.
type Options struct {
	// Entries bounds the answers kept across tenants (DefaultEntries when
	// zero); the least recently used goes first.
	Entries int
	// TTL bounds the age of an answer (DefaultTTL when zero). It caps how
	// stale an answer can be when the index is changed by another process,
	// which this cache does not hear about.
	TTL time.Duration
	// Now returns the time; time.Now when nil.
	Now func() time.Time
}

// Cache is a bounded LRU of search answers per tenant. It is safe for
// concurrent use. The zero value is not usable; call New. A nil *Cache
// keeps nothing: every Get misses.
type Cache struct {
	opts Options

	mu          sync.Mutex
	generations map[string]uint64
	entries     map[entryKey]*list.Element
	order       *list.List // of *entry, most recent first
	hits        uint64
	misses      uint64
}

type entryKey struct {
	tenant string
	key    Key
}

type entry struct {
	id         entryKey
	generation uint64
	stored     time.Time
	resp       store.Response
}

// New returns an empty Cache.
func New(opts Options) *Cache {
	if opts.Entries <= 0 {
		opts.Entries = DefaultEntries
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Cache{
		opts:        opts,
		generations: make(map[string]uint64),
		entries:     make(map[entryKey]*list.Element),
		order:       list.New(),
	}
}

// Generation returns the current generation of tenantID, to be passed to
// Put with the answer of a search started after this call.
func (c *Cache) Generation(tenantID string) uint64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.generations[tenantID]
}

// Get returns the stored answer to key in tenantID, if it is current and
// younger than the TTL. The answer is the caller's to change.
func (c *Cache) Get(tenantID string, key Key) (store.Response, bool) {
	if c == nil {
		return store.Response{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	id := entryKey{tenantID, key}
	el, ok := c.entries[id]
	if !ok {
		c.misses++
		return store.Response{}, false
	}
	e := el.Value.(*entry)
	if e.generation != c.generations[tenantID] || c.opts.Now().Sub(e.stored) >= c.opts.TTL {
		c.drop(el)
		c.misses++
		return store.Response{}, false
	}
	c.order.MoveToFront(el)
	c.hits++
	return cloneResponse(e.resp), true
}

// Put stores resp as the answer to key in tenantID, computed at generation.
// A partial answer is not stored, nor one whose tenant has changed since
// generation was read.
func (c *Cache) Put(tenantID string, key Key, generation uint64, resp store.Response) {
	if c == nil || resp.Partial() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if generation != c.generations[tenantID] {
		return
	}
	id := entryKey{tenantID, key}
	if el, ok := c.entries[id]; ok {
		c.drop(el)
	}
	c.entries[id] = c.order.PushFront(&entry{
		id:         id,
		generation: generation,
		stored:     c.opts.Now(),
		resp:       cloneResponse(resp),
	})
	for c.order.Len() > c.opts.Entries {
		c.drop(c.order.Back())
	}
}

// Invalidate advances tenantID's generation, so that no answer stored
// before reaches a caller again. The stale answers are freed when next
// asked for or when they become the least recently used, so that a tenant
// ingesting thousands of chunks a second does not pay for a sweep each
// time.
func (c *Cache) Invalidate(tenantID string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.generations[tenantID]++
}

// Stats returns the hits and misses of Get so far and the answers kept.
func (c *Cache) Stats() (hits, misses uint64, entries int) {
	if c == nil {
		return 0, 0, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses, c.order.Len()
}

// drop removes el. The caller holds mu.
func (c *Cache) drop(el *list.Element) {
	e := c.order.Remove(el).(*entry)
	delete(c.entries, e.id)
}

// cloneResponse copies r deeply enough that neither side can change the
// other's slices.
func cloneResponse(r store.Response) store.Response {
	out := store.Response{Missing: slices.Clone(r.Missing), Results: slices.Clone(r.Results)}
	for i := range out.Results {
		c := &out.Results[i].Chunk
		c.ACL = slices.Clone(c.ACL)
		c.HeadingPath = slices.Clone(c.HeadingPath)
		c.Tags = slices.Clone(c.Tags)
		c.Subjects = slices.Clone(c.Subjects)
		c.Vector = nil
	}
	return out
}
