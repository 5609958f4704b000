package copilot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/keelhq/keel/pkg/tenant"
)

// ErrOrderNotFound is returned by OrderBook.Order when the tenant has no
// order with that id.
var ErrOrderNotFound = errors.New("order not found")

// Order is one customer order as the order tools see it.
type Order struct {
	OrderID  string   `json:"order_id"`
	Status   string   `json:"status"`
	Carrier  string   `json:"carrier,omitempty"`
	Tracking string   `json:"tracking,omitempty"`
	ETA      string   `json:"eta,omitempty"`
	Items    []string `json:"items,omitempty"`
	// CustomerEmail is who placed the order. It is raw customer data: the
	// tools use it to check ownership and never hand it to the model.
	CustomerEmail string `json:"customer_email,omitempty"`
}

// OrderBook is the order system the copilot's tools read. Every call is
// scoped to one tenant.
type OrderBook interface {
	// Order returns the tenant's order with id orderID, or ErrOrderNotFound.
	Order(ctx context.Context, tenantID, orderID string) (Order, error)
	// CustomerOrders returns the tenant's orders placed by the customer with
	// the email address email, in the order the book holds them.
	CustomerOrders(ctx context.Context, tenantID, email string) ([]Order, error)
}

// MemoryOrderBook is an OrderBook held in memory, for local runs and demos.
// It is safe for concurrent use: it never changes after construction.
type MemoryOrderBook struct {
	orders map[string]map[string]Order // tenant -> normalised order id -> order
	lists  map[string][]Order          // tenant -> orders in file order
}

var _ OrderBook = (*MemoryOrderBook)(nil)

// NewMemoryOrderBook returns an OrderBook over ordersByTenant. It returns an
// error for a malformed tenant id, an order without id and an order id that
// appears twice for one tenant.
func NewMemoryOrderBook(ordersByTenant map[string][]Order) (*MemoryOrderBook, error) {
	b := &MemoryOrderBook{
		orders: make(map[string]map[string]Order, len(ordersByTenant)),
		lists:  make(map[string][]Order, len(ordersByTenant)),
	}

	var problems []error
	for tenantID, orders := range ordersByTenant {
		if err := tenant.Valid(tenantID); err != nil {
			problems = append(problems, err)
			continue
		}
		byID := make(map[string]Order, len(orders))
		for i, o := range orders {
			id := normaliseOrderID(o.OrderID)
			if id == "" {
				problems = append(problems, fmt.Errorf("tenant %s: order %d has no order_id", tenantID, i))
				continue
			}
			if _, dup := byID[id]; dup {
				problems = append(problems, fmt.Errorf("tenant %s: order %s appears twice", tenantID, id))
				continue
			}
			byID[id] = o
			b.lists[tenantID] = append(b.lists[tenantID], o)
		}
		b.orders[tenantID] = byID
	}
	if err := errors.Join(problems...); err != nil {
		return nil, fmt.Errorf("build order book: %w", err)
	}
	return b, nil
}

// LoadOrderBook reads a JSON file that maps each tenant to its orders:
//
//	{"acme": [{"order_id": "ORD-1", "status": "shipped", "carrier": "UPS",
//	           "eta": "2026-12-09", "items": ["kettle"],
//	           "customer_email": "ana@example.com"}]}
func LoadOrderBook(path string) (*MemoryOrderBook, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read order book: %w", err)
	}

	var orders map[string][]Order
	if err := json.Unmarshal(raw, &orders); err != nil {
		return nil, fmt.Errorf("parse order book %s: %w", path, err)
	}
	return NewMemoryOrderBook(orders)
}

// Order implements OrderBook.
func (b *MemoryOrderBook) Order(_ context.Context, tenantID, orderID string) (Order, error) {
	o, ok := b.orders[tenantID][normaliseOrderID(orderID)]
	if !ok {
		return Order{}, ErrOrderNotFound
	}
	return o, nil
}

// CustomerOrders implements OrderBook. Email addresses compare without
// regard to case.
func (b *MemoryOrderBook) CustomerOrders(_ context.Context, tenantID, email string) ([]Order, error) {
	email = strings.TrimSpace(email)
	if email == "" {
		return nil, nil
	}

	var out []Order
	for _, o := range b.lists[tenantID] {
		if strings.EqualFold(o.CustomerEmail, email) {
			out = append(out, o)
		}
	}
	return out, nil
}

// EmptyOrderBook is an OrderBook without orders, for deployments that have
// no order system connected.
type EmptyOrderBook struct{}

var _ OrderBook = EmptyOrderBook{}

// Order implements OrderBook; it always returns ErrOrderNotFound.
func (EmptyOrderBook) Order(context.Context, string, string) (Order, error) {
	return Order{}, ErrOrderNotFound
}

// CustomerOrders implements OrderBook; it returns no orders.
func (EmptyOrderBook) CustomerOrders(context.Context, string, string) ([]Order, error) {
	return nil, nil
}

func normaliseOrderID(id string) string {
	return strings.ToUpper(strings.TrimSpace(id))
}
