package service

import (
	"bytes"
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/config"
	"github.com/keelhq/keel/pkg/grpcx"
	"github.com/keelhq/keel/pkg/logging"
	"github.com/keelhq/keel/pkg/natstest"
	"github.com/keelhq/keel/pkg/pgtest"
	"github.com/keelhq/keel/pkg/tenant"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/ingest/internal/intake"
)

// testVaultKey is 32 bytes of 7, base64.
const testVaultKey = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc="

// waitTimeout bounds every poll for a message the service should produce.
const waitTimeout = 30 * time.Second

// testEnv is a running ingest service with its NATS and gRPC clients.
type testEnv struct {
	js        jetstream.JetStream
	nc        *nats.Conn
	publisher *bus.Publisher
	redactor  keelv1.RedactorServiceClient
	ingest    keelv1.IngestServiceClient
}

// startService runs the service on an embedded NATS server and a fresh
// database until the test ends, and checks that it then stops cleanly.
func startService(t *testing.T) *testEnv {
	t.Helper()
	nc, js := natstest.Start(t)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}

	cfg := DefaultConfig()
	cfg.NATS.URL = natstest.URL(nc)
	cfg.Database.URL = pgtest.NewDatabase(t)
	cfg.GRPC.Addr = lis.Addr().String()
	cfg.Vault.Key = testVaultKey
	// Tenant "masked" masks cards and hashes emails; everyone else gets the
	// default placeholders.
	cfg.Redaction.Tenants = map[string]intake.PolicyConfig{
		"masked": {
			Operators:   map[string]string{"CREDIT_CARD": "mask", "EMAIL_ADDRESS": "hash"},
			Sensitivity: intake.SensitivityConfig{Keywords: map[string][]string{"restricted": {"merger"}}},
		},
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, Deps{Logger: logging.Discard(), NATS: nc, Listener: lis})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v after stop, want nil", err)
			}
		case <-time.After(waitTimeout):
			t.Error("Run did not return after its context ended")
		}
	})

	conn, err := grpcx.Dial(lis.Addr().String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &testEnv{
		js:        js,
		nc:        nc,
		publisher: bus.NewPublisher(js),
		redactor:  keelv1.NewRedactorServiceClient(conn),
		ingest:    keelv1.NewIngestServiceClient(conn),
	}
}

