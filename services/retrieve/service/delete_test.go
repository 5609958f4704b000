package service

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/keelhq/keel/pkg/grpcx"
	"github.com/keelhq/keel/pkg/logging"
	"github.com/keelhq/keel/pkg/natstest"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

// fixedEmbedder embeds every query as the same vector of test-model and
// counts its calls.
type fixedEmbedder struct {
	keelv1.UnimplementedEmbedderServiceServer
	calls chan struct{}
}

func (e fixedEmbedder) Embed(_ context.Context, req *keelv1.EmbedRequest) (*keelv1.EmbedResponse, error) {
	e.calls <- struct{}{}
	resp := &keelv1.EmbedResponse{Model: "test-model"}
	for range req.GetTexts() {
		resp.Vectors = append(resp.Vectors, &keelv1.Vector{Values: []float32{0.6, 0.8}})
	}
	return resp, nil
}

// startFixedEmbedder serves a fixedEmbedder and returns its address and
// the channel its calls are counted on.
func startFixedEmbedder(t *testing.T) (string, chan struct{}) {
	t.Helper()
	calls := make(chan struct{}, 1000)
	lis := listen(t)
	srv := grpcx.NewServer(logging.Discard())
	keelv1.RegisterEmbedderServiceServer(srv, fixedEmbedder{calls: calls})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- grpcx.Serve(ctx, srv, lis) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve fixed embedder: %v", err)
		}
	})
	return lis.Addr().String(), calls
}

// subjectBatch is refundBatch about the data subjects, tagged and dated.
func subjectBatch(docID string, created time.Time, tags []string, subjects ...string) *keelv1.ChunkBatch {
	b := refundBatch(docID)
	c := b.GetChunks()[0]
	c.Tags = tags
	c.CreatedAt = timestamppb.New(created)
	c.DataSubjects = subjects
	return b
}

func search(t *testing.T, client keelv1.RetrieverServiceClient, req *keelv1.SearchRequest) *keelv1.SearchResponse {
	t.Helper()
	resp, err := client.Search(as("acme"), req)
	if err != nil {
		t.Fatalf("Search(%v): %v", req, err)
	}
	return resp
}

func TestSearchCachesUntilTheTenantChanges(t *testing.T) {
	t.Parallel()
	nc, js := natstest.Start(t)
	embedAddr, calls := startFixedEmbedder(t)
	run := startRetrieve(t, nc, testConfig(nc, embedAddr, t.TempDir()))
	publishBatch(t, js, "acme", "kb-1:v1", refundBatch("kb-1"))
	publishBatch(t, js, "globex", "globex-kb-1:v1", refundBatch("kb-1"))
	waitForDocuments(t, run.client, "acme", 1)
	waitForDocuments(t, run.client, "globex", 1)

	req := &keelv1.SearchRequest{Query: "refunds card", Principals: []string{"user:ana"}}
	first := search(t, run.client, req)
	if first.GetCached() || first.GetPartial() || len(first.GetPassages()) != 1 {
		t.Fatalf("first search: %v", first)
	}
	second := search(t, run.client, req)
	if !second.GetCached() || strings.Join(passageIDs(second), ",") != "kb-1" {
		t.Errorf("repeated search not from the cache: %v", second)
	}
	if len(calls) != 1 {
		t.Errorf("the query was embedded %d times, want once", len(calls))
	}

	// Other principals and another tenant do not share the answer.
	if other := search(t, run.client, &keelv1.SearchRequest{Query: "refunds card"}); other.GetCached() {
		t.Errorf("a caller with other principals got a cached answer")
	}
	if resp, err := run.client.Search(as("globex"), req); err != nil || resp.GetCached() {
		t.Errorf("globex got acme's cached answer: %v, %v", resp, err)
	}

	// A new document of the tenant invalidates its answers.
	publishBatch(t, js, "acme", "kb-2:v1", refundBatch("kb-2", "user:ana"))
	waitForDocuments(t, run.client, "acme", 2)
	third := search(t, run.client, req)
	if third.GetCached() || len(third.GetPassages()) != 2 {
		t.Errorf("search after a change: cached %v passages %v, want a fresh answer with both", third.GetCached(), passageIDs(third))
	}
}

func TestSearchFiltersByTagsAndDates(t *testing.T) {
	t.Parallel()
	nc, js := natstest.Start(t)
	run := startRetrieve(t, nc, testConfig(nc, "127.0.0.1:1", t.TempDir()))
	day := func(d int) time.Time { return time.Date(2026, 11, d, 9, 0, 0, 0, time.UTC) }
	publishBatch(t, js, "acme", "old:v1", subjectBatch("old", day(1), []string{"refunds"}))
	publishBatch(t, js, "acme", "new:v1", subjectBatch("new", day(20), []string{"refunds", "vip"}))
	waitForDocuments(t, run.client, "acme", 2)

	tests := []struct {
		name   string
		filter *keelv1.SearchFilter
		want   string
	}{
		{"tag", &keelv1.SearchFilter{Tags: []string{"vip"}}, "new"},
		{"after", &keelv1.SearchFilter{CreatedAfter: timestamppb.New(day(10))}, "new"},
		{"before", &keelv1.SearchFilter{CreatedBefore: timestamppb.New(day(10))}, "old"},
		{"both", &keelv1.SearchFilter{Tags: []string{"refunds"}, CreatedAfter: timestamppb.New(day(1)), CreatedBefore: timestamppb.New(day(2))}, "old"},
	}
	for _, tt := range tests {
		resp := search(t, run.client, &keelv1.SearchRequest{Query: "refunds", Filter: tt.filter})
		if got := strings.Join(passageIDs(resp), ","); got != tt.want {
			t.Errorf("%s: passages %s, want %s", tt.name, got, tt.want)
		}
		if missing := resp.GetMissingLegs(); !slices.Equal(missing, []string{"dense"}) {
			t.Errorf("%s: missing legs %v, want [dense] (no embedder)", tt.name, missing)
		}
	}
	p := search(t, run.client, &keelv1.SearchRequest{Query: "refunds", Filter: &keelv1.SearchFilter{Tags: []string{"vip"}}}).GetPassages()[0]
	if !p.GetCreatedAt().AsTime().Equal(day(20)) || strings.Join(p.GetTags(), ",") != "refunds,vip" || p.GetSource() != "kb" {
		t.Errorf("passage citation: %v", p)
	}

	for name, filter := range map[string]*keelv1.SearchFilter{
		"empty range":     {CreatedAfter: timestamppb.New(day(5)), CreatedBefore: timestamppb.New(day(5))},
		"bad timestamp":   {CreatedAfter: &timestamppb.Timestamp{Seconds: 1, Nanos: -1}},
		"too many tags":   {Tags: make([]string, MaxFilterValues+1)},
		"too many kinds":  {Kinds: make([]string, MaxFilterValues+1)},
		"reversed range":  {CreatedAfter: timestamppb.New(day(9)), CreatedBefore: timestamppb.New(day(2))},
		"too many source": {Sources: make([]string, MaxFilterValues+1)},
	} {
		_, err := run.client.Search(as("acme"), &keelv1.SearchRequest{Query: "refunds", Filter: filter})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: %v, want InvalidArgument", name, err)
		}
	}
}

// day0 is the creation time of test documents.
var day0 = time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)

func TestDeleteReachesStoreCacheAndReplay(t *testing.T) {
	t.Parallel()
	nc, js := natstest.Start(t)
	embedAddr, _ := startFixedEmbedder(t)
	dataDir := t.TempDir()
	cfg := testConfig(nc, embedAddr, dataDir)
	run := startRetrieve(t, nc, cfg)
	day := time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)
	publishBatch(t, js, "acme", "e1:v1", subjectBatch("e1", day, nil, "cust-1"))
	publishBatch(t, js, "acme", "e2:v1", subjectBatch("e2", day, nil, "cust-2", "cust-1"))
	publishBatch(t, js, "acme", "e3:v1", subjectBatch("e3", day, nil, "cust-2"))
	publishBatch(t, js, "acme", "kb:v1", refundBatch("kb"))
	publishBatch(t, js, "globex", "globex-e1:v1", subjectBatch("e1", day, nil, "cust-1"))
	waitForDocuments(t, run.client, "acme", 4)
	waitForDocuments(t, run.client, "globex", 1)

	req := &keelv1.SearchRequest{Query: "refunds", TopK: 10}
	if got := passageIDs(search(t, run.client, req)); len(got) != 4 {
		t.Fatalf("before deletion: %v", got)
	}
	search(t, run.client, req) // now cached

	erased, err := run.client.DeleteSubject(as("acme"), &keelv1.DeleteSubjectRequest{Subject: "cust-1"})
	if err != nil {
		t.Fatalf("DeleteSubject: %v", err)
	}
	if strings.Join(erased.GetDocIds(), ",") != "e1,e2" {
		t.Errorf("DeleteSubject = %v, want e1,e2", erased)
	}
	after := search(t, run.client, req)
	if after.GetCached() || strings.Join(sorted(passageIDs(after)), ",") != "e3,kb" {
		t.Errorf("after erasure: cached %v passages %v, want e3,kb fresh", after.GetCached(), passageIDs(after))
	}
	// Another tenant's document about a subject of the same id stays.
	waitForDocuments(t, run.client, "globex", 1)

	deleted, err := run.client.DeleteDocument(as("acme"), &keelv1.DeleteDocumentRequest{DocId: "kb"})
	if err != nil || deleted.GetChunks() != 1 {
		t.Fatalf("DeleteDocument = %v, %v", deleted, err)
	}
	if again, err := run.client.DeleteDocument(as("acme"), &keelv1.DeleteDocumentRequest{DocId: "kb"}); err != nil || again.GetChunks() != 0 {
		t.Errorf("deleting again = %v, %v; want 0 chunks", again, err)
	}
	waitForDocuments(t, run.client, "acme", 1)

	actions := auditActions(t, js, "acme")
	if !slices.Contains(actions, ActionErased) || !slices.Contains(actions, ActionDeleted) {
		t.Errorf("audit actions %v lack %s or %s", actions, ActionErased, ActionDeleted)
	}
	for _, m := range streamMessages(t, js, "AUDIT", "keel.audit.acme") {
		if strings.Contains(string(m.Data()), "cust-1") {
			t.Errorf("an audit event holds the erased subject's id")
		}
	}

	// A rebuild from the chunks stream does not bring the deleted documents
	// back: their deletions were published after them.
	run.stop()
	if err := os.RemoveAll(dataDir); err != nil {
		t.Fatal(err)
	}
	rebuilt := startRetrieve(t, nc, cfg)
	waitForDocuments(t, rebuilt.client, "globex", 1)
	waitForDocuments(t, rebuilt.client, "acme", 1)
	if got := passageIDs(search(t, rebuilt.client, req)); strings.Join(got, ",") != "e3" {
		t.Errorf("after the rebuild: %v, want e3", got)
	}

	for name, call := range map[string]func() error{
		"no doc id": func() error {
			_, err := rebuilt.client.DeleteDocument(as("acme"), &keelv1.DeleteDocumentRequest{})
			return err
		},
		"no subject": func() error {
			_, err := rebuilt.client.DeleteSubject(as("acme"), &keelv1.DeleteSubjectRequest{})
			return err
		},
		"long subject": func() error {
			_, err := rebuilt.client.DeleteSubject(as("acme"), &keelv1.DeleteSubjectRequest{Subject: strings.Repeat("x", MaxIDBytes+1)})
			return err
		},
	} {
		if err := call(); status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: %v, want InvalidArgument", name, err)
		}
	}
	if _, err := rebuilt.client.DeleteSubject(context.Background(), &keelv1.DeleteSubjectRequest{Subject: "cust-2"}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("DeleteSubject without a tenant: %v, want Unauthenticated", err)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
