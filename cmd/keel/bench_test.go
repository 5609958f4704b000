package main

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/keelhq/keel/cmd/keel/internal/demo"
	"github.com/keelhq/keel/cmd/keel/internal/devstack"
	"github.com/keelhq/keel/cmd/keel/internal/upstream"
	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/pgtest"
	"github.com/keelhq/keel/pkg/temporalx"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

// BenchmarkCopilotFlow measures the whole support-copilot flow on the
// embedded stack: b.N customer emails published upstream, each redacted,
// grounded in the demo knowledge base, drafted, evaluated and either sent
// or queued for review. It reports emails per second from first publish to
// last settled run, and the mean time from publish to settled.
func BenchmarkCopilotFlow(b *testing.B) {
	ctx := context.Background()
	root, err := demo.DataRoot()
	if err != nil {
		b.Fatal(err)
	}
	st, err := devstack.Start(ctx, devstack.Options{
		DataDir:     b.TempDir(),
		DatabaseURL: pgtest.NewDatabase(b),
		Ephemeral:   true,
		OrdersFile:  filepath.Join(root, "orders.json"),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(st.Stop)
	loadKnowledgeBase(b, st, root)

	pub := bus.NewPublisher(st.JS)
	body := "Hello, my kettle from order ORD-10457 arrived with a cracked lid. " +
		"Can I return it and get a refund? You can call me on +1 614 555 0134. Thanks, Priya"
	run := fmt.Sprintf("bench-%d", time.Now().UnixNano())

	b.ResetTimer()
	start := time.Now()
	sent := make([]time.Time, b.N)
	for i := range b.N {
		ev := &keelv1.IngestEvent{
			EventId:  fmt.Sprintf("%s-%d", run, i),
			Kind:     "email",
			Source:   "bench",
			Subject:  "Return a kettle with a cracked lid",
			Body:     body,
			Customer: &keelv1.Customer{Email: "priya.natarajan@example.net", Name: "Priya Natarajan"},
		}
		sent[i] = time.Now()
		if _, err := upstream.Publish(ctx, pub, demo.Tenant, ev); err != nil {
			b.Fatal(err)
		}
	}
	var total time.Duration
	for i := range b.N {
		settled := waitSettled(b, st.Temporal, temporalx.CopilotWorkflowID(demo.Tenant, fmt.Sprintf("%s-%d", run, i)))
		total += settled.Sub(sent[i])
	}
	elapsed := time.Since(start)
	b.StopTimer()

	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "emails/s")
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/email-latency")
}

// loadKnowledgeBase publishes the demo articles and waits for the index.
func loadKnowledgeBase(b *testing.B, st *devstack.Stack, root string) {
	b.Helper()
	events, _, err := upstream.ReadEvents(filepath.Join(root, "kb"), upstream.FormatKB, "")
	if err != nil {
		b.Fatal(err)
	}
	pub := bus.NewPublisher(st.JS)
	for _, ev := range events {
		if _, err := upstream.Publish(context.Background(), pub, demo.Tenant, ev); err != nil {
			b.Fatal(err)
		}
	}
	// The copilot run of a benchmark email reads whatever is indexed; give
	// the index the articles first by waiting for the last one's audit.
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if indexed(st, len(events)) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.Fatal("knowledge base not indexed in time")
}

// indexed reports whether the chunks stream holds a batch per article.
func indexed(st *devstack.Stack, want int) bool {
	stream, err := st.JS.Stream(context.Background(), bus.StreamChunks)
	if err != nil {
		return false
	}
	info, err := stream.Info(context.Background())
	return err == nil && info.State.Msgs >= uint64(want)
}

// waitSettled polls a copilot run until it waits for review or has ended,
// and returns when that was seen.
func waitSettled(b *testing.B, tc client.Client, workflowID string) time.Time {
	b.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		v, err := tc.QueryWorkflow(context.Background(), workflowID, "", temporalx.StatusQuery)
		if err == nil {
			var s keelv1.CopilotStatus
			if v.Get(&s) == nil && temporalx.Settled(s.GetStage()) {
				return time.Now()
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.Fatalf("run %s did not settle", workflowID)
	return time.Time{}
}
