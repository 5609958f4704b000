package bus

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

// sameCounts fails t unless counts read data as UsageEvents decodes it,
// where UsageEvents decodes it at all.
func sameCounts(t *testing.T, subject string, data []byte) {
	t.Helper()
	events, err := UsageEvents(subject, data)
	prefix := []UsageCount{{CostMicros: -1}} // appended to, kept on an error
	counts, cerr := AppendUsageCounts(prefix, subject, data)
	if len(counts) < 1 || counts[0].CostMicros != -1 {
		t.Fatalf("AppendUsageCounts lost what dst held")
	}
	counts = counts[1:]
	if err != nil {
		if cerr == nil {
			// Allowed only when the refusal was inside an audit record,
			// which counts skip: without them, UsageEvents must agree.
			stripped, ok := withoutAudit(data, SubjectKind(subject) == KindBatch)
			if !ok {
				t.Fatalf("counted a message that is not even valid wire format (UsageEvents: %v)", err)
			}
			if _, err2 := UsageEvents(subject, stripped); err2 != nil {
				t.Fatalf("counted what UsageEvents refuses outside audit records: %v", err2)
			}
		}
		return
	}
	if cerr != nil {
		t.Fatalf("AppendUsageCounts: %v; UsageEvents decoded %d events", cerr, len(events))
	}
	if len(counts) != len(events) {
		t.Fatalf("%d counts, %d events", len(counts), len(events))
	}
	for i, ev := range events {
		c := counts[i]
		want := UsageCount{
			TenantID: []byte(ev.GetTenantId()), Route: []byte(ev.GetRoute()),
			RouterInstance: []byte(ev.GetRouterInstance()),
			InputTokens:    ev.GetInputTokens(), OutputTokens: ev.GetOutputTokens(),
			CostMicros: ev.GetCostMicros(), OccurredAt: ev.GetOccurredAt().AsTime(),
			Reserved: ev.GetReserved(), Cached: ev.GetCached(), Shadow: ev.GetShadow(),
		}
		if !bytes.Equal(c.TenantID, want.TenantID) || !bytes.Equal(c.Route, want.Route) ||
			!bytes.Equal(c.RouterInstance, want.RouterInstance) ||
			c.InputTokens != want.InputTokens || c.OutputTokens != want.OutputTokens ||
			c.CostMicros != want.CostMicros || !c.OccurredAt.Equal(want.OccurredAt) ||
			c.OccurredAt.Location() != want.OccurredAt.Location() ||
			c.Reserved != want.Reserved || c.Cached != want.Cached || c.Shadow != want.Shadow {
			t.Fatalf("event %d: counted %+v, UsageEvents says %+v", i, c, want)
		}
	}
}

func sampleEvent(i int) *keelv1.UsageEvent {
	return &keelv1.UsageEvent{
		Id: "u-1", TenantId: "acme", UseCase: "support_reply", Route: "gpt-4o-mini",
		Provider: "mock", Model: "gpt-4o-mini", InputTokens: 12 + int64(i), OutputTokens: 3,
		CostMicros: 1800 * int64(i+1), LatencyMs: 4,
		OccurredAt: timestamppb.New(time.Date(2026, 12, 5, 12, 0, i, 123456789, time.UTC)),
		Attempts:   1, Reserved: true, RouterInstance: "r-1", FinishReason: "stop",
		Audit: &keelv1.AuditEvent{Action: "model.generated", Attributes: map[string]string{"k": "v"}},
	}
}

