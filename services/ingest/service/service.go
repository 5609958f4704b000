// Package service runs the ingest service: it validates raw events from
// keel.ingest.>, redacts their personal data into placeholders, keeps the
// originals in the tenant's encrypted vault and publishes the redacted event
// on keel.redacted.<tenant>.<kind>. It also serves RedactorService and
// IngestService. Run is the whole process; cmd/ingest and `keel dev` both
// call it.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/sync/errgroup"

	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/config"
	"github.com/keelhq/keel/pkg/grpcx"
	"github.com/keelhq/keel/pkg/pgdb"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/ingest/internal/intake"
	"github.com/keelhq/keel/services/ingest/internal/vault"
	"github.com/keelhq/keel/services/ingest/redact"
)

// Name is the service's name: its durable consumer, dead-letter stage,
// audit actor and log tag.
const Name = "ingest"

// ingestFilter is the subject filter of the ingest consumer.
const ingestFilter = "keel." + bus.RootIngest + ".>"

// Limits on MaxBodyBytes: a body must fit in one NATS message with room to
// spare, and the default NATS payload limit is 1 MiB.
const (
	minBodyLimit = 1 << 10
	maxBodyLimit = 768 << 10
)

// Config is the ingest service's configuration.
type Config struct {
	NATS     NATSConfig     `yaml:"nats"`
	Database DatabaseConfig `yaml:"database"`
	GRPC     GRPCConfig     `yaml:"grpc"`
	Vault    VaultConfig    `yaml:"vault"`
	Intake   IntakeConfig   `yaml:"intake"`
	// Redaction sets how each tenant's data is redacted and classified.
	Redaction RedactionConfig `yaml:"redaction"`
	// ServiceKey is the base64 key, shared by every service, that signs and
	// verifies the tokens of internal gRPC calls, at least auth.MinKeyLen
	// bytes once decoded (KEEL_SERVICE_KEY). Empty turns the tokens off:
	// servers then trust the tenant any caller claims. It is a secret.
	ServiceKey string `yaml:"service_key" env:"KEEL_SERVICE_KEY"`
}

// NATSConfig locates the NATS server.
type NATSConfig = config.NATS

// DatabaseConfig locates Postgres, which holds the vault.
type DatabaseConfig = config.Database

// GRPCConfig is where RedactorService and IngestService listen.
type GRPCConfig struct {
	// Addr to listen on (KEEL_INGEST_GRPC_ADDR).
	Addr string `yaml:"addr" env:"KEEL_INGEST_GRPC_ADDR"`
}

// VaultConfig configures the store of originals.
type VaultConfig struct {
	// Key is the base64 master key of 32 bytes (KEEL_VAULT_KEY). Each
	// tenant's key is derived from it; losing it loses every original.
	Key string `yaml:"key" env:"KEEL_VAULT_KEY"`
	// TTL is how long originals are kept (KEEL_VAULT_TTL).
	TTL time.Duration `yaml:"ttl" env:"KEEL_VAULT_TTL"`
	// PurgeInterval is how often expired originals are deleted
	// (KEEL_VAULT_PURGE_INTERVAL).
	PurgeInterval time.Duration `yaml:"purge_interval" env:"KEEL_VAULT_PURGE_INTERVAL"`
}

// LogValue keeps the key out of logs.
func (c VaultConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.Bool("key_set", c.Key != ""), slog.Duration("ttl", c.TTL),
		slog.Duration("purge_interval", c.PurgeInterval))
}

// IntakeConfig sets the limits of accepted events.
type IntakeConfig struct {
	// MaxBodyBytes is the largest body accepted (KEEL_INGEST_MAX_BODY_BYTES).
	MaxBodyBytes int `yaml:"max_body_bytes" env:"KEEL_INGEST_MAX_BODY_BYTES"`
}

