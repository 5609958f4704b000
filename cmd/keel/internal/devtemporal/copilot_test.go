package devtemporal

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/proto"

	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/grpcx"
	"github.com/keelhq/keel/pkg/logging"
	"github.com/keelhq/keel/pkg/natstest"
	"github.com/keelhq/keel/pkg/temporalx"
	"github.com/keelhq/keel/pkg/tenant"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/workflows/service"
)

// historyEnv names the environment variable that, when set, makes
// TestSupportCopilotOnEmbeddedServer write the run's history where the
// copilot's replay test reads it.
const historyEnv = "KEEL_WRITE_COPILOT_HISTORY"

var historyFile = filepath.Join("..", "..", "..", "..", "services", "workflows",
	"internal", "copilot", "testdata", "support_copilot_history.json")

// TestSupportCopilotOnEmbeddedServer runs the workflows service against this
// package's Temporal server, embedded NATS and fake model, retrieval,
// evaluation and redaction services: a redacted email comes in, the draft
// needs review, a reviewer approves, and the restored reply goes out.
func TestSupportCopilotOnEmbeddedServer(t *testing.T) {
	nc, js := natstest.Start(t)
	fakes := startFakeServices(t)
	srv := startServer(t, Options{})
	tc := dial(t, srv.HostPort())

	ordersFile := filepath.Join(t.TempDir(), "orders.json")
	orders := `{"acme":[{"order_id":"ORD-10421","status":"shipped","carrier":"UPS",` +
		`"eta":"2026-12-09","items":["cookware set"],"customer_email":"margaret@example.com"}]}`
	if err := os.WriteFile(ordersFile, []byte(orders), 0o600); err != nil {
		t.Fatal(err)
	}

	cfg := service.DefaultConfig()
	cfg.NATS.URL = natstest.URL(nc)
	cfg.Temporal.Addr = srv.HostPort()
	cfg.Services = service.ServicesConfig{IngestAddr: fakes, RetrieveAddr: fakes, RouterAddr: fakes, EvalAddr: fakes}
	cfg.Orders.File = ordersFile
	runService(t, cfg, service.Deps{Logger: logging.Discard(), NATS: nc, Temporal: tc})

	// A redacted email arrives.
	ev := &keelv1.RedactedEvent{
		EventId:  "evt-42",
		TenantId: "acme",
		Kind:     "email",
		Subject:  "Where is my order ORD-10421?",
		Body:     "Hello, my order has not arrived. <NAME_1>",
		Customer: &keelv1.Customer{Email: "<EMAIL_1>", Name: "<NAME_1>", AccountId: "acct-7"},
		VaultRef: "vault-42",
	}
	if _, err := bus.NewPublisher(js).Publish(t.Context(), "keel.redacted.acme.email", "evt-42", "acme", ev); err != nil {
		t.Fatalf("publish event: %v", err)
	}
	workflowID := temporalx.CopilotWorkflowID("acme", "evt-42")

	// The draft waits for review; a reviewer approves it.
	st := waitForStage(t, tc, workflowID, "awaiting_review")
	if !strings.Contains(st.GetDraft(), "ships with UPS") || len(st.GetToolResults()) != 1 {
		t.Errorf("status at review: draft %q tool results %v", st.GetDraft(), st.GetToolResults())
	}
	approve := &keelv1.ReviewDecision{Decision: "approve", Reviewer: "ana"}
	if err := tc.SignalWorkflow(t.Context(), workflowID, "", temporalx.ReviewSignal, approve); err != nil {
		t.Fatalf("signal review: %v", err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var final *keelv1.CopilotStatus
	if err := tc.GetWorkflow(ctx, workflowID, "").Get(ctx, &final); err != nil {
		t.Fatalf("workflow result: %v", err)
	}
	if final.GetStage() != "completed" || final.GetDecision() != "approved" || final.GetReviewer() != "ana" {
		t.Errorf("final status: stage %q decision %q reviewer %q", final.GetStage(), final.GetDecision(), final.GetReviewer())
	}

	// The reply went out once, with the customer's details restored.
	out := lastMessage(t, js, bus.StreamOutbound, "keel.outbound.acme.email", &keelv1.OutboundMessage{})
	if out.GetTo() != "margaret@example.com" || !strings.HasPrefix(out.GetBody(), "Hello Margaret,") ||
		out.GetWorkflowId() != workflowID {
		t.Errorf("outbound = to %q body %q workflow %q", out.GetTo(), out.GetBody(), out.GetWorkflowId())
	}
	audits := actions(t, js)
	for _, want := range []string{"copilot.started", "tool.called", "review.requested", "review.approved", "reply.sent"} {
		if !slices.Contains(audits, want) {
			t.Errorf("audit actions %v lack %s", audits, want)
		}
	}

	// Temporal's history holds only redacted text: the address and name
	// were restored inside the activity that sent the reply.
	hist := history(t, tc, workflowID)
	raw, err := proto.Marshal(hist)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"margaret@example.com", "Margaret"} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("workflow history holds the restored %q", secret)
		}
	}

	if os.Getenv(historyEnv) != "" {
		writeHistory(t, hist)
	}
}

