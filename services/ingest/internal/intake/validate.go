// Package intake decides whether an incoming event can be processed, turns
// it into its redacted form, and classifies how sensitive it is.
package intake

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

// Limits of an event.
const (
	// DefaultMaxBodyBytes is the body size limit when none is configured.
	DefaultMaxBodyBytes = 256 << 10
	// MaxEventIDLength is the longest event_id, in bytes: the id becomes
	// part of a NATS message id, a workflow id and a URL path.
	MaxEventIDLength = 200
	// maxQuoted is how much of an offending value an error message repeats.
	maxQuoted = 40
)

// Event kinds.
const (
	KindEmail   = "email"
	KindTicket  = "ticket"
	KindNote    = "note"
	KindArticle = "article"
)

// ErrInvalidEvent is matched (errors.Is) by every *ValidationError.
var ErrInvalidEvent = errors.New("invalid ingest event")

// Problem is one reason an event was refused.
type Problem struct {
	// Field is the event field at fault, in proto names: "event_id",
	// "customer.email", "metadata".
	Field string
	// Description says in a sentence what is wrong.
	Description string
}

// ValidationError lists every problem found in one event.
type ValidationError struct {
	Problems []Problem
}

// Error joins the problems into one line; it never repeats customer text.
func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Description
	}
	return ErrInvalidEvent.Error() + ": " + strings.Join(parts, "; ")
}

// Is makes errors.Is(err, ErrInvalidEvent) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidEvent }

// Validator checks events against the limits it was built with.
type Validator struct {
	maxBodyBytes int
}

// NewValidator returns a Validator that refuses bodies larger than
// maxBodyBytes; zero or less means DefaultMaxBodyBytes.
func NewValidator(maxBodyBytes int) *Validator {
	if maxBodyBytes <= 0 {
		maxBodyBytes = DefaultMaxBodyBytes
	}
	return &Validator{maxBodyBytes: maxBodyBytes}
}

// MaxBodyBytes returns the body size limit.
func (v *Validator) MaxBodyBytes() int { return v.maxBodyBytes }

// Validate checks ev as received for tenant (taken from the subject or the
// caller's credentials). kind, when not empty, is the kind named by the
// subject, and ev.Kind must agree with it. It returns a *ValidationError
// listing every problem, or nil.
func (v *Validator) Validate(ev *keelv1.IngestEvent, tenant, kind string) error {
	if ev == nil {
		return &ValidationError{Problems: []Problem{{Field: "event", Description: "the event is missing"}}}
	}
	var problems []Problem
	add := func(field, format string, args ...any) {
		problems = append(problems, Problem{Field: field, Description: fmt.Sprintf(format, args...)})
	}

	// Every string must be valid UTF-8 before anything else reads it.
	invalid := invalidUTF8Fields(ev)
	for _, field := range invalid {
		add(field, "%s is not valid UTF-8", field)
	}
	bad := func(field string) bool {
		for _, f := range invalid {
			if f == field {
				return true
			}
		}
		return false
	}

	if !bad("event_id") {
		if problem := eventIDProblem(ev.GetEventId()); problem != "" {
			add("event_id", "%s", problem)
		}
	}

	if t := ev.GetTenantId(); t != "" && !bad("tenant_id") && t != tenant {
		add("tenant_id", "tenant_id %s does not match the tenant %s the event was sent for", quote(t), quote(tenant))
	}

	switch k := ev.GetKind(); {
	case bad("kind"):
	case k == "":
		add("kind", "kind is required (email, ticket, note or article)")
	case !ValidKind(k):
		add("kind", "kind %s is not one of email, ticket, note or article", quote(k))
	case kind != "" && k != kind:
		add("kind", "kind %s does not match the kind %s of the subject", quote(k), quote(kind))
	}

	switch raw := ev.GetRaw(); {
	case len(raw) > 0:
		if ev.GetBody() != "" || ev.GetSubject() != "" {
			add("raw", "raw is set, so subject and body must be empty: they are read from raw")
		}
		if !bad("content_type") && !rawContentType(ev.GetContentType()) {
			add("content_type", "content_type %s is not one of %s", quote(ev.GetContentType()), rawContentTypes)
		}
		if len(raw) > v.maxBodyBytes {
			add("raw", "raw is %d bytes; the limit is %d", len(raw), v.maxBodyBytes)
		}
		if ev.GetKind() == KindArticle && ev.GetContentType() == ContentTypeEmail {
			// An article keeps its contact details unredacted; a raw email
			// is customer mail, never an article.
			add("kind", "kind article cannot carry a raw email (content_type %s)", ContentTypeEmail)
		}
	case ev.GetContentType() != "":
		add("content_type", "content_type is set but raw is empty")
	case !bad("body") && !bad("subject") && ev.GetBody() == "" && strings.TrimSpace(ev.GetSubject()) == "":
		add("body", "body is empty and so is subject; one of them is required")
	}
	if n := len(ev.GetBody()); n > v.maxBodyBytes {
		add("body", "body is %d bytes; the limit is %d", n, v.maxBodyBytes)
	}

	if len(problems) == 0 {
		return nil
	}
	return &ValidationError{Problems: problems}
}

