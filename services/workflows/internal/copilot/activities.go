package copilot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/tenant"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

// ErrUnknownCustomer is returned by SendReply when the customer's address
// cannot be restored from the vault: there is nobody to send the reply to.
var ErrUnknownCustomer = errors.New("customer address not in vault")

// Publisher publishes a protobuf message on JetStream; *bus.Publisher is
// one.
type Publisher interface {
	Publish(ctx context.Context, subject, msgID, tenantID string, m proto.Message) (duplicate bool, err error)
}

// Activities hold every piece of I/O of the copilot. Register a value with
// worker.RegisterActivity; the workflow calls the methods by name.
type Activities struct {
	retriever keelv1.RetrieverServiceClient
	router    keelv1.ModelRouterServiceClient
	evaluator keelv1.EvaluatorServiceClient
	redactor  keelv1.RedactorServiceClient
	publisher Publisher
	orders    OrderBook
}

// ActivityDeps are the clients the activities call.
type ActivityDeps struct {
	Retriever keelv1.RetrieverServiceClient
	Router    keelv1.ModelRouterServiceClient
	Evaluator keelv1.EvaluatorServiceClient
	Redactor  keelv1.RedactorServiceClient
	Publisher Publisher
	// Orders backs the order tools; nil means EmptyOrderBook.
	Orders OrderBook
}

// NewActivities returns the activities over deps.
func NewActivities(deps ActivityDeps) *Activities {
	orders := deps.Orders
	if orders == nil {
		orders = EmptyOrderBook{}
	}
	return &Activities{
		retriever: deps.Retriever,
		router:    deps.Router,
		evaluator: deps.Evaluator,
		redactor:  deps.Redactor,
		publisher: deps.Publisher,
		orders:    orders,
	}
}

// RetrieveInput asks for grounding passages.
type RetrieveInput struct {
	TenantID   string
	Query      string
	Principals []string
}

// GenerateInput is one model call.
type GenerateInput struct {
	TenantID string
	Request  *keelv1.GenerateRequest
}

// ToolInput is one tool call the model asked for.
type ToolInput struct {
	TenantID    string
	VaultRef    string
	CustomerRef string
	AccountID   string
	Call        *keelv1.ToolCall
}

// EvaluateInput asks for the risk of a draft.
type EvaluateInput struct {
	TenantID string
	Request  *keelv1.EvaluateRequest
}

// SendInput is the reply to send, still redacted.
type SendInput struct {
	TenantID    string
	WorkflowID  string
	EventID     string
	Kind        string
	VaultRef    string
	CustomerRef string
	Subject     string
	Body        string
	Decision    string
	Reviewer    string
	SentAt      time.Time
}

// SendResult reports what SendReply did, without any restored text.
type SendResult struct {
	// Duplicate is true when the outbound stream already held the reply.
	Duplicate bool
	// UnknownPlaceholders counts placeholders in the reply that the vault
	// had no original for; they went out as they were.
	UnknownPlaceholders int
}

// Record publishes an audit event. The event id is set by the workflow, so a
// retried publish is de-duplicated by the stream.
func (a *Activities) Record(ctx context.Context, ev *keelv1.AuditEvent) error {
	if ev.GetId() == "" {
		return temporal.NewNonRetryableApplicationError("audit event without id", "InvalidAudit", nil)
	}

	_, err := a.publisher.Publish(ctx, bus.AuditSubject(ev.GetTenantId()), ev.GetId(), ev.GetTenantId(), ev)
	return classify("publish audit event", err)
}

// Retrieve searches the tenant's knowledge base articles.
func (a *Activities) Retrieve(ctx context.Context, in RetrieveInput) (*keelv1.SearchResponse, error) {
	ctx = tenant.With(ctx, in.TenantID)

	resp, err := a.retriever.Search(ctx, &keelv1.SearchRequest{
		Query:      in.Query,
		TopK:       4,
		Filter:     &keelv1.SearchFilter{Kinds: []string{ArticleKind}},
		Principals: in.Principals,
	})
	if err != nil {
		return nil, classify("search passages", err)
	}
	return resp, nil
}

// Generate calls the model router once.
func (a *Activities) Generate(ctx context.Context, in GenerateInput) (*keelv1.GenerateResponse, error) {
	ctx = tenant.With(ctx, in.TenantID)

	resp, err := a.router.Generate(ctx, in.Request)
	if err != nil {
		return nil, classify("generate draft", err)
	}
	return resp, nil
}

// CallTool runs one tool for the customer who wrote the email. The
// customer's address is restored from the vault here, used to check what
// the customer may see, and dropped: it is neither returned nor logged.
func (a *Activities) CallTool(ctx context.Context, in ToolInput) (*keelv1.ToolResult, error) {
	ctx = tenant.With(ctx, in.TenantID)

	email, err := a.restoreAddress(ctx, in.VaultRef, in.CustomerRef)
	if err != nil && !errors.Is(err, ErrUnknownCustomer) {
		return nil, err
	}

	cust := customer{accountID: in.AccountID, email: email}
	result, err := runTool(ctx, a.orders, in.TenantID, cust, in.Call)
	if err != nil {
		return nil, classify("call tool "+in.Call.GetName(), err)
	}
	return result, nil
}

