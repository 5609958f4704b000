package devstack

// The embed and retrieve services together, as keel dev runs them: a
// redacted article becomes searchable by a paraphrase, for its tenant only.
// This lives here because no service module may import another.

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/grpcx"
	"github.com/keelhq/keel/pkg/logging"
	"github.com/keelhq/keel/pkg/natstest"
	"github.com/keelhq/keel/pkg/tenant"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	embedsvc "github.com/keelhq/keel/services/embed/service"
	retrievesvc "github.com/keelhq/keel/services/retrieve/service"
)

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func runService(t *testing.T, name string, run func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s Run: %v", name, err)
		}
	})
}

func TestRedactedArticleBecomesSearchableForItsTenantOnly(t *testing.T) {
	t.Parallel()
	nc, js := natstest.Start(t)
	log := logging.Discard()

	embedLis, retrieveLis := listen(t), listen(t)
	ecfg := embedsvc.DefaultConfig()
	ecfg.NATS.URL = natstest.URL(nc)
	ecfg.GRPC.Addr = embedLis.Addr().String()
	runService(t, "embed", func(ctx context.Context) error {
		return embedsvc.Run(ctx, ecfg, embedsvc.Deps{Logger: log, NATS: nc, Listener: embedLis})
	})
	rcfg := retrievesvc.DefaultConfig()
	rcfg.NATS.URL = natstest.URL(nc)
	rcfg.GRPC.Addr = retrieveLis.Addr().String()
	rcfg.Embed.Addr = embedLis.Addr().String()
	rcfg.Embed.Timeout = 5 * time.Second
	rcfg.Index.DataDir = t.TempDir()
	runService(t, "retrieve", func(ctx context.Context) error {
		return retrievesvc.Run(ctx, rcfg, retrievesvc.Deps{Logger: log, NATS: nc, Listener: retrieveLis})
	})

	pub := bus.NewPublisher(js)
	articles := []*keelv1.RedactedEvent{
		{EventId: "kb-refunds", Kind: "article", Title: "Refund policy",
			Body: "We reimburse the full price of unused items within 30 days.\n\n## Store credit\n\nGift cards are not refundable."},
		{EventId: "kb-shipping", Kind: "article", Title: "Shipping times",
			Body: "Orders are dispatched within two business days and delivered by courier."},
	}
	for _, ev := range articles {
		if _, err := pub.Publish(context.Background(), bus.RedactedSubject("acme", "article"), ev.GetEventId(), "acme", ev); err != nil {
			t.Fatal(err)
		}
	}

	conn, err := grpcx.Dial(retrieveLis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := keelv1.NewRetrieverServiceClient(conn)
	acme := tenant.With(context.Background(), "acme")
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, err := client.Stats(acme, &keelv1.StatsRequest{})
		if err == nil && st.GetDocuments() == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("articles not indexed: %v, %v", st, err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	res, err := client.Search(acme, &keelv1.SearchRequest{Query: "how do I get my money back?"})
	if err != nil {
		t.Fatal(err)
	}
	if res.GetPartial() || len(res.GetPassages()) == 0 || res.GetPassages()[0].GetDocId() != "kb-refunds" {
		t.Fatalf("search = %v, want kb-refunds first and a complete result", res)
	}
	if res.GetPassages()[0].GetVectorScore() <= 0 {
		t.Errorf("top passage has no vector score: %v", res.GetPassages()[0])
	}

	other, err := client.Search(tenant.With(context.Background(), "globex"), &keelv1.SearchRequest{Query: "how do I get my money back?"})
	if err != nil {
		t.Fatal(err)
	}
	if len(other.GetPassages()) != 0 {
		t.Fatalf("globex found acme's passages: %v", other.GetPassages())
	}
}
