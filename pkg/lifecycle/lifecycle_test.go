package lifecycle

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/keelhq/keel/pkg/logging"
)

type testConfig struct {
	Name string `yaml:"name" env:"TEST_LIFECYCLE_NAME"`
	Port int    `yaml:"port"`
}

func TestRunLoadsConfigFromFileThenEnvironment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "svc.yaml")
	if err := os.WriteFile(path, []byte("name: file\nport: 9\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(ConfigFileEnv, path)
	t.Setenv("TEST_LIFECYCLE_NAME", "env")

	var got testConfig
	err := Run(context.Background(), "svc", "v0", func() testConfig { return testConfig{Name: "default", Port: 1} },
		func(_ context.Context, cfg testConfig, _ *slog.Logger) error {
			got = cfg
			return nil
		}, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	if got != (testConfig{Name: "env", Port: 9}) {
		t.Fatalf("config = %+v, want name from the environment and port from the file", got)
	}
}

func TestRunReturnsServiceAndConfigErrors(t *testing.T) {
	boom := errors.New("boom")
	run := func(context.Context, testConfig, *slog.Logger) error { return boom }
	defaults := func() testConfig { return testConfig{} }

	t.Setenv(ConfigFileEnv, "")
	if err := Run(context.Background(), "svc", "v0", defaults, run, logging.Discard()); !errors.Is(err, boom) {
		t.Fatalf("Run() = %v, want the service's error", err)
	}
	t.Setenv(ConfigFileEnv, filepath.Join(t.TempDir(), "missing.yaml"))
	if err := Run(context.Background(), "svc", "v0", defaults, run, logging.Discard()); err == nil || errors.Is(err, boom) {
		t.Fatalf("Run() = %v, want a config error before the service runs", err)
	}
}
