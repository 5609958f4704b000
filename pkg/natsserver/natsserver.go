// Package natsserver runs an embedded NATS server with JetStream, for
// `keel dev` and tests.
package natsserver

import (
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Options configures an embedded server.
type Options struct {
	// Host to listen on; 127.0.0.1 when empty.
	Host string
	// Port to listen on; 0 picks a free port.
	Port int
	// StoreDir holds JetStream data; required.
	StoreDir string
}

// ErrNotReady is returned by Start when the server does not accept
// connections in time.
var ErrNotReady = errors.New("natsserver: not ready for connections")

// Start starts a NATS server with JetStream stored under opts.StoreDir and
// waits until it accepts connections. Call Shutdown on the result to stop it.
func Start(opts Options) (*server.Server, error) {
	if opts.StoreDir == "" {
		return nil, errors.New("natsserver: store dir is required")
	}
	host := opts.Host
	if host == "" {
		host = "127.0.0.1"
	}
	port := opts.Port
	if port == 0 {
		port = server.RANDOM_PORT
	}
	// Two servers writing one store lose messages: the second is refused.
	unlock, err := lockStore(opts.StoreDir)
	if err != nil {
		return nil, err
	}
	srv, err := server.NewServer(&server.Options{
		ServerName: "keel-dev",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   opts.StoreDir,
		NoSigs:     true,
		NoLog:      true,
	})
	if err != nil {
		unlock()
		return nil, fmt.Errorf("create nats server: %w", err)
	}
	go srv.Start()
	go func() {
		srv.WaitForShutdown()
		unlock()
	}()
	if !srv.ReadyForConnections(15 * time.Second) {
		srv.Shutdown()
		return nil, ErrNotReady
	}
	return srv, nil
}
