// Package service runs the embed service: it consumes redacted documents,
// cuts them into chunks, embeds every chunk and publishes the chunks of each
// document as one ChunkBatch for the retrieve service, and answers
// EmbedderService calls. Run is the whole process; cmd/embed and `keel dev`
// both call it.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/sync/errgroup"

	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/config"
	"github.com/keelhq/keel/pkg/grpcx"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/embed/internal/chunk"
	"github.com/keelhq/keel/services/embed/internal/document"
	"github.com/keelhq/keel/services/embed/internal/embedder"
	"github.com/keelhq/keel/services/embed/internal/provider"
)

// Name is the service's name: its durable consumer, dead-letter stage,
// audit actor and log tag.
const Name = "embed"

// redactedFilter is the subject filter of the consumer: every tenant and
// kind.
const redactedFilter = "keel." + bus.RootRedacted + ".>"

// Embedding providers.
const (
	// ProviderLocal is the deterministic feature-hashing embedder, which
	// needs no model download.
	ProviderLocal = "local"
	// ProviderOpenAI is any server that speaks the OpenAI embeddings API:
	// OpenAI, Ollama, vLLM, text-embeddings-inference and others.
	ProviderOpenAI = provider.ProviderOpenAI
	// ProviderGemini is the Gemini API.
	ProviderGemini = provider.ProviderGemini
)

// Limits of the remote embedding settings.
const (
	// maxDimensions bounds the configured vector length; the largest
	// common embedding models have 3,072 dimensions.
	maxDimensions = 16384
	// maxRetries bounds the configured retries of one provider request.
	maxRetries = 20
)

// DefaultWorkers is how many documents the service handles at once unless
// configured otherwise: enough to overlap one's publishing with another's
// computing on two cores.
const DefaultWorkers = 4

// Config is the embed service's configuration.
type Config struct {
	NATS      NATSConfig      `yaml:"nats"`
	GRPC      GRPCConfig      `yaml:"grpc"`
	Embedding EmbeddingConfig `yaml:"embedding"`
	Chunking  ChunkingConfig  `yaml:"chunking"`
	Consumer  ConsumerConfig  `yaml:"consumer"`
	// ServiceKey is the base64 key, shared by every service, that signs and
	// verifies the tokens of internal gRPC calls, at least auth.MinKeyLen
	// bytes once decoded (KEEL_SERVICE_KEY). Empty turns the tokens off:
	// servers then trust the tenant any caller claims. It is a secret.
	ServiceKey string `yaml:"service_key" env:"KEEL_SERVICE_KEY"`
}

// NATSConfig locates the NATS server.
type NATSConfig = config.NATS

// GRPCConfig is where EmbedderService listens.
type GRPCConfig struct {
	// Addr to listen on (KEEL_EMBED_GRPC_ADDR).
	Addr string `yaml:"addr" env:"KEEL_EMBED_GRPC_ADDR"`
}

