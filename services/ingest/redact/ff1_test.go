package redact

import (
	"encoding/hex"
	"testing"
)

// The sample vectors NIST published for FF1 (SP 800-38G examples).
func TestFF1Samples(t *testing.T) {
	const (
		key128 = "2B7E151628AED2A6ABF7158809CF4F3C"
		key192 = key128 + "EF4359D8D580AA4F"
		key256 = key192 + "7F036D6F04FC6A94"
	)
	tests := []struct {
		name, key, tweak string
		radix            int
		plain, cipher    string
	}{
		{"sample 1", key128, "", 10, "0123456789", "2433477484"},
		{"sample 2", key128, "39383736353433323130", 10, "0123456789", "6124200773"},
		{"sample 3", key128, "3737373770717273373737", 36, "0123456789abcdefghi", "a9tv40mll9kdu509eum"},
		{"sample 4", key192, "", 10, "0123456789", "2830668132"},
		{"sample 7", key256, "", 10, "0123456789", "6657667009"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, _ := hex.DecodeString(tt.key)
			tweak, _ := hex.DecodeString(tt.tweak)
			f, err := newFF1(key, tt.radix)
			if err != nil {
				t.Fatal(err)
			}
			got, err := f.encrypt(numerals36(tt.plain), tweak)
			if err != nil {
				t.Fatal(err)
			}
			if s := string36(got); s != tt.cipher {
				t.Errorf("encrypt = %s, want %s", s, tt.cipher)
			}
			back, err := f.decrypt(got, tweak)
			if err != nil {
				t.Fatal(err)
			}
			if s := string36(back); s != tt.plain {
				t.Errorf("decrypt = %s, want %s", s, tt.plain)
			}
		})
	}
}

func TestFF1Domain(t *testing.T) {
	f, err := newFF1(make([]byte, 16), 10)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.encrypt(numerals36("12345"), nil); err == nil {
		t.Error("five decimal digits encrypted; the domain is below a million")
	}
	if _, err := f.encrypt(numerals36("12345a"), nil); err == nil {
		t.Error("a numeral outside the radix was encrypted")
	}
	if _, err := newFF1(make([]byte, 15), 10); err == nil {
		t.Error("a 15-byte key was accepted")
	}
}

func numerals36(s string) []uint16 {
	out := make([]uint16, len(s))
	for i := range len(s) {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			out[i] = uint16(c - '0')
		default:
			out[i] = uint16(c-'a') + 10
		}
	}
	return out
}

func string36(x []uint16) string {
	const digits = "0123456789abcdefghijklmnopqrstuvwxyz"
	b := make([]byte, len(x))
	for i, d := range x {
		b[i] = digits[d]
	}
	return string(b)
}
