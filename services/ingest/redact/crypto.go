package redact

import "golang.org/x/crypto/sha3"

// Crypto wallet scores. A checksum proves an address; an Ethereum address
// in one case carries no checksum and is told from a commit hash only by
// the words around it.
const (
	cryptoScoreChecksum   = 0.95 // base58check, bech32 or EIP-55 verified
	cryptoScoreEthContext = 0.8  // 0x + 40 hex in one case, after "wallet", "eth"...
	cryptoScoreEthBare    = 0.3  // 0x + 40 hex in one case, no context
)

// Lengths of the address forms.
const (
	btcLegacyMinLen = 26 // base58check P2PKH and P2SH addresses
	btcLegacyMaxLen = 35
	btcSegwitMinLen = 14 // bc1 + version + 2-byte program + checksum
	ethAddressLen   = 42 // 0x + 40 hex digits
	ethContextWords = 6  // same-line tokens searched for a context word
)

// Version bytes of Bitcoin main-network base58check addresses.
const (
	btcVersionP2PKH = 0x00
	btcVersionP2SH  = 0x05
)

// findCrypto appends Bitcoin and Ethereum addresses to out: legacy
// base58check addresses with their version byte and double-SHA-256
// checksum, bech32/bech32m bc1 addresses with their BCH checksum, and 0x
// Ethereum addresses, whose mixed case must pass EIP-55. An address in one
// case has no checksum and is only taken after a word such as "wallet": a
// 40-hex string is as likely a commit id.
func (r *Redactor) findCrypto(s *scan, out []candidate) []candidate {
	for k := range s.tokens {
		t := &s.tokens[k]
		if !t.ascii || t.digits == 0 || t.len() < btcSegwitMinLen {
			continue
		}
		w := s.text[t.start:t.end]
		var score float64
		switch w[0] {
		case '1', '3':
			score = legacyBitcoinScore(w, t)
		case 'b', 'B':
			score = segwitBitcoinScore(w)
		case '0':
			score = ethereumScore(s, k, w)
		}
		if score > 0 {
			out = append(out, candidate{Finding: Finding{Type: TypeCrypto, Start: t.start, End: t.end, Score: score}})
		}
	}
	return out
}

// legacyBitcoinScore checks a base58check P2PKH ('1') or P2SH ('3')
// address. It returns 0 when w is not one.
func legacyBitcoinScore(w string, t *token) float64 {
	if len(w) < btcLegacyMinLen || len(w) > btcLegacyMaxLen || t.letters == 0 || t.under > 0 {
		return 0
	}
	version, ok := base58CheckDecode25(w)
	if !ok {
		return 0
	}
	if (w[0] == '1' && version != btcVersionP2PKH) || (w[0] == '3' && version != btcVersionP2SH) {
		return 0
	}
	return cryptoScoreChecksum
}

// segwitBitcoinScore checks a bc1 address. It returns 0 when w is not one.
func segwitBitcoinScore(w string) float64 {
	if len(w) < 3 || (w[1] != 'c' && w[1] != 'C') || w[2] != '1' {
		return 0
	}
	if !segwitAddressValid(w, "bc") {
		return 0
	}
	return cryptoScoreChecksum
}

// ethereumScore checks a 0x address at token k. Mixed case must pass
// EIP-55; one case needs a context word before it.
func ethereumScore(s *scan, k int, w string) float64 {
	if len(w) != ethAddressLen || w[1] != 'x' {
		return 0
	}
	hasLower, hasUpper := false, false
	for i := 2; i < len(w); i++ {
		c := w[i]
		switch {
		case isDigit(c):
		case c >= 'a' && c <= 'f':
			hasLower = true
		case c >= 'A' && c <= 'F':
			hasUpper = true
		default:
			return 0
		}
	}
	if hasLower && hasUpper {
		if !eip55Valid(w[2:]) {
			return 0
		}
		return cryptoScoreChecksum
	}
	if prevWordFunc(s, k, ethContextWords, isEthereumContextWord) {
		return cryptoScoreEthContext
	}
	return cryptoScoreEthBare
}

// isEthereumContextWord reports whether the lower-case word says that a
// hex string nearby is a wallet address.
func isEthereumContextWord(w []byte) bool {
	switch string(w) {
	case "wallet", "eth", "ether", "ethereum", "address", "addr", "send", "sent",
		"deposit", "withdraw", "withdrawal", "usdt", "usdc", "erc20", "metamask", "crypto":
		return true
	}
	return false
}

// eip55Valid reports whether the 40 hex digits carry the EIP-55 mixed-case
// checksum: a letter is upper case exactly when the matching nibble of the
// Keccak-256 hash of the lower-case address is 8 or more.
func eip55Valid(hexDigits string) bool {
	var lower [40]byte
	if len(hexDigits) != len(lower) {
		return false
	}
	for i := range len(lower) {
		c := hexDigits[i]
		if c >= 'A' && c <= 'F' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	h := sha3.NewLegacyKeccak256()
	h.Write(lower[:])
	var sum [32]byte
	h.Sum(sum[:0])

	for i := range len(lower) {
		c := hexDigits[i]
		if isDigit(c) {
			continue
		}
		nibble := sum[i/2] >> 4
		if i%2 == 1 {
			nibble = sum[i/2] & 0x0f
		}
		if (nibble >= 8) != (c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