// EmbeddingConfig chooses the embedding model. Every field but Provider
// applies to the remote providers only.
type EmbeddingConfig struct {
	// Provider of embeddings: "local", "openai" (any OpenAI-compatible
	// server) or "gemini" (KEEL_EMBED_PROVIDER).
	Provider string `yaml:"provider" env:"KEEL_EMBED_PROVIDER"`
	// BaseURL is the provider's API root: with the version path for
	// OpenAI-compatible servers, such as "http://127.0.0.1:11434/v1" for
	// Ollama, and without it for Gemini. Empty uses the provider's public
	// endpoint (KEEL_EMBED_BASE_URL).
	BaseURL string `yaml:"base_url" env:"KEEL_EMBED_BASE_URL"`
	// Model names the embedding model; required for a remote provider
	// (KEEL_EMBED_MODEL).
	Model string `yaml:"model" env:"KEEL_EMBED_MODEL"`
	// Dimensions is the length of the model's vectors; every vector is
	// checked against it. Required for a remote provider
	// (KEEL_EMBED_DIMENSIONS).
	Dimensions int `yaml:"dimensions" env:"KEEL_EMBED_DIMENSIONS"`
	// SendDimensions asks an OpenAI-compatible server to shorten its
	// vectors to Dimensions, for models that can (text-embedding-3-*);
	// Gemini is always asked (KEEL_EMBED_SEND_DIMENSIONS).
	SendDimensions bool `yaml:"send_dimensions" env:"KEEL_EMBED_SEND_DIMENSIONS"`
	// APIKey authenticates the provider's requests; local servers may need
	// none. It is a secret (KEEL_EMBED_API_KEY).
	APIKey string `yaml:"api_key" env:"KEEL_EMBED_API_KEY"`
	// APIKeyFile names a file holding the API key instead, such as a
	// mounted secret; a trailing line break is ignored
	// (KEEL_EMBED_API_KEY_FILE).
	APIKeyFile string `yaml:"api_key_file" env:"KEEL_EMBED_API_KEY_FILE"`
	// BatchSize is the most texts of one provider request; at most 2,048
	// for OpenAI-compatible servers and 100 for Gemini
	// (KEEL_EMBED_BATCH_SIZE).
	BatchSize int `yaml:"batch_size" env:"KEEL_EMBED_BATCH_SIZE"`
	// BatchBytes is the most text bytes of one provider request
	// (KEEL_EMBED_BATCH_BYTES).
	BatchBytes int `yaml:"batch_bytes" env:"KEEL_EMBED_BATCH_BYTES"`
	// BatchWait is how long a text waits for others to fill its request;
	// 0 sends at once (KEEL_EMBED_BATCH_WAIT).
	BatchWait time.Duration `yaml:"batch_wait" env:"KEEL_EMBED_BATCH_WAIT"`
	// MaxInFlight is the most provider requests at once
	// (KEEL_EMBED_MAX_IN_FLIGHT).
	MaxInFlight int `yaml:"max_in_flight" env:"KEEL_EMBED_MAX_IN_FLIGHT"`
	// RequestTimeout bounds one provider request
	// (KEEL_EMBED_REQUEST_TIMEOUT).
	RequestTimeout time.Duration `yaml:"request_timeout" env:"KEEL_EMBED_REQUEST_TIMEOUT"`
	// MaxRetries is how many times a request that failed for a passing
	// reason (rate limit, server error, timeout) is sent again
	// (KEEL_EMBED_MAX_RETRIES).
	MaxRetries int `yaml:"max_retries" env:"KEEL_EMBED_MAX_RETRIES"`
	// CacheEntries is the number of vectors kept so that no text is sent
	// twice; 0 turns the cache off. An entry takes four bytes per
	// dimension (KEEL_EMBED_CACHE_ENTRIES).
	CacheEntries int `yaml:"cache_entries" env:"KEEL_EMBED_CACHE_ENTRIES"`
}

// remote reports whether c names a remote provider.
func (c EmbeddingConfig) remote() bool {
	return c.Provider == ProviderOpenAI || c.Provider == ProviderGemini
}

// String describes c without its API key.
func (c EmbeddingConfig) String() string {
	return c.providerConfig("").String()
}

// LogValue hides the API key when an EmbeddingConfig is logged.
func (c EmbeddingConfig) LogValue() slog.Value {
	return c.providerConfig("").LogValue()
}

