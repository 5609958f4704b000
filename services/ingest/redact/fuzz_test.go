package redact

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzRedact(f *testing.F) {
	seeds := []string{
		"",
		"jane.doe@example.com",
		"Call (555) 123-4567 or +44 7700 900123",
		"4111 1111 1111 1111 / GB82 WEST 1234 5698 7654 32",
		"SSN 123-45-6789, 2001:db8::1, 192.0.2.1",
		"ORD-123456 2024-01-15T14:30:00Z v1.2.3.4 4bf92f3577b34da6",
		"Grüße \xff\xfe José +49 30 1234567",
		"[EMAIL_1] already looks redacted",
		"::ffff:1.2.3.4::1.2.3.4.5 a@b.c@d.io 0044 20 7946 0958",
		"tel +44\u00a07700\u00a0900123, ｊｏｈｎ＠ｅｘａｍｐｌｅ．ｃｏｍ, bob\u200b@x.io\u00ad",
		"\u200b\u200d\ufeff０９０－１２３４－５６７８\u2011\xff",
	}
	for _, s := range seeds {
		f.Add(s, "Jane Doe")
	}
	f.Add("Dear ana maría lópez and Ana", "Ana María López")
	f.Add("\xffJane\xff", "\xffJane")
	r := New()
	f.Fuzz(func(t *testing.T, text, name string) {
		doc := r.NewDocument()
		doc.Replace(TypePerson, name)
		res := doc.Redact(text)
		if !utf8.ValidString(res.Text) {
			t.Fatalf("Text %q is not valid UTF-8", res.Text)
		}

		runeCount := utf8.RuneCountInString(text)
		prevEnd := 0
		seen := make(map[string]string)
		ambiguous := false
		for _, e := range res.Entities {
			if e.Start < prevEnd || e.Start >= e.End || e.End > len(text) {
				t.Fatalf("entity %+v out of range or overlapping (text %d bytes)", e, len(text))
			}
			if e.RuneStart < 0 || e.RuneStart >= e.RuneEnd || e.RuneEnd > runeCount {
				t.Fatalf("entity %+v code points out of range (text %d code points)", e, runeCount)
			}
			if e.RuneStart != utf8.RuneCountInString(text[:e.Start]) {
				t.Fatalf("entity %+v: RuneStart disagrees with Start", e)
			}
			original := text[e.Start:e.End]
			if e.Type == TypePerson {
				ambiguous = true // a lone first name restores as the full name
			}
			if prev, ok := seen[e.Replacement]; ok && prev != original {
				ambiguous = true // same value written two ways: one original wins
			}
			seen[e.Replacement] = original
			prevEnd = e.End
		}

		for ph, original := range res.Originals {
			if !utf8.ValidString(original) {
				t.Fatalf("original %q of %s is not valid UTF-8", original, ph)
			}
		}
		restored, unknown := Restore(res.Text, res.Originals)
		if utf8.ValidString(text) && !strings.Contains(text, "[") && !ambiguous {
			if restored != text || len(unknown) != 0 {
				t.Fatalf("round trip of %q gave %q (unknown %v)", text, restored, unknown)
			}
		}
	})
}

// FuzzRecognizers runs every recogniser on its own, in every profile, and
// checks what each returns: offsets inside the text, on UTF-8 boundaries,
// start before end, a score in (0, 1].
func FuzzRecognizers(f *testing.F) {
	for _, s := range []string{
		"mail jane@example.com, call +44 20 7946 0958, card 4111-1111-1111-1111",
		"IBAN GB82 WEST 1234 5698 7654 32 SSN 219-09-9999 ip 10.0.0.1:80 fe80::1",
		"@@ -1 +1 @@\n+password: hunter2\n+key = \"AKIAIOSFODNN7EXAMPLE\"",
		"Kind regards,\nMaría José Castillo\n12 rue de la Paix, 75002 Paris",
		"born 14/03/1985, NHS 943 476 5919, NINO QQ 12 34 56 C",
		"\xff\xfe\x00 ４１１１ 𝟒𝟏𝟏𝟏 \u200b@\u200b",
	} {
		f.Add(s)
	}
	r := New()
	f.Fuzz(func(t *testing.T, text string) {
		for _, profile := range []Profile{ProfileProse, ProfileCode, ProfileLog} {
			for i, rec := range recognizers {
				sc := newScan(text, profile)
				cands := rec(r, sc, nil)
				sc.release()
				for _, c := range cands {
					if c.Start < 0 || c.Start >= c.End || c.End > len(text) {
						t.Fatalf("recogniser %d (%s) in profile %d: span [%d, %d) outside a text of %d bytes",
							i, c.Type, profile, c.Start, c.End, len(text))
					}
					if cutsRune(text, c.Start) || cutsRune(text, c.End) {
						t.Fatalf("recogniser %d (%s): span [%d, %d) cuts a UTF-8 sequence", i, c.Type, c.Start, c.End)
					}
					if c.Score <= 0 || c.Score > 1 {
						t.Fatalf("recogniser %d (%s): score %v outside (0, 1]", i, c.Type, c.Score)
					}
				}
			}
		}
	})
}

// cutsRune reports whether offset i falls inside a valid multi-byte UTF-8
// sequence. Stray bytes of invalid input are sequences of their own.
func cutsRune(text string, i int) bool {
	for j := i - 1; j >= 0 && j >= i-3; j-- {
		if utf8.RuneStart(text[j]) {
			r, w := utf8.DecodeRuneInString(text[j:])
			return (r != utf8.RuneError || w > 1) && j+w > i
		}
	}
	return false
}

// FuzzOperators checks the operators on any value: format-preserving
// encryption keeps the shape and decrypts back, masking keeps the length
// in code points, sealed values open to the original.
func FuzzOperators(f *testing.F) {
	f.Add("4111 1111 1111 1111")
	f.Add("+44 (0)20 7946-0958")
	f.Add("12345")
	f.Add("jörg@例え.jp")
	p := &Policy{Default: OpFPE, Key: make([]byte, 32)}
	if err := p.Prepare(); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, value string) {
		if !utf8.ValidString(value) {
			return
		}
		if enc, err := p.formatPreserving(TypeCard, value); err == nil {
			if len(enc) != len(value) {
				t.Fatalf("fpe(%q) = %q: length changed", value, enc)
			}
			for i := range len(value) {
				if isDigit(value[i]) != isDigit(enc[i]) {
					t.Fatalf("fpe(%q) = %q: shape changed at byte %d", value, enc, i)
				}
			}
			if back, err := p.RevealFPE(TypeCard, enc); err != nil || back != value {
				t.Fatalf("RevealFPE(fpe(%q)) = %q, %v", value, back, err)
			}
		}
		masked := mask(value, true, 4)
		if utf8.RuneCountInString(masked) != utf8.RuneCountInString(value) {
			t.Fatalf("mask(%q) = %q: length changed", value, masked)
		}
		if got, err := p.Decrypt(p.seal(TypeEmail, value)); err != nil || got != value {
			t.Fatalf("Decrypt(seal(%q)) = %q, %v", value, got, err)
		}
	})
}
