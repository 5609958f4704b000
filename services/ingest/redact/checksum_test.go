package redact

import "testing"

func TestVerhoeff(t *testing.T) {
	t.Parallel()
	valid := []string{"2363", "390937865790", "954323194870", "774911862521"}
	for _, v := range valid {
		if !verhoeffValid([]byte(v)) {
			t.Errorf("verhoeffValid(%s) = false, want true", v)
		}
		// Every single wrong digit and every swap of neighbours is caught.
		for i := range len(v) {
			for d := byte('0'); d <= '9'; d++ {
				if d == v[i] {
					continue
				}
				changed := []byte(v)
				changed[i] = d
				if verhoeffValid(changed) {
					t.Errorf("verhoeffValid(%s) = true after changing digit %d of %s", changed, i, v)
				}
			}
			if i+1 < len(v) && v[i] != v[i+1] {
				swapped := []byte(v)
				swapped[i], swapped[i+1] = swapped[i+1], swapped[i]
				if verhoeffValid(swapped) {
					t.Errorf("verhoeffValid(%s) = true after swapping digits %d and %d of %s", swapped, i, i+1, v)
				}
			}
		}
	}
	for _, v := range []string{"", "12a4"} {
		if verhoeffValid([]byte(v)) {
			t.Errorf("verhoeffValid(%q) = true, want false", v)
		}
	}
}

func TestBase58Check(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr        string
		wantVersion byte
		wantOK      bool
	}{
		{"1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", 0x00, true},
		{"1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", 0x00, true},
		{"3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", 0x05, true},
		{"1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb", 0, false}, // checksum
		{"1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfN0", 0, false}, // '0' is not base58
		{"11A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", 0, false},
		{"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", 0, false}, // too large
	}
	for _, tc := range tests {
		version, ok := base58CheckDecode25(tc.addr)
		if ok != tc.wantOK || (ok && version != tc.wantVersion) {
			t.Errorf("base58CheckDecode25(%s) = %#x, %v; want %#x, %v", tc.addr, version, ok, tc.wantVersion, tc.wantOK)
		}
	}
}

func TestSegwitAddress(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr string
		want bool
	}{
		{"bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", true},
		{"BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", true},
		{"bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3", true},
		{"bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0", true},
		{"bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y", true},
		{"bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7k7grplx", false}, // bech32 for v1
		{"bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", false},                                 // checksum
		{"bc1Qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", false},                                 // mixed case
		{"tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", false},                                 // testnet
		{"bc1zw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5", false},           // bad length
		{"bc1qbbbbbbbbbb", false},
	}
	for _, tc := range tests {
		if got := segwitAddressValid(tc.addr, "bc"); got != tc.want {
			t.Errorf("segwitAddressValid(%s) = %v, want %v", tc.addr, got, tc.want)
		}
	}
}

func TestEIP55(t *testing.T) {
	t.Parallel()
	valid := []string{
		"5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
		"fB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
		"dbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
		"D1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
	}
	for _, v := range valid {
		if !eip55Valid(v) {
			t.Errorf("eip55Valid(%s) = false, want true", v)
		}
		flipped := []byte(v)
		for i, c := range flipped {
			if c >= 'a' && c <= 'f' {
				flipped[i] = c - 'a' + 'A'
				break
			}
		}
		if eip55Valid(string(flipped)) {
			t.Errorf("eip55Valid(%s) = true after flipping the case of one letter", flipped)
		}
	}
}

func TestIdentifierChecksums(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		check func([]byte) bool
		valid []string
		wrong []string
	}{
		{"NHS", nhsValid, []string{"9434765919", "4260181599", "7301661312"}, []string{"9434765918", "4482199355"}},
		{"TFN", tfnValid, []string{"123456782", "656321223", "735379907"}, []string{"123456789", "65632122"}},
		{"ABN", abnValid, []string{"51824753556", "93848372616", "31387837576"}, []string{"51824753557", "01824753556"}},
		{"Medicare", medicareValid, []string{"2123456701", "3536051873", "2563803237"}, []string{"2123456711", "7123456701", "2123456700"}},
		{"Aadhaar", aadhaarValid, []string{"390937865790", "954323194870"}, []string{"390937865791", "123456789014"}},
		{"PESEL", func(d []byte) bool { ok, _ := peselValid(d); return ok },
			[]string{"44051401359", "85031480919", "02313041806", "00222901239"}, []string{"44051401358", "85131480912", "85023080918", "01222901236"}},
	}
	for _, tc := range tests {
		for _, v := range tc.valid {
			if !tc.check([]byte(v)) {
				t.Errorf("%s check of %s = false, want true", tc.name, v)
			}
		}
		for _, v := range tc.wrong {
			if tc.check([]byte(v)) {
				t.Errorf("%s check of %s = true, want false", tc.name, v)
			}
		}
	}
}

