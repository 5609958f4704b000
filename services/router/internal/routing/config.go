// Package routing picks the providers for a use case from a routes file and
// calls them in order, failing over on errors another provider may not
// have, and records the usage and an audit event of every call.
package routing

import (
	"bytes"
	"cmp"
	_ "embed"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/keelhq/keel/services/router/internal/prompt"
	"github.com/keelhq/keel/services/router/internal/provider"
	"github.com/keelhq/keel/services/router/internal/provider/anthropic"
	"github.com/keelhq/keel/services/router/internal/provider/gemini"
	"github.com/keelhq/keel/services/router/internal/provider/local"
	"github.com/keelhq/keel/services/router/internal/provider/openai"
)

// Provider types a routes file can name.
const (
	TypeLocal     = "local"
	TypeOpenAI    = "openai"
	TypeAnthropic = "anthropic"
	TypeGemini    = "gemini"
	// TypeXAI is xAI's Grok API, which speaks the OpenAI wire format.
	TypeXAI = "xai"
)

// LocalProvider is the name under which the local provider is always
// available, even when the routes file does not declare it.
const LocalProvider = "local"

// Timeouts used when a route sets none.
const (
	// DefaultAttemptTimeout bounds one provider attempt.
	DefaultAttemptTimeout = 30 * time.Second
	// DefaultTotalTimeout bounds a whole call, every attempt and wait
	// included.
	DefaultTotalTimeout = 120 * time.Second
)

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
	// Tenants sets limits and budgets per tenant: Default for every tenant,
	// Overrides for named ones (an override replaces the default whole).
	Tenants TenantLimits `yaml:"tenants"`
	// Health configures circuit breakers and active health checks.
	Health HealthConfig `yaml:"health"`
	// Templates are the prompt templates routes render, each a list of
	// versions.
	Templates map[string][]prompt.Version `yaml:"templates"`
}

// TemplateRef names one version of a prompt template.
type TemplateRef struct {
	Name    string `yaml:"name"`
	Version int    `yaml:"version"`
}

// TenantLimits are the limits of every tenant and of named tenants.
type TenantLimits struct {
	Default   Limits            `yaml:"default"`
	Overrides map[string]Limits `yaml:"overrides"`
}

// Limits caps what one tenant may use, across its routes (File.Tenants) or
// on one route (Route.Limits). Zero means no limit.
type Limits struct {
	RequestsPerMinute int64 `yaml:"requests_per_minute"`
	TokensPerMinute   int64 `yaml:"tokens_per_minute"`
	// BudgetMicros is the money the tenant may spend per BudgetPeriod, in
	// micro-units of currency.
	BudgetMicros int64 `yaml:"budget_micros"`
	// BudgetPeriod is "day" or "month" (UTC calendar periods); "day" when
	// empty.
	BudgetPeriod string `yaml:"budget_period"`
}

func (l Limits) zero() bool { return l == (Limits{}) }

// Route lists the candidates of one use case in the order they are tried.
type Route struct {
	Providers []Candidate `yaml:"providers"`
	// Timeout bounds each attempt; DefaultAttemptTimeout when zero.
	Timeout time.Duration `yaml:"timeout"`
	// TotalTimeout bounds the whole call, retries and failover included;
	// DefaultTotalTimeout when zero. The caller's deadline still applies.
	TotalTimeout time.Duration `yaml:"total_timeout"`
	// FirstTokenTimeout bounds the wait for the first piece of a streamed
	// reply; zero leaves only the attempt timeout.
	FirstTokenTimeout time.Duration `yaml:"first_token_timeout"`
	// IdleTimeout bounds the silence between two reads of a provider's
	// response; zero leaves only the attempt timeout.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// Retries is how many more times one candidate is tried after a
	// retryable error before the next candidate; zero tries each once.
	Retries int `yaml:"retries"`
	// Grounded routes answer from the request's passages with the support
	// grounding instructions.
	Grounded bool `yaml:"grounded"`
	// Template, when set, renders the system message from a prompt
	// template version and the call's variables; it comes first.
	Template *TemplateRef `yaml:"template"`
	// Sticky chooses what keeps a caller on one side of a weighted split:
	// "tenant" (the default) or "conversation".
	Sticky string `yaml:"sticky"`
	// Params are defaults for requests that do not set them.
	Params Params `yaml:"params"`
	// Limits cap each tenant's use of this route.
	Limits Limits `yaml:"limits"`
	// Concurrency caps the route's calls in flight, InteractiveReserve of
	// them kept for interactive calls; zero is no cap.
	Concurrency        int `yaml:"concurrency"`
	InteractiveReserve int `yaml:"interactive_reserve"`
	// Fallback is what the route answers when every candidate failed.
	Fallback Fallback `yaml:"fallback"`
	// Cache serves repeated identical requests from memory.
	Cache Cache `yaml:"cache"`
	// Shadow, when set, also sends a share of the calls to another
	// candidate for comparison.
	Shadow *Shadow `yaml:"shadow"`
}

