package bus

import (
	"fmt"
	"strings"
)

// Subject roots. A subject is keel.<root>.<tenant>[.<kind>]: the tenant is
// always the third token so that permissions and consumers can be set per
// tenant.
const (
	RootIngest   = "ingest"
	RootRedacted = "redacted"
	RootChunks   = "chunks"
	RootDrafts   = "drafts"
	RootOutbound = "outbound"
	RootAudit    = "audit"
	RootUsage    = "usage"
	RootDLQ      = "dlq"
)

// IngestSubject is where upstream systems publish raw events of kind.
func IngestSubject(tenant, kind string) string { return subject(RootIngest, tenant, kind) }

// RedactedSubject carries events after redaction.
func RedactedSubject(tenant, kind string) string { return subject(RootRedacted, tenant, kind) }

// ChunksSubject carries embedded chunks of a tenant's documents.
func ChunksSubject(tenant string) string { return subject(RootChunks, tenant, "") }

// DraftsSubject carries generated drafts.
func DraftsSubject(tenant string) string { return subject(RootDrafts, tenant, "") }

// OutboundSubject carries approved replies of kind for delivery.
func OutboundSubject(tenant, kind string) string { return subject(RootOutbound, tenant, kind) }

// AuditSubject carries audit events.
func AuditSubject(tenant string) string { return subject(RootAudit, tenant, "") }

// UsageSubject carries model usage events.
func UsageSubject(tenant string) string { return subject(RootUsage, tenant, "") }

// UsageBatchSubject carries batches of a tenant's usage events
// (keelv1.UsageBatch).
func UsageBatchSubject(tenant string) string { return subject(RootUsage, tenant, KindBatch) }

// KindBatch is the kind token of subjects whose messages hold several
// events.
const KindBatch = "batch"

// DLQSubject is where stage dead-letters what it could not process.
func DLQSubject(tenant, stage string) string { return subject(RootDLQ, tenant, stage) }

func subject(root, tenant, kind string) string {
	if kind == "" {
		return "keel." + root + "." + tenant
	}
	return "keel." + root + "." + tenant + "." + kind
}

// SubjectTenant returns the tenant token of a Keel subject.
func SubjectTenant(subject string) (string, error) {
	root, _ := token(subject, 0)
	t, ok := token(subject, 2)
	if root != "keel" || !ok || t == "" {
		return "", fmt.Errorf("subject %q has no tenant token", subject)
	}
	return t, nil
}

// SubjectKind returns the fourth token of a subject (the event kind), or "".
func SubjectKind(subject string) string {
	kind, _ := token(subject, 3)
	return kind
}

// token returns the i-th dot-separated token of subject (from 0), and
// false when there are not that many. Followers read a subject a message,
// so it splits nothing into a slice.
func token(subject string, i int) (string, bool) {
	for ; i > 0; i-- {
		_, rest, ok := strings.Cut(subject, ".")
		if !ok {
			return "", false
		}
		subject = rest
	}
	tok, _, _ := strings.Cut(subject, ".")
	return tok, true
}
