package bus_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/logging"
	"github.com/keelhq/keel/pkg/natstest"
	"github.com/keelhq/keel/pkg/tenant"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

// recorder collects handled events.
type recorder struct {
	mu      sync.Mutex
	events  []*keelv1.IngestEvent
	tenants []string
}

func (r *recorder) add(ev *keelv1.IngestEvent, t string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	r.tenants = append(r.tenants, t)
}

func (r *recorder) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ids []string
	for _, e := range r.events {
		ids = append(ids, e.GetEventId())
	}
	return ids
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func startConsumer(t *testing.T, js jetstream.JetStream, handle func(context.Context, bus.Delivery[*keelv1.IngestEvent]) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- bus.Consume(ctx, js, bus.ConsumerConfig{
			Stream:         bus.StreamIngest,
			Durable:        "test",
			Stage:          "ingest",
			FilterSubjects: []string{"keel.ingest.>"},
			MaxDeliver:     3,
			Backoff:        []time.Duration{10 * time.Millisecond},
		}, func() *keelv1.IngestEvent { return &keelv1.IngestEvent{} }, handle, logging.Discard())
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("consume: %v", err)
		}
	})
}

func dlqMessages(t *testing.T, js jetstream.JetStream) []jetstream.Msg {
	t.Helper()
	ctx := context.Background()
	cons, err := js.OrderedConsumer(ctx, bus.StreamDLQ, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatalf("dlq consumer: %v", err)
	}
	batch, err := cons.Fetch(100, jetstream.FetchMaxWait(500*time.Millisecond))
	if err != nil {
		t.Fatalf("fetch dlq: %v", err)
	}
	var out []jetstream.Msg
	for m := range batch.Messages() {
		out = append(out, m)
	}
	return out
}

func TestPublishDeduplicatesByMessageID(t *testing.T) {
	t.Parallel()
	_, js := natstest.Start(t)
	pub := bus.NewPublisher(js)
	ctx := context.Background()
	ev := &keelv1.IngestEvent{EventId: "e1", Kind: "email", Body: "hi"}

	dup, err := pub.Publish(ctx, bus.IngestSubject("acme", "email"), "e1", "acme", ev)
	if err != nil || dup {
		t.Fatalf("first publish: dup=%v err=%v", dup, err)
	}
	dup, err = pub.Publish(ctx, bus.IngestSubject("acme", "email"), "e1", "acme", ev)
	if err != nil || !dup {
		t.Fatalf("second publish: dup=%v err=%v, want duplicate", dup, err)
	}
	if _, err := pub.Publish(ctx, bus.IngestSubject("acme", "email"), "", "acme", ev); !errors.Is(err, bus.ErrNoMsgID) {
		t.Fatalf("publish without id: err=%v, want ErrNoMsgID", err)
	}
	if _, err := pub.Publish(ctx, "keel.ingest.x", "e2", "Bad Tenant", ev); !errors.Is(err, tenant.ErrInvalid) {
		t.Fatalf("publish with bad tenant: err=%v, want ErrInvalid", err)
	}
}

