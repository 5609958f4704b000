package service

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/grpcx"
	"github.com/keelhq/keel/pkg/logging"
	"github.com/keelhq/keel/pkg/natstest"
	"github.com/keelhq/keel/pkg/tenant"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

// retrieveRun is one running retrieve service.
type retrieveRun struct {
	client keelv1.RetrieverServiceClient
	// stop ends the run and fails the test when Run returned an error.
	stop func()
}

// listen returns a loopback listener on a free port.
func listen(t *testing.T) net.Listener {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	return lis
}

// testConfig returns a configuration for nc, embedAddr and dataDir.
func testConfig(nc *nats.Conn, embedAddr, dataDir string) Config {
	cfg := DefaultConfig()
	cfg.NATS.URL = natstest.URL(nc)
	cfg.Embed.Addr = embedAddr
	cfg.Embed.Timeout = 300 * time.Millisecond
	cfg.Index.DataDir = dataDir
	cfg.Index.SnapshotDelay = 20 * time.Millisecond
	return cfg
}

// startRetrieve runs the service with cfg on a fresh listener.
func startRetrieve(t *testing.T, nc *nats.Conn, cfg Config) retrieveRun {
	t.Helper()
	lis := listen(t)
	cfg.GRPC.Addr = lis.Addr().String()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, Deps{Logger: logging.Discard(), NATS: nc, Listener: lis})
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(stop)

	conn, err := grpcx.Dial(lis.Addr().String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return retrieveRun{client: keelv1.NewRetrieverServiceClient(conn), stop: stop}
}

// as returns a context that calls as tenantID.
func as(tenantID string) context.Context {
	return tenant.With(context.Background(), tenantID)
}

// eventually polls cond until it holds, failing the test after a while.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// waitForDocuments polls Stats until tenantID has want documents.
func waitForDocuments(t *testing.T, client keelv1.RetrieverServiceClient, tenantID string, want int64) {
	t.Helper()
	eventually(t, "indexed documents", func() bool {
		stats, err := client.Stats(as(tenantID), &keelv1.StatsRequest{})
		return err == nil && stats.GetDocuments() == want
	})
}

// publishBatch publishes batch on the tenant's chunks subject.
func publishBatch(t *testing.T, js jetstream.JetStream, tenantID, msgID string, batch *keelv1.ChunkBatch) {
	t.Helper()
	if _, err := bus.NewPublisher(js).Publish(context.Background(), bus.ChunksSubject(tenantID), msgID, tenantID, batch); err != nil {
		t.Fatalf("publish batch: %v", err)
	}
}

// refundBatch is a one-chunk document about refunds, readable by acl.
func refundBatch(docID string, acl ...string) *keelv1.ChunkBatch {
	return &keelv1.ChunkBatch{
		DocId:          docID,
		EmbeddingModel: "test-model",
		Chunks: []*keelv1.Chunk{{
			ChunkId:     docID + "-0",
			DocId:       docID,
			Text:        "Refunds are paid back to the original card within 14 days.",
			Title:       "Refund policy",
			Kind:        "article",
			HeadingPath: []string{"Payments", "Refunds"},
			Source:      "kb",
			Acl:         acl,
			Vector:      []float32{0.6, 0.8},
		}},
	}
}

// passageIDs returns the document ids of the passages of resp.
func passageIDs(resp *keelv1.SearchResponse) []string {
	var ids []string
	for _, p := range resp.GetPassages() {
		ids = append(ids, p.GetDocId())
	}
	return ids
}

// blockingEmbedder answers no Embed call before the caller gives up.
type blockingEmbedder struct {
	keelv1.UnimplementedEmbedderServiceServer
}

func (blockingEmbedder) Embed(ctx context.Context, _ *keelv1.EmbedRequest) (*keelv1.EmbedResponse, error) {
	<-ctx.Done()
	return nil, status.FromContextError(ctx.Err()).Err()
}

// startBlockingEmbedder serves blockingEmbedder and returns its address.
func startBlockingEmbedder(t *testing.T) string {
	t.Helper()
	lis := listen(t)
	srv := grpcx.NewServer(logging.Discard())
	keelv1.RegisterEmbedderServiceServer(srv, blockingEmbedder{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- grpcx.Serve(ctx, srv, lis) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve blocking embedder: %v", err)
		}
	})
	return lis.Addr().String()
}

