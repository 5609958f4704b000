package keys

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadOrCreateKeepsTheKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	t.Setenv("TEST_KEEL_KEY", "")

	first, err := LoadOrCreate("TEST_KEEL_KEY", dir, "token.key")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(first)
	if err != nil || len(raw) != 32 {
		t.Fatalf("key %q is not 32 bytes of base64: %v", first, err)
	}
	info, err := os.Stat(filepath.Join(dir, "token.key"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, %v; want 0600", info.Mode(), err)
	}
	second, err := LoadOrCreate("TEST_KEEL_KEY", dir, "token.key")
	if err != nil || second != first {
		t.Fatalf("second load = %q, %v; want the same key", second, err)
	}

	t.Setenv("TEST_KEEL_KEY", "from-env")
	if got, _ := LoadOrCreate("TEST_KEEL_KEY", dir, "token.key"); got != "from-env" {
		t.Fatalf("environment key not preferred: %q", got)
	}
}
