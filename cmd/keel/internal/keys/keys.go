// Package keys loads Keel's secret keys from the environment, or for a local
// stack creates them once under its data directory.
package keys

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Environment variables that hold base64 keys.
const (
	TokenKeyEnv   = "KEEL_TOKEN_KEY"
	VaultKeyEnv   = "KEEL_VAULT_KEY"
	ServiceKeyEnv = "KEEL_SERVICE_KEY"
)

// LoadOrCreate returns the base64 key in the environment variable env, else
// the key stored in dir/name, creating that file with a fresh random 32-byte
// key (mode 0600) when it does not exist.
func LoadOrCreate(env, dir, name string) (string, error) {
	key, _, err := Load(env, dir, name, true)
	return key, err
}

// ErrNoKey is returned by Load when the key is neither in the environment
// nor in its file and create is false.
var ErrNoKey = errors.New("keys: no key")

// Load returns the base64 key in the environment variable env, else the one
// stored in dir/name. When neither exists it creates the file if create is
// true, reporting created, and returns ErrNoKey otherwise.
func Load(env, dir, name string, create bool) (key string, created bool, err error) {
	key, err = load(env, dir, name)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return key, false, err
	}
	if !create {
		return "", false, fmt.Errorf("%w: set %s, or run keel dev or keel gateway once with this --data-dir to create %s", ErrNoKey, env, filepath.Join(dir, name))
	}
	key, err = createKey(dir, name)
	return key, err == nil, err
}

func load(env, dir, name string) (string, error) {
	if v := strings.TrimSpace(os.Getenv(env)); v != "" {
		return v, nil
	}
	path := filepath.Join(dir, name)
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read key %s: %w", path, err)
	}
	return strings.TrimSpace(string(raw)), nil
}

func createKey(dir, name string) (string, error) {
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create key dir: %w", err)
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate key: %w", err)
	}
	key := base64.StdEncoding.EncodeToString(b[:])
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write key %s: %w", path, err)
	}
	return key, nil
}
