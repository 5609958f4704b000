// Package natstest starts an embedded NATS server with Keel's streams for a
// test.
package natstest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/natsserver"
)

// Start runs a NATS server with JetStream in a temporary directory, declares
// every Keel stream and returns a connection to it. Both are closed when the
// test ends.
func Start(tb testing.TB) (*nats.Conn, jetstream.JetStream) {
	tb.Helper()
	srv, err := natsserver.Start(natsserver.Options{StoreDir: tb.TempDir()})
	if err != nil {
		tb.Fatalf("start nats: %v", err)
	}
	tb.Cleanup(srv.Shutdown)

	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		tb.Fatalf("connect nats: %v", err)
	}
	tb.Cleanup(nc.Close)

	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatalf("jetstream: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bus.DeclareStreams(ctx, js); err != nil {
		tb.Fatalf("declare streams: %v", err)
	}
	return nc, js
}

// URL returns the client URL of the server behind nc.
func URL(nc *nats.Conn) string { return nc.ConnectedUrl() }
