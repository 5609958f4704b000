package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/keelhq/keel/pkg/bus"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/embed/internal/document"
)

// ActionEmbedded is the audit action of a document turned into chunks.
const ActionEmbedded = "document.embedded"

// documentEmbedder handles the redacted documents of the REDACTED stream.
type documentEmbedder struct {
	builder *document.Builder
	pub     *bus.Publisher
	logger  *slog.Logger
}

// embedDocument publishes the ChunkBatch of one redacted document on
// keel.chunks.<tenant> and records it in the audit log. The message id is
// the document id with a hash of its content, so an unchanged document
// published again is dropped as a duplicate. A document that cannot ever be
// embedded is a permanent error; the bus dead-letters it.
func (h *documentEmbedder) embedDocument(ctx context.Context, d bus.Delivery[*keelv1.RedactedEvent]) error {
	ev := d.Msg
	if ev.GetTenantId() != "" && ev.GetTenantId() != d.Tenant {
		return bus.Permanent(fmt.Errorf("event tenant %q does not match subject tenant %q", ev.GetTenantId(), d.Tenant))
	}
	batch, err := h.builder.Build(ctx, d.Tenant, ev)
	if errors.Is(err, document.ErrNoDocumentID) || errors.Is(err, document.ErrTooManyChunks) {
		return bus.Permanent(err)
	}
	if err != nil {
		return err
	}

	msgID := document.MsgID(batch.GetDocId(), h.builder.ContentHash(ev))
	duplicate, err := h.pub.Publish(ctx, bus.ChunksSubject(d.Tenant), msgID, d.Tenant, batch)
	if err != nil {
		return err
	}

	// The audit id derives from the message id, so a redelivery that
	// publishes the audit event again is ignored by the audit log.
	err = h.pub.Audit(ctx, &keelv1.AuditEvent{
		Id:       Name + ":" + msgID,
		TenantId: d.Tenant,
		Actor:    Name,
		Action:   ActionEmbedded,
		Subject:  batch.GetDocId(),
		Attributes: map[string]string{
			"chunks":    strconv.Itoa(len(batch.GetChunks())),
			"model":     batch.GetEmbeddingModel(),
			"kind":      ev.GetKind(),
			"duplicate": strconv.FormatBool(duplicate),
		},
	})
	if err != nil {
		return fmt.Errorf("audit %s: %w", ActionEmbedded, err)
	}

	h.logger.Debug("document embedded", "tenant", d.Tenant, "doc_id", batch.GetDocId(),
		"chunks", len(batch.GetChunks()), "duplicate", duplicate)
	return nil
}
