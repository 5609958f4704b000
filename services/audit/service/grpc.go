package service

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/keelhq/keel/pkg/tenant"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/audit/internal/auditlog"
)

// auditLogServer serves AuditLogService. The tenant always comes from the
// call's context, which grpcx fills from the caller's metadata; nothing in a
// request can name another tenant.
type auditLogServer struct {
	keelv1.UnimplementedAuditLogServiceServer
	chain  *auditlog.Log
	logger *slog.Logger
}

func newAuditLogServer(chain *auditlog.Log, logger *slog.Logger) *auditLogServer {
	return &auditLogServer{chain: chain, logger: logger}
}

// ListRecords returns the caller's records after req.AfterSeq, in seq order.
func (s *auditLogServer) ListRecords(
	ctx context.Context,
	req *keelv1.ListRecordsRequest,
) (*keelv1.ListRecordsResponse, error) {
	t, err := tenant.Require(ctx)
	if err != nil {
		return nil, status.Error(codes.Unauthenticated, err.Error())
	}
	if req.GetAfterSeq() < 0 || req.GetLimit() < 0 {
		return nil, status.Error(codes.InvalidArgument, "after_seq and limit must not be negative")
	}

	records, err := s.chain.List(ctx, t, req.GetSubject(), req.GetAfterSeq(), int(req.GetLimit()))
	if err != nil {
		return nil, s.storeError(ctx, t, "list audit records failed", err)
	}
	resp := &keelv1.ListRecordsResponse{Records: make([]*keelv1.AuditRecord, 0, len(records))}
	for _, r := range records {
		resp.Records = append(resp.Records, recordToProto(r))
	}
	return resp, nil
}

// VerifyChain walks the caller's chain and reports whether it is intact.
func (s *auditLogServer) VerifyChain(
	ctx context.Context,
	_ *keelv1.VerifyChainRequest,
) (*keelv1.VerifyChainResponse, error) {
	t, err := tenant.Require(ctx)
	if err != nil {
		return nil, status.Error(codes.Unauthenticated, err.Error())
	}

	v, err := s.chain.Verify(ctx, t)
	if err != nil {
		return nil, s.storeError(ctx, t, "verify audit chain failed", err)
	}
	if !v.Intact {
		s.logger.ErrorContext(ctx, "audit chain broken", "tenant", t,
			"first_broken_seq", v.FirstBrokenSeq, "reason", v.Reason)
	}
	return &keelv1.VerifyChainResponse{
		Intact:         v.Intact,
		Records:        v.Records,
		FirstBrokenSeq: v.FirstBrokenSeq,
		Reason:         v.Reason,
	}, nil
}

// storeError maps an error of the audit store to a gRPC status; the cause is
// logged, not sent to the caller.
func (s *auditLogServer) storeError(ctx context.Context, t, msg string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return status.FromContextError(err).Err()
	}
	s.logger.ErrorContext(ctx, msg, "tenant", t, "error", err)
	return status.Error(codes.Unavailable, "the audit store is unavailable")
}

func recordToProto(r auditlog.Record) *keelv1.AuditRecord {
	return &keelv1.AuditRecord{
		Seq:        r.Seq,
		Id:         r.ID,
		Actor:      r.Actor,
		Action:     r.Action,
		Subject:    r.Subject,
		OccurredAt: timestamppb.New(r.OccurredAt),
		Attributes: r.Attributes,
		PrevHash:   r.PrevHash,
		Hash:       r.Hash,
	}
}
