package retrieveeval

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/config"
	"github.com/keelhq/keel/pkg/natsserver"
	embedsvc "github.com/keelhq/keel/services/embed/service"
	retrievesvc "github.com/keelhq/keel/services/retrieve/service"
)

// stopTimeout bounds how long stop waits for the services to finish.
const stopTimeout = 20 * time.Second

// stack is an embedded NATS server with the embed and retrieve services
// running on it, each serving gRPC on a free loopback port.
type stack struct {
	js           jetstream.JetStream
	serviceKey   []byte
	embedAddr    string
	retrieveAddr string

	// failed is closed when a service has stopped on its own; err then
	// holds why.
	failed chan struct{}
	err    error

	cancel  context.CancelFunc
	group   *errgroup.Group
	closers []func()
}

// startStack starts NATS with JetStream under dataDir, declares the
// streams and starts the embed and retrieve services. Their configuration
// is each service's default, then the environment (KEEL_EMBED_PROVIDER, for
// example), then the addresses of this stack. The caller must call stop.
func startStack(ctx context.Context, dataDir string, logger *slog.Logger) (*stack, error) {
	s := &stack{failed: make(chan struct{})}
	if err := s.start(ctx, dataDir, logger); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

func (s *stack) start(ctx context.Context, dataDir string, logger *slog.Logger) error {
	// A fresh service key: every call to the services carries a signed
	// token, as in a real deployment.
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return fmt.Errorf("generate service key: %w", err)
	}
	s.serviceKey = key[:]
	encodedKey := base64.StdEncoding.EncodeToString(key[:])

	// NATS with JetStream and the streams.
	ns, err := natsserver.Start(natsserver.Options{StoreDir: filepath.Join(dataDir, "jetstream")})
	if err != nil {
		return fmt.Errorf("start nats: %w", err)
	}
	s.closers = append(s.closers, func() { shutdownNATS(ns) })
	nc, err := nats.Connect(ns.ClientURL(), nats.Name("keel-retrieve-eval"))
	if err != nil {
		return fmt.Errorf("connect nats: %w", err)
	}
	s.closers = append(s.closers, nc.Close)
	if s.js, err = jetstream.New(nc); err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	if err := bus.DeclareStreams(ctx, s.js); err != nil {
		return err
	}

	// Listeners first, so that retrieve knows where embed is.
	embedLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen for embed: %w", err)
	}
	retrieveLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		embedLis.Close()
		return fmt.Errorf("listen for retrieve: %w", err)
	}
	s.embedAddr, s.retrieveAddr = embedLis.Addr().String(), retrieveLis.Addr().String()

	embedCfg := embedsvc.DefaultConfig()
	retrieveCfg := retrievesvc.DefaultConfig()
	for _, cfg := range []any{&embedCfg, &retrieveCfg} {
		if err := config.Load("", cfg); err != nil {
			embedLis.Close()
			retrieveLis.Close()
			return fmt.Errorf("load service config: %w", err)
		}
	}
	embedCfg.ServiceKey, embedCfg.NATS.URL, embedCfg.GRPC.Addr = encodedKey, ns.ClientURL(), s.embedAddr
	retrieveCfg.ServiceKey, retrieveCfg.NATS.URL, retrieveCfg.GRPC.Addr = encodedKey, ns.ClientURL(), s.retrieveAddr
	retrieveCfg.Embed.Addr = s.embedAddr
	retrieveCfg.Index.DataDir = filepath.Join(dataDir, "retrieve")

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	group, gctx := errgroup.WithContext(runCtx)
	s.group = group
	group.Go(func() error {
		deps := embedsvc.Deps{Logger: logger.With("service", embedsvc.Name), NATS: nc, Listener: embedLis}
		if err := embedsvc.Run(gctx, embedCfg, deps); err != nil {
			return fmt.Errorf("embed: %w", err)
		}
		return nil
	})
	group.Go(func() error {
		deps := retrievesvc.Deps{Logger: logger.With("service", retrievesvc.Name), NATS: nc, Listener: retrieveLis}
		if err := retrievesvc.Run(gctx, retrieveCfg, deps); err != nil {
			return fmt.Errorf("retrieve: %w", err)
		}
		return nil
	})
	go func() {
		s.err = group.Wait()
		if s.err == nil {
			s.err = errors.New("services stopped")
		}
		close(s.failed)
	}()
	return nil
}

// stop stops the services, then NATS.
func (s *stack) stop() {
	if s.cancel != nil {
		s.cancel()
		select {
		case <-s.failed:
		case <-time.After(stopTimeout):
		}
	}
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

func shutdownNATS(ns *server.Server) {
	ns.Shutdown()
	ns.WaitForShutdown()
}
