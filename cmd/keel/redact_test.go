package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/google/go-cmp/cmp"
)

func TestRedactJSONCountsCodePoints(t *testing.T) {
	t.Parallel()
	// "Zoë — " is 6 code points but 9 bytes: offsets must count the former.
	in := "Zoë — mail zoe@example.com or call +44 7700 900123."
	var out bytes.Buffer
	if err := runRedact(t.Context(), []string{"--json"}, strings.NewReader(in), &out); err != nil {
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
	if err := runRedact(t.Context(), nil, strings.NewReader("card 4111 1111 1111 1111\n"), &out); err != nil {
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
		if err := runRedact(t.Context(), args, strings.NewReader(in), &out); err != nil {
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
	zeroKey := base64.StdEncoding.EncodeToString(make([]byte, 32))
	tests := []struct {
		name string
		args []string
		key  string
		in   string
		want string
	}{
		{name: "keyed operator without a key", args: []string{"-operator", "CREDIT_CARD=hash"}, in: "x", want: "KEEL_REDACT_KEY"},
		{name: "unknown entity type", args: []string{"-operator", "SHOE=mask"}, in: "x", want: "invalid command line"},
		{name: "unknown content type", args: []string{"-type", "image/png"}, in: "x", want: "image/png"},
		{name: "binary input", args: []string{"-type", "text/plain"}, in: "\x00\x01\x02\x03binary\x00", want: "binary"},
		{name: "argument", args: []string{"extra"}, in: "x", want: "unexpected argument"},
		{name: "unknown region", args: []string{"-regions", "XX"}, in: "x", want: `"XX"`},
		{name: "unknown regions among known", args: []string{"-regions", "US,ZZ,gb,QQ"}, in: "x", want: `"ZZ", "QQ"`},
		{name: "no region", args: []string{"-regions", ""}, in: "x", want: "-regions"},
		{name: "NaN min score", args: []string{"-min-score", "NaN"}, in: "x", want: "-min-score"},
		{name: "infinite min score", args: []string{"-min-score", "+Inf"}, in: "x", want: "-min-score"},
		{name: "negative min score", args: []string{"-min-score", "-0.5"}, in: "x", want: "-min-score"},
		{
			name: "all-zero key", args: []string{"-operator", "CREDIT_CARD=hash"}, key: zeroKey, in: "x",
			want: "KEEL_REDACT_KEY is one byte repeated",
		},
		{
			name: "short key", args: []string{"-operator", "CREDIT_CARD=hash"}, key: "AAECAwQFBgcICQoLDA0ODw==", in: "x",
			want: "KEEL_REDACT_KEY holds 16 bytes",
		},
		{
			name: "key not base64", args: []string{"-default", "encrypt"}, key: "not base64!", in: "x",
			want: "KEEL_REDACT_KEY is not base64",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("KEEL_REDACT_KEY", tt.key)
			var out bytes.Buffer
			err := runRedact(t.Context(), tt.args, strings.NewReader(tt.in), &out)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("keel redact %q = %v, want an error mentioning %q", tt.args, err, tt.want)
			}
			if out.Len() > 0 {
				t.Errorf("keel redact %q printed %q", tt.args, out.String())
			}
		})
	}
}

func TestRedactOperatorFlagListsTypes(t *testing.T) {
	t.Parallel()
	var f operatorFlags
	err := f.Set("EMAIL=mask")
	if err == nil {
		t.Fatal("Set(EMAIL=mask) accepted an unknown type")
	}
	for _, want := range []string{`"EMAIL"`, "EMAIL_ADDRESS", "PHONE_NUMBER", "PRIVATE_KEY"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Set(EMAIL=mask) = %v, want it to mention %s", err, want)
		}
	}
}

func TestRedactKeyEncodings(t *testing.T) {
	// 0xfb and 0xff make the standard alphabet write '+' and '/' and the
	// URL-safe one '-' and '_'.
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(0xf0 + i%16)
	}
	const in = "card 4111 1111 1111 1111"
	var want string
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding,
	} {
		t.Setenv("KEEL_REDACT_KEY", enc.EncodeToString(key))
		var out bytes.Buffer
		if err := runRedact(t.Context(), []string{"-operator", "CREDIT_CARD=hash"}, strings.NewReader(in), &out); err != nil {
			t.Fatalf("key %q: %v", enc.EncodeToString(key), err)
		}
		if want == "" {
			want = out.String()
		}
		if out.String() != want || out.String() == in {
			t.Errorf("key %q: %q, want %q", enc.EncodeToString(key), out.String(), want)
		}
	}
	if !strings.ContainsAny(base64.URLEncoding.EncodeToString(key), "-_") {
		t.Fatal("the test key does not exercise the URL-safe alphabet")
	}

	t.Setenv("KEEL_REDACT_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
	var out bytes.Buffer
	if err := runRedact(t.Context(), []string{"-operator", "CREDIT_CARD=fpe"}, strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); len(got) != len(in) || got == in {
		t.Errorf("fpe: %q, want another number of the same shape", got)
	}
}

