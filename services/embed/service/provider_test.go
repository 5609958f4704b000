package service

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/tenant"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/embed/internal/embedder"
)

const (
	testModel      = "text-embedding-3-small"
	testDimensions = 8
	testAPIKey     = "sk-service-test-3b7e"
)

// openAIServer is a fake OpenAI embeddings endpoint that answers every text
// with a vector of its own and remembers the texts and headers it got.
type openAIServer struct {
	srv *httptest.Server

	mu          sync.Mutex
	texts       []string
	authHeaders []string
	failWith    int
}

func newOpenAIServer(t *testing.T) *openAIServer {
	t.Helper()
	s := &openAIServer{}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *openAIServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/embeddings" {
		http.Error(w, `{"error":{"message":"not found","type":"invalid_request_error"}}`, http.StatusNotFound)
		return
	}
	var req struct {
		Model string   `json:"model"`
		Input []string `json:"input"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Model != testModel {
		http.Error(w, `{"error":{"message":"bad request","type":"invalid_request_error"}}`, http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.texts = append(s.texts, req.Input...)
	s.authHeaders = append(s.authHeaders, r.Header.Get("Authorization"))
	failWith := s.failWith
	s.mu.Unlock()
	if failWith != 0 {
		w.WriteHeader(failWith)
		fmt.Fprintf(w, `{"error":{"message":"failing on purpose","type":"test","code":"test"}}`)
		return
	}

	type item struct {
		Object    string    `json:"object"`
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	}
	data := make([]item, len(req.Input))
	for i, text := range req.Input {
		// Reversed, as the index decides the order.
		data[len(data)-1-i] = item{Object: "embedding", Index: i, Embedding: serverVector(text)}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"object": "list", "data": data, "model": testModel,
		"usage": map[string]int{"prompt_tokens": 1, "total_tokens": 1},
	})
}

// recorded returns the texts and authorization headers the server got.
func (s *openAIServer) recorded() (texts, auth []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.texts...), append([]string(nil), s.authHeaders...)
}

func (s *openAIServer) fail(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failWith = status
}

// serverVector is the vector the fake server gives text.
func serverVector(text string) []float32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(text))
	seed := h.Sum32()
	v := make([]float32, testDimensions)
	for j := range v {
		v[j] = float32((seed>>(j*4))&0xf) - 7.5
	}
	return v
}

// openAIEmbedding configures the openai provider against srv.
func openAIEmbedding(t *testing.T, srv *openAIServer) func(*Config) {
	t.Helper()
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte(testAPIKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return func(cfg *Config) {
		cfg.Embedding.Provider = ProviderOpenAI
		cfg.Embedding.BaseURL = srv.srv.URL + "/v1"
		cfg.Embedding.Model = testModel
		cfg.Embedding.Dimensions = testDimensions
		cfg.Embedding.APIKeyFile = keyFile
		cfg.Embedding.BatchWait = time.Millisecond
		cfg.Embedding.MaxRetries = 1
	}
}

func TestRunWithOpenAIProvider(t *testing.T) {
	t.Parallel()
	srv := newOpenAIServer(t)
	h := startServiceWith(t, openAIEmbedding(t, srv))
	ctx := context.Background()

	ev := &keelv1.RedactedEvent{
		EventId:  "kb-7",
		TenantId: "acme",
		Kind:     "article",
		Title:    "Refund policy",
		Body:     "We refund unused items within 30 days.\n\n## Exceptions\n\nGift cards are final.",
	}
	if _, err := h.pub.Publish(ctx, bus.RedactedSubject("acme", "article"), "r7", "acme", ev); err != nil {
		t.Fatalf("publish: %v", err)
	}
	var msgs []jetstream.Msg
	eventually(t, "chunk batch", func() bool {
		msgs = streamMessages(t, h.js, bus.StreamChunks, bus.ChunksSubject("acme"))
		return len(msgs) > 0
	})

	var batch keelv1.ChunkBatch
	if err := proto.Unmarshal(msgs[0].Data(), &batch); err != nil {
		t.Fatalf("decode batch: %v", err)
	}
	if batch.GetEmbeddingModel() != testModel {
		t.Errorf("batch model = %q, want %q", batch.GetEmbeddingModel(), testModel)
	}
	texts, auth := srv.recorded()
	if len(batch.GetChunks()) != 2 || len(texts) != 2 {
		t.Fatalf("got %d chunks from %d embedded texts, want 2 and 2", len(batch.GetChunks()), len(texts))
	}
	// Every chunk carries the server's vector of its own embedding input,
	// which starts with the chunk's title and holds its text.
	for _, c := range batch.GetChunks() {
		var input string
		for _, text := range texts {
			if strings.HasPrefix(text, c.GetTitle()+"\n\n") && strings.Contains(text, c.GetText()) {
				input = text
			}
		}
		if input == "" {
			t.Fatalf("chunk %q: no embedded text among %q", c.GetText(), texts)
		}
		if diff := cmp.Diff(serverVector(input), c.GetVector()); diff != "" {
			t.Errorf("chunk %q vector mismatch (-want +got):\n%s", c.GetText(), diff)
		}
	}
	for _, got := range auth {
		if got != "Bearer "+testAPIKey {
			t.Errorf("Authorization = %q, want the key from the file", got)
		}
	}

	// EmbedderService answers with the same provider, and the cache
	// answers a text it has seen before.
	rpcCtx := tenant.With(ctx, "acme")
	resp, err := h.client.Embed(rpcCtx, &keelv1.EmbedRequest{Texts: []string{"refund", texts[0]}})
	if err != nil {
		t.Fatalf("Embed: %v", err)
	}
	if resp.GetModel() != testModel || resp.GetDimensions() != testDimensions {
		t.Errorf("Embed = model %q with %d dims", resp.GetModel(), resp.GetDimensions())
	}
	if diff := cmp.Diff(serverVector("refund"), resp.GetVectors()[0].GetValues()); diff != "" {
		t.Errorf("Embed vector mismatch (-want +got):\n%s", diff)
	}
	if texts, _ := srv.recorded(); len(texts) != 3 {
		t.Errorf("server embedded %d texts, want 3 (the chunk text comes from the cache)", len(texts))
	}

	// A provider failure reaches the caller as Unavailable.
	srv.fail(http.StatusServiceUnavailable)
	_, err = h.client.Embed(rpcCtx, &keelv1.EmbedRequest{Texts: []string{"never seen"}})
	if got := status.Code(err); got != codes.Unavailable {
		t.Errorf("Embed with the provider down: code = %v (%v), want Unavailable", got, err)
	}
}

func TestEmbeddingConfigValidate(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name      string
		configure func(*EmbeddingConfig)
		want      []string
	}{
		{
			name:      "openai needs model and dimensions",
			configure: func(c *EmbeddingConfig) { c.Provider = ProviderOpenAI },
			want:      []string{"KEEL_EMBED_MODEL", "KEEL_EMBED_DIMENSIONS"},
		},
		{
			name: "gemini needs a key and small batches",
			configure: func(c *EmbeddingConfig) {
				c.Provider, c.Model, c.Dimensions, c.BatchSize = ProviderGemini, "gemini-embedding-001", 768, 101
			},
			want: []string{"KEEL_EMBED_API_KEY_FILE", "KEEL_EMBED_BATCH_SIZE"},
		},
		{
			name: "every remote setting",
			configure: func(c *EmbeddingConfig) {
				*c = EmbeddingConfig{
					Provider: ProviderOpenAI, Model: "m", Dimensions: maxDimensions + 1,
					BaseURL: "127.0.0.1:11434", APIKey: "k", APIKeyFile: "f", BatchSize: 0, BatchBytes: 0,
					BatchWait: -time.Second, MaxInFlight: 0, RequestTimeout: 0, MaxRetries: -1, CacheEntries: -1,
				}
			},
			want: []string{
				"KEEL_EMBED_DIMENSIONS", "KEEL_EMBED_BASE_URL", "not both", "KEEL_EMBED_BATCH_SIZE",
				"KEEL_EMBED_BATCH_BYTES", "KEEL_EMBED_BATCH_WAIT", "KEEL_EMBED_MAX_IN_FLIGHT",
				"KEEL_EMBED_REQUEST_TIMEOUT", "KEEL_EMBED_MAX_RETRIES", "KEEL_EMBED_CACHE_ENTRIES",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := DefaultConfig()
			tt.configure(&cfg.Embedding)
			err := cfg.Validate()
			for _, want := range tt.want {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("Validate() = %v, want it to mention %s", err, want)
				}
			}
		})
	}

	good := DefaultConfig()
	good.Embedding.Provider, good.Embedding.Model, good.Embedding.Dimensions = ProviderGemini, "gemini-embedding-001", 768
	good.Embedding.APIKey = "k"
	good.Embedding.BatchSize = 100
	if err := good.Validate(); err != nil {
		t.Errorf("Validate() of a good gemini config = %v", err)
	}
}

func TestEmbeddingConfigHidesKey(t *testing.T) {
	t.Parallel()
	c := DefaultConfig().Embedding
	c.Provider, c.APIKey = ProviderOpenAI, testAPIKey

	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "embedding", c)
	for name, out := range map[string]string{
		"log":    buf.String(),
		"String": c.String(),
		"%v":     fmt.Sprintf("%v", c),
	} {
		if strings.Contains(out, testAPIKey) {
			t.Errorf("%s shows the key: %s", name, out)
		}
	}
}

func TestNewEmbedders(t *testing.T) {
	t.Parallel()

	docs, queries, err := newEmbedders(DefaultConfig().Embedding)
	if err != nil {
		t.Fatalf("newEmbedders(local): %v", err)
	}
	if _, ok := docs.(*embedder.Hashing); !ok || docs != queries {
		t.Errorf("local embedders = %T, %T, want one bare *embedder.Hashing", docs, queries)
	}

	gemini := DefaultConfig().Embedding
	gemini.Provider, gemini.Model, gemini.Dimensions, gemini.APIKey = ProviderGemini, "gemini-embedding-001", 768, "k"
	docs, queries, err = newEmbedders(gemini)
	if err != nil {
		t.Fatalf("newEmbedders(gemini): %v", err)
	}
	if docs == queries || docs.Model() != queries.Model() || docs.Dimensions() != 768 {
		t.Errorf("gemini embedders = %T and %T, want two of one model", docs, queries)
	}
}
