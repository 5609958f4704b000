// Package provider embeds texts with remote embedding models behind the
// embedder.Embedder interface: clients for OpenAI-compatible servers (OpenAI,
// Ollama, vLLM, text-embeddings-inference) and for the Gemini API, and the
// layers that make them fit for a pipeline: a Retrier for transient
// failures, a Batcher that gathers concurrent calls into provider requests,
// and a Cache so no text is embedded twice. New builds the whole stack from
// a Config.
//
// Every vector is checked against the configured dimensions and for values
// that are not finite numbers. Blank texts are never sent; their vector is
// all zeros. API keys travel only in request headers and never appear in
// errors or in a logged Config.
package provider

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/keelhq/keel/services/embed/internal/embedder"
)

// Config describes an embedding stack: a provider client, wrapped by a
// Retrier, a Batcher and a Cache.
type Config struct {
	// Provider is ProviderOpenAI or ProviderGemini.
	Provider string
	// BaseURL is the API root: with the version path for OpenAI-compatible
	// servers ("http://127.0.0.1:11434/v1"), without it for Gemini. Empty
	// uses the provider's public endpoint.
	BaseURL string
	// Model names the embedding model. Required.
	Model string
	// Dimensions is the length of every vector. Required.
	Dimensions int
	// SendDimensions asks an OpenAI-compatible server for Dimensions values
	// per vector. Gemini is always asked.
	SendDimensions bool
	// TaskType is the Gemini task type; TaskRetrievalDocument when empty.
	TaskType string
	// APIKey authenticates the requests. It is a secret.
	APIKey string
	// APIKeyFile names a file holding the API key, read by New when APIKey
	// is empty; a trailing line break is removed.
	APIKeyFile string
	// BatchSize is the most texts of one request; the provider's own
	// limit caps it, DefaultBatchTexts when zero.
	BatchSize int
	// BatchBytes is the most text bytes of one request; DefaultBatchBytes
	// when zero.
	BatchBytes int
	// BatchWait is how long a text waits for others to fill its request;
	// DefaultBatchWait when zero, no wait when negative.
	BatchWait time.Duration
	// MaxInFlight is the most requests at once; DefaultMaxInFlight when
	// zero.
	MaxInFlight int
	// RequestTimeout bounds one request; zero leaves it to the caller's
	// context.
	RequestTimeout time.Duration
	// MaxRetries is how many times a failed request is sent again;
	// DefaultMaxRetries when zero, none when negative.
	MaxRetries int
	// CacheEntries is the number of vectors cached; zero turns the cache
	// off.
	CacheEntries int
	// HTTPClient sends the requests; nil uses a client without its own
	// timeout.
	HTTPClient *http.Client
	// Retry holds the Retrier's clock, sleep and jitter, for tests; its
	// MaxRetries is taken from the field above.
	Retry RetryOptions
}

// Validate reports every problem of c together.
func (c Config) Validate() error {
	var errs []error
	switch c.Provider {
	case ProviderOpenAI, ProviderGemini:
	default:
		errs = append(errs, fmt.Errorf("provider %q is not supported; use %q or %q",
			c.Provider, ProviderOpenAI, ProviderGemini))
	}
	if c.Model == "" {
		errs = append(errs, errors.New("model is required"))
	}
	if c.Dimensions < 1 {
		errs = append(errs, errors.New("dimensions must be at least 1"))
	}
	if c.BaseURL != "" {
		if err := checkBaseURL(c.BaseURL); err != nil {
			errs = append(errs, err)
		}
	}
	if c.APIKey != "" && c.APIKeyFile != "" {
		errs = append(errs, errors.New("set the api key or the api key file, not both"))
	}
	if c.Provider == ProviderGemini && c.APIKey == "" && c.APIKeyFile == "" {
		errs = append(errs, errors.New("gemini needs an api key"))
	}
	if c.BatchSize < 0 || c.BatchBytes < 0 || c.MaxInFlight < 0 || c.CacheEntries < 0 || c.RequestTimeout < 0 {
		errs = append(errs, errors.New(
			"batch size, batch bytes, max in flight, cache entries and request timeout must not be negative"))
	}
	return errors.Join(errs...)
}

