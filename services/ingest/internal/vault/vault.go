// Package vault keeps the originals that redaction replaced, encrypted per
// tenant in Postgres, so that approved text can have the customer's own
// details restored. Row-level security confines every statement to one
// tenant, and each tenant's originals are sealed with its own key.
package vault

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keelhq/keel/pkg/pgdb"
	"github.com/keelhq/keel/services/ingest/redact"
)

// KeySize is the length in bytes of the master key and of each tenant key.
const KeySize = 32

// migrationService names this package's migrations in the shared ledger.
const migrationService = "ingest"

// keyDerivationSalt separates vault keys from anything else derived from the
// same master key. Changing it makes every stored original unreadable.
const keyDerivationSalt = "keel/ingest/vault/v1"

//go:embed migrations/*.sql
var migrations embed.FS

// Errors returned by the Vault.
var (
	// ErrNotFound is returned by Restore when the tenant has no live
	// originals under the reference: it never had them, they expired, or
	// they belong to another tenant.
	ErrNotFound = errors.New("vault: reference not found")
	// ErrKeyInvalid is returned by New and ParseKey when the master key is
	// not KeySize bytes.
	ErrKeyInvalid = errors.New("vault: master key must be 32 bytes")
	// ErrTTLInvalid is returned by Put when the time to live is not positive.
	ErrTTLInvalid = errors.New("vault: time to live must be positive")
	// ErrRefEmpty is returned when the tenant or the reference is empty.
	ErrRefEmpty = errors.New("vault: tenant and reference are required")
	// ErrRefConflict is returned by Put when the reference already holds
	// the originals of a different document.
	ErrRefConflict = errors.New("vault: reference already used by a different document")
)

// Vault stores and restores originals. It is safe for concurrent use.
// Originals stop restoring when they expire and are deleted by Purge.
type Vault struct {
	pool   *pgxpool.Pool
	master []byte
	now    func() time.Time
}

// Option configures a Vault.
type Option func(*Vault)

// WithClock makes the Vault read the time from now instead of time.Now; tests
// use it to move past expiry.
func WithClock(now func() time.Time) Option {
	return func(v *Vault) { v.now = now }
}

// Migrate creates or updates the vault tables in the database behind pool.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	files, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("open vault migrations: %w", err)
	}
	if err := pgdb.Migrate(ctx, pool, migrationService, files); err != nil {
		return fmt.Errorf("migrate vault: %w", err)
	}
	return nil
}

// ParseKey decodes a base64 master key (standard or URL alphabet, padded or
// not). It returns ErrKeyInvalid when the key does not decode to KeySize
// bytes.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding,
	} {
		if key, err := enc.DecodeString(s); err == nil && len(key) == KeySize {
			return key, nil
		}
	}
	return nil, ErrKeyInvalid
}

// New returns a Vault that stores originals through pool, sealed with keys
// derived from masterKey. The tables must exist (see Migrate). It returns
// ErrKeyInvalid when masterKey is not KeySize bytes.
func New(pool *pgxpool.Pool, masterKey []byte, opts ...Option) (*Vault, error) {
	if len(masterKey) != KeySize {
		return nil, ErrKeyInvalid
	}
	v := &Vault{pool: pool, master: append([]byte(nil), masterKey...), now: time.Now}
	for _, opt := range opts {
		opt(v)
	}
	return v, nil
}