// redactJSON runs keel redact --json with args over in.
func redactJSON(t *testing.T, in string, args ...string) redactOutput {
	t.Helper()
	var out bytes.Buffer
	if err := runRedact(t.Context(), append([]string{"--json"}, args...), strings.NewReader(in), &out); err != nil {
		t.Fatalf("keel redact --json %q: %v", args, err)
	}
	var got redactOutput
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("output is not one JSON object: %v\n%s", err, out.String())
	}
	return got
}

// entityValues returns "TYPE value" for each entity, the value cut out of
// chars, the input as code points, by the entity's offsets.
func entityValues(t *testing.T, chars []rune, entities []redactEntity) []string {
	t.Helper()
	var values []string
	for _, e := range entities {
		if e.Start < 0 || e.Start > e.End || e.End > len(chars) {
			t.Fatalf("entity %+v is outside the %d code points of the input", e, len(chars))
		}
		values = append(values, e.Type+" "+string(chars[e.Start:e.End]))
	}
	return values
}

func TestRedactJSONOffsetsCountInputCodePoints(t *testing.T) {
	t.Parallel()
	utf16LE := func(s string) string {
		b := []byte{0xff, 0xfe}
		for _, u := range utf16.Encode([]rune(s)) {
			b = append(b, byte(u), byte(u>>8))
		}
		return string(b)
	}
	tests := []struct {
		name string
		in   string
		// chars is the input as code points when it is not UTF-8 to Go.
		chars      string
		wantText   string
		wantValues []string
		wantStart  int
	}{
		{
			name:       "CRLF",
			in:         "line one\r\nline two\r\nmail bob@example.com now\r\n",
			wantText:   "line one\r\nline two\r\nmail [EMAIL_1] now\r\n",
			wantValues: []string{"EMAIL_ADDRESS bob@example.com"},
			wantStart:  25,
		},
		{
			name:       "lone CR",
			in:         "a\rmail bob@example.com\r",
			wantText:   "a\rmail [EMAIL_1]\r",
			wantValues: []string{"EMAIL_ADDRESS bob@example.com"},
			wantStart:  7,
		},
		{
			name:       "UTF-8 BOM",
			in:         "\xef\xbb\xbfbob@example.com",
			wantText:   "\ufeff[EMAIL_1]",
			wantValues: []string{"EMAIL_ADDRESS bob@example.com"},
			wantStart:  1,
		},
		{
			name:       "UTF-16LE with CRLF",
			in:         utf16LE("Zoë\r\nbob@example.com"),
			chars:      "\ufeffZoë\r\nbob@example.com",
			wantText:   "\ufeff[PERSON_1]\r\n[EMAIL_1]",
			wantValues: []string{"PERSON Zoë", "EMAIL_ADDRESS bob@example.com"},
			wantStart:  1,
		},
		{
			name:       "invalid bytes in UTF-8, one code point each",
			in:         "Zoë \xff\xfe é ü\r\nmail bob@example.com",
			wantText:   "[PERSON_1] \uFFFD\uFFFD é ü\r\nmail [EMAIL_1]",
			wantValues: []string{"PERSON Zoë", "EMAIL_ADDRESS bob@example.com"},
			wantStart:  0,
		},
		{
			name:       "Windows-1252",
			in:         "caf\xe9\r\n\x93bob@example.com\x94",
			chars:      "café\r\n“bob@example.com”",
			wantText:   "café\r\n“[EMAIL_1]”",
			wantValues: []string{"EMAIL_ADDRESS bob@example.com"},
			wantStart:  7,
		},
		{
			name:       "a stray byte keeps UTF-8",
			in:         "Contact m\xc3\xbcller@b\xc3\xbccher.de \xff",
			wantText:   "Contact [EMAIL_1] \uFFFD",
			wantValues: []string{"EMAIL_ADDRESS müller@bücher.de"},
			wantStart:  8,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := redactJSON(t, tt.in)
			chars := tt.chars
			if chars == "" {
				chars = tt.in
			}
			if got.Text != tt.wantText {
				t.Errorf("text = %q, want %q", got.Text, tt.wantText)
			}
			if diff := cmp.Diff(tt.wantValues, entityValues(t, []rune(chars), got.Entities)); diff != "" {
				t.Errorf("entities cut out of the input (-want +got):\n%s", diff)
			}
			if len(got.Entities) > 0 && got.Entities[0].Start != tt.wantStart {
				t.Errorf("first entity starts at %d, want %d", got.Entities[0].Start, tt.wantStart)
			}
		})
	}
}

