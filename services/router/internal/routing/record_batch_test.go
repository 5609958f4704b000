package routing

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/natstest"
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
		events, err := bus.UsageEvents(msg.Subject, msg.Data)
		if err != nil {
			t.Fatalf("message %d: %v", seq, err)
		}
		s := streamed{subject: msg.Subject}
		for _, ev := range events {
			s.ids = append(s.ids, ev.GetId())
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