// RedactionConfig sets the redaction policies.
type RedactionConfig struct {
	// PhoneRegions are the regions (ISO 3166 codes) whose numbering plans
	// validate phone numbers written without +CC
	// (KEEL_REDACT_PHONE_REGIONS, comma-separated).
	PhoneRegions []string `yaml:"phone_regions" env:"KEEL_REDACT_PHONE_REGIONS"`
	// Default is the policy of every tenant that has none of its own.
	Default intake.PolicyConfig `yaml:"default"`
	// Tenants holds each tenant's own policy, by tenant id.
	Tenants map[string]intake.PolicyConfig `yaml:"tenants"`
	// Model is an optional named-entity model served over HTTP.
	Model ModelConfig `yaml:"model"`
}

// ModelConfig locates a named-entity model that speaks Presidio Analyzer's
// POST /analyze; its findings join the built-in recognisers'.
type ModelConfig struct {
	// URL is the analyzer's base URL; empty means no model
	// (KEEL_REDACT_MODEL_URL).
	URL string `yaml:"url" env:"KEEL_REDACT_MODEL_URL"`
	// Language is sent with every text (KEEL_REDACT_MODEL_LANGUAGE).
	Language string `yaml:"language" env:"KEEL_REDACT_MODEL_LANGUAGE"`
	// Timeout bounds one call; after it the built-in findings are used
	// alone (KEEL_REDACT_MODEL_TIMEOUT).
	Timeout time.Duration `yaml:"timeout" env:"KEEL_REDACT_MODEL_TIMEOUT"`
}

// DefaultConfig returns the configuration for a local run on loopback. The
// database URL and the vault key are left empty: they have no safe default.
func DefaultConfig() Config {
	return Config{
		NATS:   NATSConfig{URL: "nats://127.0.0.1:4322"},
		GRPC:   GRPCConfig{Addr: "127.0.0.1:7401"},
		Vault:  VaultConfig{TTL: 30 * 24 * time.Hour, PurgeInterval: time.Hour},
		Intake: IntakeConfig{MaxBodyBytes: intake.DefaultMaxBodyBytes},
		Redaction: RedactionConfig{
			PhoneRegions: redact.DefaultPhoneRegions,
			Model:        ModelConfig{Language: "en", Timeout: 500 * time.Millisecond},
		},
	}
}