// Put stores originals (placeholder to original value) of the tenant under
// vaultRef until ttl has passed. content is the document the originals came
// from: putting the same reference again for the same content refreshes its
// entries and expiry, so a redelivered event is harmless, while a different
// document under a reference already taken returns ErrRefConflict and
// changes nothing. An empty originals map still records the reference, so
// that Restore of a document without entities succeeds. It returns
// ErrRefEmpty or ErrTTLInvalid for bad arguments.
func (v *Vault) Put(
	ctx context.Context,
	tenant, vaultRef string,
	content []byte,
	originals map[string]string,
	ttl time.Duration,
) error {
	if tenant == "" || vaultRef == "" {
		return ErrRefEmpty
	}
	if ttl <= 0 {
		return ErrTTLInvalid
	}
	aead, err := v.tenantAEAD(tenant)
	if err != nil {
		return err
	}
	fingerprint, err := v.fingerprint(tenant, content)
	if err != nil {
		return err
	}
	expires := v.now().Add(ttl)

	// Seal before opening the transaction so that it stays short.
	batch := &pgx.Batch{}
	for placeholder, original := range originals {
		nonce := make([]byte, aead.NonceSize())
		if _, err := rand.Read(nonce); err != nil {
			return fmt.Errorf("read nonce: %w", err)
		}
		sealed := aead.Seal(nil, nonce, []byte(original), additionalData(vaultRef, placeholder))
		batch.Queue(`INSERT INTO vault_entries (tenant_id, vault_ref, placeholder, ciphertext, nonce, expires_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (tenant_id, vault_ref, placeholder) DO UPDATE
SET ciphertext = EXCLUDED.ciphertext, nonce = EXCLUDED.nonce, expires_at = EXCLUDED.expires_at`,
			tenant, vaultRef, placeholder, sealed, nonce, expires)
	}

	err = pgdb.WithTenant(ctx, v.pool, tenant, func(tx pgx.Tx) error {
		// Claim the reference, or find who holds it. A retry of the same
		// document refreshes it; a different document is refused, so its
		// originals can never replace another's.
		_, err := tx.Exec(ctx, `INSERT INTO vault_refs (tenant_id, vault_ref, expires_at, fingerprint)
VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, vault_ref) DO NOTHING`,
			tenant, vaultRef, expires, fingerprint)
		if err != nil {
			return err
		}
		var held string
		err = tx.QueryRow(ctx, `SELECT fingerprint FROM vault_refs WHERE vault_ref = $1 FOR UPDATE`,
			vaultRef).Scan(&held)
		if err != nil {
			return err
		}
		if held != fingerprint {
			return ErrRefConflict
		}
		if _, err := tx.Exec(ctx, `UPDATE vault_refs SET expires_at = $2 WHERE vault_ref = $1`,
			vaultRef, expires); err != nil {
			return err
		}
		return tx.SendBatch(ctx, batch).Close()
	})
	if errors.Is(err, ErrRefConflict) {
		return err
	}
	if err != nil {
		return fmt.Errorf("store vault entries: %w", err)
	}
	return nil
}