// Params are a route's default request parameters.
type Params struct {
	Temperature     *float64 `yaml:"temperature"`
	TopP            *float64 `yaml:"top_p"`
	MaxOutputTokens int      `yaml:"max_output_tokens"`
	// PromptCache asks providers with explicit cache controls (Anthropic)
	// to cache the route's tools and system prompt, for every call: an
	// OpenAI client has no way to ask.
	PromptCache bool `yaml:"prompt_cache"`
}

// Fallback configures a route's degraded answer.
type Fallback struct {
	// Cached answers with the last answer to the same request, when the
	// route remembers one no older than MaxAge (DefaultFallbackMaxAge when
	// zero); tried before Reply.
	Cached bool          `yaml:"cached"`
	MaxAge time.Duration `yaml:"max_age"`
	// Reply is a fixed holding reply; empty means none.
	Reply string `yaml:"reply"`
}

// DefaultFallbackMaxAge is the oldest cached answer a degraded fallback
// gives.
const DefaultFallbackMaxAge = 24 * time.Hour

func (f Fallback) any() bool { return f.Cached || f.Reply != "" }

// candidates returns the route's candidates and its shadow candidate.
func (r Route) candidates() []Candidate {
	if r.Shadow == nil {
		return r.Providers
	}
	return append(slices.Clip(r.Providers), Candidate{Provider: r.Shadow.Provider, Model: r.Shadow.Model})
}

// Cache configures a route's exact response cache.
type Cache struct {
	// TTL is how long an answer is served again for the same request from
	// the same tenant; zero turns the cache off (answers are still kept
	// for a cached fallback).
	TTL time.Duration `yaml:"ttl"`
}

// Shadow sends a share of a route's successful calls to another candidate
// as well, to compare it; its answers are recorded, never returned.
type Shadow struct {
	Provider string `yaml:"provider"`
	Model    string `yaml:"model"`
	// Template, when set, renders the shadow call with this template
	// version instead of the route's.
	Template *TemplateRef `yaml:"template"`
	// Share is the fraction of calls shadowed, between 0 and 1.
	Share float64 `yaml:"share"`
}

// Candidate is one provider and model of a route.
type Candidate struct {
	Provider string `yaml:"provider"`
	Model    string `yaml:"model"`
	// Timeout overrides the route's attempt timeout for this candidate.
	Timeout time.Duration `yaml:"timeout"`
	// Weight, when any candidate of the route has one, splits the route's
	// traffic: each caller is assigned one candidate by weight, stickily,
	// and the others follow as failover in the route's order.
	Weight int `yaml:"weight"`
	// ContextWindow is the model's context in tokens; after a context
	// length error the router moves only to a candidate with a larger one.
	// Zero means unknown.
	ContextWindow int `yaml:"context_window"`
}

// HealthConfig tunes the circuit breakers, one per provider and model.
type HealthConfig struct {
	// FailureThreshold consecutive retryable failures open a circuit;
	// DefaultFailureThreshold when zero.
	FailureThreshold int `yaml:"failure_threshold"`
	// OpenFor is how long a circuit stays open before one trial call;
	// DefaultOpenFor when zero. It doubles with every failed trial, up to
	// MaxOpenFor.
	OpenFor    time.Duration `yaml:"open_for"`
	MaxOpenFor time.Duration `yaml:"max_open_for"`
	// CheckInterval is how often open circuits are probed with the
	// provider's health check; DefaultCheckInterval when zero.
	CheckInterval time.Duration `yaml:"check_interval"`
}

