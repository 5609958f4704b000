package intake

import (
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/keelhq/keel/services/ingest/redact"
)

// PolicyConfig is how one tenant wants its events redacted and classified,
// as written in the service's configuration.
type PolicyConfig struct {
	// Default is the operator of entity types Operators does not name:
	// replace (the default), mask, hash, fpe, encrypt, redact or keep.
	Default string `yaml:"default"`
	// Operators maps entity types (Presidio names such as CREDIT_CARD) to
	// operators.
	Operators map[string]string `yaml:"operators"`
	// MinScore is the confidence a finding needs to be redacted; 0 means
	// redact.DefaultMinScore.
	MinScore float64 `yaml:"min_score"`
	// Sensitivity adds the tenant's own classification rules.
	Sensitivity SensitivityConfig `yaml:"sensitivity"`
}

// SensitivityConfig holds a tenant's classification rules. Each rule can
// only raise an event's level above what the built-in rules give.
type SensitivityConfig struct {
	// Types raises the event to the given level when an entity of the type
	// is found, for example PERSON: restricted.
	Types map[string]string `yaml:"types"`
	// Keywords raises the event to a level when its text holds one of the
	// words or phrases listed for it (case-insensitive, whole words), for
	// example restricted: [merger, "board only"].
	Keywords map[string][]string `yaml:"keywords"`
	// Kinds sets the lowest level of every event of a kind, for example
	// note: confidential.
	Kinds map[string]string `yaml:"kinds"`
}

// Rules resolves each tenant's redaction policy and sensitivity rules. It
// is safe for concurrent use.
type Rules struct {
	def     PolicyConfig
	master  []byte
	tenants map[string]*TenantRules
	// derived holds the default rules prepared under each other tenant's
	// own key, made on first use.
	derived sync.Map // tenant -> *TenantRules
}

// TenantRules is the prepared policy and classifier of one tenant.
type TenantRules struct {
	Policy     *redact.Policy
	Classifier *Classifier
}

// NewRules checks the default policy and prepares every tenant's own.
// masterKey (the vault's) is the root of each tenant's redaction key,
// derived per tenant, so that hashes and ciphertexts of two tenants never
// match; without it the hash, fpe and encrypt operators are refused.
func NewRules(def PolicyConfig, tenants map[string]PolicyConfig, masterKey []byte) (*Rules, error) {
	r := &Rules{def: def, master: masterKey, tenants: make(map[string]*TenantRules, len(tenants))}
	var errs []error
	if _, err := r.prepare(def, ""); err != nil {
		errs = append(errs, fmt.Errorf("default policy: %w", err))
	}
	names := make([]string, 0, len(tenants))
	for name := range tenants {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		tr, err := r.prepare(tenants[name], name)
		if err != nil {
			errs = append(errs, fmt.Errorf("policy of tenant %q: %w", name, err))
			continue
		}
		r.tenants[name] = tr
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return r, nil
}

// For returns the rules of tenant: its own, or the default ones under the
// tenant's key.
func (r *Rules) For(tenant string) *TenantRules {
	if tr, ok := r.tenants[tenant]; ok {
		return tr
	}
	if tr, ok := r.derived.Load(tenant); ok {
		return tr.(*TenantRules)
	}
	tr, err := r.prepare(r.def, tenant)
	if err != nil {
		panic(fmt.Sprintf("intake: default policy stopped preparing: %v", err)) // NewRules prepared it
	}
	actual, _ := r.derived.LoadOrStore(tenant, tr)
	return actual.(*TenantRules)
}

// DefaultRules replaces every finding with a placeholder and classifies by
// the built-in rules only.
func DefaultRules() *Rules {
	r, err := NewRules(PolicyConfig{}, nil, nil)
	if err != nil {
		panic(err) // unreachable: the empty configuration is valid
	}
	return r
}

// prepare builds the rules of c under tenant's key.
func (r *Rules) prepare(c PolicyConfig, tenant string) (*TenantRules, error) {
	key, err := tenantKey(r.master, tenant)
	if err != nil {
		return nil, err
	}
	return newTenantRules(c, key)
}

// tenantKey derives the tenant's redaction key from the master key.
func tenantKey(masterKey []byte, tenant string) ([]byte, error) {
	if len(masterKey) == 0 {
		return nil, nil
	}
	key, err := hkdf.Key(sha256.New, masterKey, nil, "keel redact tenant "+tenant, 32)
	if err != nil {
		return nil, fmt.Errorf("derive redaction key of tenant %q: %w", tenant, err)
	}
	return key, nil
}

func newTenantRules(c PolicyConfig, key []byte) (*TenantRules, error) {
	p := &redact.Policy{MinScore: c.MinScore, Key: key}
	var errs []error
	if c.Default != "" {
		op, err := redact.ParseOperator(c.Default)
		if err != nil {
			errs = append(errs, fmt.Errorf("default: %w", err))
		}
		p.Default = op
	}
	for name, opName := range c.Operators {
		t, ok := redact.ParseType(name)
		if !ok {
			errs = append(errs, fmt.Errorf("operators: unknown entity type %q", name))
			continue
		}
		op, err := redact.ParseOperator(opName)
		if err != nil {
			errs = append(errs, fmt.Errorf("operators: %s: %w", name, err))
			continue
		}
		if p.Operators == nil {
			p.Operators = make(map[redact.Type]redact.Operator)
		}
		p.Operators[t] = op
	}
	classifier, err := NewClassifier(c.Sensitivity)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		if err := p.Prepare(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &TenantRules{Policy: p, Classifier: classifier}, nil
}