// waitForMessage polls stream until a message on subject satisfies match,
// and returns it.
func waitForMessage(t *testing.T, js jetstream.JetStream, stream, subject string, match func(*jetstream.RawStreamMsg) bool) *jetstream.RawStreamMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("open stream %s: %v", stream, err)
	}
	for {
		for seq := uint64(1); ; seq++ {
			msg, err := s.GetMsg(ctx, seq)
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				info, ierr := s.Info(ctx)
				if ierr == nil && seq < info.State.LastSeq {
					continue // a gap left by a deleted message
				}
				break
			}
			if err != nil {
				t.Fatalf("read %s message %d: %v", stream, seq, err)
			}
			if msg.Subject == subject && match(msg) {
				return msg
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no matching message on %s within %s", subject, waitTimeout)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitForRedacted returns the redacted event with eventID on subject.
func waitForRedacted(t *testing.T, js jetstream.JetStream, subject, eventID string) (*keelv1.RedactedEvent, []byte) {
	t.Helper()
	var ev keelv1.RedactedEvent
	msg := waitForMessage(t, js, bus.StreamRedacted, subject, func(m *jetstream.RawStreamMsg) bool {
		return m.Header.Get(jetstream.MsgIDHeader) == eventID
	})
	if err := proto.Unmarshal(msg.Data, &ev); err != nil {
		t.Fatalf("decode redacted event: %v", err)
	}
	return &ev, msg.Data
}

func tenantCtx(t *testing.T, id string) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(tenant.With(context.Background(), id), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

func TestService(t *testing.T) {
	t.Parallel()
	env := startService(t)

	t.Run("event is redacted, vaulted and audited", func(t *testing.T) {
		ctx := tenantCtx(t, "acme")
		body := "Hi, this is Jane Doe. My card 4111 1111 1111 1111 was charged twice; " +
			"call me on +44 7700 900123 or write to jane.doe@example.com.\nJane"
		in := &keelv1.IngestEvent{
			EventId:  "evt-redact-1",
			Kind:     "email",
			Source:   "helpdesk",
			Subject:  "Double charge for jane.doe@example.com",
			Body:     body,
			Customer: &keelv1.Customer{Email: "jane.doe@example.com", Name: "Jane Doe", AccountId: "acct-9"},
		}
		if _, err := env.publisher.Publish(ctx, bus.IngestSubject("acme", "email"), in.EventId, "acme", in); err != nil {
			t.Fatalf("publish: %v", err)
		}

		out, raw := waitForRedacted(t, env.js, "keel.redacted.acme.email", in.EventId)
		for _, secret := range []string{"jane.doe@example.com", "Jane Doe", "7700 900123", "4111 1111", "Jane"} {
			if bytes.Contains(raw, []byte(secret)) {
				t.Errorf("redacted event contains %q", secret)
			}
		}
		want := &keelv1.RedactedEvent{
			EventId:  "evt-redact-1",
			TenantId: "acme",
			Kind:     "email",
			Source:   "helpdesk",
			Subject:  "Double charge for [EMAIL_1]",
			Body: "Hi, this is [PERSON_1]. My card [CARD_1] was charged twice; " +
				"call me on [PHONE_1] or write to [EMAIL_1].\n[PERSON_1]",
			Customer: &keelv1.Customer{Email: "[EMAIL_1]", Name: "[PERSON_1]", AccountId: "acct-9"},
			Entities: []*keelv1.EntitySummary{
				{Type: "CREDIT_CARD", Count: 1},
				{Type: "EMAIL_ADDRESS", Count: 3},
				{Type: "PERSON", Count: 3},
				{Type: "PHONE_NUMBER", Count: 1},
			},
			VaultRef:           "evt-redact-1",
			Sensitivity:        "restricted",
			SensitivityReasons: []string{"CREDIT_CARD found"},
		}
		if diff := cmp.Diff(want, out, protocmp.Transform()); diff != "" {
			t.Errorf("redacted event mismatch (-want +got):\n%s", diff)
		}

		// The vault gives the owner its text back.
		got, err := env.redactor.Restore(ctx, &keelv1.RestoreRequest{VaultRef: out.VaultRef, Text: out.Body})
		if err != nil {
			t.Fatalf("Restore: %v", err)
		}
		// A lone first name restores as the full name, and the card only as
		// its last four digits.
		wantBody := strings.Replace(body, "\nJane", "\nJane Doe", 1)
		wantBody = strings.Replace(wantBody, "4111 1111 1111 1111", "ending 1111", 1)
		if got.GetText() != wantBody || len(got.GetUnknownPlaceholders()) != 0 {
			t.Errorf("Restore = %q (unknown %v), want %q", got.GetText(), got.GetUnknownPlaceholders(), wantBody)
		}

		// Another tenant cannot.
		_, err = env.redactor.Restore(tenantCtx(t, "globex"), &keelv1.RestoreRequest{VaultRef: out.VaultRef, Text: out.Body})
		if status.Code(err) != codes.NotFound {
			t.Errorf("Restore as another tenant: %v, want NotFound", err)
		}

		// The audit record counts entities and holds no customer text.
		audit := waitForMessage(t, env.js, bus.StreamAudit, "keel.audit.acme", func(m *jetstream.RawStreamMsg) bool {
			var ev keelv1.AuditEvent
			return proto.Unmarshal(m.Data, &ev) == nil && ev.GetAction() == "event.redacted" && ev.GetSubject() == in.EventId
		})
		var rec keelv1.AuditEvent
		if err := proto.Unmarshal(audit.Data, &rec); err != nil {
			t.Fatalf("decode audit event: %v", err)
		}
		if rec.GetActor() != "ingest" || rec.GetAttributes()["entities.CREDIT_CARD"] != "1" || rec.GetAttributes()["kind"] != "email" {
			t.Errorf("audit record = %v, want actor ingest, kind email and one CREDIT_CARD", &rec)
		}
		for _, secret := range []string{"jane", "Jane", "4111", "7700"} {
			if bytes.Contains(audit.Data, []byte(secret)) {
				t.Errorf("audit record contains %q", secret)
			}
		}
	})

	t.Run("malformed events are dead-lettered and the next one completes", func(t *testing.T) {
		ctx := tenantCtx(t, "acme")

		// Protobuf with a body that is not UTF-8; proto.Marshal refuses to
		// build it, so it is encoded by hand.
		var bad []byte
		bad = protowire.AppendTag(bad, 1, protowire.BytesType)
		bad = protowire.AppendString(bad, "evt-bad-utf8")
		bad = protowire.AppendTag(bad, 3, protowire.BytesType)
		bad = protowire.AppendString(bad, "email")
		bad = protowire.AppendTag(bad, 6, protowire.BytesType)
		bad = protowire.AppendString(bad, "caf\xe9 \xff")
		publishRaw(t, env.js, "keel.ingest.acme.email", "evt-bad-utf8", bus.ContentTypeProtobuf, bad)

		// JSON from an upstream system that forgot the event id.
		publishRaw(t, env.js, "keel.ingest.acme.email", "json-no-id", bus.ContentTypeJSON,
			[]byte(`{"kind":"email","subject":"Hello","body":"Call +44 7700 900123"}`))

		good := &keelv1.IngestEvent{EventId: "evt-after-bad", Kind: "email", Body: "All good now."}
		if _, err := env.publisher.Publish(ctx, "keel.ingest.acme.email", good.EventId, "acme", good); err != nil {
			t.Fatalf("publish: %v", err)
		}
		out, _ := waitForRedacted(t, env.js, "keel.redacted.acme.email", good.EventId)
		if out.GetBody() != "All good now." || out.GetSensitivity() != "internal" {
			t.Errorf("redacted event = %v, want the body unchanged and sensitivity internal", out)
		}

		for _, tc := range []struct{ msgID, reason string }{
			{msgID: "evt-bad-utf8", reason: "invalid UTF-8"},
			{msgID: "json-no-id", reason: "event_id is required"},
		} {
			dl := waitForMessage(t, env.js, bus.StreamDLQ, "keel.dlq.acme.ingest", func(m *jetstream.RawStreamMsg) bool {
				return m.Header.Get(bus.HeaderDLQMsgID) == tc.msgID
			})
			if reason := dl.Header.Get(bus.HeaderDLQError); !strings.Contains(reason, tc.reason) {
				t.Errorf("dead letter %s has reason %q, want it to mention %q", tc.msgID, reason, tc.reason)
			}
			if stage := dl.Header.Get(bus.HeaderDLQStage); stage != "ingest" {
				t.Errorf("dead letter %s has stage %q, want ingest", tc.msgID, stage)
			}
		}

		// The refusal of the event that reached validation is audited.
		waitForMessage(t, env.js, bus.StreamAudit, "keel.audit.acme", func(m *jetstream.RawStreamMsg) bool {
			var ev keelv1.AuditEvent
			return proto.Unmarshal(m.Data, &ev) == nil && ev.GetAction() == "event.rejected" &&
				strings.Contains(ev.GetAttributes()["reason"], "event_id is required")
		})
	})

	t.Run("a second event under a taken id is refused, not mixed up", func(t *testing.T) {
		ctx := tenantCtx(t, "acme")
		first := &keelv1.IngestEvent{EventId: "evt-shared-id", Kind: "email", Body: "Where is my order?",
			Customer: &keelv1.Customer{Email: "denise@example.com"}}
		if _, err := env.publisher.Publish(ctx, "keel.ingest.acme.email", "src-a-1", "acme", first); err != nil {
			t.Fatalf("publish: %v", err)
		}
		waitForRedacted(t, env.js, "keel.redacted.acme.email", first.EventId)

		// Another upstream reuses the id with other content (and its own
		// message id, so JetStream does not de-duplicate it).
		second := &keelv1.IngestEvent{EventId: "evt-shared-id", Kind: "email", Body: "Send it to me instead.",
			Customer: &keelv1.Customer{Email: "mallory@evil.example"}}
		if _, err := env.publisher.Publish(ctx, "keel.ingest.acme.email", "src-b-1", "acme", second); err != nil {
			t.Fatalf("publish: %v", err)
		}
		dl := waitForMessage(t, env.js, bus.StreamDLQ, "keel.dlq.acme.ingest", func(m *jetstream.RawStreamMsg) bool {
			return m.Header.Get(bus.HeaderDLQMsgID) == "src-b-1"
		})
		if reason := dl.Header.Get(bus.HeaderDLQError); !strings.Contains(reason, "already used by a different event") {
			t.Errorf("dead letter reason = %q", reason)
		}
		res, err := env.redactor.Restore(ctx, &keelv1.RestoreRequest{VaultRef: "evt-shared-id", Text: "[EMAIL_1]"})
		if err != nil || res.GetText() != "denise@example.com" {
			t.Fatalf("Restore = %v, %v; want the first event's address", res, err)
		}
	})

	t.Run("submit reports duplicates", func(t *testing.T) {
		ctx := tenantCtx(t, "acme")
		ev := &keelv1.IngestEvent{EventId: "ticket-77", Kind: "ticket", Subject: "Login fails from 203.0.113.9"}

		first, err := env.ingest.Submit(ctx, &keelv1.SubmitRequest{Event: ev})
		if err != nil {
			t.Fatalf("Submit: %v", err)
		}
		second, err := env.ingest.Submit(ctx, &keelv1.SubmitRequest{Event: ev})
		if err != nil {
			t.Fatalf("Submit again: %v", err)
		}
		if first.GetDuplicate() || !second.GetDuplicate() || second.GetEventId() != "ticket-77" {
			t.Errorf("Submit twice = %v then %v, want duplicate false then true", first, second)
		}

		out, _ := waitForRedacted(t, env.js, "keel.redacted.acme.ticket", "ticket-77")
		if out.GetSubject() != "Login fails from [IP_1]" || out.GetTenantId() != "acme" || out.GetSensitivity() != "confidential" {
			t.Errorf("redacted submitted event = %v", out)
		}
	})

	t.Run("submit refuses bad events", func(t *testing.T) {
		ctx := tenantCtx(t, "acme")
		tests := []struct {
			name      string
			event     *keelv1.IngestEvent
			wantField string
		}{
			{name: "no event"},
			{name: "other tenant", wantField: "event.tenant_id",
				event: &keelv1.IngestEvent{EventId: "x1", TenantId: "globex", Kind: "note", Body: "b"}},
			{name: "unknown kind", wantField: "event.kind",
				event: &keelv1.IngestEvent{EventId: "x2", Kind: "fax", Body: "b"}},
			{name: "no event id", wantField: "event.event_id",
				event: &keelv1.IngestEvent{Kind: "note", Body: "b"}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				_, err := env.ingest.Submit(ctx, &keelv1.SubmitRequest{Event: tc.event})
				st := status.Convert(err)
				if st.Code() != codes.InvalidArgument {
					t.Fatalf("Submit: %v, want InvalidArgument", err)
				}
				if tc.wantField == "" {
					return
				}
				var fields []string
				for _, d := range st.Details() {
					if br, ok := d.(*errdetails.BadRequest); ok {
						for _, v := range br.GetFieldViolations() {
							fields = append(fields, v.GetField())
						}
					}
				}
				if diff := cmp.Diff([]string{tc.wantField}, fields); diff != "" {
					t.Errorf("field violations mismatch (-want +got):\n%s", diff)
				}
			})
		}
	})

	t.Run("redact call", func(t *testing.T) {
		ctx := tenantCtx(t, "acme")
		resp, err := env.redactor.Redact(ctx, &keelv1.RedactRequest{Text: "Grüße an jürgen@example.de, Tel. +49 30 1234567"})
		if err != nil {
			t.Fatalf("Redact: %v", err)
		}
		want := &keelv1.RedactResponse{
			Text: "Grüße an [EMAIL_1], Tel. [PHONE_1]",
			Entities: []*keelv1.Entity{
				{Type: "EMAIL_ADDRESS", Start: 9, End: 26, Score: 0.95, Replacement: "[EMAIL_1]", Operator: "replace"},
				{Type: "PHONE_NUMBER", Start: 33, End: 47, Score: 1, Replacement: "[PHONE_1]", Operator: "replace"},
			},
			Sensitivity: "confidential",
		}
		if diff := cmp.Diff(want, resp, protocmp.Transform()); diff != "" {
			t.Errorf("Redact mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("redact call under the tenant's policy and content type", func(t *testing.T) {
		resp, err := env.redactor.Redact(tenantCtx(t, "masked"), &keelv1.RedactRequest{
			Text: "card 4111 1111 1111 1111 for ann@example.com",
		})
		if err != nil {
			t.Fatalf("Redact: %v", err)
		}
		if !strings.HasPrefix(resp.GetText(), "card **** **** **** 1111 for [EMAIL:") || resp.GetSensitivity() != "restricted" {
			t.Errorf("Redact = %q (%s), want the card masked and the address hashed", resp.GetText(), resp.GetSensitivity())
		}
		_, err = env.redactor.Redact(tenantCtx(t, "acme"), &keelv1.RedactRequest{Text: "x", ContentType: "image/png"})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("Redact with content_type image/png: %v, want InvalidArgument", err)
		}
	})

	t.Run("raw MIME email is parsed, redacted and its quoted chain set apart", func(t *testing.T) {
		ctx := tenantCtx(t, "acme")
		raw := "From: =?UTF-8?Q?Zo=C3=AB_Martin?= <zoe.martin@example.com>\r\n" +
			"To: support@shop.example\r\n" +
			"Subject: =?UTF-8?B?UmVmdW5kIGZvciBvcmRlciA0NDE=?=\r\n" +
			"Date: Tue, 01 Dec 2026 10:00:00 +0000\r\n" +
			"MIME-Version: 1.0\r\n" +
			"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n" +
			"--b1\r\n" +
			"Content-Type: text/plain; charset=iso-8859-1\r\n" +
			"Content-Transfer-Encoding: quoted-printable\r\n\r\n" +
			"Bonjour, r=E9f=E9rence de carte 4111 1111 1111 1111.\r\n" +
			"Zo=EB\r\n\r\n" +
			"On Mon, 30 Nov 2026 at 09:00, Support <support@shop.example> wrote:\r\n" +
			"> Please send us your card number, Zo=EB.\r\n" +
			"--b1\r\n" +
			"Content-Type: application/pdf; name=\"receipt-zoe-martin.pdf\"\r\n" +
			"Content-Disposition: attachment; filename=\"receipt-zoe-martin.pdf\"\r\n" +
			"Content-Transfer-Encoding: base64\r\n\r\n" +
			"JVBERi0xLjQKJcfsj6IKMSAwIG9iago8PC9UeXBlL0NhdGFsb2c+PgplbmRvYmoK\r\n" +
			"--b1--\r\n"
		in := &keelv1.IngestEvent{EventId: "mime-1", Kind: "email", Raw: []byte(raw), ContentType: "message/rfc822"}
		if _, err := env.publisher.Publish(ctx, bus.IngestSubject("acme", "email"), in.EventId, "acme", in); err != nil {
			t.Fatalf("publish: %v", err)
		}
		out, data := waitForRedacted(t, env.js, "keel.redacted.acme.email", in.EventId)
		for _, secret := range []string{"zoe.martin", "Zoë", "4111 1111", "Martin"} {
			if bytes.Contains(data, []byte(secret)) {
				t.Errorf("redacted event contains %q", secret)
			}
		}
		if out.GetSubject() != "Refund for order 441" {
			t.Errorf("subject = %q", out.GetSubject())
		}
		if !strings.Contains(out.GetBody(), "référence de carte [CARD_1]") || strings.Contains(out.GetBody(), "Please send") {
			t.Errorf("body = %q, want the decoded new text only", out.GetBody())
		}
		if !strings.Contains(out.GetQuoted(), "Please send us your card number, [PERSON_1].") {
			t.Errorf("quoted = %q, want the reply chain, redacted", out.GetQuoted())
		}
		if c := out.GetCustomer(); c.GetEmail() != "[EMAIL_1]" || c.GetName() != "[PERSON_1]" {
			t.Errorf("customer = %v, want the sender as placeholders", c)
		}
		if a := out.GetAttachments(); len(a) != 1 || a[0].GetMediaType() != "application/pdf" ||
			a[0].GetFilename() != "receipt-zoe-martin.pdf" && !strings.Contains(a[0].GetFilename(), "[PERSON_") || a[0].GetSizeBytes() == 0 {
			t.Errorf("attachments = %v, want the PDF listed", a)
		}
		if out.GetReceivedAt().AsTime().Day() != 1 {
			t.Errorf("received_at = %v, want the Date header", out.GetReceivedAt().AsTime())
		}
	})

	t.Run("unreadable raw content is dead-lettered with the reason", func(t *testing.T) {
		ctx := tenantCtx(t, "acme")
		for _, tc := range []struct {
			id, contentType, raw, reason string
		}{
			{"raw-binary", "text/plain", "\x00\x01\x02PK\x03\x04\x00\x00\x00\x00\x00binary", "binary"},
			{"raw-charset", "message/rfc822", "Subject: x\r\nContent-Type: text/plain; charset=x-klingon\r\n\r\nqapla", "x-klingon"},
			{"raw-diff", "text/x-diff", "@@ -1,2 +1,2 @@\n-a\n", "diff"},
		} {
			in := &keelv1.IngestEvent{EventId: tc.id, Kind: "note", Raw: []byte(tc.raw), ContentType: tc.contentType}
			if _, err := env.publisher.Publish(ctx, bus.IngestSubject("acme", "note"), tc.id, "acme", in); err != nil {
				t.Fatalf("publish: %v", err)
			}
			dl := waitForMessage(t, env.js, bus.StreamDLQ, "keel.dlq.acme.ingest", func(m *jetstream.RawStreamMsg) bool {
				return m.Header.Get(bus.HeaderDLQMsgID) == tc.id
			})
			if reason := dl.Header.Get(bus.HeaderDLQError); !strings.Contains(reason, tc.reason) {
				t.Errorf("%s: dead letter reason %q, want it to mention %q", tc.id, reason, tc.reason)
			}
		}
		// A diff that parses is redacted as code.
		diff := "diff --git a/.env b/.env\n--- a/.env\n+++ b/.env\n@@ -1 +1,2 @@\n APP=shop\n+ADMIN_EMAIL=ops.lead@example.com\n"
		in := &keelv1.IngestEvent{EventId: "raw-diff-ok", Kind: "note", Raw: []byte(diff), ContentType: "text/x-diff"}
		if _, err := env.publisher.Publish(ctx, bus.IngestSubject("acme", "note"), in.EventId, "acme", in); err != nil {
			t.Fatalf("publish: %v", err)
		}
		out, _ := waitForRedacted(t, env.js, "keel.redacted.acme.note", in.EventId)
		if !strings.Contains(out.GetBody(), "+ADMIN_EMAIL=[EMAIL_1]\n") {
			t.Errorf("diff body = %q", out.GetBody())
		}
	})

	t.Run("tenant policy and keyword rule", func(t *testing.T) {
		ctx := tenantCtx(t, "masked")
		in := &keelv1.IngestEvent{EventId: "pol-1", Kind: "note", Body: "Merger call: card 5555 5555 5555 4444, ann@example.com"}
		if _, err := env.publisher.Publish(ctx, bus.IngestSubject("masked", "note"), in.EventId, "masked", in); err != nil {
			t.Fatalf("publish: %v", err)
		}
		out, _ := waitForRedacted(t, env.js, "keel.redacted.masked.note", in.EventId)
		if !strings.HasPrefix(out.GetBody(), "Merger call: card **** **** **** 4444, [EMAIL:") {
			t.Errorf("body = %q", out.GetBody())
		}
		want := []string{"CREDIT_CARD found", `tenant rule: keyword "merger"`}
		if out.GetSensitivity() != "restricted" || !slices.Equal(out.GetSensitivityReasons(), want) {
			t.Errorf("sensitivity = %s %q, want restricted %q", out.GetSensitivity(), out.GetSensitivityReasons(), want)
		}
	})

	t.Run("restore needs a reference", func(t *testing.T) {
		ctx := tenantCtx(t, "acme")
		_, err := env.redactor.Restore(ctx, &keelv1.RestoreRequest{Text: "[EMAIL_1]"})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("Restore without vault_ref: %v, want InvalidArgument", err)
		}
		_, err = env.redactor.Restore(ctx, &keelv1.RestoreRequest{VaultRef: "never-seen", Text: "[EMAIL_1]"})
		if status.Code(err) != codes.NotFound {
			t.Errorf("Restore of unknown vault_ref: %v, want NotFound", err)
		}
	})
}

// publishRaw publishes data as it is, for payloads that Publisher would
// refuse to build.
func publishRaw(t *testing.T, js jetstream.JetStream, subject, msgID, contentType string, data []byte) {
	t.Helper()
	msg := nats.NewMsg(subject)
	msg.Data = data
	msg.Header.Set(bus.HeaderContentType, contentType)
	msg.Header.Set(tenant.Header, "acme")
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if _, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(msgID)); err != nil {
		t.Fatalf("publish raw: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	valid := DefaultConfig()
	valid.Database.URL = "postgres://127.0.0.1/keel"
	valid.Vault.Key = testVaultKey

	tests := []struct {
		name     string
		edit     func(*Config)
		wantErrs []string
	}{
		{name: "valid", edit: func(*Config) {}},
		{name: "defaults lack database and key", edit: func(c *Config) { *c = DefaultConfig() },
			wantErrs: []string{"database url", "vault key"}},
		{name: "short key", edit: func(c *Config) { c.Vault.Key = "c2hvcnQ=" },
			wantErrs: []string{"vault key"}},
		{name: "everything missing", edit: func(c *Config) { *c = Config{} },
			wantErrs: []string{"nats url", "database url", "grpc addr", "vault key", "phone_regions", "vault ttl", "purge_interval", "max_body_bytes"}},
		{name: "bad redaction policy", edit: func(c *Config) {
			c.Redaction.Tenants = map[string]intake.PolicyConfig{"acme": {Operators: map[string]string{"CREDIT_CARD": "shred"}}}
		}, wantErrs: []string{`redaction: policy of tenant "acme": operators: CREDIT_CARD: unknown operator "shred"`}},
		{name: "model url not http", edit: func(c *Config) { c.Redaction.Model.URL = "unix:///tmp/ner.sock" },
			wantErrs: []string{"redaction model url"}},
		{name: "body limit too large", edit: func(c *Config) { c.Intake.MaxBodyBytes = 4 << 20 },
			wantErrs: []string{"max_body_bytes"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := valid
			tc.edit(&cfg)
			err := cfg.Validate()
			if len(tc.wantErrs) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate: nil, want errors about %v", tc.wantErrs)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.wantErrs) {
				t.Errorf("Validate reported %d problems, want %d:\n%v", len(lines), len(tc.wantErrs), err)
			}
			for _, want := range tc.wantErrs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate error %q does not mention %q", err, want)
				}
			}
		})
	}
}

func TestVaultConfigLogValueHidesKey(t *testing.T) {
	t.Parallel()
	v := VaultConfig{Key: testVaultKey, TTL: time.Hour}.LogValue()
	if strings.Contains(v.String(), testVaultKey) {
		t.Errorf("LogValue %q shows the key", v.String())
	}
}

func TestExampleConfigLoads(t *testing.T) {
	t.Setenv("KEEL_DATABASE_URL", "postgres://127.0.0.1/keel")
	t.Setenv("KEEL_VAULT_KEY", testVaultKey)
	cfg := DefaultConfig()
	if err := config.Load("../../../deploy/ingest/ingest.yaml", &cfg); err != nil {
		t.Fatalf("load the example: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the example does not validate: %v", err)
	}
	if got := cfg.Redaction.Tenants["larkspur"].Operators["CREDIT_CARD"]; got != "mask" {
		t.Errorf("larkspur CREDIT_CARD operator = %q, want mask", got)
	}
	if len(cfg.Redaction.PhoneRegions) != 3 || cfg.Vault.PurgeInterval != time.Hour {
		t.Errorf("config = %+v", cfg.Redaction)
	}
}
