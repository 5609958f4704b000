package qdrant

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/keelhq/keel/services/retrieve/internal/qdrant/qdranttest"
	"github.com/keelhq/keel/services/retrieve/internal/store"
)

// rawClient returns a go-client connected to srv, for inspecting what the
// backend left there.
func rawClient(t *testing.T, srv *qdranttest.Server) *qdrant.Client {
	t.Helper()
	host, port, err := Config{Address: srv.Addr()}.hostPort()
	if err != nil {
		t.Fatal(err)
	}
	c, err := qdrant.NewClient(&qdrant.Config{
		Host: host, Port: port, PoolSize: 1, SkipCompatibilityCheck: true,
	})
	if err != nil {
		t.Fatalf("qdrant client: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func testChunk(id, text, model string, vector ...float32) store.Chunk {
	return store.Chunk{ID: id, Text: text, Model: model, Vector: vector, Kind: "article", Source: "kb"}
}

func mustReplace(t *testing.T, b *Backend, tenantID, docID string, chunks ...store.Chunk) {
	t.Helper()
	if err := b.Replace(context.Background(), tenantID, docID, chunks); err != nil {
		t.Fatalf("Replace(%s, %s): %v", tenantID, docID, err)
	}
}

func mustSearch(t *testing.T, b *Backend, tenantID string, q store.Query) []store.Result {
	t.Helper()
	resp, err := b.Search(context.Background(), tenantID, q)
	if err != nil {
		t.Fatalf("Search(%s): %v", tenantID, err)
	}
	return resp.Results
}

func resultIDs(results []store.Result) []string {
	out := make([]string, len(results))
	for i, r := range results {
		out[i] = r.Chunk.DocID + "/" + r.Chunk.ID
	}
	return out
}

// hasTenantMust reports whether a filter requires tenant to match
// tenantID at its top level.
func hasTenantMust(f *qdrant.Filter, tenantID string) bool {
	for _, c := range f.GetMust() {
		fc := c.GetField()
		if fc.GetKey() == fieldTenant && fc.GetMatch().GetKeyword() == tenantID {
			return true
		}
	}
	return false
}

// TestTenantFilterInEveryPrefetch records every request of a range of
// searches and checks that each prefetch filters by the tenant itself,
// and that every count, facet and delete does too.
func TestTenantFilterInEveryPrefetch(t *testing.T) {
	srv := qdranttest.Start(t)
	b := openOn(t, srv, Config{})
	mustReplace(t, b, "acme", "d1", testChunk("c1", "refund policy", "m", 1, 0, 0, 0))
	mustReplace(t, b, "acme", "d2", testChunk("c1", "refund window", "other", 0, 1, 0))
	srv.ResetRequests()

	for _, q := range []store.Query{
		{Text: "refund"},
		{Vector: []float32{1, 0, 0, 0}, Model: "m"},
		{Vector: []float32{1, 0, 0, 0}},
		{Text: "refund", Vector: []float32{1, 0, 0, 0}, Model: "m", Kinds: []string{"article"},
			Principals: []string{"user:a"}, CreatedAfter: time.Unix(0, 0)},
	} {
		mustSearch(t, b, "acme", q)
	}
	if _, _, err := b.Stats(context.Background(), "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.SubjectDocuments(context.Background(), "acme", "cust-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.DeleteDocuments(context.Background(), "acme", []string{"d1"}); err != nil {
		t.Fatal(err)
	}

	queries, prefetches := 0, 0
	for _, r := range srv.Requests() {
		switch m := r.Message.(type) {
		case *qdrant.QueryPoints:
			queries++
			if len(m.GetPrefetch()) == 0 {
				t.Errorf("query of %s has no prefetch: the tenant filter must sit in each leg", m.GetCollectionName())
			}
			for _, pf := range m.GetPrefetch() {
				prefetches++
				if !hasTenantMust(pf.GetFilter(), "acme") {
					t.Errorf("prefetch using %s in %s lacks the tenant filter: %v",
						pf.GetUsing(), m.GetCollectionName(), pf.GetFilter())
				}
			}
		case *qdrant.CountPoints:
			if !hasTenantMust(m.GetFilter(), "acme") {
				t.Errorf("count without the tenant filter: %v", m.GetFilter())
			}
		case *qdrant.FacetCounts:
			if !hasTenantMust(m.GetFilter(), "acme") {
				t.Errorf("facet without the tenant filter: %v", m.GetFilter())
			}
		case *qdrant.DeletePoints:
			if !hasTenantMust(m.GetPoints().GetFilter(), "acme") {
				t.Errorf("delete without the tenant filter: %v", m.GetPoints())
			}
		}
	}
	// Keyword legs reach both collections, dense legs the one collection
	// of dimension 4: 2+1+1+2 queries, 2+1+1+3 prefetches.
	if queries != 6 || prefetches != 7 {
		t.Errorf("saw %d queries with %d prefetches, want 6 and 7", queries, prefetches)
	}
}

// TestTenantNeverSeesAnotherTenantsBetterMatch stores in another tenant a
// chunk that matches the query better than anything of the caller's, on
// both legs, and checks it never comes back.
func TestTenantNeverSeesAnotherTenantsBetterMatch(t *testing.T) {
	b := openOn(t, qdranttest.Start(t), Config{})
	mustReplace(t, b, "acme", "doc", testChunk("c1", "warranty terms for blenders", "m", 0.6, 0.8, 0, 0))
	mustReplace(t, b, "globex", "doc",
		testChunk("c1", "blade sharpening sharpening sharpening guide", "m", 1, 0, 0, 0))

	for _, q := range []store.Query{
		{Text: "blade sharpening guide", TopK: 10},
		{Vector: []float32{1, 0, 0, 0}, Model: "m", TopK: 10},
		{Text: "blade sharpening guide", Vector: []float32{1, 0, 0, 0}, Model: "m", TopK: 10},
	} {
		for _, r := range mustSearch(t, b, "acme", q) {
			if r.Chunk.Text != "warranty terms for blenders" {
				t.Errorf("acme saw %q of another tenant for %+v", r.Chunk.Text, q)
			}
		}
	}
}

func collectionNames(t *testing.T, c *qdrant.Client) []string {
	t.Helper()
	names, err := c.ListCollections(context.Background())
	if err != nil {
		t.Fatalf("ListCollections: %v", err)
	}
	slices.Sort(names)
	return names
}

func TestCollectionPerModel(t *testing.T) {
	srv := qdranttest.Start(t)
	b := openOn(t, srv, Config{})
	raw := rawClient(t, srv)
	mustReplace(t, b, "acme", "doc",
		testChunk("a", "alpha note", "text-embedding-3/small", 1, 0, 0, 0),
		testChunk("b", "beta note", "Text Embedding 3 Large!", 0.9, 0.1, 0, 0),
		testChunk("c", "gamma note", "mini", 1, 0, 0),
		testChunk("k", "kappa note", ""))

	want := []string{"keel_keyword_only", "keel_mini_3", "keel_text_embedding_3_large_4", "keel_text_embedding_3_small_4"}
	if diff := cmp.Diff(want, collectionNames(t, raw)); diff != "" {
		t.Errorf("collections (-want +got):\n%s", diff)
	}

	// The dense leg keeps to the model; without a model it takes every
	// chunk of the dimension.
	got := resultIDs(mustSearch(t, b, "acme", store.Query{Vector: []float32{1, 0, 0, 0}, Model: "text-embedding-3/small"}))
	if diff := cmp.Diff([]string{"doc/a"}, got); diff != "" {
		t.Errorf("dense with model (-want +got):\n%s", diff)
	}
	got = resultIDs(mustSearch(t, b, "acme", store.Query{Vector: []float32{1, 0, 0, 0}}))
	if diff := cmp.Diff([]string{"doc/a", "doc/b"}, got); diff != "" {
		t.Errorf("dense without model (-want +got):\n%s", diff)
	}
	// The keyword leg reaches every collection, the keyword-only one too.
	got = resultIDs(mustSearch(t, b, "acme", store.Query{Text: "note", TopK: 10}))
	slices.Sort(got)
	if diff := cmp.Diff([]string{"doc/a", "doc/b", "doc/c", "doc/k"}, got); diff != "" {
		t.Errorf("keyword (-want +got):\n%s", diff)
	}

	// A chunk re-embedded by another model leaves its old collection.
	mustReplace(t, b, "acme", "doc", testChunk("a", "alpha note", "mini", 0, 1, 0))
	if docs, chunks, err := b.Stats(context.Background(), "acme"); err != nil || docs != 1 || chunks != 1 {
		t.Errorf("Stats after re-embedding: %d docs %d chunks, %v; want 1 1", docs, chunks, err)
	}
	for _, name := range []string{"keel_text_embedding_3_small_4", "keel_keyword_only"} {
		n, err := raw.Count(context.Background(), &qdrant.CountPoints{CollectionName: name, Exact: qdrant.PtrOf(true)})
		if err != nil || n != 0 {
			t.Errorf("%s holds %d points (%v) after the document moved", name, n, err)
		}
	}
}

func TestCollectionSchema(t *testing.T) {
	srv := qdranttest.Start(t)
	b := openOn(t, srv, Config{CollectionPrefix: "kx_"})
	mustReplace(t, b, "acme", "doc", testChunk("c1", "hello", "m", 1, 0))

	info, err := rawClient(t, srv).GetCollectionInfo(context.Background(), "kx_m_2")
	if err != nil {
		t.Fatalf("GetCollectionInfo: %v", err)
	}
	dense := info.GetConfig().GetParams().GetVectorsConfig().GetParamsMap().GetMap()[denseVector]
	if dense.GetSize() != 2 || dense.GetDistance() != qdrant.Distance_Cosine {
		t.Errorf("dense vector: %v, want size 2 cosine", dense)
	}
	sparse := info.GetConfig().GetParams().GetSparseVectorsConfig().GetMap()[keywordVector]
	if sparse.GetModifier() != qdrant.Modifier_Idf {
		t.Errorf("keyword vector: %v, want the IDF modifier", sparse)
	}

	schema := info.GetPayloadSchema()
	if !schema[fieldTenant].GetParams().GetKeywordIndexParams().GetIsTenant() {
		t.Errorf("tenant index %v is not marked is_tenant", schema[fieldTenant])
	}
	for _, field := range append([]string{fieldTenant}, keywordIndexes...) {
		if got := schema[field].GetDataType(); got != qdrant.PayloadSchemaType_Keyword {
			t.Errorf("index of %s: %v, want keyword", field, got)
		}
	}
	if got := schema[fieldCreated].GetDataType(); got != qdrant.PayloadSchemaType_Datetime {
		t.Errorf("index of created: %v, want datetime", got)
	}
}

func TestAPIKey(t *testing.T) {
	srv := qdranttest.Start(t, qdranttest.WithAPIKey("right"))
	for _, key := range []string{"", "wrong"} {
		_, err := Open(context.Background(), Config{Address: srv.Addr(), APIKey: key})
		if !errors.Is(err, ErrUnauthorized) || status.Code(err) != codes.PermissionDenied {
			t.Errorf("Open with key %q: got %v, want ErrUnauthorized with PermissionDenied", key, err)
		}
		if err != nil && strings.Contains(err.Error(), "right") {
			t.Errorf("error shows the key: %v", err)
		}
	}

	b := openOn(t, srv, Config{APIKey: "right"})
	mustReplace(t, b, "acme", "doc", testChunk("c1", "hello", "m", 1, 0))
	if got := mustSearch(t, b, "acme", store.Query{Text: "hello"}); len(got) != 1 {
		t.Errorf("search with the right key: %v", resultIDs(got))
	}
}

func TestUnavailableIsRetryable(t *testing.T) {
	srv := qdranttest.Start(t)
	b := openOn(t, srv, Config{})
	mustReplace(t, b, "acme", "doc", testChunk("c1", "hello", "m", 1, 0))
	ctx := context.Background()

	srv.FailNext(qdrant.Points_Query_FullMethodName, 1, codes.Unavailable)
	_, err := b.Search(ctx, "acme", store.Query{Text: "hello"})
	if !errors.Is(err, ErrUnavailable) || status.Code(err) != codes.Unavailable {
		t.Errorf("Search: got %v, want ErrUnavailable with code Unavailable", err)
	}
	if got := mustSearch(t, b, "acme", store.Query{Text: "hello"}); len(got) != 1 {
		t.Errorf("retried search: %v", resultIDs(got))
	}

	srv.FailNext(qdrant.Points_Upsert_FullMethodName, 1, codes.Unavailable)
	if err := b.Replace(ctx, "acme", "doc", []store.Chunk{testChunk("c2", "bye", "m", 0, 1)}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Replace: got %v, want ErrUnavailable", err)
	}
	// The failed replace left the document as it was.
	got := resultIDs(mustSearch(t, b, "acme", store.Query{Text: "hello bye"}))
	if diff := cmp.Diff([]string{"doc/c1"}, got); diff != "" {
		t.Errorf("after a failed replace (-want +got):\n%s", diff)
	}

	srv.FailNext("", 1, codes.ResourceExhausted)
	if _, _, err := b.Stats(ctx, "acme"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Stats: got %v, want ErrUnavailable", err)
	}
}

func TestDeadlines(t *testing.T) {
	srv := qdranttest.Start(t)
	b := openOn(t, srv, Config{})
	short := openOn(t, srv, Config{Timeout: 20 * time.Millisecond})
	mustReplace(t, b, "acme", "doc", testChunk("c1", "hello", "m", 1, 0))
	srv.SetDelay(time.Minute)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := b.Search(ctx, "acme", store.Query{Text: "hello"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Search past the context's deadline: got %v, want DeadlineExceeded", err)
	}

	// The configured timeout bounds a call whose context has none.
	if err := short.Replace(context.Background(), "acme", "doc", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Replace past the configured timeout: got %v, want DeadlineExceeded", err)
	}
}

func TestMissingCollectionMeansNoResults(t *testing.T) {
	srv := qdranttest.Start(t)
	b := openOn(t, srv, Config{})
	mustReplace(t, b, "acme", "doc", testChunk("c1", "hello", "m", 1, 0))

	// The collection goes between the listing and the query.
	srv.FailNext(qdrant.Points_Query_FullMethodName, 1, codes.NotFound)
	if got := mustSearch(t, b, "acme", store.Query{Text: "hello"}); len(got) != 0 {
		t.Errorf("search of a vanished collection: %v", resultIDs(got))
	}

	// A collection deleted behind the backend is created again on write.
	if err := rawClient(t, srv).DeleteCollection(context.Background(), "keel_m_2"); err != nil {
		t.Fatal(err)
	}
	mustReplace(t, b, "acme", "doc", testChunk("c1", "hello", "m", 1, 0))
	if got := mustSearch(t, b, "acme", store.Query{Text: "hello"}); len(got) != 1 {
		t.Errorf("search after re-creation: %v", resultIDs(got))
	}
}

func TestWrongDimensionSurfaces(t *testing.T) {
	srv := qdranttest.Start(t)
	// Someone made the collection Keel would use with another dimension
	// and otherwise the same vectors, so that the dimension is the only
	// thing wrong.
	err := rawClient(t, srv).CreateCollection(context.Background(), &qdrant.CreateCollection{
		CollectionName: "keel_m_2",
		VectorsConfig: qdrant.NewVectorsConfigMap(map[string]*qdrant.VectorParams{
			denseVector: {Size: 3, Distance: qdrant.Distance_Cosine},
		}),
		SparseVectorsConfig: qdrant.NewSparseVectorsConfig(map[string]*qdrant.SparseVectorParams{
			keywordVector: {Modifier: qdrant.Modifier_Idf.Enum()},
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	b := openOn(t, srv, Config{})
	err = b.Replace(context.Background(), "acme", "doc", []store.Chunk{testChunk("c1", "hello", "m", 1, 0)})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "expected dim: 3, got 2") {
		t.Errorf("Replace into a collection of another dimension: got %v", err)
	}
}

// TestConcurrentFirstUse has two backends, as two processes would, write
// to a new collection at once.
func TestConcurrentFirstUse(t *testing.T) {
	srv := qdranttest.Start(t)
	backends := []*Backend{openOn(t, srv, Config{}), openOn(t, srv, Config{})}

	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			b := backends[i%2]
			docID := fmt.Sprintf("doc-%d", i)
			errs <- b.Replace(context.Background(), "acme", docID,
				[]store.Chunk{testChunk("c1", "shared words", "m", 1, float32(i))})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Replace: %v", err)
		}
	}
	if docs, chunks, err := backends[0].Stats(context.Background(), "acme"); err != nil || docs != 16 || chunks != 16 {
		t.Errorf("Stats: %d docs %d chunks, %v; want 16 16", docs, chunks, err)
	}

	creates := 0
	for _, r := range srv.Requests() {
		if r.Method == qdrant.Collections_Create_FullMethodName {
			creates++
		}
	}
	if creates < 2 {
		t.Errorf("saw %d creates, want one per backend at least", creates)
	}
}

func TestExistingCollectionIsUsed(t *testing.T) {
	srv := qdranttest.Start(t)
	first := openOn(t, srv, Config{})
	mustReplace(t, first, "acme", "d1", testChunk("c1", "hello", "m", 1, 0))

	// A second process finds the collection there: Create answers
	// AlreadyExists, which it takes as success.
	second := openOn(t, srv, Config{})
	mustReplace(t, second, "acme", "d2", testChunk("c1", "hello again", "m", 0, 1))
	if docs, chunks, err := second.Stats(context.Background(), "acme"); err != nil || docs != 2 || chunks != 2 {
		t.Errorf("Stats: %d docs %d chunks, %v; want 2 2", docs, chunks, err)
	}
}

// TestReplaceWritesBeforeDeleting checks the order of a replacement: the
// new points first, then a delete that spares them.
func TestReplaceWritesBeforeDeleting(t *testing.T) {
	srv := qdranttest.Start(t)
	b := openOn(t, srv, Config{})
	mustReplace(t, b, "acme", "doc", testChunk("old", "old text", "m", 1, 0))
	srv.ResetRequests()
	mustReplace(t, b, "acme", "doc", testChunk("new", "new text", "m", 0, 1))

	var methods []string
	for _, r := range srv.Requests() {
		switch m := r.Message.(type) {
		case *qdrant.UpsertPoints:
			methods = append(methods, "upsert")
			if !m.GetWait() {
				t.Errorf("upsert does not wait")
			}
		case *qdrant.DeletePoints:
			methods = append(methods, "delete")
			f := m.GetPoints().GetFilter()
			ids := f.GetMustNot()[0].GetHasId().GetHasId()
			if len(ids) != 1 || ids[0].GetUuid() != pointID("acme", "doc", "new").GetUuid() {
				t.Errorf("delete spares %v, want the new point", ids)
			}
		}
	}
	if diff := cmp.Diff([]string{"upsert", "delete"}, methods); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestSearchScores(t *testing.T) {
	b := openOn(t, qdranttest.Start(t), Config{})
	mustReplace(t, b, "acme", "doc",
		testChunk("a", "express shipping", "m", 1, 0, 0, 0),
		testChunk("b", "standard shipping", "m", 0.6, 0.8, 0, 0))

	got := mustSearch(t, b, "acme", store.Query{Text: "express shipping", Vector: []float32{1, 0, 0, 0}, Model: "m"})
	if len(got) != 2 {
		t.Fatalf("got %v", resultIDs(got))
	}
	// a is first in both legs, b second in both: 2/61 and 2/62.
	want := []float64{2.0 / 61, 2.0 / 62}
	for i, r := range got {
		if d := r.Score - want[i]; d > 1e-6 || d < -1e-6 {
			t.Errorf("result %d score %.6f, want %.6f", i, r.Score, want[i])
		}
	}
	if d := got[1].VectorScore - 0.6; d > 1e-6 || d < -1e-6 {
		t.Errorf("vector score of b %.6f, want 0.6", got[1].VectorScore)
	}
}
