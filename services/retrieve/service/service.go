// Package service runs the retrieve service: it keeps the embedded hybrid
// index of every tenant up to date from the CHUNKS stream and answers
// RetrieverService searches for the caller's tenant, asking the embed
// service for query vectors. Run is the whole process; cmd/retrieve and
// `keel dev` both call it.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/config"
	"github.com/keelhq/keel/pkg/grpcx"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/retrieve/internal/index"
	"github.com/keelhq/keel/services/retrieve/internal/qdrant"
	"github.com/keelhq/keel/services/retrieve/internal/querycache"
	"github.com/keelhq/keel/services/retrieve/internal/store"
)

// Name is the service's name: its durable consumer, dead-letter stage,
// audit actor and log tag.
const Name = "retrieve"

// chunksFilter is the subject filter of the consumer: every tenant.
const chunksFilter = "keel." + bus.RootChunks + ".>"

// DefaultWorkers is how many batches the service handles at once unless
// configured otherwise: enough to overlap one's publishing with another's
// computing on two cores.
const DefaultWorkers = 4

// Config is the retrieve service's configuration.
type Config struct {
	NATS     NATSConfig     `yaml:"nats"`
	GRPC     GRPCConfig     `yaml:"grpc"`
	Embed    EmbedConfig    `yaml:"embed"`
	Index    IndexConfig    `yaml:"index"`
	Consumer ConsumerConfig `yaml:"consumer"`
	// ServiceKey is the base64 key, shared by every service, that signs and
	// verifies the tokens of internal gRPC calls, at least auth.MinKeyLen
	// bytes once decoded (KEEL_SERVICE_KEY). Empty turns the tokens off:
	// servers then trust the tenant any caller claims. It is a secret.
	ServiceKey string `yaml:"service_key" env:"KEEL_SERVICE_KEY"`
}

// NATSConfig locates the NATS server.
type NATSConfig = config.NATS

// GRPCConfig is where RetrieverService listens.
type GRPCConfig struct {
	// Addr to listen on (KEEL_RETRIEVE_GRPC_ADDR).
	Addr string `yaml:"addr" env:"KEEL_RETRIEVE_GRPC_ADDR"`
}

// EmbedConfig locates the embed service that turns queries into vectors.
type EmbedConfig struct {
	// Addr of EmbedderService (KEEL_EMBED_ADDR).
	Addr string `yaml:"addr" env:"KEEL_EMBED_ADDR"`
	// Timeout bounds the query embedding of one search; when it passes, the
	// search answers from the keyword index alone and says so with partial
	// (KEEL_RETRIEVE_EMBED_TIMEOUT).
	Timeout time.Duration `yaml:"timeout" env:"KEEL_RETRIEVE_EMBED_TIMEOUT"`
	// SearchTimeout bounds a whole search, query embedding and both legs,
	// when the caller's deadline is later or unset; a leg that has not
	// answered by then is left out and the answer is partial
	// (KEEL_RETRIEVE_SEARCH_TIMEOUT).
	SearchTimeout time.Duration `yaml:"search_timeout" env:"KEEL_RETRIEVE_SEARCH_TIMEOUT"`
}

// IndexConfig places the index snapshots and sizes the query cache.
type IndexConfig struct {
	// Backend is where chunks are kept: "embedded" (the index in this
	// process, persisted under DataDir; the default) or "qdrant"
	// (KEEL_RETRIEVE_BACKEND).
	Backend string `yaml:"backend" env:"KEEL_RETRIEVE_BACKEND"`
	// Qdrant locates the Qdrant server of the qdrant backend.
	Qdrant QdrantConfig `yaml:"qdrant"`
	// DataDir holds one snapshot file per tenant (KEEL_RETRIEVE_DATA_DIR).
	DataDir string `yaml:"data_dir" env:"KEEL_RETRIEVE_DATA_DIR"`
	// SnapshotDelay is how long changes gather before a tenant's snapshot is
	// written (KEEL_RETRIEVE_SNAPSHOT_DELAY).
	SnapshotDelay time.Duration `yaml:"snapshot_delay" env:"KEEL_RETRIEVE_SNAPSHOT_DELAY"`
	// CacheEntries bounds the answers kept by the query cache across
	// tenants; 0 turns the cache off (KEEL_RETRIEVE_CACHE_ENTRIES).
	CacheEntries int `yaml:"cache_entries" env:"KEEL_RETRIEVE_CACHE_ENTRIES"`
	// CacheTTL bounds the age of a cached answer, and so its staleness when
	// another process changes a shared store (KEEL_RETRIEVE_CACHE_TTL).
	CacheTTL time.Duration `yaml:"cache_ttl" env:"KEEL_RETRIEVE_CACHE_TTL"`
}