// validate returns every problem of c.
func (c EmbeddingConfig) validate() []error {
	if c.Provider == ProviderLocal {
		return nil
	}
	if !c.remote() {
		return []error{fmt.Errorf("embedding provider %q is not supported; use %q, %q or %q (KEEL_EMBED_PROVIDER)",
			c.Provider, ProviderLocal, ProviderOpenAI, ProviderGemini)}
	}

	var errs []error
	if c.Model == "" {
		errs = append(errs, fmt.Errorf("embedding model is required for provider %s (KEEL_EMBED_MODEL)", c.Provider))
	}
	// TODO: check that max_chunks vectors of this many dimensions fit one
	// NATS message; document.DefaultMaxChunks is sized for 384 dimensions.
	if c.Dimensions < 1 || c.Dimensions > maxDimensions {
		errs = append(errs, fmt.Errorf("embedding dimensions must be within [1, %d] for provider %s (KEEL_EMBED_DIMENSIONS)",
			maxDimensions, c.Provider))
	}
	if c.BaseURL != "" {
		if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, errors.New("embedding base_url must be an absolute http or https url (KEEL_EMBED_BASE_URL)"))
		}
	}
	if c.APIKey != "" && c.APIKeyFile != "" {
		errs = append(errs, errors.New(
			"set embedding api_key or api_key_file, not both (KEEL_EMBED_API_KEY, KEEL_EMBED_API_KEY_FILE)"))
	}
	if c.Provider == ProviderGemini && c.APIKey == "" && c.APIKeyFile == "" {
		errs = append(errs, errors.New(
			"embedding provider gemini needs an api key (KEEL_EMBED_API_KEY or KEEL_EMBED_API_KEY_FILE)"))
	}
	maxBatch := provider.OpenAIMaxInputs
	if c.Provider == ProviderGemini {
		maxBatch = provider.GeminiMaxInputs
	}
	if c.BatchSize < 1 || c.BatchSize > maxBatch {
		errs = append(errs, fmt.Errorf("embedding batch_size must be within [1, %d] for provider %s (KEEL_EMBED_BATCH_SIZE)",
			maxBatch, c.Provider))
	}
	if c.BatchBytes < 1 {
		errs = append(errs, errors.New("embedding batch_bytes must be at least 1 (KEEL_EMBED_BATCH_BYTES)"))
	}
	if c.BatchWait < 0 {
		errs = append(errs, errors.New("embedding batch_wait must not be negative (KEEL_EMBED_BATCH_WAIT)"))
	}
	if c.MaxInFlight < 1 {
		errs = append(errs, errors.New("embedding max_in_flight must be at least 1 (KEEL_EMBED_MAX_IN_FLIGHT)"))
	}
	if c.RequestTimeout <= 0 {
		errs = append(errs, errors.New("embedding request_timeout must be positive (KEEL_EMBED_REQUEST_TIMEOUT)"))
	}
	if c.MaxRetries < 0 || c.MaxRetries > maxRetries {
		errs = append(errs, fmt.Errorf("embedding max_retries must be within [0, %d] (KEEL_EMBED_MAX_RETRIES)", maxRetries))
	}
	if c.CacheEntries < 0 {
		errs = append(errs, errors.New("embedding cache_entries must not be negative (KEEL_EMBED_CACHE_ENTRIES)"))
	}
	return errs
}

// providerConfig returns the provider settings of c for the given Gemini
// task type.
func (c EmbeddingConfig) providerConfig(taskType string) provider.Config {
	// Zero means "none" here and "the default" in provider.Config.
	wait, retries := c.BatchWait, c.MaxRetries
	if wait == 0 {
		wait = -1
	}
	if retries == 0 {
		retries = -1
	}
	return provider.Config{
		Provider:       c.Provider,
		BaseURL:        c.BaseURL,
		Model:          c.Model,
		Dimensions:     c.Dimensions,
		SendDimensions: c.SendDimensions,
		TaskType:       taskType,
		APIKey:         c.APIKey,
		APIKeyFile:     c.APIKeyFile,
		BatchSize:      c.BatchSize,
		BatchBytes:     c.BatchBytes,
		BatchWait:      wait,
		MaxInFlight:    c.MaxInFlight,
		RequestTimeout: c.RequestTimeout,
		MaxRetries:     retries,
		CacheEntries:   c.CacheEntries,
	}
}

// newEmbedders returns the embedder of document chunks and the embedder of
// the search queries that EmbedderService answers. They are one embedder
// except for Gemini, which embeds documents and queries differently; both
// give vectors of the same model.
func newEmbedders(c EmbeddingConfig) (docs, queries embedder.Embedder, err error) {
	if c.Provider == ProviderLocal {
		// The hashing embedder is cheaper than hashing the text for a
		// cache key, so it is used bare.
		e := embedder.NewHashing()
		return e, e, nil
	}

	docs, err = provider.New(c.providerConfig(provider.TaskRetrievalDocument))
	if err != nil {
		return nil, nil, err
	}
	if c.Provider != ProviderGemini {
		return docs, docs, nil
	}
	queries, err = provider.New(c.providerConfig(provider.TaskRetrievalQuery))
	if err != nil {
		return nil, nil, err
	}
	return docs, queries, nil
}