func runService(t *testing.T, cfg service.Config, deps service.Deps) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- service.Run(ctx, cfg, deps) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("service.Run: %v", err)
		}
	})
}

// waitForStage polls the status query until the run reports stage.
func waitForStage(t *testing.T, tc client.Client, workflowID, stage string) *keelv1.CopilotStatus {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	var last *keelv1.CopilotStatus
	for time.Now().Before(deadline) {
		v, err := tc.QueryWorkflow(t.Context(), workflowID, "", temporalx.StatusQuery)
		if err == nil {
			if err := v.Get(&last); err != nil {
				t.Fatalf("decode status: %v", err)
			}
			if last.GetStage() == stage {
				return last
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("run %s did not reach stage %s; last status %v", workflowID, stage, last)
	return nil
}

func lastMessage[T proto.Message](t *testing.T, js jetstream.JetStream, stream, subject string, m T) T {
	t.Helper()
	s, err := js.Stream(t.Context(), stream)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := s.GetLastMsgForSubject(t.Context(), subject)
	if err != nil {
		t.Fatalf("read %s: %v", subject, err)
	}
	if err := proto.Unmarshal(raw.Data, m); err != nil {
		t.Fatalf("decode %s: %v", subject, err)
	}
	return m
}

// actions returns the actions of the audit events stored for tenant acme.
func actions(t *testing.T, js jetstream.JetStream) []string {
	t.Helper()
	cons, err := js.OrderedConsumer(t.Context(), bus.StreamAudit, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"keel.audit.acme"},
	})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.FetchNoWait(100)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for msg := range batch.Messages() {
		ev := &keelv1.AuditEvent{}
		if err := proto.Unmarshal(msg.Data(), ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, ev.GetAction())
	}
	return out
}

func history(t *testing.T, tc client.Client, workflowID string) *historypb.History {
	t.Helper()
	hist := &historypb.History{}
	it := tc.GetWorkflowHistory(t.Context(), workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatalf("read history: %v", err)
		}
		hist.Events = append(hist.Events, ev)
	}
	return hist
}

func writeHistory(t *testing.T, hist *historypb.History) {
	t.Helper()
	body, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(hist)
	if err != nil {
		t.Fatalf("encode history: %v", err)
	}
	if err := os.WriteFile(historyFile, append(body, '\n'), 0o644); err != nil {
		t.Fatalf("write history: %v", err)
	}
	t.Logf("wrote %s", historyFile)
}

