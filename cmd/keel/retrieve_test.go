package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/logging"
	"github.com/keelhq/keel/pkg/natstest"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	embedservice "github.com/keelhq/keel/services/embed/service"
	retrieveservice "github.com/keelhq/keel/services/retrieve/service"
)

// TestRetrieveSearchAndDelete runs `keel retrieve search` and `keel
// retrieve delete` against the embed and retrieve services on embedded
// NATS, with service tokens on: passages print with their citations, a
// data subject's documents are erased, and bad command lines are refused.
func TestRetrieveSearchAndDelete(t *testing.T) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	serviceKey := base64.StdEncoding.EncodeToString(raw)
	t.Setenv("KEEL_SERVICE_KEY", serviceKey)

	ctx, cancel := context.WithCancel(context.Background())
	nc, js := natstest.Start(t)
	embedLis, retrieveLis := listenLoopback(t), listenLoopback(t)
	ecfg := embedservice.DefaultConfig()
	ecfg.NATS.URL, ecfg.GRPC.Addr, ecfg.ServiceKey = natstest.URL(nc), embedLis.Addr().String(), serviceKey
	rcfg := retrieveservice.DefaultConfig()
	rcfg.NATS.URL, rcfg.GRPC.Addr, rcfg.ServiceKey = natstest.URL(nc), retrieveLis.Addr().String(), serviceKey
	rcfg.Embed.Addr, rcfg.Index.DataDir = embedLis.Addr().String(), t.TempDir()
	done := make(chan error, 2)
	go func() {
		done <- embedservice.Run(ctx, ecfg, embedservice.Deps{Logger: logging.Discard(), NATS: nc, Listener: embedLis})
	}()
	go func() {
		done <- retrieveservice.Run(ctx, rcfg, retrieveservice.Deps{Logger: logging.Discard(), NATS: nc, Listener: retrieveLis})
	}()
	t.Cleanup(func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("service: %v", err)
			}
		}
	})

	pub := bus.NewPublisher(js)
	for _, ev := range []*keelv1.RedactedEvent{
		{EventId: "kb-returns", Kind: "article", Source: "kb", Title: "Returns", Body: "# Returns\n\nReturn a kettle within 30 days for a full refund."},
		{EventId: "mail-7", Kind: "email", Source: "helpdesk", Subject: "Kettle lid", Body: "My kettle lid cracked; I want a refund.",
			Customer: &keelv1.Customer{AccountId: "ACC-7"}},
	} {
		if _, err := pub.Publish(ctx, bus.RedactedSubject("acme", ev.GetKind()), ev.GetEventId(), "acme", ev); err != nil {
			t.Fatal(err)
		}
	}
	addr := retrieveLis.Addr().String()
	run := func(cmd func(context.Context, []string, *bytes.Buffer) error, args ...string) (string, error) {
		var out bytes.Buffer
		err := cmd(ctx, append([]string{"--tenant", "acme", "--addr", addr, "--data-dir", t.TempDir()}, args...), &out)
		return out.String(), err
	}
	search := func(ctx context.Context, args []string, out *bytes.Buffer) error {
		return runRetrieveSearch(ctx, args, out)
	}
	del := func(ctx context.Context, args []string, out *bytes.Buffer) error {
		return runRetrieveDelete(ctx, args, out)
	}

	deadline := time.Now().Add(20 * time.Second)
	var out string
	for {
		var err error
		out, err = run(search, "-k", "10", "kettle", "refund")
		if err == nil && strings.Contains(out, "kb-returns") && strings.Contains(out, "mail-7") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("search never found both documents: %v\n%s", err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(out, "[Returns, bytes") || !strings.Contains(out, "score ") {
		t.Errorf("search output lacks citations or scores:\n%s", out)
	}
	if out, err := run(search, "--kind", "email", "kettle"); err != nil || strings.Contains(out, "kb-returns") || !strings.Contains(out, "mail-7") {
		t.Errorf("search --kind email: %v\n%s", err, out)
	}

	out, err := run(del, "--subject", "ACC-7")
	if err != nil || !strings.Contains(out, "erased 1 documents about the subject: mail-7") {
		t.Fatalf("delete --subject: %v\n%s", err, out)
	}
	out, err = run(del, "--doc", "kb-returns")
	if err != nil || !strings.Contains(out, "deleted document kb-returns (1 chunks)") {
		t.Fatalf("delete --doc: %v\n%s", err, out)
	}
	if out, err := run(search, "kettle"); err != nil || !strings.Contains(out, "no passages") {
		t.Errorf("search after the deletions: %v\n%s", err, out)
	}

	for name, args := range map[string][]string{
		"both targets": {"--doc", "a", "--subject", "b"},
		"no target":    {},
	} {
		if _, err := run(del, args...); err == nil {
			t.Errorf("delete with %s: no error", name)
		}
	}
	if _, err := run(search, "--after", "yesterday", "kettle"); err == nil || !strings.Contains(err.Error(), "--after") {
		t.Errorf("search --after yesterday: %v", err)
	}
	if _, err := run(search); err == nil {
		t.Errorf("search without a query: no error")
	}
}

// listenLoopback returns a loopback listener on a free port.
func listenLoopback(t testing.TB) net.Listener {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return lis
}
