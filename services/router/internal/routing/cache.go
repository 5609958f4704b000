package routing

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"sync"
	"time"

	"github.com/keelhq/keel/services/router/internal/provider"
)

// Response cache bounds.
const (
	// cacheMaxEntries bounds the answers kept, all routes and tenants
	// together; the least recently used go first.
	cacheMaxEntries = 10_000
	// cacheMaxAnswer is the largest answer kept: text, tool calls and
	// citations together. With cacheMaxEntries it bounds the cache at
	// about 640 MiB.
	cacheMaxAnswer = 64 << 10
)

// cacheKey identifies a request exactly: the tenant, the route and every
// part of the request that shapes the answer.
type cacheKey [sha256.Size]byte

// cachedRequest is what the key hashes; its JSON form is canonical because
// the fields are fixed and ordered.
type cachedRequest struct {
	Tenant, Route string
	Request       provider.Request
}

// cacheKey returns the key of req, or the zero key when the route keeps no
// answers (no cache and no cached fallback).
func (r *Router) cacheKey(t, routeName string, route Route, req provider.Request) cacheKey {
	if route.Cache.TTL <= 0 && !route.Fallback.Cached {
		return cacheKey{}
	}
	data, err := json.Marshal(cachedRequest{Tenant: t, Route: routeName, Request: req})
	if err != nil {
		return cacheKey{}
	}
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(data)))
	h.Write(n[:])
	h.Write(data)
	var k cacheKey
	h.Sum(k[:0])
	return k
}

// responseCache keeps answers by request key, least recently used first
// out. It is safe for concurrent use.
type responseCache struct {
	enabled bool

	mu      sync.Mutex
	entries map[cacheKey]*list.Element
	order   *list.List // of *cacheEntry, most recent at the front
}

type cacheEntry struct {
	key    cacheKey
	result Result
	stored time.Time
}

// newResponseCache returns a cache that keeps answers only when a route of
// file uses them.
func newResponseCache(file File) *responseCache {
	c := &responseCache{entries: make(map[cacheKey]*list.Element), order: list.New()}
	for _, r := range file.Routes {
		if r.Cache.TTL > 0 || r.Fallback.Cached {
			c.enabled = true
		}
	}
	return c
}

// get returns the answer stored under k no longer than maxAge ago.
func (c *responseCache) get(k cacheKey, maxAge time.Duration, now time.Time) (Result, bool) {
	if !c.enabled || k == (cacheKey{}) || maxAge <= 0 {
		return Result{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[k]
	if !ok {
		return Result{}, false
	}
	e := el.Value.(*cacheEntry)
	if now.Sub(e.stored) > maxAge {
		return Result{}, false
	}
	c.order.MoveToFront(el)
	return e.result, true
}

// put stores a model's answer under k. Degraded, cached or partial answers
// and very long ones are not kept.
func (c *responseCache) put(k cacheKey, res Result, now time.Time) {
	if !c.enabled || k == (cacheKey{}) || res.Degraded || res.Cached ||
		answerSize(res.Response) > cacheMaxAnswer || res.Response.FinishReason == provider.FinishLength {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[k]; ok {
		el.Value = &cacheEntry{key: k, result: res, stored: now}
		c.order.MoveToFront(el)
		return
	}
	c.entries[k] = c.order.PushFront(&cacheEntry{key: k, result: res, stored: now})
	for c.order.Len() > cacheMaxEntries {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.entries, oldest.Value.(*cacheEntry).key)
	}
}

// answerSize counts the bytes a cached answer holds.
func answerSize(r provider.Response) int {
	n := len(r.Text) + len(r.Model)
	for _, c := range r.ToolCalls {
		n += len(c.ID) + len(c.Name) + len(c.Arguments) + len(c.Signature)
	}
	for _, c := range r.Citations {
		n += len(c)
	}
	return n
}

// givenAgain is a stored answer given again on route: cached, and nothing
// paid or used for it.
func (res Result) givenAgain(route string) Result {
	res.Route, res.Cached, res.CostMicros, res.Response.Usage = route, true, 0, provider.Usage{}
	return res
}

// serveCached answers a call from the cache: streamed calls get the text in
// one piece and then the tool calls. Nothing is paid: the reply's usage is
// zero, as the usage event's is, and both say it was cached.
func (r *Router) serveCached(ctx context.Context, call Call, routeName string, hit Result, start time.Time) (Result, error) {
	hit = hit.givenAgain(routeName)
	hit.reserved = false // the stored call's; a hit takes nothing from the limits
	hit.Attempts = 0
	if call.Emit != nil {
		if err := call.started(StreamStart{Provider: hit.Provider, Model: hit.Model, Cached: true}); err != nil {
			return Result{}, err
		}
		if hit.Response.Text != "" {
			if err := call.Emit(provider.Delta{Text: hit.Response.Text}); err != nil {
				return Result{}, err
			}
		}
		for i := range hit.Response.ToolCalls {
			if err := call.Emit(provider.Delta{ToolCall: &hit.Response.ToolCalls[i]}); err != nil {
				return Result{}, err
			}
		}
	}
	hit.Latency = max(r.now().Sub(start), 0)
	r.record(ctx, call, hit, nil)
	return hit, nil
}
