package redact

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// Inputs from an adversarial pass over the engine: values written so as to
// slip past, and texts built to make the scanners slow.

func TestValuesNextToACommaAndDigit(t *testing.T) {
	t.Parallel()
	runRecogniserCases(t, []recogniserCase{
		{name: "forwarded addresses", text: "X-Forwarded-For: 203.0.113.7,198.51.100.2",
			want: []string{"IP_ADDRESS 203.0.113.7", "IP_ADDRESS 198.51.100.2"}},
		{name: "card in a CSV row", text: "id,4111111111111111,12/26,123",
			want: []string{"CREDIT_CARD 4111111111111111"}},
		{name: "ssn before a comma", text: "ssn 536-22-1234,5", want: []string{"US_SSN 536-22-1234"}},
		{name: "phone before a comma", text: "tel +44 7700 900123,5", want: []string{"PHONE_NUMBER +44 7700 900123"}},
		{name: "thousands are one number", text: "revenue 1,234,567 and 4,111,111,111,111,111"},
	})
}

func TestValuesWithUnusualSeparators(t *testing.T) {
	t.Parallel()
	runRecogniserCases(t, []recogniserCase{
		{name: "no-break spaces", text: "tel +44\u00a07700\u00a0900123",
			want: []string{"PHONE_NUMBER +44\u00a07700\u00a0900123"}},
		{name: "narrow no-break spaces", text: "call +1\u202f415\u202f555\u202f2671 now",
			want: []string{"PHONE_NUMBER +1\u202f415\u202f555\u202f2671"}},
		{name: "card with no-break spaces", text: "card 4111\u00a01111\u00a01111\u00a01111",
			want: []string{"CREDIT_CARD 4111\u00a01111\u00a01111\u00a01111"}},
		{name: "IBAN with no-break spaces", text: "IBAN DE89\u00a03704\u00a00044\u00a00532\u00a00130\u00a000",
			want: []string{"IBAN_CODE DE89\u00a03704\u00a00044\u00a00532\u00a00130\u00a000"}},
		{name: "non-breaking hyphens", text: "ssn 536\u201122\u20111234", want: []string{"US_SSN 536\u201122\u20111234"}},
		{name: "full-width email", text: "ｊｏｈｎ＠ｅｘａｍｐｌｅ．ｃｏｍ", want: []string{"EMAIL_ADDRESS ｊｏｈｎ＠ｅｘａｍｐｌｅ．ｃｏｍ"}},
		{name: "full-width at only", text: "mail john＠example.com", want: []string{"EMAIL_ADDRESS john＠example.com"}},
		{name: "full-width phone", text: "電話 ０９０－１２３４－５６７８", want: []string{"PHONE_NUMBER ０９０－１２３４－５６７８"}},
		{name: "zero-width space in an email", text: "bob\u200b@example.com", want: []string{"EMAIL_ADDRESS bob\u200b@example.com"}},
		{name: "soft hyphens in a card", text: "4111\u00ad1111\u00ad1111\u00ad1111", want: []string{"CREDIT_CARD 4111\u00ad1111\u00ad1111\u00ad1111"}},
		{name: "joiner after a value stays out", text: "bob@example.com\u200d and", want: []string{"EMAIL_ADDRESS bob@example.com"}},
		{name: "full-width punctuation stays", text: "Customer: 好的，谢谢"},
	})
}

func TestFoldedValuesShareOnePlaceholder(t *testing.T) {
	t.Parallel()
	doc := New().NewDocument()
	res := doc.Redact("電話 ０９０－１２３４－５６７８ or 090-1234-5678; mail john＠example.com or JOHN@example.com")
	want := "電話 [PHONE_1] or [PHONE_1]; mail [EMAIL_1] or [EMAIL_1]"
	if res.Text != want {
		t.Errorf("Redact = %q, want %q", res.Text, want)
	}
}

func TestPhoneSpellingsShareOnePlaceholder(t *testing.T) {
	t.Parallel()
	doc := New().NewDocument() // the US first among the default regions
	doc.Replace(TypePhone, "+1 (415) 555-2671")
	res := doc.Redact("call +1 415 555 2671, (415) 555-2671 or 1-415-555-2671; uk +44 20 7946 0958")
	want := "call [PHONE_1], [PHONE_1] or [PHONE_1]; uk [PHONE_2]"
	if res.Text != want {
		t.Errorf("Redact = %q, want %q", res.Text, want)
	}
}

func TestKnownNameInAnyCaseAndWithoutAccents(t *testing.T) {
	t.Parallel()
	for _, body := range []string{"thanks, zoe brown", "thanks, ZOE BROWN", "thanks, Zoe Brown", "thanks, Zoë"} {
		doc := New().NewDocument()
		doc.Replace(TypePerson, "Zoë Brown")
		if got := doc.Redact(body).Text; got != "thanks, [PERSON_1]" {
			t.Errorf("Redact(%q) = %q, want the sender's placeholder", body, got)
		}
	}
}

