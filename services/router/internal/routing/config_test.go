package routing

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keelhq/keel/services/router/internal/provider"
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
	if err == nil || strings.Count(err.Error(), "OPENAI_API_KEY is empty") != 1 {
		t.Errorf("BuildProviders without key: %v, want the empty variable named once", err)
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

func TestValidateRules(t *testing.T) {
	t.Parallel()

	valid := func() File {
		return File{
			Routes: map[string]Route{"r": {Providers: []Candidate{{Provider: "local"}}}},
			Providers: map[string]ProviderConfig{
				"hosted": {Type: TypeOpenAI, BaseURL: "https://api.example.test/v1", APIKeyEnv: "KEY"},
			},
		}
	}
	if err := valid().Validate(); err != nil {
		t.Fatalf("valid file: %v", err)
	}

	tests := []struct {
		name   string
		change func(f *File)
		want   string
	}{
		{
			name:   "bad sticky",
			change: func(f *File) { setRoute(f, func(r *Route) { r.Sticky = "user" }) },
			want:   `route r: sticky must be tenant or conversation, not "user"`,
		},
		{
			name:   "temperature NaN",
			change: func(f *File) { setRoute(f, func(r *Route) { r.Params.Temperature = ptr(math.NaN()) }) },
			want:   "route r: params.temperature must be between 0 and 2",
		},
		{
			name:   "top_p above one",
			change: func(f *File) { setRoute(f, func(r *Route) { r.Params.TopP = ptr(1.5) }) },
			want:   "route r: params.top_p must be between 0 and 1",
		},
		{
			name:   "negative route limit",
			change: func(f *File) { setRoute(f, func(r *Route) { r.Limits.TokensPerMinute = -1 }) },
			want:   "route r: limits: negative limit",
		},
		{
			name:   "negative tenant default limit",
			change: func(f *File) { f.Tenants.Default.RequestsPerMinute = -1 },
			want:   "tenants.default: negative limit",
		},
		{
			name:   "negative tenant override budget",
			change: func(f *File) { f.Tenants.Overrides = map[string]Limits{"acme": {BudgetMicros: -5}} },
			want:   "tenants.overrides.acme: negative limit",
		},
		{
			name:   "bad budget period",
			change: func(f *File) { f.Tenants.Default.BudgetPeriod = "week" },
			want:   `tenants.default: budget_period must be day or month, not "week"`,
		},
		{
			name:   "route reserve equal to concurrency",
			change: func(f *File) { setRoute(f, func(r *Route) { r.Concurrency, r.InteractiveReserve = 2, 2 }) },
			want:   "route r: interactive_reserve must be below concurrency",
		},
		{
			name: "provider reserve above concurrency",
			change: func(f *File) {
				p := f.Providers["hosted"]
				p.Concurrency, p.InteractiveReserve = 2, 3
				f.Providers["hosted"] = p
			},
			want: "provider hosted: interactive_reserve must be below concurrency",
		},
		{
			name: "unknown flavor",
			change: func(f *File) {
				p := f.Providers["hosted"]
				p.Flavor = "azure"
				f.Providers["hosted"] = p
			},
			want: `provider hosted: unknown flavor "azure"`,
		},
		{
			name: "non-http base_url",
			change: func(f *File) {
				p := f.Providers["hosted"]
				p.BaseURL = "ftp://api.example.test/v1"
				f.Providers["hosted"] = p
			},
			want: `provider hosted: base_url "ftp://api.example.test/v1" is not an http(s) URL`,
		},
		{
			name: "base_url without a host",
			change: func(f *File) {
				p := f.Providers["hosted"]
				p.BaseURL = "localhost:8080"
				f.Providers["hosted"] = p
			},
			want: `is not an http(s) URL`,
		},
		{
			name: "both key sources",
			change: func(f *File) {
				p := f.Providers["hosted"]
				p.APIKeyFile = "/run/secrets/key"
				f.Providers["hosted"] = p
			},
			want: "provider hosted: set api_key_env or api_key_file, not both",
		},
		{
			name:   "retries out of range",
			change: func(f *File) { setRoute(f, func(r *Route) { r.Retries = 11 }) },
			want:   "route r: retries must be between 0 and 10",
		},
		{
			name: "negative weight",
			change: func(f *File) {
				setRoute(f, func(r *Route) { r.Providers[0].Weight = -1 })
			},
			want: "route r: provider 1: negative weight or context window",
		},
		{
			name:   "negative health setting",
			change: func(f *File) { f.Health.OpenFor = -time.Second },
			want:   "health: negative setting",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := valid()
			tt.change(&f)
			err := f.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// setRoute changes route r of f in place.
func setRoute(f *File, change func(r *Route)) {
	r := f.Routes["r"]
	r.Providers = append([]Candidate(nil), r.Providers...)
	change(&r)
	f.Routes["r"] = r
}

func TestParseFileNewFields(t *testing.T) {
	t.Parallel()

	f, err := ParseFile([]byte(`
routes:
  r:
    providers:
      - {provider: local, weight: 3, context_window: 8000}
    sticky: conversation
    retries: 2
    total_timeout: 1m
    first_token_timeout: 5s
    idle_timeout: 10s
    concurrency: 4
    interactive_reserve: 1
    limits: {requests_per_minute: 10, budget_micros: 500, budget_period: month}
    fallback: {reply: busy}
tenants:
  default: {tokens_per_minute: 1000}
  overrides:
    vip: {requests_per_minute: 100}
health: {failure_threshold: 2, open_for: 10s, max_open_for: 1m, check_interval: 30s}
`))
	if err != nil {
		t.Fatalf("ParseFile: %v", err)
	}
	want := Route{
		Providers:         []Candidate{{Provider: "local", Weight: 3, ContextWindow: 8000}},
		Sticky:            "conversation",
		Retries:           2,
		TotalTimeout:      time.Minute,
		FirstTokenTimeout: 5 * time.Second,
		IdleTimeout:       10 * time.Second,
		Concurrency:       4, InteractiveReserve: 1,
		Limits:   Limits{RequestsPerMinute: 10, BudgetMicros: 500, BudgetPeriod: "month"},
		Fallback: Fallback{Reply: "busy"},
	}
	if diff := cmp.Diff(want, f.Routes["r"]); diff != "" {
		t.Errorf("route (-want +got):\n%s", diff)
	}
	wantTenants := TenantLimits{
		Default:   Limits{TokensPerMinute: 1000},
		Overrides: map[string]Limits{"vip": {RequestsPerMinute: 100}},
	}
	if diff := cmp.Diff(wantTenants, f.Tenants); diff != "" {
		t.Errorf("tenants (-want +got):\n%s", diff)
	}
	wantHealth := HealthConfig{FailureThreshold: 2, OpenFor: 10 * time.Second, MaxOpenFor: time.Minute, CheckInterval: 30 * time.Second}
	if diff := cmp.Diff(wantHealth, f.Health); diff != "" {
		t.Errorf("health (-want +got):\n%s", diff)
	}
}

func TestBuildProvidersKeyFile(t *testing.T) {
	t.Parallel()

	const secret = "sk-file-secret-4242"
	var (
		mu   sync.Mutex
		auth []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"1","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1}}`))
	}))
	t.Cleanup(srv.Close)

	dir := t.TempDir()
	keyPath := filepath.Join(dir, "key")
	if err := os.WriteFile(keyPath, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	emptyPath := filepath.Join(dir, "empty")
	if err := os.WriteFile(emptyPath, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := func(keyFile string) File {
		return File{
			Routes: map[string]Route{"r": {Providers: []Candidate{{Provider: "hosted", Model: "m"}}}},
			Providers: map[string]ProviderConfig{
				"hosted": {Type: TypeOpenAI, BaseURL: srv.URL + "/v1", APIKeyFile: keyFile},
			},
		}
	}

	providers, err := file(keyPath).BuildProviders(func(string) string { return "" }, os.ReadFile, srv.Client())
	if err != nil {
		t.Fatalf("BuildProviders: %v", err)
	}
	if _, err := providers["hosted"].Generate(context.Background(), provider.Request{
		Model: "m", Messages: []provider.Message{{Role: provider.RoleUser, Content: "hello"}},
	}); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	mu.Lock()
	if len(auth) != 1 || auth[0] != "Bearer "+secret {
		t.Errorf("authorization = %q, want the trimmed key from the file", auth)
	}
	mu.Unlock()

	_, err = file(emptyPath).BuildProviders(func(string) string { return "" }, os.ReadFile, srv.Client())
	if err == nil || !strings.Contains(err.Error(), "provider hosted: api_key_file "+emptyPath+" is empty") {
		t.Errorf("empty key file: %v, want an error naming the file", err)
	}

	missing := filepath.Join(dir, "missing")
	_, err = file(missing).BuildProviders(func(string) string { return "" }, os.ReadFile, srv.Client())
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing key file: %v, want os.ErrNotExist naming the file", err)
	}

	// A failing reader's error is reported; the key itself never is.
	_, err = file(keyPath).BuildProviders(func(string) string { return "" }, func(string) ([]byte, error) {
		return nil, errors.New("permission denied")
	}, srv.Client())
	if err == nil || !strings.Contains(err.Error(), "permission denied") || strings.Contains(err.Error(), secret) {
		t.Errorf("unreadable key file: %v", err)
	}
}

// A type openai provider on api.openai.com is OpenAI itself, flavor or
// not: it gets OpenAI's settings (store=false), and says so.
func TestOpenAIFlavorFromHost(t *testing.T) {
	t.Parallel()
	f := File{
		Routes: map[string]Route{"r": {Providers: []Candidate{
			{Provider: "official", Model: "gpt-4o-mini"}, {Provider: "proxy", Model: "gpt-4o-mini"},
		}}},
		Providers: map[string]ProviderConfig{
			"official": {Type: TypeOpenAI, BaseURL: "https://API.openai.com./v1"},
			"proxy":    {Type: TypeOpenAI, BaseURL: "http://127.0.0.1:9/v1"},
		},
	}
	providers, err := f.BuildProviders(func(string) string { return "" }, os.ReadFile, nil)
	if err != nil {
		t.Fatalf("BuildProviders: %v", err)
	}
	for name, want := range map[string]string{"official": "store=false", "proxy": "server operator's"} {
		rp, ok := providers[name].(Retentioner)
		if !ok || !strings.Contains(rp.Retention(), want) {
			t.Errorf("%s retention %q, want one saying %q", name, rp.Retention(), want)
		}
	}
}

// A provider whose key is missing is named once, however many routes
// name it.
func TestMissingKeyToldOnce(t *testing.T) {
	t.Parallel()
	cand := []Candidate{{Provider: "hosted", Model: "m"}}
	f := File{
		Routes:    map[string]Route{"a": {Providers: cand}, "b": {Providers: cand}, "c": {Providers: cand, Shadow: &Shadow{Provider: "hosted", Model: "m", Share: 0.1}}},
		Providers: map[string]ProviderConfig{"hosted": {Type: TypeOpenAI, BaseURL: "http://127.0.0.1:9/v1", APIKeyEnv: "KEEL_TEST_NO_KEY"}},
	}
	_, err := f.BuildProviders(func(string) string { return "" }, os.ReadFile, nil)
	if err == nil || strings.Count(err.Error(), "KEEL_TEST_NO_KEY is empty") != 1 {
		t.Errorf("BuildProviders: %v, want the empty variable named once", err)
	}
}
