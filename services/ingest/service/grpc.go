package service

import (
	"context"
	"errors"
	"strconv"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/tenant"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/ingest/internal/intake"
	"github.com/keelhq/keel/services/ingest/internal/vault"
	"github.com/keelhq/keel/services/ingest/redact"
)

// redactorServer serves RedactorService for the caller's tenant.
type redactorServer struct {
	keelv1.UnimplementedRedactorServiceServer
	pipeline *pipeline
}

// Redact redacts one text without storing anything: the caller keeps the
// placeholders and gets no originals back. The audit record of the call is
// best effort, since nothing is revealed.
func (s *redactorServer) Redact(ctx context.Context, req *keelv1.RedactRequest) (*keelv1.RedactResponse, error) {
	tenantID, err := callerTenant(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.pipeline.checkTextSize(req.GetText()); err != nil {
		return nil, err
	}

	profile, ok := intake.ProfileOf(req.GetContentType())
	if !ok {
		return nil, status.Errorf(codes.InvalidArgument,
			"content_type %q is not one of text/plain, text/x-diff, text/x-source, text/x-log", req.GetContentType())
	}

	rules := s.pipeline.rules.For(tenantID)
	doc := s.pipeline.redactor.NewDocument()
	if err := doc.SetPolicy(rules.Policy); err != nil {
		return nil, status.Errorf(codes.Internal, "redaction policy: %v", err)
	}
	doc.SetProfile(profile)
	res := doc.RedactContext(ctx, req.GetText())
	if res.ModelErr != nil {
		s.pipeline.logger.Warn("entity model failed; redacted with the built-in recognisers alone",
			"tenant", tenantID, "error", res.ModelErr)
	}
	resp := &keelv1.RedactResponse{Text: res.Text, Entities: make([]*keelv1.Entity, len(res.Entities))}
	counts := make(map[redact.Type]int)
	for i, e := range res.Entities {
		resp.Entities[i] = &keelv1.Entity{
			Type:        string(e.Type),
			Start:       int32(e.RuneStart),
			End:         int32(e.RuneEnd),
			Score:       e.Score,
			Replacement: e.Replacement,
			Operator:    string(e.Operator),
		}
		if e.Operator != redact.OpKeep {
			counts[e.Type]++
		}
	}
	resp.Sensitivity, _ = rules.Classifier.Classify("", counts, res.Text)

	attrs := map[string]string{}
	addEntityCounts(attrs, counts)
	if err := s.pipeline.audit(ctx, tenantID, actionTextRedacted, "", attrs); err != nil {
		s.pipeline.logger.Warn("audit of redact call failed; answering anyway", "tenant", tenantID, "error", err)
	}
	return resp, nil
}

// Restore puts the originals of the caller's tenant back into text. It
// answers NotFound when the tenant has no live originals under vault_ref.
// Restoring reveals personal data, so the call fails when its audit record
// cannot be written.
func (s *redactorServer) Restore(ctx context.Context, req *keelv1.RestoreRequest) (*keelv1.RestoreResponse, error) {
	tenantID, err := callerTenant(ctx)
	if err != nil {
		return nil, err
	}
	if req.GetVaultRef() == "" {
		return nil, status.Error(codes.InvalidArgument, "vault_ref is required")
	}
	if err := s.pipeline.checkTextSize(req.GetText()); err != nil {
		return nil, err
	}

	restored, unknown, err := s.pipeline.vault.Restore(ctx, tenantID, req.GetVaultRef(), req.GetText())
	switch {
	case errors.Is(err, vault.ErrNotFound):
		return nil, status.Errorf(codes.NotFound, "no originals are stored under vault_ref %q for this tenant", req.GetVaultRef())
	case err != nil:
		return nil, s.pipeline.internalError(ctx, tenantID, "restore from vault", err)
	}

	attrs := map[string]string{
		"vault_ref":            req.GetVaultRef(),
		"unknown_placeholders": strconv.Itoa(len(unknown)),
	}
	if err := s.pipeline.audit(ctx, tenantID, actionTextRestored, req.GetVaultRef(), attrs); err != nil {
		return nil, s.pipeline.internalError(ctx, tenantID, "audit restore", err)
	}
	return &keelv1.RestoreResponse{Text: restored, UnknownPlaceholders: unknown}, nil
}

// ingestServer serves IngestService for callers that cannot publish on NATS.
type ingestServer struct {
	keelv1.UnimplementedIngestServiceServer
	pipeline *pipeline
}

// Submit validates the event and publishes it on keel.ingest.<tenant>.<kind>
// with its event id as message id; the consumer then processes it like any
// other. The tenant is the caller's; the event's tenant_id must be empty or
// the same. A second submission of the same id within the stream's
// de-duplication window is reported as a duplicate and not published again.
func (s *ingestServer) Submit(ctx context.Context, req *keelv1.SubmitRequest) (*keelv1.SubmitResponse, error) {
	tenantID, err := callerTenant(ctx)
	if err != nil {
		return nil, err
	}
	if req.GetEvent() == nil {
		return nil, status.Error(codes.InvalidArgument, "event is required")
	}
	if err := s.pipeline.validator.Validate(req.GetEvent(), tenantID, ""); err != nil {
		return nil, invalidArgument(err)
	}

	ev := proto.CloneOf(req.GetEvent())
	ev.TenantId = tenantID
	subject := bus.IngestSubject(tenantID, ev.GetKind())
	duplicate, err := s.pipeline.publisher.Publish(ctx, subject, ev.GetEventId(), tenantID, ev)
	if err != nil {
		s.pipeline.logger.Warn("publish submitted event failed", "tenant", tenantID, "subject", subject, "error", err)
		return nil, status.Error(codes.Unavailable, "the event could not be queued; retry with the same event_id")
	}
	return &keelv1.SubmitResponse{EventId: ev.GetEventId(), Duplicate: duplicate}, nil
}

// callerTenant returns the tenant the gRPC server took from the call's
// metadata.
func callerTenant(ctx context.Context) (string, error) {
	tenantID, err := tenant.Require(ctx)
	if err != nil {
		return "", status.Error(codes.Unauthenticated, "the call carries no tenant")
	}
	return tenantID, nil
}

// checkTextSize refuses texts above the body limit of events.
func (p *pipeline) checkTextSize(text string) error {
	if limit := p.validator.MaxBodyBytes(); len(text) > limit {
		return status.Errorf(codes.InvalidArgument, "text is %d bytes; the limit is %d", len(text), limit)
	}
	return nil
}

// internalError logs err and returns a status that does not repeat it.
func (p *pipeline) internalError(ctx context.Context, tenantID, action string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return status.FromContextError(ctxErr).Err()
	}
	p.logger.Error(action+" failed", "tenant", tenantID, "error", err)
	return status.Errorf(codes.Internal, "%s failed", action)
}

// invalidArgument turns a validation error into InvalidArgument with a
// BadRequest detail naming each field at fault.
func invalidArgument(err error) error {
	st := status.New(codes.InvalidArgument, err.Error())
	var verr *intake.ValidationError
	if !errors.As(err, &verr) {
		return st.Err()
	}
	br := &errdetails.BadRequest{}
	for _, p := range verr.Problems {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{
			Field:       "event." + p.Field,
			Description: p.Description,
		})
	}
	if withDetails, derr := st.WithDetails(br); derr == nil {
		return withDetails.Err()
	}
	return st.Err()
}