// startFakeServices serves fake Redactor, Retriever, ModelRouter and
// Evaluator services on one loopback port, behind Keel's tenant check, and
// returns the address.
func startFakeServices(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpcx.NewServer(logging.Discard())
	keelv1.RegisterRedactorServiceServer(srv, fakeRedactor{vault: map[string]string{
		"<EMAIL_1>": "margaret@example.com",
		"<NAME_1>":  "Margaret",
	}})
	keelv1.RegisterRetrieverServiceServer(srv, fakeRetriever{})
	keelv1.RegisterModelRouterServiceServer(srv, fakeRouter{})
	keelv1.RegisterEvaluatorServiceServer(srv, fakeEvaluator{})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- grpcx.Serve(ctx, srv, lis) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve fakes: %v", err)
		}
	})
	return lis.Addr().String()
}

var errWrongTenant = errors.New("call without tenant acme")

func requireAcme(ctx context.Context) error {
	if id, _ := tenant.From(ctx); id != "acme" {
		return errWrongTenant
	}
	return nil
}

type fakeRedactor struct {
	keelv1.UnimplementedRedactorServiceServer
	vault map[string]string
}

var placeholder = regexp.MustCompile(`<[A-Z_]+_[0-9]+>`)

func (f fakeRedactor) Restore(ctx context.Context, req *keelv1.RestoreRequest) (*keelv1.RestoreResponse, error) {
	if err := requireAcme(ctx); err != nil {
		return nil, err
	}
	var unknown []string
	text := placeholder.ReplaceAllStringFunc(req.GetText(), func(ph string) string {
		if orig, ok := f.vault[ph]; ok {
			return orig
		}
		unknown = append(unknown, ph)
		return ph
	})
	return &keelv1.RestoreResponse{Text: text, UnknownPlaceholders: unknown}, nil
}

type fakeRetriever struct {
	keelv1.UnimplementedRetrieverServiceServer
}

func (fakeRetriever) Search(ctx context.Context, _ *keelv1.SearchRequest) (*keelv1.SearchResponse, error) {
	if err := requireAcme(ctx); err != nil {
		return nil, err
	}
	return &keelv1.SearchResponse{Passages: []*keelv1.Passage{{
		ChunkId: "kb-orders#0", DocId: "kb-orders", Title: "Order status", Text: "Orders ship in two days.",
	}}}, nil
}

// fakeRouter asks for the order once, then answers with what the tool said.
type fakeRouter struct {
	keelv1.UnimplementedModelRouterServiceServer
}

func (fakeRouter) Generate(ctx context.Context, req *keelv1.GenerateRequest) (*keelv1.GenerateResponse, error) {
	if err := requireAcme(ctx); err != nil {
		return nil, err
	}
	msgs := req.GetMessages()
	last := msgs[len(msgs)-1]
	if last.GetRole() != "tool" {
		return &keelv1.GenerateResponse{
			ToolCalls: []*keelv1.ToolCall{{
				Id: "call-1", Name: "lookup_order", ArgumentsJson: `{"order_id":"ORD-10421"}`,
			}},
			FinishReason: "tool_calls",
		}, nil
	}
	text := "Hello <NAME_1>, your order is on its way."
	if strings.Contains(last.GetContent(), `"carrier":"UPS"`) {
		text = "Hello <NAME_1>, your order ships with UPS and arrives by 2026-12-09."
	}
	return &keelv1.GenerateResponse{
		Text: text, Citations: []string{"kb-orders#0"}, Confidence: 0.8,
		Provider: "local", Model: "fake", Route: "support_reply", FinishReason: "stop",
	}, nil
}

// fakeEvaluator finds every draft risky enough to need a reviewer.
type fakeEvaluator struct {
	keelv1.UnimplementedEvaluatorServiceServer
}

func (fakeEvaluator) Evaluate(ctx context.Context, _ *keelv1.EvaluateRequest) (*keelv1.EvaluateResponse, error) {
	if err := requireAcme(ctx); err != nil {
		return nil, err
	}
	return &keelv1.EvaluateResponse{RiskScore: 0.7, Findings: []*keelv1.Finding{{
		Category: "risky_promise", Reason: "names a delivery date", Weight: 0.7,
	}}}, nil
}
