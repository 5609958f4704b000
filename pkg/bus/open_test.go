package bus_test

import (
	"testing"

	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/natstest"
)

func TestOpenClosesOnlyItsOwnConnection(t *testing.T) {
	t.Parallel()
	nc, _ := natstest.Start(t)

	_, closeShared, err := bus.Open(nc, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	closeShared()
	if nc.IsClosed() {
		t.Fatal("Open closed the connection it was given")
	}

	js, closeOwn, err := bus.Open(nil, natstest.URL(nc), "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Stream(t.Context(), bus.StreamIngest); err != nil {
		t.Fatalf("jetstream on the new connection: %v", err)
	}
	closeOwn()
	if _, err := js.Stream(t.Context(), bus.StreamIngest); err == nil {
		t.Fatal("the connection Open made is still open after close")
	}

	if _, _, err := bus.Open(nil, "nats://127.0.0.1:1", "test"); err == nil {
		t.Fatal("Open succeeded with no server")
	}
}
