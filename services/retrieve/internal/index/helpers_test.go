package index

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/keelhq/keel/services/retrieve/internal/store"
	"github.com/keelhq/keel/services/retrieve/internal/store/storetest"
)

// bg is the context of test calls that do not end.
var bg = context.Background()

// searchResults runs Search without a deadline and returns its results; a
// partial answer cannot happen without one and is an error.
func (s *Store) searchResults(tenantID string, q Query) ([]Result, error) {
	resp, err := s.Search(bg, tenantID, q)
	if err == nil && resp.Partial() {
		panic("partial search without a deadline")
	}
	return resp.Results, err
}

// deleteDocument removes one document.
func (s *Store) deleteDocument(tenantID, docID string) error {
	_, err := s.DeleteDocuments(bg, tenantID, []string{docID})
	return err
}

// isEmpty reports Empty's answer.
func (s *Store) isEmpty() bool {
	empty, _ := s.Empty(bg)
	return empty
}

// TestBackendContract runs the store contract against an in-memory store
// and one persisted to a directory.
func TestBackendContract(t *testing.T) {
	t.Run("Memory", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Backend {
			s, err := Open(Options{})
			if err != nil {
				t.Fatal(err)
			}
			return s
		})
	})
	t.Run("Persisted", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Backend {
			s, err := Open(Options{Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			return s
		})
	})
}

// TestSearchPartial holds the dense leg back until the search's context
// has ended: the answer is the keyword leg's, marked partial, and a search
// whose only leg misses the deadline fails with the context's error.
func TestSearchPartial(t *testing.T) {
	s, err := Open(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Replace(bg, "acme", "doc", []Chunk{
		{ID: "c1", Text: "refund window thirty days", Vector: []float32{1, 0}, Model: "m"},
		{ID: "c2", Text: "shipping rates", Vector: []float32{0, 1}, Model: "m"},
	}); err != nil {
		t.Fatal(err)
	}

	// The dense leg is held until the end; the search's context ends as
	// soon as the keyword leg has handed in its answer.
	release := make(chan struct{})
	held := make(chan struct{}, 4)
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	beforeAnswer = func(leg string) {
		if leg == store.LegDense {
			held <- struct{}{}
			<-release
		}
	}
	afterAnswer = func(leg string) {
		if leg == store.LegKeyword {
			cancel()
		}
	}
	t.Cleanup(func() { beforeAnswer, afterAnswer = func(string) {}, func(string) {} })

	resp, err := s.Search(ctx, "acme", Query{Text: "refund", Vector: []float32{0, 1}, Model: "m"})
	if err != nil {
		t.Fatalf("Search: %v", err)
	}
	if !resp.Partial() || !slices.Equal(resp.Missing, []string{store.LegDense}) {
		t.Errorf("Missing = %v, want [dense]", resp.Missing)
	}
	if len(resp.Results) != 1 || resp.Results[0].Chunk.ID != "c1" || resp.Results[0].VectorScore != 0 {
		t.Errorf("results = %+v, want c1 from the keyword leg alone", resp.Results)
	}

	ctx2, cancel2 := context.WithTimeout(bg, 50*time.Millisecond)
	defer cancel2()
	_, err = s.Search(ctx2, "acme", Query{Vector: []float32{0, 1}, Model: "m"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("dense-only search past its deadline: got %v, want DeadlineExceeded", err)
	}
	close(release)
	for range 2 {
		<-held
	}

	// Released legs finish; the index is still usable.
	got, err := s.searchResults("acme", Query{Text: "shipping", Vector: []float32{0, 1}, Model: "m"})
	if err != nil || len(got) == 0 || got[0].Chunk.ID != "c2" {
		t.Errorf("search after the held legs: %v, %v", got, err)
	}
}

// TestHugeVectorsStayOutOfTheDenseLeg indexes a vector whose dot products
// overflow float32: it is left out of the dense leg like a NaN or zero
// vector, and never scores above 1.
func TestHugeVectorsStayOutOfTheDenseLeg(t *testing.T) {
	s, err := Open(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Replace(bg, "acme", "doc", []Chunk{
		{ID: "huge", Text: "refund", Vector: []float32{3e38, 3e38}, Model: "m"},
		{ID: "ok", Text: "refund", Vector: []float32{1, 1}, Model: "m"},
	}); err != nil {
		t.Fatal(err)
	}
	got, err := s.searchResults("acme", Query{Text: "refund", Vector: []float32{1, 1}, Model: "m"})
	if err != nil || len(got) != 2 {
		t.Fatalf("search: %v, %v", got, err)
	}
	if got[0].Chunk.ID != "ok" {
		t.Errorf("first result %s, want ok", got[0].Chunk.ID)
	}
	for _, r := range got {
		if r.VectorScore < 0 || r.VectorScore > 1.000001 {
			t.Errorf("%s has vector score %v", r.Chunk.ID, r.VectorScore)
		}
	}
}

// TestDenseLegOfAnotherModelIsMissing searches a tenant embedded by one
// model with a vector of another: the dense leg cannot compare, and the
// answer says so rather than passing the keyword leg off as whole.
func TestDenseLegOfAnotherModelIsMissing(t *testing.T) {
	s, err := Open(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Replace(bg, "acme", "doc", []Chunk{{ID: "c1", Text: "refund window", Vector: []float32{1, 0}, Model: "old"}}); err != nil {
		t.Fatal(err)
	}
	for name, q := range map[string]Query{
		"other model":     {Text: "refund", Vector: []float32{1, 0}, Model: "new"},
		"other dimension": {Text: "refund", Vector: []float32{1, 0, 0}, Model: "old"},
	} {
		resp, err := s.Search(bg, "acme", q)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !slices.Equal(resp.Missing, []string{store.LegDense}) || len(resp.Results) != 1 {
			t.Errorf("%s: missing %v, %d results; want the dense leg missing and the keyword hit", name, resp.Missing, len(resp.Results))
		}
	}
	resp, err := s.Search(bg, "acme", Query{Text: "refund", Vector: []float32{1, 0}, Model: "old"})
	if err != nil || resp.Partial() {
		t.Errorf("same model: %+v, %v", resp, err)
	}
}
