package routing

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/natstest"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/router/internal/provider"
)

// spentOf is what r's limiter counts as spent by tenant t this period.
func spentOf(r *Router, t string) int64 {
	sh := r.limits.shard(t)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if st := sh.state[limitKey{tenant: t}]; st != nil {
		return st.spent
	}
	return 0
}

// Two router replicas share a tenant's daily budget through the USAGE
// stream, neither counts its own calls twice, and a router started later
// finds the day's spend already there.
func TestFollowUsageSharesBudgets(t *testing.T) {
	t.Parallel()
	_, js := natstest.Start(t)
	ctx := context.Background()
	if err := bus.DeclareStreams(ctx, js); err != nil {
		t.Fatalf("declare streams: %v", err)
	}
	// A fixed clock on today's date: the stream keeps real times, from
	// which the routers read back to the start of their budget day.
	noon := periodStart("day", time.Now()).Add(12 * time.Hour)
	now := func() time.Time { return noon }
	// Each call costs 3000 micros; 512 tokens' worth is reserved first.
	file := limitedFile(TenantLimits{Default: Limits{BudgetMicros: 6500}}, Limits{})
	pub := bus.NewPublisher(js)
	start := func(instance string) *Router {
		r, _ := followingRouter(t, js, file, instance, now, nil)
		return r
	}
	a, b := start("router-a"), start("router-b")

	call := tenantCtx("acme")
	for i := range 2 {
		if _, err := a.Generate(call, "r", provider.Request{}); err != nil {
			t.Fatalf("call %d on a: %v", i+1, err)
		}
	}
	waitFor(t, "b to count a's calls", func() bool { return spentOf(b, "acme") == 6000 })
	_, err := b.Generate(call, "r", provider.Request{})
	if le := limitErr(t, err); le.Kind != "budget" {
		t.Errorf("call on b after a spent 6000 of 6500: %+v, want the budget", le)
	}

	// A call from elsewhere, published after a's own: once a has counted
	// it, a has read its own calls too, and skipped them.
	marker := &keelv1.UsageEvent{Id: "elsewhere-1", TenantId: "acme", Route: "r", CostMicros: 1,
		OccurredAt: timestamppb.New(noon), RouterInstance: "router-x", Reserved: true}
	if _, err := pub.Publish(ctx, bus.UsageSubject("acme"), marker.GetId(), "acme", marker); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a to count the marker", func() bool { return spentOf(a, "acme") >= 6001 })
	if got := spentOf(a, "acme"); got != 6001 {
		t.Errorf("a counts %d spent, want 6001: its own calls once, the marker once", got)
	}
	// b's refused call published a usage event too, which took nothing.
	waitFor(t, "b to count the marker", func() bool { return spentOf(b, "acme") >= 6001 })
	if got := spentOf(b, "acme"); got != 6001 {
		t.Errorf("b counts %d spent, want 6001", got)
	}

	// A router started now (a restart) counts the day's calls before it
	// serves any.
	c := start("router-c")
	if got := spentOf(c, "acme"); got != 6001 {
		t.Errorf("restarted router counts %d spent, want 6001", got)
	}
	if _, err := c.Generate(call, "r", provider.Request{}); limitErr(t, err).Kind != "budget" {
		t.Errorf("call on the restarted router: %v, want the budget", err)
	}
}

// followingRouter starts a router over file that publishes its usage to js
// as instance and follows the USAGE stream there, configured by configure
// when not nil. It returns once the router has caught up, with a stop that
// ends the following (run at cleanup too).
func followingRouter(t *testing.T, js jetstream.JetStream, file File, instance string,
	now func() time.Time, configure func(*Router)) (*Router, func()) {
	t.Helper()
	rec := NewBusRecorder(bus.NewPublisher(js).WithOrigin(instance), instance)
	rec.now = now
	r := newTestRouter(t, file, scripted(&callLog{}, nil, "a"), Options{Now: now, Recorder: rec})
	if configure != nil {
		configure(r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	caughtUp := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- r.FollowUsage(ctx, js, instance, caughtUp) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("FollowUsage %s: %v", instance, err)
			}
		})
	}
	t.Cleanup(stop)
	select {
	case <-caughtUp:
	case err := <-done:
		t.Fatalf("FollowUsage %s ended before catching up: %v", instance, err)
	}
	return r, stop
}