// fingerprint is a keyed hash of a document's content under the tenant's
// own key: equal documents match, and nothing about the content leaks.
func (v *Vault) fingerprint(tenant string, content []byte) (string, error) {
	key, err := hkdf.Key(sha256.New, v.master, []byte(keyDerivationSalt), "fingerprint:"+tenant, KeySize)
	if err != nil {
		return "", fmt.Errorf("derive fingerprint key: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(content)
	return hex.EncodeToString(mac.Sum(nil)), nil
}

// Originals returns the live originals of the tenant under vaultRef. It
// returns ErrNotFound when the tenant has no live reference of that name.
func (v *Vault) Originals(ctx context.Context, tenant, vaultRef string) (map[string]string, error) {
	if tenant == "" || vaultRef == "" {
		return nil, ErrRefEmpty
	}
	aead, err := v.tenantAEAD(tenant)
	if err != nil {
		return nil, err
	}
	now := v.now()

	type sealedEntry struct{ placeholder, ciphertext, nonce []byte }
	var entries []sealedEntry
	err = pgdb.WithTenant(ctx, v.pool, tenant, func(tx pgx.Tx) error {
		var live bool
		err := tx.QueryRow(ctx,
			`SELECT EXISTS (SELECT 1 FROM vault_refs WHERE vault_ref = $1 AND expires_at > $2)`,
			vaultRef, now).Scan(&live)
		if err != nil {
			return err
		}
		if !live {
			return ErrNotFound
		}
		rows, err := tx.Query(ctx, `SELECT placeholder, ciphertext, nonce FROM vault_entries
WHERE vault_ref = $1 AND expires_at > $2`, vaultRef, now)
		if err != nil {
			return err
		}
		var e sealedEntry
		_, err = pgx.ForEachRow(rows, []any{&e.placeholder, &e.ciphertext, &e.nonce}, func() error {
			entries = append(entries, e)
			e = sealedEntry{}
			return nil
		})
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load vault entries: %w", err)
	}

	originals := make(map[string]string, len(entries))
	for _, e := range entries {
		placeholder := string(e.placeholder)
		plain, err := aead.Open(nil, e.nonce, e.ciphertext, additionalData(vaultRef, placeholder))
		if err != nil {
			return nil, fmt.Errorf("open vault entry %s: %w", placeholder, err)
		}
		originals[placeholder] = string(plain)
	}
	return originals, nil
}

// Restore replaces the placeholders in text with the tenant's originals
// stored under vaultRef. It returns the restored text and the placeholders
// that had no original. It returns ErrNotFound when the tenant has no live
// reference of that name, which is also what another tenant's reference
// looks like. Payment cards, IBANs and social security numbers come back
// only as their last four characters ("ending 1111"): a reply may point at
// them but never carries them.
func (v *Vault) Restore(ctx context.Context, tenant, vaultRef, text string) (string, []string, error) {
	originals, err := v.Originals(ctx, tenant, vaultRef)
	if err != nil {
		return "", nil, err
	}
	restored, unknown := redact.Restore(text, maskRestricted(originals))
	return restored, unknown, nil
}

// restrictedPrefixes are the placeholders whose originals are never written
// back in full: a reply may name the card or account, not repeat it.
var restrictedPrefixes = []string{"[CARD_", "[IBAN_", "[SSN_"}

// maskRestricted returns originals with payment cards, IBANs and social
// security numbers cut to their last four characters.
func maskRestricted(originals map[string]string) map[string]string {
	out := make(map[string]string, len(originals))
	for ph, value := range originals {
		out[ph] = value
		for _, prefix := range restrictedPrefixes {
			if strings.HasPrefix(ph, prefix) {
				out[ph] = lastFour(value)
			}
		}
	}
	return out
}

// lastFour keeps the last four letters or digits of value behind a mask.
func lastFour(value string) string {
	var kept []rune
	for _, r := range slices.Backward([]rune(value)) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			kept = append([]rune{r}, kept...)
			if len(kept) == 4 {
				break
			}
		}
	}
	return "ending " + string(kept)
}

// Delete erases every original of the tenant under vaultRef, for example
// when the customer asks to be forgotten. Deleting an unknown reference is
// not an error.
func (v *Vault) Delete(ctx context.Context, tenant, vaultRef string) error {
	if tenant == "" || vaultRef == "" {
		return ErrRefEmpty
	}
	err := pgdb.WithTenant(ctx, v.pool, tenant, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM vault_refs WHERE vault_ref = $1`, vaultRef)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete vault entries: %w", err)
	}
	return nil
}

// purgeRole may see and delete only expired rows (migration 003).
const purgeRole = "keel_vault_purger"

// purgeBatch bounds the references one purge statement deletes, so a large
// backlog is worked off in short transactions.
const purgeBatch = 1000

// Purge deletes every expired reference, of every tenant, with its
// originals, and returns how many references it deleted. It runs as a role
// that can see expired rows only. Expiry is judged by the database clock,
// so Restore (which uses the Vault's clock) may stop restoring a little
// before or after the row is gone.
func (v *Vault) Purge(ctx context.Context) (int64, error) {
	var total int64
	for {
		var n int64
		err := pgx.BeginFunc(ctx, v.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SET LOCAL ROLE "+purgeRole); err != nil {
				return fmt.Errorf("set role: %w", err)
			}
			tag, err := tx.Exec(ctx, `DELETE FROM vault_refs WHERE (tenant_id, vault_ref) IN (
  SELECT tenant_id, vault_ref FROM vault_refs WHERE expires_at <= now() LIMIT $1)`, purgeBatch)
			n = tag.RowsAffected()
			return err
		})
		if err != nil {
			return total, fmt.Errorf("purge expired originals: %w", err)
		}
		total += n
		if n < purgeBatch {
			return total, nil
		}
	}
}

// tenantAEAD derives the tenant's key from the master key with HKDF-SHA256
// (the tenant id as info) and returns AES-256-GCM under it.
//
// TODO: cache the AEAD per tenant; deriving costs an HMAC chain per call,
// which is small next to the database round trip but not free.
func (v *Vault) tenantAEAD(tenant string) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, v.master, []byte(keyDerivationSalt), "tenant:"+tenant, KeySize)
	if err != nil {
		return nil, fmt.Errorf("derive tenant key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("create cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("create gcm: %w", err)
	}
	return aead, nil
}

// additionalData binds a ciphertext to its reference and placeholder. The
// reference's length comes first so that no two pairs encode the same.
func additionalData(vaultRef, placeholder string) []byte {
	return fmt.Appendf(nil, "%d:%s|%s", len(vaultRef), vaultRef, placeholder)
}