// Validate reports every problem of c together.
func (c Config) Validate() error {
	var errs []error
	if c.NATS.URL == "" {
		errs = append(errs, errors.New("nats url is required (KEEL_NATS_URL)"))
	}
	if c.Database.URL == "" {
		errs = append(errs, errors.New("database url is required (KEEL_DATABASE_URL or DATABASE_URL)"))
	}
	if c.GRPC.Addr == "" {
		errs = append(errs, errors.New("grpc addr is required (KEEL_INGEST_GRPC_ADDR)"))
	}
	key, err := vault.ParseKey(c.Vault.Key)
	if err != nil {
		errs = append(errs, errors.New("vault key must be 32 bytes in base64 (KEEL_VAULT_KEY)"))
	} else if _, err := intake.NewRules(c.Redaction.Default, c.Redaction.Tenants, key); err != nil {
		errs = append(errs, fmt.Errorf("redaction: %w", err))
	}
	if u := c.Redaction.Model.URL; u != "" {
		if parsed, err := url.Parse(u); err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Host == "" {
			errs = append(errs, fmt.Errorf("redaction model url %q must be an http or https URL (KEEL_REDACT_MODEL_URL)", u))
		}
		if c.Redaction.Model.Timeout <= 0 {
			errs = append(errs, errors.New("redaction model timeout must be positive (KEEL_REDACT_MODEL_TIMEOUT)"))
		}
	}
	if len(c.Redaction.PhoneRegions) == 0 {
		errs = append(errs, errors.New("redaction phone_regions must name at least one region (KEEL_REDACT_PHONE_REGIONS)"))
	}
	if c.Vault.TTL <= 0 {
		errs = append(errs, errors.New("vault ttl must be positive (KEEL_VAULT_TTL)"))
	}
	if c.Vault.PurgeInterval <= 0 {
		errs = append(errs, errors.New("vault purge_interval must be positive (KEEL_VAULT_PURGE_INTERVAL)"))
	}
	if c.Intake.MaxBodyBytes < minBodyLimit || c.Intake.MaxBodyBytes > maxBodyLimit {
		errs = append(errs, fmt.Errorf("intake max_body_bytes must be between %d and %d (KEEL_INGEST_MAX_BODY_BYTES)",
			minBodyLimit, maxBodyLimit))
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

// Run migrates the vault tables, then consumes the INGEST stream and serves
// RedactorService and IngestService until ctx ends. It returns nil after a
// clean stop and an error when a part cannot start or fails. The streams
// must exist (bus.DeclareStreams).
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

	// Postgres: the vault.
	pool, err := pgdb.Open(ctx, cfg.Database.URL)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := vault.Migrate(ctx, pool); err != nil {
		return err
	}
	key, err := vault.ParseKey(cfg.Vault.Key)
	if err != nil {
		return fmt.Errorf("parse vault key: %w", err)
	}
	store, err := vault.New(pool, key)
	if err != nil {
		return fmt.Errorf("open vault: %w", err)
	}

	// NATS.
	js, closeNATS, err := bus.Open(deps.NATS, cfg.NATS.URL, Name)
	if err != nil {
		return err
	}
	defer closeNATS()
	publisher := bus.NewPublisher(js)

	rules, err := intake.NewRules(cfg.Redaction.Default, cfg.Redaction.Tenants, key)
	if err != nil {
		return fmt.Errorf("redaction policies: %w", err)
	}

	p := &pipeline{
		validator: intake.NewValidator(cfg.Intake.MaxBodyBytes),
		redactor:  newRedactor(cfg.Redaction),
		rules:     rules,
		vault:     store,
		publisher: publisher,
		vaultTTL:  cfg.Vault.TTL,
		logger:    logger,
	}

	// gRPC.
	lis, err := grpcx.Listen(cfg.GRPC.Addr, deps.Listener)
	if err != nil {
		return err
	}
	srv := grpcx.NewServer(logger, serviceAuth.ServerOptions()...)
	keelv1.RegisterRedactorServiceServer(srv, &redactorServer{pipeline: p})
	keelv1.RegisterIngestServiceServer(srv, &ingestServer{pipeline: p})

	logger.Info("ingest service started", "grpc_addr", lis.Addr().String(), "vault", cfg.Vault)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return grpcx.Serve(gctx, srv, lis)
	})
	g.Go(func() error {
		purgeExpired(gctx, store, cfg.Vault.PurgeInterval, logger)
		return nil
	})
	g.Go(func() error {
		return bus.Consume(gctx, js, bus.ConsumerConfig{
			Stream:         bus.StreamIngest,
			Durable:        Name,
			Stage:          Name,
			FilterSubjects: []string{ingestFilter},
		}, newIngestEvent, p.handleIngestEvent, logger)
	})
	return g.Wait()
}

func newIngestEvent() *keelv1.IngestEvent { return &keelv1.IngestEvent{} }

// newRedactor builds the Redactor the configuration describes.
func newRedactor(c RedactionConfig) *redact.Redactor {
	opts := []redact.Option{redact.WithPhoneRegions(c.PhoneRegions...)}
	if c.Model.URL != "" {
		client := &http.Client{Timeout: c.Model.Timeout}
		opts = append(opts, redact.WithModel(redact.NewAnalyzerClient(c.Model.URL, c.Model.Language, client), c.Model.Timeout))
	}
	return redact.New(opts...)
}

// purgeExpired deletes expired originals from the vault at start and then
// every interval until ctx ends. A failed sweep is logged and tried again
// at the next tick; nothing restores expired originals meanwhile.
func purgeExpired(ctx context.Context, store *vault.Vault, every time.Duration, logger *slog.Logger) {
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	for {
		n, err := store.Purge(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			logger.Warn("vault purge failed; retrying at the next interval", "error", err)
		case n > 0:
			logger.Info("vault purged expired originals", "references", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}