// Events that took nothing from limits where they were made are not
// counted, nor events of another tenant than their subject's.
func TestCountUsageSkips(t *testing.T) {
	t.Parallel()
	now := clockStart
	r := newTestRouter(t, limitedFile(TenantLimits{Default: Limits{BudgetMicros: 100}}, Limits{}),
		scripted(&callLog{}, nil, "a"), Options{Now: func() time.Time { return now }})
	at := timestamppb.New(now)
	batch := &keelv1.UsageBatch{Events: []*keelv1.UsageEvent{
		{Id: "mine", CostMicros: 1, OccurredAt: at, RouterInstance: "me", Reserved: true},
		{Id: "shadow", CostMicros: 2, OccurredAt: at, Shadow: true},
		{Id: "cached", CostMicros: 4, OccurredAt: at, Cached: true},
		{Id: "refused", CostMicros: 8, OccurredAt: at, ErrorClass: "limit"},
		{Id: "foreign", TenantId: "globex", CostMicros: 16, OccurredAt: at, Reserved: true},
		{Id: "counted", TenantId: "acme", CostMicros: 32, OccurredAt: at, Reserved: true},
		{Id: "failed", CostMicros: 64, OccurredAt: at, ErrorClass: "timeout", Reserved: true},
		{Id: "negative", CostMicros: -1000, InputTokens: -5, OccurredAt: at, Reserved: true},
		{Id: "no route", CostMicros: 128, OccurredAt: at, ErrorClass: "no_route"},
	}}
	data, err := proto.Marshal(batch)
	if err != nil {
		t.Fatal(err)
	}
	if n := r.countUsage(r.newUsageReader(), bus.UsageBatchSubject("acme"), data, "me", true, nil); n != 3 {
		t.Errorf("counted %d events, want 3", n)
	}
	if got := spentOf(r, "acme"); got != 96 {
		t.Errorf("spent %d, want 96 (32 + 64; a negative cost gives nothing back)", got)
	}
	if got := spentOf(r, "globex"); got != 0 {
		t.Errorf("globex spent %d, want 0", got)
	}
	if n := r.countUsage(r.newUsageReader(), bus.UsageBatchSubject("acme"), []byte{0xff}, "me", true, nil); n != 0 {
		t.Errorf("garbage counted %d events", n)
	}
}

// A record says whether its call took from the limits, which is what other
// replicas count: calls that reached a provider (failed ones too) did;
// calls refused before it did not.
func TestRecordsSayWhetherTheyTookFromLimits(t *testing.T) {
	t.Parallel()
	rec := &recorderFunc{}
	steps := map[string][]step{"a": {{err: classErr(provider.ErrServerFailed)}}}
	r := newTestRouter(t, limitedFile(TenantLimits{Default: Limits{RequestsPerMinute: 2}}, Limits{}),
		scripted(&callLog{}, steps, "a"), Options{Recorder: rec})
	ctx := tenantCtx("acme")

	calls := []struct {
		name     string
		call     Call
		reserved bool
	}{
		{"provider failed", Call{UseCase: "r"}, true},
		{"answered", Call{UseCase: "r"}, true},
		{"over the request limit", Call{UseCase: "r"}, false},
		{"no such route", Call{UseCase: "nope", ExactRoute: true}, false},
	}
	for _, c := range calls {
		_, _ = r.Do(ctx, c.call)
		if got := rec.last(t).Reserved; got != c.reserved {
			t.Errorf("%s: record reserved = %v, want %v", c.name, got, c.reserved)
		}
	}
}
