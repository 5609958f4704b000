package copilot

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/keelhq/keel/pkg/tenant"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

func sendInput() SendInput {
	return SendInput{
		TenantID:    "acme",
		WorkflowID:  testWorkflowID,
		EventID:     "evt-1",
		VaultRef:    "vault-1",
		CustomerRef: "<EMAIL_1>",
		Subject:     "Re: Order for <NAME_1>",
		Body:        "Hi <NAME_1>, see <URL_9>.",
		Decision:    OutcomeEdited,
		Reviewer:    "ana",
		SentAt:      time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC),
	}
}

func TestSendReplyRestoresAndPublishes(t *testing.T) {
	t.Parallel()

	b := newBackends()
	acts := b.activities(nil)

	res, err := acts.SendReply(context.Background(), sendInput())
	if err != nil {
		t.Fatalf("SendReply: %v", err)
	}
	if res.Duplicate || res.UnknownPlaceholders != 1 {
		t.Errorf("result = %+v, want not duplicate with 1 unknown placeholder", res)
	}

	out := b.publishedOn("keel.outbound.")
	if len(out) != 1 || out[0].Subject != "keel.outbound.acme.email" || out[0].MsgID != testWorkflowID || out[0].Tenant != "acme" {
		t.Fatalf("published = %+v, want one reply on keel.outbound.acme.email with the workflow id", out)
	}
	want := &keelv1.OutboundMessage{
		TenantId:   "acme",
		WorkflowId: testWorkflowID,
		EventId:    "evt-1",
		To:         "margaret.okafor@example.com",
		Subject:    "Re: Order for Margaret",
		Body:       "Hi Margaret, see <URL_9>.",
		Decision:   OutcomeEdited,
		Reviewer:   "ana",
		SentAt:     timestamppb.New(sendInput().SentAt),
	}
	if diff := cmp.Diff(want, out[0].Msg, protocmp.Transform()); diff != "" {
		t.Errorf("reply (-want +got):\n%s", diff)
	}

	// A retry of the activity publishes nothing new.
	res, err = acts.SendReply(context.Background(), sendInput())
	if err != nil || !res.Duplicate {
		t.Errorf("second SendReply = %+v, %v; want a duplicate", res, err)
	}
	if got := len(b.publishedOn("keel.outbound.")); got != 1 {
		t.Errorf("replies stored after retry = %d, want 1", got)
	}
	for i, tn := range b.tenants {
		if tn != "acme" {
			t.Errorf("restore call %d carried tenant %q, want acme", i, tn)
		}
	}
}

func TestSendReplyWithoutAddressIsNotRetried(t *testing.T) {
	t.Parallel()

	b := newBackends()
	in := sendInput()
	in.CustomerRef = "<EMAIL_4>" // not in the vault

	_, err := b.activities(nil).SendReply(context.Background(), in)

	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || !appErr.NonRetryable() || appErr.Type() != "UnknownCustomer" {
		t.Fatalf("error = %v, want a non-retryable UnknownCustomer", err)
	}
	if got := len(b.published); got != 0 {
		t.Errorf("published %d messages, want none", got)
	}
}

func TestCallToolActsForTheEmailSender(t *testing.T) {
	t.Parallel()

	b := newBackends()
	acts := b.activities(demoOrders(t))
	call := &keelv1.ToolCall{Name: ToolLookupOrder, ArgumentsJson: `{"order_id":"ORD-10421"}`}

	tests := []struct {
		name        string
		customerRef string
		wantError   string
	}{
		{name: "known sender", customerRef: "<EMAIL_1>"},
		{name: "sender not in vault", customerRef: "<EMAIL_2>", wantError: "no order ORD-10421 for this customer"},
		{name: "no sender", customerRef: "", wantError: "no order ORD-10421 for this customer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, err := acts.CallTool(context.Background(), ToolInput{
				TenantID: "acme", VaultRef: "vault-1", CustomerRef: tt.customerRef, Call: call,
			})
			if err != nil {
				t.Fatalf("CallTool: %v", err)
			}
			if got.GetError() != tt.wantError {
				t.Errorf("tool error = %q, want %q", got.GetError(), tt.wantError)
			}
		})
	}
}

func TestRecordNeedsAnID(t *testing.T) {
	t.Parallel()

	b := newBackends()
	err := b.activities(nil).Record(context.Background(), &keelv1.AuditEvent{TenantId: "acme", Action: "x"})

	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || !appErr.NonRetryable() {
		t.Errorf("Record without id: %v, want a non-retryable error", err)
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name          string
		err           error
		wantRetryable bool
	}{
		{name: "unavailable", err: status.Error(codes.Unavailable, "down"), wantRetryable: true},
		{name: "deadline", err: status.Error(codes.DeadlineExceeded, "slow"), wantRetryable: true},
		{name: "invalid argument", err: status.Error(codes.InvalidArgument, "bad"), wantRetryable: false},
		{name: "wrapped permission denied", err: fmt.Errorf("call: %w", status.Error(codes.PermissionDenied, "no")),
			wantRetryable: false},
		{name: "bad tenant", err: fmt.Errorf("publish: %w", tenant.ErrInvalid), wantRetryable: false},
		{name: "plain error", err: errors.New("boom"), wantRetryable: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			err := classify("do thing", tt.err)
			var appErr *temporal.ApplicationError
			nonRetryable := errors.As(err, &appErr) && appErr.NonRetryable()
			if nonRetryable == tt.wantRetryable {
				t.Errorf("classify(%v) non-retryable = %v, want %v", tt.err, nonRetryable, !tt.wantRetryable)
			}
		})
	}
	if classify("x", nil) != nil {
		t.Error("classify(nil) != nil")
	}
}
