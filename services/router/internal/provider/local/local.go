// Package local is an offline, deterministic provider for development, tests
// and tenants that must not send text to a hosted model.
//
// It does not generate language. It drafts a customer-support reply from
// the sentences of the given passages that best match the customer's last
// message, rare words counting more than common ones, cites them, and says
// plainly when nothing relevant was found. It never adds a fact that is not
// in a passage or a tool result. Its confidence is the weighted share of the
// question's key words that the quoted sentences cover.
package local

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/keelhq/keel/services/router/internal/provider"
)

// DefaultModel is the model name the local provider reports when the route
// names none.
const DefaultModel = "keel-local-1"

// LookupOrderTool is the tool the provider asks for when the customer
// mentions an order number.
const LookupOrderTool = "lookup_order"

// NotFoundSentence is what the reply says when no passage answers the
// question.
const NotFoundSentence = "I could not find this in our help articles; a colleague will follow up."

// Provider is the local provider. The zero value is not usable; call New.
type Provider struct {
	name string
}

// New returns a local provider that reports the given name.
func New(name string) *Provider {
	return &Provider{name: name}
}

// Name returns the configured name.
func (p *Provider) Name() string { return p.name }

// Generate drafts a reply. It asks for the lookup_order tool first when the
// tool is offered, the customer names an order and no tool result is in the
// conversation yet. It returns only the context's error.
func (p *Provider) Generate(ctx context.Context, req provider.Request) (provider.Response, error) {
	if err := ctx.Err(); err != nil {
		return provider.Response{}, contextError(err)
	}

	model := req.Model
	if model == "" {
		model = DefaultModel
	}
	question, _ := req.LastUserMessage()
	usage := provider.Usage{InputTokens: provider.EstimateInputTokens(req)}

	// Ask for the order first; the reply comes once the result is in.
	if call, ok := orderLookup(req, question.Content); ok {
		usage.OutputTokens = provider.EstimateTokens(call.Arguments)
		return provider.Response{
			ToolCalls:    []provider.ToolCall{call},
			Model:        model,
			Usage:        usage,
			FinishReason: provider.FinishToolCalls,
		}, nil
	}

	draft := draftReply(question.Content, req.Passages, req.ToolResults())
	text, finish := truncate(draft.text, req.MaxOutputTokens)
	if req.Schema != nil {
		// A structured request gets the draft shaped as the schema asks.
		text, finish = shapeAsSchema(req.Schema.JSON, draft.text), provider.FinishStop
	}
	usage.OutputTokens = provider.EstimateTokens(text)

	return provider.Response{
		Text:         text,
		Citations:    provider.ParseCitations(text, req.Passages),
		Confidence:   draft.confidence,
		Model:        model,
		Usage:        usage,
		FinishReason: finish,
	}, nil
}

// Stream drafts the reply like Generate and hands it to emit one word at a
// time, then each tool call. It returns emit's error, or the context's.
func (p *Provider) Stream(
	ctx context.Context,
	req provider.Request,
	emit func(provider.Delta) error,
) (provider.Response, error) {
	resp, err := p.Generate(ctx, req)
	if err != nil {
		return provider.Response{}, err
	}

	for _, piece := range splitKeepingSpace(resp.Text) {
		if err := ctx.Err(); err != nil {
			return provider.Response{}, contextError(err)
		}
		if err := emit(provider.Delta{Text: piece}); err != nil {
			return provider.Response{}, err
		}
	}
	for i := range resp.ToolCalls {
		if err := emit(provider.Delta{ToolCall: &resp.ToolCalls[i]}); err != nil {
			return provider.Response{}, err
		}
	}
	return resp, nil
}

// contextError classifies a passed deadline as a timeout and returns a
// cancellation as it is: the caller gave up, the provider did not fail.
func contextError(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return &provider.Error{Class: provider.ErrTimedOut, Err: err}
	}
	return err
}

// orderNumber finds an order reference: ORD-12345, #12345 or "order 12345".
var orderNumber = regexp.MustCompile(
	`(?i)\b(ORD-\d{3,})\b|#(\d{4,})\b|\border\s+(?:number\s+|no\.?\s*|nr\.?\s*)?(\d{4,})\b`)

// OrderNumber returns the first order reference in text: "ORD-12345" in
// upper case, or the digits of "#12345" and "order 12345".
func OrderNumber(text string) (string, bool) {
	m := orderNumber.FindStringSubmatch(text)
	if m == nil {
		return "", false
	}
	for _, g := range m[1:] {
		if g != "" {
			return strings.ToUpper(g), true
		}
	}
	return "", false
}

func orderLookup(req provider.Request, question string) (provider.ToolCall, bool) {
	if !req.HasTool(LookupOrderTool) || len(req.ToolResults()) > 0 {
		return provider.ToolCall{}, false
	}
	id, ok := OrderNumber(question)
	if !ok {
		return provider.ToolCall{}, false
	}

	args, _ := json.Marshal(map[string]string{"order_id": id})
	sum := sha256.Sum256([]byte(id))
	return provider.ToolCall{
		ID:        "call_" + hex.EncodeToString(sum[:6]),
		Name:      LookupOrderTool,
		Arguments: string(args),
	}, true
}

// truncate cuts text to roughly maxTokens tokens (three words for every
// four tokens) and reports FinishLength when it had to.
func truncate(text string, maxTokens int) (string, provider.FinishReason) {
	if maxTokens <= 0 || provider.EstimateTokens(text) <= int64(maxTokens) {
		return text, provider.FinishStop
	}
	keep := maxTokens * 3 / 4
	var b strings.Builder
	words := 0
	for _, piece := range splitKeepingSpace(text) {
		if strings.TrimSpace(piece) != "" {
			if words == keep {
				break
			}
			words++
		}
		b.WriteString(piece)
	}
	return strings.TrimSpace(b.String()), provider.FinishLength
}

// splitKeepingSpace splits text into words, each with the white space that
// follows it, so that joining the pieces gives text back.
func splitKeepingSpace(text string) []string {
	var pieces []string
	start := 0
	inSpace := false
	for i, r := range text {
		space := r == ' ' || r == '\n' || r == '\t' || r == '\r'
		if inSpace && !space {
			pieces = append(pieces, text[start:i])
			start = i
		}
		inSpace = space
	}
	if start < len(text) {
		pieces = append(pieces, text[start:])
	}
	return pieces
}

// orderStatus reads the status of an order from a lookup_order result. It
// returns a sentence for the reply, or "" when the result says nothing
// usable.
func orderStatus(result provider.Message) string {
	var order map[string]any
	if err := json.Unmarshal([]byte(result.Content), &order); err != nil {
		return "I looked up your order but could not read the result; a colleague will follow up."
	}
	status, _ := order["status"].(string)
	status = strings.ReplaceAll(status, "_", " ") // payment_failed reads "payment failed"
	if strings.TrimSpace(status) == "" {
		return "I looked up your order but it has no status yet; a colleague will follow up."
	}
	id, _ := order["order_id"].(string)
	if id == "" {
		return fmt.Sprintf("The current status of your order is: %s.", status)
	}
	return fmt.Sprintf("The current status of your order %s is: %s.", id, status)
}

// Retention says that nothing leaves the process.
func (p *Provider) Retention() string { return "offline: nothing leaves Keel" }
