package bus

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/keelhq/keel/pkg/tenant"
)

// Defaults of ConsumerConfig.
const (
	DefaultMaxDeliver = 5
	DefaultAckWait    = 30 * time.Second
)

// DefaultBackoff is the delay before each redelivery of a message whose
// handler failed: the n-th failure waits DefaultBackoff[n-1], the last entry
// repeating.
var DefaultBackoff = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute}

// ConsumerConfig describes a durable pull consumer and how its failures are
// handled.
type ConsumerConfig struct {
	// Stream the consumer reads, for example StreamRedacted.
	Stream string
	// Durable is the consumer's name; restarts resume where it left off.
	Durable string
	// Stage names the processing step in dead-letter subjects and headers.
	Stage string
	// FilterSubjects limits the consumer to these subjects.
	FilterSubjects []string
	// MaxDeliver bounds deliveries of one message; DefaultMaxDeliver if 0.
	MaxDeliver int
	// Backoff is the redelivery delay per failed attempt; DefaultBackoff if nil.
	Backoff []time.Duration
	// AckWait is how long a delivery may run before it is redelivered;
	// DefaultAckWait if 0.
	AckWait time.Duration
	// Workers is how many messages are handled at once (1 if 0). With more
	// than one, Consume needs a key: messages with the same key are handled
	// one after another in stream order, others side by side.
	Workers int
}

func (c ConsumerConfig) withDefaults() ConsumerConfig {
	if c.MaxDeliver <= 0 {
		c.MaxDeliver = DefaultMaxDeliver
	}
	if len(c.Backoff) == 0 {
		c.Backoff = DefaultBackoff
	}
	if c.AckWait <= 0 {
		c.AckWait = DefaultAckWait
	}
	if c.Stage == "" {
		c.Stage = c.Durable
	}
	if c.Workers <= 0 {
		c.Workers = 1
	}
	return c
}

// Delivery is one decoded message handed to a handler.
type Delivery[T proto.Message] struct {
	Subject      string
	Tenant       string
	MsgID        string
	Msg          T
	Header       nats.Header
	NumDelivered uint64
}

// permanentError marks an error that no retry can fix.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as one that redelivery cannot fix: Consume sends the
// message to the dead-letter subject at once. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err: err}
}

// IsPermanent reports whether err, or an error it wraps, was marked Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// Consume creates or updates the durable pull consumer cfg and passes each
// message, decoded into a fresh newMsg(), to handle until ctx ends. It
// returns nil when ctx ends and an error when the consumer cannot be set up.
// Messages are handled one at a time; ConsumeKeyed handles several at once.
//
// A message is dead-lettered to keel.dlq.<tenant>.<stage> and acked, so it
// never blocks the ones behind it, when its subject and Keel-Tenant header
// disagree, when it cannot be decoded, when handle returns a Permanent error,
// or when handle has failed MaxDeliver times. Any other handler error naks
// the message with the configured backoff.
func Consume[T proto.Message](
	ctx context.Context,
	js jetstream.JetStream,
	cfg ConsumerConfig,
	newMsg func() T,
	handle func(ctx context.Context, d Delivery[T]) error,
	logger *slog.Logger,
) error {
	cfg.Workers = 1
	return ConsumeKeyed(ctx, js, cfg, newMsg, nil, handle, logger)
}