// ProviderConfig declares a provider.
type ProviderConfig struct {
	// Type is TypeLocal, TypeOpenAI, TypeAnthropic, TypeGemini or TypeXAI.
	Type string `yaml:"type"`
	// Flavor, for type openai, is "openai" for OpenAI itself (requests
	// carry store=false and max_completion_tokens) or empty for any other
	// compatible server; empty with a base_url on api.openai.com is
	// "openai".
	Flavor string `yaml:"flavor"`
	// BaseURL is the API root: version included for openai and xai
	// ("http://127.0.0.1:11434/v1"), without it for anthropic (the provider
	// adds /v1/messages) and with it for gemini (".../v1beta"); the
	// provider's public endpoint when empty (required for openai).
	BaseURL string `yaml:"base_url"`
	// APIKeyEnv names the environment variable that holds the API key, and
	// APIKeyFile a file that holds it; the key itself never appears in the
	// routes file. Neither sends no key.
	APIKeyEnv  string `yaml:"api_key_env"`
	APIKeyFile string `yaml:"api_key_file"`
	// Retention "provider_default" leaves the provider's own retention
	// setting; by default every call asks for no storage and no training
	// where the provider has a setting for it.
	Retention string `yaml:"retention"`
	// Concurrency caps the calls in flight to this provider; zero is no
	// cap. InteractiveReserve of them are kept for interactive calls.
	Concurrency        int `yaml:"concurrency"`
	InteractiveReserve int `yaml:"interactive_reserve"`
	// Price is what the provider charges, to compute the cost of a call.
	Price Price `yaml:"price"`
}

// Price is a provider's price in micro-units of currency per million tokens.
// Cached input tokens are charged at CachedInputPerMillion and tokens
// written to the prompt cache at CacheWritePerMillion; either falls back to
// InputPerMillion when zero.
type Price struct {
	InputPerMillion       int64 `yaml:"input_per_million"`
	OutputPerMillion      int64 `yaml:"output_per_million"`
	CachedInputPerMillion int64 `yaml:"cached_input_per_million"`
	CacheWritePerMillion  int64 `yaml:"cache_write_per_million"`
}

// CostMicros returns the cost of usage at price p, rounded up to a whole
// micro-unit.
func (p Price) CostMicros(u provider.Usage) int64 {
	u = u.Sane()
	cached, written := u.CachedInputTokens, u.CacheWriteTokens
	plain := u.InputTokens - cached - written
	// Counts are not negative (Sane) nor are prices (Validate); the sum
	// saturates rather than wrap, so no count can turn a cost negative.
	var total uint64
	for _, part := range [4][2]int64{
		{plain, p.InputPerMillion},
		{cached, cmp.Or(p.CachedInputPerMillion, p.InputPerMillion)},
		{written, cmp.Or(p.CacheWritePerMillion, p.InputPerMillion)},
		{u.OutputTokens, p.OutputPerMillion},
	} {
		hi, lo := bits.Mul64(uint64(part[0]), uint64(part[1]))
		sum, carry := bits.Add64(total, lo, 0)
		if hi != 0 || carry != 0 {
			return maxCostMicros
		}
		total = sum
	}
	// Rounded up: a call of less than a micro-unit still costs one, so
	// that many tiny calls cannot pass a budget uncounted.
	micros := total / 1_000_000
	if total%1_000_000 != 0 {
		micros++
	}
	return int64(min(micros, maxCostMicros))
}

// maxCostMicros is the most one call can cost: costs saturate there.
const maxCostMicros = math.MaxInt64 / 1_000_000

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
		errs = append(errs, f.validateRoute(name, f.Routes[name])...)
	}
	for _, name := range sortedKeys(f.Providers) {
		errs = append(errs, validateProvider(name, f.Providers[name])...)
	}
	errs = append(errs, f.Tenants.Default.validate("tenants.default")...)
	for _, name := range sortedKeys(f.Tenants.Overrides) {
		errs = append(errs, f.Tenants.Overrides[name].validate("tenants.overrides."+name)...)
	}
	for _, name := range sortedKeys(f.Templates) {
		seen := make(map[int]bool)
		for _, v := range f.Templates[name] {
			if seen[v.Version] {
				errs = append(errs, fmt.Errorf("template %s: version %d declared twice", name, v.Version))
			}
			seen[v.Version] = true
			if _, err := prompt.Compile(name, v); err != nil {
				errs = append(errs, err)
			}
		}
	}
	h := f.Health
	if h.FailureThreshold < 0 || h.OpenFor < 0 || h.MaxOpenFor < 0 || h.CheckInterval < 0 {
		errs = append(errs, errors.New("health: negative setting"))
	}
	return errors.Join(errs...)
}

