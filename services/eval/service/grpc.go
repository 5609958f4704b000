package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/keelhq/keel/pkg/tenant"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/eval/internal/score"
)

// ActionEvaluated is the audit action of an evaluation.
const ActionEvaluated = "draft.evaluated"

// auditor publishes audit events; bus.Publisher is one.
type auditor interface {
	Audit(ctx context.Context, ev *keelv1.AuditEvent) error
}

// evaluatorServer implements keelv1.EvaluatorServiceServer.
type evaluatorServer struct {
	keelv1.UnimplementedEvaluatorServiceServer

	auditor auditor // nil: no audit events
	logger  *slog.Logger
}

// Size limits of an evaluation. The checks run regular expressions over
// every text, so an unbounded request would hold a shared service.
const (
	maxDraftBytes    = 64 << 10
	maxInputBytes    = 256 << 10
	maxPassages      = 50
	maxPassageBytes  = 32 << 10
	maxToolResults   = 20
	maxToolResultLen = 32 << 10
)

// checkSizes returns InvalidArgument naming the first limit req exceeds.
func checkSizes(req *keelv1.EvaluateRequest) error {
	switch {
	case len(req.GetDraft()) > maxDraftBytes:
		return status.Errorf(codes.InvalidArgument, "draft is %d bytes; the limit is %d", len(req.GetDraft()), maxDraftBytes)
	case len(req.GetInput()) > maxInputBytes:
		return status.Errorf(codes.InvalidArgument, "input is %d bytes; the limit is %d", len(req.GetInput()), maxInputBytes)
	case len(req.GetPassages()) > maxPassages:
		return status.Errorf(codes.InvalidArgument, "%d passages; the limit is %d", len(req.GetPassages()), maxPassages)
	case len(req.GetToolResults()) > maxToolResults:
		return status.Errorf(codes.InvalidArgument, "%d tool results; the limit is %d", len(req.GetToolResults()), maxToolResults)
	}
	for i, p := range req.GetPassages() {
		if len(p.GetText()) > maxPassageBytes {
			return status.Errorf(codes.InvalidArgument, "passage %d is %d bytes; the limit is %d", i, len(p.GetText()), maxPassageBytes)
		}
	}
	for i, r := range req.GetToolResults() {
		if len(r) > maxToolResultLen {
			return status.Errorf(codes.InvalidArgument, "tool result %d is %d bytes; the limit is %d", i, len(r), maxToolResultLen)
		}
	}
	return nil
}

func newEvaluatorServer(a auditor, logger *slog.Logger) *evaluatorServer {
	return &evaluatorServer{auditor: a, logger: logger}
}

// Evaluate scores the draft. When audit events are on and the event cannot
// be published, it fails with Unavailable rather than return a score that
// left no record; evaluation is cheap and the caller may retry.
func (s *evaluatorServer) Evaluate(
	ctx context.Context,
	req *keelv1.EvaluateRequest,
) (*keelv1.EvaluateResponse, error) {
	tenantID, err := tenant.Require(ctx)
	if err != nil {
		return nil, status.Error(codes.Unauthenticated, "the call carries no tenant")
	}
	if strings.TrimSpace(req.GetDraft()) == "" {
		return nil, status.Error(codes.InvalidArgument, "draft is required")
	}
	if err := checkSizes(req); err != nil {
		return nil, err
	}

	in := score.Input{
		Customer:    req.GetInput(),
		Draft:       req.GetDraft(),
		Citations:   req.GetCitations(),
		ToolResults: req.GetToolResults(),
	}
	for _, p := range req.GetPassages() {
		in.Passages = append(in.Passages, score.Passage{ChunkID: p.GetChunkId(), Text: p.GetText()})
	}
	res := score.Evaluate(in)

	if s.auditor != nil {
		if err := s.auditor.Audit(ctx, auditEvent(tenantID, req, res)); err != nil {
			s.logger.Error("audit evaluation failed", "tenant", tenantID, "error", err)
			return nil, status.Error(codes.Unavailable, "evaluation could not be recorded")
		}
	}

	out := &keelv1.EvaluateResponse{RiskScore: res.RiskScore}
	for _, f := range res.Findings {
		out.Findings = append(out.Findings, &keelv1.Finding{
			Category: f.Category, Reason: f.Reason, Weight: f.Weight, Evidence: f.Evidence,
		})
	}
	return out, nil
}

// auditEvent records the outcome of an evaluation without any text. Its
// subject is a digest of the draft, which links the record to the draft
// without repeating it; its id is a digest of the whole request, so a
// retried evaluation is stored once.
// Its subject is the request's subject, else a digest of the draft.
func auditEvent(tenantID string, req *keelv1.EvaluateRequest, res score.Result) *keelv1.AuditEvent {
	draftSum := sha256.Sum256([]byte(req.GetDraft()))

	h := sha256.New()
	parts := []string{tenantID, req.GetInput(), req.GetDraft(), strings.Join(req.GetCitations(), "\x00")}
	for _, part := range parts {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	for _, p := range req.GetPassages() {
		h.Write([]byte(p.GetChunkId()))
		h.Write([]byte{0})
	}

	subject := req.GetSubject()
	if subject == "" {
		subject = "draft:" + hex.EncodeToString(draftSum[:])[:16]
	}
	return &keelv1.AuditEvent{
		Id:       "eval-" + hex.EncodeToString(h.Sum(nil))[:32],
		TenantId: tenantID,
		Actor:    Name,
		Action:   ActionEvaluated,
		Subject:  subject,
		Attributes: map[string]string{
			"risk_score": strconv.FormatFloat(res.RiskScore, 'f', 4, 64),
			"categories": strings.Join(res.Categories(), ","),
			"findings":   strconv.Itoa(len(res.Findings)),
			"passages":   strconv.Itoa(len(req.GetPassages())),
			"citations":  strconv.Itoa(len(req.GetCitations())),
		},
	}
}
