package qdrant

import (
	"context"
	"testing"
	"time"

	"github.com/keelhq/keel/services/retrieve/internal/qdrant/qdranttest"
	"github.com/keelhq/keel/services/retrieve/internal/store"
	"github.com/keelhq/keel/services/retrieve/internal/store/storetest"
)

// openOn opens a backend on srv, closed when the test ends.
func openOn(t *testing.T, srv *qdranttest.Server, cfg Config) *Backend {
	t.Helper()
	cfg.Address = srv.Addr()
	b, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Backend {
		return openOn(t, qdranttest.Start(t), Config{})
	})
}

func TestConformanceWithAPIKeyAndPrefix(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Backend {
		srv := qdranttest.Start(t, qdranttest.WithAPIKey("s3cret"))
		return openOn(t, srv, Config{APIKey: "s3cret", CollectionPrefix: "other_", Timeout: time.Minute})
	})
}
