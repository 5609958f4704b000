package intake

import (
	"slices"

	"google.golang.org/protobuf/proto"

	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/ingest/redact"
)

// Sensitivity levels of a redacted event, from least to most sensitive.
const (
	SensitivityPublic       = "public"
	SensitivityInternal     = "internal"
	SensitivityConfidential = "confidential"
	SensitivityRestricted   = "restricted"
)

// Redacted is an event after redaction, with what is needed to undo it.
type Redacted struct {
	// Event is the redacted event; VaultRef is left for the caller to set.
	Event *keelv1.RedactedEvent
	// Originals maps every placeholder in Event to the value it replaced.
	Originals map[string]string
	// Counts is how many entities of each type were replaced.
	Counts map[redact.Type]int
}

// RedactEvent redacts every free-text field of ev with one placeholder map,
// so the customer's address is [EMAIL_1] in the customer field, the subject
// and the body alike. The customer's email and name are replaced as a whole
// first, so they are [EMAIL_1] and [PERSON_1]; the name is then also
// replaced wherever it appears in the text. account_id, source, acl and the
// metadata keys are kept as they are.
//
// A knowledge article keeps its email addresses, phone numbers and IP
// addresses: they are the tenant's published contact points, not customer
// data. Cards, IBANs and social security numbers are redacted everywhere.
func RedactEvent(r *redact.Redactor, ev *keelv1.IngestEvent) Redacted {
	doc := r.NewDocument()
	if ev.GetKind() == KindArticle {
		doc.Keep(redact.TypeEmail, redact.TypePhone, redact.TypeIP)
	}
	customer := &keelv1.Customer{
		Email:     doc.Replace(redact.TypeEmail, ev.GetCustomer().GetEmail()),
		Name:      doc.Replace(redact.TypePerson, ev.GetCustomer().GetName()),
		AccountId: ev.GetCustomer().GetAccountId(),
	}
	out := &keelv1.RedactedEvent{
		EventId:  ev.GetEventId(),
		TenantId: ev.GetTenantId(),
		Kind:     ev.GetKind(),
		Source:   ev.GetSource(),
		Subject:  doc.Redact(ev.GetSubject()).Text,
		Title:    doc.Redact(ev.GetTitle()).Text,
		Body:     doc.Redact(ev.GetBody()).Text,
		Customer: customer,
		Acl:      slices.Clone(ev.GetAcl()),
	}
	if ev.GetCustomer() == nil {
		out.Customer = nil
	}
	if ev.GetReceivedAt() != nil {
		out.ReceivedAt = proto.CloneOf(ev.GetReceivedAt())
	}

	// Metadata values may quote the customer too; keys are the upstream's
	// field names. Sorted keys keep the numbering the same on a retry.
	if md := ev.GetMetadata(); len(md) > 0 {
		out.Metadata = make(map[string]string, len(md))
		keys := make([]string, 0, len(md))
		for k := range md {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			out.Metadata[k] = doc.Redact(md[k]).Text
		}
	}

	counts := doc.Counts()
	out.Entities = EntitySummaries(counts)
	out.Sensitivity = Sensitivity(ev.GetKind(), counts)
	return Redacted{Event: out, Originals: doc.Originals(), Counts: counts}
}

// EntitySummaries turns counts into summaries ordered by type name.
func EntitySummaries(counts map[redact.Type]int) []*keelv1.EntitySummary {
	types := make([]redact.Type, 0, len(counts))
	for t, n := range counts {
		if n > 0 {
			types = append(types, t)
		}
	}
	slices.Sort(types)
	out := make([]*keelv1.EntitySummary, len(types))
	for i, t := range types {
		out[i] = &keelv1.EntitySummary{Type: string(t), Count: int32(counts[t])}
	}
	return out
}

// Sensitivity classifies an event by what redaction found in it: restricted
// when it held payment cards, IBANs or social security numbers, confidential
// when it held any other personal data, internal otherwise. Knowledge
// articles are public unless they held restricted data: one that quotes a
// card number is still restricted.
func Sensitivity(kind string, counts map[redact.Type]int) string {
	restricted := counts[redact.TypeCard] > 0 || counts[redact.TypeIBAN] > 0 || counts[redact.TypeSSN] > 0
	personal := false
	for _, n := range counts {
		if n > 0 {
			personal = true
		}
	}
	switch {
	case restricted:
		return SensitivityRestricted
	case kind == KindArticle:
		return SensitivityPublic
	case personal:
		return SensitivityConfidential
	default:
		return SensitivityInternal
	}
}
