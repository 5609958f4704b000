package intake

import (
	"context"
	"slices"

	"google.golang.org/protobuf/proto"

	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/ingest/redact"
)

// Redacted is an event after redaction, with what is needed to undo it.
type Redacted struct {
	// Event is the redacted event; VaultRef is left for the caller to set.
	Event *keelv1.RedactedEvent
	// Originals maps every reversible replacement in Event to the value it
	// replaced, for the vault.
	Originals map[string]string
	// Counts is how many entities of each type were redacted.
	Counts map[redact.Type]int
	// ModelErr is the first failure of the Redactor's model, if any: the
	// built-in recognisers' findings were used alone.
	ModelErr error
}

// Input is an event ready for redaction: its text fields filled, from raw
// content when it came with some (see Expand).
type Input struct {
	Event *keelv1.IngestEvent
	// Quoted is the quoted reply chain of an email, set apart from the body.
	Quoted string
	// Attachments lists the attachments of a raw email.
	Attachments []Attachment
	// Profile is what kind of text the body is: prose, code or log.
	Profile redact.Profile
}

// Attachment is an attachment of a raw email, listed and never inlined.
type Attachment struct {
	Filename  string
	MediaType string
	Size      int64
}

// RedactEvent redacts every free-text field of the event under the tenant's
// policy with one placeholder map, so the customer's address is [EMAIL_1]
// in the customer field, the subject and the body alike. The customer's
// email and name are replaced as a whole first, so they are [EMAIL_1] and
// [PERSON_1]; the name is then also replaced wherever it appears in the
// text. account_id, source, acl and the metadata keys are kept as they are.
// The event's sensitivity is classified by the tenant's rules.
//
// A knowledge article keeps its email addresses, phone numbers, IP
// addresses, staff names and office addresses: they are the tenant's
// published contact points, not customer data. Identifiers and secrets are
// redacted everywhere.
func RedactEvent(ctx context.Context, r *redact.Redactor, rules *TenantRules, in *Input) Redacted {
	ev := in.Event
	doc := r.NewDocument()
	var modelErr error
	redactText := func(text string) string {
		res := doc.RedactContext(ctx, text)
		if modelErr == nil {
			modelErr = res.ModelErr
		}
		return res.Text
	}
	if err := doc.SetPolicy(rules.Policy); err != nil {
		panic(err) // TenantRules hold prepared policies only
	}
	if ev.GetKind() == KindArticle {
		doc.Keep(redact.TypeEmail, redact.TypePhone, redact.TypeIP, redact.TypePerson, redact.TypeLocation)
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
		Subject:  redactText(ev.GetSubject()),
		Title:    redactText(ev.GetTitle()),
		Customer: customer,
		Acl:      slices.Clone(ev.GetAcl()),
	}
	doc.SetProfile(in.Profile)
	out.Body = redactText(ev.GetBody())
	out.Quoted = redactText(in.Quoted)
	doc.SetProfile(redact.ProfileProse)
	for _, a := range in.Attachments {
		out.Attachments = append(out.Attachments, &keelv1.Attachment{
			Filename:  redactText(a.Filename),
			MediaType: a.MediaType,
			SizeBytes: a.Size,
		})
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
			out.Metadata[k] = redactText(md[k])
		}
	}

	counts := doc.Counts()
	out.Entities = EntitySummaries(counts)
	out.Sensitivity, out.SensitivityReasons = rules.Classifier.Classify(ev.GetKind(), counts,
		out.GetSubject(), out.GetTitle(), out.GetBody(), out.GetQuoted())
	return Redacted{Event: out, Originals: doc.Originals(), Counts: counts, ModelErr: modelErr}
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
