package httpapi

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

// auditTimeout bounds the publication of one audit event.
const auditTimeout = 5 * time.Second

// audit records that the token's subject did action on subject. The action
// has already happened when audit is called, so a failure to publish is
// logged for an operator and does not change the response.
func (h *handler) audit(ctx context.Context, action, subject string, attrs map[string]string) {
	if h.auditor == nil {
		return
	}
	claims := claimsFrom(ctx)
	ev := &keelv1.AuditEvent{
		TenantId:   claims.Tenant,
		Actor:      "user:" + claims.Subject,
		Action:     action,
		Subject:    subject,
		OccurredAt: timestamppb.New(h.now()),
		Attributes: attrs,
	}

	// A client that hangs up must not cancel the record of what it did.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
	defer cancel()
	if err := h.auditor.Audit(ctx, ev); err != nil {
		h.logger.ErrorContext(ctx, "publish audit event",
			"tenant", claims.Tenant, "subject", subject, "action", action, "error", err)
	}
}
