package bus

import (
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Open returns a JetStream context on nc or, when nc is nil, on a new
// connection to url named "keel-"+service that reconnects without limit.
// The returned close func closes only a connection Open made itself, so a
// caller that passed nc keeps it.
func Open(nc *nats.Conn, url, service string) (jetstream.JetStream, func(), error) {
	closeConn := func() {}
	if nc == nil {
		var err error
		nc, err = nats.Connect(url, nats.Name("keel-"+service), nats.MaxReconnects(-1))
		if err != nil {
			return nil, nil, fmt.Errorf("connect nats: %w", err)
		}
		closeConn = nc.Close
	}
	js, err := jetstream.New(nc)
	if err != nil {
		closeConn()
		return nil, nil, fmt.Errorf("open jetstream: %w", err)
	}
	return js, closeConn, nil
}