func TestConsumeDeadLettersPoisonAndKeepsFlowing(t *testing.T) {
	t.Parallel()
	_, js := natstest.Start(t)
	pub := bus.NewPublisher(js)
	ctx := context.Background()

	var rec recorder
	var transientOnce sync.Once
	startConsumer(t, js, func(ctx context.Context, d bus.Delivery[*keelv1.IngestEvent]) error {
		got, _ := tenant.From(ctx)
		switch d.Msg.GetEventId() {
		case "permanent":
			return bus.Permanent(errors.New("body is not valid UTF-8"))
		case "always-fails":
			return errors.New("downstream unavailable")
		case "flaky":
			var failed bool
			transientOnce.Do(func() { failed = true })
			if failed {
				return errors.New("transient")
			}
		case "panics":
			panic("boom")
		}
		rec.add(d.Msg, got)
		return nil
	})

	// Garbage bytes, a tenant mismatch, a permanent error, a handler that
	// always fails and one that panics all go to the DLQ; the valid events
	// around them complete.
	raw := nats.NewMsg(bus.IngestSubject("acme", "email"))
	raw.Data = []byte{0xff, 0xff, 0xff}
	raw.Header.Set(bus.HeaderContentType, bus.ContentTypeProtobuf)
	raw.Header.Set(jetstream.MsgIDHeader, "garbage")
	if _, err := js.PublishMsg(ctx, raw); err != nil {
		t.Fatal(err)
	}
	mismatch := nats.NewMsg(bus.IngestSubject("acme", "email"))
	mismatch.Data, _ = proto.Marshal(&keelv1.IngestEvent{EventId: "mismatch"})
	mismatch.Header.Set(tenant.Header, "globex")
	if _, err := js.PublishMsg(ctx, mismatch); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"permanent", "always-fails", "panics", "flaky", "good"} {
		if _, err := pub.Publish(ctx, bus.IngestSubject("acme", "email"), id, "acme", &keelv1.IngestEvent{EventId: id}); err != nil {
			t.Fatal(err)
		}
	}
	// JSON from an upstream system maps onto the same message.
	j := nats.NewMsg(bus.IngestSubject("acme", "ticket"))
	j.Data = []byte(`{"eventId":"json-1","kind":"ticket","body":"hello"}`)
	j.Header.Set(bus.HeaderContentType, "application/json; charset=utf-8")
	if _, err := js.PublishMsg(ctx, j); err != nil {
		t.Fatal(err)
	}

	waitFor(t, "good events", func() bool { return len(rec.ids()) == 3 })
	waitFor(t, "dead letters", func() bool { return len(dlqMessages(t, js)) == 5 })

	reasons := map[string]string{}
	for _, m := range dlqMessages(t, js) {
		if !strings.HasPrefix(m.Subject(), "keel.dlq.acme.ingest") {
			t.Errorf("dead letter subject = %q", m.Subject())
		}
		if got := m.Headers().Get(bus.HeaderDLQStage); got != "ingest" {
			t.Errorf("stage header = %q", got)
		}
		reasons[m.Headers().Get(bus.HeaderDLQMsgID)] = m.Headers().Get(bus.HeaderDLQError)
	}
	for id, want := range map[string]string{
		"garbage":      "decode protobuf",
		"permanent":    "not valid UTF-8",
		"always-fails": "downstream unavailable",
		"panics":       "handler panic: boom",
		"":             "does not match subject tenant",
	} {
		if !strings.Contains(reasons[id], want) {
			t.Errorf("dead letter %q reason = %q, want it to contain %q", id, reasons[id], want)
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, tn := range rec.tenants {
		if tn != "acme" {
			t.Errorf("handler saw tenant %q, want acme", tn)
		}
	}
}

func TestSubjectTenant(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		subject string
		want    string
		wantErr bool
	}{
		{name: "ingest", subject: "keel.ingest.acme.email", want: "acme"},
		{name: "audit", subject: "keel.audit.globex", want: "globex"},
		{name: "too short", subject: "keel.audit", wantErr: true},
		{name: "not keel", subject: "other.audit.acme", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := bus.SubjectTenant(tc.subject)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("SubjectTenant(%q) = %q, %v", tc.subject, got, err)
			}
		})
	}
}

