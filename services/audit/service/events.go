package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"time"

	"github.com/keelhq/keel/pkg/bus"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/audit/internal/auditlog"
	"github.com/keelhq/keel/services/audit/internal/usage"
)

// ErrTenantMismatch is returned, marked permanent, for an event whose
// tenant_id names another tenant than the subject it arrived on.
var ErrTenantMismatch = errors.New("event tenant_id does not match the subject tenant")

// eventHandlers store the events the consumers deliver. Their errors follow
// pkg/bus: permanent ones dead-letter the event, others have it redelivered
// later, which is what happens while Postgres is away (the stream keeps the
// event meanwhile, so nothing is lost).
type eventHandlers struct {
	chain  *auditlog.Log
	ledger *usage.Ledger
	// now stamps events that arrive without a time.
	now    func() time.Time
	logger *slog.Logger
}

// appendAuditEvent appends the delivered event to its tenant's chain.
func (h *eventHandlers) appendAuditEvent(ctx context.Context, d bus.Delivery[*keelv1.AuditEvent]) error {
	ev := d.Msg
	if err := checkTenant(ev.GetTenantId(), d.Tenant); err != nil {
		return bus.Permanent(err)
	}

	rc, err := h.chain.Append(ctx, d.Tenant, h.entryFromEvent(ev, d.MsgID))
	if errors.Is(err, auditlog.ErrInvalidEntry) {
		return bus.Permanent(err)
	}
	if err != nil {
		return err
	}
	h.logger.DebugContext(ctx, "audit record appended", "tenant", d.Tenant, "subject", d.Subject,
		"seq", rc.Seq, "duplicate", rc.Duplicate)
	return nil
}

// recordUsageEvent adds the delivered event to its tenant's usage ledger,
// and appends the audit event it carries (the model call's record) to the
// tenant's chain first. Both are idempotent on their ids, so a redelivery
// after a failure between the two writes counts each once.
func (h *eventHandlers) recordUsageEvent(ctx context.Context, d bus.Delivery[*keelv1.UsageEvent]) error {
	return h.recordUsage(ctx, d.Tenant, d.Msg, d.MsgID)
}

// recordUsageBatch records each event of a delivered batch as
// recordUsageEvent records one. An event that can never be recorded does not
// hold up the others: they are recorded first, then the batch is
// dead-lettered with the reasons, and replaying it counts the recorded ones
// once. Any other failure has the whole batch redelivered, which is safe for
// the same reason.
func (h *eventHandlers) recordUsageBatch(ctx context.Context, d bus.Delivery[*keelv1.UsageBatch]) error {
	var rejected []error
	for i, ev := range d.Msg.GetEvents() {
		// An event without an id is still counted once per batch message.
		err := h.recordUsage(ctx, d.Tenant, ev, d.MsgID+"/"+strconv.Itoa(i))
		switch {
		case bus.IsPermanent(err):
			rejected = append(rejected, fmt.Errorf("event %d (%q): %w", i, ev.GetId(), err))
		case err != nil:
			return err
		}
	}
	if len(rejected) > 0 {
		return bus.Permanent(errors.Join(rejected...))
	}
	return nil
}

// recordUsage records ev, delivered under msgID on one of tenant's
// subjects. Errors that redelivery cannot mend are marked permanent.
func (h *eventHandlers) recordUsage(ctx context.Context, tenant string, ev *keelv1.UsageEvent, msgID string) error {
	if err := checkTenant(ev.GetTenantId(), tenant); err != nil {
		return bus.Permanent(err)
	}
	if a := ev.GetAudit(); a != nil {
		if err := checkTenant(a.GetTenantId(), tenant); err != nil {
			return bus.Permanent(err)
		}
		entry := h.entryFromEvent(a, "audit-"+firstNonEmpty(ev.GetId(), msgID))
		entry.Attributes = modelCallAttributes(ev, firstNonEmpty(ev.GetId(), msgID), a.GetAttributes())
		rc, err := h.chain.Append(ctx, tenant, entry)
		if errors.Is(err, auditlog.ErrInvalidEntry) {
			return bus.Permanent(err)
		}
		if err != nil {
			return err
		}
		h.logger.DebugContext(ctx, "audit record of a model call appended", "tenant", tenant,
			"seq", rc.Seq, "duplicate", rc.Duplicate)
	}

	added, err := h.ledger.Add(ctx, tenant, h.usageFromEvent(ev, msgID))
	if errors.Is(err, usage.ErrInvalidRecord) {
		return bus.Permanent(err)
	}
	if err != nil {
		return err
	}
	h.logger.DebugContext(ctx, "usage recorded", "tenant", tenant,
		"route", ev.GetRoute(), "provider", ev.GetProvider(), "duplicate", !added)
	return nil
}