// Backends of IndexConfig.Backend.
const (
	BackendEmbedded = "embedded"
	BackendQdrant   = "qdrant"
)

// QdrantConfig locates Qdrant's gRPC API.
type QdrantConfig struct {
	// Addr is host:port of the gRPC API, port 6334 when left out
	// (KEEL_QDRANT_ADDR).
	Addr string `yaml:"addr" env:"KEEL_QDRANT_ADDR"`
	// APIKey is sent with every call; it is a secret (KEEL_QDRANT_API_KEY).
	APIKey string `yaml:"api_key" env:"KEEL_QDRANT_API_KEY"`
	// APIKeyFile holds the API key instead (KEEL_QDRANT_API_KEY_FILE).
	APIKeyFile string `yaml:"api_key_file" env:"KEEL_QDRANT_API_KEY_FILE"`
	// TLS dials with TLS (KEEL_QDRANT_TLS).
	TLS bool `yaml:"tls" env:"KEEL_QDRANT_TLS"`
	// CollectionPrefix starts the names of Keel's collections
	// (KEEL_QDRANT_COLLECTION_PREFIX).
	CollectionPrefix string `yaml:"collection_prefix" env:"KEEL_QDRANT_COLLECTION_PREFIX"`
	// Timeout bounds each call (KEEL_QDRANT_TIMEOUT).
	Timeout time.Duration `yaml:"timeout" env:"KEEL_QDRANT_TIMEOUT"`
}

// LogValue keeps the API key out of logs.
func (c QdrantConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("addr", c.Addr),
		slog.Bool("api_key_set", c.APIKey != "" || c.APIKeyFile != ""),
		slog.Bool("tls", c.TLS),
		slog.String("collection_prefix", c.CollectionPrefix),
		slog.Duration("timeout", c.Timeout),
	)
}

// config returns the qdrant package's configuration, reading the key file.
func (c QdrantConfig) config() (qdrant.Config, error) {
	key := c.APIKey
	if c.APIKeyFile != "" {
		data, err := os.ReadFile(c.APIKeyFile)
		if err != nil {
			return qdrant.Config{}, fmt.Errorf("read qdrant api key file: %w", err)
		}
		key = strings.TrimRight(string(data), "\r\n")
	}
	return qdrant.Config{
		Address:          c.Addr,
		APIKey:           key,
		TLS:              c.TLS,
		CollectionPrefix: c.CollectionPrefix,
		Timeout:          c.Timeout,
	}, nil
}

// ConsumerConfig tunes redelivery of batches that could not be indexed.
type ConsumerConfig struct {
	// MaxDeliver bounds deliveries of one batch before it is dead-lettered
	// (KEEL_RETRIEVE_MAX_DELIVER).
	MaxDeliver int `yaml:"max_deliver" env:"KEEL_RETRIEVE_MAX_DELIVER"`
	// Workers is how many batches are handled at once; versions of one
	// document are still handled in order (KEEL_RETRIEVE_WORKERS).
	Workers int `yaml:"workers" env:"KEEL_RETRIEVE_WORKERS"`
}

