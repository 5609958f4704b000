package message

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// addSeeds adds every file matching pattern under testdata as a seed.
func addSeeds(f *testing.F, pattern string) {
	f.Helper()

	paths, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

func FuzzParse(f *testing.F) {
	addSeeds(f, "email/*.eml")
	f.Add([]byte("From: a@example.com\nContent-Type: multipart/alternative; boundary=x\n\n" +
		"--x\nContent-Type: text/html\n\n<blockquote>On 1 Dec, A wrote:<br>&gt; q</blockquote>\n--x--\n"))
	f.Add([]byte("Subject: =?utf-8?b?w6k=?= =?x?q?a?=\nContent-Type: text/plain; format=flowed\n\n> a \n>b\n"))

	lim := Limits{MaxParts: 30, MaxDepth: 6}
	f.Fuzz(func(t *testing.T, raw []byte) {
		e, err := Parse(raw, lim)
		if err != nil {
			checkError(t, err)

			return
		}
		checkEmailInvariants(t, e)

		again, err := Parse(raw, lim)
		if err != nil || again.Text != e.Text || len(again.Quoted) != len(e.Quoted) {
			t.Fatalf("second parse differs: %v", err)
		}
	})
}

func FuzzNote(f *testing.F) {
	f.Add([]byte("plain note\r\n"))
	f.Add([]byte("\xff\xfeh\x00i\x00"))
	f.Add([]byte("\xfe\xff\x00h"))
	f.Add([]byte("\xef\xbb\xbf\x93x\x94"))
	f.Add([]byte("caf\xe9\x00"))

	f.Fuzz(func(t *testing.T, raw []byte) {
		text, warnings, err := Note(raw, Limits{})
		if err != nil {
			checkError(t, err)

			return
		}
		if !utf8.ValidString(text) || strings.Contains(text, "\r") {
			t.Fatalf("note %q is not UTF-8 or has a carriage return", text)
		}
		if utf8.Valid(raw) && !strings.HasPrefix(string(raw), "\xef\xbb\xbf") && len(warnings) > 0 {
			t.Fatalf("valid UTF-8 produced warnings %q", warnings)
		}

		// DecodeNote keeps one code point for each code point of UTF-8
		// input, so that positions in its text are positions in the input.
		n, err := DecodeNote(raw, Limits{})
		if err != nil {
			t.Fatalf("DecodeNote fails where Note did not: %v", err)
		}
		if n.Normalized() != text {
			t.Fatalf("DecodeNote normalized %q, Note %q", n.Normalized(), text)
		}
		body := bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))
		utf16 := n.BOM && len(body) == len(raw)
		if utf16 || slices.Contains(warnings, "text is not UTF-8; read as Windows-1252") {
			return
		}
		if got, want := utf8.RuneCountInString(n.Text), utf8.RuneCount(body); got != want {
			t.Fatalf("DecodeNote text has %d code points, input %d", got, want)
		}
	})
}

func FuzzParseDiff(f *testing.F) {
	addSeeds(f, "diff/*")
	f.Add([]byte("diff --git a/x b/x\nindex 1..2\n--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@ s\n a\n-b\n+c\n\\ No newline at end of file\n"))
	f.Add([]byte("diff --git \"a/\\303\\251 x\" b/y\nrename from a\nrename to b\nGIT binary patch\nliteral 0\n"))
	f.Add([]byte("--- a\n+++ b\n@@ -1 +1 @@\n-x\n+y\n-- \n2.0\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		text := string(data)
		_ = IsDiff(text)

		d, err := ParseDiff(text)
		if err != nil {
			checkError(t, err)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("diff error %v is not ErrMalformed", err)
			}

			return
		}
		checkDiffInvariants(t, text, d)
		if len(d.Files) == 0 {
			t.Fatalf("diff parsed without files")
		}
	})
}

func FuzzHTMLToText(f *testing.F) {
	f.Add("<p>Hi&nbsp;there</p><br><ul><li>x<ol><li>y</ol></ul><blockquote>q</blockquote>")
	f.Add("<style>x</style><!-- c --><a href='mailto:a@b'>y</a> 3 < 4 <pre> a\n b</pre>")
	f.Add("<table><tr><td>a<td>b</table><img alt=x><div hidden>h</div>")

	f.Fuzz(func(t *testing.T, src string) {
		text, _ := htmlToText(src)
		if !utf8.ValidString(src) {
			return
		}
		if !utf8.ValidString(text) || strings.Contains(text, "\r") || strings.HasSuffix(text, "\n") {
			t.Fatalf("text %q is not UTF-8 or not tidy", text)
		}
	})
}