func TestRedactCRLFFindsWhatLFFinds(t *testing.T) {
	t.Parallel()
	const pem = "-----BEGIN RSA PRIVATE KEY-----\n" +
		"MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF0qSGWRmXkTr2BRn7HOFW6kLyb7a\n" +
		"sdd5nP0aTmXv9pqN3fG2uKxV0Wl4YgJ7hTZc8eQe1rLmWb3cU5dA6sR2kY8oPvQn\n" +
		"-----END RSA PRIVATE KEY-----\n"
	tests := []struct {
		name      string
		text      string // with LF line endings
		args      []string
		wantTypes []string // types that must be found
	}{
		{
			name: "email reply",
			text: "Hi Ann,\n\nplease call me on +44 7700 900123 or mail ann.lee@example.com.\n\n" +
				"Here is the key:\n" + pem + "\nThanks,\nJohn Smith\n",
			wantTypes: []string{"PERSON", "PHONE_NUMBER", "EMAIL_ADDRESS", "PRIVATE_KEY"},
		},
		{
			name: "kept", args: []string{"-default", "keep"},
			text:      "Hi Ann,\nkey:\n" + pem + "bye\n",
			wantTypes: []string{"PERSON", "PRIVATE_KEY"},
		},
		{
			name: "masked", args: []string{"-default", "mask"},
			text:      "Hi Ann,\nkey:\n" + pem + "call +44 7700 900123\n",
			wantTypes: []string{"PERSON", "PRIVATE_KEY", "PHONE_NUMBER"},
		},
		{
			name: "diff", args: []string{"-type", "text/x-diff"},
			text: "diff --git a/app.env b/app.env\n--- a/app.env\n+++ b/app.env\n@@ -1,2 +1,2 @@\n" +
				" # owner: Rose Okonjo\n-ADMIN_EMAIL=old@example.com\n+ADMIN_EMAIL=rose.okonjo@example.com\n",
			wantTypes: []string{"EMAIL_ADDRESS"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lf := redactJSON(t, tt.text, tt.args...)
			crlfIn := strings.ReplaceAll(tt.text, "\n", "\r\n")
			crlf := redactJSON(t, crlfIn, tt.args...)

			if want := strings.ReplaceAll(lf.Text, "\n", "\r\n"); crlf.Text != want {
				t.Errorf("CRLF text =\n%q\nwant\n%q", crlf.Text, want)
			}
			lfValues := entityValues(t, []rune(tt.text), lf.Entities)
			crlfValues := entityValues(t, []rune(crlfIn), crlf.Entities)
			for i := range crlfValues {
				crlfValues[i] = strings.ReplaceAll(crlfValues[i], "\r\n", "\n")
			}
			if diff := cmp.Diff(lfValues, crlfValues); diff != "" {
				t.Errorf("CRLF entities differ from LF ones (-LF +CRLF):\n%s", diff)
			}
			for _, typ := range tt.wantTypes {
				if !slices.ContainsFunc(lf.Entities, func(e redactEntity) bool { return e.Type == typ }) {
					t.Errorf("no %s found in %q", typ, tt.text)
				}
			}
		})
	}
}

func TestRedactInterrupted(t *testing.T) {
	t.Parallel()

	t.Run("cancelled before", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		var out bytes.Buffer
		err := runRedact(ctx, nil, strings.NewReader("mail bob@example.com"), &out)
		if err == nil || !strings.Contains(err.Error(), "interrupted") {
			t.Errorf("keel redact = %v, want an interrupted error", err)
		}
		if out.Len() > 0 {
			t.Errorf("keel redact printed %q after the interrupt", out.String())
		}
	})

	t.Run("cancelled while running", func(t *testing.T) {
		t.Parallel()
		// Standard input never ends; the interrupt arrives once keel redact
		// is reading it.
		pr, pw := io.Pipe()
		t.Cleanup(func() { pw.Close() })
		ctx, cancel := context.WithCancel(t.Context())
		in := readerFunc(func(p []byte) (int, error) {
			cancel()
			return pr.Read(p)
		})
		done := make(chan error, 1)
		go func() { done <- runRedact(ctx, nil, in, io.Discard) }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "interrupted") {
				t.Errorf("keel redact = %v, want an interrupted error", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("keel redact did not return after the interrupt")
		}
	})
}

// readerFunc is an io.Reader made of a function.
type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }
