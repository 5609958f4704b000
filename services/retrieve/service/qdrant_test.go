package service

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keelhq/keel/pkg/natstest"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/retrieve/internal/qdrant/qdranttest"
)

// TestRunOnQdrant runs the service on the qdrant backend against the
// Qdrant test server: batches from the stream are written to Qdrant,
// searches are answered from it with the tenant's permissions, and a
// data subject's erasure reaches it.
func TestRunOnQdrant(t *testing.T) {
	t.Parallel()
	nc, js := natstest.Start(t)
	srv := qdranttest.Start(t, qdranttest.WithAPIKey("qdrant-key"))
	keyFile := filepath.Join(t.TempDir(), "qdrant.key")
	if err := os.WriteFile(keyFile, []byte("qdrant-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	embedAddr, _ := startFixedEmbedder(t)
	cfg := testConfig(nc, embedAddr, "")
	cfg.Index.Backend = BackendQdrant
	cfg.Index.Qdrant.Addr = srv.Addr()
	cfg.Index.Qdrant.APIKeyFile = keyFile
	run := startRetrieve(t, nc, cfg)

	publishBatch(t, js, "acme", "public:v1", subjectBatch("public", day0, nil, "cust-1"))
	publishBatch(t, js, "acme", "private:v1", refundBatch("private", "user:ana"))
	publishBatch(t, js, "globex", "globex-public:v1", refundBatch("globex-doc"))
	waitForDocuments(t, run.client, "acme", 2)
	waitForDocuments(t, run.client, "globex", 1)

	resp := search(t, run.client, &keelv1.SearchRequest{Query: "refunds card", TopK: 10})
	if got := strings.Join(passageIDs(resp), ","); got != "public" {
		t.Errorf("anonymous search on qdrant: %s, want public", got)
	}
	if resp.GetPartial() || resp.GetPassages()[0].GetVectorScore() <= 0.99 {
		t.Errorf("search on qdrant: partial %v, passage %v", resp.GetPartial(), resp.GetPassages()[0])
	}
	resp = search(t, run.client, &keelv1.SearchRequest{Query: "refunds card", TopK: 10, Principals: []string{"user:ana"}})
	if got := strings.Join(sorted(passageIDs(resp)), ","); got != "private,public" {
		t.Errorf("ana's search on qdrant: %s, want private,public", got)
	}

	erased, err := run.client.DeleteSubject(as("acme"), &keelv1.DeleteSubjectRequest{Subject: "cust-1"})
	if err != nil || strings.Join(erased.GetDocIds(), ",") != "public" {
		t.Fatalf("DeleteSubject on qdrant = %v, %v", erased, err)
	}
	waitForDocuments(t, run.client, "acme", 1)
	waitForDocuments(t, run.client, "globex", 1)
	if got := passageIDs(search(t, run.client, &keelv1.SearchRequest{Query: "refunds card", TopK: 10})); len(got) != 0 {
		t.Errorf("after erasure: %v, want nothing for an anonymous caller", got)
	}
}

func TestConfigValidateQdrant(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.Index.Backend = BackendQdrant
	cfg.Index.DataDir = ""
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "KEEL_QDRANT_ADDR") {
		t.Errorf("qdrant without an address: %v", err)
	}
	cfg.Index.Qdrant.Addr = "qdrant:6334"
	if err := cfg.Validate(); err != nil {
		t.Errorf("qdrant with an address and no data dir: %v", err)
	}
	cfg.Index.Qdrant.APIKey, cfg.Index.Qdrant.APIKeyFile = "k", "/run/secrets/k"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "KEEL_QDRANT_API_KEY") {
		t.Errorf("two api keys: %v", err)
	}
	cfg.Index.Backend = "pinecone"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "KEEL_RETRIEVE_BACKEND") {
		t.Errorf("unknown backend: %v", err)
	}
}