// ValidEventID reports whether id is acceptable as an event id: present,
// valid UTF-8, printable and at most MaxEventIDLength characters.
func ValidEventID(id string) bool {
	return utf8.ValidString(id) && eventIDProblem(id) == ""
}

// eventIDProblem describes what is wrong with a valid UTF-8 id, or returns "".
func eventIDProblem(id string) string {
	switch n := len(id); {
	case id == "":
		return "event_id is required"
	case n > MaxEventIDLength:
		return fmt.Sprintf("event_id is %d bytes long; the limit is %d", n, MaxEventIDLength)
	case !printable(id):
		return "event_id may hold only printable characters"
	case strings.Contains(id, "/"):
		// The id is a path segment of the review API and of the workflow id.
		return "event_id must not contain '/'"
	}
	return ""
}

// ValidKind reports whether kind is one of the event kinds.
func ValidKind(kind string) bool {
	switch kind {
	case KindEmail, KindTicket, KindNote, KindArticle:
		return true
	}
	return false
}

// invalidUTF8Fields names the fields of ev that are not valid UTF-8. Events
// decoded from protobuf or JSON cannot hold such strings, but events built
// in code can.
func invalidUTF8Fields(ev *keelv1.IngestEvent) []string {
	fields := []struct {
		name  string
		value string
	}{
		{"event_id", ev.GetEventId()},
		{"tenant_id", ev.GetTenantId()},
		{"kind", ev.GetKind()},
		{"source", ev.GetSource()},
		{"subject", ev.GetSubject()},
		{"body", ev.GetBody()},
		{"title", ev.GetTitle()},
		{"customer.email", ev.GetCustomer().GetEmail()},
		{"customer.name", ev.GetCustomer().GetName()},
		{"customer.account_id", ev.GetCustomer().GetAccountId()},
		{"content_type", ev.GetContentType()},
	}
	var bad []string
	for _, f := range fields {
		if !utf8.ValidString(f.value) {
			bad = append(bad, f.name)
		}
	}
	for k, val := range ev.GetMetadata() {
		if !utf8.ValidString(k) || !utf8.ValidString(val) {
			bad = append(bad, "metadata")
			break
		}
	}
	for _, entry := range ev.GetAcl() {
		if !utf8.ValidString(entry) {
			bad = append(bad, "acl")
			break
		}
	}
	return bad
}

func printable(s string) bool {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// quote repeats a short, printable prefix of s in an error message.
func quote(s string) string {
	if utf8.RuneCountInString(s) > maxQuoted {
		s = string([]rune(s)[:maxQuoted]) + "..."
	}
	return fmt.Sprintf("%q", s)
}
