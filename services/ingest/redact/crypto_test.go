package redact

import "testing"

func TestFindCrypto(t *testing.T) {
	t.Parallel()
	runOwnCases(t, (*Redactor).findCrypto, []ownCase{
		{name: "legacy P2PKH", text: "send it to 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2 please",
			want: []string{"CRYPTO 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"}},
		{name: "legacy P2SH", text: "BTC: 3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy.",
			want: []string{"CRYPTO 3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"}},
		{name: "segwit", text: "wallet bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
			want: []string{"CRYPTO bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"}},
		{name: "segwit upper case", text: "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
			want: []string{"CRYPTO BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4"}},
		{name: "taproot", text: "→ bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0 ←",
			want: []string{"CRYPTO bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"}},
		{name: "Ethereum checksummed", text: "pay 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed today",
			want: []string{"CRYPTO 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"}},
		{name: "Ethereum lower case after wallet", text: "my ETH wallet: 0xde709f2102306220921060314715629080e2fb77",
			want: []string{"CRYPTO 0xde709f2102306220921060314715629080e2fb77"}},
		{name: "Ethereum upper case after deposit", text: "deposit address 0XDE709F2102306220921060314715629080E2FB77"},
		{name: "Ethereum upper hex after deposit", text: "deposit address 0xDE709F2102306220921060314715629080E2FB77",
			want: []string{"CRYPTO 0xDE709F2102306220921060314715629080E2FB77"}},

		{name: "legacy bad checksum", text: "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3"},
		{name: "segwit bad checksum", text: "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5"},
		{name: "Ethereum bad checksum", text: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"},
		{name: "Ethereum lower case without context", text: "value 0xde709f2102306220921060314715629080e2fb77 loaded"},
		{name: "git commit", text: "commit de709f2102306220921060314715629080e2fb77", profile: ProfileCode},
		{name: "SHA-256 digest", profile: ProfileLog,
			text: "sha256=0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31"},
		{name: "transaction hash", text: "tx 0x88df016429689c079f3b2f6ad39fa052532c56795b733da78a91ebe6a713944b"},
		{name: "hex constant", text: "mask := 0xFFFFFFFFFFFFFFFF", profile: ProfileCode},
		{name: "order number starting with 1", text: "order 1234567890123456789012345678"},
		{name: "base58 look-alike", text: "id 1AbCdEfGhJkLmNpQrStUvWxYz12345678"},
	})
}

func FuzzFindCrypto(f *testing.F) {
	fuzzRecogniser(f, (*Redactor).findCrypto,
		"1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
		"BC1Q", "wallet 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "3333333333333333333333333333")
}