func TestLetterChecksums(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		check func(string) bool
		valid []string
		wrong []string
	}{
		{"NRIC", nricValid, []string{"S4179827J", "T1824694A", "F4318479L", "G9363857W", "M8497740X", "M1234567K"},
			[]string{"S4179827A", "M1234567L", "G9363857X"}},
		{"NIE", nieValid, []string{"Z2801430N", "X1012325A", "Z8619779M"}, []string{"X1012325B"}},
		{"DNI", func(w string) bool { return dniLetter([]byte(w[:8])) == w[8] },
			[]string{"25172486K", "50991670A", "56647854G"}, []string{"25172486L"}},
		{"codice fiscale", fiscalCodeValid, []string{"RSSMRA85T10A562S", "MRTMTT25D09F205Z", "BNCGNN80A41H501X"},
			[]string{"RSSMRA85T10A562T", "RSSMRA85Z10A562S", "RSSMRA85T99A562S"}},
	}
	for _, tc := range tests {
		for _, v := range tc.valid {
			if !tc.check(v) {
				t.Errorf("%s check of %s = false, want true", tc.name, v)
			}
		}
		for _, v := range tc.wrong {
			if tc.check(v) {
				t.Errorf("%s check of %s = true, want false", tc.name, v)
			}
		}
	}
}

// structuredRecognisers are the recognisers of this change, for the
// allocation test and the benchmark.
var structuredRecognisers = []struct {
	name string
	rec  recognizer
}{
	{"secrets", (*Redactor).findSecrets},
	{"crypto", (*Redactor).findCrypto},
	{"mac", (*Redactor).findMACs},
	{"url", (*Redactor).findURLs},
	{"nationalid", (*Redactor).findNationalIDs},
}

// structuredNoHitTexts hold none of the structured entities, only their
// look-alikes.
func structuredNoHitTexts() map[string]Profile {
	return map[string]Profile{
		benchmarkEmail(): ProfileProse,
		"2024-01-15T14:30:00.123Z level=info msg=\"request done\" pod=api-7f9c8d6b5-x2x7q status=200 " +
			"duration=12ms trace=4bf92f3577b34da6a3ce929d0e0e4736 ts=1705329006 url=https://example.com/a?b=c\n": ProfileLog,
		"-\tmaxRetries := 3\n+\tmaxRetries := 5 // see https://go.dev/doc\n+\tid := uuid.MustParse(\"550e8400-e29b-41d4-a716-446655440000\")\n" +
			"+\tconst digest = \"sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31\"\n": ProfileCode,
	}
}

func TestStructuredRecognisersDoNotAllocateWithoutFindings(t *testing.T) {
	r := New()
	for text, profile := range structuredNoHitTexts() {
		s := newScan(text, profile)
		out := make([]candidate, 0, 8)
		for _, sr := range structuredRecognisers {
			if got := sr.rec(r, s, out[:0]); len(got) != 0 {
				t.Fatalf("%s found %v in a text without entities", sr.name, got)
			}
			allocs := testing.AllocsPerRun(20, func() { sr.rec(r, s, out[:0]) })
			if allocs != 0 {
				t.Errorf("%s allocated %.0f times on a %d-byte text without findings", sr.name, allocs, len(text))
			}
		}
		s.release()
	}
}

func BenchmarkStructuredRecognisers(b *testing.B) {
	r := New()
	text := benchmarkEmail()
	s := newScan(text, ProfileProse)
	defer s.release()
	out := make([]candidate, 0, 8)
	for _, sr := range structuredRecognisers {
		b.Run(sr.name, func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			for b.Loop() {
				out = sr.rec(r, s, out[:0])
			}
		})
	}
}
