package index

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The tests below fill tenants past graphThreshold, so their dense leg
// walks an HNSW graph. Their vectors are small and clustered, as text
// embeddings are, which lets the graph find the exact nearest neighbours.
const (
	testDim      = 16
	testClusters = 24
	testPerDoc   = 64
	// testChunks is past graphThreshold by a few documents.
	testChunks = graphThreshold + 4*testPerDoc
)

// testVocabulary gives the test chunks keyword postings.
var testVocabulary = strings.Fields("refund return shipping parcel invoice password " +
	"warranty repair cancel subscription discount courier receipt payment")

// testCentres returns the testClusters unit centres of the test vectors.
func testCentres() [][]float32 {
	rng := rand.New(rand.NewPCG(0, 16))
	centres := make([][]float32, testClusters)
	for i := range centres {
		centres[i] = normal(rng, testDim, 1)
		scaleTo(centres[i], 1)
	}
	return centres
}

// clustered returns n vectors around centres, each about as far from its
// centre as the centre is from the origin, so that members of a cluster
// have a cosine similarity of about 0.5.
func clustered(rng *rand.Rand, centres [][]float32, n int) [][]float32 {
	dim := len(centres[0])
	out := make([][]float32, n)
	for i := range out {
		v := normal(rng, dim, 1/math.Sqrt(float64(dim)))
		centre := centres[rng.IntN(len(centres))]
		for j := range v {
			v[j] += centre[j]
		}
		out[i] = v
	}
	return out
}

func normal(rng *rand.Rand, dim int, sigma float64) []float32 {
	v := make([]float32, dim)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * sigma)
	}
	return v
}

func scaleTo(v []float32, length float64) {
	by := length / vectorNorm(v)
	for i := range v {
		v[i] = float32(float64(v[i]) * by)
	}
}

// testCorpus returns n chunks with clustered vectors and short texts, in
// documents of testPerDoc chunks named doc-0, doc-1 and so on.
func testCorpus(seed uint64, n int) []Chunk {
	rng := rand.New(rand.NewPCG(seed, 16))
	vectors := clustered(rng, testCentres(), n)
	chunks := make([]Chunk, n)
	for i := range chunks {
		words := make([]string, 6)
		for w := range words {
			words[w] = testVocabulary[rng.IntN(len(testVocabulary))]
		}
		chunks[i] = Chunk{
			ID:      fmt.Sprintf("c%d", i%testPerDoc),
			DocID:   fmt.Sprintf("doc-%d", i/testPerDoc),
			Ordinal: i % testPerDoc,
			Text:    strings.Join(words, " "),
			Kind:    []string{"article", "email"}[i%2],
			Source:  "kb",
			Vector:  vectors[i],
			Model:   "m",
		}
	}
	return chunks
}

// fill indexes chunks document by document.
func fill(t testing.TB, s *Store, tenantID string, chunks []Chunk) {
	t.Helper()
	for start := 0; start < len(chunks); {
		end := start
		for end < len(chunks) && chunks[end].DocID == chunks[start].DocID {
			end++
		}
		if err := s.Replace(bg, tenantID, chunks[start].DocID, chunks[start:end]); err != nil {
			t.Fatalf("Replace(%s, %s): %v", tenantID, chunks[start].DocID, err)
		}
		start = end
	}
}

// graphOf returns the dense group of model "m" and testDim in tenantID.
func graphOf(t *testing.T, s *Store, tenantID string) *denseGroup {
	t.Helper()
	ti, err := s.tenant(tenantID, false)
	if err != nil || ti == nil {
		t.Fatalf("tenant %s: %v", tenantID, err)
	}
	ti.mu.RLock()
	defer ti.mu.RUnlock()
	return ti.dense[denseKey{model: "m", dim: testDim}]
}