func TestLongDisplayNameIsNotLookedForWordByWord(t *testing.T) {
	t.Parallel()
	doc := New().NewDocument()
	name := strings.Repeat("Word ", 2000)
	doc.Replace(TypePerson, name)
	if got := doc.Redact("A Word about the order.").Text; got != "A Word about the order." {
		t.Errorf("Redact = %q: words of an overlong display name were redacted alone", got)
	}
}

func TestFormatPreservingKeepsEachSpelling(t *testing.T) {
	t.Parallel()
	doc := New().NewDocument()
	key := []byte(strings.Repeat("k", 32))
	if err := doc.SetPolicy(preparedPolicy(t, &Policy{Default: OpFPE, Key: key})); err != nil {
		t.Fatal(err)
	}
	res := doc.Redact("4111111111111111 and 4111 1111 1111 1111")
	a, b, ok := strings.Cut(res.Text, " and ")
	if !ok || len(a) != 16 || len(b) != 19 || strings.ReplaceAll(b, " ", "") != a {
		t.Fatalf("Redact = %q: want the same digits in each spelling", res.Text)
	}
	restored, err := Restore(res.Text, res.Originals)
	if err != nil || restored != "4111111111111111 and 4111 1111 1111 1111" {
		t.Errorf("Restore = %q, %v", restored, err)
	}
}

// TestRepeatedPrefixesFindNothing feeds the shapes that once made the
// secret scanner read a run again from each of its parts. It checks what
// is found; BENCHMARKS.md and the attack notes hold the times.
func TestRepeatedPrefixesFindNothing(t *testing.T) {
	t.Parallel()
	r := New()
	for _, unit := range []string{"sk-", "xoxb-", "glpat-", "pypi-", "AIza-", "eyJhbGciOiJIUzI1NiJ9.",
		"-----BEGIN RSA PRIVATE KEY-----\n", "hooks.slack.com/services/"} {
		text := strings.Repeat(unit, 20000)
		for _, f := range r.Find(text) {
			if f.Type != TypePrivateKey && f.Type != TypeJWT {
				t.Errorf("%q repeated: found %s at %d-%d", unit, f.Type, f.Start, f.End)
				break
			}
		}
	}
}

func TestManyEntitiesAllFound(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	const n = 20000
	for i := range n {
		fmt.Fprintf(&b, "user%d@example.com ", i)
	}
	res := New().NewDocument().Redact(b.String())
	if len(res.Entities) != n {
		t.Fatalf("found %d entities, want %d", len(res.Entities), n)
	}
	for i := 1; i < len(res.Entities); i++ {
		if res.Entities[i].Start < res.Entities[i-1].End {
			t.Fatalf("entities %d and %d overlap", i-1, i)
		}
	}
}

func TestResolveOverlapsKeepsTheLongest(t *testing.T) {
	t.Parallel()
	c := func(s, e int, score float64) candidate {
		return candidate{Finding: Finding{Type: TypePhone, Start: s, End: e, Score: score}}
	}
	got := resolveOverlaps([]candidate{c(0, 5, 0.9), c(3, 12, 0.6), c(10, 14, 0.9), c(20, 22, 0.5), c(11, 13, 1)})
	// 3-12 is the longest of the first cluster and takes out both of its
	// neighbours; 20-22 stands alone.
	want := [][2]int{{3, 12}, {20, 22}}
	if len(got) != len(want) {
		t.Fatalf("kept %d candidates, want %d: %v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].Start != w[0] || got[i].End != w[1] {
			t.Errorf("kept[%d] = %d-%d, want %d-%d", i, got[i].Start, got[i].End, w[0], w[1])
		}
	}
}

func TestFoldedOffsetsAreOriginalOffsets(t *testing.T) {
	t.Parallel()
	text := "a\u200b\u200bb ｍａｉｌ＠ｘ．ｃｏ\u00ad end \xff"
	v := foldForScan(text)
	if v.origin == nil {
		t.Fatal("text was not folded")
	}
	if len(v.origin) != len(v.text)+1 || int(v.origin[len(v.text)]) != len(text) {
		t.Fatalf("origin has %d entries for %d bytes", len(v.origin), len(v.text))
	}
	for i := range len(v.text) {
		start, end := v.start(i), v.end(i+1)
		if start > end || !utf8.RuneStart(text[start]) || end > len(text) {
			t.Fatalf("byte %d maps to %d-%d", i, start, end)
		}
	}
	f := New().Find(text)
	if len(f) != 1 || text[f[0].Start:f[0].End] != "ｍａｉｌ＠ｘ．ｃｏ" {
		t.Errorf("Find = %v, want the full-width email without the soft hyphen", f)
	}
}
