package routing

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/keelhq/keel/pkg/bus"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/router/internal/provider"
)

// Audit actions of the router.
const (
	ActionGenerated = "model.generated"
	ActionFailed    = "model.failed"
)

// actor is the audit actor of the router's events.
const actor = "router"

// Record describes one routed call, successful or not. It never holds the
// text of the request or the reply.
type Record struct {
	// ID identifies the call's usage event (and, prefixed, its audit
	// event), so that publishing it again is de-duplicated; a new one is
	// made when empty.
	ID           string
	Tenant       string
	UseCase      string
	Route        string
	Provider     string
	Model        string
	Usage        provider.Usage
	CostMicros   int64
	Latency      time.Duration
	FinishReason provider.FinishReason
	Citations    int
	Attempts     int
	// Degraded is set when the reply was the route's fallback.
	Degraded bool
	// Cached is set for an answer from the response cache, Shadow for a
	// shadow call.
	Cached, Shadow bool
	// Template and TemplateVersion name the prompt template version used.
	Template        string
	TemplateVersion int
	// Repaired is set when the reply matched the response schema only
	// after a repair attempt.
	Repaired bool
	// Subject is what the call belongs to (a workflow or event id); empty
	// when the caller did not say.
	Subject string
	// Err is the call's error; nil for a successful call.
	Err error
	// At is when the call ended; the time of publishing when zero.
	At time.Time
	// Reserved is set when the call took from the tenant's and route's
	// limits (other replicas count it against theirs).
	Reserved bool
}

// Recorder receives a Record for every routed call.
type Recorder interface {
	Record(ctx context.Context, rec Record) error
}

// queuer is a Recorder that can take a record without waiting (an Outbox
// with room): most calls are then recorded without a context and timer of
// their own.
type queuer interface {
	TryRecord(rec Record) bool
}

// Publisher is the part of bus.Publisher a BusRecorder needs.
type Publisher interface {
	Publish(ctx context.Context, subject, msgID, tenantID string, m proto.Message) (bool, error)
}

// BusRecorder publishes a keelv1.UsageEvent on keel.usage.<tenant> for
// every call, carrying the call's audit event (model.generated or
// model.failed), which the audit service appends to the tenant's chain: one
// message per call.
type BusRecorder struct {
	pub      Publisher
	instance string
	now      func() time.Time
	newID    func() string
}

// NewBusRecorder returns a BusRecorder publishing through pub. instance
// names this router process in every event (see Router.FollowUsage).
func NewBusRecorder(pub Publisher, instance string) *BusRecorder {
	return &BusRecorder{pub: pub, instance: instance, now: time.Now, newID: bus.NewID}
}

// Record publishes the usage event of rec, which carries its audit event,
// and waits until the stream has it. A record without a tenant is refused,
// because every event must belong to one.
func (b *BusRecorder) Record(ctx context.Context, rec Record) error {
	usage, err := b.events(rec)
	if err != nil {
		return err
	}
	if _, err := b.pub.Publish(ctx, bus.UsageSubject(rec.Tenant), usage.GetId(), rec.Tenant, usage); err != nil {
		return fmt.Errorf("publish usage: %w", err)
	}
	return nil
}

// AsyncPublisher is a Publisher that can also publish without waiting for
// each acknowledgement; *bus.Publisher is one.
type AsyncPublisher interface {
	Publisher
	PublishAsync(ctx context.Context, subject, msgID, tenantID string, m proto.Message) (jetstream.PubAckFuture, error)
}

// Bounds of one published UsageBatch: well under the server's default
// 1 MiB message limit, and few enough events that a redelivery after a
// consumer failure repeats little work.
const (
	maxEventsPerMessage = 128
	maxBytesPerMessage  = 256 << 10
)

// RecordBatch publishes the usage events of recs, grouped by tenant into
// UsageBatch messages on keel.usage.<tenant>.batch (one event alone goes as
// a UsageEvent on keel.usage.<tenant>), with the writes and
// acknowledgements overlapping. It returns the records whose message did
// not reach the stream, in their order, for the caller to try again with
// RecordBatch: the same records make the same messages under the same
// ids, so the stream drops a message that did arrive although it was
// reported lost. Without an AsyncPublisher it records one by one.
func (b *BusRecorder) RecordBatch(ctx context.Context, recs []Record) []Record {
	async, ok := b.pub.(AsyncPublisher)
	if !ok {
		var failed []Record
		for _, rec := range recs {
			if b.Record(ctx, rec) != nil {
				failed = append(failed, rec)
			}
		}
		return failed
	}

	type pending struct {
		recs   []Record
		future jetstream.PubAckFuture
		err    error
	}
	var all []pending
	publish := func(tenant string, recs []Record, events []*keelv1.UsageEvent) {
		p := pending{recs: recs}
		if len(events) == 1 {
			p.future, p.err = async.PublishAsync(ctx, bus.UsageSubject(tenant), events[0].GetId(), tenant, events[0])
		} else {
			// The id is fixed by the batch's content, so that the outbox
			// publishing the same batch again is de-duplicated too.
			id := "batch-" + events[0].GetId() + "-" + strconv.Itoa(len(events))
			p.future, p.err = async.PublishAsync(ctx, bus.UsageBatchSubject(tenant), id, tenant,
				&keelv1.UsageBatch{Events: events})
		}
		all = append(all, p)
	}

	var failed []Record
	for tenant, group := range byTenant(recs) {
		var (
			events []*keelv1.UsageEvent
			first  int
			size   int
		)
		for i, rec := range group {
			usage, err := b.events(rec)
			if err != nil {
				failed = append(failed, rec)
				continue
			}
			n := proto.Size(usage)
			if len(events) > 0 && (len(events) == maxEventsPerMessage || size+n > maxBytesPerMessage) {
				publish(tenant, group[first:i], events)
				events, first, size = nil, i, 0
			}
			events = append(events, usage)
			size += n
		}
		if len(events) > 0 {
			publish(tenant, group[first:], events)
		}
	}

	for _, p := range all {
		ok := p.err == nil
		if ok {
			select {
			case <-p.future.Ok():
			case <-p.future.Err():
				ok = false
			case <-ctx.Done():
				ok = false
			}
		}
		if !ok {
			failed = append(failed, p.recs...)
		}
	}
	return failed
}

