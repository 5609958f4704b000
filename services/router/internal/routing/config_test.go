package routing

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDefaultRoutes(t *testing.T) {
	t.Parallel()

	f, err := LoadFile("")
	if err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	want := Route{Providers: []Candidate{{Provider: "local", Model: "keel-local-1"}}, Timeout: 20 * time.Second}
	for _, name := range []string{"support_reply", "default"} {
		if diff := cmp.Diff(want, f.Routes[name]); diff != "" {
			t.Errorf("route %s (-want +got):\n%s", name, diff)
		}
	}
	if f.DefaultRoute != "default" {
		t.Errorf("default route = %q", f.DefaultRoute)
	}
	providers, err := f.BuildProviders(func(string) string { return "" }, os.ReadFile, nil)
	if err != nil {
		t.Fatalf("BuildProviders: %v", err)
	}
	if len(providers) != 1 || providers["local"] == nil {
		t.Errorf("providers = %v, want only local", providers)
	}
}

func TestLoadFile(t *testing.T) {
	t.Parallel()

	path := filepath.Join(t.TempDir(), "routes.yaml")
	content := `
routes:
  support_reply:
    providers:
      - {provider: openai, model: gpt-4o-mini, timeout: 5s}
      - {provider: local, model: keel-local-1}
    timeout: 20s
providers:
  openai:
    type: openai
    base_url: http://127.0.0.1:18080/v1
    api_key_env: OPENAI_API_KEY
    price: {input_per_million: 150000, output_per_million: 600000}
`
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := LoadFile(path)
	if err != nil {
		t.Fatalf("LoadFile: %v", err)
	}

	want := File{
		Routes: map[string]Route{"support_reply": {
			Providers: []Candidate{
				{Provider: "openai", Model: "gpt-4o-mini", Timeout: 5 * time.Second},
				{Provider: "local", Model: "keel-local-1"},
			},
			Timeout: 20 * time.Second,
		}},
		Providers: map[string]ProviderConfig{"openai": {
			Type:      TypeOpenAI,
			BaseURL:   "http://127.0.0.1:18080/v1",
			APIKeyEnv: "OPENAI_API_KEY",
			Price:     Price{InputPerMillion: 150000, OutputPerMillion: 600000},
		}},
	}
	if diff := cmp.Diff(want, f); diff != "" {
		t.Errorf("file (-want +got):\n%s", diff)
	}

	_, err = f.BuildProviders(func(string) string { return "" }, os.ReadFile, nil)
	if err == nil || !strings.Contains(err.Error(), "OPENAI_API_KEY is empty") {
		t.Errorf("BuildProviders without key: %v, want an empty-variable error", err)
	}
	providers, err := f.BuildProviders(func(name string) string { return "sk-" + name }, os.ReadFile, nil)
	if err != nil {
		t.Fatalf("BuildProviders: %v", err)
	}
	if providers["openai"].Name() != "openai" || providers["local"].Name() != "local" {
		t.Errorf("providers = %v", providers)
	}
}

func TestParseFileErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		yaml  string
		wants []string
	}{
		{
			name:  "unknown field",
			yaml:  "routes: {a: {providers: [{provider: local}], timout: 1s}}",
			wants: []string{"timout"},
		},
		{
			name:  "empty",
			yaml:  "providers: {}",
			wants: []string{"no routes"},
		},
		{
			name: "every problem at once",
			yaml: `
default_route: missing
routes:
  a: {providers: []}
  b: {providers: [{provider: nowhere}], timeout: -1s}
providers:
  x: {type: openai}
  y: {type: claude}
`,
			wants: []string{
				`default_route "missing" is not a route`,
				"route a: no providers",
				"route b: negative timeout",
				`route b: provider 1: unknown provider "nowhere"`,
				"provider x: base_url is required",
				`provider y: unknown type "claude"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			_, err := ParseFile([]byte(tt.yaml))
			if err == nil {
				t.Fatal("ParseFile succeeded, want an error")
			}
			for _, want := range tt.wants {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q:\n%v", want, err)
				}
			}
		})
	}
}

func TestLoadFileMissing(t *testing.T) {
	t.Parallel()

	_, err := LoadFile(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error = %v, want os.ErrNotExist", err)
	}
}
