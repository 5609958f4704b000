package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel/cmd/keel/internal/demo"
	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/grpcx"
	"github.com/keelhq/keel/pkg/logging"
	"github.com/keelhq/keel/pkg/natstest"
	"github.com/keelhq/keel/pkg/tenant"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	embedservice "github.com/keelhq/keel/services/embed/service"
	retrieveservice "github.com/keelhq/keel/services/retrieve/service"
)

// BenchmarkIngestToSearchable measures the retrieval pipeline from redacted
// event to searchable chunk: b.N Markdown documents of about eight chunks,
// assembled from paragraphs of the demo knowledge base, are published on
// the REDACTED stream of an embedded NATS server; the embed service chunks
// and embeds them with the local embedder, the retrieve service indexes
// them in the embedded backend, and the clock stops when Stats counts every
// document. It reports chunks per second over that whole span.
//
// In "live" the events are published while the services run, by a
// publisher sharing the machine's two cores with them; in "backlog" they
// are published first and the clock runs from the services' start, which
// measures Keel alone draining a backlog.
//
// Run it with -benchtime 18300x to fill one tenant with about 100,000
// chunks.
func BenchmarkIngestToSearchable(b *testing.B) {
	b.Run("live", func(b *testing.B) { benchIngest(b, false) })
	b.Run("backlog", func(b *testing.B) { benchIngest(b, true) })
}

func benchIngest(b *testing.B, backlog bool) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	root, err := demo.DataRoot()
	if err != nil {
		b.Fatal(err)
	}
	paragraphs := kbParagraphs(b, filepath.Join(root, "kb"))

	nc, js := natstest.Start(b)
	embedLis, retrieveLis := benchListener(b), benchListener(b)
	embedCfg := embedservice.DefaultConfig()
	embedCfg.NATS.URL = natstest.URL(nc)
	embedCfg.GRPC.Addr = embedLis.Addr().String()
	retrieveCfg := retrieveservice.DefaultConfig()
	retrieveCfg.NATS.URL = natstest.URL(nc)
	retrieveCfg.GRPC.Addr = retrieveLis.Addr().String()
	retrieveCfg.Embed.Addr = embedLis.Addr().String()
	// KEEL_BENCH_DATA_DIR keeps the index for a later look, such as
	// BenchmarkRecallOnSnapshot in services/retrieve/internal/index.
	retrieveCfg.Index.DataDir = b.TempDir()
	if dir := os.Getenv("KEEL_BENCH_DATA_DIR"); dir != "" {
		retrieveCfg.Index.DataDir = dir
	}

	done := make(chan error, 2)
	started := false
	startServices := func() {
		started = true
		go func() {
			done <- embedservice.Run(ctx, embedCfg, embedservice.Deps{Logger: logging.Discard(), NATS: nc, Listener: embedLis})
		}()
		go func() {
			done <- retrieveservice.Run(ctx, retrieveCfg, retrieveservice.Deps{Logger: logging.Discard(), NATS: nc, Listener: retrieveLis})
		}()
	}
	b.Cleanup(func() {
		cancel()
		if !started {
			return
		}
		for range 2 {
			if err := <-done; err != nil {
				b.Errorf("service: %v", err)
			}
		}
	})
	conn, err := grpcx.Dial(retrieveLis.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	client := keelv1.NewRetrieverServiceClient(conn)

	const tenantID = "bench"
	rng := rand.New(rand.NewPCG(7, 8))
	events := make([]*keelv1.RedactedEvent, b.N)
	for i := range events {
		var body strings.Builder
		fmt.Fprintf(&body, "# Note %d\n\n", i)
		for s := range 4 {
			fmt.Fprintf(&body, "## Section %d\n\n", s)
			for range 3 {
				body.WriteString(paragraphs[rng.IntN(len(paragraphs))])
				body.WriteString("\n\n")
			}
		}
		events[i] = &keelv1.RedactedEvent{
			EventId:  fmt.Sprintf("doc-%d", i),
			TenantId: tenantID,
			Kind:     "article",
			Source:   "bench",
			Title:    fmt.Sprintf("Note %d", i),
			Body:     body.String(),
			Metadata: map[string]string{"content_type": "text/markdown"},
		}
	}

	pub := bus.NewPublisher(js)
	publish := func() time.Duration {
		start := time.Now()
		for _, ev := range events {
			if _, err := pub.Publish(ctx, bus.RedactedSubject(tenantID, ev.GetKind()), ev.GetEventId(), tenantID, ev); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}
	var published time.Duration
	if backlog {
		published = publish()
		b.ResetTimer()
		startServices()
	} else {
		startServices()
		b.ResetTimer()
	}
	start := time.Now()
	if !backlog {
		published = publish()
	}
	var stats *keelv1.StatsResponse
	for {
		stats, err = client.Stats(tenant.With(ctx, tenantID), &keelv1.StatsRequest{})
		if err == nil && stats.GetDocuments() == int64(b.N) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()

	b.ReportMetric(float64(stats.GetChunks())/elapsed.Seconds(), "chunks/s")
	b.ReportMetric(float64(stats.GetChunks())/float64(b.N), "chunks/doc")
	b.ReportMetric(published.Seconds(), "publish-s")
}

// kbParagraphs returns the paragraphs of the knowledge base articles in
// dir that are not headings.
func kbParagraphs(b *testing.B, dir string) []string {
	b.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.md"))
	if err != nil || len(paths) == 0 {
		b.Fatalf("no articles in %s: %v", dir, err)
	}
	var out []string
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range strings.Split(string(data), "\n\n") {
			if p = strings.TrimSpace(p); p != "" && !strings.HasPrefix(p, "#") && !strings.HasPrefix(p, "---") {
				out = append(out, p)
			}
		}
	}
	return out
}

// benchListener returns a loopback listener on a free port.
func benchListener(b *testing.B) net.Listener {
	b.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	return lis
}