// byTenant groups recs by tenant, keeping their order within a tenant.
func byTenant(recs []Record) map[string][]Record {
	if len(recs) > 0 && !slices.ContainsFunc(recs, func(r Record) bool { return r.Tenant != recs[0].Tenant }) {
		// One tenant, the usual batch: no copies of the records.
		return map[string][]Record{recs[0].Tenant: recs}
	}
	groups := make(map[string][]Record, 1)
	for _, rec := range recs {
		groups[rec.Tenant] = append(groups[rec.Tenant], rec)
	}
	return groups
}

// events returns the usage event of rec with its audit event inside.
func (b *BusRecorder) events(rec Record) (*keelv1.UsageEvent, error) {
	if rec.Tenant == "" {
		return nil, errors.New("record model call: no tenant")
	}
	id := rec.ID
	if id == "" {
		id = b.newID()
	}
	at := rec.At
	if at.IsZero() {
		at = b.now()
	}
	now := timestamppb.New(at)
	usage := &keelv1.UsageEvent{
		Id:                id,
		TenantId:          rec.Tenant,
		UseCase:           rec.UseCase,
		Route:             rec.Route,
		Provider:          rec.Provider,
		Model:             rec.Model,
		InputTokens:       rec.Usage.InputTokens,
		OutputTokens:      rec.Usage.OutputTokens,
		CachedInputTokens: rec.Usage.CachedInputTokens,
		CacheWriteTokens:  rec.Usage.CacheWriteTokens,
		Estimated:         rec.Usage.Estimated,
		CostMicros:        rec.CostMicros,
		LatencyMs:         rec.Latency.Milliseconds(),
		OccurredAt:        now,
		Degraded:          rec.Degraded,
		Cached:            rec.Cached,
		Shadow:            rec.Shadow,
		Template:          rec.Template,
		TemplateVersion:   int32(min(rec.TemplateVersion, math.MaxInt32)),
		Attempts:          int32(min(rec.Attempts, math.MaxInt32)),
		RouterInstance:    b.instance,
		FinishReason:      string(rec.FinishReason),
		Citations:         int32(min(rec.Citations, math.MaxInt32)),
		SchemaRepaired:    rec.Repaired,
		Reserved:          rec.Reserved,
	}
	action := ActionGenerated
	if rec.Err != nil {
		usage.ErrorClass = ErrorClass(rec.Err)
		action = ActionFailed
	}
	// The audit record's attributes are this event's fields, which the
	// audit service adds when it appends the record: sent once, not twice.
	subject := rec.Subject
	if subject == "" {
		subject = "usage:" + id
	}
	usage.Audit = &keelv1.AuditEvent{
		Id:         "audit-" + id,
		TenantId:   rec.Tenant,
		Actor:      actor,
		Action:     action,
		Subject:    subject,
		OccurredAt: now,
	}
	return usage, nil
}

// ErrorClass names the class of a failed call's error, as usage events,
// logs and degraded answers give it: a provider class ("rate_limited",
// "timeout", ...), or "limit", "no_route", "no_healthy_candidate",
// "schema_mismatch", "output_truncated" or "request_rejected" for the
// router's own refusals. A deadline that passed while the call waited (for
// capacity, say) is a timeout; a caller that hung up or stopped taking the
// reply, "cancelled".
func ErrorClass(err error) string {
	switch {
	case errors.Is(err, ErrLimited):
		return "limit"
	case errors.Is(err, ErrRouteNotFound):
		return "no_route"
	case errors.Is(err, ErrNoHealthyCandidate):
		return "no_healthy_candidate"
	case errors.Is(err, ErrSchemaMismatch):
		return "schema_mismatch"
	case errors.Is(err, ErrOutputTruncated):
		return "output_truncated"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled), errors.As(err, new(*callerGoneError)):
		return "cancelled"
	}
	return provider.ClassName(err)
}
