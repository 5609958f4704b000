package routing

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

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
	js, kv := budgetBucket(t)
	ctx := context.Background()
	noon := periodStart("day", time.Now()).Add(12 * time.Hour)
	now := func() time.Time { return noon }
	// Each call costs 3000 micros; 4 requests a minute.
	file := limitedFile(TenantLimits{Default: Limits{BudgetMicros: 100_000, RequestsPerMinute: 4}}, Limits{})
	pub := bus.NewPublisher(js)
	start := func(instance string) (*Router, func()) {
		// Every message moves the snapshot.
		return followingRouter(t, js, file, instance, now, func(r *Router) { r.snapshotEvery = 0 })
	}
	snapshot := func() budgetSnapshot {
		t.Helper()
		snap, err := loadSnapshot(ctx, kv, tenantShard("acme"))
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
		snap, _ := loadSnapshot(ctx, kv, tenantShard("acme"))
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
	js, kv := budgetBucket(t)
	ctx := context.Background()
	noon := periodStart("day", time.Now()).Add(12 * time.Hour)
	file := limitedFile(TenantLimits{Default: Limits{BudgetMicros: 100_000}}, Limits{BudgetMicros: 50_000, BudgetPeriod: "month"})
	r := newTestRouter(t, file, scripted(&callLog{}, nil, "a"), Options{Now: func() time.Time { return noon }})
	today, month := periodStart("day", noon), periodStart("month", noon)
	acme := tenantShard("acme")
	put := func(snap budgetSnapshot) {
		t.Helper()
		putShard(t, kv, acme, snap)
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
	book := r.openBudgetBook(ctx, js, noon)
	if book == nil || book.loaded[acme] != 10 || !book.counted("acme", 10) || book.counted("acme", 11) {
		t.Fatalf("book = %+v, want acme's shard loaded at the snapshot's sequence 10", book)
	}
	// The other shards have no snapshot: their tenants are read from the
	// start of the period, and so is the stream.
	if from := today.Add(-time.Hour); !book.resumeFrom(from).Equal(from) {
		t.Errorf("with shards missing the stream is read from %v, want %v", book.resumeFrom(from), from)
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
	if book := other.openBudgetBook(ctx, js, noon); book == nil || book.loaded[acme] != 0 {
		t.Errorf("book under other settings starts at %+v, want the whole period", book)
	}
	if got := spentOf(other, "acme"); got != 0 {
		t.Errorf("spent %d from a snapshot under other settings, want 0", got)
	}

	// A save reaching less far than the bucket's snapshot leaves it.
	put(budgetSnapshot{Budgets: r.budgetKeys(), Seq: 20, At: time.Now()})
	book = &budgetBook{r: r, kv: kv, budgets: r.budgetKeys(), seq: 15, spent: map[limitKey]periodSpend{}}
	book.save(ctx)
	if snap, err := loadSnapshot(ctx, kv, acme); err != nil || snap.Seq != 20 {
		t.Errorf("after a save at 15 acme's shard is at %v (%v), want 20", snap, err)
	}
	if snap, err := loadSnapshot(ctx, kv, (acme+1)%snapshotShards); err != nil || snap == nil || snap.Seq != 15 {
		t.Errorf("after a save at 15 another shard is at %v (%v), want 15", snap, err)
	}
	book.seq = 25
	book.save(ctx)
	if snap, err := loadSnapshot(ctx, kv, acme); err != nil || snap.Seq != 25 {
		t.Errorf("after a save at 25 the snapshot is at %v (%v), want 25", snap, err)
	}
}

// A book of more budgets than one key of the bucket can hold is saved in
// shards and read back whole; shards saved at different sequences each
// count only what came after them, and a book holding messages past the
// one it has read is not saved.
func TestBudgetSnapshotShards(t *testing.T) {
	t.Parallel()
	js, kv := budgetBucket(t)
	ctx := context.Background()
	noon := periodStart("day", time.Now()).Add(12 * time.Hour)
	today := periodStart("day", noon)
	file := limitedFile(TenantLimits{Default: Limits{BudgetMicros: 100_000}}, Limits{})
	opts := Options{Now: func() time.Time { return noon }}

	// 40,000 tenants with spend: about 3 MB of sums, over three times what
	// one value may hold.
	const tenants = 40_000
	writer := newTestRouter(t, file, scripted(&callLog{}, nil, "a"), opts)
	book := &budgetBook{r: writer, kv: kv, budgets: writer.budgetKeys(), spent: map[limitKey]periodSpend{}}
	for i := range tenants {
		book.add(fmt.Sprintf("tenant-%05d", i), "r", int64(i+1), noon)
	}
	// Saved now: after the stream was made (a snapshot older than its
	// stream counts for nothing below).
	saved := time.Now()
	book.moved(500, saved)
	book.save(ctx)
	if book.savedSeq != 500 {
		t.Fatalf("book of %d budgets saved up to %d, want 500", tenants, book.savedSeq)
	}

	reader := newTestRouter(t, file, scripted(&callLog{}, nil, "a"), opts)
	got := reader.openBudgetBook(ctx, js, noon)
	if len(got.spent) != tenants {
		t.Fatalf("book read back holds %d budgets, want %d", len(got.spent), tenants)
	}
	for _, i := range []int{0, 1234, tenants - 1} {
		name := fmt.Sprintf("tenant-%05d", i)
		if spent := spentOf(reader, name); spent != int64(i+1) {
			t.Errorf("%s spent %d after the restart, want %d", name, spent, i+1)
		}
	}
	if from := today; !got.resumeFrom(from).Equal(saved.Add(-time.Minute)) {
		t.Errorf("stream read from %v, want a minute before the snapshot (%v)", got.resumeFrom(from), saved.Add(-time.Minute))
	}

	// One shard a replica moved further than the others: its tenants'
	// messages up to 600 are in it, the others' only up to 500.
	acme := tenantShard("acme")
	other := "tenant-00000"
	if tenantShard(other) == acme {
		t.Fatal("test tenants share a shard")
	}
	putShard(t, kv, acme, budgetSnapshot{Budgets: writer.budgetKeys(), Seq: 600, At: saved.Add(time.Minute),
		Spent: []periodSpend{{Tenant: "acme", Period: today, Micros: 42}}})
	later := newTestRouter(t, file, scripted(&callLog{}, nil, "a"), opts)
	mixed := later.openBudgetBook(ctx, js, noon)
	if !mixed.counted("acme", 550) || mixed.counted(other, 550) {
		t.Errorf("message 550 counted for acme %v, for %s %v; want true, false",
			mixed.counted("acme", 550), other, mixed.counted(other, 550))
	}
	if spent := spentOf(later, "acme"); spent != 42 {
		t.Errorf("acme spent %d, want 42 from its shard", spent)
	}
	if want := saved.Add(-time.Minute); !mixed.resumeFrom(today).Equal(want) {
		t.Errorf("stream read from %v, want a minute before the earliest shard (%v)", mixed.resumeFrom(today), want)
	}
	// Until the stream passes 600, saving would claim acme's sums reach
	// less far than they do.
	mixed.moved(550, saved)
	mixed.save(ctx)
	if snap, _ := loadSnapshot(ctx, kv, tenantShard(other)); snap == nil || snap.Seq != 500 {
		t.Errorf("a book behind its own shards saved: %s's shard at %v, want 500", other, snap)
	}
	mixed.moved(601, saved)
	mixed.save(ctx)
	if snap, _ := loadSnapshot(ctx, kv, tenantShard(other)); snap == nil || snap.Seq != 601 {
		t.Errorf("after the stream passed every shard, %s's shard at %v, want 601", other, snap)
	}

	// A shard whose last message is older than the stream (deleted and
	// made again, numbering from 1): its sums stand, and every message of
	// the new stream is counted on top.
	putShard(t, kv, acme, budgetSnapshot{Budgets: writer.budgetKeys(), Seq: 9000, At: time.Now().Add(-time.Hour),
		Spent: []periodSpend{{Tenant: "acme", Period: today, Micros: 77}}})
	fresh := newTestRouter(t, file, scripted(&callLog{}, nil, "a"), opts)
	renewed := fresh.openBudgetBook(ctx, js, noon)
	if renewed.counted("acme", 5) || spentOf(fresh, "acme") != 77 || !renewed.resumeFrom(today).Equal(today) {
		t.Errorf("snapshot older than its stream: counted(5) %v, spent %d, read from %v; want false, 77, %v",
			renewed.counted("acme", 5), spentOf(fresh, "acme"), renewed.resumeFrom(today), today)
	}
}

func putShard(t *testing.T, kv jetstream.KeyValue, i int, snap budgetSnapshot) {
	t.Helper()
	data, err := json.Marshal(snap)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(context.Background(), shardKey(i), data); err != nil {
		t.Fatal(err)
	}
}

// budgetBucket starts NATS with Keel's streams and returns the budget
// snapshot bucket.
func budgetBucket(t *testing.T) (jetstream.JetStream, jetstream.KeyValue) {
	t.Helper()
	_, js := natstest.Start(t)
	ctx := context.Background()
	if err := bus.DeclareStreams(ctx, js); err != nil {
		t.Fatalf("declare streams: %v", err)
	}
	kv, err := js.KeyValue(ctx, bus.BucketRouterBudgets)
	if err != nil {
		t.Fatal(err)
	}
	return js, kv
}
