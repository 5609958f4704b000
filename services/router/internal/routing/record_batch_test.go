package routing

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/natstest"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

// streamed is one message read back from the USAGE stream.
type streamed struct {
	subject string
	ids     []string
}

// readUsage returns every message in the USAGE stream.
func readUsage(t *testing.T, js jetstream.JetStream) []streamed {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := js.Stream(ctx, bus.StreamUsage)
	if err != nil {
		t.Fatalf("usage stream: %v", err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	var out []streamed
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		msg, err := stream.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("get message %d: %v", seq, err)
		}
		s := streamed{subject: msg.Subject}
		if bus.SubjectKind(msg.Subject) == bus.KindBatch {
			var batch keelv1.UsageBatch
			if err := proto.Unmarshal(msg.Data, &batch); err != nil {
				t.Fatalf("message %d: %v", seq, err)
			}
			for _, ev := range batch.GetEvents() {
				s.ids = append(s.ids, ev.GetId())
			}
		} else {
			var ev keelv1.UsageEvent
			if err := proto.Unmarshal(msg.Data, &ev); err != nil {
				t.Fatalf("message %d: %v", seq, err)
			}
			s.ids = []string{ev.GetId()}
		}
		out = append(out, s)
	}
	return out
}

func TestBusRecorderBatchesOnTheStream(t *testing.T) {
	t.Parallel()
	_, js := natstest.Start(t)
	ctx := context.Background()
	if err := bus.DeclareStreams(ctx, js); err != nil {
		t.Fatalf("declare streams: %v", err)
	}
	rec := NewBusRecorder(bus.NewPublisher(js), "router-1")

	var recs []Record
	for i := range maxEventsPerMessage + 2 {
		recs = append(recs, Record{ID: fmt.Sprintf("acme-%03d", i), Tenant: "acme", Route: "chat"})
	}
	recs = slices.Insert(recs, 5, Record{ID: "globex-1", Tenant: "globex", Route: "chat"})
	recs = append(recs, Record{ID: "nobody", Route: "chat"})

	failed := rec.RecordBatch(ctx, recs)
	if len(failed) != 1 || failed[0].ID != "nobody" {
		t.Fatalf("failed = %+v, want only the record without a tenant", failed)
	}

	got := readUsage(t, js)
	slices.SortFunc(got, func(a, b streamed) int { return len(b.ids) - len(a.ids) })
	var acme []string
	for i := range maxEventsPerMessage + 2 {
		acme = append(acme, fmt.Sprintf("acme-%03d", i))
	}
	want := []streamed{
		// A tenant's events share messages of at most maxEventsPerMessage,
		// in the order they were recorded; one event alone goes as a plain
		// UsageEvent.
		{subject: "keel.usage.acme.batch", ids: acme[:maxEventsPerMessage]},
		{subject: "keel.usage.acme.batch", ids: acme[maxEventsPerMessage:]},
		{subject: "keel.usage.globex", ids: []string{"globex-1"}},
	}
	if len(got) != len(want) {
		t.Fatalf("stream holds %d messages (%+v), want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i].subject != want[i].subject || !slices.Equal(got[i].ids, want[i].ids) {
			t.Errorf("message %d: %s %v, want %s %v", i, got[i].subject, got[i].ids, want[i].subject, want[i].ids)
		}
	}

	// Publishing the same records again (an outbox retry) adds nothing: a
	// batch's message id follows from its events.
	if failed := rec.RecordBatch(ctx, recs[:len(recs)-1]); len(failed) != 0 {
		t.Fatalf("second publish failed %d records", len(failed))
	}
	if again := readUsage(t, js); len(again) != len(want) {
		t.Errorf("stream holds %d messages after the retry, want still %d", len(again), len(want))
	}
}

// A worker that lingers publishes what arrived meanwhile with the first
// record, and Close does not wait for the linger to end.
func TestOutboxLingers(t *testing.T) {
	t.Parallel()

	next := &batchRecorder{}
	o := NewOutbox(next, OutboxConfig{Size: 100, Workers: 1, Linger: time.Hour})
	for i := range 5 {
		if err := o.Record(context.Background(), Record{Tenant: fmt.Sprintf("t%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	o.Close()
	next.mu.Lock()
	defer next.mu.Unlock()
	if len(next.batches) != 1 || len(next.batches[0]) != 5 {
		var sizes []int
		for _, b := range next.batches {
			sizes = append(sizes, len(b))
		}
		t.Errorf("batch sizes %v, want one batch of 5", sizes)
	}

	// A short linger ends by itself.
	next = &batchRecorder{}
	o = NewOutbox(next, OutboxConfig{Size: 100, Workers: 1, Linger: time.Millisecond})
	defer o.Close()
	if err := o.Record(context.Background(), Record{Tenant: "alone"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		next.mu.Lock()
		n := len(next.batches)
		next.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a lone record was not published after its linger")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
