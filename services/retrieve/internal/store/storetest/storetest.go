// Package storetest holds the behaviour every store.Backend must show:
// tenant isolation, permission and metadata filters in both legs,
// idempotent replacement, deletion by document and by data subject, and
// citations in results. A backend's tests call Run with a function that
// opens an empty backend.
package storetest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel/services/retrieve/internal/store"
)

// Model and Dim are the embedding model and dimension of the test chunks.
const (
	Model = "storetest-model"
	Dim   = 4
)

// Open returns an empty backend for one test; the test closes it.
type Open func(t *testing.T) store.Backend

// Run runs every behaviour test against backends made by open.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		run  func(t *testing.T, b store.Backend)
	}{
		{"TenantIsolation", testTenantIsolation},
		{"InvalidTenant", testInvalidTenant},
		{"Permissions", testPermissions},
		{"Filters", testFilters},
		{"IdempotentReplace", testIdempotentReplace},
		{"EditReplacesOldChunks", testEditReplaces},
		{"DeleteDocuments", testDeleteDocuments},
		{"SubjectDocuments", testSubjectDocuments},
		{"Legs", testLegs},
		{"Citations", testCitations},
		{"Empty", testEmpty},
		{"InvalidInput", testInvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := open(t)
			t.Cleanup(func() { _ = b.Close() })
			tt.run(t, b)
		})
	}
	t.Run("Closed", func(t *testing.T) {
		b := open(t)
		put(t, b, "acme", "doc", chunk("c1", "refund window", vec(1, 0, 0, 0)))
		if err := b.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if _, err := b.Search(context.Background(), "acme", store.Query{Text: "refund"}); !errors.Is(err, store.ErrClosed) {
			t.Errorf("Search after Close: got %v, want ErrClosed", err)
		}
		if err := b.Replace(context.Background(), "acme", "doc", nil); !errors.Is(err, store.ErrClosed) {
			t.Errorf("Replace after Close: got %v, want ErrClosed", err)
		}
	})
}

// chunk returns a test chunk with text and vector, of model Model.
func chunk(id, text string, vector []float32) store.Chunk {
	return store.Chunk{ID: id, Text: text, Vector: vector, Model: Model, Kind: "article", Source: "kb"}
}

func vec(x ...float32) []float32 { return x }

func put(t *testing.T, b store.Backend, tenantID, docID string, chunks ...store.Chunk) {
	t.Helper()
	if err := b.Replace(context.Background(), tenantID, docID, chunks); err != nil {
		t.Fatalf("Replace(%s, %s): %v", tenantID, docID, err)
	}
}

func search(t *testing.T, b store.Backend, tenantID string, q store.Query) []store.Result {
	t.Helper()
	if q.TopK == 0 {
		q.TopK = 10
	}
	if q.Vector != nil && q.Model == "" {
		q.Model = Model
	}
	resp, err := b.Search(context.Background(), tenantID, q)
	if err != nil {
		t.Fatalf("Search(%s, %q): %v", tenantID, q.Text, err)
	}
	if resp.Partial() {
		t.Fatalf("Search(%s, %q): partial without a deadline, missing %v", tenantID, q.Text, resp.Missing)
	}
	return resp.Results
}

// ids returns "doc/chunk" of every result, in order.
func ids(results []store.Result) []string {
	out := make([]string, len(results))
	for i, r := range results {
		out[i] = r.Chunk.DocID + "/" + r.Chunk.ID
	}
	return out
}