// assertGraph fails the test unless tenantID's group has a graph holding
// exactly its members.
func assertGraph(t *testing.T, s *Store, tenantID string) {
	t.Helper()
	g := graphOf(t, s, tenantID)
	if g == nil || g.graph == nil {
		t.Fatalf("tenant %s has no graph", tenantID)
	}
	if g.graph.Len() != len(g.members) {
		t.Errorf("graph of %s holds %d vectors, the group %d", tenantID, g.graph.Len(), len(g.members))
	}
}

// exactIDs returns the document and chunk ids of the k chunks most similar
// to query among those keep accepts, sorted.
func exactIDs(chunks []Chunk, query []float32, k int, keep func(Chunk) bool) []string {
	type hit struct {
		id  string
		cos float64
	}
	var hits []hit
	norm := vectorNorm(query)
	for _, c := range chunks {
		if keep != nil && !keep(c) {
			continue
		}
		cos := dot(c.Vector, query) / (norm * vectorNorm(c.Vector))
		hits = append(hits, hit{c.DocID + "/" + c.ID, cos})
	}
	slices.SortFunc(hits, func(a, b hit) int { return -cmpFloat(a.cos, b.cos) })
	ids := []string{}
	for _, h := range hits[:min(k, len(hits))] {
		ids = append(ids, h.id)
	}
	slices.Sort(ids)
	return ids
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// resultIDs returns the document and chunk ids of results, sorted.
func resultIDs(results []Result) []string {
	ids := []string{}
	for _, r := range results {
		ids = append(ids, r.Chunk.DocID+"/"+r.Chunk.ID)
	}
	slices.Sort(ids)
	return ids
}

func mustSearch(t *testing.T, s *Store, tenantID string, q Query) []Result {
	t.Helper()
	results, err := s.searchResults(tenantID, q)
	if err != nil {
		t.Fatalf("Search(%s): %v", tenantID, err)
	}
	return results
}

func TestGraphSearchMatchesExactSearch(t *testing.T) {
	t.Parallel()
	s := openStore(t, "")
	chunks := testCorpus(1, testChunks)
	fill(t, s, "acme", chunks)
	assertGraph(t, s, "acme")

	rng := rand.New(rand.NewPCG(2, 16))
	queries := clustered(rng, testCentres(), 20)
	ti, _ := s.tenant("acme", false)
	g := graphOf(t, s, "acme")
	for i, vector := range queries {
		// The dense leg alone against a brute-force search.
		dense := mustSearch(t, s, "acme", Query{Vector: vector, TopK: 10})
		if diff := cmp.Diff(exactIDs(chunks, vector, 10, nil), resultIDs(dense)); diff != "" {
			t.Errorf("query %d: graph search mismatch with exact search (-exact +graph):\n%s", i, diff)
		}

		// Hybrid search with the graph and with the exact scan the group
		// falls back to without one.
		q := Query{Text: testVocabulary[i%len(testVocabulary)], Vector: vector, TopK: 10}
		withGraph := mustSearch(t, s, "acme", q)
		ti.mu.Lock()
		graph := g.graph
		g.graph = nil
		ti.mu.Unlock()
		scanned := mustSearch(t, s, "acme", q)
		ti.mu.Lock()
		g.graph = graph
		ti.mu.Unlock()
		if diff := cmp.Diff(resultIDs(scanned), resultIDs(withGraph)); diff != "" {
			t.Errorf("query %d: hybrid search mismatch (-scan +graph):\n%s", i, diff)
		}
	}
}

func TestGraphIsolatesTenants(t *testing.T) {
	t.Parallel()
	s := openStore(t, "")

	// Both tenants use the same document and chunk ids, so the same graph
	// keys, with their own texts and vectors.
	acme, globex := testCorpus(3, testChunks), testCorpus(4, testChunks)
	for i := range acme {
		acme[i].Text = "acme " + acme[i].Text
		globex[i].Text = "globex " + globex[i].Text
	}
	fill(t, s, "acme", acme)
	fill(t, s, "globex", globex)
	assertGraph(t, s, "acme")
	assertGraph(t, s, "globex")

	for _, tt := range []struct {
		tenant string
		other  []Chunk
	}{
		{tenant: "acme", other: globex},
		{tenant: "globex", other: acme},
	} {
		for _, c := range tt.other[:50] {
			// The query is a chunk of the other tenant, word for word.
			results := mustSearch(t, s, tt.tenant, Query{Text: c.Text, Vector: c.Vector, TopK: 10})
			if len(results) != 10 {
				t.Fatalf("%s: %d results, want 10", tt.tenant, len(results))
			}
			for _, r := range results {
				if !strings.HasPrefix(r.Chunk.Text, tt.tenant+" ") {
					t.Fatalf("search of %s returned %q", tt.tenant, r.Chunk.Text)
				}
			}
		}
	}
}

func TestGraphSearchAppliesFilters(t *testing.T) {
	t.Parallel()
	s := openStore(t, "")
	chunks := testCorpus(5, testChunks)
	for i := range chunks {
		switch {
		case i%10 == 0:
			chunks[i].ACL = []string{"group:finance"}
		case i%67 == 0:
			// 1.4% of the chunks, below hnsw.ExactScanShare.
			chunks[i].Source = "crm"
		}
	}
	// The secret is the nearest chunk to every query below: the query is
	// its vector.
	secret := &chunks[777]
	secret.ACL, secret.Kind, secret.Source = []string{"user:ana"}, "email", "helpdesk"
	fill(t, s, "acme", chunks)
	assertGraph(t, s, "acme")
	secretID := secret.DocID + "/" + secret.ID

	tests := []struct {
		name       string
		query      Query
		wantSecret bool
		// keep says which chunks the query may return.
		keep func(Chunk) bool
	}{
		{
			name:  "no principals",
			query: Query{},
			keep:  func(c Chunk) bool { return len(c.ACL) == 0 },
		},
		{
			name:       "owner",
			query:      Query{Principals: []string{"user:ana"}},
			wantSecret: true,
			keep:       func(c Chunk) bool { return len(c.ACL) == 0 || c.ACL[0] == "user:ana" },
		},
		{
			name:  "another principal",
			query: Query{Principals: []string{"group:finance"}},
			keep:  func(c Chunk) bool { return len(c.ACL) == 0 || c.ACL[0] == "group:finance" },
		},
		{
			name:  "kind",
			query: Query{Kinds: []string{"email"}},
			keep:  func(c Chunk) bool { return len(c.ACL) == 0 && c.Kind == "email" },
		},
		{
			name:       "kind and owner",
			query:      Query{Kinds: []string{"email"}, Principals: []string{"user:ana"}},
			wantSecret: true,
			keep: func(c Chunk) bool {
				return c.Kind == "email" && (len(c.ACL) == 0 || c.ACL[0] == "user:ana")
			},
		},
		{
			name:  "selective source",
			query: Query{Sources: []string{"crm"}},
			keep:  func(c Chunk) bool { return len(c.ACL) == 0 && c.Source == "crm" },
		},
		{
			name:  "source of the secret only",
			query: Query{Sources: []string{"helpdesk"}},
			keep:  func(c Chunk) bool { return false },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			for _, text := range []string{"", "refund warranty"} {
				q := tt.query
				q.Text, q.Vector, q.TopK = text, secret.Vector, 10
				results := mustSearch(t, s, "acme", q)
				got := resultIDs(results)
				for _, r := range results {
					if !tt.keep(r.Chunk) {
						t.Errorf("text %q: returned %s/%s, which the caller may not see",
							text, r.Chunk.DocID, r.Chunk.ID)
					}
				}
				if slices.Contains(got, secretID) != tt.wantSecret {
					t.Errorf("text %q: secret returned = %t, want %t", text, !tt.wantSecret, tt.wantSecret)
				}
				if tt.wantSecret && results[0].Chunk.DocID+"/"+results[0].Chunk.ID != secretID && text == "" {
					t.Errorf("secret is not the first of %v", got)
				}
				if text == "" {
					if diff := cmp.Diff(exactIDs(chunks, secret.Vector, 10, tt.keep), got); diff != "" {
						t.Errorf("dense results mismatch with exact search (-exact +graph):\n%s", diff)
					}
				}
			}
		})
	}
}