func TestSearchFallsBackToKeywordsWhenEmbeddingFails(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name      string
		embedAddr func(t *testing.T) string
	}{
		{name: "embedder times out", embedAddr: startBlockingEmbedder},
		// Port 1 on loopback refuses connections.
		{name: "embedder unreachable", embedAddr: func(*testing.T) string { return "127.0.0.1:1" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			nc, js := natstest.Start(t)
			run := startRetrieve(t, nc, testConfig(nc, tt.embedAddr(t), t.TempDir()))

			publishBatch(t, js, "acme", "kb-1:v1", refundBatch("kb-1"))
			waitForDocuments(t, run.client, "acme", 1)

			resp, err := run.client.Search(as("acme"), &keelv1.SearchRequest{Query: "refunds card"})
			if err != nil {
				t.Fatalf("Search: %v", err)
			}
			if !resp.GetPartial() {
				t.Errorf("Search partial = false, want true")
			}
			if got := passageIDs(resp); len(got) != 1 || got[0] != "kb-1" {
				t.Fatalf("Search passages = %v, want [kb-1]", got)
			}
			p := resp.GetPassages()[0]
			if p.GetKeywordScore() <= 0 || p.GetVectorScore() != 0 {
				t.Errorf("passage scores: keyword %f vector %f, want keyword only", p.GetKeywordScore(), p.GetVectorScore())
			}
			if p.GetTitle() != "Refund policy" || p.GetKind() != "article" || strings.Join(p.GetHeadingPath(), ">") != "Payments>Refunds" {
				t.Errorf("passage = %v", p)
			}
		})
	}
}

func TestSearchValidatesRequests(t *testing.T) {
	t.Parallel()
	nc, _ := natstest.Start(t)
	run := startRetrieve(t, nc, testConfig(nc, "127.0.0.1:1", t.TempDir()))

	tests := []struct {
		name string
		ctx  context.Context
		req  *keelv1.SearchRequest
		code codes.Code
	}{
		{name: "no tenant", ctx: context.Background(), req: &keelv1.SearchRequest{Query: "refund"}, code: codes.Unauthenticated},
		{name: "empty query", ctx: as("acme"), req: &keelv1.SearchRequest{Query: "  "}, code: codes.InvalidArgument},
		{name: "long query", ctx: as("acme"), req: &keelv1.SearchRequest{Query: strings.Repeat("q", MaxQueryBytes+1)}, code: codes.InvalidArgument},
		{name: "negative top_k", ctx: as("acme"), req: &keelv1.SearchRequest{Query: "refund", TopK: -1}, code: codes.InvalidArgument},
		{name: "top_k above the limit", ctx: as("acme"), req: &keelv1.SearchRequest{Query: "refund", TopK: 1000}, code: codes.OK},
		{name: "tenant without documents", ctx: as("initech"), req: &keelv1.SearchRequest{Query: "refund"}, code: codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			_, err := run.client.Search(tt.ctx, tt.req)
			if got := status.Code(err); got != tt.code {
				t.Errorf("Search: code = %v (%v), want %v", got, err, tt.code)
			}
		})
	}

	if _, err := run.client.Stats(context.Background(), &keelv1.StatsRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("Stats without tenant: err = %v, want Unauthenticated", err)
	}
}

