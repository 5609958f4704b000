package copilot

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/keelhq/keel/pkg/tenant"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

// backends fakes every service the activities call, at the gRPC client
// interface, and records what they were asked.
type backends struct {
	mu sync.Mutex

	passages  []*keelv1.Passage
	searchErr error
	searches  []*keelv1.SearchRequest

	// generate answers the n-th Generate call (0-based).
	generate  func(n int, req *keelv1.GenerateRequest) (*keelv1.GenerateResponse, error)
	generates []*keelv1.GenerateRequest

	risk        float64
	findings    []*keelv1.Finding
	evaluateErr error
	evaluations []*keelv1.EvaluateRequest

	// vault maps placeholders to originals for Restore.
	vault    map[string]string
	restores int
	tenants  []string

	published []published
	msgIDs    map[string]bool
}

type published struct {
	Subject string
	MsgID   string
	Tenant  string
	Msg     proto.Message
}

var placeholderPattern = regexp.MustCompile(`<[A-Z_]+_[0-9]+>`)

// newBackends returns fakes for a low-risk draft grounded in one article.
func newBackends() *backends {
	return &backends{
		passages: []*keelv1.Passage{{ChunkId: "kb-1#0", DocId: "kb-1", Title: "Order status", Text: "Orders ship in 2 days."}},
		generate: func(int, *keelv1.GenerateRequest) (*keelv1.GenerateResponse, error) {
			return &keelv1.GenerateResponse{
				Text:         "Hello <NAME_1>, your order is on its way.",
				Citations:    []string{"kb-1#0"},
				Confidence:   0.9,
				Provider:     "local",
				Model:        "local-echo",
				Route:        "support_reply/default",
				FinishReason: "stop",
			}, nil
		},
		risk: 0.1,
		vault: map[string]string{
			"<EMAIL_1>": "margaret.okafor@example.com",
			"<NAME_1>":  "Margaret",
		},
		msgIDs: map[string]bool{},
	}
}

func (b *backends) activities(orders OrderBook) *Activities {
	return NewActivities(ActivityDeps{
		Retriever: fakeRetriever{b},
		Router:    fakeRouter{b},
		Evaluator: fakeEvaluator{b},
		Redactor:  fakeRedactor{b},
		Publisher: b,
		Orders:    orders,
	})
}

func (b *backends) noteTenant(ctx context.Context) {
	id, _ := tenant.From(ctx)
	b.tenants = append(b.tenants, id)
}

type fakeRetriever struct{ b *backends }

func (f fakeRetriever) Search(ctx context.Context, in *keelv1.SearchRequest, _ ...grpc.CallOption) (*keelv1.SearchResponse, error) {
	f.b.mu.Lock()
	defer f.b.mu.Unlock()
	f.b.noteTenant(ctx)
	f.b.searches = append(f.b.searches, proto.CloneOf(in))
	if f.b.searchErr != nil {
		return nil, f.b.searchErr
	}
	return &keelv1.SearchResponse{Passages: f.b.passages}, nil
}

func (fakeRetriever) Stats(context.Context, *keelv1.StatsRequest, ...grpc.CallOption) (*keelv1.StatsResponse, error) {
	return nil, fmt.Errorf("not used")
}

func (fakeRetriever) DeleteDocument(context.Context, *keelv1.DeleteDocumentRequest, ...grpc.CallOption) (*keelv1.DeleteDocumentResponse, error) {
	return nil, fmt.Errorf("not used")
}

func (fakeRetriever) DeleteSubject(context.Context, *keelv1.DeleteSubjectRequest, ...grpc.CallOption) (*keelv1.DeleteSubjectResponse, error) {
	return nil, fmt.Errorf("not used")
}

type fakeRouter struct{ b *backends }

func (f fakeRouter) Generate(ctx context.Context, in *keelv1.GenerateRequest, _ ...grpc.CallOption) (*keelv1.GenerateResponse, error) {
	f.b.mu.Lock()
	f.b.noteTenant(ctx)
	n := len(f.b.generates)
	f.b.generates = append(f.b.generates, proto.CloneOf(in))
	gen := f.b.generate
	f.b.mu.Unlock()
	return gen(n, in)
}

func (fakeRouter) GenerateStream(context.Context, *keelv1.GenerateStreamRequest, ...grpc.CallOption) (grpc.ServerStreamingClient[keelv1.GenerateStreamResponse], error) {
	return nil, fmt.Errorf("not used")
}

