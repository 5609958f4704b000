package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type testConfig struct {
	Name    string        `yaml:"name" env:"TEST_KEEL_NAME"`
	Timeout time.Duration `yaml:"timeout" env:"TEST_KEEL_TIMEOUT"`
	Tags    []string      `yaml:"tags" env:"TEST_KEEL_TAGS"`
	Nested  struct {
		Port  int  `yaml:"port" env:"TEST_KEEL_PORT"`
		Debug bool `yaml:"debug" env:"TEST_KEEL_DEBUG"`
	} `yaml:"nested"`
}

func TestLoadFileThenEnv(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("name: file\ntimeout: 2s\nnested:\n  port: 7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEST_KEEL_TAGS", "a, b,,c")
	t.Setenv("TEST_KEEL_PORT", "9")

	cfg := testConfig{Name: "default"}
	if err := Load(path, &cfg); err != nil {
		t.Fatal(err)
	}
	want := testConfig{Name: "file", Timeout: 2 * time.Second, Tags: []string{"a", "b", "c"}}
	want.Nested.Port = 9
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Fatalf("Load() mismatch (-want +got):\n%s", diff)
	}
}

func TestLoadReportsEveryBadVariable(t *testing.T) {
	t.Setenv("TEST_KEEL_TIMEOUT", "soon")
	t.Setenv("TEST_KEEL_DEBUG", "maybe")
	var cfg testConfig
	err := Load("", &cfg)
	if err == nil {
		t.Fatal("Load() accepted bad values")
	}
	for _, name := range []string{"TEST_KEEL_TIMEOUT", "TEST_KEEL_DEBUG"} {
		if !contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