// DefaultConfig returns the configuration for a local run on loopback, with
// the index kept where `keel dev` keeps its data.
func DefaultConfig() Config {
	return Config{
		NATS:  NATSConfig{URL: "nats://127.0.0.1:4322"},
		GRPC:  GRPCConfig{Addr: "127.0.0.1:7403"},
		Embed: EmbedConfig{Addr: "127.0.0.1:7402", Timeout: 2 * time.Second, SearchTimeout: 5 * time.Second},
		Index: IndexConfig{
			Backend:       BackendEmbedded,
			Qdrant:        QdrantConfig{CollectionPrefix: qdrant.DefaultCollectionPrefix, Timeout: qdrant.DefaultTimeout},
			DataDir:       ".data/retrieve",
			SnapshotDelay: index.DefaultSnapshotDelay,
			CacheEntries:  querycache.DefaultEntries,
			CacheTTL:      querycache.DefaultTTL,
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
		errs = append(errs, errors.New("grpc addr is required (KEEL_RETRIEVE_GRPC_ADDR)"))
	}
	if c.Embed.Addr == "" {
		errs = append(errs, errors.New("embed addr is required (KEEL_EMBED_ADDR)"))
	}
	if c.Embed.Timeout <= 0 {
		errs = append(errs, errors.New("embed timeout must be positive (KEEL_RETRIEVE_EMBED_TIMEOUT)"))
	}
	if c.Embed.SearchTimeout <= 0 {
		errs = append(errs, errors.New("search timeout must be positive (KEEL_RETRIEVE_SEARCH_TIMEOUT)"))
	}
	switch c.Index.Backend {
	case BackendEmbedded, "":
		if c.Index.DataDir == "" {
			errs = append(errs, errors.New("index data dir is required (KEEL_RETRIEVE_DATA_DIR)"))
		}
	case BackendQdrant:
		q := c.Index.Qdrant
		if q.APIKey != "" && q.APIKeyFile != "" {
			errs = append(errs, errors.New("set one of the qdrant api key and api key file (KEEL_QDRANT_API_KEY, KEEL_QDRANT_API_KEY_FILE)"))
		}
		if q.Addr == "" {
			errs = append(errs, errors.New("qdrant addr is required with the qdrant backend (KEEL_QDRANT_ADDR)"))
		} else if err := (qdrant.Config{Address: q.Addr, CollectionPrefix: q.CollectionPrefix, Timeout: q.Timeout}).Validate(); err != nil {
			errs = append(errs, fmt.Errorf("%w (KEEL_QDRANT_ADDR, KEEL_QDRANT_COLLECTION_PREFIX, KEEL_QDRANT_TIMEOUT)", err))
		}
	default:
		errs = append(errs, fmt.Errorf("index backend %q: want %q or %q (KEEL_RETRIEVE_BACKEND)", c.Index.Backend, BackendEmbedded, BackendQdrant))
	}
	if c.Index.SnapshotDelay <= 0 {
		errs = append(errs, errors.New("index snapshot delay must be positive (KEEL_RETRIEVE_SNAPSHOT_DELAY)"))
	}
	if c.Index.CacheEntries < 0 {
		errs = append(errs, errors.New("index cache entries must not be negative (KEEL_RETRIEVE_CACHE_ENTRIES)"))
	}
	if c.Index.CacheEntries > 0 && c.Index.CacheTTL <= 0 {
		errs = append(errs, errors.New("index cache ttl must be positive (KEEL_RETRIEVE_CACHE_TTL)"))
	}
	if c.Consumer.Workers < 1 || c.Consumer.Workers > 64 {
		errs = append(errs, errors.New("consumer workers must be within [1, 64] (KEEL_RETRIEVE_WORKERS)"))
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

// Run loads the index snapshots, consumes the CHUNKS stream and serves
// RetrieverService until ctx ends, then writes the pending snapshots. It
// returns nil after a clean stop and an error when a part cannot start or
// fails. The streams must exist (bus.DeclareStreams).
func Run(ctx context.Context, cfg Config, deps Deps) (err error) {
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

	backend, err := openBackend(ctx, cfg.Index, logger)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := backend.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close index: %w", cerr))
		}
	}()

	// NATS.
	js, closeNATS, err := bus.Open(deps.NATS, cfg.NATS.URL, Name)
	if err != nil {
		return err
	}
	defer closeNATS()
	if err := rebuildWhenEmpty(ctx, js, backend, logger); err != nil {
		return err
	}

	// The embed service, for query vectors.
	embedConn, err := grpcx.Dial(cfg.Embed.Addr, serviceAuth.DialOptions()...)
	if err != nil {
		return err
	}
	defer embedConn.Close()

	// gRPC.
	lis, err := grpcx.Listen(cfg.GRPC.Addr, deps.Listener)
	if err != nil {
		return err
	}
	pub := bus.NewPublisher(js)
	writer := &indexWriter{Backend: backend, cache: newQueryCache(cfg.Index)}
	srv := grpcx.NewServer(logger, serviceAuth.ServerOptions()...)
	keelv1.RegisterRetrieverServiceServer(srv, &retrieverServer{
		store:         writer,
		cache:         writer.cache,
		pub:           pub,
		embedder:      keelv1.NewEmbedderServiceClient(embedConn),
		embedTimeout:  cfg.Embed.Timeout,
		searchTimeout: cfg.Embed.SearchTimeout,
		logger:        logger,
	})

	indexer := &batchIndexer{store: writer, pub: pub, logger: logger}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return grpcx.Serve(gctx, srv, lis)
	})
	g.Go(func() error {
		return bus.ConsumeKeyed(gctx, js, bus.ConsumerConfig{
			Stream:         bus.StreamChunks,
			Durable:        Name,
			Stage:          Name,
			FilterSubjects: []string{chunksFilter},
			MaxDeliver:     cfg.Consumer.MaxDeliver,
			Backoff:        []time.Duration{time.Second, 5 * time.Second, 30 * time.Second},
			Workers:        cfg.Consumer.Workers,
		}, newChunkBatch, batchKey, indexer.indexBatch, logger)
	})
	logger.Info("retrieve service started", "grpc_addr", lis.Addr().String(), "backend", cfg.Index.Backend)

	if err := g.Wait(); err != nil {
		return err
	}
	logger.Info("retrieve service stopped")
	return nil
}

