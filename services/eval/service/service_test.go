package service

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/grpcx"
	"github.com/keelhq/keel/pkg/logging"
	"github.com/keelhq/keel/pkg/natstest"
	"github.com/keelhq/keel/pkg/tenant"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

// startEval runs the service on a loopback port, publishing audit events
// on nc when it is not nil.
func startEval(t *testing.T, nc *nats.Conn) keelv1.EvaluatorServiceClient {
	t.Helper()
	cfg := DefaultConfig()
	if nc == nil {
		cfg.NATS.URL = ""
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}

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
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return keelv1.NewEvaluatorServiceClient(conn)
}

func acme() context.Context {
	return tenant.With(context.Background(), "acme")
}

func leakyDraft() *keelv1.EvaluateRequest {
	return &keelv1.EvaluateRequest{
		Input: "My parcel never arrived. [PERSON_1] [EMAIL_1]",
		Draft: "Hello [PERSON_1], we will refund you in full and send the receipt to jane.doe@example.com. [1]",
		Passages: []*keelv1.Passage{
			{ChunkId: "kb-shipping#0", Text: "Lost parcels are investigated with the carrier."},
		},
		Citations: []string{"kb-shipping#0"},
	}
}

func TestEvaluateFlagsLeakAndPromise(t *testing.T) {
	t.Parallel()
	nc, js := natstest.Start(t)
	client := startEval(t, nc)

	resp, err := client.Evaluate(acme(), leakyDraft())
	if err != nil {
		t.Fatalf("Evaluate: %v", err)
	}
	categories := map[string]bool{}
	for _, f := range resp.GetFindings() {
		categories[f.GetCategory()] = true
		if strings.Contains(f.GetEvidence(), "jane") {
			t.Errorf("finding %+v repeats the leaked address", f)
		}
	}
	if !categories["pii_leak"] || !categories["risky_promise"] {
		t.Errorf("findings = %v, want pii_leak and risky_promise", resp.GetFindings())
	}
	if resp.GetRiskScore() < 0.7 || resp.GetRiskScore() > 1 {
		t.Errorf("risk score = %v, want at least 0.7", resp.GetRiskScore())
	}

	// The evaluation is audited without any text.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, bus.StreamAudit, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{bus.AuditSubject("acme")},
	})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
	if err != nil {
		t.Fatalf("no audit event: %v", err)
	}
	var ev keelv1.AuditEvent
	if err := proto.Unmarshal(msg.Data(), &ev); err != nil {
		t.Fatal(err)
	}
	attrs := ev.GetAttributes()
	if ev.GetAction() != ActionEvaluated || ev.GetActor() != "eval" || ev.GetTenantId() != "acme" ||
		!strings.HasPrefix(ev.GetSubject(), "draft:") {
		t.Errorf("audit event = %+v", &ev)
	}
	if attrs["categories"] != "pii_leak,risky_promise" || attrs["risk_score"] == "" {
		t.Errorf("audit attributes = %v", attrs)
	}
	for k, v := range attrs {
		if strings.Contains(v, "example.com") || strings.Contains(v, "refund") {
			t.Errorf("audit attribute %s = %q holds text", k, v)
		}
	}
}

func TestEvaluateWithoutNATS(t *testing.T) {
	t.Parallel()
	client := startEval(t, nil)

	resp, err := client.Evaluate(acme(), &keelv1.EvaluateRequest{
		Input:     "How long does shipping take?",
		Draft:     "Express shipping arrives the next business day. [1]",
		Passages:  []*keelv1.Passage{{ChunkId: "c1", Text: "Express shipping arrives the next business day."}},
		Citations: []string{"c1"},
	})
	if err != nil {
		t.Fatalf("Evaluate: %v", err)
	}
	if resp.GetRiskScore() != 0 || len(resp.GetFindings()) != 0 {
		t.Errorf("grounded draft scored %v with %v", resp.GetRiskScore(), resp.GetFindings())
	}
}

func TestEvaluateErrors(t *testing.T) {
	t.Parallel()
	client := startEval(t, nil)

	tests := []struct {
		name string
		ctx  context.Context
		req  *keelv1.EvaluateRequest
		want codes.Code
	}{
		{name: "no tenant", ctx: context.Background(), req: leakyDraft(), want: codes.Unauthenticated},
		{name: "no draft", ctx: acme(), req: &keelv1.EvaluateRequest{Input: "hi", Draft: "  "}, want: codes.InvalidArgument},
		{name: "draft too large", ctx: acme(),
			req: &keelv1.EvaluateRequest{Draft: strings.Repeat("call 0800 555 0134. ", 4000)}, want: codes.InvalidArgument},
		{name: "too many passages", ctx: acme(),
			req: &keelv1.EvaluateRequest{Draft: "ok", Passages: make([]*keelv1.Passage, 51)}, want: codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			_, err := client.Evaluate(tt.ctx, tt.req)
			if got := status.Code(err); got != tt.want {
				t.Errorf("code = %v (%v), want %v", got, err, tt.want)
			}
		})
	}
}

type failingAuditor struct{}

func (failingAuditor) Audit(context.Context, *keelv1.AuditEvent) error {
	return errors.New("nats down")
}

func TestEvaluateFailsClosedWhenAuditFails(t *testing.T) {
	t.Parallel()

	srv := newEvaluatorServer(failingAuditor{}, logging.Discard())
	_, err := srv.Evaluate(acme(), leakyDraft())
	if status.Code(err) != codes.Unavailable {
		t.Errorf("code = %v, want Unavailable", status.Code(err))
	}
}

func TestAuditEventIsStablePerRequest(t *testing.T) {
	t.Parallel()

	req := leakyDraft()
	a := auditEvent("acme", req, scoreOf(t, req))
	b := auditEvent("acme", req, scoreOf(t, req))
	if a.GetId() != b.GetId() || a.GetSubject() != b.GetSubject() {
		t.Errorf("ids differ for the same request: %s / %s", a.GetId(), b.GetId())
	}
	other := auditEvent("globex", req, scoreOf(t, req))
	if other.GetId() == a.GetId() {
		t.Error("two tenants share an audit event id")
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()

	cfg := DefaultConfig()
	cfg.NATS.URL = ""
	if err := cfg.Validate(); err != nil {
		t.Errorf("config without nats: %v", err)
	}
	if err := (Config{}).Validate(); err == nil || !strings.Contains(err.Error(), "KEEL_EVAL_GRPC_ADDR") {
		t.Errorf("empty config: %v", err)
	}
}
