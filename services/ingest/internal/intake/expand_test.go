package intake

import (
	"errors"
	"strings"
	"testing"

	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/ingest/message"
	"github.com/keelhq/keel/services/ingest/redact"
)

const rawEmail = "From: Ana Lima <ana.lima@example.com>\r\n" +
	"Subject: Where is my parcel?\r\n" +
	"Date: Wed, 02 Dec 2026 08:30:00 +0100\r\n" +
	"Content-Type: multipart/alternative; boundary=alt\r\n\r\n" +
	"--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
	"It has been a week.\r\n\r\n> Your parcel ships today.\r\n" +
	"--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>It has been a week.</p>\r\n" +
	"--alt--\r\n"

func TestExpandEmail(t *testing.T) {
	t.Parallel()
	ev := &keelv1.IngestEvent{EventId: "m1", Kind: KindEmail, Raw: []byte(rawEmail), ContentType: "message/rfc822"}
	x, err := Expand(ev, DefaultMaxBodyBytes)
	if err != nil {
		t.Fatal(err)
	}
	got := x.Input.Event
	if got.GetSubject() != "Where is my parcel?" || strings.TrimSpace(got.GetBody()) != "It has been a week." {
		t.Errorf("subject %q body %q", got.GetSubject(), got.GetBody())
	}
	if !strings.Contains(x.Input.Quoted, "> Your parcel ships today.") {
		t.Errorf("quoted = %q", x.Input.Quoted)
	}
	if c := got.GetCustomer(); c.GetEmail() != "ana.lima@example.com" || c.GetName() != "Ana Lima" {
		t.Errorf("customer = %v, want the sender", c)
	}
	if got.GetReceivedAt().AsTime().UTC().Hour() != 7 {
		t.Errorf("received_at = %v, want the Date header", got.GetReceivedAt().AsTime())
	}
	if len(got.GetRaw()) != 0 || got.GetContentType() != "" {
		t.Error("the expanded event still carries its raw content")
	}
	if len(ev.GetRaw()) == 0 || ev.GetSubject() != "" {
		t.Error("Expand changed its input")
	}

	// A customer named by the upstream wins over the From header.
	ev.Customer = &keelv1.Customer{Email: "account-owner@example.com"}
	x, err = Expand(ev, DefaultMaxBodyBytes)
	if err != nil {
		t.Fatal(err)
	}
	if x.Input.Event.GetCustomer().GetEmail() != "account-owner@example.com" {
		t.Errorf("customer = %v, want the upstream's", x.Input.Event.GetCustomer())
	}
}

func TestExpandProfiles(t *testing.T) {
	t.Parallel()
	diff := "diff --git a/x.go b/x.go\n--- a/x.go\n+++ b/x.go\n@@ -1 +1 @@\n-a\n+b\n"
	tests := []struct {
		contentType, raw string
		want             redact.Profile
	}{
		{"text/plain; charset=utf-8", "a note", redact.ProfileProse},
		{"text/x-diff", diff, redact.ProfileCode},
		{"text/x-source", "func main() {}", redact.ProfileCode},
		{"text/x-log", "GET / 200", redact.ProfileLog},
	}
	for _, tc := range tests {
		x, err := Expand(&keelv1.IngestEvent{Raw: []byte(tc.raw), ContentType: tc.contentType}, DefaultMaxBodyBytes)
		if err != nil {
			t.Errorf("%s: %v", tc.contentType, err)
			continue
		}
		if x.Input.Profile != tc.want || x.Input.Event.GetBody() != tc.raw {
			t.Errorf("%s: profile %v body %q", tc.contentType, x.Input.Profile, x.Input.Event.GetBody())
		}
	}
}

func TestExpandRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, contentType, raw string
		kind                   error
		want                   string
	}{
		{"binary note", "text/plain", "PK\x03\x04\x00\x00\x00\x00\x00\x00\x00", message.ErrBinary, "binary"},
		{"unknown charset", "message/rfc822", "Subject: a\r\nContent-Type: text/plain; charset=x-foo\r\n\r\nbody", message.ErrEncoding, "x-foo"},
		{"not a diff", "text/x-diff", "just words\n", message.ErrMalformed, ""},
		{"too large once decoded", "text/plain", strings.Repeat("a", 2000), nil, "limit is 1024"},
		{"empty email", "message/rfc822", "Subject: \r\n\r\n   ", nil, "no text"},
		{"unknown type", "image/png", "x", nil, "image/png"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Expand(&keelv1.IngestEvent{Raw: []byte(tc.raw), ContentType: tc.contentType}, 1024)
			if !errors.Is(err, ErrUnreadable) {
				t.Fatalf("Expand = %v, want ErrUnreadable", err)
			}
			if tc.kind != nil && !errors.Is(err, tc.kind) {
				t.Errorf("Expand = %v, want it to wrap %v", err, tc.kind)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Expand = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestValidateRaw(t *testing.T) {
	t.Parallel()
	v := NewValidator(0)
	tests := []struct {
		name string
		ev   *keelv1.IngestEvent
		want string
	}{
		{"raw with body", &keelv1.IngestEvent{EventId: "a", Kind: KindEmail, Raw: []byte("x"), ContentType: "text/plain", Body: "b"}, "must be empty"},
		{"raw without type", &keelv1.IngestEvent{EventId: "a", Kind: KindEmail, Raw: []byte("x")}, "content_type"},
		{"type without raw", &keelv1.IngestEvent{EventId: "a", Kind: KindEmail, Body: "b", ContentType: "text/plain"}, "raw is empty"},
		{"unknown type", &keelv1.IngestEvent{EventId: "a", Kind: KindEmail, Raw: []byte("x"), ContentType: "application/zip"}, "application/zip"},
	}
	for _, tc := range tests {
		err := v.Validate(tc.ev, "acme", "")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate = %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
	ok := &keelv1.IngestEvent{EventId: "a", Kind: KindEmail, Raw: []byte("x"), ContentType: "message/rfc822"}
	if err := v.Validate(ok, "acme", ""); err != nil {
		t.Errorf("Validate(raw email) = %v", err)
	}
}
