package service

// This test runs the embed service next to the retrieve service, the way
// `keel dev` does. It is the only place the retrieve module refers to
// another service, and only in a test.

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/logging"
	"github.com/keelhq/keel/pkg/natstest"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	embedservice "github.com/keelhq/keel/services/embed/service"
)

func TestRedactedArticleBecomesSearchable(t *testing.T) {
	t.Parallel()
	nc, js := natstest.Start(t)

	// The embed service.
	embedLis := listen(t)
	embedCfg := embedservice.DefaultConfig()
	embedCfg.NATS.URL = natstest.URL(nc)
	embedCfg.GRPC.Addr = embedLis.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	embedDone := make(chan error, 1)
	go func() {
		embedDone <- embedservice.Run(ctx, embedCfg, embedservice.Deps{Logger: logging.Discard(), NATS: nc, Listener: embedLis})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-embedDone; err != nil {
			t.Errorf("embed Run: %v", err)
		}
	})

	// The retrieve service, asking the embed service for query vectors.
	cfg := testConfig(nc, embedLis.Addr().String(), t.TempDir())
	cfg.Embed.Timeout = 5 * time.Second
	run := startRetrieve(t, nc, cfg)

	pub := bus.NewPublisher(js)
	articles := []*keelv1.RedactedEvent{
		{
			EventId: "kb-refunds",
			Kind:    "article",
			Source:  "helpdesk",
			Title:   "Refund policy",
			Body:    "We reimburse the full price of unused items within 30 days.\n\n## Store credit\n\nGift cards are not refundable.",
		},
		{
			EventId: "kb-shipping",
			Kind:    "article",
			Source:  "helpdesk",
			Title:   "Shipping times",
			Body:    "Orders are dispatched within two business days and delivered by courier.",
		},
	}
	for _, ev := range articles {
		if _, err := pub.Publish(context.Background(), bus.RedactedSubject("acme", "article"), ev.GetEventId(), "acme", ev); err != nil {
			t.Fatalf("publish %s: %v", ev.GetEventId(), err)
		}
	}
	waitForDocuments(t, run.client, "acme", 2)

	// A paraphrase with no word in common with the article but "my" finds it
	// through the dense leg.
	resp, err := run.client.Search(as("acme"), &keelv1.SearchRequest{Query: "how do I get my money back?"})
	if err != nil {
		t.Fatalf("Search: %v", err)
	}
	if resp.GetPartial() {
		t.Errorf("Search partial = true, want false with the embed service up")
	}
	if len(resp.GetPassages()) == 0 || resp.GetPassages()[0].GetDocId() != "kb-refunds" {
		t.Fatalf("Search passages = %v, want kb-refunds first", passageIDs(resp))
	}
	top := resp.GetPassages()[0]
	if top.GetVectorScore() <= 0 || top.GetTitle() != "Refund policy" {
		t.Errorf("top passage = %v, want a vector match titled Refund policy", top)
	}
	body := articles[0].GetBody()
	if got := body[top.GetStartOffset():top.GetEndOffset()]; got != top.GetText() {
		t.Errorf("passage offsets select %q, want the passage text %q", got, top.GetText())
	}

	// Another tenant searching the same words finds nothing of acme's.
	other, err := run.client.Search(as("globex"), &keelv1.SearchRequest{Query: "how do I get my money back?"})
	if err != nil {
		t.Fatalf("Search as globex: %v", err)
	}
	if len(other.GetPassages()) != 0 {
		t.Errorf("globex search returned %v, want nothing", passageIDs(other))
	}

	eventually(t, "audit of both steps", func() bool {
		actions := auditActions(t, js, "acme")
		return slices.Contains(actions, embedservice.ActionEmbedded) && slices.Contains(actions, ActionIndexed)
	})
}