func wantIDs(t *testing.T, what string, results []store.Result, want ...string) {
	t.Helper()
	got := ids(results)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

func stats(t *testing.T, b store.Backend, tenantID string) (int, int) {
	t.Helper()
	docs, chunks, err := b.Stats(context.Background(), tenantID)
	if err != nil {
		t.Fatalf("Stats(%s): %v", tenantID, err)
	}
	return docs, chunks
}

// testTenantIsolation stores the same document and chunk ids in two tenants
// with different content, and checks that every call stays in its tenant,
// with and without filters on both legs.
func testTenantIsolation(t *testing.T, b store.Backend) {
	put(t, b, "acme", "doc-1", chunk("c1", "acme refund window is thirty days", vec(1, 0, 0, 0)))
	put(t, b, "globex", "doc-1", chunk("c1", "globex refund window is ninety days", vec(1, 0, 0, 0)))
	put(t, b, "globex", "doc-2", chunk("c2", "globex refund secret", vec(0.9, 0.1, 0, 0)))

	for _, q := range []store.Query{
		{Text: "refund window"},
		{Vector: vec(1, 0, 0, 0)},
		{Text: "refund window", Vector: vec(1, 0, 0, 0)},
		{Text: "refund", Vector: vec(1, 0, 0, 0), Kinds: []string{"article"}, Sources: []string{"kb"}},
	} {
		results := search(t, b, "acme", q)
		wantIDs(t, "acme search", results, "doc-1/c1")
		for _, r := range results {
			if r.Chunk.Text != "acme refund window is thirty days" {
				t.Errorf("acme search returned %q", r.Chunk.Text)
			}
		}
	}
	if docs, chunks := stats(t, b, "acme"); docs != 1 || chunks != 1 {
		t.Errorf("acme stats: %d docs %d chunks, want 1 1", docs, chunks)
	}
	if docs, chunks := stats(t, b, "initech"); docs != 0 || chunks != 0 {
		t.Errorf("unknown tenant stats: %d docs %d chunks, want 0 0", docs, chunks)
	}
	if got := search(t, b, "initech", store.Query{Text: "refund", Vector: vec(1, 0, 0, 0)}); len(got) != 0 {
		t.Errorf("unknown tenant search: %v", ids(got))
	}

	// Deleting in one tenant leaves the other's same-named document.
	n, err := b.DeleteDocuments(context.Background(), "acme", []string{"doc-1"})
	if err != nil || n != 1 {
		t.Fatalf("DeleteDocuments(acme): %d, %v", n, err)
	}
	wantIDs(t, "globex after acme delete", search(t, b, "globex", store.Query{Text: "refund window"}), "doc-1/c1", "doc-2/c2")
	if subjects, err := b.SubjectDocuments(context.Background(), "acme", "cust-1"); err != nil || len(subjects) != 0 {
		t.Errorf("SubjectDocuments(acme): %v, %v", subjects, err)
	}
}

func testInvalidTenant(t *testing.T, b store.Backend) {
	ctx := context.Background()
	put(t, b, "acme", "doc", chunk("c1", "refund", vec(1, 0, 0, 0)))
	for _, bad := range []string{"", "*", ">", "acme.globex", "ACME ", "../acme"} {
		if err := b.Replace(ctx, bad, "doc", []store.Chunk{chunk("c1", "x", vec(1, 0, 0, 0))}); !errors.Is(err, store.ErrInvalidTenant) {
			t.Errorf("Replace(%q): got %v, want ErrInvalidTenant", bad, err)
		}
		if _, err := b.Search(ctx, bad, store.Query{Text: "refund"}); !errors.Is(err, store.ErrInvalidTenant) {
			t.Errorf("Search(%q): got %v, want ErrInvalidTenant", bad, err)
		}
		if _, _, err := b.Stats(ctx, bad); !errors.Is(err, store.ErrInvalidTenant) {
			t.Errorf("Stats(%q): got %v, want ErrInvalidTenant", bad, err)
		}
		if _, err := b.DeleteDocuments(ctx, bad, []string{"doc"}); !errors.Is(err, store.ErrInvalidTenant) {
			t.Errorf("DeleteDocuments(%q): got %v, want ErrInvalidTenant", bad, err)
		}
		if _, err := b.SubjectDocuments(ctx, bad, "cust-1"); !errors.Is(err, store.ErrInvalidTenant) {
			t.Errorf("SubjectDocuments(%q): got %v, want ErrInvalidTenant", bad, err)
		}
	}
}

// testPermissions checks that a chunk the caller may not read is never
// returned, from either leg, even when it is the best match.
func testPermissions(t *testing.T, b store.Backend) {
	open := chunk("open", "warranty claims for knives", vec(0.5, 0.5, 0, 0))
	hr := chunk("hr", "warranty claims salary review", vec(1, 0, 0, 0))
	hr.ACL = []string{"group:hr", "user:dana"}
	legal := chunk("legal", "warranty claims litigation hold", vec(0.99, 0.01, 0, 0))
	legal.ACL = []string{"group:legal"}
	put(t, b, "acme", "doc", open, hr, legal)

	for _, q := range []store.Query{
		{Text: "warranty claims salary litigation"},
		{Vector: vec(1, 0, 0, 0)},
		{Text: "warranty claims salary litigation", Vector: vec(1, 0, 0, 0)},
	} {
		q.Principals = nil
		wantIDs(t, "no principals", search(t, b, "acme", q), "doc/open")
		q.Principals = []string{"user:erin", "group:support"}
		wantIDs(t, "unlisted principals", search(t, b, "acme", q), "doc/open")
		q.Principals = []string{"user:erin", "group:hr"}
		wantIDs(t, "hr", search(t, b, "acme", q), "doc/open", "doc/hr")
		q.Principals = []string{"user:dana", "group:legal"}
		wantIDs(t, "dana in legal", search(t, b, "acme", q), "doc/open", "doc/hr", "doc/legal")
	}
}

func testFilters(t *testing.T, b store.Backend) {
	day := func(d int) time.Time { return time.Date(2026, 11, d, 12, 0, 0, 0, time.UTC) }
	a := chunk("a", "parcel delayed in transit", vec(1, 0, 0, 0))
	a.Kind, a.Source, a.Tags, a.Created = "email", "helpdesk", []string{"shipping", "vip"}, day(1)
	c := chunk("c", "parcel delayed customs", vec(0.9, 0.1, 0, 0))
	c.Kind, c.Source, c.Tags, c.Created = "article", "kb", []string{"shipping"}, day(10)
	d := chunk("d", "parcel delayed refund", vec(0.8, 0.2, 0, 0))
	d.Kind, d.Source, d.Tags, d.Created = "article", "wiki", []string{"refunds"}, day(20)
	undated := chunk("u", "parcel delayed undated", vec(0.7, 0.3, 0, 0))
	undated.Kind, undated.Source = "article", "kb"
	put(t, b, "acme", "doc-a", a)
	put(t, b, "acme", "doc-c", c)
	put(t, b, "acme", "doc-d", d)
	put(t, b, "acme", "doc-u", undated)

	tests := []struct {
		name   string
		filter func(q *store.Query)
		want   []string
	}{
		{"none", func(q *store.Query) {}, []string{"doc-a/a", "doc-c/c", "doc-d/d", "doc-u/u"}},
		{"kind", func(q *store.Query) { q.Kinds = []string{"article"} }, []string{"doc-c/c", "doc-d/d", "doc-u/u"}},
		{"kinds", func(q *store.Query) { q.Kinds = []string{"email", "note"} }, []string{"doc-a/a"}},
		{"source", func(q *store.Query) { q.Sources = []string{"kb"} }, []string{"doc-c/c", "doc-u/u"}},
		{"tag", func(q *store.Query) { q.Tags = []string{"shipping"} }, []string{"doc-a/a", "doc-c/c"}},
		{"tags any", func(q *store.Query) { q.Tags = []string{"vip", "refunds"} }, []string{"doc-a/a", "doc-d/d"}},
		{"after", func(q *store.Query) { q.CreatedAfter = day(10) }, []string{"doc-c/c", "doc-d/d"}},
		{"before", func(q *store.Query) { q.CreatedBefore = day(10) }, []string{"doc-a/a"}},
		{"range", func(q *store.Query) { q.CreatedAfter, q.CreatedBefore = day(2), day(15) }, []string{"doc-c/c"}},
		{"combined", func(q *store.Query) {
			q.Kinds, q.Tags, q.CreatedAfter = []string{"article"}, []string{"shipping", "refunds"}, day(15)
		}, []string{"doc-d/d"}},
		{"nothing", func(q *store.Query) { q.Sources = []string{"crm"} }, nil},
	}
	for _, tt := range tests {
		for leg, q := range map[string]store.Query{
			"keyword": {Text: "parcel delayed"},
			"dense":   {Vector: vec(1, 0, 0, 0)},
			"hybrid":  {Text: "parcel delayed", Vector: vec(1, 0, 0, 0)},
		} {
			tt.filter(&q)
			wantIDs(t, tt.name+" "+leg, search(t, b, "acme", q), tt.want...)
		}
	}
}

func testIdempotentReplace(t *testing.T, b store.Backend) {
	batch := []store.Chunk{
		chunk("c1", "gift cards never expire", vec(1, 0, 0, 0)),
		chunk("c2", "gift cards can be split", vec(0, 1, 0, 0)),
	}
	q := store.Query{Text: "gift cards", Vector: vec(1, 0, 0, 0)}
	put(t, b, "acme", "doc", batch...)
	first := search(t, b, "acme", q)
	for range 3 {
		put(t, b, "acme", "doc", batch...)
	}
	again := search(t, b, "acme", q)
	if !slices.Equal(ids(first), ids(again)) {
		t.Errorf("replaying the batch changed results: %v then %v", ids(first), ids(again))
	}
	if docs, chunks := stats(t, b, "acme"); docs != 1 || chunks != 2 {
		t.Errorf("stats after replays: %d docs %d chunks, want 1 2", docs, chunks)
	}
}

func testEditReplaces(t *testing.T, b store.Backend) {
	put(t, b, "acme", "doc",
		chunk("old-1", "returns within thirty days", vec(1, 0, 0, 0)),
		chunk("old-2", "returns need a receipt", vec(0, 1, 0, 0)))
	put(t, b, "acme", "other", chunk("x", "unrelated returns note", vec(0, 0, 1, 0)))
	put(t, b, "acme", "doc", chunk("new-1", "returns within sixty days", vec(1, 0, 0, 0)))

	wantIDs(t, "after edit", search(t, b, "acme", store.Query{Text: "returns", Vector: vec(1, 0, 0, 0)}),
		"doc/new-1", "other/x")
	if docs, chunks := stats(t, b, "acme"); docs != 2 || chunks != 2 {
		t.Errorf("stats after edit: %d docs %d chunks, want 2 2", docs, chunks)
	}
	// An empty batch removes the document.
	put(t, b, "acme", "doc")
	wantIDs(t, "after empty batch", search(t, b, "acme", store.Query{Text: "returns"}), "other/x")
}

func testDeleteDocuments(t *testing.T, b store.Backend) {
	ctx := context.Background()
	put(t, b, "acme", "d1", chunk("c1", "invoice copy", vec(1, 0, 0, 0)), chunk("c2", "invoice vat", vec(0, 1, 0, 0)))
	put(t, b, "acme", "d2", chunk("c1", "invoice address", vec(0, 0, 1, 0)))
	put(t, b, "acme", "d3", chunk("c1", "invoice currency", vec(0, 0, 0, 1)))

	n, err := b.DeleteDocuments(ctx, "acme", []string{"d1", "d3", "missing"})
	if err != nil {
		t.Fatalf("DeleteDocuments: %v", err)
	}
	if n != 3 {
		t.Errorf("DeleteDocuments removed %d chunks, want 3", n)
	}
	wantIDs(t, "after delete", search(t, b, "acme", store.Query{Text: "invoice", Vector: vec(1, 0, 0, 0)}), "d2/c1")
	if n, err := b.DeleteDocuments(ctx, "acme", []string{"d1"}); err != nil || n != 0 {
		t.Errorf("deleting again: %d, %v; want 0, nil", n, err)
	}
	if docs, chunks := stats(t, b, "acme"); docs != 1 || chunks != 1 {
		t.Errorf("stats after delete: %d docs %d chunks, want 1 1", docs, chunks)
	}
}

func testSubjectDocuments(t *testing.T, b store.Backend) {
	ctx := context.Background()
	mk := func(id string, subjects ...string) store.Chunk {
		c := chunk(id, "order question "+id, vec(1, 0, 0, 0))
		c.Subjects = subjects
		return c
	}
	put(t, b, "acme", "e1", mk("c1", "cust-1"), mk("c2", "cust-1"))
	put(t, b, "acme", "e2", mk("c1", "cust-2", "cust-1"))
	put(t, b, "acme", "e3", mk("c1", "cust-2"))
	put(t, b, "globex", "e9", mk("c1", "cust-1"))

	got, err := b.SubjectDocuments(ctx, "acme", "cust-1")
	if err != nil {
		t.Fatalf("SubjectDocuments: %v", err)
	}
	if want := []string{"e1", "e2"}; !slices.Equal(got, want) {
		t.Errorf("SubjectDocuments(cust-1) = %v, want %v", got, want)
	}
	if got, err := b.SubjectDocuments(ctx, "acme", "cust-404"); err != nil || len(got) != 0 {
		t.Errorf("SubjectDocuments(cust-404) = %v, %v", got, err)
	}
	if got, err := b.SubjectDocuments(ctx, "acme", ""); err == nil && len(got) != 0 {
		t.Errorf("SubjectDocuments(\"\") = %v", got)
	}
}

// testLegs checks that keyword-only, vector-only and hybrid queries each
// find what their legs can, and that chunks of another model or dimension
// stay out of the dense leg.
func testLegs(t *testing.T, b store.Backend) {
	a := chunk("a", "express shipping upgrade", vec(1, 0, 0, 0))
	c := chunk("c", "cast iron seasoning", vec(0, 1, 0, 0))
	other := chunk("o", "knife sharpening service", []float32{1, 0, 0})
	other.Model = "other-model"
	put(t, b, "acme", "d", a, c, other)

	if got := search(t, b, "acme", store.Query{Text: "seasoning"}); len(got) == 0 || got[0].Chunk.ID != "c" {
		t.Errorf("keyword leg: got %v, want c first", ids(got))
	}
	got := search(t, b, "acme", store.Query{Vector: vec(0.1, 0.9, 0, 0)})
	if len(got) == 0 || got[0].Chunk.ID != "c" {
		t.Errorf("dense leg: got %v, want c first", ids(got))
	}
	if slices.Contains(ids(got), "d/o") {
		t.Errorf("dense leg returned a chunk of another model: %v", ids(got))
	}
	if got[0].VectorScore <= 0.9 {
		t.Errorf("dense leg: vector score %.3f, want the cosine (~0.99)", got[0].VectorScore)
	}
	// The hybrid leg ranks a chunk both legs found above chunks only one
	// found.
	got = search(t, b, "acme", store.Query{Text: "express shipping", Vector: vec(1, 0, 0, 0)})
	if len(got) == 0 || got[0].Chunk.ID != "a" {
		t.Errorf("hybrid: got %v, want a first", ids(got))
	}
	for i := 1; i < len(got); i++ {
		if got[i].Score > got[i-1].Score {
			t.Errorf("hybrid results not sorted by score: %v", got)
		}
	}
	// A vector of a model no chunk was embedded by cannot be compared: the
	// keyword leg answers and the dense leg is reported missing.
	resp, err := b.Search(context.Background(), "acme", store.Query{Text: "seasoning", Vector: vec(0, 1, 0, 0), Model: "unknown-model", TopK: 5})
	if err != nil {
		t.Fatalf("search with another model: %v", err)
	}
	if !slices.Equal(resp.Missing, []string{store.LegDense}) || len(resp.Results) == 0 || resp.Results[0].Chunk.ID != "c" {
		t.Errorf("search with another model: missing %v, results %v; want the dense leg missing and c", resp.Missing, ids(resp.Results))
	}

	// TopK bounds the results.
	if got := search(t, b, "acme", store.Query{Text: "express cast knife", Vector: vec(1, 1, 0, 0), TopK: 1}); len(got) != 1 {
		t.Errorf("TopK 1: got %d results", len(got))
	}
}

func testCitations(t *testing.T, b store.Backend) {
	created := time.Date(2026, 10, 3, 8, 30, 0, 0, time.UTC)
	c := chunk("c1", "Hold the blade at fifteen degrees.", vec(1, 0, 0, 0))
	c.Title = "Knife care > Sharpening"
	c.HeadingPath = []string{"Knife care", "Sharpening"}
	c.Start, c.End, c.Ordinal = 120, 154, 3
	c.Tags = []string{"knives"}
	c.Created = created
	c.Quoted = true
	put(t, b, "acme", "kb/knife-care", c)

	got := search(t, b, "acme", store.Query{Text: "blade degrees", Vector: vec(1, 0, 0, 0)})
	if len(got) != 1 {
		t.Fatalf("got %d results, want 1", len(got))
	}
	r := got[0].Chunk
	if r.DocID != "kb/knife-care" || r.ID != "c1" || r.Title != c.Title || r.Text != c.Text ||
		r.Start != 120 || r.End != 154 || r.Ordinal != 3 || r.Kind != "article" || r.Source != "kb" || !r.Quoted {
		t.Errorf("citation fields lost: %+v", r)
	}
	if !slices.Equal(r.HeadingPath, c.HeadingPath) || !slices.Equal(r.Tags, c.Tags) || !r.Created.Equal(created) {
		t.Errorf("heading path, tags or time lost: %+v", r)
	}
	if got[0].Score <= 0 || got[0].KeywordScore < 0 || got[0].VectorScore <= 0.99 {
		t.Errorf("scores: %+v", got[0])
	}
	if r.Vector != nil {
		t.Errorf("result carries the vector")
	}
}

func testEmpty(t *testing.T, b store.Backend) {
	ctx := context.Background()
	if empty, err := b.Empty(ctx); err != nil || !empty {
		t.Fatalf("new backend: Empty() = %v, %v", empty, err)
	}
	put(t, b, "acme", "doc", chunk("c1", "refund", vec(1, 0, 0, 0)))
	if empty, err := b.Empty(ctx); err != nil || empty {
		t.Errorf("after Replace: Empty() = %v, %v", empty, err)
	}
	put(t, b, "acme", "doc")
	if empty, err := b.Empty(ctx); err != nil || !empty {
		t.Errorf("after removing the last document: Empty() = %v, %v", empty, err)
	}
}

func testInvalidInput(t *testing.T, b store.Backend) {
	ctx := context.Background()
	withACL := chunk("c1", "empty principal", vec(1, 0, 0, 0))
	withACL.ACL = []string{"group:hr", ""}
	bad := [][]store.Chunk{
		{chunk("", "no id", vec(1, 0, 0, 0))},
		{chunk("c1", "one", vec(1, 0, 0, 0)), chunk("c1", "twice", vec(0, 1, 0, 0))},
		{chunk("b\x00c", "an id with NUL could run into the next", vec(1, 0, 0, 0))},
		{chunk(strings.Repeat("c", store.MaxIDBytes+1), "long id", vec(1, 0, 0, 0))},
		{chunk("c1", strings.Repeat("x", store.MaxTextBytes+1), vec(1, 0, 0, 0))},
		{withACL},
	}
	for _, chunks := range bad {
		if err := b.Replace(ctx, "acme", "doc", chunks); !errors.Is(err, store.ErrInvalidBatch) {
			t.Errorf("Replace(%v): got %v, want ErrInvalidBatch", chunks, err)
		}
	}
	for _, docID := range []string{"", "a\x00b", "a\nb", "\xff"} {
		if err := b.Replace(ctx, "acme", docID, []store.Chunk{chunk("c1", "x", vec(1, 0, 0, 0))}); !errors.Is(err, store.ErrInvalidBatch) {
			t.Errorf("Replace with doc id %q: got %v, want ErrInvalidBatch", docID, err)
		}
	}
	if _, err := b.Search(ctx, "acme", store.Query{}); !errors.Is(err, store.ErrInvalidQuery) {
		t.Errorf("Search without text or vector: got %v, want ErrInvalidQuery", err)
	}
	day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := b.Search(ctx, "acme", store.Query{Text: "x", CreatedAfter: day, CreatedBefore: day}); !errors.Is(err, store.ErrInvalidQuery) {
		t.Errorf("Search with an empty date range: got %v, want ErrInvalidQuery", err)
	}
	if docs, chunks := stats(t, b, "acme"); docs != 0 || chunks != 0 {
		t.Errorf("a refused batch left %d docs %d chunks", docs, chunks)
	}
}
