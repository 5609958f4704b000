package message

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// readFixture returns the content of testdata/email/name.
func readFixture(t testing.TB, name string) []byte {
	t.Helper()

	raw, err := os.ReadFile(filepath.Join("testdata", "email", name))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}

	return raw
}

// mustParse parses raw with default limits and fails the test on error.
func mustParse(t *testing.T, raw string) *Email {
	t.Helper()

	e, err := Parse([]byte(raw), Limits{})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}

	return e
}

// quotedTexts returns the text of every quoted range.
func quotedTexts(text string, ranges []Range) []string {
	var out []string
	for _, r := range ranges {
		out = append(out, text[r.Start:r.End])
	}

	return out
}

// hasWarning reports whether a warning contains substr.
func hasWarning(warnings []string, substr string) bool {
	for _, w := range warnings {
		if strings.Contains(w, substr) {
			return true
		}
	}

	return false
}

// checkEmailInvariants fails the test when a parsed Email breaks the
// promises of its documentation.
func checkEmailInvariants(t testing.TB, e *Email) {
	t.Helper()

	if !utf8.ValidString(e.Text) || !utf8.ValidString(e.Subject) {
		t.Fatalf("text or subject is not UTF-8")
	}
	if strings.Contains(e.Text, "\r") {
		t.Fatalf("text has a carriage return")
	}
	prev := 0
	for _, r := range e.Quoted {
		if r.Start < prev || r.End <= r.Start || r.End > len(e.Text) {
			t.Fatalf("quoted range %+v out of order or outside text of %d bytes (previous end %d)",
				r, len(e.Text), prev)
		}
		prev = r.End
	}
	prev = 0
	for _, p := range e.TextParts {
		if p.Start < prev || p.End < p.Start || p.End > len(e.Text) {
			t.Fatalf("text part %+v out of order or outside text", p)
		}
		prev = p.End
	}
	for _, a := range e.Attachments {
		if a.Size < 0 || a.Part == "" {
			t.Fatalf("attachment %+v has a negative size or no part", a)
		}
	}
	fresh := e.Fresh()
	if !utf8.ValidString(fresh) || len(fresh) > len(e.Text) {
		t.Fatalf("fresh text is invalid or longer than the text")
	}
	for _, a := range append(append(append(append([]Address{}, e.From...), e.To...), e.Cc...), e.ReplyTo...) {
		if !utf8.ValidString(a.Name) || !utf8.ValidString(a.Address) {
			t.Fatalf("address %+v is not UTF-8", a)
		}
	}
}

// checkError fails the test unless err is an *Error of one of the four
// kinds.
func checkError(t testing.TB, err error) {
	t.Helper()

	var me *Error
	if !errors.As(err, &me) {
		t.Fatalf("error %v (%T) is not an *Error", err, err)
	}
	for _, kind := range []error{ErrTooLarge, ErrBinary, ErrEncoding, ErrMalformed} {
		if errors.Is(err, kind) {
			return
		}
	}
	t.Fatalf("error %v has no known kind", err)
}
