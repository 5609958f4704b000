package redact

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// hashHexLen is how many hex digits of the HMAC a hashed value keeps: 64
// bits, enough that two values of one tenant practically never share one.
const hashHexLen = 16

// fpeTweak binds format-preserving ciphertexts to their entity type, so a
// phone number and a card with the same digits encrypt differently.
func fpeTweak(t Type) []byte { return []byte("keel/" + string(t)) }

// numericTypes are the types whose values are mostly digits: masking keeps
// their last digits and format-preserving encryption applies to them.
var numericTypes = map[Type]bool{
	TypePhone: true, TypeCard: true, TypeIBAN: true, TypeSSN: true, TypeITIN: true,
	TypeUSPassport: true, TypeDriverLicense: true, TypeNHS: true, TypeUKPassport: true,
	TypeAadhaar: true, TypeTFN: true, TypeABN: true, TypeMedicare: true, TypePESEL: true,
}

// apply replaces one value (whose normalised form is key) under op and
// returns the replacement and the operator actually used: OpFPE falls back
// to OpReplace for values it cannot encrypt in place. The same value under
// the same operator always gets the same replacement within the Document.
//
// value is the entity as the recognisers read it and original as the text
// wrote it; they differ where the text used no-break spaces, full-width
// digits or invisible characters (see foldForScan). Masking and
// format-preserving encryption work on value, whose digits are ASCII;
// what a reversible replacement restores is original.
func (d *Document) apply(op Operator, t Type, key, value, original string) (string, Operator) {
	switch op {
	case OpRedact:
		return "", op
	case OpMask:
		return mask(value, numericTypes[t], d.policy.MaskKeepLast), op
	case OpReplace:
		return d.placeholder(t, key, original), op
	}

	// A hash stands for the value, so every spelling of it hashes alike.
	// Encryption keeps the spelling: each form is sealed, and restored, as
	// written ("4111 1111 1111 1111" and "4111111111111111" each keep
	// their own format).
	form := key
	if op != OpHash {
		form = original
	}
	memo := string(op) + "\x00" + string(t) + "\x00" + form
	if out, ok := d.outputs[memo]; ok {
		return out, op
	}
	var out string
	switch op {
	case OpHash:
		out = d.policy.hash(t, key)
	case OpFPE:
		enc, err := d.policy.formatPreserving(t, value)
		if err != nil {
			return d.placeholder(t, key, original), OpReplace
		}
		out = enc
	case OpEncrypt:
		out = d.policy.seal(t, original)
	}
	d.outputs[memo] = out
	if op.reversible() {
		d.originals[out] = original
	}
	return out, op
}

// mask replaces letters and digits with '*' and keeps everything else, so
// the shape stays readable: j***@*******.***. Numbers keep their last
// keepLast digits when they have at least twice as many.
func mask(value string, numeric bool, keepLast int) string {
	visibleFrom := len(value)
	if numeric && keepLast > 0 {
		seen, total := 0, 0
		for i := 0; i < len(value); i++ {
			if isASCIIAlnum(value[i]) {
				total++
			}
		}
		if total >= 2*keepLast {
			for i := len(value) - 1; i >= 0; i-- {
				if isASCIIAlnum(value[i]) {
					seen++
					if seen == keepLast {
						visibleFrom = i
						break
					}
				}
			}
		}
	}
	var b strings.Builder
	b.Grow(len(value))
	for i, r := range value {
		if i < visibleFrom && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteByte('*')
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// hash returns [PREFIX:hex] with the first hashHexLen hex digits of the
// HMAC-SHA-256 of the type and normalised value under the tenant's hash key.
func (p *Policy) hash(t Type, key string) string {
	m := hmac.New(sha256.New, p.hashKey)
	m.Write([]byte(t))
	m.Write([]byte{0})
	m.Write([]byte(key))
	sum := hex.EncodeToString(m.Sum(nil))
	return "[" + t.placeholderPrefix() + ":" + sum[:hashHexLen] + "]"
}

// formatPreserving encrypts the digits of a numeric value with FF1, keeping
// every other character where it is.
func (p *Policy) formatPreserving(t Type, value string) (string, error) {
	if !numericTypes[t] {
		return "", errFF1Domain
	}
	digits := make([]uint16, 0, len(value))
	for i := 0; i < len(value); i++ {
		if isDigit(value[i]) {
			digits = append(digits, uint16(value[i]-'0'))
		} else if isASCIIAlnum(value[i]) {
			return "", errFF1Domain // letters, as in an IBAN: not digits only
		}
	}
	enc, err := p.fpe.encrypt(digits, fpeTweak(t))
	if err != nil {
		return "", err
	}
	out := []byte(value)
	k := 0
	for i := range out {
		if isDigit(out[i]) {
			out[i] = byte('0' + enc[k])
			k++
		}
	}
	return string(out), nil
}

// RevealFPE decrypts a value that OpFPE produced for type t.
func (p *Policy) RevealFPE(t Type, value string) (string, error) {
	if p.fpe == nil {
		return "", errors.New("redact: policy has no key")
	}
	digits := make([]uint16, 0, len(value))
	for i := 0; i < len(value); i++ {
		if isDigit(value[i]) {
			digits = append(digits, uint16(value[i]-'0'))
		}
	}
	dec, err := p.fpe.decrypt(digits, fpeTweak(t))
	if err != nil {
		return "", fmt.Errorf("redact: %w", err)
	}
	out := []byte(value)
	k := 0
	for i := range out {
		if isDigit(out[i]) {
			out[i] = byte('0' + dec[k])
			k++
		}
	}
	return string(out), nil
}

// encSuffix marks sealed values: [EMAIL_ENC:...].
const encSuffix = "_ENC:"

// seal encrypts value with AES-GCM under the tenant's key, the placeholder
// prefix as additional data, and returns [PREFIX_ENC:base64url(nonce|ct)].
func (p *Policy) seal(t Type, value string) string {
	prefix := t.placeholderPrefix()
	nonce := make([]byte, p.aead.NonceSize(), p.aead.NonceSize()+len(value)+p.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	sealed := p.aead.Seal(nonce, nonce, []byte(value), []byte(prefix))
	return "[" + prefix + encSuffix + base64.RawURLEncoding.EncodeToString(sealed) + "]"
}

// Decrypt opens a value that OpEncrypt sealed under this policy's key.
func (p *Policy) Decrypt(token string) (string, error) {
	if p.aead == nil {
		return "", errors.New("redact: policy has no key")
	}
	inner, ok := strings.CutPrefix(token, "[")
	inner, ok2 := strings.CutSuffix(inner, "]")
	prefix, data, ok3 := strings.Cut(inner, encSuffix)
	if !ok || !ok2 || !ok3 {
		return "", errors.New("redact: not an encrypted value")
	}
	sealed, err := base64.RawURLEncoding.DecodeString(data)
	if err != nil || len(sealed) < p.aead.NonceSize() {
		return "", errors.New("redact: encrypted value is damaged")
	}
	n := p.aead.NonceSize()
	plain, err := p.aead.Open(nil, sealed[:n], sealed[n:], []byte(prefix))
	if err != nil {
		return "", errors.New("redact: encrypted value does not open under this key")
	}
	if !utf8.Valid(plain) {
		return "", errors.New("redact: encrypted value is not text")
	}
	return string(plain), nil
}