// openBackend opens the store c names: the embedded index with every
// tenant's snapshot loaded, or a connection to Qdrant.
func openBackend(ctx context.Context, c IndexConfig, logger *slog.Logger) (store.Backend, error) {
	if c.Backend == BackendQdrant {
		qc, err := c.Qdrant.config()
		if err != nil {
			return nil, err
		}
		b, err := qdrant.Open(ctx, qc)
		if err != nil {
			return nil, fmt.Errorf("open qdrant: %w", err)
		}
		return b, nil
	}
	idx, err := index.Open(index.Options{
		Dir:           c.DataDir,
		SnapshotDelay: c.SnapshotDelay,
		OnSnapshotError: func(tenantID string, err error) {
			logger.Error("index snapshot failed; retried on the next change and at shutdown",
				"tenant", tenantID, "error", err)
		},
		OnGraphError: func(tenantID string, err error) {
			logger.Warn("index graph unusable; rebuilt from the snapshot's vectors or searched exactly",
				"tenant", tenantID, "error", err)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("open index: %w", err)
	}
	return idx, nil
}

// rebuildWhenEmpty deletes the durable consumer when the index holds
// nothing, as with a new or wiped data directory, so that it is created
// again from the start of the CHUNKS stream and the index is rebuilt.
// Replaying a batch is harmless: the index replaces by document.
// TODO: a crash after a batch is acked but before its snapshot is written
// loses the updates since the last snapshot while the index is not empty:
// SnapshotDelay, or for a large tenant under steady change up to eight
// times its last save (a few seconds at 100,000 chunks). The snapshot
// should record the stream sequences it covers and replay from them.
func rebuildWhenEmpty(ctx context.Context, js jetstream.JetStream, backend store.Backend, logger *slog.Logger) error {
	empty, err := backend.Empty(ctx)
	if err != nil {
		return fmt.Errorf("check whether the index is empty: %w", err)
	}
	if !empty {
		return nil
	}
	err = js.DeleteConsumer(ctx, bus.StreamChunks, Name)
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("reset consumer %s: %w", Name, err)
	}
	logger.Info("index is empty; replaying the chunks stream to rebuild it")
	return nil
}

// newQueryCache returns the query cache c asks for, nil (which keeps
// nothing) when c has no entries.
func newQueryCache(c IndexConfig) *querycache.Cache {
	if c.CacheEntries == 0 {
		return nil
	}
	return querycache.New(querycache.Options{Entries: c.CacheEntries, TTL: c.CacheTTL})
}

// batchKey keeps the batches of one document on one worker.
func batchKey(d bus.Delivery[*keelv1.ChunkBatch]) string {
	return d.Tenant + "/" + d.Msg.GetDocId()
}

func newChunkBatch() *keelv1.ChunkBatch {
	return &keelv1.ChunkBatch{}
}
