package copilot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

// Tools the model may call while drafting.
const (
	ToolLookupOrder   = "lookup_order"
	ToolAccountStatus = "account_status"
)

// closedStatuses are order statuses that need no more action.
var closedStatuses = []string{"delivered", "cancelled", "refunded", "returned"}

// ToolDefinitions returns the tools offered to the model. Neither tool takes
// a customer identifier: both act for the customer who wrote the email, so
// the model cannot be talked into reading another customer's data.
func ToolDefinitions() []*keelv1.ToolDefinition {
	return []*keelv1.ToolDefinition{
		{
			Name: ToolLookupOrder,
			Description: "Look up one of the customer's orders by its id (for example ORD-10421) " +
				"and return its status, carrier, tracking number, estimated delivery and items.",
			ParametersJson: `{"type":"object","properties":{"order_id":{"type":"string",` +
				`"description":"Order id, for example ORD-10421"}},"required":["order_id"],` +
				`"additionalProperties":false}`,
		},
		{
			Name: ToolAccountStatus,
			Description: "Return the status of the customer's account: their orders and how many " +
				"are still open.",
			ParametersJson: `{"type":"object","properties":{},"additionalProperties":false}`,
		},
	}
}

// customer is who the tools act for. email is raw customer data: it stays
// inside the tool activity.
type customer struct {
	accountID string
	email     string
}

func (c customer) known() bool { return c.email != "" }

// errToolInput marks a problem with a tool call that the model caused; it is
// reported to the model, not retried.
var errToolInput = errors.New("tool input")

// orderView is what lookup_order tells the model: the order without the
// customer's email address.
type orderView struct {
	OrderID  string   `json:"order_id"`
	Status   string   `json:"status"`
	Carrier  string   `json:"carrier,omitempty"`
	Tracking string   `json:"tracking,omitempty"`
	ETA      string   `json:"eta,omitempty"`
	Items    []string `json:"items,omitempty"`
}

type accountView struct {
	AccountID  string            `json:"account_id,omitempty"`
	Orders     []accountOrderRow `json:"orders"`
	OpenOrders int               `json:"open_orders"`
}

type accountOrderRow struct {
	OrderID string `json:"order_id"`
	Status  string `json:"status"`
	ETA     string `json:"eta,omitempty"`
}

// runTool executes call for cust. A problem the model caused (unknown tool,
// bad arguments, an order that is not the customer's) comes back in the
// result's Error; only a failure of the order book is returned as an error.
func runTool(ctx context.Context, orders OrderBook, tenantID string, cust customer, call *keelv1.ToolCall) (*keelv1.ToolResult, error) {
	result := &keelv1.ToolResult{Name: call.GetName(), ArgumentsJson: call.GetArgumentsJson()}

	var (
		value any
		err   error
	)
	switch call.GetName() {
	case ToolLookupOrder:
		value, err = lookupOrder(ctx, orders, tenantID, cust, call.GetArgumentsJson())
	case ToolAccountStatus:
		value, err = accountStatus(ctx, orders, tenantID, cust)
	default:
		err = fmt.Errorf("%w: unknown tool %q", errToolInput, call.GetName())
	}

	if errors.Is(err, errToolInput) {
		result.Error = strings.TrimPrefix(err.Error(), errToolInput.Error()+": ")
		result.ResultJson = errorJSON(result.Error)
		return result, nil
	}
	if err != nil {
		return nil, err
	}

	body, err := json.Marshal(value)
	if err != nil {
		return nil, fmt.Errorf("encode %s result: %w", call.GetName(), err)
	}
	result.ResultJson = string(body)
	return result, nil
}

func lookupOrder(ctx context.Context, orders OrderBook, tenantID string, cust customer, argsJSON string) (any, error) {
	var args struct {
		OrderID string `json:"order_id"`
	}
	if err := json.Unmarshal([]byte(orDefault(argsJSON, "{}")), &args); err != nil {
		return nil, fmt.Errorf("%w: arguments are not a JSON object with order_id", errToolInput)
	}
	if strings.TrimSpace(args.OrderID) == "" {
		return nil, fmt.Errorf("%w: order_id is required", errToolInput)
	}

	o, err := orders.Order(ctx, tenantID, args.OrderID)
	if errors.Is(err, ErrOrderNotFound) {
		return nil, fmt.Errorf("%w: no order %s for this customer", errToolInput, args.OrderID)
	}
	if err != nil {
		return nil, fmt.Errorf("look up order: %w", err)
	}

	// Another customer's order answers exactly like one that does not exist,
	// so the tool reveals nothing about it.
	if o.CustomerEmail != "" && !strings.EqualFold(o.CustomerEmail, cust.email) {
		return nil, fmt.Errorf("%w: no order %s for this customer", errToolInput, args.OrderID)
	}
	return orderView{
		OrderID:  o.OrderID,
		Status:   o.Status,
		Carrier:  o.Carrier,
		Tracking: o.Tracking,
		ETA:      o.ETA,
		Items:    o.Items,
	}, nil
}

func accountStatus(ctx context.Context, orders OrderBook, tenantID string, cust customer) (any, error) {
	if !cust.known() {
		return nil, fmt.Errorf("%w: the customer could not be identified", errToolInput)
	}

	list, err := orders.CustomerOrders(ctx, tenantID, cust.email)
	if err != nil {
		return nil, fmt.Errorf("list customer orders: %w", err)
	}

	view := accountView{AccountID: cust.accountID, Orders: make([]accountOrderRow, 0, len(list))}
	for _, o := range list {
		view.Orders = append(view.Orders, accountOrderRow{OrderID: o.OrderID, Status: o.Status, ETA: o.ETA})
		if !slices.Contains(closedStatuses, strings.ToLower(o.Status)) {
			view.OpenOrders++
		}
	}
	return view, nil
}

// toolMessage is the content of the tool message that answers a call.
func toolMessage(r *keelv1.ToolResult) string {
	if r.GetResultJson() != "" {
		return r.GetResultJson()
	}
	return errorJSON(orDefault(r.GetError(), "tool failed"))
}

func errorJSON(msg string) string {
	body, _ := json.Marshal(map[string]string{"error": msg})
	return string(body)
}

func orDefault(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}