// modelCallAttributes are the attributes of the audit record of the model
// call ev describes: what the call was (use case, route, latency, template,
// whether cached, shadow or repaired) and, when it succeeded, who answered
// and what it used (provider, model, tokens, cost, finish reason,
// citations, attempts, estimated, degraded), or the class of its error;
// usage_id links the record to the usage ledger. Attributes given with the
// audit event (given) are kept and win.
func modelCallAttributes(ev *keelv1.UsageEvent, usageID string, given map[string]string) map[string]string {
	attrs := make(map[string]string, 16+len(given))
	attrs["use_case"] = ev.GetUseCase()
	attrs["route"] = ev.GetRoute()
	attrs["latency_ms"] = strconv.FormatInt(ev.GetLatencyMs(), 10)
	attrs["usage_id"] = usageID
	flag := func(key string, set bool) {
		if set {
			attrs[key] = "true"
		}
	}
	flag("shadow", ev.GetShadow())
	flag("cached", ev.GetCached())
	flag("schema_repaired", ev.GetSchemaRepaired())
	if ev.GetTemplate() != "" {
		attrs["template"] = ev.GetTemplate()
		attrs["template_version"] = strconv.Itoa(int(ev.GetTemplateVersion()))
	}
	if ev.GetErrorClass() != "" {
		attrs["error_class"] = ev.GetErrorClass()
	} else {
		attrs["provider"] = ev.GetProvider()
		attrs["model"] = ev.GetModel()
		attrs["input_tokens"] = strconv.FormatInt(ev.GetInputTokens(), 10)
		attrs["output_tokens"] = strconv.FormatInt(ev.GetOutputTokens(), 10)
		attrs["cost_micros"] = strconv.FormatInt(ev.GetCostMicros(), 10)
		attrs["finish_reason"] = ev.GetFinishReason()
		attrs["citations"] = strconv.Itoa(int(ev.GetCitations()))
		attrs["attempts"] = strconv.Itoa(int(ev.GetAttempts()))
		flag("usage_estimated", ev.GetEstimated())
		flag("degraded", ev.GetDegraded())
	}
	maps.Copy(attrs, given)
	return attrs
}

// checkTenant accepts an event whose tenant_id is empty or names the tenant
// of the subject it arrived on (which pkg/bus has checked against the
// Keel-Tenant header).
func checkTenant(eventTenant, deliveryTenant string) error {
	if eventTenant != "" && eventTenant != deliveryTenant {
		return fmt.Errorf("%w: tenant_id %q, subject tenant %q", ErrTenantMismatch, eventTenant, deliveryTenant)
	}
	return nil
}

// entryFromEvent converts ev. An event without an id takes its message id,
// so that redeliveries still count once; one without a time takes the
// current time.
func (h *eventHandlers) entryFromEvent(ev *keelv1.AuditEvent, msgID string) auditlog.Entry {
	return auditlog.Entry{
		ID:         firstNonEmpty(ev.GetId(), msgID),
		Actor:      ev.GetActor(),
		Action:     ev.GetAction(),
		Subject:    ev.GetSubject(),
		OccurredAt: h.timeOf(ev.GetOccurredAt().AsTime(), ev.GetOccurredAt() != nil),
		Attributes: ev.GetAttributes(),
	}
}

// usageFromEvent converts ev like entryFromEvent.
func (h *eventHandlers) usageFromEvent(ev *keelv1.UsageEvent, msgID string) usage.Record {
	return usage.Record{
		ID:           firstNonEmpty(ev.GetId(), msgID),
		UseCase:      ev.GetUseCase(),
		Route:        ev.GetRoute(),
		Provider:     ev.GetProvider(),
		Model:        ev.GetModel(),
		InputTokens:  ev.GetInputTokens(),
		OutputTokens: ev.GetOutputTokens(),
		CostMicros:   ev.GetCostMicros(),
		LatencyMS:    ev.GetLatencyMs(),
		OccurredAt:   h.timeOf(ev.GetOccurredAt().AsTime(), ev.GetOccurredAt() != nil),
	}
}

// timeOf returns t when the event set it, else the current time.
func (h *eventHandlers) timeOf(t time.Time, set bool) time.Time {
	if !set {
		return h.now()
	}
	return t
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
