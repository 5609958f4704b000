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
	// terms are the distinct keyword tokens of title, header and text;
	// length is the number of tokens.
	terms  []entryTerm
	length int
	// group is the dense group of the chunk's model and dimension, nil for
	// a chunk without a usable vector; fingerprint is its share of the
	// group's fingerprint.
	group       *denseGroup
	fingerprint uint64
}

// entryTerm is a keyword token of an entry: how often the entry holds it
// and the slot of the entry's posting in the token's posting list.
type entryTerm struct {
	term string
	tf   int32
	slot int32
}

// posting is an entry in the posting list of one of its terms: the entry's
// position, the term's frequency in it and its length, all a keyword
// search reads, and the index of the term in the entry's terms.
type posting struct {
	pos, tf, length, ref int32
}

// tenantIndex is the index of one tenant. mu guards every field but saveMu,
// which serialises snapshot writes so that a later state is never
// overwritten by an earlier one, and keywordScratch, which is safe for
// concurrent use.
type tenantIndex struct {
	mu       sync.RWMutex
	entries  []*entry
	pos      map[string]int
	docs     map[string][]string
	postings map[string][]posting
	totalLen int
	dense    map[denseKey]*denseGroup
	// version counts the changes, so that a snapshot can tell whether the
	// graphs still hold what it wrote.
	version uint64

	dirty bool
	timer *time.Timer
	// lastSave is how long the last snapshot took to write.
	lastSave time.Duration

	saveMu         sync.Mutex
	keywordScratch sync.Pool
}

func newTenantIndex() *tenantIndex {
	return &tenantIndex{
		pos:      make(map[string]int),
		docs:     make(map[string][]string),
		postings: make(map[string][]posting),
		dense:    make(map[denseKey]*denseGroup),
	}
}

// entryKey identifies a chunk within a tenant. Chunk ids are derived from the
// document id, but the key does not rely on it: a chunk of one document never
// displaces another document's chunk.
func entryKey(docID, chunkID string) string {
	return docID + "\x00" + chunkID
}

// replaceDocs removes the documents docIDs, adds chunks, which belong to
// them, and brings the graphs in step, holding mu for writing. It returns
// how many chunks it removed, and the errors of graphs that could not be
// kept, whose groups are scanned instead; the change itself is always made.
func (ti *tenantIndex) replaceDocs(docIDs []string, chunks []Chunk) (int, error) {
	ti.mu.Lock()
	defer ti.mu.Unlock()

	removed := 0
	for _, docID := range docIDs {
		removed += ti.removeDoc(docID)
	}
	for _, c := range chunks {
		ti.add(c)
	}
	if removed == 0 && len(chunks) == 0 {
		return 0, nil
	}
	ti.version++
	return removed, ti.syncGraphs()
}

// add indexes c. The caller holds mu for writing and calls syncGraphs
// before releasing it.
func (ti *tenantIndex) add(c Chunk) {
	key := entryKey(c.DocID, c.ID)
	if _, ok := ti.pos[key]; ok {
		ti.remove(key)
	}

	e := &entry{chunk: c, key: key, idx: len(ti.entries), norm: vectorNorm(c.Vector)}
	counts := make(map[string]int32)
	var order []string
	for _, term := range Tokenize(c.Title + "\n" + c.Header + "\n" + c.Text) {
		if counts[term] == 0 {
			order = append(order, term)
		}
		counts[term]++
		e.length++
	}
	e.terms = make([]entryTerm, len(order))
	for k, term := range order {
		list := ti.postings[term]
		e.terms[k] = entryTerm{term: term, tf: counts[term], slot: int32(len(list))}
		ti.postings[term] = append(list, posting{
			pos:    int32(e.idx),
			tf:     counts[term],
			length: int32(e.length),
			ref:    int32(k),
		})
	}

	ti.pos[key] = e.idx
	ti.entries = append(ti.entries, e)
	ti.docs[c.DocID] = append(ti.docs[c.DocID], key)
	ti.totalLen += e.length
	ti.joinDense(e)
}

// removeDoc drops every chunk of docID and returns how many there were.
// The caller holds mu for writing and calls syncGraphs before releasing
// it.
func (ti *tenantIndex) removeDoc(docID string) int {
	keys := ti.docs[docID]
	for _, key := range keys {
		ti.remove(key)
	}
	delete(ti.docs, docID)
	return len(keys)
}

// remove drops one entry, moving the last entry into its slot. The caller
// holds mu for writing, keeps docs up to date and calls syncGraphs before
// releasing mu.
func (ti *tenantIndex) remove(key string) {
	i, ok := ti.pos[key]
	if !ok {
		return
	}
	e := ti.entries[i]

	// Drop e's postings, moving the last posting of each list into the
	// freed slot.
	for _, t := range e.terms {
		list := ti.postings[t.term]
		last := int32(len(list) - 1)
		if t.slot != last {
			moved := list[last]
			list[t.slot] = moved
			ti.entries[moved.pos].terms[moved.ref].slot = t.slot
		}
		if last == 0 {
			delete(ti.postings, t.term)
		} else {
			ti.postings[t.term] = list[:last]
		}
	}

	// Move the last entry into e's position.
	last := len(ti.entries) - 1
	if i != last {
		moved := ti.entries[last]
		ti.entries[i] = moved
		moved.idx = i
		ti.pos[moved.key] = i
		for _, t := range moved.terms {
			ti.postings[t.term][t.slot].pos = int32(i)
		}
	}
	ti.entries[last] = nil
	ti.entries = ti.entries[:last]
	delete(ti.pos, key)

	ti.totalLen -= e.length
	ti.leaveDense(e)
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
