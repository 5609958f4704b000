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
)

// Name is the service's name: its durable consumer, dead-letter stage,
// audit actor and log tag.
const Name = "embed"

// redactedFilter is the subject filter of the consumer: every tenant and
// kind.
const redactedFilter = "keel." + bus.RootRedacted + ".>"

// ProviderLocal is the deterministic feature-hashing embedder, which needs
// no model download.
const ProviderLocal = "local"

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

// EmbeddingConfig chooses the embedding model.
type EmbeddingConfig struct {
	// Provider of embeddings (KEEL_EMBED_PROVIDER). Only "local" exists.
	// TODO: remote providers (OpenAI-compatible, Gemini) behind the same
	// Embedder interface; none is reachable from this build environment.
	Provider string `yaml:"provider" env:"KEEL_EMBED_PROVIDER"`
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
}

// DefaultConfig returns the configuration for a local run on loopback.
func DefaultConfig() Config {
	return Config{
		NATS:      NATSConfig{URL: "nats://127.0.0.1:4322"},
		GRPC:      GRPCConfig{Addr: "127.0.0.1:7402"},
		Embedding: EmbeddingConfig{Provider: ProviderLocal},
		Chunking: ChunkingConfig{
			MaxChars:      chunk.DefaultMaxChars,
			MaxWords:      chunk.DefaultMaxWords,
			MaxTokens:     chunk.DefaultMaxTokens,
			OverlapTokens: chunk.DefaultOverlapTokens,
			MaxChunks:     document.DefaultMaxChunks,
		},
		Consumer: ConsumerConfig{MaxDeliver: bus.DefaultMaxDeliver},
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
	if c.Embedding.Provider != ProviderLocal {
		errs = append(errs, fmt.Errorf("embedding provider %q is not supported; use %q", c.Embedding.Provider, ProviderLocal))
	}
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
	// TODO: an embedding cache keyed by model and text hash; the local
	// embedder is cheaper than a cache lookup, a remote provider will not be.
	emb := embedder.NewHashing()
	splitter := chunk.NewSplitter(chunkOptions(cfg.Chunking))
	builder := document.NewBuilder(splitter, emb, cfg.Chunking.MaxChunks)

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
	keelv1.RegisterEmbedderServiceServer(srv, newEmbedderServer(emb))

	docs := &documentEmbedder{builder: builder, pub: pub, logger: logger}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return grpcx.Serve(gctx, srv, lis)
	})
	g.Go(func() error {
		return bus.Consume(gctx, js, bus.ConsumerConfig{
			Stream:         bus.StreamRedacted,
			Durable:        Name,
			Stage:          Name,
			FilterSubjects: []string{redactedFilter},
			MaxDeliver:     cfg.Consumer.MaxDeliver,
			Backoff:        []time.Duration{time.Second, 5 * time.Second, 30 * time.Second},
		}, newRedactedEvent, docs.embedDocument, logger)
	})
	logger.Info("embed service started", "grpc_addr", lis.Addr().String(), "model", emb.Model())

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

func newRedactedEvent() *keelv1.RedactedEvent {
	return &keelv1.RedactedEvent{}
}
