package redact

import (
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestRedactPlaceholders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		text          string
		wantText      string
		wantOriginals map[string]string
	}{
		{
			name:          "nothing to redact",
			text:          "Order ORD-123456 shipped on 2024-01-15.",
			wantText:      "Order ORD-123456 shipped on 2024-01-15.",
			wantOriginals: map[string]string{},
		},
		{
			name:     "same value same placeholder",
			text:     "From a@x.io to b@y.io, cc A@X.io",
			wantText: "From [EMAIL_1] to [EMAIL_2], cc [EMAIL_1]",
			wantOriginals: map[string]string{
				"[EMAIL_1]": "a@x.io",
				"[EMAIL_2]": "b@y.io",
			},
		},
		{
			name:     "numbering per type",
			text:     "call +44 7700 900123, card 4111 1111 1111 1111, mail c@z.io, again 4111-1111-1111-1111",
			wantText: "call [PHONE_1], card [CARD_1], mail [EMAIL_1], again [CARD_1]",
			wantOriginals: map[string]string{
				"[PHONE_1]": "+44 7700 900123",
				"[CARD_1]":  "4111 1111 1111 1111",
				"[EMAIL_1]": "c@z.io",
			},
		},
		{
			name:     "every type",
			text:     "IBAN GB82WEST12345698765432 SSN 123-45-6789 ip 2001:db8::1",
			wantText: "IBAN [IBAN_1] SSN [SSN_1] ip [IP_1]",
			wantOriginals: map[string]string{
				"[IBAN_1]": "GB82WEST12345698765432",
				"[SSN_1]":  "123-45-6789",
				"[IP_1]":   "2001:db8::1",
			},
		},
	}
	r := New()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := r.Redact(tc.text)
			if diff := cmp.Diff(tc.wantText, got.Text); diff != "" {
				t.Errorf("Text mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantOriginals, got.Originals); diff != "" {
				t.Errorf("Originals mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRedactRuneOffsets(t *testing.T) {
	t.Parallel()
	text := "Grüße, José — schreib an josé@example.com oder ☎ +49 30 1234567"
	got := New().Redact(text)

	want := []Entity{
		{Finding: Finding{Type: TypePerson}, Replacement: "[PERSON_1]"},
		{Finding: Finding{Type: TypeEmail}, Replacement: "[EMAIL_1]"},
		{Finding: Finding{Type: TypePhone}, Replacement: "[PHONE_1]"},
	}
	if len(got.Entities) != len(want) {
		t.Fatalf("got %d entities, want %d: %+v", len(got.Entities), len(want), got.Entities)
	}
	runes := []rune(text)
	for i, e := range got.Entities {
		if e.Type != want[i].Type || e.Replacement != want[i].Replacement {
			t.Errorf("entity %d = %s %s, want %s %s", i, e.Type, e.Replacement, want[i].Type, want[i].Replacement)
		}
		if byRunes, byBytes := string(runes[e.RuneStart:e.RuneEnd]), text[e.Start:e.End]; byRunes != byBytes {
			t.Errorf("entity %d: code points give %q, bytes give %q", i, byRunes, byBytes)
		}
		if e.RuneStart != utf8.RuneCountInString(text[:e.Start]) {
			t.Errorf("entity %d: RuneStart %d, want %d", i, e.RuneStart, utf8.RuneCountInString(text[:e.Start]))
		}
	}
}

func TestRedactInvalidUTF8(t *testing.T) {
	t.Parallel()
	text := "bad \xff\xfe byte then a@b.io"
	got := New().Redact(text)
	if !utf8.ValidString(got.Text) {
		t.Fatalf("Text %q is not valid UTF-8", got.Text)
	}
	if want := "bad \uFFFD byte then [EMAIL_1]"; got.Text != want {
		t.Errorf("Text = %q, want %q", got.Text, want)
	}
	if len(got.Entities) != 1 || got.Entities[0].RuneStart != 17 {
		t.Errorf("Entities = %+v, want one email at code point 17", got.Entities)
	}
}

func TestDocumentSharesPlaceholders(t *testing.T) {
	t.Parallel()
	doc := New().NewDocument()

	email := doc.Replace(TypeEmail, "Jane.Doe@Example.com")
	name := doc.Replace(TypePerson, "  Jane   Doe ")
	subject := doc.Redact("Refund for jane.doe@example.com")
	body := doc.Redact("Hi, I am JANE DOE. Jane here again; Doe is my surname, " +
		"my colleague Doeling and I will call from +1 555 010 9999. " +
		"Write to jane.doe@example.com or bob@example.com.")

	got := []string{email, name, subject.Text, body.Text}
	want := []string{
		"[EMAIL_1]",
		"[PERSON_1]",
		"Refund for [EMAIL_1]",
		"Hi, I am [PERSON_1]. [PERSON_1] here again; [PERSON_1] is my surname, " +
			"my colleague [PERSON_2] and I will call from [PHONE_1]. " +
			"Write to [EMAIL_1] or [EMAIL_2].",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("redacted fields mismatch (-want +got):\n%s", diff)
	}

	wantOriginals := map[string]string{
		"[EMAIL_1]":  "Jane.Doe@Example.com",
		"[EMAIL_2]":  "bob@example.com",
		"[PERSON_1]": "Jane Doe",
		"[PERSON_2]": "Doeling", // found by context, not as a part of Jane Doe
		"[PHONE_1]":  "+1 555 010 9999",
	}
	if diff := cmp.Diff(wantOriginals, doc.Originals()); diff != "" {
		t.Errorf("Originals mismatch (-want +got):\n%s", diff)
	}
	wantCounts := map[Type]int{TypeEmail: 4, TypePerson: 5, TypePhone: 1}
	if diff := cmp.Diff(wantCounts, doc.Counts()); diff != "" {
		t.Errorf("Counts mismatch (-want +got):\n%s", diff)
	}
}

func TestDocumentPersonMatching(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		person string
		text   string
		want   string
	}{
		{name: "full name any case", person: "Ana María López",
			text: "Dear ana maría lópez,", want: "Dear [PERSON_1],"},
		{name: "first name capitalised", person: "Will Turner",
			text: "Will said he will call", want: "[PERSON_1] said he will call"},
		{name: "short token kept", person: "Al Li",
			text: "Al and Li met Al Li", want: "Al and Li met [PERSON_1]"},
		{name: "particle kept", person: "Ludwig van Beethoven",
			text: "Van trucks; van Beethoven; Ludwig", want: "Van trucks; van [PERSON_1]; [PERSON_1]"},
		{name: "inside longer word kept", person: "Ann Smith",
			text: "Annual Smithsonian trip, Ann", want: "Annual Smithsonian trip, [PERSON_1]"},
		{name: "name across a line break", person: "Jane Doe",
			text: "Jane\nDoe", want: "[PERSON_1]"},
		{name: "email with name stays one email", person: "Jane Doe",
			text: "Jane.Doe@example.com", want: "[EMAIL_1]"},
		{name: "name written without a space kept", person: "Jane Doe",
			text: "JaneDoe", want: "JaneDoe"},
	}
	r := New()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			doc := r.NewDocument()
			doc.Replace(TypePerson, tc.person)
			if got := doc.Redact(tc.text).Text; got != tc.want {
				t.Errorf("Redact(%q) = %q, want %q", tc.text, got, tc.want)
			}
		})
	}
}

func TestDocumentReplaceEmpty(t *testing.T) {
	t.Parallel()
	doc := New().NewDocument()
	if got := doc.Replace(TypeEmail, "  "); got != "" {
		t.Errorf("Replace of blank value = %q, want empty", got)
	}
	if got := doc.Counts(); len(got) != 0 {
		t.Errorf("Counts after blank Replace = %v, want none", got)
	}
}

func TestKnownPersonWinsOverFoundName(t *testing.T) {
	t.Parallel()
	doc := New().NewDocument()
	doc.Replace(TypePerson, "Jane Doe")
	res := doc.Redact("Hi team,\nplease call me.\n\nThanks,\nJane\n\nCc: Marcus Webb")
	if want := "Hi team,\nplease call me.\n\nThanks,\n[PERSON_1]\n\nCc: [PERSON_2]"; res.Text != want {
		t.Fatalf("text = %q\nwant   %q", res.Text, want)
	}
	if res.Originals["[PERSON_1]"] != "Jane Doe" || res.Originals["[PERSON_2]"] != "Marcus Webb" {
		t.Errorf("originals = %v", res.Originals)
	}
}