func TestGraphFollowsReplaceAndDelete(t *testing.T) {
	t.Parallel()
	s := openStore(t, "")
	chunks := testCorpus(6, testChunks)
	fill(t, s, "acme", chunks)
	assertGraph(t, s, "acme")
	rng := rand.New(rand.NewPCG(7, 16))
	topID := func(vector []float32) string {
		t.Helper()
		results := mustSearch(t, s, "acme", Query{Vector: vector, TopK: 1})
		if len(results) == 0 {
			return ""
		}
		return results[0].Chunk.DocID + "/" + results[0].Chunk.ID
	}

	// doc-0 gets new chunks; doc-1 keeps its chunk ids with new vectors;
	// doc-2 is ingested again unchanged.
	doc0 := slices.Clone(chunks[:testPerDoc])
	doc1 := slices.Clone(chunks[testPerDoc : 2*testPerDoc])
	newVectors := clustered(rng, testCentres(), 2*testPerDoc)
	for i := range doc0 {
		doc0[i].ID = fmt.Sprintf("n%d", i)
		doc0[i].Vector = newVectors[i]
	}
	for i := range doc1 {
		doc1[i].Vector = newVectors[testPerDoc+i]
	}
	replace(t, s, "acme", "doc-0", doc0...)
	replace(t, s, "acme", "doc-1", doc1...)
	replace(t, s, "acme", "doc-2", chunks[2*testPerDoc:3*testPerDoc]...)
	assertGraph(t, s, "acme")
	assertStats(t, s, "acme", testChunks/testPerDoc, testChunks)

	// The old vectors find what an exact search of the new content finds.
	current := slices.Concat(doc0, doc1, chunks[2*testPerDoc:])
	for _, old := range chunks[:2*testPerDoc] {
		got := resultIDs(mustSearch(t, s, "acme", Query{Vector: old.Vector, TopK: 10}))
		if diff := cmp.Diff(exactIDs(current, old.Vector, 10, nil), got); diff != "" {
			t.Fatalf("search for the old vector of %s/%s mismatch (-exact +graph):\n%s",
				old.DocID, old.ID, diff)
		}
	}
	for _, c := range slices.Concat(doc0, doc1) {
		if got := topID(c.Vector); got != c.DocID+"/"+c.ID {
			t.Errorf("nearest to the new vector of %s/%s is %s", c.DocID, c.ID, got)
		}
	}

	// Deleted documents leave the graph; below graphDropSize the group
	// drops its graph and is scanned.
	if err := s.deleteDocument("acme", "doc-0"); err != nil {
		t.Fatalf("DeleteDocument: %v", err)
	}
	assertGraph(t, s, "acme")
	current = current[testPerDoc:]
	for _, c := range doc0 {
		got := resultIDs(mustSearch(t, s, "acme", Query{Vector: c.Vector, TopK: 10}))
		if diff := cmp.Diff(exactIDs(current, c.Vector, 10, nil), got); diff != "" {
			t.Fatalf("search for deleted %s/%s mismatch (-exact +graph):\n%s", c.DocID, c.ID, diff)
		}
	}
	for d := 1; d < testChunks/testPerDoc; d++ {
		if err := s.deleteDocument("acme", fmt.Sprintf("doc-%d", d)); err != nil {
			t.Fatalf("DeleteDocument: %v", err)
		}
		if g := graphOf(t, s, "acme"); g != nil && len(g.members) >= graphDropSize && g.graph == nil {
			t.Fatalf("group of %d vectors lost its graph", len(g.members))
		}
	}
	if g := graphOf(t, s, "acme"); g != nil {
		t.Errorf("empty group kept: %d members, graph %v", len(g.members), g.graph != nil)
	}
	if got := mustSearch(t, s, "acme", Query{Vector: chunks[0].Vector}); len(got) != 0 {
		t.Errorf("search of an emptied tenant returned %d results", len(got))
	}
}

func TestGraphFileRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	chunks := testCorpus(8, testChunks)
	queries := graphQueries(chunks)

	s, err := Open(Options{Dir: dir, SnapshotDelay: time.Hour})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	fill(t, s, "acme", chunks)
	replace(t, s, "globex", "small", Chunk{ID: "g", Text: "small tenant", Vector: []float32{1, 0}})
	before := searchAll(t, s, queries)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "acme"+graphExt)); err != nil {
		t.Fatalf("graph file of acme: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "globex"+graphExt)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("graph file of a tenant below the threshold: err = %v, want none", err)
	}

	reopened, graphErrs := openRecording(t, dir)
	assertGraph(t, reopened, "acme")
	if len(*graphErrs) != 0 {
		t.Errorf("graph errors on reopening: %v", *graphErrs)
	}
	if diff := cmp.Diff(before, searchAll(t, reopened, queries)); diff != "" {
		t.Errorf("results after reopening differ (-before +after):\n%s", diff)
	}
}

func TestGraphFileProblemsRebuild(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	chunks := testCorpus(9, testChunks)
	queries := graphQueries(chunks)

	// The base directory holds the snapshot and graph file of chunks, and
	// stale.hnsw, the graph file of as many chunks but with other vectors
	// for doc-0.
	s, err := Open(Options{Dir: base, SnapshotDelay: time.Hour})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	earlier := slices.Clone(chunks)
	for i := range testPerDoc {
		earlier[i].Vector = earlier[testPerDoc+i].Vector
	}
	fill(t, s, "acme", earlier)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	graphFile := filepath.Join(base, "acme"+graphExt)
	copyFile(t, graphFile, filepath.Join(base, "stale.hnsw"))
	s, err = Open(Options{Dir: base, SnapshotDelay: time.Hour})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	fill(t, s, "acme", chunks[:testPerDoc])
	want := searchAll(t, s, queries)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	good, err := os.ReadFile(graphFile)
	if err != nil {
		t.Fatal(err)
	}
	flipped := slices.Clone(good)
	flipped[len(flipped)/2] ^= 0x40
	tests := []struct {
		name    string
		damage  func(t *testing.T, path string)
		wantErr error
	}{
		{
			name:    "missing",
			damage:  func(t *testing.T, path string) { removeFile(t, path) },
			wantErr: os.ErrNotExist,
		},
		{
			name:    "flipped byte",
			damage:  func(t *testing.T, path string) { writeFile(t, path, flipped) },
			wantErr: errGraphCorrupt,
		},
		{
			name:    "truncated",
			damage:  func(t *testing.T, path string) { writeFile(t, path, good[:len(good)-100]) },
			wantErr: errGraphCorrupt,
		},
		{
			name:    "garbage",
			damage:  func(t *testing.T, path string) { writeFile(t, path, []byte("KEELGRPH junk")) },
			wantErr: errGraphCorrupt,
		},
		{
			name: "stale",
			damage: func(t *testing.T, path string) {
				copyFile(t, filepath.Join(filepath.Dir(path), "stale.hnsw"), path)
			},
			wantErr: errGraphStale,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for _, name := range []string{"acme" + snapshotExt, "acme" + graphExt, "stale.hnsw"} {
				copyFile(t, filepath.Join(base, name), filepath.Join(dir, name))
			}
			tt.damage(t, filepath.Join(dir, "acme"+graphExt))

			s, graphErrs := openRecording(t, dir)
			assertGraph(t, s, "acme")
			if len(*graphErrs) != 1 || !errors.Is((*graphErrs)[0], tt.wantErr) {
				t.Errorf("graph errors = %v, want one wrapping %v", *graphErrs, tt.wantErr)
			}
			if diff := cmp.Diff(want, searchAll(t, s, queries)); diff != "" {
				t.Errorf("results after the rebuild differ (-want +got):\n%s", diff)
			}

			// The rebuilt graph is written back and used next time.
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			again, graphErrs := openRecording(t, dir)
			assertGraph(t, again, "acme")
			if len(*graphErrs) != 0 {
				t.Errorf("graph errors after the graph was written back: %v", *graphErrs)
			}
		})
	}
}

