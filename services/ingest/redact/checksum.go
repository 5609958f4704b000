package redact

import (
	"crypto/sha256"
	"strings"
)

// This file holds the check-digit algorithms that more than one recogniser
// or identifier family relies on. Tables are string constants so that the
// package keeps no mutable state; each byte of a table is one small number
// written as an ASCII digit.

// verhoeffMul is the multiplication table of the dihedral group D5 that
// the Verhoeff algorithm works in: row j, column k holds j*k.
const verhoeffMul = "" +
	"0123456789" +
	"1234067895" +
	"2340178956" +
	"3401289567" +
	"4012395678" +
	"5987604321" +
	"6598710432" +
	"7659821043" +
	"8765932104" +
	"9876543210"

// verhoeffPerm is the Verhoeff position permutation: row i is the base
// permutation applied i times, for the digit i places from the right
// (rows repeat every eight places).
const verhoeffPerm = "" +
	"0123456789" +
	"1576283094" +
	"5803796142" +
	"8916043527" +
	"9453126870" +
	"4286573901" +
	"2793806415" +
	"7046913258"

// verhoeffValid reports whether digits (ASCII '0'..'9', check digit last)
// pass the Verhoeff check, as Aadhaar numbers do. It catches every single
// wrong digit and every swap of neighbouring digits.
func verhoeffValid(digits []byte) bool {
	if len(digits) == 0 {
		return false
	}
	c := 0
	for i := range len(digits) {
		d := digits[len(digits)-1-i]
		if !isDigit(d) {
			return false
		}
		p := int(verhoeffPerm[(i%8)*10+int(d-'0')] - '0')
		c = int(verhoeffMul[c*10+p] - '0')
	}
	return c == 0
}

// weightedSum multiplies each ASCII digit by the weight at the same place
// and adds the products. digits and weights must be equally long.
func weightedSum(digits []byte, weights []int) int {
	sum := 0
	for i, w := range weights {
		sum += int(digits[i]-'0') * w
	}
	return sum
}

// allSameByte reports whether every byte of b equals the first; such
// values (000000000, 111-11-1111) are placeholders, not issued numbers.
func allSameByte[T string | []byte](b T) bool {
	for i := 1; i < len(b); i++ {
		if b[i] != b[0] {
			return false
		}
	}
	return true
}

// base58Alphabet is the Bitcoin base58 alphabet: no 0, O, I or l.
const base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// base58CheckLen is the length of a decoded legacy Bitcoin address: one
// version byte, a 20-byte hash and a 4-byte checksum.
const base58CheckLen = 25

// base58CheckDecode25 decodes a base58check string that carries exactly
// 25 bytes and verifies its checksum (the first four bytes of the double
// SHA-256 of the rest). It returns the version byte.
func base58CheckDecode25(s string) (version byte, ok bool) {
	var out [base58CheckLen]byte
	for i := 0; i < len(s); i++ {
		v := strings.IndexByte(base58Alphabet, s[i])
		if v < 0 {
			return 0, false
		}
		carry := v
		for j := len(out) - 1; j >= 0; j-- {
			carry += int(out[j]) * 58
			out[j] = byte(carry)
			carry >>= 8
		}
		if carry != 0 {
			return 0, false // more than 25 bytes
		}
	}

	// Each leading '1' stands for one leading zero byte, and only those do.
	ones, zeros := 0, 0
	for ones < len(s) && s[ones] == '1' {
		ones++
	}
	for zeros < len(out) && out[zeros] == 0 {
		zeros++
	}
	if ones != zeros {
		return 0, false
	}

	first := sha256.Sum256(out[:21])
	second := sha256.Sum256(first[:])
	if string(second[:4]) != string(out[21:]) {
		return 0, false
	}
	return out[0], true
}

// bech32Charset maps 5-bit values to the characters of bech32 (BIP 173).
const bech32Charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

// Checksum constants: bech32 for witness version 0 (BIP 173), bech32m for
// versions 1 to 16 (BIP 350).
const (
	bech32Const  = 1
	bech32mConst = 0x2bc830a3
)

// bech32MaxLen is the longest bech32 string BIP 173 allows.
const bech32MaxLen = 90

// bech32Step feeds one 5-bit value into the BCH checksum state.
func bech32Step(chk uint32, v byte) uint32 {
	generators := [5]uint32{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3}
	top := chk >> 25
	chk = (chk&0x1ffffff)<<5 ^ uint32(v)
	for i, g := range generators {
		if (top>>i)&1 == 1 {
			chk ^= g
		}
	}
	return chk
}

// segwitAddressValid reports whether addr is a valid segregated-witness
// address with the human-readable part hrp ("bc" for Bitcoin): one case
// only, a bech32 checksum for witness version 0 with a 20- or 32-byte
// program, or a bech32m checksum for versions 1 to 16 with a 2- to 40-byte
// program.
func segwitAddressValid(addr, hrp string) bool {
	if len(addr) > bech32MaxLen || len(addr) < len(hrp)+1+1+6 {
		return false
	}
	var buf [bech32MaxLen]byte
	lower, ok := bech32Lower(buf[:0], addr)
	if !ok || string(lower[:len(hrp)]) != hrp || lower[len(hrp)] != '1' {
		return false
	}
	var values [bech32MaxLen]byte
	data := values[:len(lower)-len(hrp)-1]
	for i, c := range lower[len(hrp)+1:] {
		v := strings.IndexByte(bech32Charset, c)
		if v < 0 {
			return false
		}
		data[i] = byte(v)
	}

	version, chk := data[0], bech32Checksum(hrp, data)
	switch {
	case version == 0 && chk != bech32Const, version > 0 && chk != bech32mConst, version > 16:
		return false
	}
	n, ok := convertedLen(data[1 : len(data)-6])
	if !ok {
		return false
	}
	if version == 0 {
		return n == 20 || n == 32
	}
	return n >= 2 && n <= 40
}

// bech32Lower appends addr in lower case to dst, and reports false when
// addr mixes cases, which bech32 forbids.
func bech32Lower(dst []byte, addr string) ([]byte, bool) {
	hasLower, hasUpper := false, false
	for i := 0; i < len(addr); i++ {
		c := addr[i]
		switch {
		case c >= 'a' && c <= 'z':
			hasLower = true
		case c >= 'A' && c <= 'Z':
			hasUpper = true
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst, !(hasLower && hasUpper)
}

// bech32Checksum returns the BCH checksum residue of the human-readable
// part and the 5-bit data values, checksum included: bech32Const or
// bech32mConst when the string is valid.
func bech32Checksum(hrp string, data []byte) uint32 {
	chk := uint32(1)
	for i := 0; i < len(hrp); i++ {
		chk = bech32Step(chk, hrp[i]>>5)
	}
	chk = bech32Step(chk, 0)
	for i := 0; i < len(hrp); i++ {
		chk = bech32Step(chk, hrp[i]&31)
	}
	for _, v := range data {
		chk = bech32Step(chk, v)
	}
	return chk
}

// convertedLen returns how many bytes the 5-bit values pack into, and
// whether the leftover padding is short and all zero as BIP 173 requires.
func convertedLen(values []byte) (int, bool) {
	acc, bits, n := uint32(0), 0, 0
	for _, v := range values {
		acc = acc<<5 | uint32(v)
		bits += 5
		for bits >= 8 {
			bits -= 8
			n++
		}
	}
	if bits >= 5 || acc&(1<<bits-1) != 0 {
		return 0, false
	}
	return n, true
}