// String describes c without its API key.
func (c Config) String() string {
	return fmt.Sprintf("provider=%s base_url=%s model=%s dimensions=%d api_key=%s api_key_file=%s",
		c.Provider, c.BaseURL, c.Model, c.Dimensions, redacted(c.APIKey), c.APIKeyFile)
}

// GoString describes c without its API key, for the %#v verb.
func (c Config) GoString() string {
	return "provider.Config{" + c.String() + "}"
}

// LogValue describes c for slog without its API key.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("provider", c.Provider),
		slog.String("base_url", c.BaseURL),
		slog.String("model", c.Model),
		slog.Int("dimensions", c.Dimensions),
		slog.String("api_key", redacted(c.APIKey)),
		slog.String("api_key_file", c.APIKeyFile),
		slog.Int("batch_size", c.BatchSize),
		slog.Duration("batch_wait", c.BatchWait),
		slog.Int("cache_entries", c.CacheEntries),
	)
}

// New returns the embedding stack of cfg: the provider's client, a Retrier
// around it, a Batcher around that and, when CacheEntries is positive, a
// Cache on top. It returns an error when cfg is invalid or the key file
// cannot be read.
func New(cfg Config) (embedder.Embedder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("embedding provider config: %w", err)
	}
	key := cfg.APIKey
	if cfg.APIKeyFile != "" {
		var err error
		if key, err = ReadKeyFile(cfg.APIKeyFile); err != nil {
			return nil, err
		}
	}

	var client embedder.Embedder
	maxInputs := OpenAIMaxInputs
	switch cfg.Provider {
	case ProviderOpenAI:
		c, err := NewOpenAI(OpenAIConfig{
			BaseURL:        cfg.BaseURL,
			Model:          cfg.Model,
			Dimensions:     cfg.Dimensions,
			SendDimensions: cfg.SendDimensions,
			APIKey:         key,
			Timeout:        cfg.RequestTimeout,
			HTTPClient:     cfg.HTTPClient,
			Now:            cfg.Retry.Now,
		})
		if err != nil {
			return nil, err
		}
		client = c
	case ProviderGemini:
		c, err := NewGemini(GeminiConfig{
			BaseURL:    cfg.BaseURL,
			Model:      cfg.Model,
			Dimensions: cfg.Dimensions,
			TaskType:   cfg.TaskType,
			APIKey:     key,
			Timeout:    cfg.RequestTimeout,
			HTTPClient: cfg.HTTPClient,
			Now:        cfg.Retry.Now,
		})
		if err != nil {
			return nil, err
		}
		client = c
		maxInputs = GeminiMaxInputs
	}

	retryOpts := cfg.Retry
	retryOpts.MaxRetries = cfg.MaxRetries
	batchSize := cfg.BatchSize
	if batchSize == 0 {
		batchSize = DefaultBatchTexts
	}
	var e embedder.Embedder = NewBatcher(NewRetrier(client, retryOpts), BatchOptions{
		MaxTexts:    min(batchSize, maxInputs),
		MaxBytes:    cfg.BatchBytes,
		MaxWait:     cfg.BatchWait,
		MaxInFlight: cfg.MaxInFlight,
	})
	if cfg.CacheEntries > 0 {
		e = NewCache(e, cfg.CacheEntries)
	}
	return e, nil
}

// ReadKeyFile returns the API key in the file at path, without the line
// break that editors add at its end. It returns an error when the file
// cannot be read or holds no key; the error never holds the file's content.
func ReadKeyFile(path string) (string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read api key file: %w", err)
	}
	key := strings.TrimRight(string(raw), "\r\n")
	if strings.TrimSpace(key) == "" {
		return "", fmt.Errorf("api key file %s is empty", path)
	}
	return key, nil
}

// checkBaseURL returns an error unless raw is an absolute http or https
// URL.
func checkBaseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("base url %q must be an absolute http or https url", raw)
	}
	return nil
}

// redacted hides a secret, showing only whether it is set.
func redacted(secret string) string {
	if secret == "" {
		return ""
	}
	return "[redacted]"
}