func (f File) validateRoute(name string, r Route) []error {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("route %s: "+format, append([]any{name}, args...)...))
	}
	if len(r.Providers) == 0 {
		fail("no providers")
	}
	if r.Timeout < 0 || r.TotalTimeout < 0 || r.FirstTokenTimeout < 0 || r.IdleTimeout < 0 {
		fail("negative timeout")
	}
	if r.Concurrency < 0 || r.InteractiveReserve < 0 || (r.Concurrency > 0 && r.InteractiveReserve >= r.Concurrency) {
		fail("interactive_reserve must be below concurrency, both non-negative")
	}
	if r.Retries < 0 || r.Retries > 10 {
		fail("retries must be between 0 and 10")
	}
	switch r.Sticky {
	case "", "tenant", "conversation":
	default:
		fail("sticky must be tenant or conversation, not %q", r.Sticky)
	}
	if t := r.Params.Temperature; t != nil && !(*t >= 0 && *t <= 2) {
		fail("params.temperature must be between 0 and 2")
	}
	if p := r.Params.TopP; p != nil && !(*p >= 0 && *p <= 1) {
		fail("params.top_p must be between 0 and 1")
	}
	if r.Params.MaxOutputTokens < 0 {
		fail("params.max_output_tokens is negative")
	}
	errs = append(errs, r.Limits.validate("route "+name+": limits")...)
	if r.Cache.TTL < 0 || r.Fallback.MaxAge < 0 {
		fail("negative cache ttl or fallback max_age")
	}
	if r.Template != nil {
		if err := f.declared(*r.Template); err != nil {
			fail("%v", err)
		}
	}
	if sh := r.Shadow; sh != nil {
		if sh.Template != nil {
			if err := f.declared(*sh.Template); err != nil {
				fail("shadow: %v", err)
			}
		}
		if _, ok := f.provider(sh.Provider); !ok {
			fail("shadow: unknown provider %q", sh.Provider)
		}
		if sh.Share <= 0 || sh.Share > 1 {
			fail("shadow: share must be above 0 and at most 1")
		}
	}
	for i, c := range r.Providers {
		if _, ok := f.provider(c.Provider); !ok {
			fail("provider %d: unknown provider %q", i+1, c.Provider)
		}
		if c.Timeout < 0 {
			fail("provider %d: negative timeout", i+1)
		}
		if c.Weight < 0 || c.ContextWindow < 0 {
			fail("provider %d: negative weight or context window", i+1)
		}
	}
	return errs
}

func validateProvider(name string, p ProviderConfig) []error {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("provider %s: "+format, append([]any{name}, args...)...))
	}
	switch p.Type {
	case TypeLocal, TypeAnthropic, TypeGemini, TypeXAI:
	case TypeOpenAI:
		if p.BaseURL == "" {
			fail("base_url is required")
		}
		switch p.Flavor {
		case "", "openai":
		default:
			fail("unknown flavor %q", p.Flavor)
		}
	default:
		fail("unknown type %q", p.Type)
	}
	if p.BaseURL != "" {
		if u, err := url.Parse(p.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			fail("base_url %q is not an http(s) URL", p.BaseURL)
		}
	}
	if p.APIKeyEnv != "" && p.APIKeyFile != "" {
		fail("set api_key_env or api_key_file, not both")
	}
	switch p.Retention {
	case "", "none", "provider_default":
	default:
		fail("retention must be none or provider_default, not %q", p.Retention)
	}
	if p.Concurrency < 0 || p.InteractiveReserve < 0 || (p.Concurrency > 0 && p.InteractiveReserve >= p.Concurrency) {
		fail("interactive_reserve must be below concurrency, both non-negative")
	}
	pr := p.Price
	if pr.InputPerMillion < 0 || pr.OutputPerMillion < 0 || pr.CachedInputPerMillion < 0 || pr.CacheWritePerMillion < 0 {
		fail("negative price")
	}
	return errs
}

func (l Limits) validate(where string) []error {
	var errs []error
	if l.RequestsPerMinute < 0 || l.TokensPerMinute < 0 || l.BudgetMicros < 0 {
		errs = append(errs, fmt.Errorf("%s: negative limit", where))
	}
	switch l.BudgetPeriod {
	case "", "day", "month":
	default:
		errs = append(errs, fmt.Errorf("%s: budget_period must be day or month, not %q", where, l.BudgetPeriod))
	}
	return errs
}