func TestGraphConcurrentReplaceAndSearch(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir())
	chunks := testCorpus(10, testChunks+testPerDoc)
	fill(t, s, "acme", chunks[:testChunks])
	last := chunks[testChunks:]

	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := range 10 {
				doc := fmt.Sprintf("doc-%d", (w*10+i)%8)
				batch := slices.Clone(last)
				for j := range batch {
					batch[j].DocID = doc
				}
				if err := s.Replace(bg, "acme", doc, batch); err != nil {
					t.Errorf("Replace: %v", err)
					return
				}
			}
		})
		wg.Go(func() {
			for i := range 20 {
				q := Query{Text: "refund", Vector: chunks[i].Vector, Principals: []string{"user:ana"}}
				if _, err := s.searchResults("acme", q); err != nil {
					t.Errorf("Search: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	assertGraph(t, s, "acme")
}

// graphQueries returns hybrid queries near some of chunks.
func graphQueries(chunks []Chunk) []Query {
	var queries []Query
	for i := 0; i < len(chunks); i += len(chunks) / 10 {
		queries = append(queries, Query{Text: chunks[i].Text, Vector: chunks[i].Vector, TopK: 10})
	}
	return queries
}

// searchAll runs queries over acme.
func searchAll(t *testing.T, s *Store, queries []Query) [][]Result {
	t.Helper()
	var out [][]Result
	for _, q := range queries {
		out = append(out, mustSearch(t, s, "acme", q))
	}
	return out
}

// openRecording opens dir and records what OnGraphError is told, which
// happens within Open and Replace.
func openRecording(t *testing.T, dir string) (*Store, *[]error) {
	t.Helper()
	var errs []error
	s, err := Open(Options{
		Dir:           dir,
		SnapshotDelay: time.Hour,
		OnGraphError:  func(_ string, err error) { errs = append(errs, err) },
	})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	s.builds.Wait()
	return s, &errs
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, to, data)
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func removeFile(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

func TestIndexStaysConsistentUnderChanges(t *testing.T) {
	t.Parallel()
	s := openStore(t, "")
	rng := rand.New(rand.NewPCG(11, 16))
	chunks := testCorpus(11, testChunks)
	fill(t, s, "acme", chunks)

	// Documents are replaced by a mix of unchanged chunks, chunks with a new
	// vector or text, and new chunks, or deleted; current is what the
	// tenant should hold.
	current := make(map[string][]Chunk)
	for _, c := range chunks {
		current[c.DocID] = append(current[c.DocID], c)
	}
	fresh := clustered(rng, testCentres(), 150*2*testPerDoc)
	freshVector := func() []float32 {
		v := fresh[0]
		fresh = fresh[1:]
		return v
	}
	for op := range 150 {
		doc := fmt.Sprintf("doc-%d", rng.IntN(testChunks/testPerDoc+3))
		if rng.IntN(5) == 0 {
			replace(t, s, "acme", doc)
			delete(current, doc)
			continue
		}
		var next []Chunk
		for _, c := range current[doc] {
			switch rng.IntN(4) {
			case 0:
				continue
			case 1:
				c.Vector = freshVector()
			case 2:
				c.Text = testVocabulary[rng.IntN(len(testVocabulary))] + " " + c.Text
			}
			next = append(next, c)
		}
		for i := range rng.IntN(testPerDoc) {
			next = append(next, Chunk{
				ID:     fmt.Sprintf("op%d-%d", op, i),
				DocID:  doc,
				Text:   testVocabulary[rng.IntN(len(testVocabulary))],
				Vector: freshVector(),
				Model:  "m",
			})
		}
		replace(t, s, "acme", doc, next...)
		current[doc] = next
	}

	assertGraph(t, s, "acme")
	ti, _ := s.tenant("acme", false)
	func() {
		ti.mu.RLock()
		defer ti.mu.RUnlock()
		checkTenantIndex(t, ti)
	}()

	// The changed tenant answers as one filled with its content at once.
	var all []Chunk
	for _, doc := range slices.Sorted(maps.Keys(current)) {
		all = append(all, current[doc]...)
	}
	reference := openStore(t, "")
	fill(t, reference, "acme", all)
	for _, word := range testVocabulary {
		q := Query{Text: word + " " + testVocabulary[len(word)%len(testVocabulary)], TopK: 20}
		want, got := mustSearch(t, reference, "acme", q), mustSearch(t, s, "acme", q)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("keyword search %q mismatch (-reference +changed):\n%s", q.Text, diff)
		}
	}
	for _, c := range all[:50] {
		got := resultIDs(mustSearch(t, s, "acme", Query{Vector: c.Vector, TopK: 10}))
		if diff := cmp.Diff(exactIDs(all, c.Vector, 10, nil), got); diff != "" {
			t.Errorf("dense search mismatch (-exact +changed):\n%s", diff)
		}
	}
}

// checkTenantIndex fails the test when the positions, posting lists or
// dense groups of ti disagree with its entries. The caller holds ti.mu.
func checkTenantIndex(t *testing.T, ti *tenantIndex) {
	t.Helper()
	totalLen, postings := 0, 0
	members := make(map[denseKey]int)
	for i, e := range ti.entries {
		if e.idx != i || ti.pos[e.key] != i {
			t.Fatalf("entry %s at %d has idx %d, pos %d", e.key, i, e.idx, ti.pos[e.key])
		}
		totalLen += e.length
		for k, term := range e.terms {
			p := ti.postings[term.term][term.slot]
			want := posting{pos: int32(i), tf: term.tf, length: int32(e.length), ref: int32(k)}
			if p != want {
				t.Fatalf("posting of %q for %s = %+v, want %+v", term.term, e.key, p, want)
			}
			postings++
		}
		if e.group != nil {
			members[e.group.key]++
			if e.group.members[e.key] != e {
				t.Fatalf("entry %s missing from its dense group", e.key)
			}
		} else if denseVector(e.norm, len(e.chunk.Vector)) {
			t.Fatalf("entry %s with a vector has no dense group", e.key)
		}
	}
	for term, list := range ti.postings {
		if len(list) == 0 {
			t.Fatalf("empty posting list of %q kept", term)
		}
		postings -= len(list)
	}
	if postings != 0 || totalLen != ti.totalLen || len(ti.pos) != len(ti.entries) {
		t.Fatalf("%d postings not held by an entry, total length %d want %d, %d positions for %d entries",
			-postings, ti.totalLen, totalLen, len(ti.pos), len(ti.entries))
	}

	for key, g := range ti.dense {
		var fingerprint uint64
		for _, e := range g.members {
			fingerprint += memberFingerprint(e.key, e.chunk.Vector)
		}
		if members[key] != len(g.members) || fingerprint != g.fingerprint {
			t.Fatalf("group %v: %d members, entries say %d; fingerprint mismatch %t",
				key, len(g.members), members[key], fingerprint != g.fingerprint)
		}
		if len(g.pending) != 0 || len(g.unlinked) != 0 {
			t.Fatalf("group %v has %d pending and %d unlinked vectors between changes",
				key, len(g.pending), len(g.unlinked))
		}
		if g.graph == nil {
			continue
		}
		if g.graph.Len() != len(g.members) {
			t.Fatalf("graph of %v holds %d vectors, the group %d", key, g.graph.Len(), len(g.members))
		}
		// Every member is in the graph with its current vector.
		for _, e := range g.members {
			found, err := g.graph.Search(e.chunk.Vector, 1, 0, func(id string) bool { return id == e.key })
			if err != nil || len(found) != 1 || found[0].Score < 0.999 {
				t.Fatalf("graph of %v holds %s as %+v (err %v), want its vector", key, e.key, found, err)
			}
		}
	}
}

// TestGraphBuiltInBackgroundKeepsChanges opens a tenant whose graph file is
// missing: Open returns before the graph is built, searches meanwhile scan
// exactly, and documents replaced, added and deleted while the graph is
// built are in step with it once it is attached.
func TestGraphBuiltInBackgroundKeepsChanges(t *testing.T) {
	dir := t.TempDir()
	chunks := testCorpus(11, testChunks)
	s, err := Open(Options{Dir: dir, SnapshotDelay: time.Hour})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	fill(t, s, "acme", chunks)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	removeFile(t, filepath.Join(dir, "acme"+graphExt))

	reached, release := make(chan struct{}), make(chan struct{})
	beforeGraphAttach = func() {
		close(reached)
		<-release
	}
	t.Cleanup(func() { beforeGraphAttach = func() {} })

	s, graphErrs := func() (*Store, *[]error) {
		var errs []error
		s, err := Open(Options{Dir: dir, SnapshotDelay: time.Hour, OnGraphError: func(_ string, err error) { errs = append(errs, err) }})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s, &errs
	}()
	<-reached
	g := graphOf(t, s, "acme")
	ti, _ := s.tenant("acme", false)
	ti.mu.RLock()
	building, hasGraph := g.building, g.graph != nil
	ti.mu.RUnlock()
	if !building || hasGraph {
		t.Fatalf("while building: building %v, graph %v", building, hasGraph)
	}
	// Searches answer meanwhile, by exact scan.
	q := Query{Vector: chunks[5].Vector, Model: "m", TopK: 1}
	if got, err := s.searchResults("acme", q); err != nil || len(got) != 1 || got[0].Chunk.ID != chunks[5].ID {
		t.Fatalf("search while building: %v, %v", got, err)
	}

	// Changes while the graph is built: a document deleted, one replaced by
	// itself, one replaced with other vectors, one added.
	if err := s.deleteDocument("acme", "doc-0"); err != nil {
		t.Fatal(err)
	}
	fill(t, s, "acme", chunks[testPerDoc:2*testPerDoc])
	changed := slices.Clone(chunks[2*testPerDoc : 3*testPerDoc])
	for i := range changed {
		changed[i].Vector = chunks[len(chunks)-1-i].Vector
	}
	fill(t, s, "acme", changed)
	added := testCorpus(12, testPerDoc)
	for i := range added {
		added[i].DocID = "doc-new"
	}
	fill(t, s, "acme", added)

	close(release)
	s.builds.Wait()
	if len(*graphErrs) != 1 || !errors.Is((*graphErrs)[0], os.ErrNotExist) {
		t.Errorf("graph errors = %v, want the missing file only", *graphErrs)
	}
	assertGraph(t, s, "acme")
	ti.mu.RLock()
	checkTenantIndex(t, ti)
	ti.mu.RUnlock()

	// The graph is written back on Close and used by the next Open.
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	again, errs := openRecording(t, dir)
	assertGraph(t, again, "acme")
	if len(*errs) != 0 {
		t.Errorf("graph errors after the rebuilt graph was written: %v", *errs)
	}
}
