package bus

import (
	"context"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
)

// Header names set by Keel publishers and the dead-letter path.
const (
	HeaderContentType = "Content-Type"
	HeaderDLQStage    = "Keel-Dlq-Stage"
	HeaderDLQError    = "Keel-Dlq-Error"
	HeaderDLQSubject  = "Keel-Dlq-Subject"
	HeaderDLQMsgID    = "Keel-Dlq-Msg-Id"
	HeaderDLQCount    = "Keel-Dlq-Deliveries"
	// HeaderOrigin names the process that published a message, so that a
	// process following a stream it also writes can pass over its own
	// messages without decoding them (Publisher.WithOrigin).
	HeaderOrigin = "Keel-Origin"
)

// Content types of message payloads.
const (
	ContentTypeProtobuf = "application/protobuf"
	ContentTypeJSON     = "application/json"
)

// propagator moves W3C trace context in and out of message headers.
var propagator = propagation.TraceContext{}

// headerCarrier adapts nats.Header to the OpenTelemetry carrier interface.
type headerCarrier nats.Header

func (c headerCarrier) Get(key string) string { return nats.Header(c).Get(key) }

func (c headerCarrier) Set(key, value string) { nats.Header(c).Set(key, value) }

func (c headerCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// InjectTrace writes the trace context of ctx into h as traceparent.
func InjectTrace(ctx context.Context, h nats.Header) {
	propagator.Inject(ctx, headerCarrier(h))
}

// ExtractTrace returns ctx with the remote trace context found in h.
func ExtractTrace(ctx context.Context, h nats.Header) context.Context {
	return propagator.Extract(ctx, headerCarrier(h))
}
