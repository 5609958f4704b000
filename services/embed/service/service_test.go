package service

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/grpcx"
	"github.com/keelhq/keel/pkg/logging"
	"github.com/keelhq/keel/pkg/natstest"
	"github.com/keelhq/keel/pkg/tenant"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/embed/internal/chunk"
)

// harness is a running embed service with its NATS server.
type harness struct {
	client keelv1.EmbedderServiceClient
	pub    *bus.Publisher
	js     jetstream.JetStream
}

func startService(t *testing.T) harness {
	t.Helper()
	return startServiceWith(t, func(*Config) {})
}

// startServiceWith starts the embed service with the default configuration
// as changed by configure.
func startServiceWith(t *testing.T, configure func(*Config)) harness {
	t.Helper()
	nc, js := natstest.Start(t)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}

	cfg := DefaultConfig()
	configure(&cfg)
	cfg.NATS.URL = natstest.URL(nc)
	cfg.GRPC.Addr = lis.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, Deps{Logger: logging.Discard(), NATS: nc, Listener: lis})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})

	conn, err := grpcx.Dial(lis.Addr().String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return harness{client: keelv1.NewEmbedderServiceClient(conn), pub: bus.NewPublisher(js), js: js}
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

// ackedCount returns how many messages the durable consumer has acked.
func ackedCount(t *testing.T, js jetstream.JetStream, stream, durable string) uint64 {
	t.Helper()
	cons, err := js.Consumer(context.Background(), stream, durable)
	if err != nil {
		return 0
	}
	info, err := cons.Info(context.Background())
	if err != nil {
		t.Fatalf("consumer info: %v", err)
	}
	return info.AckFloor.Stream
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

func TestRunPublishesChunkBatchOnce(t *testing.T) {
	t.Parallel()
	h := startService(t)
	ctx := context.Background()

	ev := &keelv1.RedactedEvent{
		EventId:  "kb-1",
		TenantId: "acme",
		Kind:     "article",
		Source:   "helpdesk",
		Title:    "Refund policy",
		Body:     "We refund unused items within 30 days.\n\n## Exceptions\n\nGift cards are final.",
	}
	// The same document arrives twice under two redacted event ids, as after
	// a replay of the ingest stream.
	for _, msgID := range []string{"r1", "r2"} {
		if _, err := h.pub.Publish(ctx, bus.RedactedSubject("acme", "article"), msgID, "acme", ev); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}

	var batches []jetstream.Msg
	eventually(t, "chunk batch", func() bool {
		batches = streamMessages(t, h.js, bus.StreamChunks, bus.ChunksSubject("acme"))
		return len(batches) > 0
	})
	eventually(t, "both events acked", func() bool {
		return ackedCount(t, h.js, bus.StreamRedacted, Name) == 2
	})
	batches = streamMessages(t, h.js, bus.StreamChunks, bus.ChunksSubject("acme"))
	if len(batches) != 1 {
		t.Fatalf("got %d chunk batches, want 1 (the second is a duplicate)", len(batches))
	}

	var batch keelv1.ChunkBatch
	if err := proto.Unmarshal(batches[0].Data(), &batch); err != nil {
		t.Fatalf("decode batch: %v", err)
	}
	if got := batches[0].Headers().Get(jetstream.MsgIDHeader); !strings.HasPrefix(got, "kb-1:") {
		t.Errorf("batch message id = %q, want kb-1:<hash>", got)
	}
	if got := batches[0].Headers().Get(tenant.Header); got != "acme" {
		t.Errorf("batch tenant header = %q, want acme", got)
	}
	if batch.GetDocId() != "kb-1" || len(batch.GetChunks()) != 2 {
		t.Fatalf("batch = doc %q with %d chunks, want kb-1 with 2", batch.GetDocId(), len(batch.GetChunks()))
	}
	if got := batch.GetChunks()[1].GetTitle(); got != "Refund policy > Exceptions" {
		t.Errorf("second chunk title = %q", got)
	}

	// The audit id derives from the batch's message id: one audit event.
	var audit keelv1.AuditEvent
	msgs := streamMessages(t, h.js, bus.StreamAudit, bus.AuditSubject("acme"))
	if len(msgs) != 1 {
		t.Fatalf("got %d audit events, want 1", len(msgs))
	}
	if err := proto.Unmarshal(msgs[0].Data(), &audit); err != nil {
		t.Fatalf("decode audit: %v", err)
	}
	if audit.GetAction() != ActionEmbedded || audit.GetActor() != Name || audit.GetSubject() != "kb-1" ||
		audit.GetAttributes()["chunks"] != "2" {
		t.Errorf("audit event = %v", &audit)
	}
}

func TestRunDeadLettersBadDocuments(t *testing.T) {
	t.Parallel()
	h := startService(t)
	ctx := context.Background()

	// A document without an id, and one whose body claims another tenant.
	if _, err := h.pub.Publish(ctx, bus.RedactedSubject("acme", "email"), "no-id", "acme",
		&keelv1.RedactedEvent{Body: "hello there"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.pub.Publish(ctx, bus.RedactedSubject("acme", "email"), "spoof", "acme",
		&keelv1.RedactedEvent{EventId: "e1", TenantId: "globex", Body: "hello there"}); err != nil {
		t.Fatal(err)
	}

	eventually(t, "two dead letters", func() bool {
		return len(streamMessages(t, h.js, bus.StreamDLQ, bus.DLQSubject("acme", Name))) == 2
	})
	if got := streamMessages(t, h.js, bus.StreamChunks, "keel.chunks.>"); len(got) != 0 {
		t.Errorf("bad documents published %d chunk batches", len(got))
	}
}

func TestEmbedRPC(t *testing.T) {
	t.Parallel()
	h := startService(t)
	ctx := tenant.With(context.Background(), "acme")

	resp, err := h.client.Embed(ctx, &keelv1.EmbedRequest{Texts: []string{"refund", "shipping"}})
	if err != nil {
		t.Fatalf("Embed: %v", err)
	}
	if resp.GetDimensions() != 384 || len(resp.GetVectors()) != 2 || len(resp.GetVectors()[0].GetValues()) != 384 {
		t.Errorf("Embed = %d dims, %d vectors", resp.GetDimensions(), len(resp.GetVectors()))
	}
	if resp.GetModel() == "" {
		t.Errorf("Embed returned no model")
	}

	tests := []struct {
		name  string
		ctx   context.Context
		texts []string
		code  codes.Code
		field string
	}{
		{name: "empty", ctx: ctx, texts: nil, code: codes.InvalidArgument, field: "texts"},
		{name: "too many", ctx: ctx, texts: make([]string, MaxTexts+1), code: codes.InvalidArgument, field: "texts"},
		{name: "too long", ctx: ctx, texts: []string{"ok", strings.Repeat("x", MaxTextBytes+1)}, code: codes.InvalidArgument, field: "texts[1]"},
		{name: "at the limits", ctx: ctx, texts: append(make([]string, MaxTexts-1), strings.Repeat("x", MaxTextBytes)), code: codes.OK},
		{name: "no tenant", ctx: context.Background(), texts: []string{"refund"}, code: codes.Unauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			_, err := h.client.Embed(tt.ctx, &keelv1.EmbedRequest{Texts: tt.texts})
			st := status.Convert(err)
			if st.Code() != tt.code {
				t.Fatalf("Embed: code = %v (%v), want %v", st.Code(), err, tt.code)
			}
			if tt.field == "" {
				return
			}
			var violations []string
			for _, d := range st.Details() {
				if br, ok := d.(*errdetails.BadRequest); ok {
					for _, v := range br.GetFieldViolations() {
						violations = append(violations, v.GetField())
					}
				}
			}
			if len(violations) != 1 || violations[0] != tt.field {
				t.Errorf("field violations = %v, want [%s]", violations, tt.field)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()

	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("DefaultConfig().Validate() = %v", err)
	}

	bad := DefaultConfig()
	bad.NATS.URL = ""
	bad.GRPC.Addr = ""
	bad.Embedding.Provider = "cohere"
	bad.Chunking.MaxChars = 10
	bad.Chunking.MaxTokens = 4
	bad.Chunking.OverlapTokens = -1
	err := bad.Validate()
	for _, want := range []string{"KEEL_NATS_URL", "KEEL_EMBED_GRPC_ADDR", `"cohere"`, "max_chars", "max_tokens", "overlap_tokens"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %s", err, want)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Run(ctx, bad, Deps{Logger: logging.Discard()}); err == nil {
		t.Errorf("Run with an invalid config returned nil")
	}
}

func TestChunkOptions(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		cfg  ChunkingConfig
		want chunk.Options
	}{
		{
			name: "defaults",
			cfg:  DefaultConfig().Chunking,
			want: chunk.Options{
				MaxChars: chunk.DefaultMaxChars, MaxWords: chunk.DefaultMaxWords,
				MaxTokens: chunk.DefaultMaxTokens, OverlapTokens: chunk.DefaultOverlapTokens,
			},
		},
		{
			name: "no overlap",
			cfg:  ChunkingConfig{MaxChars: 500, MaxWords: 100, MaxTokens: 128},
			want: chunk.Options{MaxChars: 500, MaxWords: 100, MaxTokens: 128, OverlapTokens: -1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, chunkOptions(tt.cfg)); diff != "" {
				t.Errorf("chunkOptions() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunStopsWhenNATSIsUnreachable(t *testing.T) {
	t.Parallel()

	// Port 1 on loopback refuses connections.
	cfg := DefaultConfig()
	cfg.NATS.URL = "nats://127.0.0.1:1"
	err := Run(context.Background(), cfg, Deps{Logger: logging.Discard()})
	if !errors.Is(err, nats.ErrNoServers) {
		t.Errorf("Run with NATS down: err = %v, want nats.ErrNoServers", err)
	}
}