func TestUsageCountsAsUsageEvents(t *testing.T) {
	batch := &keelv1.UsageBatch{Events: []*keelv1.UsageEvent{sampleEvent(0), sampleEvent(1), sampleEvent(2)}}
	batch.Events[1].Shadow, batch.Events[1].Cached, batch.Events[1].Reserved = true, true, false
	batch.Events[2].OccurredAt = nil
	batch.Events[2].CostMicros = -5
	batch.Events[2].InputTokens = math.MaxInt64
	data, err := proto.Marshal(batch)
	if err != nil {
		t.Fatal(err)
	}
	sameCounts(t, UsageBatchSubject("acme"), data)
	one, _ := proto.Marshal(sampleEvent(7))
	sameCounts(t, UsageSubject("acme"), one)

	// Proto's own rules: the last of a repeated scalar wins, a message met
	// twice merges, a field of the wrong wire type is an unknown field.
	var odd []byte
	odd = protowire.AppendTag(odd, fieldCostMicros, protowire.VarintType)
	odd = protowire.AppendVarint(odd, 5)
	odd = protowire.AppendTag(odd, fieldCostMicros, protowire.VarintType)
	odd = protowire.AppendVarint(odd, 7)
	odd = protowire.AppendTag(odd, fieldOutputTokens, protowire.Fixed64Type)
	odd = protowire.AppendFixed64(odd, 99)
	odd = protowire.AppendTag(odd, fieldRoute, protowire.VarintType)
	odd = protowire.AppendVarint(odd, 1)
	ts := func(num protowire.Number, v uint64) []byte {
		var b []byte
		b = protowire.AppendTag(b, num, protowire.VarintType)
		return protowire.AppendVarint(b, v)
	}
	odd = protowire.AppendTag(odd, fieldOccurredAt, protowire.BytesType)
	odd = protowire.AppendBytes(odd, ts(fieldSeconds, 1_800_000_000))
	odd = protowire.AppendTag(odd, fieldOccurredAt, protowire.BytesType)
	odd = protowire.AppendBytes(odd, ts(fieldNanos, 42))
	odd = protowire.AppendTag(odd, 999, protowire.StartGroupType)
	odd = protowire.AppendTag(odd, 999, protowire.EndGroupType)
	odd = protowire.AppendTag(odd, fieldReserved, protowire.VarintType)
	odd = protowire.AppendVarint(odd, 2)
	sameCounts(t, UsageSubject("acme"), odd)
	counts, err := AppendUsageCounts(nil, UsageSubject("acme"), odd)
	if err != nil || len(counts) != 1 || counts[0].CostMicros != 7 ||
		!counts[0].OccurredAt.Equal(time.Unix(1_800_000_000, 42)) || !counts[0].Reserved {
		t.Fatalf("odd but valid event counted %+v, %v", counts, err)
	}

	// Refused as UsageEvents refuses: cut short, a string not UTF-8.
	if _, err := AppendUsageCounts(nil, UsageBatchSubject("acme"), data[:len(data)-3]); err == nil {
		t.Error("a batch cut short was counted")
	}
	bad, _ := proto.Marshal(sampleEvent(0))
	bad = protowire.AppendTag(bad, fieldModel, protowire.BytesType)
	bad = protowire.AppendBytes(bad, []byte{0xff, 'x'})
	if _, err := AppendUsageCounts(nil, UsageSubject("acme"), bad); err == nil {
		t.Error("an event with a model name that is not UTF-8 was counted")
	}

	// A field number above protowire.MaxValidNumber, which protowire's
	// ConsumeTag reads but proto.Unmarshal refuses: in an event, in its
	// timestamp, in a batch.
	bigNum := func(b []byte) []byte {
		b = protowire.AppendTag(b, protowire.MaxValidNumber+1, protowire.VarintType)
		return protowire.AppendVarint(b, 1)
	}
	event, _ := proto.Marshal(sampleEvent(0))
	inTimestamp := protowire.AppendTag(append([]byte(nil), event...), fieldOccurredAt, protowire.BytesType)
	inTimestamp = protowire.AppendBytes(inTimestamp, bigNum(nil))
	inBatch := protowire.AppendTag(nil, fieldBatchEvents, protowire.BytesType)
	inBatch = protowire.AppendBytes(inBatch, event)
	for name, m := range map[string]struct {
		subject string
		data    []byte
	}{
		"event":          {UsageSubject("acme"), bigNum(append([]byte(nil), event...))},
		"timestamp":      {UsageSubject("acme"), inTimestamp},
		"batch":          {UsageBatchSubject("acme"), bigNum(append([]byte(nil), inBatch...))},
		"event in batch": {UsageBatchSubject("acme"), protowire.AppendBytes(protowire.AppendTag(nil, fieldBatchEvents, protowire.BytesType), bigNum(append([]byte(nil), event...)))},
	} {
		if _, err := UsageEvents(m.subject, m.data); err == nil {
			t.Fatalf("%s: UsageEvents took a field number above the largest", name)
		}
		if counts, err := AppendUsageCounts(nil, m.subject, m.data); err == nil {
			t.Errorf("%s: a field number above the largest was counted: %+v", name, counts)
		}
	}
}