func (fakeRouter) ListRoutes(context.Context, *keelv1.ListRoutesRequest, ...grpc.CallOption) (*keelv1.ListRoutesResponse, error) {
	return nil, fmt.Errorf("not used")
}

type fakeEvaluator struct{ b *backends }

func (f fakeEvaluator) Evaluate(ctx context.Context, in *keelv1.EvaluateRequest, _ ...grpc.CallOption) (*keelv1.EvaluateResponse, error) {
	f.b.mu.Lock()
	defer f.b.mu.Unlock()
	f.b.noteTenant(ctx)
	f.b.evaluations = append(f.b.evaluations, proto.CloneOf(in))
	if f.b.evaluateErr != nil {
		return nil, f.b.evaluateErr
	}
	return &keelv1.EvaluateResponse{RiskScore: f.b.risk, Findings: f.b.findings}, nil
}

type fakeRedactor struct{ b *backends }

func (fakeRedactor) Redact(context.Context, *keelv1.RedactRequest, ...grpc.CallOption) (*keelv1.RedactResponse, error) {
	return nil, fmt.Errorf("not used")
}

func (f fakeRedactor) Restore(ctx context.Context, in *keelv1.RestoreRequest, _ ...grpc.CallOption) (*keelv1.RestoreResponse, error) {
	f.b.mu.Lock()
	defer f.b.mu.Unlock()
	f.b.noteTenant(ctx)
	f.b.restores++

	var unknown []string
	text := placeholderPattern.ReplaceAllStringFunc(in.GetText(), func(ph string) string {
		if orig, ok := f.b.vault[ph]; ok {
			return orig
		}
		unknown = append(unknown, ph)
		return ph
	})
	return &keelv1.RestoreResponse{Text: text, UnknownPlaceholders: unknown}, nil
}

// Publish implements Publisher like JetStream: a repeated message id is a
// duplicate and is not stored again.
func (b *backends) Publish(_ context.Context, subject, msgID, tenantID string, m proto.Message) (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.msgIDs[msgID] {
		return true, nil
	}
	b.msgIDs[msgID] = true
	b.published = append(b.published, published{Subject: subject, MsgID: msgID, Tenant: tenantID, Msg: proto.Clone(m)})
	return false, nil
}

// outbound returns the replies published, by subject prefix.
func (b *backends) outbound() []*keelv1.OutboundMessage {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*keelv1.OutboundMessage
	for _, p := range b.published {
		if strings.HasPrefix(p.Subject, "keel.outbound.") {
			out = append(out, p.Msg.(*keelv1.OutboundMessage))
		}
	}
	return out
}

func (b *backends) audits() []*keelv1.AuditEvent {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*keelv1.AuditEvent
	for _, p := range b.published {
		if strings.HasPrefix(p.Subject, "keel.audit.") {
			out = append(out, p.Msg.(*keelv1.AuditEvent))
		}
	}
	return out
}

func (b *backends) auditActions() []string {
	var actions []string
	for _, ev := range b.audits() {
		actions = append(actions, ev.GetAction())
	}
	return actions
}

func (b *backends) publishedOn(prefix string) []published {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []published
	for _, p := range b.published {
		if strings.HasPrefix(p.Subject, prefix) {
			out = append(out, p)
		}
	}
	return out
}

// countingOrders counts the calls to an OrderBook.
type countingOrders struct {
	OrderBook
	mu     sync.Mutex
	orders []string
}

func (c *countingOrders) Order(ctx context.Context, tenantID, orderID string) (Order, error) {
	c.mu.Lock()
	c.orders = append(c.orders, orderID)
	c.mu.Unlock()
	return c.OrderBook.Order(ctx, tenantID, orderID)
}

func demoOrders(t *testing.T) *MemoryOrderBook {
	t.Helper()
	book, err := NewMemoryOrderBook(map[string][]Order{
		"acme": {
			{OrderID: "ORD-10421", Status: "shipped", Carrier: "UPS", ETA: "2026-12-09",
				Items: []string{"cookware set"}, CustomerEmail: "margaret.okafor@example.com"},
			{OrderID: "ORD-10300", Status: "delivered", CustomerEmail: "margaret.okafor@example.com"},
			{OrderID: "ORD-10999", Status: "processing", CustomerEmail: "someone.else@example.com"},
		},
		"other": {
			{OrderID: "ORD-20001", Status: "shipped", CustomerEmail: "margaret.okafor@example.com"},
		},
	})
	if err != nil {
		t.Fatalf("NewMemoryOrderBook: %v", err)
	}
	return book
}

func hasAction(actions []string, action string) bool {
	return slices.Contains(actions, action)
}
