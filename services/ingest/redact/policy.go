package redact

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
)

// Operator says what replaces an entity in the redacted text. The names
// are Presidio's anonymizer operators where one exists.
type Operator string

// Operators.
const (
	// OpReplace puts a typed placeholder, [EMAIL_1], numbered within the
	// document: the same value gets the same placeholder. The original is
	// returned in Result.Originals for the vault, so it can be restored.
	OpReplace Operator = "replace"
	// OpMask hides every letter and digit behind '*', keeping separators
	// and, for numbers such as cards, the last few digits: ************1111.
	OpMask Operator = "mask"
	// OpHash puts a keyed hash (HMAC-SHA-256 under the tenant's key):
	// [EMAIL:8c1f0a2b9d3e4f56]. The same value hashes the same way in every
	// document of the tenant, so records can be joined without the value.
	// It cannot be reversed.
	OpHash Operator = "hash"
	// OpFPE encrypts the digits of a number with FF1 (NIST SP 800-38G)
	// under the tenant's key, keeping its length and separators: a card
	// stays a 16-digit card number. Values with fewer than six digits, or
	// with letters, are replaced with a placeholder instead. The original is
	// returned in Result.Originals, like a placeholder's.
	OpFPE Operator = "fpe"
	// OpEncrypt puts the value sealed with AES-256-GCM under the tenant's
	// key: [EMAIL_ENC:<base64url>]. Whoever holds the key can open it with
	// Policy.Decrypt, with no vault; it is forgotten only when the key is.
	OpEncrypt Operator = "encrypt"
	// OpRedact removes the value, leaving nothing in its place.
	OpRedact Operator = "redact"
	// OpKeep leaves the value in the text. The finding is still reported.
	OpKeep Operator = "keep"
)

// Operators lists every operator.
var Operators = []Operator{OpReplace, OpMask, OpHash, OpFPE, OpEncrypt, OpRedact, OpKeep}

// ParseOperator reads an operator name.
func ParseOperator(s string) (Operator, error) {
	op := Operator(strings.ToLower(strings.TrimSpace(s)))
	if !slices.Contains(Operators, op) {
		return "", fmt.Errorf("unknown operator %q (want one of %s)", s, joinOperators())
	}
	return op, nil
}

func joinOperators() string {
	names := make([]string, len(Operators))
	for i, op := range Operators {
		names[i] = string(op)
	}
	return strings.Join(names, ", ")
}

// Keyed reports whether the operator needs the tenant's key.
func (op Operator) Keyed() bool { return op == OpHash || op == OpFPE || op == OpEncrypt }

// reversible reports whether the operator's output can be turned back into
// the original with what Result.Originals holds.
func (op Operator) reversible() bool { return op == OpReplace || op == OpFPE || op == OpEncrypt }

// DefaultMinScore is the confidence below which findings are left alone
// when a Policy does not say otherwise.
const DefaultMinScore = 0.5

// Policy is how one tenant wants its data redacted: an operator per entity
// type, the confidence a finding needs, and the tenant's key for the keyed
// operators. Prepare it once and share it: a prepared Policy is read-only.
type Policy struct {
	// Default is the operator of types Operators does not name; empty
	// means OpReplace.
	Default Operator
	// Operators sets the operator of individual entity types.
	Operators map[Type]Operator
	// MinScore is the confidence a finding needs to be redacted; 0 means
	// DefaultMinScore. Findings below it are neither replaced nor reported.
	MinScore float64
	// MaskKeepLast is how many trailing digits OpMask leaves visible on
	// numbers (cards, IBANs, phones, ids); 0 means 4, negative means none.
	MaskKeepLast int
	// Key is the tenant's secret, at least 32 bytes, from which the keys of
	// OpHash, OpFPE and OpEncrypt are derived. Required only when one of
	// them is used.
	Key []byte

	prepared bool
	hashKey  []byte
	fpe      *ff1
	aead     cipher.AEAD
}

// DefaultPolicy replaces every finding at or above DefaultMinScore with a
// placeholder.
func DefaultPolicy() *Policy {
	p := &Policy{}
	if err := p.Prepare(); err != nil {
		panic(err) // unreachable: the zero policy needs no key
	}
	return p
}

// Prepare validates the policy and derives its keys. It must be called
// before the policy is used.
func (p *Policy) Prepare() error {
	if p.Default == "" {
		p.Default = OpReplace
	}
	if _, err := ParseOperator(string(p.Default)); err != nil {
		return fmt.Errorf("default: %w", err)
	}
	keyed := p.Default.Keyed()
	for t, op := range p.Operators {
		if _, err := ParseOperator(string(op)); err != nil {
			return fmt.Errorf("%s: %w", t, err)
		}
		keyed = keyed || op.Keyed()
	}
	if !(p.MinScore >= 0 && p.MinScore <= 1) { // NaN too: it would compare below every score
		return fmt.Errorf("min score %v is outside [0, 1]", p.MinScore)
	}
	if p.MinScore == 0 {
		p.MinScore = DefaultMinScore
	}
	if p.MaskKeepLast == 0 {
		p.MaskKeepLast = 4
	}
	if keyed {
		if len(p.Key) < 32 {
			return fmt.Errorf("the hash, fpe and encrypt operators need a tenant key of at least 32 bytes, have %d", len(p.Key))
		}
		if err := p.deriveKeys(); err != nil {
			return err
		}
	}
	p.prepared = true
	return nil
}

// deriveKeys derives one key per keyed operator from the tenant's secret,
// so a hash never reveals anything about the encryption keys.
func (p *Policy) deriveKeys() error {
	derive := func(purpose string, n int) ([]byte, error) {
		return hkdf.Key(sha256.New, p.Key, nil, "keel redact "+purpose, n)
	}
	var err error
	if p.hashKey, err = derive("hash", 32); err != nil {
		return fmt.Errorf("derive hash key: %w", err)
	}
	fpeKey, err := derive("fpe", 32)
	if err != nil {
		return fmt.Errorf("derive fpe key: %w", err)
	}
	if p.fpe, err = newFF1(fpeKey, 10); err != nil {
		return err
	}
	encKey, err := derive("encrypt", 32)
	if err != nil {
		return fmt.Errorf("derive encryption key: %w", err)
	}
	block, err := aes.NewCipher(encKey)
	if err != nil {
		return fmt.Errorf("encryption key: %w", err)
	}
	if p.aead, err = cipher.NewGCM(block); err != nil {
		return fmt.Errorf("encryption key: %w", err)
	}
	return nil
}

// Operator returns the operator the policy applies to entities of type t.
func (p *Policy) Operator(t Type) Operator {
	if op, ok := p.Operators[t]; ok {
		return op
	}
	return p.Default
}
