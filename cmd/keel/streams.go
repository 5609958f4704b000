package main

import (
	"context"
	"fmt"
	"io"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/keelhq/keel/cmd/keel/internal/devstack"
	"github.com/keelhq/keel/pkg/bus"
)

// runStreams declares Keel's JetStream streams on a NATS server, as an
// operator does once for a production cluster; keel dev declares them
// itself.
func runStreams(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("streams")
	natsURL := fs.String("nats", "", "NATS URL (default: the running keel dev, else keel gateway)")
	replicas := fs.Int("replicas", 1, "copies of each message: 1 for one server, 3 for a production cluster")
	dataDir := fs.String("data-dir", defaultDataDir(), "data directory of keel dev or keel gateway, for its NATS URL")
	if err := fs.Parse(args); err != nil {
		return parseError(err)
	}
	if *replicas < 1 || *replicas > 5 {
		return fmt.Errorf("--replicas must be between 1 and 5, got %d", *replicas)
	}
	given := *natsURL != ""
	if !given {
		*natsURL = devstack.NATSURL(*dataDir)
	}

	js, closeNATS, err := bus.Open(nil, *natsURL, "keel-cli")
	if err != nil {
		if given {
			return err
		}
		return fmt.Errorf("%w (tried %s: is keel dev or keel gateway running on --data-dir %s? or pass --nats)",
			err, *natsURL, *dataDir)
	}
	defer closeNATS()
	if err := bus.DeclareStreamsReplicated(ctx, js, *replicas); err != nil {
		return err
	}
	return printStreams(ctx, js, out)
}

// printStreams lists Keel's streams with their subjects and message
// counts, then its key-value buckets.
func printStreams(ctx context.Context, js jetstream.JetStream, out io.Writer) error {
	for _, cfg := range bus.Streams(1) {
		s, err := js.Stream(ctx, cfg.Name)
		if err != nil {
			return fmt.Errorf("read stream %s: %w", cfg.Name, err)
		}
		info := s.CachedInfo()
		fmt.Fprintf(out, "%-9s %-18s replicas %d, %d messages\n",
			cfg.Name, cfg.Subjects[0], info.Config.Replicas, info.State.Msgs)
	}
	for _, cfg := range bus.Buckets(1) {
		kv, err := js.KeyValue(ctx, cfg.Bucket)
		if err != nil {
			return fmt.Errorf("read bucket %s: %w", cfg.Bucket, err)
		}
		st, err := kv.Status(ctx)
		if err != nil {
			return fmt.Errorf("read bucket %s: %w", cfg.Bucket, err)
		}
		fmt.Fprintf(out, "%-14s (key-value)     replicas %d, %d values\n",
			cfg.Bucket, st.Config().Replicas, st.Values())
	}
	return nil
}