// TestConsumeKeyedOrdersPerKeyAndOverlapsKeys handles two keys' messages
// with four workers: each key's messages arrive in publish order, and a
// handler of one key runs while another key's handler is blocked.
func TestConsumeKeyedOrdersPerKeyAndOverlapsKeys(t *testing.T) {
	t.Parallel()
	_, js := natstest.Start(t)
	pub := bus.NewPublisher(js)
	ctx, cancel := context.WithCancel(context.Background())

	var mu sync.Mutex
	seen := map[string][]string{}
	blockA := make(chan struct{})
	var once sync.Once
	handle := func(_ context.Context, d bus.Delivery[*keelv1.IngestEvent]) error {
		key, id := d.Msg.GetKind(), d.Msg.GetEventId()
		if id == "a-0" {
			<-blockA // released only once key b's worker has handled two
		}
		mu.Lock()
		seen[key] = append(seen[key], id)
		if key == "b" && len(seen["b"]) == 2 {
			once.Do(func() { close(blockA) })
		}
		mu.Unlock()
		return nil
	}
	done := make(chan error, 1)
	go func() {
		done <- bus.ConsumeKeyed(ctx, js, bus.ConsumerConfig{
			Stream: bus.StreamIngest, Durable: "keyed", FilterSubjects: []string{"keel.ingest.>"}, Workers: 4,
		}, func() *keelv1.IngestEvent { return &keelv1.IngestEvent{} },
			func(d bus.Delivery[*keelv1.IngestEvent]) string { return d.Msg.GetKind() },
			handle, logging.Discard())
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("consume: %v", err)
		}
	})

	// "a" and "b" land on different workers of four (fnv-1a). While a-0 is
	// held, b-0 and b-1 get through; a-2 then waits for a's queue, as the
	// reader does for a busy worker.
	for i := range 3 {
		for _, key := range []string{"a", "b"} {
			id := key + "-" + string(rune('0'+i))
			if _, err := pub.Publish(ctx, bus.IngestSubject("acme", "email"), id, "acme", &keelv1.IngestEvent{EventId: id, Kind: key}); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitFor(t, "every message", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen["a"]) == 3 && len(seen["b"]) == 3
	})
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(seen["a"], ","); got != "a-0,a-1,a-2" {
		t.Errorf("key a handled as %s, want publish order", got)
	}
	if got := strings.Join(seen["b"], ","); got != "b-0,b-1,b-2" {
		t.Errorf("key b handled as %s, want publish order", got)
	}
}

func TestConsumeKeyedNeedsAKey(t *testing.T) {
	t.Parallel()
	_, js := natstest.Start(t)
	err := bus.ConsumeKeyed(context.Background(), js, bus.ConsumerConfig{Stream: bus.StreamIngest, Durable: "nokey", Workers: 2},
		func() *keelv1.IngestEvent { return &keelv1.IngestEvent{} }, nil,
		func(context.Context, bus.Delivery[*keelv1.IngestEvent]) error { return nil }, logging.Discard())
	if err == nil || !strings.Contains(err.Error(), "need a key") {
		t.Errorf("ConsumeKeyed with workers and no key: %v", err)
	}
}

func TestUsageEvents(t *testing.T) {
	one, _ := proto.Marshal(&keelv1.UsageEvent{Id: "u1"})
	batch, _ := proto.Marshal(&keelv1.UsageBatch{Events: []*keelv1.UsageEvent{{Id: "u2"}, {Id: "u3"}}})
	tests := []struct {
		subject string
		data    []byte
		want    []string
	}{
		{bus.UsageSubject("acme"), one, []string{"u1"}},
		{bus.UsageBatchSubject("acme"), batch, []string{"u2", "u3"}},
		{bus.UsageBatchSubject("acme"), nil, nil},
	}
	for _, tt := range tests {
		evs, err := bus.UsageEvents(tt.subject, tt.data)
		if err != nil {
			t.Errorf("%s: %v", tt.subject, err)
			continue
		}
		var got []string
		for _, ev := range evs {
			got = append(got, ev.GetId())
		}
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("%s: ids %v, want %v", tt.subject, got, tt.want)
		}
	}
	if _, err := bus.UsageEvents(bus.UsageSubject("acme"), []byte{0xff, 0xff}); err == nil {
		t.Error("garbage decoded without an error")
	}
}

func TestPublisherWithOrigin(t *testing.T) {
	t.Parallel()
	_, js := natstest.Start(t)
	ctx := context.Background()
	if err := bus.DeclareStreams(ctx, js); err != nil {
		t.Fatal(err)
	}
	plain := bus.NewPublisher(js)
	named := plain.WithOrigin("router-7")
	for i, p := range []*bus.Publisher{plain, named} {
		ev := &keelv1.UsageEvent{Id: "u" + string(rune('0'+i))}
		if _, err := p.Publish(ctx, bus.UsageSubject("acme"), ev.GetId(), "acme", ev); err != nil {
			t.Fatal(err)
		}
	}
	stream, err := js.Stream(ctx, bus.StreamUsage)
	if err != nil {
		t.Fatal(err)
	}
	for seq, want := range map[uint64]string{1: "", 2: "router-7"} {
		msg, err := stream.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if got := msg.Header.Get(bus.HeaderOrigin); got != want {
			t.Errorf("message %d origin %q, want %q", seq, got, want)
		}
	}
}
