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
