package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/natsserver"
)

func TestStreamsDeclaresEveryStream(t *testing.T) {
	t.Parallel()
	srv, err := natsserver.Start(natsserver.Options{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)

	var out bytes.Buffer
	if err := runStreams(context.Background(), []string{"--nats", srv.ClientURL()}, &out); err != nil {
		t.Fatal(err)
	}
	js, closeNATS, err := bus.Open(nil, srv.ClientURL(), "test")
	if err != nil {
		t.Fatal(err)
	}
	defer closeNATS()
	for _, cfg := range bus.Streams(1) {
		s, err := js.Stream(context.Background(), cfg.Name)
		if err != nil {
			t.Fatalf("stream %s not declared: %v", cfg.Name, err)
		}
		if got := s.CachedInfo().Config.Retention; got != cfg.Retention {
			t.Errorf("stream %s retention = %v, want %v", cfg.Name, got, cfg.Retention)
		}
		if !strings.Contains(out.String(), cfg.Name) {
			t.Errorf("output does not list %s:\n%s", cfg.Name, out.String())
		}
	}
	for _, cfg := range bus.Buckets(1) {
		if _, err := js.KeyValue(context.Background(), cfg.Bucket); err != nil {
			t.Errorf("bucket %s not declared: %v", cfg.Bucket, err)
		}
		if !strings.Contains(out.String(), cfg.Bucket) {
			t.Errorf("output does not list %s:\n%s", cfg.Bucket, out.String())
		}
	}
	if err := runStreams(context.Background(), []string{"--nats", srv.ClientURL(), "--replicas", "0"}, &out); err == nil {
		t.Error("--replicas 0 was accepted")
	}
}
