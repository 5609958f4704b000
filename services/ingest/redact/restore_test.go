package redact

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRestore(t *testing.T) {
	t.Parallel()
	originals := map[string]string{
		"[EMAIL_1]":  "jane@example.com",
		"[PERSON_1]": "Jane Doe",
		"[CARD_12]":  "4111 1111 1111 1111",
	}
	tests := []struct {
		name        string
		text        string
		want        string
		wantUnknown []string
	}{
		{name: "no placeholders", text: "Hello there", want: "Hello there"},
		{name: "known", text: "Dear [PERSON_1], we wrote to [EMAIL_1].",
			want: "Dear Jane Doe, we wrote to jane@example.com."},
		{name: "multi-digit number", text: "[CARD_12]", want: "4111 1111 1111 1111"},
		{name: "repeated", text: "[EMAIL_1][EMAIL_1]", want: "jane@example.com" + "jane@example.com"},
		{name: "unknown reported once", text: "[PHONE_1] or [PHONE_1], [IP_2] and [EMAIL_1]",
			want:        "[PHONE_1] or [PHONE_1], [IP_2] and jane@example.com",
			wantUnknown: []string{"[PHONE_1]", "[IP_2]"}},
		{name: "not placeholders", text: "[TODO_1] [EMAIL_] [EMAIL_01] [email_1] [EMAIL_1",
			want: "[TODO_1] [EMAIL_] [EMAIL_01] [email_1] [EMAIL_1"},
		{name: "nested bracket", text: "[[EMAIL_1]]", want: "[jane@example.com]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, unknown := Restore(tc.text, originals)
			if got != tc.want {
				t.Errorf("Restore(%q) = %q, want %q", tc.text, got, tc.want)
			}
			if diff := cmp.Diff(tc.wantUnknown, unknown); diff != "" {
				t.Errorf("unknown mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRedactRestoreRoundTrip(t *testing.T) {
	t.Parallel()
	text := "Jane Doe <jane@example.com> called from +44 20 7946 0958 about card " +
		"4111 1111 1111 1111 and IBAN DE89 3704 0044 0532 0130 00 (SSN 123-45-6789, ip 198.51.100.7)."
	res := New().Redact(text)
	got, unknown := Restore(res.Text, res.Originals)
	if got != text {
		t.Errorf("round trip = %q, want %q", got, text)
	}
	if len(unknown) != 0 {
		t.Errorf("unknown = %v, want none", unknown)
	}
}
