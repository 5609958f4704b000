package qdrant

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keelhq/keel/services/retrieve/internal/store"
)

func TestChunkTerms(t *testing.T) {
	t.Parallel()
	c := store.Chunk{Title: "Refund", Header: "", Text: "refund refund window"}
	got := chunkTerms(&c)
	weights := map[uint32]float32{}
	for i, idx := range got.indices {
		weights[idx] = got.values[i]
	}
	if len(weights) != 2 {
		t.Fatalf("got %d terms, want 2 (refund, window)", len(weights))
	}
	// refund occurs 3 times: 3*2.2/4.2; window once: 1.
	if w := weights[termIndex("refund")]; w < 1.5714 || w > 1.5715 {
		t.Errorf("refund weighs %v, want 3*2.2/4.2", w)
	}
	if w := weights[termIndex("window")]; w != 1 {
		t.Errorf("window weighs %v, want 1", w)
	}
	for i := 1; i < len(got.indices); i++ {
		if got.indices[i] <= got.indices[i-1] {
			t.Errorf("indices not ascending: %v", got.indices)
		}
	}
}

func TestQueryTerms(t *testing.T) {
	t.Parallel()
	got := queryTerms("the Refund refund WINDOW")
	if len(got.indices) != 2 {
		t.Fatalf("got %d terms, want 2", len(got.indices))
	}
	for _, v := range got.values {
		if v != 1 {
			t.Errorf("query weight %v, want 1", v)
		}
	}
	if got := queryTerms("the and of"); len(got.indices) != 0 {
		t.Errorf("stopwords only: %v", got.indices)
	}
}

func TestCollectionNames(t *testing.T) {
	t.Parallel()
	b := &Backend{cfg: Config{CollectionPrefix: "keel_"}}
	tests := []struct {
		name  string
		model string
		dim   int
		want  string
	}{
		{"plain", "minilm", 384, "keel_minilm_384"},
		{"punctuation", "text-embedding-3/small", 1536, "keel_text_embedding_3_small_1536"},
		{"case and runs", "  Nomic--Embed  v1.5 ", 768, "keel_nomic_embed_v1_5_768"},
		{"empty", "", 4, "keel_unnamed_4"},
		{"symbols only", "***", 4, "keel_unnamed_4"},
		{"long", strings.Repeat("a", 100), 8, "keel_" + strings.Repeat("a", 64) + "_8"},
		{"no vector", "minilm", 0, "keel_keyword_only"},
		{"digits at the end", "e5_768", 768, "keel_e5_768_768"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := b.collectionFor(tt.model, tt.dim)
			if got.name != tt.want {
				t.Errorf("collectionFor(%q, %d) = %q, want %q", tt.model, tt.dim, got.name, tt.want)
			}
			parsed, ok := b.parseCollection(got.name)
			if !ok || parsed != got {
				t.Errorf("parseCollection(%q) = %+v, %v; want %+v", got.name, parsed, ok, got)
			}
		})
	}
	for _, other := range []string{"users", "keel_", "keel_model", "keel_model_x", "keel_model_007", "keel_model_-4"} {
		if info, ok := b.parseCollection(other); ok {
			t.Errorf("parseCollection(%q) = %+v, want not Keel's", other, info)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     Config
		wantErr []string
	}{
		{"host and port", Config{Address: "qdrant:6334"}, nil},
		{"bare host", Config{Address: "qdrant"}, nil},
		{"ipv6", Config{Address: "[::1]:6334"}, nil},
		{"everything wrong", Config{Address: "", CollectionPrefix: "Keel.", Timeout: -time.Second},
			[]string{"address is empty", "collection prefix", "negative"}},
		{"bad port", Config{Address: "qdrant:http"}, []string{"bad port"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.withDefaults().Validate()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Errorf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate: nil, want %v", tt.wantErr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate: %v, want it to mention %q", err, want)
				}
			}
		})
	}
	host, port, err := Config{Address: "qdrant"}.hostPort()
	if host != "qdrant" || port != DefaultPort || err != nil {
		t.Errorf("hostPort of a bare host: %s %d %v", host, port, err)
	}
}

func TestPayloadRoundTrip(t *testing.T) {
	t.Parallel()
	c := store.Chunk{
		ID: "c1", DocID: "doc", Ordinal: 2, Title: "T", Text: "body", Kind: "email", Source: "helpdesk",
		ACL: []string{"group:hr"}, Model: "m", Start: 10, End: 20, HeadingPath: []string{"A", "B"},
		Header: "| a | b |", Quoted: true, Tags: []string{"x"}, Subjects: []string{"cust-1"},
		Created: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.FixedZone("CET", 3600)),
	}
	got := chunkFromPayload(chunkPayload("acme", "doc", &c))
	if !got.Created.Equal(c.Created) {
		t.Errorf("created %v, want %v", got.Created, c.Created)
	}
	got.Created, c.Created = time.Time{}, time.Time{}
	if diff := cmp.Diff(c, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if _, ok := chunkPayload("acme", "doc", &store.Chunk{ID: "x"})[fieldCreated]; ok {
		t.Errorf("a chunk without a creation time has a created key")
	}
	if pointID("acme", "d", "c").GetUuid() == pointID("globex", "d", "c").GetUuid() {
		t.Errorf("two tenants share a point id")
	}
}
