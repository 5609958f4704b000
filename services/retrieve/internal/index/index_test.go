package index

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// openStore opens a store in a temporary directory, closed on cleanup.
func openStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(Options{Dir: dir, SnapshotDelay: 10 * time.Millisecond})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// replace indexes chunks as document docID or fails the test.
func replace(t *testing.T, s *Store, tenantID, docID string, chunks ...Chunk) {
	t.Helper()
	if err := s.Replace(bg, tenantID, docID, chunks); err != nil {
		t.Fatalf("Replace(%s, %s): %v", tenantID, docID, err)
	}
}

// search runs q or fails the test and returns the ids of the results.
func search(t *testing.T, s *Store, tenantID string, q Query) []string {
	t.Helper()
	results, err := s.searchResults(tenantID, q)
	if err != nil {
		t.Fatalf("Search(%s, %q): %v", tenantID, q.Text, err)
	}
	ids := []string{}
	for _, r := range results {
		ids = append(ids, r.Chunk.ID)
	}
	return ids
}

func TestSearchIsolatesTenants(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir())

	chunk := Chunk{ID: "a1", Text: "Refunds are paid within 14 days.", Vector: []float32{1, 0}}
	replace(t, s, "acme", "doc-1", chunk)
	q := Query{Text: "refunds paid", Vector: []float32{1, 0}}

	if got := search(t, s, "globex", q); len(got) != 0 {
		t.Errorf("globex search before globex indexed anything = %v, want none", got)
	}

	// The same document id and text in another tenant stays separate.
	other := chunk
	other.ID = "g1"
	replace(t, s, "globex", "doc-1", other)

	if diff := cmp.Diff([]string{"g1"}, search(t, s, "globex", q)); diff != "" {
		t.Errorf("globex search mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a1"}, search(t, s, "acme", q)); diff != "" {
		t.Errorf("acme search mismatch (-want +got):\n%s", diff)
	}

	replace(t, s, "globex", "doc-1")
	if diff := cmp.Diff([]string{"a1"}, search(t, s, "acme", q)); diff != "" {
		t.Errorf("deleting globex's document changed acme (-want +got):\n%s", diff)
	}

	for _, bad := range []string{"", "ACME", "../acme", "acme.x", "*"} {
		if _, err := s.searchResults(bad, q); !errors.Is(err, ErrInvalidTenant) {
			t.Errorf("Search(%q): err = %v, want ErrInvalidTenant", bad, err)
		}
		if err := s.Replace(bg, bad, "doc", []Chunk{chunk}); !errors.Is(err, ErrInvalidTenant) {
			t.Errorf("Replace(%q): err = %v, want ErrInvalidTenant", bad, err)
		}
	}
}