// Reading a batch allocates nothing.
func TestUsageCountsAllocations(t *testing.T) {
	batch := &keelv1.UsageBatch{}
	for i := range 8 {
		batch.Events = append(batch.Events, sampleEvent(i))
	}
	data, _ := proto.Marshal(batch)
	dst := make([]UsageCount, 0, 16)
	subject := UsageBatchSubject("acme")
	if n := testing.AllocsPerRun(100, func() {
		var err error
		if dst, err = AppendUsageCounts(dst[:0], subject, data); err != nil || len(dst) != 8 {
			t.Fatal(len(dst), err)
		}
	}); n != 0 {
		t.Fatalf("%v allocations per batch read, want 0", n)
	}
}

func FuzzUsageCounts(f *testing.F) {
	batch := &keelv1.UsageBatch{Events: []*keelv1.UsageEvent{sampleEvent(0), sampleEvent(1)}}
	data, _ := proto.Marshal(batch)
	f.Add(data, true)
	one, _ := proto.Marshal(sampleEvent(3))
	f.Add(one, false)
	f.Add([]byte{0x0a, 0x02, 0x58, 0x01}, true)
	f.Fuzz(func(t *testing.T, data []byte, isBatch bool) {
		subject := UsageSubject("acme")
		if isBatch {
			subject = UsageBatchSubject("acme")
		}
		sameCounts(t, subject, data)
	})
}

// token reads a subject as strings.Split would.
func FuzzSubjectTokens(f *testing.F) {
	for _, s := range []string{"keel.usage.acme.batch", "keel.usage.acme", "keel..acme", "", ".", "keel.usage.", "a.b.c.d.e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, subject string) {
		parts := strings.Split(subject, ".")
		for i := range 6 {
			got, ok := token(subject, i)
			if want := i < len(parts); ok != want || (ok && got != parts[i]) {
				t.Fatalf("token(%q, %d) = %q, %v; Split gives %q", subject, i, got, ok, parts)
			}
		}
	})
}

// withoutAudit returns data with the audit record (field 22) of each
// event left out, or false when data is not valid wire format.
func withoutAudit(data []byte, batch bool) ([]byte, bool) {
	if !batch {
		return stripField(data, 22)
	}
	var out []byte
	ok := eachField(data, func(num protowire.Number, typ protowire.Type, field, value []byte) bool {
		if num != fieldBatchEvents || typ != protowire.BytesType {
			out = append(out, field...)
			return true
		}
		ev, _ := protowire.ConsumeBytes(value)
		stripped, ok := stripField(ev, 22)
		out = protowire.AppendBytes(protowire.AppendTag(out, num, typ), stripped)
		return ok
	})
	return out, ok
}

func stripField(data []byte, drop protowire.Number) ([]byte, bool) {
	var out []byte
	ok := eachField(data, func(num protowire.Number, _ protowire.Type, field, _ []byte) bool {
		if num != drop {
			out = append(out, field...)
		}
		return true
	})
	return out, ok
}

// eachField calls f with each field of data, whole and its value alone,
// and reports false when data is not valid wire format or f said so.
func eachField(data []byte, f func(num protowire.Number, typ protowire.Type, field, value []byte) bool) bool {
	for b := data; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 || !f(num, typ, b[:n+m], b[n:n+m]) {
			return false
		}
		b = b[n+m:]
	}
	return true
}
