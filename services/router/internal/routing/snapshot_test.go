package routing

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/natstest"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/router/internal/provider"
)

// A router saves what the USAGE stream adds up to for each budget; one
// started later takes the sums from the snapshot, reads only what came
// after it for the budgets and the last minute for the rates, and counts
// nothing twice.
func TestBudgetSnapshotBoundsReplay(t *testing.T) {
	t.Parallel()
	_, js := natstest.Start(t)
	ctx := context.Background()
	if err := bus.DeclareStreams(ctx, js); err != nil {
		t.Fatalf("declare streams: %v", err)
	}
	noon := periodStart("day", time.Now()).Add(12 * time.Hour)
	now := func() time.Time { return noon }
	// Each call costs 3000 micros; 4 requests a minute.
	file := limitedFile(TenantLimits{Default: Limits{BudgetMicros: 100_000, RequestsPerMinute: 4}}, Limits{})
	pub := bus.NewPublisher(js)
	start := func(instance string) (*Router, func()) {
		// Every message moves the snapshot.
		return followingRouter(t, js, file, instance, now, func(r *Router) { r.snapshotEvery = 0 })
	}
	kv, err := js.KeyValue(ctx, bus.BucketRouterBudgets)
	if err != nil {
		t.Fatal(err)
	}
	snapshot := func() budgetSnapshot {
		t.Helper()
		snap, err := loadSnapshot(ctx, kv)
		if err != nil || snap == nil {
			t.Fatalf("snapshot: %v, %v", snap, err)
		}
		return *snap
	}

	a, stopA := start("router-a")
	call := tenantCtx("acme")
	for i := range 3 {
		if _, err := a.Generate(call, "r", provider.Request{}); err != nil {
			t.Fatalf("call %d on a: %v", i+1, err)
		}
	}
	// a's own calls go into its snapshot, though not twice into its limits.
	waitFor(t, "a's snapshot of its own calls", func() bool {
		snap, _ := loadSnapshot(ctx, kv)
		return snap != nil && len(snap.Spent) == 1 && snap.Spent[0].Micros == 9000
	})
	if got := spentOf(a, "acme"); got != 9000 {
		t.Errorf("a counts %d spent, want 9000", got)
	}
	stopA()
	snap := snapshot()
	if s := snap.Spent[0]; s.Tenant != "acme" || s.Route != "" || !s.Period.Equal(periodStart("day", noon)) {
		t.Errorf("snapshot holds %+v, want acme's budget of today", s)
	}

	// A restart with the stream whole: the budget counts each call once,
	// and the rate counts the last minute's three requests.
	b, stopB := start("router-b")
	if got := spentOf(b, "acme"); got != 9000 {
		t.Errorf("restarted router counts %d spent, want 9000 (once from the snapshot)", got)
	}
	if _, err := b.Generate(call, "r", provider.Request{}); err != nil {
		t.Fatalf("fourth request of the minute: %v", err)
	}
	if _, err := b.Generate(call, "r", provider.Request{}); limitErr(t, err).Kind != "requests" {
		t.Errorf("fifth request of the minute: %v, want the request rate", err)
	}
	stopB()

	// With the stream's old messages gone, a new router still finds the
	// day's spend: from the snapshot, plus what came after it.
	stream, err := js.Stream(ctx, bus.StreamUsage)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	late := &keelv1.UsageEvent{Id: "elsewhere-1", TenantId: "acme", Route: "r", CostMicros: 500,
		OccurredAt: timestamppb.New(noon), RouterInstance: "router-x", Reserved: true}
	if _, err := pub.Publish(ctx, bus.UsageSubject("acme"), late.GetId(), "acme", late); err != nil {
		t.Fatal(err)
	}
	c, _ := start("router-c")
	if got := spentOf(c, "acme"); got != 12500 {
		t.Errorf("router after the purge counts %d spent, want 12500 (snapshot 12000 with b's call, and 500 after)", got)
	}
}

// A snapshot kept under other budget settings, or of a period that has
// ended, is not counted; neither is one a slower replica would write over a
// newer one.
func TestBudgetSnapshotChecks(t *testing.T) {
	t.Parallel()
	_, js := natstest.Start(t)
	ctx := context.Background()
	if err := bus.DeclareStreams(ctx, js); err != nil {
		t.Fatalf("declare streams: %v", err)
	}
	kv, err := js.KeyValue(ctx, bus.BucketRouterBudgets)
	if err != nil {
		t.Fatal(err)
	}
	noon := periodStart("day", time.Now()).Add(12 * time.Hour)
	file := limitedFile(TenantLimits{Default: Limits{BudgetMicros: 100_000}}, Limits{BudgetMicros: 50_000, BudgetPeriod: "month"})
	r := newTestRouter(t, file, scripted(&callLog{}, nil, "a"), Options{Now: func() time.Time { return noon }})
	today, month := periodStart("day", noon), periodStart("month", noon)
	put := func(snap budgetSnapshot) {
		t.Helper()
		data, err := json.Marshal(snap)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Put(ctx, snapshotKey, data); err != nil {
			t.Fatal(err)
		}
	}
	routeSpent := func(r *Router) int64 {
		sh := r.limits.shard("acme")
		sh.mu.Lock()
		defer sh.mu.Unlock()
		if st := sh.state[limitKey{tenant: "acme", route: "r"}]; st != nil {
			return st.spent
		}
		return 0
	}

	sums := []periodSpend{
		{Tenant: "acme", Period: today, Micros: 700},
		{Tenant: "acme", Route: "r", Period: month, Micros: 900},
		{Tenant: "acme", Period: today.AddDate(0, 0, -1), Micros: 5000}, // yesterday's
	}
	put(budgetSnapshot{Budgets: "route r:month,tenants:day", Seq: 10, At: time.Now(), Spent: sums})
	if book := r.openBudgetBook(ctx, js, noon); book == nil || book.seq != 10 {
		t.Fatalf("book = %+v, want one at the snapshot's sequence 10", book)
	}
	if got := spentOf(r, "acme"); got != 700 {
		t.Errorf("tenant spent %d after the snapshot, want 700 (yesterday's sum left out)", got)
	}
	if got := routeSpent(r); got != 900 {
		t.Errorf("route spent %d after the snapshot, want 900", got)
	}

	// Other settings: the sums may cover other budgets or periods.
	put(budgetSnapshot{Budgets: "tenants:month", Seq: 10, At: time.Now(), Spent: sums})
	other := newTestRouter(t, file, scripted(&callLog{}, nil, "a"), Options{Now: func() time.Time { return noon }})
	if book := other.openBudgetBook(ctx, js, noon); book == nil || book.seq != 0 {
		t.Errorf("book under other settings starts at %+v, want the whole period", book)
	}
	if got := spentOf(other, "acme"); got != 0 {
		t.Errorf("spent %d from a snapshot under other settings, want 0", got)
	}

	// A save reaching less far than the bucket's snapshot leaves it.
	put(budgetSnapshot{Budgets: r.budgetKeys(), Seq: 20, At: time.Now()})
	book := &budgetBook{r: r, kv: kv, budgets: r.budgetKeys(), seq: 15, spent: map[limitKey]periodSpend{}}
	book.save(ctx)
	if snap, err := loadSnapshot(ctx, kv); err != nil || snap.Seq != 20 {
		t.Errorf("after a save at 15 the snapshot is at %v (%v), want 20", snap, err)
	}
	book.seq = 25
	book.save(ctx)
	if snap, err := loadSnapshot(ctx, kv); err != nil || snap.Seq != 25 {
		t.Errorf("after a save at 25 the snapshot is at %v (%v), want 25", snap, err)
	}
}
