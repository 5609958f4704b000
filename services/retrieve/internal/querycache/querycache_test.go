package querycache

import (
	"testing"
	"time"

	"github.com/keelhq/keel/services/retrieve/internal/store"
)

func answer(ids ...string) store.Response {
	var r store.Response
	for _, id := range ids {
		r.Results = append(r.Results, store.Result{Chunk: store.Chunk{ID: id, ACL: []string{"group:hr"}}, Score: 1})
	}
	return r
}

func TestKeyOf(t *testing.T) {
	base := store.Query{Text: "refund", TopK: 5, Kinds: []string{"a", "b"}, Principals: []string{"u1", "g1"}}
	same := base
	same.Kinds = []string{"b", "a", "a"}
	same.Principals = []string{"g1", "u1"}
	same.Vector = []float32{1, 2}
	if KeyOf(base) != KeyOf(same) {
		t.Errorf("list order, repeats or the vector changed the key")
	}
	day := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	for name, change := range map[string]func(q *store.Query){
		"text":       func(q *store.Query) { q.Text = "refunds" },
		"model":      func(q *store.Query) { q.Model = "m2" },
		"top k":      func(q *store.Query) { q.TopK = 6 },
		"kinds":      func(q *store.Query) { q.Kinds = []string{"a"} },
		"sources":    func(q *store.Query) { q.Sources = []string{"a", "b"} },
		"tags":       func(q *store.Query) { q.Tags = []string{"a"} },
		"after":      func(q *store.Query) { q.CreatedAfter = day },
		"before":     func(q *store.Query) { q.CreatedBefore = day },
		"principals": func(q *store.Query) { q.Principals = []string{"u1"} },
		"list split": func(q *store.Query) { q.Kinds, q.Sources = []string{"a"}, []string{"b"} },
	} {
		q := base
		change(&q)
		if KeyOf(q) == KeyOf(base) {
			t.Errorf("changing %s kept the key", name)
		}
	}
}

func TestGetPut(t *testing.T) {
	c := New(Options{})
	k := KeyOf(store.Query{Text: "refund"})
	if _, ok := c.Get("acme", k); ok {
		t.Fatal("empty cache hit")
	}
	c.Put("acme", k, c.Generation("acme"), answer("c1"))
	got, ok := c.Get("acme", k)
	if !ok || len(got.Results) != 1 || got.Results[0].Chunk.ID != "c1" {
		t.Fatalf("Get = %+v, %v", got, ok)
	}
	// Another tenant with the same query key misses.
	if _, ok := c.Get("globex", k); ok {
		t.Error("a tenant hit another tenant's answer")
	}
	// Changing what Get returned does not change the cache.
	got.Results[0].Chunk.ID = "changed"
	got.Results[0].Chunk.ACL[0] = "changed"
	again, _ := c.Get("acme", k)
	if again.Results[0].Chunk.ID != "c1" || again.Results[0].Chunk.ACL[0] != "group:hr" {
		t.Errorf("the cached answer changed with the caller's copy: %+v", again.Results[0])
	}
	if hits, misses, entries := c.Stats(); hits != 2 || misses != 2 || entries != 1 {
		t.Errorf("Stats = %d hits %d misses %d entries, want 2 2 1", hits, misses, entries)
	}
}

func TestInvalidate(t *testing.T) {
	c := New(Options{})
	k := KeyOf(store.Query{Text: "refund"})
	c.Put("acme", k, c.Generation("acme"), answer("c1"))
	c.Put("globex", k, c.Generation("globex"), answer("g1"))
	c.Invalidate("acme")
	if _, ok := c.Get("acme", k); ok {
		t.Error("hit after Invalidate")
	}
	if _, ok := c.Get("globex", k); !ok {
		t.Error("invalidating acme dropped globex's answer")
	}

	// An answer computed before a change landed is not stored.
	gen := c.Generation("acme")
	c.Invalidate("acme")
	c.Put("acme", k, gen, answer("stale"))
	if _, ok := c.Get("acme", k); ok {
		t.Error("an answer from before the change was stored")
	}
	c.Put("acme", k, c.Generation("acme"), answer("fresh"))
	if got, ok := c.Get("acme", k); !ok || got.Results[0].Chunk.ID != "fresh" {
		t.Errorf("fresh answer: %+v, %v", got, ok)
	}
}

func TestPartialNotStored(t *testing.T) {
	c := New(Options{})
	k := KeyOf(store.Query{Text: "refund"})
	resp := answer("c1")
	resp.Missing = []string{store.LegDense}
	c.Put("acme", k, c.Generation("acme"), resp)
	if _, ok := c.Get("acme", k); ok {
		t.Error("a partial answer was stored")
	}
}

func TestTTLAndLRU(t *testing.T) {
	now := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	c := New(Options{Entries: 2, TTL: time.Minute, Now: func() time.Time { return now }})
	k1, k2, k3 := KeyOf(store.Query{Text: "1"}), KeyOf(store.Query{Text: "2"}), KeyOf(store.Query{Text: "3"})
	c.Put("acme", k1, 0, answer("1"))
	c.Put("acme", k2, 0, answer("2"))
	c.Get("acme", k1) // k2 is now the least recently used
	c.Put("acme", k3, 0, answer("3"))
	if _, ok := c.Get("acme", k2); ok {
		t.Error("the least recently used answer was kept")
	}
	if _, ok := c.Get("acme", k1); !ok {
		t.Error("a recently used answer was evicted")
	}
	now = now.Add(time.Minute)
	if _, ok := c.Get("acme", k3); ok {
		t.Error("an answer older than the TTL was served")
	}
	if _, _, entries := c.Stats(); entries != 1 {
		t.Errorf("%d entries after expiry, want 1", entries)
	}
}

func TestNilCacheKeepsNothing(t *testing.T) {
	var c *Cache
	k := KeyOf(store.Query{Text: "refund"})
	c.Put("acme", k, c.Generation("acme"), answer("c1"))
	c.Invalidate("acme")
	if _, ok := c.Get("acme", k); ok {
		t.Error("a nil cache hit")
	}
}