// ChunkingConfig bounds the chunks of a document.
type ChunkingConfig struct {
	// MaxChars is the largest chunk in bytes (KEEL_EMBED_CHUNK_MAX_CHARS).
	MaxChars int `yaml:"max_chars" env:"KEEL_EMBED_CHUNK_MAX_CHARS"`
	// MaxWords is the largest chunk in words (KEEL_EMBED_CHUNK_MAX_WORDS).
	MaxWords int `yaml:"max_words" env:"KEEL_EMBED_CHUNK_MAX_WORDS"`
	// MaxTokens is the largest chunk in estimated tokens
	// (KEEL_EMBED_CHUNK_MAX_TOKENS); see chunk.EstimateTokens.
	MaxTokens int `yaml:"max_tokens" env:"KEEL_EMBED_CHUNK_MAX_TOKENS"`
	// OverlapTokens bounds the overlap between neighbouring chunks of one
	// block in estimated tokens; 0 means none
	// (KEEL_EMBED_CHUNK_OVERLAP_TOKENS).
	OverlapTokens int `yaml:"overlap_tokens" env:"KEEL_EMBED_CHUNK_OVERLAP_TOKENS"`
	// MaxChunks bounds the chunks of one document; a longer document is
	// dead-lettered (KEEL_EMBED_MAX_CHUNKS).
	MaxChunks int `yaml:"max_chunks" env:"KEEL_EMBED_MAX_CHUNKS"`
}

// ConsumerConfig tunes redelivery of documents that could not be embedded.
type ConsumerConfig struct {
	// MaxDeliver bounds deliveries of one document before it is
	// dead-lettered (KEEL_EMBED_MAX_DELIVER).
	MaxDeliver int `yaml:"max_deliver" env:"KEEL_EMBED_MAX_DELIVER"`
	// Workers is how many documents are handled at once; versions of one
	// document are still handled in order (KEEL_EMBED_WORKERS).
	Workers int `yaml:"workers" env:"KEEL_EMBED_WORKERS"`
}

// DefaultConfig returns the configuration for a local run on loopback.
func DefaultConfig() Config {
	return Config{
		NATS: NATSConfig{URL: "nats://127.0.0.1:4322"},
		GRPC: GRPCConfig{Addr: "127.0.0.1:7402"},
		Embedding: EmbeddingConfig{
			Provider:       ProviderLocal,
			BatchSize:      provider.DefaultBatchTexts,
			BatchBytes:     provider.DefaultBatchBytes,
			BatchWait:      provider.DefaultBatchWait,
			MaxInFlight:    provider.DefaultMaxInFlight,
			RequestTimeout: 30 * time.Second,
			MaxRetries:     provider.DefaultMaxRetries,
			CacheEntries:   provider.DefaultCacheEntries,
		},
		Chunking: ChunkingConfig{
			MaxChars:      chunk.DefaultMaxChars,
			MaxWords:      chunk.DefaultMaxWords,
			MaxTokens:     chunk.DefaultMaxTokens,
			OverlapTokens: chunk.DefaultOverlapTokens,
			MaxChunks:     document.DefaultMaxChunks,
		},
		Consumer: ConsumerConfig{MaxDeliver: bus.DefaultMaxDeliver, Workers: DefaultWorkers},
	}
}

// Validate reports every problem of c together.
func (c Config) Validate() error {
	var errs []error
	if c.NATS.URL == "" {
		errs = append(errs, errors.New("nats url is required (KEEL_NATS_URL)"))
	}
	if c.GRPC.Addr == "" {
		errs = append(errs, errors.New("grpc addr is required (KEEL_EMBED_GRPC_ADDR)"))
	}
	errs = append(errs, c.Embedding.validate()...)
	if c.Chunking.MaxChars < 64 || c.Chunking.MaxChars > MaxTextBytes {
		errs = append(errs, fmt.Errorf("chunking max_chars must be within [64, %d]", MaxTextBytes))
	}
	if c.Chunking.MaxWords < 8 {
		errs = append(errs, errors.New("chunking max_words must be at least 8"))
	}
	if c.Chunking.MaxTokens < 16 {
		errs = append(errs, errors.New("chunking max_tokens must be at least 16"))
	}
	if c.Chunking.OverlapTokens < 0 || c.Chunking.OverlapTokens > c.Chunking.MaxTokens/2 {
		errs = append(errs, errors.New("chunking overlap_tokens must be within [0, max_tokens/2]"))
	}
	if c.Chunking.MaxChunks < 1 {
		errs = append(errs, errors.New("chunking max_chunks must be at least 1"))
	}
	if c.Consumer.Workers < 1 || c.Consumer.Workers > 64 {
		errs = append(errs, errors.New("consumer workers must be within [1, 64] (KEEL_EMBED_WORKERS)"))
	}
	if c.Consumer.MaxDeliver < 1 {
		errs = append(errs, errors.New("consumer max_deliver must be at least 1"))
	}
	if _, err := grpcx.NewServiceAuth(c.ServiceKey, Name); err != nil {
		errs = append(errs, fmt.Errorf("%w (KEEL_SERVICE_KEY)", err))
	}
	return errors.Join(errs...)
}

