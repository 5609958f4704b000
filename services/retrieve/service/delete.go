package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/tenant"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

// Audit actions of deletions.
const (
	ActionDeleted = "document.deleted"
	ActionErased  = "subject.erased"
)

// MaxIDBytes bounds a document id or data subject in a delete request.
const MaxIDBytes = 1 << 10

// DeleteDocument removes a document of the caller's tenant from the store
// and the query cache, and publishes an empty batch for it on the CHUNKS
// stream, so that a replay of the stream to rebuild an index does not bring
// it back. It answers InvalidArgument without a document id.
//
// The chunks stay in the CHUNKS and REDACTED streams, redacted, until their
// age limit; erasing them there too is not built.
func (s *retrieverServer) DeleteDocument(ctx context.Context, req *keelv1.DeleteDocumentRequest) (*keelv1.DeleteDocumentResponse, error) {
	tenantID, err := tenant.Require(ctx)
	if err != nil {
		return nil, status.Error(codes.Unauthenticated, err.Error())
	}
	docID := req.GetDocId()
	if err := checkID("doc_id", docID); err != nil {
		return nil, err
	}
	chunks, err := s.deleteDocuments(ctx, tenantID, []string{docID})
	if err != nil {
		return nil, err
	}
	err = s.pub.Audit(ctx, &keelv1.AuditEvent{
		TenantId:   tenantID,
		Actor:      Name,
		Action:     ActionDeleted,
		Subject:    docID,
		Attributes: map[string]string{"chunks": strconv.Itoa(chunks)},
	})
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "audit %s: %v", ActionDeleted, err)
	}
	return &keelv1.DeleteDocumentResponse{Chunks: int64(chunks)}, nil
}

// DeleteSubject removes every document of the caller's tenant that names
// the data subject, as DeleteDocument does. The audit record holds a hash
// of the subject, not the subject itself. It answers InvalidArgument
// without a subject.
func (s *retrieverServer) DeleteSubject(ctx context.Context, req *keelv1.DeleteSubjectRequest) (*keelv1.DeleteSubjectResponse, error) {
	tenantID, err := tenant.Require(ctx)
	if err != nil {
		return nil, status.Error(codes.Unauthenticated, err.Error())
	}
	subject := req.GetSubject()
	if err := checkID("subject", subject); err != nil {
		return nil, err
	}
	docIDs, err := s.store.SubjectDocuments(ctx, tenantID, subject)
	if err != nil {
		return nil, storeStatus(err)
	}
	// The deletions are published before the store forgets the documents:
	// were it the other way round, a retry after a failed publish would no
	// longer find them and the stream would keep them for a rebuild.
	if err := s.publishDeletions(ctx, tenantID, docIDs); err != nil {
		return nil, err
	}
	if _, err := s.store.DeleteDocuments(ctx, tenantID, docIDs); err != nil {
		return nil, storeStatus(err)
	}
	digest := sha256.Sum256([]byte(tenantID + "\x00" + subject))
	err = s.pub.Audit(ctx, &keelv1.AuditEvent{
		TenantId:   tenantID,
		Actor:      Name,
		Action:     ActionErased,
		Subject:    "subject:" + hex.EncodeToString(digest[:16]),
		Attributes: map[string]string{"documents": strconv.Itoa(len(docIDs))},
	})
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "audit %s: %v", ActionErased, err)
	}
	return &keelv1.DeleteSubjectResponse{DocIds: docIDs}, nil
}

// deleteDocuments removes the documents from the store, which invalidates
// the tenant's query cache, then publishes their deletions. The store goes
// first so that the count of chunks removed is exact; a retry after a
// failed publish publishes the deletion again, as DeleteDocument does for
// any document id.
func (s *retrieverServer) deleteDocuments(ctx context.Context, tenantID string, docIDs []string) (int, error) {
	chunks, err := s.store.DeleteDocuments(ctx, tenantID, docIDs)
	if err != nil {
		return 0, storeStatus(err)
	}
	if err := s.publishDeletions(ctx, tenantID, docIDs); err != nil {
		return 0, err
	}
	return chunks, nil
}

// publishDeletions publishes an empty batch for each document on the
// CHUNKS stream, so that the deletion outlives a replay of the stream to
// rebuild an index and reaches every other index that consumes it.
func (s *retrieverServer) publishDeletions(ctx context.Context, tenantID string, docIDs []string) error {
	for _, docID := range docIDs {
		tombstone := &keelv1.ChunkBatch{TenantId: tenantID, DocId: docID}
		msgID := "deleted:" + docID + ":" + bus.NewID()
		if _, err := s.pub.Publish(ctx, bus.ChunksSubject(tenantID), msgID, tenantID, tombstone); err != nil {
			return status.Errorf(codes.Unavailable, "publish the deletion of %s: %v", docID, err)
		}
	}
	return nil
}

// checkID answers InvalidArgument for an empty or overlong id.
func checkID(field, id string) error {
	switch {
	case id == "":
		return invalidArgument(field, "is required")
	case len(id) > MaxIDBytes:
		return invalidArgument(field, fmt.Sprintf("%d bytes, at most %d", len(id), MaxIDBytes))
	}
	return nil
}