// declared reports whether the template version ref names is in the file;
// Validate compiles every declared version once.
func (f File) declared(ref TemplateRef) error {
	for _, v := range f.Templates[ref.Name] {
		if v.Version == ref.Version {
			return nil
		}
	}
	return fmt.Errorf("template %s version %d is not declared", ref.Name, ref.Version)
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
// API keys (os.Getenv in production) and readFile key files (os.ReadFile);
// client sends HTTP requests (nil uses NewHTTPClient). It fails when a
// named key is empty or unreadable, naming the variable or file, never the
// key.
func (f File) BuildProviders(
	getenv func(string) string,
	readFile func(string) ([]byte, error),
	client *http.Client,
) (map[string]provider.Provider, error) {
	if client == nil {
		client = NewHTTPClient()
	}
	var (
		built = make(map[string]provider.Provider)
		// tried holds each provider once, however many candidates name
		// it: a missing key is told once.
		tried = make(map[string]bool)
		errs  []error
	)
	for _, name := range sortedKeys(f.Routes) {
		for _, c := range f.Routes[name].candidates() {
			if tried[c.Provider] {
				continue
			}
			tried[c.Provider] = true
			cfg, _ := f.provider(c.Provider)
			key, err := cfg.apiKey(getenv, readFile)
			if err != nil {
				errs = append(errs, fmt.Errorf("provider %s: %w", c.Provider, err))
				continue
			}
			p, err := newProvider(c.Provider, cfg, key, client)
			if err != nil {
				errs = append(errs, fmt.Errorf("provider %s: %w", c.Provider, err))
				continue
			}
			built[c.Provider] = p
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return built, nil
}

// apiKey reads the provider's key from its variable or file.
func (p ProviderConfig) apiKey(getenv func(string) string, readFile func(string) ([]byte, error)) (string, error) {
	switch {
	case p.APIKeyEnv != "":
		key := strings.TrimSpace(getenv(p.APIKeyEnv))
		if key == "" {
			return "", fmt.Errorf("environment variable %s is empty", p.APIKeyEnv)
		}
		return key, nil
	case p.APIKeyFile != "":
		data, err := readFile(p.APIKeyFile)
		if err != nil {
			// The path is configuration, not a secret; the error from
			// reading it never holds the file's content.
			return "", fmt.Errorf("read api_key_file: %w", err)
		}
		key := strings.TrimSpace(string(data))
		if key == "" {
			return "", fmt.Errorf("api_key_file %s is empty", p.APIKeyFile)
		}
		return key, nil
	}
	return "", nil
}

func newProvider(name string, cfg ProviderConfig, key string, client *http.Client) (provider.Provider, error) {
	switch cfg.Type {
	case TypeLocal:
		return local.New(name), nil
	case TypeOpenAI:
		flavor := openai.Flavor(cfg.Flavor)
		if u, err := url.Parse(cfg.BaseURL); flavor == "" && err == nil && strings.EqualFold(strings.TrimSuffix(u.Hostname(), "."), "api.openai.com") {
			// OpenAI itself, though the flavor was left out: its settings
			// (store=false) apply all the same.
			flavor = openai.FlavorOpenAI
		}
		return openai.New(openai.Config{
			Name: name, Flavor: flavor, BaseURL: cfg.BaseURL, APIKey: key, HTTPClient: client,
		}), nil
	case TypeAnthropic:
		return anthropic.New(anthropic.Config{Name: name, BaseURL: cfg.BaseURL, APIKey: key, HTTPClient: client}), nil
	case TypeGemini:
		return gemini.New(gemini.Config{Name: name, BaseURL: cfg.BaseURL, APIKey: key, HTTPClient: client}), nil
	case TypeXAI:
		return openai.New(openai.Config{
			Name: name, Flavor: openai.FlavorXAI, BaseURL: cmp.Or(cfg.BaseURL, XAIBaseURL), APIKey: key,
			HTTPClient: client,
		}), nil
	}
	return nil, fmt.Errorf("provider type %q is not built into this router", cfg.Type)
}

// XAIBaseURL is xAI's API root.
const XAIBaseURL = "https://api.x.ai/v1"

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
