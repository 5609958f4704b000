package bus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/keelhq/keel/pkg/tenant"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

// ErrNoMsgID is returned by Publish when the message id is empty: without it
// a retried publish could not be de-duplicated.
var ErrNoMsgID = errors.New("bus: message id is required")

// Publisher publishes protobuf messages on JetStream with Keel's headers.
type Publisher struct {
	js     jetstream.JetStream
	origin string
}

// NewPublisher returns a Publisher on js.
func NewPublisher(js jetstream.JetStream) *Publisher {
	return &Publisher{js: js}
}

// WithOrigin returns a Publisher on the same stream that names origin in
// the Keel-Origin header of every message.
func (p *Publisher) WithOrigin(origin string) *Publisher {
	return &Publisher{js: p.js, origin: origin}
}

// Publish sends m on subject for tenant with msgID as its Nats-Msg-Id, and
// reports whether the stream had already stored a message with that id. It
// returns ErrNoMsgID for an empty id and an error wrapping tenant.ErrInvalid
// for a malformed tenant.
func (p *Publisher) Publish(ctx context.Context, subject, msgID, tenantID string, m proto.Message) (bool, error) {
	msg, err := p.newMsg(ctx, subject, msgID, tenantID, m)
	if err != nil {
		return false, err
	}
	ack, err := p.js.PublishMsg(ctx, msg, jetstream.WithMsgID(msgID))
	if err != nil {
		return false, fmt.Errorf("publish %s: %w", subject, err)
	}
	return ack.Duplicate, nil
}

// PublishAsync sends m like Publish without waiting for the stream's
// acknowledgement: the returned future holds it. Many publishes in flight
// share network writes, which is what a high-rate publisher needs; the
// caller must check every future and publish again (same msgID) what
// failed.
func (p *Publisher) PublishAsync(
	ctx context.Context,
	subject, msgID, tenantID string,
	m proto.Message,
) (jetstream.PubAckFuture, error) {
	msg, err := p.newMsg(ctx, subject, msgID, tenantID, m)
	if err != nil {
		return nil, err
	}
	f, err := p.js.PublishMsgAsync(msg, jetstream.WithMsgID(msgID))
	if err != nil {
		return nil, fmt.Errorf("publish %s: %w", subject, err)
	}
	return f, nil
}

// newMsg builds the message of m with Keel's headers.
func (p *Publisher) newMsg(ctx context.Context, subject, msgID, tenantID string, m proto.Message) (*nats.Msg, error) {
	if msgID == "" {
		return nil, ErrNoMsgID
	}
	if err := tenant.Valid(tenantID); err != nil {
		return nil, err
	}
	body, err := proto.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("marshal %T: %w", m, err)
	}
	msg := nats.NewMsg(subject)
	msg.Data = body
	msg.Header.Set(HeaderContentType, ContentTypeProtobuf)
	msg.Header.Set(tenant.Header, tenantID)
	if p.origin != "" {
		msg.Header.Set(HeaderOrigin, p.origin)
	}
	InjectTrace(ctx, msg.Header)
	return msg, nil
}

// Audit publishes ev on the audit subject of its tenant. It fills a random id
// and the current time when ev has none; callers that may retry set a stable
// id so that the retry is de-duplicated.
func (p *Publisher) Audit(ctx context.Context, ev *keelv1.AuditEvent) error {
	if ev.GetId() == "" {
		ev.Id = NewID()
	}
	if ev.GetOccurredAt() == nil {
		ev.OccurredAt = timestamppb.New(time.Now())
	}
	_, err := p.Publish(ctx, AuditSubject(ev.GetTenantId()), ev.GetId(), ev.GetTenantId(), ev)
	return err
}

// NewID returns a random 128-bit id in hex.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
