package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel/cmd/keel/internal/demo"
	"github.com/keelhq/keel/cmd/keel/internal/devstack"
	"github.com/keelhq/keel/pkg/pgtest"
)

// TestDemoFlowEndToEnd runs the whole support-copilot demo on embedded NATS,
// an embedded Temporal server and a real Postgres database, and checks what
// reached the outbound subject and the audit log.
func TestDemoFlowEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	root, err := demo.DataRoot()
	if err != nil {
		t.Fatal(err)
	}

	st, err := devstack.Start(ctx, devstack.Options{
		DataDir:     t.TempDir(),
		DatabaseURL: pgtest.NewDatabase(t),
		Ephemeral:   true,
		OrdersFile:  filepath.Join(root, "orders.json"),
	})
	if err != nil {
		t.Fatalf("start stack: %v", err)
	}
	t.Cleanup(st.Stop)

	var out bytes.Buffer
	res, err := demo.Run(ctx, demo.Config{
		DataRoot:     root,
		JS:           st.JS,
		GatewayURL:   st.Info.GatewayURL,
		TokenKey:     st.TokenKey,
		ServiceKey:   st.ServiceKey,
		RetrieveAddr: st.Info.GRPC["retrieve"],
		AuditAddr:    st.Info.GRPC["audit"],
		Out:          &out,
	})
	if err != nil {
		t.Fatalf("demo failed: %v\n%s", err, out.String())
	}

	if res.Emails < 10 {
		t.Errorf("demo processed %d emails, want at least 10", res.Emails)
	}
	if got, want := len(res.Outbound), len(res.AutoSent)+2; got != want {
		t.Errorf("outbound replies = %d, want %d (auto-sent plus approved and edited)", got, want)
	}
	delivered := map[string]string{}
	for _, o := range res.Outbound {
		delivered[o.GetEventId()] = o.GetDecision()
		if !strings.Contains(o.GetTo(), "@") || strings.Contains(o.GetTo(), "[") {
			t.Errorf("reply %s addressed to %q, want the customer's restored address", o.GetEventId(), o.GetTo())
		}
		for _, p := range []string{"[PERSON_", "[EMAIL_", "[PHONE_"} {
			if strings.Contains(o.GetBody(), p) {
				t.Errorf("reply %s still holds a placeholder %s...]: %q", o.GetEventId(), p, o.GetBody())
			}
		}
	}
	if delivered[res.Approved] != "approved" || delivered[res.Edited] != "edited" {
		t.Errorf("decisions delivered = %v; approved %s, edited %s", delivered, res.Approved, res.Edited)
	}
	if _, ok := delivered[res.Rejected]; ok {
		t.Errorf("rejected draft %s was delivered", res.Rejected)
	}
	for _, o := range res.Outbound {
		if o.GetEventId() == res.Edited && !strings.Contains(o.GetBody(), "call you within one business day") {
			t.Errorf("edited reply body = %q, want the reviewer's text", o.GetBody())
		}
	}
	if res.AuditRecords == 0 {
		t.Error("audit chain is empty")
	}
	if t.Failed() {
		t.Logf("demo output:\n%s", out.String())
	}
}
