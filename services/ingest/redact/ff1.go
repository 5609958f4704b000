package redact

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
)

// ff1 is the FF1 format-preserving encryption mode of NIST SP 800-38G over
// AES: it encrypts a string of numerals in some radix into another string
// of the same length and radix, so a 16-digit card number stays 16 digits.
type ff1 struct {
	block cipher.Block
	radix int
}

// ff1Rounds is the number of Feistel rounds FF1 prescribes.
const ff1Rounds = 10

// errFF1Domain is returned for inputs FF1 may not encrypt: too short for
// the radix (the standard requires radix^len >= 1,000,000) or holding a
// numeral outside the radix.
var errFF1Domain = errors.New("ff1: input outside the domain")

// newFF1 returns FF1 keyed with an AES key of 16, 24 or 32 bytes.
func newFF1(key []byte, radix int) (*ff1, error) {
	if radix < 2 || radix > 1<<16 {
		return nil, fmt.Errorf("ff1: radix %d out of range", radix)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("ff1: %w", err)
	}
	return &ff1{block: block, radix: radix}, nil
}

// encrypt enciphers the numerals x (each below the radix) under tweak.
func (f *ff1) encrypt(x []uint16, tweak []byte) ([]uint16, error) {
	return f.crypt(x, tweak, true)
}

// decrypt reverses encrypt.
func (f *ff1) decrypt(x []uint16, tweak []byte) ([]uint16, error) {
	return f.crypt(x, tweak, false)
}

func (f *ff1) crypt(x []uint16, tweak []byte, encrypt bool) ([]uint16, error) {
	n := len(x)
	if n < 2 || !f.domainOK(n) {
		return nil, errFF1Domain
	}
	for _, d := range x {
		if int(d) >= f.radix {
			return nil, errFF1Domain
		}
	}
	u := n / 2
	v := n - u
	a := append([]uint16(nil), x[:u]...)
	b := append([]uint16(nil), x[u:]...)

	radix := big.NewInt(int64(f.radix))
	// b is the byte length of a number below radix^v; d the bytes of
	// pseudo-random output used per round.
	bytesB := (bitLen(radix, v) + 7) / 8
	bytesD := 4*((bytesB+3)/4) + 4

	p := make([]byte, 16)
	p[0], p[1], p[2] = 1, 2, 1
	p[3], p[4], p[5] = byte(f.radix>>16), byte(f.radix>>8), byte(f.radix)
	p[6], p[7] = 10, byte(u)
	binary.BigEndian.PutUint32(p[8:], uint32(n))
	binary.BigEndian.PutUint32(p[12:], uint32(len(tweak)))

	pad := (-len(tweak) - bytesB - 1) % 16
	if pad < 0 {
		pad += 16
	}
	q := make([]byte, len(tweak)+pad+1+bytesB)
	copy(q, tweak)

	modU := new(big.Int).Exp(radix, big.NewInt(int64(u)), nil)
	modV := new(big.Int).Exp(radix, big.NewInt(int64(v)), nil)
	y, c, numeral := new(big.Int), new(big.Int), new(big.Int)
	for k := range ff1Rounds {
		i := k
		if !encrypt {
			i = ff1Rounds - 1 - k
		}
		// The round function reads B when encrypting and A when decrypting:
		// the half that this round leaves unchanged.
		in := b
		if !encrypt {
			in = a
		}
		q[len(tweak)+pad] = byte(i)
		num(in, radix, numeral).FillBytes(q[len(q)-bytesB:])
		f.roundOutput(p, q, bytesD, y)

		m, mod := u, modU
		if i%2 == 1 {
			m, mod = v, modV
		}
		if encrypt {
			c.Add(num(a, radix, numeral), y)
		} else {
			c.Sub(num(b, radix, numeral), y)
		}
		c.Mod(c, mod)
		out := str(c, radix, m)
		if encrypt {
			a, b = b, out
		} else {
			a, b = out, a
		}
	}
	return append(a, b...), nil
}

// roundOutput computes the first bytesD bytes of the FF1 pseudo-random
// function of P || Q, extended by encrypting R xor [j] for longer outputs,
// and sets y to them read as a big-endian number.
func (f *ff1) roundOutput(p, q []byte, bytesD int, y *big.Int) {
	r := make([]byte, 16)
	f.cbcMAC(r, p)
	f.cbcMAC(r, q)
	s := append([]byte(nil), r...)
	for j := 1; len(s) < bytesD; j++ {
		block := make([]byte, 16)
		binary.BigEndian.PutUint64(block[8:], uint64(j))
		for k := range block {
			block[k] ^= r[k]
		}
		f.block.Encrypt(block, block)
		s = append(s, block...)
	}
	y.SetBytes(s[:bytesD])
}

// cbcMAC continues a CBC-MAC with zero IV over data (a multiple of 16
// bytes), state holding the running value.
func (f *ff1) cbcMAC(state, data []byte) {
	for off := 0; off < len(data); off += 16 {
		for k := range 16 {
			state[k] ^= data[off+k]
		}
		f.block.Encrypt(state, state)
	}
}

// domainOK reports whether radix^n is at least a million, the minimum
// domain SP 800-38G (revision 1) allows.
func (f *ff1) domainOK(n int) bool {
	size := 1.0
	for range n {
		size *= float64(f.radix)
		if size >= 1e6 {
			return true
		}
	}
	return false
}

// bitLen returns the number of bits of radix^v - 1.
func bitLen(radix *big.Int, v int) int {
	x := new(big.Int).Exp(radix, big.NewInt(int64(v)), nil)
	return x.Sub(x, big.NewInt(1)).BitLen()
}

// num reads numerals, most significant first, as a number in radix.
func num(x []uint16, radix, out *big.Int) *big.Int {
	out.SetInt64(0)
	d := new(big.Int)
	for _, n := range x {
		out.Mul(out, radix)
		out.Add(out, d.SetInt64(int64(n)))
	}
	return out
}

// str writes c as exactly m numerals in radix, most significant first.
func str(c, radix *big.Int, m int) []uint16 {
	out := make([]uint16, m)
	x := new(big.Int).Set(c)
	r := new(big.Int)
	for i := m - 1; i >= 0; i-- {
		x.QuoRem(x, radix, r)
		out[i] = uint16(r.Int64())
	}
	return out
}
