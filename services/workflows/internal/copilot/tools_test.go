package copilot

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

func TestRunTool(t *testing.T) {
	t.Parallel()

	margaret := customer{accountID: "acct-7", email: "margaret.okafor@example.com"}
	tests := []struct {
		name      string
		cust      customer
		call      *keelv1.ToolCall
		wantJSON  string
		wantError string
	}{
		{
			name: "own order",
			cust: margaret,
			call: &keelv1.ToolCall{Name: ToolLookupOrder, ArgumentsJson: `{"order_id":" ord-10421 "}`},
			wantJSON: `{"order_id":"ORD-10421","status":"shipped","carrier":"UPS","eta":"2026-12-09",` +
				`"items":["cookware set"]}`,
		},
		{
			name:      "another customer's order looks missing",
			cust:      margaret,
			call:      &keelv1.ToolCall{Name: ToolLookupOrder, ArgumentsJson: `{"order_id":"ORD-10999"}`},
			wantError: "no order ORD-10999 for this customer",
		},
		{
			name:      "another tenant's order is not found",
			cust:      margaret,
			call:      &keelv1.ToolCall{Name: ToolLookupOrder, ArgumentsJson: `{"order_id":"ORD-20001"}`},
			wantError: "no order ORD-20001 for this customer",
		},
		{
			name:      "unidentified customer sees no owned order",
			cust:      customer{accountID: "acct-7"},
			call:      &keelv1.ToolCall{Name: ToolLookupOrder, ArgumentsJson: `{"order_id":"ORD-10421"}`},
			wantError: "no order ORD-10421 for this customer",
		},
		{
			name:      "arguments not JSON",
			cust:      margaret,
			call:      &keelv1.ToolCall{Name: ToolLookupOrder, ArgumentsJson: `ORD-10421`},
			wantError: "arguments are not a JSON object with order_id",
		},
		{
			name:      "order id missing",
			cust:      margaret,
			call:      &keelv1.ToolCall{Name: ToolLookupOrder, ArgumentsJson: `{}`},
			wantError: "order_id is required",
		},
		{
			name:      "unknown tool",
			cust:      margaret,
			call:      &keelv1.ToolCall{Name: "refund_order", ArgumentsJson: `{}`},
			wantError: `unknown tool "refund_order"`,
		},
		{
			name: "account status",
			cust: margaret,
			call: &keelv1.ToolCall{Name: ToolAccountStatus, ArgumentsJson: `{"account_id":"someone-else"}`},
			wantJSON: `{"account_id":"acct-7","orders":[{"order_id":"ORD-10421","status":"shipped",` +
				`"eta":"2026-12-09"},{"order_id":"ORD-10300","status":"delivered"}],"open_orders":1}`,
		},
		{
			name:      "account status of an unidentified customer",
			cust:      customer{accountID: "acct-7"},
			call:      &keelv1.ToolCall{Name: ToolAccountStatus},
			wantError: "the customer could not be identified",
		},
	}
	orders := demoOrders(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, err := runTool(context.Background(), orders, "acme", tt.cust, tt.call)
			if err != nil {
				t.Fatalf("runTool: %v", err)
			}
			if got.GetError() != tt.wantError {
				t.Errorf("error = %q, want %q", got.GetError(), tt.wantError)
			}
			if tt.wantError != "" {
				var body map[string]string
				if err := json.Unmarshal([]byte(got.GetResultJson()), &body); err != nil || body["error"] != tt.wantError {
					t.Errorf("result json = %s, want the error as JSON", got.GetResultJson())
				}
				return
			}
			if got.GetResultJson() != tt.wantJSON {
				t.Errorf("result json:\n got %s\nwant %s", got.GetResultJson(), tt.wantJSON)
			}
			if strings.Contains(got.GetResultJson(), "@") {
				t.Errorf("result json %s holds an email address", got.GetResultJson())
			}
		})
	}
}

// brokenOrders fails every call, as an unreachable order system would.
type brokenOrders struct{}

var errOrdersDown = errors.New("orders down")

func (brokenOrders) Order(context.Context, string, string) (Order, error) {
	return Order{}, errOrdersDown
}

