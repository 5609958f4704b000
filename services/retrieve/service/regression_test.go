package service

import (
	"context"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/natstest"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

// TestEraseRetryAfterFailedPublish makes the chunks stream refuse the
// deletions of a subject's documents: the erasure fails, its retry
// succeeds, and a rebuild of the index from the stream does not bring the
// documents back.
func TestEraseRetryAfterFailedPublish(t *testing.T) {
	t.Parallel()
	nc, js := natstest.Start(t)
	dataDir := t.TempDir()
	cfg := testConfig(nc, "127.0.0.1:1", dataDir)
	run := startRetrieve(t, nc, cfg)
	publishBatch(t, js, "acme", "p1:v1", subjectBatch("p1", day0, nil, "cust-9"))
	publishBatch(t, js, "acme", "keep:v1", refundBatch("keep"))
	waitForDocuments(t, run.client, "acme", 2)

	ctx := context.Background()
	stream, err := js.Stream(ctx, bus.StreamChunks)
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	full := info.Config
	full.MaxMsgs, full.Discard = int64(info.State.Msgs), jetstream.DiscardNew
	if _, err := js.UpdateStream(ctx, full); err != nil {
		t.Fatalf("limit the stream: %v", err)
	}
	if _, err := run.client.DeleteSubject(as("acme"), &keelv1.DeleteSubjectRequest{Subject: "cust-9"}); status.Code(err) != codes.Unavailable {
		t.Fatalf("DeleteSubject while the stream refuses: %v, want Unavailable", err)
	}
	if _, err := js.UpdateStream(ctx, info.Config); err != nil {
		t.Fatalf("restore the stream: %v", err)
	}
	retry, err := run.client.DeleteSubject(as("acme"), &keelv1.DeleteSubjectRequest{Subject: "cust-9"})
	if err != nil || strings.Join(retry.GetDocIds(), ",") != "p1" {
		t.Fatalf("retried DeleteSubject = %v, %v; want p1 erased", retry, err)
	}
	waitForDocuments(t, run.client, "acme", 1)

	run.stop()
	if err := os.RemoveAll(dataDir); err != nil {
		t.Fatal(err)
	}
	rebuilt := startRetrieve(t, nc, cfg)
	eventually(t, "the replayed deletion", func() bool {
		stats, err := rebuilt.client.Stats(as("acme"), &keelv1.StatsRequest{})
		return err == nil && stats.GetDocuments() == 1 && stats.GetChunks() == 1
	})
	if got := passageIDs(search(t, rebuilt.client, &keelv1.SearchRequest{Query: "refunds", TopK: 10})); strings.Join(got, ",") != "keep" {
		t.Errorf("after the rebuild: %v, want keep only", got)
	}
}

// TestBadChunksAreDeadLettered sends batches no backend should take: ids
// that could run into other ids, oversized text, an empty principal and a
// time out of range. Each is dead-lettered with its reason and the batch
// after them is indexed.
func TestBadChunksAreDeadLettered(t *testing.T) {
	t.Parallel()
	nc, js := natstest.Start(t)
	run := startRetrieve(t, nc, testConfig(nc, "127.0.0.1:1", t.TempDir()))

	bad := map[string]func(b *keelv1.ChunkBatch){
		"nul in doc id": func(b *keelv1.ChunkBatch) {
			b.DocId = "a\x00b"
			b.Chunks[0].DocId = b.DocId
		},
		"nul in chunk id": func(b *keelv1.ChunkBatch) { b.Chunks[0].ChunkId = "b\x00c" },
		"long doc id": func(b *keelv1.ChunkBatch) {
			b.DocId = strings.Repeat("d", 2000)
			b.Chunks[0].DocId = b.DocId
		},
		"huge text":       func(b *keelv1.ChunkBatch) { b.Chunks[0].Text = strings.Repeat("refund ", 20000) },
		"empty principal": func(b *keelv1.ChunkBatch) { b.Chunks[0].Acl = []string{""} },
		"time out of range": func(b *keelv1.ChunkBatch) {
			b.Chunks[0].CreatedAt = &timestamppb.Timestamp{Seconds: math.MaxInt64 / 2}
		},
	}
	for name, spoil := range bad {
		b := refundBatch("bad")
		spoil(b)
		publishBatch(t, js, "acme", "bad:"+name, b)
	}
	publishBatch(t, js, "acme", "good:v1", refundBatch("good"))
	waitForDocuments(t, run.client, "acme", 1)
	eventually(t, "every bad batch dead-lettered", func() bool {
		return len(streamMessages(t, js, bus.StreamDLQ, bus.DLQSubject("acme", Name))) == len(bad)
	})
	for _, m := range streamMessages(t, js, bus.StreamDLQ, bus.DLQSubject("acme", Name)) {
		if m.Headers().Get(bus.HeaderDLQError) == "" {
			t.Errorf("dead letter %s has no reason", m.Headers().Get(bus.HeaderDLQMsgID))
		}
	}
}