func TestSearchAppliesACLAndFilters(t *testing.T) {
	t.Parallel()
	nc, js := natstest.Start(t)
	run := startRetrieve(t, nc, testConfig(nc, "127.0.0.1:1", t.TempDir()))

	publishBatch(t, js, "acme", "public:v1", refundBatch("public"))
	publishBatch(t, js, "acme", "private:v1", refundBatch("private", "user:ana"))
	waitForDocuments(t, run.client, "acme", 2)

	tests := []struct {
		name string
		req  *keelv1.SearchRequest
		want []string
	}{
		{name: "anonymous", req: &keelv1.SearchRequest{Query: "refunds"}, want: []string{"public"}},
		{name: "ana", req: &keelv1.SearchRequest{Query: "refunds", Principals: []string{"user:ana"}}, want: []string{"private", "public"}},
		{name: "other kind", req: &keelv1.SearchRequest{Query: "refunds", Filter: &keelv1.SearchFilter{Kinds: []string{"email"}}}, want: nil},
		{name: "top_k", req: &keelv1.SearchRequest{Query: "refunds", TopK: 1, Principals: []string{"user:ana"}}, want: []string{"private"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			resp, err := run.client.Search(as("acme"), tt.req)
			if err != nil {
				t.Fatalf("Search: %v", err)
			}
			got := passageIDs(resp)
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("Search passages = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestIndexSurvivesRestartAndRebuildsWhenWiped(t *testing.T) {
	t.Parallel()
	nc, js := natstest.Start(t)
	dataDir := t.TempDir()
	cfg := testConfig(nc, "127.0.0.1:1", dataDir)

	first := startRetrieve(t, nc, cfg)
	publishBatch(t, js, "acme", "kb-1:v1", refundBatch("kb-1"))
	waitForDocuments(t, first.client, "acme", 1)
	first.stop()
	if _, err := os.Stat(filepath.Join(dataDir, "acme.snap")); err != nil {
		t.Fatalf("no snapshot after stop: %v", err)
	}

	// A restart against a NATS server that never saw the batch still finds
	// it: the index comes from the snapshot.
	otherNC, _ := natstest.Start(t)
	second := startRetrieve(t, otherNC, testConfig(otherNC, "127.0.0.1:1", dataDir))
	waitForDocuments(t, second.client, "acme", 1)
	second.stop()

	// With the data directory wiped, the chunks stream is replayed.
	if err := os.RemoveAll(dataDir); err != nil {
		t.Fatal(err)
	}
	third := startRetrieve(t, nc, cfg)
	waitForDocuments(t, third.client, "acme", 1)
}

func TestRunDeadLettersBadBatches(t *testing.T) {
	t.Parallel()
	nc, js := natstest.Start(t)
	startRetrieve(t, nc, testConfig(nc, "127.0.0.1:1", t.TempDir()))

	spoofed := refundBatch("kb-1")
	spoofed.TenantId = "globex"
	publishBatch(t, js, "acme", "spoofed", spoofed)
	publishBatch(t, js, "acme", "no-doc", &keelv1.ChunkBatch{Chunks: refundBatch("x").GetChunks()})

	eventually(t, "two dead letters", func() bool {
		return len(streamMessages(t, js, bus.StreamDLQ, bus.DLQSubject("acme", Name))) == 2
	})
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()

	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("DefaultConfig().Validate() = %v", err)
	}
	err := Config{}.Validate()
	for _, want := range []string{"KEEL_NATS_URL", "KEEL_RETRIEVE_GRPC_ADDR", "KEEL_EMBED_ADDR", "KEEL_RETRIEVE_DATA_DIR", "max_deliver"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %s", err, want)
		}
	}
}

// streamMessages returns every message on subject in stream.
func streamMessages(t *testing.T, js jetstream.JetStream, stream, subject string) []jetstream.Msg {
	t.Helper()
	cons, err := js.OrderedConsumer(context.Background(), stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subject},
	})
	if err != nil {
		t.Fatalf("consumer on %s: %v", stream, err)
	}
	batch, err := cons.Fetch(100, jetstream.FetchMaxWait(300*time.Millisecond))
	if err != nil {
		t.Fatalf("fetch %s: %v", stream, err)
	}
	var out []jetstream.Msg
	for m := range batch.Messages() {
		out = append(out, m)
	}
	return out
}

// auditActions returns the actions of the audit events of tenantID.
func auditActions(t *testing.T, js jetstream.JetStream, tenantID string) []string {
	t.Helper()
	var actions []string
	for _, m := range streamMessages(t, js, bus.StreamAudit, bus.AuditSubject(tenantID)) {
		var ev keelv1.AuditEvent
		if err := proto.Unmarshal(m.Data(), &ev); err != nil {
			t.Fatalf("decode audit event: %v", err)
		}
		actions = append(actions, ev.GetAction())
	}
	return actions
}
