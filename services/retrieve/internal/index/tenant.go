package index

import (
	"cmp"
	"math"
	"slices"
	"sync"
	"time"
)

// entry is a chunk with what the two search legs precompute for it.
type entry struct {
	chunk Chunk
	key   string
	// idx is the entry's position in tenantIndex.entries.
	idx int
	// norm is the L2 norm of the chunk's vector.
	norm float64
	// terms counts the keyword tokens of title and text; length is their sum.
	terms  map[string]int
	length int
}

// tenantIndex is the index of one tenant. mu guards every field but saveMu,
// which serialises snapshot writes so that a later state is never
// overwritten by an earlier one.
type tenantIndex struct {
	mu       sync.RWMutex
	entries  []*entry
	pos      map[string]int
	docs     map[string][]string
	postings map[string]map[*entry]int
	totalLen int

	dirty bool
	timer *time.Timer

	saveMu sync.Mutex
}

func newTenantIndex() *tenantIndex {
	return &tenantIndex{
		pos:      make(map[string]int),
		docs:     make(map[string][]string),
		postings: make(map[string]map[*entry]int),
	}
}

// entryKey identifies a chunk within a tenant. Chunk ids are derived from the
// document id, but the key does not rely on it: a chunk of one document never
// displaces another document's chunk.
func entryKey(docID, chunkID string) string {
	return docID + "\x00" + chunkID
}

// add indexes c. The caller holds mu for writing.
func (ti *tenantIndex) add(c Chunk) {
	key := entryKey(c.DocID, c.ID)
	if _, ok := ti.pos[key]; ok {
		ti.remove(key)
	}

	e := &entry{chunk: c, key: key, norm: vectorNorm(c.Vector), terms: make(map[string]int)}
	for _, term := range Tokenize(c.Title + "\n" + c.Header + "\n" + c.Text) {
		e.terms[term]++
		e.length++
	}
	for term, tf := range e.terms {
		posting := ti.postings[term]
		if posting == nil {
			posting = make(map[*entry]int)
			ti.postings[term] = posting
		}
		posting[e] = tf
	}

	e.idx = len(ti.entries)
	ti.pos[key] = e.idx
	ti.entries = append(ti.entries, e)
	ti.docs[c.DocID] = append(ti.docs[c.DocID], key)
	ti.totalLen += e.length
}

// removeDoc drops every chunk of docID. The caller holds mu for writing.
func (ti *tenantIndex) removeDoc(docID string) {
	for _, key := range ti.docs[docID] {
		ti.remove(key)
	}
	delete(ti.docs, docID)
}

// remove drops one entry, moving the last entry into its slot. The caller
// holds mu for writing and keeps docs up to date.
func (ti *tenantIndex) remove(key string) {
	i, ok := ti.pos[key]
	if !ok {
		return
	}
	e := ti.entries[i]
	last := len(ti.entries) - 1
	ti.entries[i] = ti.entries[last]
	ti.entries[i].idx = i
	ti.pos[ti.entries[i].key] = i
	ti.entries[last] = nil
	ti.entries = ti.entries[:last]
	delete(ti.pos, key)

	for term := range e.terms {
		posting := ti.postings[term]
		delete(posting, e)
		if len(posting) == 0 {
			delete(ti.postings, term)
		}
	}
	ti.totalLen -= e.length
}

// chunks returns copies of every chunk in document order. The caller holds
// mu.
func (ti *tenantIndex) chunks() []Chunk {
	out := make([]Chunk, 0, len(ti.entries))
	for _, e := range ti.entries {
		out = append(out, e.chunk)
	}
	slices.SortFunc(out, func(a, b Chunk) int {
		return cmp.Or(cmp.Compare(a.DocID, b.DocID), cmp.Compare(a.Ordinal, b.Ordinal), cmp.Compare(a.ID, b.ID))
	})
	return out
}

func vectorNorm(v []float32) float64 {
	var sum float64
	for _, x := range v {
		sum += float64(x) * float64(x)
	}
	return math.Sqrt(sum)
}