// ConsumeKeyed is Consume with cfg.Workers messages handled at once.
// Messages whose deliveries have the same key are handled by the same
// worker, one after another in the order they arrive, so that, for
// example, two versions of one document are never applied out of order by
// this consumer. key may be nil when cfg.Workers is 1.
func ConsumeKeyed[T proto.Message](
	ctx context.Context,
	js jetstream.JetStream,
	cfg ConsumerConfig,
	newMsg func() T,
	key func(Delivery[T]) string,
	handle func(ctx context.Context, d Delivery[T]) error,
	logger *slog.Logger,
) error {
	cfg = cfg.withDefaults()
	if cfg.Workers > 1 && key == nil {
		return fmt.Errorf("consumer %s: %d workers need a key", cfg.Durable, cfg.Workers)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, cfg.Stream, jetstream.ConsumerConfig{
		Durable:        cfg.Durable,
		FilterSubjects: cfg.FilterSubjects,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        cfg.AckWait,
		MaxDeliver:     cfg.MaxDeliver,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("create consumer %s on %s: %w", cfg.Durable, cfg.Stream, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("open consumer %s: %w", cfg.Durable, err)
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	defer it.Stop()

	log := logger.With("consumer", cfg.Durable, "stream", cfg.Stream)
	handleOne := func(j job[T]) {
		settle(ctx, js, cfg, j, runHandler(j.ctx, handle, j.delivery), j.log)
	}

	// With several workers each has a queue of one; the reader waits for a
	// busy worker rather than running ahead of it, so that deliveries do
	// not sit unhandled for long after they were fetched.
	var queues []chan job[T]
	var workers sync.WaitGroup
	if cfg.Workers > 1 {
		queues = make([]chan job[T], cfg.Workers)
		for i := range queues {
			queues[i] = make(chan job[T], 1)
			workers.Go(func() {
				for j := range queues[i] {
					handleOne(j)
				}
			})
		}
		defer func() {
			for _, q := range queues {
				close(q)
			}
			workers.Wait()
		}()
	}

	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			log.Warn("fetch message failed, retrying", "error", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
			continue
		}
		j, ok := prepare(ctx, js, cfg, msg, newMsg, log)
		if !ok {
			continue
		}
		if queues == nil {
			handleOne(j)
			continue
		}
		h := fnv.New32a()
		h.Write([]byte(key(j.delivery)))
		queues[h.Sum32()%uint32(len(queues))] <- j
	}
}

// job is a decoded delivery waiting for its handler.
type job[T proto.Message] struct {
	msg      jetstream.Msg
	delivery Delivery[T]
	ctx      context.Context
	log      *slog.Logger
}

// prepare checks msg's tenant and decodes it. A message that fails either
// is dead-lettered and prepare reports false.
func prepare[T proto.Message](
	ctx context.Context,
	js jetstream.JetStream,
	cfg ConsumerConfig,
	msg jetstream.Msg,
	newMsg func() T,
	log *slog.Logger,
) (job[T], bool) {
	var delivered uint64 = 1
	if md, err := msg.Metadata(); err == nil {
		delivered = md.NumDelivered
	}
	subject := msg.Subject()
	header := msg.Headers()
	if header == nil {
		header = nats.Header{}
	}
	log = log.With("subject", subject)

	tenantID, err := messageTenant(subject, header)
	if err != nil {
		deadLetter(ctx, js, cfg, msg, tenantID, delivered, err, log)
		return job[T]{}, false
	}
	log = log.With("tenant", tenantID)

	m := newMsg()
	if err := decode(header.Get(HeaderContentType), msg.Data(), m); err != nil {
		deadLetter(ctx, js, cfg, msg, tenantID, delivered, err, log)
		return job[T]{}, false
	}
	return job[T]{
		msg: msg,
		delivery: Delivery[T]{
			Subject:      subject,
			Tenant:       tenantID,
			MsgID:        header.Get(jetstream.MsgIDHeader),
			Msg:          m,
			Header:       header,
			NumDelivered: delivered,
		},
		ctx: tenant.With(ExtractTrace(ctx, header), tenantID),
		log: log,
	}, true
}

// settle acks, naks or dead-letters j's message by the handler's outcome.
func settle[T proto.Message](ctx context.Context, js jetstream.JetStream, cfg ConsumerConfig, j job[T], err error, log *slog.Logger) {
	msg, delivered := j.msg, j.delivery.NumDelivered
	switch {
	case err == nil:
		if err := msg.Ack(); err != nil {
			log.Warn("ack failed; the message will be redelivered", "error", err)
		}
	case IsPermanent(err) || delivered >= uint64(cfg.MaxDeliver):
		deadLetter(ctx, js, cfg, msg, j.delivery.Tenant, delivered, err, log)
	case ctx.Err() != nil:
		// Shutting down: let the message be redelivered to the next run.
		_ = msg.Nak()
	default:
		delay := cfg.Backoff[min(int(delivered), len(cfg.Backoff))-1]
		log.Warn("handler failed, will retry", "error", err, "delivery", delivered, "retry_in", delay)
		if err := msg.NakWithDelay(delay); err != nil {
			log.Warn("nak failed", "error", err)
		}
	}
}

// runHandler calls handle and turns a panic into a permanent error so that a
// poison message cannot crash the consumer.
func runHandler[T proto.Message](ctx context.Context, handle func(context.Context, Delivery[T]) error, d Delivery[T]) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = Permanent(fmt.Errorf("handler panic: %v\n%s", r, debug.Stack()))
		}
	}()
	return handle(ctx, d)
}

