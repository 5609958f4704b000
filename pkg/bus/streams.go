// Package bus declares Keel's JetStream streams and gives every service the
// same way to publish and consume: message ids for de-duplication, tenant and
// trace context in headers, explicit acks, bounded redelivery with backoff
// and a dead-letter subject that records why a message was given up on.
package bus

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Stream names.
const (
	StreamIngest   = "INGEST"
	StreamRedacted = "REDACTED"
	StreamChunks   = "CHUNKS"
	StreamDrafts   = "DRAFTS"
	StreamOutbound = "OUTBOUND"
	StreamAudit    = "AUDIT"
	StreamUsage    = "USAGE"
	StreamDLQ      = "DLQ"
)

const day = 24 * time.Hour

// shortDedup is the de-duplication window of the high-rate streams whose
// consumers are idempotent on the message id themselves.
const shortDedup = 10 * time.Minute

// Streams returns the definition of every Keel stream with replicas copies
// of each message (1 for a single server, 3 for a production cluster).
func Streams(replicas int) []jetstream.StreamConfig {
	if replicas < 1 {
		replicas = 1
	}
	def := func(name, root, desc string, retention jetstream.RetentionPolicy, maxAge, dupes time.Duration) jetstream.StreamConfig {
		return jetstream.StreamConfig{
			Name:        name,
			Description: desc,
			Subjects:    []string{"keel." + root + ".>"},
			Retention:   retention,
			MaxAge:      maxAge,
			Duplicates:  dupes,
			Storage:     jetstream.FileStorage,
			Replicas:    replicas,
		}
	}
	return []jetstream.StreamConfig{
		// Raw text holds PII: it is deleted once redacted, and kept at most a day.
		def(StreamIngest, RootIngest, "raw upstream events, deleted once redacted",
			jetstream.WorkQueuePolicy, day, day),
		def(StreamRedacted, RootRedacted, "redacted events, replayable",
			jetstream.LimitsPolicy, 90*day, day),
		def(StreamChunks, RootChunks, "embedded chunks; replay rebuilds an index",
			jetstream.LimitsPolicy, 90*day, day),
		def(StreamDrafts, RootDrafts, "generated drafts",
			jetstream.LimitsPolicy, 30*day, day),
		def(StreamOutbound, RootOutbound, "approved replies awaiting delivery",
			jetstream.WorkQueuePolicy, 7*day, day),
		// Audit and usage events come one or two per model call, and their
		// consumers are idempotent on the event id: the server need not
		// remember a day of ids (tens of millions at gateway rates), only
		// long enough to absorb a publisher's retries.
		def(StreamAudit, RootAudit, "audit events until stored in postgres",
			jetstream.LimitsPolicy, 365*day, shortDedup),
		def(StreamUsage, RootUsage, "model usage per call",
			jetstream.LimitsPolicy, 90*day, shortDedup),
		// TODO: a dead letter of the ingest stage is raw input and may hold
		// personal data; it should be encrypted or kept apart for less time.
		def(StreamDLQ, RootDLQ, "messages given up on, with the reason",
			jetstream.LimitsPolicy, 30*day, day),
	}
}

// BucketRouterBudgets is the key-value bucket where model routers keep, for
// each budget, what the USAGE stream adds up to in its current period, and
// up to which message: a router starting up reads the stream from there
// rather than from the start of the period.
const BucketRouterBudgets = "ROUTER_BUDGETS"

// Buckets returns the definition of every Keel key-value bucket with
// replicas copies of each value.
func Buckets(replicas int) []jetstream.KeyValueConfig {
	return []jetstream.KeyValueConfig{{
		Bucket:      BucketRouterBudgets,
		Description: "budget spend per period, as counted from the USAGE stream",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    max(replicas, 1),
	}}
}

// DeclareStreams creates or updates every Keel stream and key-value bucket
// with one replica.
func DeclareStreams(ctx context.Context, js jetstream.JetStream) error {
	return DeclareStreamsReplicated(ctx, js, 1)
}

// DeclareStreamsReplicated creates or updates every Keel stream and
// key-value bucket with the given number of replicas.
func DeclareStreamsReplicated(ctx context.Context, js jetstream.JetStream, replicas int) error {
	for _, cfg := range Streams(replicas) {
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("declare stream %s: %w", cfg.Name, err)
		}
	}
	for _, cfg := range Buckets(replicas) {
		if _, err := js.CreateOrUpdateKeyValue(ctx, cfg); err != nil {
			return fmt.Errorf("declare bucket %s: %w", cfg.Bucket, err)
		}
	}
	return nil
}
