package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/keelhq/keel/pkg/auth"
	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/grpcx"
	"github.com/keelhq/keel/pkg/pgtest"
	"github.com/keelhq/keel/pkg/temporalx"
	"github.com/keelhq/keel/pkg/tenant"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

// A caller that reaches the ingest service but holds no service key cannot
// restore a tenant's personal data by claiming the tenant, while the
// stack's own calls (gateway to ingest, the copilot's calls to ingest,
// retrieve, router and eval, retrieve to embed) carry tokens and get
// through.
func TestInternalGRPCRequiresServiceTokens(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	st, err := Start(ctx, Options{DataDir: t.TempDir(), DatabaseURL: pgtest.NewDatabase(t), Ephemeral: true})
	if err != nil {
		t.Fatalf("start stack: %v", err)
	}
	t.Cleanup(st.Stop)
	if len(st.ServiceKey) < auth.MinKeyLen {
		t.Fatalf("stack service key has %d bytes, want at least %d", len(st.ServiceKey), auth.MinKeyLen)
	}

	// An email through the gateway, which hands it to ingest over gRPC.
	redacted, err := st.NATS.SubscribeSync(bus.RedactedSubject("acme", "email"))
	if err != nil {
		t.Fatal(err)
	}
	const address = "ana.lima@example.com"
	workflowID := submitEmail(t, st, "acme", "Please write to "+address+" about my refund.")
	msg, err := redacted.NextMsg(time.Minute)
	if err != nil {
		t.Fatalf("no redacted event: %v", err)
	}
	var ev keelv1.RedactedEvent
	if err := proto.Unmarshal(msg.Data, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.GetVaultRef() == "" || strings.Contains(ev.GetBody(), address) {
		t.Fatalf("redacted event has vault_ref %q and body %q; want a ref and no address", ev.GetVaultRef(), ev.GetBody())
	}
	restore := func(opts ...grpc.DialOption) (*keelv1.RestoreResponse, error) {
		t.Helper()
		conn, err := grpcx.Dial(st.Info.GRPC["ingest"], opts...)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return keelv1.NewRedactorServiceClient(conn).Restore(tenant.With(ctx, "acme"),
			&keelv1.RestoreRequest{VaultRef: ev.GetVaultRef(), Text: ev.GetBody()})
	}

	// Without the stack's key, claiming the tenant is not enough.
	otherKey := bytes.Repeat([]byte("x"), auth.MinKeyLen)
	for name, opts := range map[string][]grpc.DialOption{
		"no token":          nil,
		"token of a forger": {grpcx.WithServiceToken(otherKey, "mallory")},
	} {
		res, err := restore(opts...)
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("Restore with %s = %q, %v; want Unauthenticated", name, res.GetText(), err)
		}
	}

	// With it, the original comes back.
	res, err := restore(grpcx.WithServiceToken(st.ServiceKey, "keel-cli"))
	if err != nil || !strings.Contains(res.GetText(), address) {
		t.Fatalf("Restore with the stack's key = %q, %v; want the address restored", res.GetText(), err)
	}

	// Retrieve embeds the query through embed: partial means embed refused.
	conn, err := grpcx.Dial(st.Info.GRPC["retrieve"], grpcx.WithServiceToken(st.ServiceKey, "keel-cli"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	found, err := keelv1.NewRetrieverServiceClient(conn).Search(tenant.With(ctx, "acme"), &keelv1.SearchRequest{Query: "refund"})
	if err != nil || found.GetPartial() {
		t.Fatalf("Search = %v, %v; want a complete answer", found, err)
	}

	// The copilot drafts through router and evaluates through eval...
	run := waitForDecision(ctx, t, st, workflowID)
	if run == nil {
		t.Fatalf("copilot run %s did not reach a decision", workflowID)
	}
	if run.GetDraft() == "" || strings.Contains(run.GetReviewReason(), "failed") {
		t.Errorf("copilot run drafted %q with review reason %q; want a draft and no failure",
			run.GetDraft(), run.GetReviewReason())
	}
	// ...and retrieves through retrieve, as its audit trail says.
	retrieved := waitForAudit(ctx, t, st, ev.GetEventId(), "passages.retrieved")
	if retrieved == nil || retrieved.GetAttributes()["error"] != "" {
		t.Errorf("audit record of retrieval = %v; want one without error", retrieved)
	}
}

// submitEmail posts an email to the gateway as tenantID and returns the
// workflow id of its copilot run.
func submitEmail(t *testing.T, st *Stack, tenantID, body string) string {
	t.Helper()
	tok, err := auth.Mint(st.TokenKey, tenantID, "riley", []string{auth.ScopeEmailsWrite}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(map[string]string{
		"subject":    "Refund",
		"body":       body,
		"from_email": "ana.lima@example.com",
	})
	req, err := http.NewRequest(http.MethodPost, st.Info.GatewayURL+"/v1/emails", bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		WorkflowID string `json:"workflow_id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /v1/emails = %d, %v; want 202", resp.StatusCode, err)
	}
	if out.WorkflowID == "" {
		t.Fatal("POST /v1/emails returned no workflow id")
	}
	return out.WorkflowID
}

// waitForDecision polls the copilot run until it waits for a reviewer or
// has ended with a reply or a rejection, and returns its status, or nil
// when ctx ends first.
func waitForDecision(ctx context.Context, t *testing.T, st *Stack, workflowID string) *keelv1.CopilotStatus {
	t.Helper()
	for {
		v, err := st.Temporal.QueryWorkflow(ctx, workflowID, "", temporalx.StatusQuery)
		if err == nil {
			var s keelv1.CopilotStatus
			if err := v.Get(&s); err != nil {
				t.Fatal(err)
			}
			if temporalx.Settled(s.GetStage()) {
				return &s
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// waitForAudit polls the audit log, calling it with the stack's service
// key, until it holds a record of action about subject, and returns it, or
// nil when ctx ends first.
func waitForAudit(ctx context.Context, t *testing.T, st *Stack, subject, action string) *keelv1.AuditRecord {
	t.Helper()
	conn, err := grpcx.Dial(st.Info.GRPC["audit"], grpcx.WithServiceToken(st.ServiceKey, "keel-cli"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := keelv1.NewAuditLogServiceClient(conn)
	for {
		res, err := client.ListRecords(tenant.With(ctx, "acme"), &keelv1.ListRecordsRequest{Subject: subject})
		if status.Code(err) == codes.Unauthenticated {
			t.Fatalf("audit refused the stack's service token: %v", err)
		}
		for _, r := range res.GetRecords() {
			if r.GetAction() == action {
				return r
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(200 * time.Millisecond):
		}
	}
}
