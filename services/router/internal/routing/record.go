package routing

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

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
	// Subject is what the call belongs to (a workflow or event id); empty
	// when the caller did not say.
	Subject string
	// Err is the call's error; nil for a successful call.
	Err error
}

// Recorder receives a Record for every routed call.
type Recorder interface {
	Record(ctx context.Context, rec Record) error
}

// Publisher is the part of bus.Publisher a BusRecorder needs.
type Publisher interface {
	Publish(ctx context.Context, subject, msgID, tenantID string, m proto.Message) (bool, error)
	Audit(ctx context.Context, ev *keelv1.AuditEvent) error
}

// BusRecorder publishes a keelv1.UsageEvent on keel.usage.<tenant> for
// every successful call and an audit event for every call: model.generated
// or model.failed.
type BusRecorder struct {
	pub   Publisher
	now   func() time.Time
	newID func() string
}

// NewBusRecorder returns a BusRecorder publishing through pub.
func NewBusRecorder(pub Publisher) *BusRecorder {
	return &BusRecorder{pub: pub, now: time.Now, newID: bus.NewID}
}

// Record publishes the events of rec. A record without a tenant is refused,
// because every event must belong to one.
func (b *BusRecorder) Record(ctx context.Context, rec Record) error {
	if rec.Tenant == "" {
		return errors.New("record model call: no tenant")
	}
	id := b.newID()
	now := timestamppb.New(b.now())

	attrs := map[string]string{
		"use_case":   rec.UseCase,
		"route":      rec.Route,
		"latency_ms": strconv.FormatInt(rec.Latency.Milliseconds(), 10),
	}
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
		Attempts:          int32(min(rec.Attempts, math.MaxInt32)),
	}
	if rec.Err != nil {
		usage.ErrorClass = errorClass(rec.Err)
	}
	if _, err := b.pub.Publish(ctx, bus.UsageSubject(rec.Tenant), id, rec.Tenant, usage); err != nil {
		return fmt.Errorf("publish usage: %w", err)
	}
	if rec.Err != nil {
		attrs["error_class"] = usage.ErrorClass
		return b.audit(ctx, rec, id, ActionFailed, attrs, now)
	}

	attrs["provider"] = rec.Provider
	attrs["model"] = rec.Model
	attrs["input_tokens"] = strconv.FormatInt(rec.Usage.InputTokens, 10)
	attrs["output_tokens"] = strconv.FormatInt(rec.Usage.OutputTokens, 10)
	attrs["cost_micros"] = strconv.FormatInt(rec.CostMicros, 10)
	attrs["finish_reason"] = string(rec.FinishReason)
	attrs["citations"] = strconv.Itoa(rec.Citations)
	attrs["attempts"] = strconv.Itoa(rec.Attempts)
	if rec.Usage.Estimated {
		attrs["usage_estimated"] = "true"
	}
	if rec.Degraded {
		attrs["degraded"] = "true"
	}
	return b.audit(ctx, rec, id, ActionGenerated, attrs, now)
}

// errorClass names the class of a failed call's error: a provider class, or
// "limit", "no_route" or "no_healthy_candidate".
func errorClass(err error) string {
	switch {
	case errors.Is(err, ErrLimited):
		return "limit"
	case errors.Is(err, ErrRouteNotFound):
		return "no_route"
	case errors.Is(err, ErrNoHealthyCandidate):
		return "no_healthy_candidate"
	}
	return provider.ClassName(err)
}

// audit publishes the audit event of a call. Its subject is what the call
// belongs to, else the usage event id; the usage id is always an attribute,
// which links the two records.
func (b *BusRecorder) audit(
	ctx context.Context,
	rec Record,
	id, action string,
	attrs map[string]string,
	at *timestamppb.Timestamp,
) error {
	subject := rec.Subject
	if subject == "" {
		subject = "usage:" + id
	}
	attrs["usage_id"] = id
	ev := &keelv1.AuditEvent{
		Id:         "audit-" + id,
		TenantId:   rec.Tenant,
		Actor:      actor,
		Action:     action,
		Subject:    subject,
		OccurredAt: at,
		Attributes: attrs,
	}
	if err := b.pub.Audit(ctx, ev); err != nil {
		return fmt.Errorf("publish audit event: %w", err)
	}
	return nil
}
