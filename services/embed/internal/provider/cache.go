package provider

import (
	"container/list"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/keelhq/keel/services/embed/internal/embedder"
)

// DefaultCacheEntries is the number of vectors a Cache keeps when none is
// configured. A vector of 1,536 dimensions takes 6 KiB.
const DefaultCacheEntries = 10_000

// Cache is an Embedder that remembers vectors, so that no text is sent to
// the wrapped embedder twice while its vector is cached. Entries are keyed
// by the model, the dimensions and the SHA-256 of the text, and the least
// recently used entry is evicted when the cache is full. Texts repeated
// within one call, and texts another call is already embedding, are sent
// only once. Callers get their own copies of the vectors. Cache is safe for
// concurrent use.
type Cache struct {
	next       embedder.Embedder
	maxEntries int

	mu      sync.Mutex
	lru     *list.List // of *cacheEntry, most recently used first
	entries map[cacheKey]*list.Element
	flights map[cacheKey]*flight
	hits    uint64
	misses  uint64
}

var _ embedder.Embedder = (*Cache)(nil)

// cacheKey identifies a vector: the model and dimensions that made it and
// the digest of its text.
type cacheKey struct {
	model  string
	dims   int
	digest [sha256.Size]byte
}

type cacheEntry struct {
	key    cacheKey
	vector []float32
}

// flight is a text being embedded by one call, which others wait for.
type flight struct {
	done   chan struct{}
	vector []float32
	err    error
}

// CacheStats counts what a Cache did.
type CacheStats struct {
	// Hits counts texts answered without sending them: cached, repeated
	// within a call, or already being embedded by another call.
	Hits uint64
	// Misses counts texts sent to the wrapped embedder.
	Misses uint64
	// Entries is the number of vectors cached now.
	Entries int
}

// NewCache returns a Cache around next that keeps at most maxEntries
// vectors (DefaultCacheEntries when maxEntries < 1).
func NewCache(next embedder.Embedder, maxEntries int) *Cache {
	if maxEntries < 1 {
		maxEntries = DefaultCacheEntries
	}
	return &Cache{
		next:       next,
		maxEntries: maxEntries,
		lru:        list.New(),
		entries:    make(map[cacheKey]*list.Element),
		flights:    make(map[cacheKey]*flight),
	}
}

// Model returns the wrapped embedder's model.
func (c *Cache) Model() string {
	return c.next.Model()
}

// Dimensions returns the wrapped embedder's dimensions.
func (c *Cache) Dimensions() int {
	return c.next.Dimensions()
}

// Stats returns the hit and miss counts and the number of entries.
func (c *Cache) Stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return CacheStats{Hits: c.hits, Misses: c.misses, Entries: c.lru.Len()}
}

// Embed returns one vector per text, sending only the texts that are
// neither cached nor being embedded by another call. It returns the wrapped
// embedder's error, or the context's error when ctx ends while waiting for
// another call's texts.
func (c *Cache) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	model, dims := c.next.Model(), c.next.Dimensions()
	keys := make([]cacheKey, len(texts))
	for i, text := range texts {
		keys[i] = cacheKey{model: model, dims: dims, digest: sha256.Sum256([]byte(text))}
	}

	vectors := make([][]float32, len(texts))
	pending := make([]int, 0, len(texts))
	for i := range texts {
		pending = append(pending, i)
	}
	// A text whose flight failed because its embedding call was cancelled
	// is looked up again; anything else ends the loop.
	for len(pending) > 0 {
		var err error
		pending, err = c.embedPending(ctx, texts, keys, vectors, pending)
		if err != nil {
			return nil, err
		}
	}
	return vectors, nil
}

// embedPending fills vectors at the positions in pending: from the cache,
// from other calls' flights, or by sending the rest. It returns the
// positions whose flight was abandoned by a cancelled call and need another
// look.
func (c *Cache) embedPending(
	ctx context.Context,
	texts []string,
	keys []cacheKey,
	vectors [][]float32,
	pending []int,
) ([]int, error) {
	// Sort the texts into hits, texts to wait for and texts to send.
	waits := make(map[int]*flight)
	own := make(map[cacheKey]*flight)
	var sendKeys []cacheKey
	var sendTexts []string
	c.mu.Lock()
	for _, i := range pending {
		k := keys[i]
		if el, ok := c.entries[k]; ok {
			c.lru.MoveToFront(el)
			vectors[i] = slices.Clone(el.Value.(*cacheEntry).vector)
			c.hits++
			continue
		}
		if f, ok := own[k]; ok {
			waits[i] = f
			c.hits++
			continue
		}
		if f, ok := c.flights[k]; ok {
			waits[i] = f
			c.hits++
			continue
		}
		f := &flight{done: make(chan struct{})}
		c.flights[k] = f
		own[k] = f
		waits[i] = f
		sendKeys = append(sendKeys, k)
		sendTexts = append(sendTexts, texts[i])
		c.misses++
	}
	c.mu.Unlock()

	if len(sendTexts) > 0 {
		if err := c.fill(ctx, sendKeys, sendTexts, own); err != nil {
			return nil, err
		}
	}

	var again []int
	for i, f := range waits {
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		switch {
		case f.err == nil:
			vectors[i] = slices.Clone(f.vector)
		case isContextError(f.err) && ctx.Err() == nil:
			again = append(again, i)
		default:
			return nil, f.err
		}
	}
	slices.Sort(again)
	return again, nil
}

// fill sends texts to the wrapped embedder, caches their vectors and
// finishes their flights. It returns the embedder's error after failing the
// flights with it.
func (c *Cache) fill(ctx context.Context, keys []cacheKey, texts []string, own map[cacheKey]*flight) error {
	got, err := c.next.Embed(ctx, texts)
	if err == nil && len(got) != len(texts) {
		err = fmt.Errorf("embed %d texts: got %d vectors", len(texts), len(got))
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	for i, k := range keys {
		f := own[k]
		delete(c.flights, k)
		if err != nil {
			f.err = err
			close(f.done)
			continue
		}
		// The cache keeps its own copy, so the caller that receives got[i]
		// cannot change it.
		f.vector = slices.Clone(got[i])
		c.storeLocked(k, f.vector)
		close(f.done)
	}
	return err
}

// storeLocked caches vector under k, evicting the least recently used entry
// when the cache is full. c.mu must be held.
func (c *Cache) storeLocked(k cacheKey, vector []float32) {
	if el, ok := c.entries[k]; ok {
		el.Value.(*cacheEntry).vector = vector
		c.lru.MoveToFront(el)
		return
	}
	c.entries[k] = c.lru.PushFront(&cacheEntry{key: k, vector: vector})
	for c.lru.Len() > c.maxEntries {
		oldest := c.lru.Back()
		c.lru.Remove(oldest)
		delete(c.entries, oldest.Value.(*cacheEntry).key)
	}
}

func isContextError(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
