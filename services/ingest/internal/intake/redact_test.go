package intake

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/ingest/redact"
)

func TestRedactEvent(t *testing.T) {
	t.Parallel()
	received := timestamppb.New(timestamppb.Now().AsTime())
	ev := &keelv1.IngestEvent{
		EventId:    "evt-1",
		TenantId:   "acme",
		Kind:       KindEmail,
		Source:     "helpdesk",
		Subject:    "Card 4111 1111 1111 1111 charged twice",
		Body:       "Hi, Jane Doe here (jane@example.com). Call +44 7700 900123.\nJane",
		Customer:   &keelv1.Customer{Email: "jane@example.com", Name: "Jane Doe", AccountId: "acct-42"},
		ReceivedAt: received,
		Metadata:   map[string]string{"reply_to": "jane@example.com", "priority": "high"},
		Acl:        []string{"group:support"},
	}
	got := RedactEvent(context.Background(), redact.New(), DefaultRules().For("acme"), &Input{Event: ev})

	want := &keelv1.RedactedEvent{
		EventId:    "evt-1",
		TenantId:   "acme",
		Kind:       KindEmail,
		Source:     "helpdesk",
		Subject:    "Card [CARD_1] charged twice",
		Body:       "Hi, [PERSON_1] here ([EMAIL_1]). Call [PHONE_1].\n[PERSON_1]",
		Customer:   &keelv1.Customer{Email: "[EMAIL_1]", Name: "[PERSON_1]", AccountId: "acct-42"},
		ReceivedAt: received,
		Metadata:   map[string]string{"reply_to": "[EMAIL_1]", "priority": "high"},
		Acl:        []string{"group:support"},
		Entities: []*keelv1.EntitySummary{
			{Type: "CREDIT_CARD", Count: 1},
			{Type: "EMAIL_ADDRESS", Count: 3},
			{Type: "PERSON", Count: 3},
			{Type: "PHONE_NUMBER", Count: 1},
		},
		Sensitivity:        SensitivityRestricted,
		SensitivityReasons: []string{"CREDIT_CARD found"},
	}
	if diff := cmp.Diff(want, got.Event, protocmp.Transform()); diff != "" {
		t.Errorf("RedactEvent mismatch (-want +got):\n%s", diff)
	}
	wantOriginals := map[string]string{
		"[EMAIL_1]":  "jane@example.com",
		"[PERSON_1]": "Jane Doe",
		"[CARD_1]":   "4111 1111 1111 1111",
		"[PHONE_1]":  "+44 7700 900123",
	}
	if diff := cmp.Diff(wantOriginals, got.Originals); diff != "" {
		t.Errorf("Originals mismatch (-want +got):\n%s", diff)
	}

	// The input is left alone.
	if !strings.Contains(ev.GetBody(), "jane@example.com") {
		t.Error("RedactEvent changed its input")
	}
}

func TestRedactEventArticleKeepsContactPoints(t *testing.T) {
	t.Parallel()
	ev := &keelv1.IngestEvent{
		EventId: "kb-contact",
		Kind:    KindArticle,
		Title:   "Contact us",
		Body:    "Write to help@shop.example or call +44 20 7946 0958. Never send a card such as 4111 1111 1111 1111.",
	}
	got := RedactEvent(context.Background(), redact.New(), DefaultRules().For("acme"), &Input{Event: ev})

	want := "Write to help@shop.example or call +44 20 7946 0958. Never send a card such as [CARD_1]."
	if got.Event.GetBody() != want {
		t.Errorf("article body = %q, want %q", got.Event.GetBody(), want)
	}
	if diff := cmp.Diff(map[string]string{"[CARD_1]": "4111 1111 1111 1111"}, got.Originals); diff != "" {
		t.Errorf("Originals mismatch (-want +got):\n%s", diff)
	}
	if got.Event.GetSensitivity() != SensitivityRestricted {
		t.Errorf("sensitivity = %q, want restricted for an article quoting a card", got.Event.GetSensitivity())
	}
}

func TestRedactEventWithoutCustomer(t *testing.T) {
	t.Parallel()
	got := RedactEvent(context.Background(), redact.New(), DefaultRules().For("acme"), &Input{Event: &keelv1.IngestEvent{EventId: "e", Kind: KindNote, Body: "all fine"}})
	if got.Event.GetCustomer() != nil {
		t.Errorf("Customer = %v, want nil", got.Event.GetCustomer())
	}
	if got.Event.GetSensitivity() != SensitivityInternal || len(got.Originals) != 0 {
		t.Errorf("got sensitivity %q and %d originals, want internal and none",
			got.Event.GetSensitivity(), len(got.Originals))
	}
}
