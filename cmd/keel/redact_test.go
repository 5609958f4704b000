package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRedactJSONCountsCodePoints(t *testing.T) {
	t.Parallel()
	// "Zoë — " is 6 code points but 9 bytes: offsets must count the former.
	in := "Zoë — mail zoe@example.com or call +44 7700 900123."
	var out bytes.Buffer
	if err := runRedact([]string{"--json"}, strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	var got redactOutput
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("output is not one JSON object: %v\n%s", err, out.String())
	}

	want := redactOutput{
		Text: "[PERSON_1] — mail [EMAIL_1] or call [PHONE_1].",
		Entities: []redactEntity{
			{Type: "PERSON", Start: 0, End: 3, Operator: "replace"},
			{Type: "EMAIL_ADDRESS", Start: 11, End: 26, Operator: "replace"},
			{Type: "PHONE_NUMBER", Start: 35, End: 50, Operator: "replace"},
		},
	}
	runes := []rune(in)
	for i := range got.Entities {
		if got.Entities[i].Score <= 0 || got.Entities[i].Score > 1 {
			t.Errorf("entity %d score = %v, want in (0, 1]", i, got.Entities[i].Score)
		}
		got.Entities[i].Score = 0
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("redact --json (-want +got):\n%s", diff)
	}
	if s := string(runes[11:26]); s != "zoe@example.com" {
		t.Errorf("email offsets select %q", s)
	}
}

func TestRedactPlainText(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := runRedact(nil, strings.NewReader("card 4111 1111 1111 1111\n"), &out); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "card [CARD_1]\n" {
		t.Fatalf("redact = %q", got)
	}
}

func TestRedactOperatorsAndTypes(t *testing.T) {
	t.Parallel()
	run := func(t *testing.T, in string, args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := runRedact(args, strings.NewReader(in), &out); err != nil {
			t.Fatalf("keel redact %v: %v", args, err)
		}
		return out.String()
	}
	if got := run(t, "card 4111 1111 1111 1111, ann@example.com", "-operator", "CREDIT_CARD=mask", "-operator", "email_address=redact"); got != "card **** **** **** 1111, " {
		t.Errorf("operators: %q", got)
	}
	if got := run(t, "card 4111 1111 1111 1111", "-default", "keep"); got != "card 4111 1111 1111 1111" {
		t.Errorf("-default keep: %q", got)
	}
	diff := "diff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -1 +1 @@\n-x\n+owner = ann@example.com\n"
	if got := run(t, diff, "-type", "text/x-diff"); !strings.Contains(got, "+owner = [EMAIL_1]\n") {
		t.Errorf("diff: %q", got)
	}
	email := "From: Ann Lee <ann@example.com>\r\nSubject: Refund\r\nContent-Type: text/plain; charset=utf-8\r\n" +
		"Content-Transfer-Encoding: quoted-printable\r\n\r\nMail me at ann=40example.com\r\nAnn\r\n"
	if got := run(t, email, "-type", "message/rfc822"); got != "From: [PERSON_1] <[EMAIL_1]>\nSubject: Refund\n\nMail me at [EMAIL_1]\n[PERSON_1]" {
		t.Errorf("email: %q", got)
	}
}

func TestRedactRefusals(t *testing.T) {
	t.Setenv("KEEL_REDACT_KEY", "")
	tests := []struct {
		args []string
		in   string
		want string
	}{
		{[]string{"-operator", "CREDIT_CARD=hash"}, "x", "KEEL_REDACT_KEY"},
		{[]string{"-operator", "SHOE=mask"}, "x", ""},
		{[]string{"-type", "image/png"}, "x", "image/png"},
		{[]string{"-type", "text/plain"}, "\x00\x01\x02\x03binary\x00", "binary"},
		{[]string{"extra"}, "x", "unexpected argument"},
	}
	for _, tc := range tests {
		var out bytes.Buffer
		err := runRedact(tc.args, strings.NewReader(tc.in), &out)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("keel redact %v = %v, want an error mentioning %q", tc.args, err, tc.want)
		}
	}
	t.Setenv("KEEL_REDACT_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
	var out bytes.Buffer
	if err := runRedact([]string{"-operator", "CREDIT_CARD=fpe"}, strings.NewReader("card 4111 1111 1111 1111"), &out); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); len(got) != len("card 4111 1111 1111 1111") || got == "card 4111 1111 1111 1111" {
		t.Errorf("fpe: %q, want another number of the same shape", got)
	}
}