// Deps are the parts of the process that a caller may provide. Nil fields
// are created from the Config.
type Deps struct {
	// Logger receives the service's logs; slog.Default() when nil.
	Logger *slog.Logger
	// NATS is the connection to consume and publish on; Run dials
	// Config.NATS.URL and closes its own connection when nil.
	NATS *nats.Conn
	// Listener serves gRPC; Run listens on Config.GRPC.Addr when nil.
	Listener net.Listener
}

// Run consumes the REDACTED stream and serves EmbedderService until ctx
// ends. It returns nil after a clean stop and an error when a part cannot
// start or fails. The streams must exist (bus.DeclareStreams).
func Run(ctx context.Context, cfg Config, deps Deps) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid config: %w", err)
	}
	logger := deps.Logger
	if logger == nil {
		logger = slog.Default()
	}
	serviceAuth, err := grpcx.StartServiceAuth(cfg.ServiceKey, Name, logger)
	if err != nil {
		return err
	}

	// The embedding pipeline.
	docEmbedder, queryEmbedder, err := newEmbedders(cfg.Embedding)
	if err != nil {
		return err
	}
	splitter := chunk.NewSplitter(chunkOptions(cfg.Chunking))
	builder := document.NewBuilder(splitter, docEmbedder, cfg.Chunking.MaxChunks)

	// NATS.
	js, closeNATS, err := bus.Open(deps.NATS, cfg.NATS.URL, Name)
	if err != nil {
		return err
	}
	defer closeNATS()
	pub := bus.NewPublisher(js)

	// gRPC.
	lis, err := grpcx.Listen(cfg.GRPC.Addr, deps.Listener)
	if err != nil {
		return err
	}
	srv := grpcx.NewServer(logger, serviceAuth.ServerOptions()...)
	keelv1.RegisterEmbedderServiceServer(srv, newEmbedderServer(queryEmbedder))

	docs := &documentEmbedder{builder: builder, pub: pub, logger: logger}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return grpcx.Serve(gctx, srv, lis)
	})
	g.Go(func() error {
		return bus.ConsumeKeyed(gctx, js, bus.ConsumerConfig{
			Stream:         bus.StreamRedacted,
			Durable:        Name,
			Stage:          Name,
			FilterSubjects: []string{redactedFilter},
			MaxDeliver:     cfg.Consumer.MaxDeliver,
			Backoff:        []time.Duration{time.Second, 5 * time.Second, 30 * time.Second},
			Workers:        cfg.Consumer.Workers,
		}, newRedactedEvent, documentKey, docs.embedDocument, logger)
	})
	logger.Info("embed service started",
		"grpc_addr", lis.Addr().String(),
		"provider", cfg.Embedding.Provider,
		"model", docEmbedder.Model(),
		"dimensions", docEmbedder.Dimensions(),
	)

	if err := g.Wait(); err != nil {
		return err
	}
	logger.Info("embed service stopped")
	return nil
}

// chunkOptions returns the splitter options of c.
func chunkOptions(c ChunkingConfig) chunk.Options {
	overlap := c.OverlapTokens
	if overlap == 0 {
		overlap = -1 // chunk.Options reads zero as the default
	}
	return chunk.Options{
		MaxChars:      c.MaxChars,
		MaxWords:      c.MaxWords,
		MaxTokens:     c.MaxTokens,
		OverlapTokens: overlap,
	}
}

// documentKey keeps the versions of one document on one worker.
func documentKey(d bus.Delivery[*keelv1.RedactedEvent]) string {
	return d.Tenant + "/" + d.Msg.GetEventId()
}

func newRedactedEvent() *keelv1.RedactedEvent {
	return &keelv1.RedactedEvent{}
}
