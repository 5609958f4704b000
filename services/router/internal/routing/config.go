// Package routing picks the providers for a use case from a routes file and
// calls them in order, failing over on errors another provider may not
// have, and records the usage and an audit event of every call.
package routing

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/keelhq/keel/services/router/internal/provider"
	"github.com/keelhq/keel/services/router/internal/provider/local"
	"github.com/keelhq/keel/services/router/internal/provider/openai"
)

// Provider types a routes file can name.
const (
	TypeLocal  = "local"
	TypeOpenAI = "openai"
)

// LocalProvider is the name under which the local provider is always
// available, even when the routes file does not declare it.
const LocalProvider = "local"

// DefaultAttemptTimeout bounds one provider attempt when neither the route
// nor the candidate sets a timeout.
const DefaultAttemptTimeout = 30 * time.Second

//go:embed routes.yaml
var defaultRoutesYAML []byte

// DefaultRoutes returns the embedded routes file: the local provider for
// support_reply and for every other use case.
func DefaultRoutes() []byte {
	return bytes.Clone(defaultRoutesYAML)
}

// File is the content of a routes file.
type File struct {
	// DefaultRoute, when set, serves use cases that have no route of their
	// own; when empty, such use cases fail with ErrRouteNotFound.
	DefaultRoute string                    `yaml:"default_route"`
	Routes       map[string]Route          `yaml:"routes"`
	Providers    map[string]ProviderConfig `yaml:"providers"`
}

// Route lists the providers of one use case in the order they are tried.
type Route struct {
	Providers []Candidate `yaml:"providers"`
	// Timeout bounds each attempt; DefaultAttemptTimeout when zero.
	Timeout time.Duration `yaml:"timeout"`
}

// Candidate is one provider and model of a route.
type Candidate struct {
	Provider string `yaml:"provider"`
	Model    string `yaml:"model"`
	// Timeout overrides the route's attempt timeout for this candidate.
	Timeout time.Duration `yaml:"timeout"`
}

// ProviderConfig declares a provider.
type ProviderConfig struct {
	// Type is TypeLocal or TypeOpenAI.
	Type string `yaml:"type"`
	// BaseURL is the API root of an openai provider, version included.
	BaseURL string `yaml:"base_url"`
	// APIKeyEnv names the environment variable that holds the API key; the
	// key itself never appears in the file. Empty sends no key.
	APIKeyEnv string `yaml:"api_key_env"`
	// Price is what the provider charges, to compute the cost of a call.
	Price Price `yaml:"price"`
}

// Price is a provider's price in micro-units of currency per million tokens.
type Price struct {
	InputPerMillion  int64 `yaml:"input_per_million"`
	OutputPerMillion int64 `yaml:"output_per_million"`
}

// CostMicros returns the cost of usage at price p.
func (p Price) CostMicros(u provider.Usage) int64 {
	return (u.InputTokens*p.InputPerMillion + u.OutputTokens*p.OutputPerMillion) / 1_000_000
}

// LoadFile reads and checks the routes file at path; an empty path loads
// the embedded DefaultRoutes.
func LoadFile(path string) (File, error) {
	data := defaultRoutesYAML
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return File{}, fmt.Errorf("read routes file: %w", err)
		}
	}
	f, err := ParseFile(data)
	if err != nil && path != "" {
		return File{}, fmt.Errorf("routes file %s: %w", path, err)
	}
	return f, err
}

// ParseFile decodes a routes file, refusing unknown fields, and checks it
// with Validate.
func ParseFile(data []byte) (File, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return File{}, fmt.Errorf("parse routes: %w", err)
	}
	if err := f.Validate(); err != nil {
		return File{}, err
	}
	return f, nil
}

// Validate reports every problem of f together.
func (f File) Validate() error {
	var errs []error
	if len(f.Routes) == 0 {
		errs = append(errs, errors.New("no routes"))
	}
	if f.DefaultRoute != "" {
		if _, ok := f.Routes[f.DefaultRoute]; !ok {
			errs = append(errs, fmt.Errorf("default_route %q is not a route", f.DefaultRoute))
		}
	}
	for _, name := range sortedKeys(f.Routes) {
		r := f.Routes[name]
		if len(r.Providers) == 0 {
			errs = append(errs, fmt.Errorf("route %s: no providers", name))
		}
		if r.Timeout < 0 {
			errs = append(errs, fmt.Errorf("route %s: negative timeout", name))
		}
		for i, c := range r.Providers {
			if _, ok := f.provider(c.Provider); !ok {
				errs = append(errs, fmt.Errorf("route %s: provider %d: unknown provider %q", name, i+1, c.Provider))
			}
			if c.Timeout < 0 {
				errs = append(errs, fmt.Errorf("route %s: provider %d: negative timeout", name, i+1))
			}
		}
	}
	for _, name := range sortedKeys(f.Providers) {
		p := f.Providers[name]
		switch p.Type {
		case TypeLocal:
		case TypeOpenAI:
			if p.BaseURL == "" {
				errs = append(errs, fmt.Errorf("provider %s: base_url is required", name))
			}
		default:
			errs = append(errs, fmt.Errorf("provider %s: unknown type %q", name, p.Type))
		}
		if p.Price.InputPerMillion < 0 || p.Price.OutputPerMillion < 0 {
			errs = append(errs, fmt.Errorf("provider %s: negative price", name))
		}
	}
	return errors.Join(errs...)
}

// provider returns the declaration of name; "local" is always declared.
func (f File) provider(name string) (ProviderConfig, bool) {
	if p, ok := f.Providers[name]; ok {
		return p, true
	}
	if name == LocalProvider {
		return ProviderConfig{Type: TypeLocal}, true
	}
	return ProviderConfig{}, false
}

// BuildProviders creates the providers that the routes use. getenv reads
// API keys (os.Getenv in production); client sends HTTP requests (nil uses
// a default client). It fails when a named key variable is empty.
func (f File) BuildProviders(
	getenv func(string) string,
	client *http.Client,
) (map[string]provider.Provider, error) {
	var (
		built = make(map[string]provider.Provider)
		errs  []error
	)
	for _, r := range f.Routes {
		for _, c := range r.Providers {
			if _, ok := built[c.Provider]; ok {
				continue
			}
			cfg, _ := f.provider(c.Provider)
			switch cfg.Type {
			case TypeLocal:
				built[c.Provider] = local.New(c.Provider)
			case TypeOpenAI:
				var key string
				if cfg.APIKeyEnv != "" {
					if key = getenv(cfg.APIKeyEnv); key == "" {
						errs = append(errs, fmt.Errorf("provider %s: environment variable %s is empty",
							c.Provider, cfg.APIKeyEnv))
					}
				}
				built[c.Provider] = openai.New(openai.Config{
					Name: c.Provider, BaseURL: cfg.BaseURL, APIKey: key, HTTPClient: client,
				})
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return built, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