func (brokenOrders) CustomerOrders(context.Context, string, string) ([]Order, error) {
	return nil, errOrdersDown
}

func TestRunToolReturnsBackendErrors(t *testing.T) {
	t.Parallel()

	cust := customer{email: "a@example.com"}
	for _, call := range []*keelv1.ToolCall{
		{Name: ToolLookupOrder, ArgumentsJson: `{"order_id":"ORD-1"}`},
		{Name: ToolAccountStatus},
	} {
		if _, err := runTool(context.Background(), brokenOrders{}, "acme", cust, call); !errors.Is(err, errOrdersDown) {
			t.Errorf("%s error = %v, want errOrdersDown", call.GetName(), err)
		}
	}
}

func TestToolDefinitionsAreJSONSchemas(t *testing.T) {
	t.Parallel()

	var names []string
	for _, def := range ToolDefinitions() {
		names = append(names, def.GetName())
		var schema map[string]any
		if err := json.Unmarshal([]byte(def.GetParametersJson()), &schema); err != nil || schema["type"] != "object" {
			t.Errorf("%s parameters %s: not an object schema (%v)", def.GetName(), def.GetParametersJson(), err)
		}
	}
	if diff := cmp.Diff([]string{ToolLookupOrder, ToolAccountStatus}, names); diff != "" {
		t.Errorf("tool names (-want +got):\n%s", diff)
	}
}

func TestLoadOrderBook(t *testing.T) {
	t.Parallel()

	book, err := LoadOrderBook(filepath.Join("testdata", "orders.json"))
	if err != nil {
		t.Fatalf("LoadOrderBook: %v", err)
	}
	ctx := context.Background()

	acme, err := book.Order(ctx, "acme", "ord-10421")
	if err != nil || acme.Status != "shipped" || acme.Carrier != "UPS" || len(acme.Items) != 2 {
		t.Errorf("acme ORD-10421 = %+v, %v; want the shipped UPS order", acme, err)
	}
	globex, err := book.Order(ctx, "globex", "ORD-10421")
	if err != nil || globex.Status != "processing" {
		t.Errorf("globex ORD-10421 = %+v, %v; want the tenant's own order", globex, err)
	}
	if _, err := book.Order(ctx, "initech", "ORD-10421"); !errors.Is(err, ErrOrderNotFound) {
		t.Errorf("unknown tenant: error %v, want ErrOrderNotFound", err)
	}

	mine, err := book.CustomerOrders(ctx, "acme", "MARGARET.okafor@example.com")
	if err != nil || len(mine) != 2 {
		t.Errorf("CustomerOrders = %d orders, %v; want 2 matched without regard to case", len(mine), err)
	}
}

func TestLoadOrderBookRejectsBadFiles(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		body string
	}{
		{name: "not json", body: `orders`},
		{name: "flat list", body: `[{"order_id":"ORD-1"}]`},
		{name: "bad tenant", body: `{"Acme Corp":[{"order_id":"ORD-1"}]}`},
		{name: "order without id", body: `{"acme":[{"status":"shipped"}]}`},
		{name: "duplicate id", body: `{"acme":[{"order_id":"ORD-1"},{"order_id":"ord-1"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			path := filepath.Join(t.TempDir(), "orders.json")
			if err := os.WriteFile(path, []byte(tt.body), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := LoadOrderBook(path); err == nil {
				t.Errorf("LoadOrderBook(%s) succeeded, want an error", tt.body)
			}
		})
	}
}

// TestDemoOrdersLoad keeps the order tools and the demo data in agreement.
func TestDemoOrdersLoad(t *testing.T) {
	t.Parallel()

	book, err := LoadOrderBook(filepath.Join("..", "..", "..", "..", "deploy", "demo", "orders.json"))
	if err != nil {
		t.Fatalf("load demo orders: %v", err)
	}
	o, err := book.Order(context.Background(), "larkspur", "ORD-10421")
	if err != nil || o.Status == "" || o.CustomerEmail == "" {
		t.Errorf("demo ORD-10421 = %+v, %v; want an order with status and customer", o, err)
	}
}
