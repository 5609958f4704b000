package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/keelhq/keel/pkg/bus"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/retrieve/internal/querycache"
	"github.com/keelhq/keel/services/retrieve/internal/store"
)

// ActionIndexed is the audit action of a document written to the index.
const ActionIndexed = "document.indexed"

// batchIndexer handles the chunk batches of the CHUNKS stream.
type batchIndexer struct {
	store  *indexWriter
	pub    *bus.Publisher
	logger *slog.Logger
}

// indexBatch replaces the batch's document in the index of the subject's
// tenant and records it in the audit log. A batch that can never be indexed
// is a permanent error; the bus dead-letters it.
// TODO: batches of one document that arrive out of order (a redelivered old
// version after a newer one) leave the older version indexed; ChunkBatch
// carries no version to compare.
func (b *batchIndexer) indexBatch(ctx context.Context, d bus.Delivery[*keelv1.ChunkBatch]) error {
	batch := d.Msg
	if batch.GetTenantId() != "" && batch.GetTenantId() != d.Tenant {
		return bus.Permanent(fmt.Errorf("batch tenant %q does not match subject tenant %q", batch.GetTenantId(), d.Tenant))
	}

	chunks := make([]store.Chunk, len(batch.GetChunks()))
	for i, c := range batch.GetChunks() {
		var created time.Time
		if c.GetCreatedAt() != nil {
			if err := c.GetCreatedAt().CheckValid(); err != nil {
				return bus.Permanent(fmt.Errorf("chunk %s: created_at: %w", c.GetChunkId(), err))
			}
			created = c.GetCreatedAt().AsTime()
		}
		chunks[i] = store.Chunk{
			ID:      c.GetChunkId(),
			DocID:   c.GetDocId(),
			Ordinal: int(c.GetOrdinal()),
			Title:   c.GetTitle(),
			Text:    c.GetText(),
			Kind:    c.GetKind(),
			Source:  c.GetSource(),
			ACL:     c.GetAcl(),
			Vector:  c.GetVector(),
			Model:   batch.GetEmbeddingModel(),
			Start:   int(c.GetStartOffset()),
			End:     int(c.GetEndOffset()),

			HeadingPath: c.GetHeadingPath(),
			Header:      c.GetHeader(),
			Quoted:      c.GetQuoted(),
			Tags:        c.GetTags(),
			Created:     created,
			Subjects:    c.GetDataSubjects(),
		}
	}
	err := b.store.Replace(ctx, d.Tenant, batch.GetDocId(), chunks)
	if errors.Is(err, store.ErrInvalidBatch) || errors.Is(err, store.ErrInvalidTenant) {
		return bus.Permanent(err)
	}
	if err != nil {
		return err
	}

	// The audit id derives from the batch's message id, so a redelivery
	// that audits again is ignored by the audit log.
	auditID := ""
	if d.MsgID != "" {
		auditID = Name + ":" + d.MsgID
	}
	err = b.pub.Audit(ctx, &keelv1.AuditEvent{
		Id:       auditID,
		TenantId: d.Tenant,
		Actor:    Name,
		Action:   ActionIndexed,
		Subject:  batch.GetDocId(),
		Attributes: map[string]string{
			"chunks": strconv.Itoa(len(chunks)),
			"model":  batch.GetEmbeddingModel(),
		},
	})
	if err != nil {
		return fmt.Errorf("audit %s: %w", ActionIndexed, err)
	}

	b.logger.Debug("document indexed", "tenant", d.Tenant, "doc_id", batch.GetDocId(), "chunks", len(chunks))
	return nil
}

// indexWriter is the one way the service changes the store: every change
// also invalidates the tenant's query cache, after the store has it, so
// that no answer from before the change is served once it returns.
type indexWriter struct {
	store.Backend
	cache *querycache.Cache
}

// Replace replaces a document in the store and invalidates the tenant's
// cached answers.
func (w *indexWriter) Replace(ctx context.Context, tenantID, docID string, chunks []store.Chunk) error {
	defer w.cache.Invalidate(tenantID)
	return w.Backend.Replace(ctx, tenantID, docID, chunks)
}

// DeleteDocuments removes documents from the store and invalidates the
// tenant's cached answers.
func (w *indexWriter) DeleteDocuments(ctx context.Context, tenantID string, docIDs []string) (int, error) {
	defer w.cache.Invalidate(tenantID)
	return w.Backend.DeleteDocuments(ctx, tenantID, docIDs)
}
