package devstack

import (
	"os"
	"path/filepath"
	"testing"
)

// Commands find the NATS of what runs on a data directory: keel dev's
// first, else keel gateway's while it runs, else keel dev's fixed port.
func TestNATSURLFindsWhatRuns(t *testing.T) {
	dir := t.TempDir()
	fixed := ReadInfo(dir).NATSURL
	if got := NATSURL(dir); got != fixed {
		t.Errorf("nothing running: %q, want keel dev's fixed %q", got, fixed)
	}

	remove, err := WriteGatewayInfo(dir, GatewayInfo{NATSURL: "nats://127.0.0.1:4999", APIURL: "http://127.0.0.1:8480/v1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := NATSURL(dir); got != "nats://127.0.0.1:4999" {
		t.Errorf("keel gateway running: %q, want its NATS", got)
	}

	st := &Stack{dataDir: dir, Info: Info{NATSURL: "nats://127.0.0.1:4322"}}
	if err := st.WriteInfo(); err != nil {
		t.Fatal(err)
	}
	if got := NATSURL(dir); got != "nats://127.0.0.1:4322" {
		t.Errorf("keel dev and keel gateway running: %q, want keel dev's", got)
	}
	st.RemoveInfo()

	remove()
	if _, err := os.Stat(filepath.Join(dir, "gateway.json")); !os.IsNotExist(err) {
		t.Errorf("gateway info left behind: %v", err)
	}
	if got := NATSURL(dir); got != fixed {
		t.Errorf("after both stopped: %q, want %q", got, fixed)
	}
}
