package intake

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

func validEvent() *keelv1.IngestEvent {
	return &keelv1.IngestEvent{
		EventId:  "msg-<1234@mail.example.com>",
		TenantId: "acme",
		Kind:     KindEmail,
		Subject:  "Refund",
		Body:     "Please refund my order.",
		Customer: &keelv1.Customer{Email: "jane@example.com", Name: "Jane Doe"},
		Metadata: map[string]string{"priority": "high"},
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		edit        func(ev *keelv1.IngestEvent)
		subjectKind string
		wantFields  []string
	}{
		{name: "valid", edit: func(*keelv1.IngestEvent) {}},
		{name: "valid with subject kind", subjectKind: KindEmail, edit: func(*keelv1.IngestEvent) {}},
		{name: "tenant may be empty", edit: func(ev *keelv1.IngestEvent) { ev.TenantId = "" }},
		{name: "empty body with subject", edit: func(ev *keelv1.IngestEvent) { ev.Body = "" }},
		{name: "body at the limit", edit: func(ev *keelv1.IngestEvent) { ev.Body = strings.Repeat("a", 1024) }},
		{name: "event id at the limit", edit: func(ev *keelv1.IngestEvent) { ev.EventId = strings.Repeat("é", MaxEventIDLength/2) }},
		{name: "event id over the limit in bytes", wantFields: []string{"event_id"},
			edit: func(ev *keelv1.IngestEvent) { ev.EventId = strings.Repeat("é", MaxEventIDLength/2+1) }},
		{name: "event id with a slash", wantFields: []string{"event_id"},
			edit: func(ev *keelv1.IngestEvent) { ev.EventId = "x/../y" }},
		{name: "missing event id", wantFields: []string{"event_id"},
			edit: func(ev *keelv1.IngestEvent) { ev.EventId = "" }},
		{name: "event id too long", wantFields: []string{"event_id"},
			edit: func(ev *keelv1.IngestEvent) { ev.EventId = strings.Repeat("x", MaxEventIDLength+1) }},
		{name: "event id with newline", wantFields: []string{"event_id"},
			edit: func(ev *keelv1.IngestEvent) { ev.EventId = "a\nb" }},
		{name: "other tenant", wantFields: []string{"tenant_id"},
			edit: func(ev *keelv1.IngestEvent) { ev.TenantId = "globex" }},
		{name: "missing kind", wantFields: []string{"kind"},
			edit: func(ev *keelv1.IngestEvent) { ev.Kind = "" }},
		{name: "unknown kind", wantFields: []string{"kind"},
			edit: func(ev *keelv1.IngestEvent) { ev.Kind = "fax" }},
		{name: "kind differs from subject", subjectKind: KindTicket, wantFields: []string{"kind"},
			edit: func(*keelv1.IngestEvent) {}},
		{name: "no body and no subject", wantFields: []string{"body"},
			edit: func(ev *keelv1.IngestEvent) { ev.Body, ev.Subject = "", "  " }},
		{name: "body too large", wantFields: []string{"body"},
			edit: func(ev *keelv1.IngestEvent) { ev.Body = strings.Repeat("a", 1025) }},
		{name: "invalid UTF-8 body", wantFields: []string{"body"},
			edit: func(ev *keelv1.IngestEvent) { ev.Body = "caf\xe9" }},
		{name: "invalid UTF-8 customer name", wantFields: []string{"customer.name"},
			edit: func(ev *keelv1.IngestEvent) { ev.Customer.Name = "\xff" }},
		{name: "invalid UTF-8 metadata", wantFields: []string{"metadata"},
			edit: func(ev *keelv1.IngestEvent) { ev.Metadata["k"] = "\xc3" }},
		{name: "invalid UTF-8 acl", wantFields: []string{"acl"},
			edit: func(ev *keelv1.IngestEvent) { ev.Acl = []string{"ok", "\xfe"} }},
		{name: "invalid UTF-8 event id reported once", wantFields: []string{"event_id"},
			edit: func(ev *keelv1.IngestEvent) { ev.EventId = "\xff" }},
		{name: "article with a raw email", wantFields: []string{"kind"},
			edit: func(ev *keelv1.IngestEvent) {
				ev.Kind, ev.Subject, ev.Body = KindArticle, "", ""
				ev.Raw, ev.ContentType = []byte("Subject: hi\r\n\r\nbody"), ContentTypeEmail
			}},
		{name: "article with raw text", edit: func(ev *keelv1.IngestEvent) {
			ev.Kind, ev.Subject, ev.Body = KindArticle, "", ""
			ev.Raw, ev.ContentType = []byte("Returns within 30 days."), ContentTypeText
		}},
		{name: "several problems together", wantFields: []string{"event_id", "tenant_id", "kind"},
			edit: func(ev *keelv1.IngestEvent) { ev.EventId, ev.TenantId, ev.Kind = "", "globex", "memo" }},
	}
	v := NewValidator(1024)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ev := validEvent()
			tc.edit(ev)
			err := v.Validate(ev, "acme", tc.subjectKind)
			if len(tc.wantFields) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v, want nil", err)
				}
				return
			}
			var verr *ValidationError
			if !errors.As(err, &verr) || !errors.Is(err, ErrInvalidEvent) {
				t.Fatalf("Validate: %v, want a *ValidationError", err)
			}
			var got []string
			for _, p := range verr.Problems {
				got = append(got, p.Field)
				if p.Description == "" || strings.ContainsAny(p.Description, "\n\r") {
					t.Errorf("problem %q is not a one-line sentence", p.Description)
				}
			}
			if diff := cmp.Diff(tc.wantFields, got); diff != "" {
				t.Errorf("fields mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateMessages(t *testing.T) {
	t.Parallel()
	ev := validEvent()
	ev.EventId = ""
	ev.Body = "secret body \xff"
	err := NewValidator(0).Validate(ev, "acme", "")
	want := "invalid ingest event: body is not valid UTF-8; event_id is required"
	if err == nil || err.Error() != want {
		t.Fatalf("Validate error = %v, want %q", err, want)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Error("error message repeats the body")
	}
}

func TestValidateNil(t *testing.T) {
	t.Parallel()
	if err := NewValidator(0).Validate(nil, "acme", ""); !errors.Is(err, ErrInvalidEvent) {
		t.Errorf("Validate(nil) = %v, want ErrInvalidEvent", err)
	}
}

func TestNewValidatorDefault(t *testing.T) {
	t.Parallel()
	if got := NewValidator(0).MaxBodyBytes(); got != DefaultMaxBodyBytes {
		t.Errorf("MaxBodyBytes = %d, want %d", got, DefaultMaxBodyBytes)
	}
}

func TestValidEventID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id   string
		want bool
	}{
		{id: "evt-1", want: true},
		{id: "<CAF=abc@mail.example.com>", want: true},
		{id: "", want: false},
		{id: "tab\there", want: false},
		{id: "\xff", want: false},
		{id: strings.Repeat("x", MaxEventIDLength+1), want: false},
	}
	for _, tc := range tests {
		if got := ValidEventID(tc.id); got != tc.want {
			t.Errorf("ValidEventID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}
