package service

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/keelhq/keel/pkg/bus"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/ingest/internal/intake"
	"github.com/keelhq/keel/services/ingest/internal/vault"
	"github.com/keelhq/keel/services/ingest/redact"
)

// Audit actions of the ingest service.
const (
	actionEventRedacted = "event.redacted"
	actionEventRejected = "event.rejected"
	actionTextRedacted  = "text.redacted"
	actionTextRestored  = "text.restored"
)

// pipeline holds what every step of the service needs; the consumer and
// both gRPC servers share it.
type pipeline struct {
	validator *intake.Validator
	redactor  *redact.Redactor
	rules     *intake.Rules
	vault     *vault.Vault
	publisher *bus.Publisher
	vaultTTL  time.Duration
	logger    *slog.Logger
}

// handleIngestEvent validates, redacts, vaults and republishes one raw
// event. Every step is idempotent on the event id, so a redelivery after a
// partial failure repeats them harmlessly. An invalid event is a permanent
// error: it goes to the dead-letter subject with the reason.
func (p *pipeline) handleIngestEvent(ctx context.Context, d bus.Delivery[*keelv1.IngestEvent]) error {
	ev := d.Msg
	log := p.logger.With("tenant", d.Tenant, "subject", d.Subject, "doc_id", printableID(ev.GetEventId()))

	if err := p.validator.Validate(ev, d.Tenant, bus.SubjectKind(d.Subject)); err != nil {
		p.auditRejected(ctx, d.Tenant, ev, err, log)
		return bus.Permanent(err)
	}

	x, err := intake.Expand(ev, p.validator.MaxBodyBytes())
	if err != nil {
		p.auditRejected(ctx, d.Tenant, ev, err, log)
		return bus.Permanent(err)
	}
	if len(x.Warnings) > 0 {
		log.Info("raw content decoded with warnings", "warnings", x.Warnings)
	}

	red := intake.RedactEvent(ctx, p.redactor, p.rules.For(d.Tenant), x.Input)
	if red.ModelErr != nil {
		log.Warn("entity model failed; redacted with the built-in recognisers alone", "error", red.ModelErr)
	}
	out := red.Event
	out.TenantId = d.Tenant
	out.VaultRef = ev.GetEventId()

	err = p.vault.Put(ctx, d.Tenant, out.VaultRef, eventContent(ev), red.Originals, p.vaultTTL)
	if errors.Is(err, vault.ErrRefConflict) {
		// Two upstream events share an id. The first keeps it; the second
		// is refused rather than mixed up with it.
		err = fmt.Errorf("event id %q is already used by a different event", printableID(ev.GetEventId()))
		p.auditRejected(ctx, d.Tenant, ev, err, log)
		return bus.Permanent(err)
	}
	if err != nil {
		return fmt.Errorf("store originals: %w", err)
	}
	subject := bus.RedactedSubject(d.Tenant, out.GetKind())
	if _, err := p.publisher.Publish(ctx, subject, out.GetEventId(), d.Tenant, out); err != nil {
		return fmt.Errorf("publish redacted event: %w", err)
	}

	attrs := map[string]string{
		"kind":        out.GetKind(),
		"sensitivity": out.GetSensitivity(),
		"vault_ref":   out.GetVaultRef(),
	}
	addEntityCounts(attrs, red.Counts)
	if err := p.audit(ctx, d.Tenant, actionEventRedacted, out.GetEventId(), attrs); err != nil {
		return err
	}
	log.Debug("event redacted", "kind", out.GetKind(), "sensitivity", out.GetSensitivity())
	return nil
}

// eventContent encodes what identifies an event's content, each field
// prefixed by its length, for the vault to tell a redelivery from a
// different event under the same id.
func eventContent(ev *keelv1.IngestEvent) []byte {
	var b []byte
	for _, f := range []string{
		ev.GetKind(), ev.GetSubject(), ev.GetTitle(), ev.GetBody(),
		ev.GetCustomer().GetEmail(), ev.GetCustomer().GetName(), ev.GetCustomer().GetAccountId(),
		ev.GetContentType(), string(ev.GetRaw()),
	} {
		b = binary.BigEndian.AppendUint64(b, uint64(len(f)))
		b = append(b, f...)
	}
	return b
}

// auditRejected records that an event was refused. The record is best
// effort: the dead letter already keeps the event and the reason.
func (p *pipeline) auditRejected(ctx context.Context, tenantID string, ev *keelv1.IngestEvent, cause error, log *slog.Logger) {
	attrs := map[string]string{"reason": cause.Error()}
	if k := ev.GetKind(); intake.ValidKind(k) {
		attrs["kind"] = k
	}
	if err := p.audit(ctx, tenantID, actionEventRejected, printableID(ev.GetEventId()), attrs); err != nil {
		log.Warn("audit of rejected event failed; the dead letter keeps the reason", "error", err)
	}
}

// audit publishes one audit record of this service. The id is derived from
// the action and subject when there is a subject, so that a retried step is
// recorded once.
func (p *pipeline) audit(ctx context.Context, tenantID, action, subject string, attrs map[string]string) error {
	ev := &keelv1.AuditEvent{
		TenantId:   tenantID,
		Actor:      Name,
		Action:     action,
		Subject:    subject,
		Attributes: attrs,
	}
	if subject != "" && (action == actionEventRedacted || action == actionEventRejected) {
		ev.Id = stableID(tenantID, action, subject)
	}
	if err := p.publisher.Audit(ctx, ev); err != nil {
		return fmt.Errorf("publish audit %s: %w", action, err)
	}
	return nil
}

// addEntityCounts adds one "entities.<TYPE>" attribute per entity type and
// their total; counts only, never values.
func addEntityCounts(attrs map[string]string, counts map[redact.Type]int) {
	total := 0
	for t, n := range counts {
		attrs["entities."+string(t)] = strconv.Itoa(n)
		total += n
	}
	attrs["entities_total"] = strconv.Itoa(total)
}

// stableID derives an id from its parts, for records that must be the same
// on every retry.
func stableID(parts ...string) string {
	h := sha256.New()
	for _, part := range parts {
		fmt.Fprintf(h, "%d:%s|", len(part), part)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// printableID returns id when it is a usable event id, else "": logs and
// audit records must not carry invalid UTF-8 or control characters.
func printableID(id string) string {
	if !intake.ValidEventID(id) {
		return ""
	}
	return id
}