// Evaluate scores a draft.
func (a *Activities) Evaluate(ctx context.Context, in EvaluateInput) (*keelv1.EvaluateResponse, error) {
	ctx = tenant.With(ctx, in.TenantID)

	resp, err := a.evaluator.Evaluate(ctx, in.Request)
	if err != nil {
		return nil, classify("evaluate draft", err)
	}
	return resp, nil
}

// PublishDraft publishes a draft for evaluation and review tooling, with
// the workflow id as the basis of its message id.
func (a *Activities) PublishDraft(ctx context.Context, ev *keelv1.DraftEvent) error {
	msgID := ev.GetWorkflowId() + "/draft"
	_, err := a.publisher.Publish(ctx, bus.DraftsSubject(ev.GetTenantId()), msgID, ev.GetTenantId(), ev)
	return classify("publish draft", err)
}

// SendReply restores the customer's details into the reply and publishes it
// on the outbound subject of its kind, with the workflow id as message id so
// that a retry is de-duplicated. It returns ErrUnknownCustomer
// (non-retryable) when the vault has no address for the customer.
func (a *Activities) SendReply(ctx context.Context, in SendInput) (SendResult, error) {
	ctx = tenant.With(ctx, in.TenantID)

	to, err := a.restoreAddress(ctx, in.VaultRef, in.CustomerRef)
	if errors.Is(err, ErrUnknownCustomer) {
		return SendResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "UnknownCustomer", err)
	}
	if err != nil {
		return SendResult{}, err
	}

	subject, err := a.restore(ctx, in.VaultRef, in.Subject)
	if err != nil {
		return SendResult{}, err
	}
	body, err := a.restore(ctx, in.VaultRef, in.Body)
	if err != nil {
		return SendResult{}, err
	}

	msg := &keelv1.OutboundMessage{
		TenantId:   in.TenantID,
		WorkflowId: in.WorkflowID,
		EventId:    in.EventID,
		To:         to,
		Subject:    subject.GetText(),
		Body:       body.GetText(),
		Decision:   in.Decision,
		Reviewer:   in.Reviewer,
		SentAt:     timestamppb.New(in.SentAt),
	}
	kind := orDefault(in.Kind, "email")
	dup, err := a.publisher.Publish(ctx, bus.OutboundSubject(in.TenantID, kind), in.WorkflowID, in.TenantID, msg)
	if err != nil {
		return SendResult{}, classify("publish reply", err)
	}

	unknown := len(subject.GetUnknownPlaceholders()) + len(body.GetUnknownPlaceholders())
	return SendResult{Duplicate: dup, UnknownPlaceholders: unknown}, nil
}

// restoreAddress returns the customer's email address behind ref, or
// ErrUnknownCustomer when the vault holds no original for it.
func (a *Activities) restoreAddress(ctx context.Context, vaultRef, ref string) (string, error) {
	if strings.TrimSpace(ref) == "" {
		return "", ErrUnknownCustomer
	}

	resp, err := a.restore(ctx, vaultRef, ref)
	if err != nil {
		return "", err
	}
	addr := strings.TrimSpace(resp.GetText())
	if len(resp.GetUnknownPlaceholders()) > 0 || addr == "" || addr == strings.TrimSpace(ref) {
		return "", ErrUnknownCustomer
	}
	return addr, nil
}

func (a *Activities) restore(ctx context.Context, vaultRef, text string) (*keelv1.RestoreResponse, error) {
	resp, err := a.redactor.Restore(ctx, &keelv1.RestoreRequest{VaultRef: vaultRef, Text: text})
	if err != nil {
		return nil, classify("restore text", err)
	}
	return resp, nil
}

// nonRetryableCodes are gRPC codes that a retry of the same request cannot
// change.
var nonRetryableCodes = map[codes.Code]bool{
	codes.InvalidArgument:    true,
	codes.NotFound:           true,
	codes.PermissionDenied:   true,
	codes.Unauthenticated:    true,
	codes.FailedPrecondition: true,
	codes.Unimplemented:      true,
	codes.OutOfRange:         true,
}

// classify wraps err with action and marks it non-retryable when it is a
// gRPC status whose code says a retry is pointless, or a malformed tenant.
func classify(action string, err error) error {
	if err == nil {
		return nil
	}

	wrapped := fmt.Errorf("%s: %w", action, err)
	if errors.Is(err, tenant.ErrInvalid) || errors.Is(err, bus.ErrNoMsgID) {
		return temporal.NewNonRetryableApplicationError(wrapped.Error(), "InvalidRequest", err)
	}
	if st, ok := status.FromError(err); ok && nonRetryableCodes[st.Code()] {
		return temporal.NewNonRetryableApplicationError(wrapped.Error(), "grpc."+st.Code().String(), err)
	}
	return wrapped
}