func TestSearchFiltersByACLKindAndSource(t *testing.T) {
	t.Parallel()
	s := openStore(t, "")

	replace(t, s, "acme", "public", Chunk{ID: "public", Text: "warranty terms", Kind: "article", Source: "kb"})
	replace(t, s, "acme", "ana", Chunk{ID: "ana", Text: "warranty for ana", Kind: "email", Source: "helpdesk", ACL: []string{"user:ana"}})
	replace(t, s, "acme", "sales", Chunk{ID: "sales", Text: "warranty discount", Kind: "note", Source: "crm", ACL: []string{"group:sales", "user:bo"}})

	tests := []struct {
		name  string
		query Query
		want  []string
	}{
		{name: "no principals sees public only", query: Query{Text: "warranty"}, want: []string{"public"}},
		{name: "ana", query: Query{Text: "warranty", Principals: []string{"user:ana"}}, want: []string{"ana", "public"}},
		{name: "group member", query: Query{Text: "warranty", Principals: []string{"user:cy", "group:sales"}}, want: []string{"public", "sales"}},
		{name: "empty principal matches nothing", query: Query{Text: "warranty", Principals: []string{""}}, want: []string{"public"}},
		{name: "kind", query: Query{Text: "warranty", Kinds: []string{"email"}, Principals: []string{"user:ana"}}, want: []string{"ana"}},
		{name: "kind hidden by acl", query: Query{Text: "warranty", Kinds: []string{"email"}}, want: []string{}},
		{name: "source", query: Query{Text: "warranty", Sources: []string{"crm", "kb"}, Principals: []string{"user:bo"}}, want: []string{"public", "sales"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got := search(t, s, "acme", tt.query)
			if diff := cmp.Diff(tt.want, got, sortStrings()); diff != "" {
				t.Errorf("Search mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReplaceByDocument(t *testing.T) {
	t.Parallel()
	s := openStore(t, "")

	v1 := []Chunk{
		{ID: "c0", Ordinal: 0, Text: "Returns are accepted for 30 days."},
		{ID: "c1", Ordinal: 1, Text: "Keep the receipt for returns."},
		{ID: "c2", Ordinal: 2, Text: "Gift cards are final sale."},
	}
	replace(t, s, "acme", "policy", v1...)
	replace(t, s, "acme", "other", Chunk{ID: "o0", Text: "Returns desk opens at nine."})
	first, err := s.searchResults("acme", Query{Text: "returns receipt gift"})
	if err != nil {
		t.Fatal(err)
	}

	// Replaying the same batch changes nothing.
	replace(t, s, "acme", "policy", v1...)
	again, err := s.searchResults("acme", Query{Text: "returns receipt gift"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("results after replaying the batch differ (-first +again):\n%s", diff)
	}
	assertStats(t, s, "acme", 2, 4)

	// A new version drops the chunks it no longer has.
	replace(t, s, "acme", "policy", Chunk{ID: "n0", Text: "Returns are accepted for 60 days."})
	assertStats(t, s, "acme", 2, 2)
	if got := search(t, s, "acme", Query{Text: "gift cards"}); len(got) != 0 {
		t.Errorf("search for a replaced chunk = %v, want none", got)
	}
	if diff := cmp.Diff([]string{"n0", "o0"}, search(t, s, "acme", Query{Text: "returns"}), sortStrings()); diff != "" {
		t.Errorf("search after replace mismatch (-want +got):\n%s", diff)
	}

	if err := s.deleteDocument("acme", "policy"); err != nil {
		t.Fatalf("DeleteDocument: %v", err)
	}
	assertStats(t, s, "acme", 1, 1)
	if err := s.deleteDocument("acme", "never-indexed"); err != nil {
		t.Errorf("DeleteDocument of an unknown document: %v", err)
	}
}

func TestReplaceRejectsInvalidBatches(t *testing.T) {
	t.Parallel()
	s := openStore(t, "")

	tests := []struct {
		name   string
		docID  string
		chunks []Chunk
	}{
		{name: "no document id", docID: "", chunks: []Chunk{{ID: "c"}}},
		{name: "chunk without id", docID: "d", chunks: []Chunk{{Text: "x"}}},
		{name: "repeated id", docID: "d", chunks: []Chunk{{ID: "c"}, {ID: "c"}}},
		{name: "chunk of another document", docID: "d", chunks: []Chunk{{ID: "c", DocID: "e"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			if err := s.Replace(bg, "acme", tt.docID, tt.chunks); !errors.Is(err, ErrInvalidBatch) {
				t.Errorf("Replace: err = %v, want ErrInvalidBatch", err)
			}
		})
	}
}

func TestHybridRankingPrefersBothLegs(t *testing.T) {
	t.Parallel()
	s := openStore(t, "")

	replace(t, s, "acme", "both", Chunk{ID: "both", Text: "The refund window is 30 days.", Vector: []float32{0.9, 0.1, 0}})
	replace(t, s, "acme", "vector", Chunk{ID: "vector", Text: "Money goes back to the card.", Vector: []float32{1, 0, 0}})
	replace(t, s, "acme", "keyword", Chunk{ID: "keyword", Text: "Refund window, refund window, refund.", Vector: []float32{0, 1, 0}})
	replace(t, s, "acme", "neither", Chunk{ID: "neither", Text: "Opening hours.", Vector: []float32{0, 0, 1}})

	results, err := s.searchResults("acme", Query{Text: "refund window", Vector: []float32{1, 0, 0}, TopK: 10})
	if err != nil {
		t.Fatalf("Search: %v", err)
	}
	var got []string
	for _, r := range results {
		got = append(got, r.Chunk.ID)
	}
	if len(got) != 3 || got[0] != "both" {
		t.Fatalf("Search order = %v, want both first and three results", got)
	}
	top := results[0]
	if top.VectorScore <= 0 || top.KeywordScore <= 0 {
		t.Errorf("top result scores: vector %f keyword %f, want both positive", top.VectorScore, top.KeywordScore)
	}
	if top.Chunk.Vector != nil {
		t.Errorf("result carries the chunk vector")
	}

	// Without a vector only the keyword leg ranks.
	keywordOnly := search(t, s, "acme", Query{Text: "refund window", TopK: 10})
	if diff := cmp.Diff([]string{"keyword", "both"}, keywordOnly); diff != "" {
		t.Errorf("keyword-only search mismatch (-want +got):\n%s", diff)
	}
}

func TestDenseLegSkipsOtherModels(t *testing.T) {
	t.Parallel()
	s := openStore(t, "")

	replace(t, s, "acme", "old", Chunk{ID: "old", Text: "alpha", Vector: []float32{1, 0}, Model: "m1"})
	replace(t, s, "acme", "new", Chunk{ID: "new", Text: "beta", Vector: []float32{1, 0}, Model: "m2"})
	replace(t, s, "acme", "short", Chunk{ID: "short", Text: "gamma", Vector: []float32{1}, Model: "m2"})

	got := search(t, s, "acme", Query{Vector: []float32{1, 0}, Model: "m2"})
	if diff := cmp.Diff([]string{"new"}, got); diff != "" {
		t.Errorf("Search mismatch (-want +got):\n%s", diff)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()

	s, err := Open(Options{Dir: dir, SnapshotDelay: time.Hour})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	replace(t, s, "acme", "doc-1",
		Chunk{ID: "c0", Ordinal: 0, Title: "Returns", Text: "Returns within 30 days.", Kind: "article", Source: "kb", ACL: []string{"user:ana"}, Vector: []float32{0.6, 0.8}, Model: "m", Start: 0, End: 23},
		Chunk{ID: "c1", Ordinal: 1, Title: "Returns", Text: "Keep the receipt.", Vector: []float32{0.8, 0.6}, Model: "m", Start: 24, End: 41},
	)
	replace(t, s, "globex", "doc-9", Chunk{ID: "g0", Text: "Globex only.", Vector: []float32{1, 0}})
	q := Query{Text: "returns receipt", Vector: []float32{0.7, 0.7}, Principals: []string{"user:ana"}}
	before, err := s.searchResults("acme", q)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := s.searchResults("acme", q); !errors.Is(err, ErrClosed) {
		t.Errorf("Search after Close: err = %v, want ErrClosed", err)
	}

	reopened := openStore(t, dir)
	after, err := reopened.searchResults("acme", q)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("results after reopening differ (-before +after):\n%s", diff)
	}
	assertStats(t, reopened, "acme", 1, 2)
	assertStats(t, reopened, "globex", 1, 1)
	if reopened.isEmpty() {
		t.Errorf("Empty() = true after loading snapshots")
	}
}

func TestSnapshotIsWrittenAfterChange(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openStore(t, dir)

	replace(t, s, "acme", "doc", Chunk{ID: "c", Text: "persist me"})

	path := filepath.Join(dir, "acme"+snapshotExt)
	waitFor(t, "snapshot file", func() bool {
		_, err := os.Stat(path)
		return err == nil
	})
	chunks, err := readSnapshot(path, "acme")
	if err != nil {
		t.Fatalf("readSnapshot: %v", err)
	}
	if len(chunks) != 1 || chunks[0].Text != "persist me" {
		t.Errorf("snapshot holds %+v, want the indexed chunk", chunks)
	}
}

func TestOpenRejectsForeignSnapshot(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()

	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	replace(t, s, "acme", "doc", Chunk{ID: "c", Text: "acme secret"})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// A snapshot copied under another tenant's name must not load into it.
	if err := os.Rename(filepath.Join(dir, "acme.snap"), filepath.Join(dir, "globex.snap")); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Options{Dir: dir}); !errors.Is(err, ErrSnapshotCorrupt) {
		t.Errorf("Open with a renamed snapshot: err = %v, want ErrSnapshotCorrupt", err)
	}

	if err := os.WriteFile(filepath.Join(dir, "globex.snap"), []byte("not gob"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Options{Dir: dir}); !errors.Is(err, ErrSnapshotCorrupt) {
		t.Errorf("Open with a garbage snapshot: err = %v, want ErrSnapshotCorrupt", err)
	}
}

func TestConcurrentReplaceAndSearch(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir())

	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 50 {
				doc := fmt.Sprintf("doc-%d", i%5)
				chunks := []Chunk{{ID: fmt.Sprintf("c-%d-%d", w, i), Text: "returns policy " + doc, Vector: []float32{1, float32(i)}}}
				if err := s.Replace(bg, "acme", doc, chunks); err != nil {
					t.Errorf("Replace: %v", err)
					return
				}
				if _, err := s.searchResults("acme", Query{Text: "returns", Vector: []float32{1, 1}}); err != nil {
					t.Errorf("Search: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()

	assertStats(t, s, "acme", 5, 5)
}

func TestTokenize(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		text string
		want []string
	}{
		{name: "empty", text: "", want: nil},
		{name: "stopwords", text: "how do I do it", want: nil},
		{name: "stemming", text: "Refunds, shipping, delivered; policies", want: []string{"refund", "shipp", "deliver", "policy"}},
		{name: "unicode", text: "Größe ÉTÉ 42", want: []string{"größe", "été", "42"}},
		{name: "long word", text: strings.Repeat("é", 40), want: []string{strings.Repeat("é", 32)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			if diff := cmp.Diff(tt.want, Tokenize(tt.text)); diff != "" {
				t.Errorf("Tokenize(%q) mismatch (-want +got):\n%s", tt.text, diff)
			}
		})
	}
}

func FuzzTokenize(f *testing.F) {
	f.Add("How do I get my money back?")
	f.Add("ÉTÉ\xff\xfe refunds  shipping\x00ed")
	f.Add(strings.Repeat("x", 100))

	f.Fuzz(func(t *testing.T, text string) {
		for _, tok := range Tokenize(text) {
			if tok == "" {
				t.Fatalf("Tokenize(%q) returned an empty token", text)
			}
			if len(tok) > maxTokenBytes {
				t.Fatalf("Tokenize(%q) returned a %d-byte token", text, len(tok))
			}
			if strings.ContainsFunc(tok, func(r rune) bool { return r == ' ' || r == '.' }) {
				t.Fatalf("Tokenize(%q) returned token %q with a separator", text, tok)
			}
			if utf8.ValidString(text) && !utf8.ValidString(tok) {
				t.Fatalf("Tokenize(%q) cut a rune: %q", text, tok)
			}
		}
	})
}

func BenchmarkSearch10k(b *testing.B) {
	const dims = 384
	rng := rand.New(rand.NewPCG(1, 2))
	vocabulary := strings.Fields("refund return shipping delivery parcel order invoice password " +
		"account warranty repair broken damaged cancel subscription plan price discount " +
		"courier address label receipt store card payment bank transfer support agent")
	randomVector := func() []float32 {
		v := make([]float32, dims)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	randomText := func(words int) string {
		parts := make([]string, words)
		for i := range parts {
			parts[i] = vocabulary[rng.IntN(len(vocabulary))]
		}
		return strings.Join(parts, " ")
	}

	s, err := Open(Options{})
	if err != nil {
		b.Fatal(err)
	}
	for d := range 1000 {
		chunks := make([]Chunk, 10)
		for i := range chunks {
			chunks[i] = Chunk{ID: fmt.Sprintf("c%d", i), Ordinal: i, Text: randomText(120), Vector: randomVector()}
		}
		if err := s.Replace(bg, "acme", fmt.Sprintf("doc-%d", d), chunks); err != nil {
			b.Fatal(err)
		}
	}
	q := Query{Text: "refund for a damaged parcel", Vector: randomVector(), TopK: 5}

	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.searchResults("acme", q); err != nil {
			b.Fatal(err)
		}
	}
}

func assertStats(t *testing.T, s *Store, tenantID string, wantDocs, wantChunks int) {
	t.Helper()
	docs, chunks, err := s.Stats(bg, tenantID)
	if err != nil {
		t.Fatalf("Stats(%s): %v", tenantID, err)
	}
	if docs != wantDocs || chunks != wantChunks {
		t.Errorf("Stats(%s) = %d documents, %d chunks; want %d, %d", tenantID, docs, chunks, wantDocs, wantChunks)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func sortStrings() cmp.Option {
	return cmp.Transformer("sort", func(in []string) []string {
		out := append([]string{}, in...)
		slices.Sort(out)
		return out
	})
}