// messageTenant returns the subject's tenant and checks it against the
// Keel-Tenant header. On error it still returns the best tenant to file the
// dead letter under.
func messageTenant(subject string, h nats.Header) (string, error) {
	fromSubject, err := SubjectTenant(subject)
	if err != nil {
		return "_unknown", err
	}
	if err := tenant.Valid(fromSubject); err != nil {
		return "_unknown", fmt.Errorf("subject tenant: %w", err)
	}
	if fromHeader := h.Get(tenant.Header); fromHeader != "" && fromHeader != fromSubject {
		return fromSubject, fmt.Errorf("tenant header %q does not match subject tenant %q", fromHeader, fromSubject)
	}
	return fromSubject, nil
}

func decode(contentType string, data []byte, m proto.Message) error {
	ct := strings.ToLower(strings.TrimSpace(strings.Split(contentType, ";")[0]))
	switch ct {
	case ContentTypeJSON:
		if err := protojson.Unmarshal(data, m); err != nil {
			return fmt.Errorf("decode json %T: %w", m, err)
		}
	case ContentTypeProtobuf, "":
		if err := proto.Unmarshal(data, m); err != nil {
			return fmt.Errorf("decode protobuf %T: %w", m, err)
		}
	default:
		return fmt.Errorf("unsupported content type %q", contentType)
	}
	return nil
}

// deadLetter copies msg to the stage's dead-letter subject with the reason,
// then acks it. If the copy cannot be stored the message is nakked instead,
// so that nothing accepted is lost.
func deadLetter(
	ctx context.Context,
	js jetstream.JetStream,
	cfg ConsumerConfig,
	msg jetstream.Msg,
	tenantID string,
	delivered uint64,
	cause error,
	log *slog.Logger,
) {
	dl := nats.NewMsg(DLQSubject(tenantID, cfg.Stage))
	dl.Data = msg.Data()
	for k, vs := range msg.Headers() {
		if k == jetstream.MsgIDHeader {
			continue
		}
		for _, v := range vs {
			dl.Header.Add(k, v)
		}
	}
	origID := msg.Headers().Get(jetstream.MsgIDHeader)
	dl.Header.Set(HeaderDLQStage, cfg.Stage)
	dl.Header.Set(HeaderDLQError, headerSafe(cause.Error()))
	dl.Header.Set(HeaderDLQSubject, msg.Subject())
	dl.Header.Set(HeaderDLQMsgID, origID)
	dl.Header.Set(HeaderDLQCount, strconv.FormatUint(delivered, 10))

	var opts []jetstream.PublishOpt
	if origID != "" {
		opts = append(opts, jetstream.WithMsgID(cfg.Stage+":"+origID))
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := js.PublishMsg(pctx, dl, opts...); err != nil {
		log.Error("dead-letter publish failed; message left for redelivery", "error", err)
		_ = msg.Nak()
		return
	}
	log.Warn("message dead-lettered", "stage", cfg.Stage, "reason", cause.Error(), "delivery", delivered)
	if err := msg.Ack(); err != nil {
		log.Warn("ack of dead-lettered message failed", "error", err)
	}
}

// headerSafe makes s fit in one header value.
func headerSafe(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
	const limit = 1024
	if len(s) > limit {
		s = s[:limit]
	}
	return s
}
