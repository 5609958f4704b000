package redacteval

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// format writes examples back in the record format, keeping invalid UTF-8
// bytes as they are.
func format(examples []Example) string {
	var b strings.Builder
	for _, ex := range examples {
		b.WriteString("### " + ex.ID + " " + ex.Kind + "\n")
		at := byteOffsets(ex.Text)
		pos := 0
		for _, g := range ex.Gold {
			b.WriteString(ex.Text[at[pos]:at[g.Start]])
			b.WriteString("⟦" + g.Type + "|" + ex.Text[at[g.Start]:at[g.End]] + "⟧")
			pos = g.End
		}
		b.WriteString(ex.Text[at[pos]:] + "\n")
	}
	return b.String()
}

// byteOffsets returns the byte offset of every code point of s, and len(s)
// last; each byte of invalid UTF-8 is one code point.
func byteOffsets(s string) []int {
	var at []int
	for i := 0; i < len(s); {
		at = append(at, i)
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return append(at, len(s))
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"### email-1 email\nHi ⟦PERSON|Ana⟧, ⟦EMAIL_ADDRESS|ana@example.com⟧\n",
		"### chat-1 chat\nZoë 😀 ⟦PERSON|王小明⟧\n\n### chat-2 chat\n⟦LOCATION|1 Main St\nSpringfield⟧",
		"### note-1 note\n⟦PERSON|x",
		"### note-1 note\nx⟧",
		"### note-1 note\n⟦|x⟧ ⟦A⟦B|c⟧⟧",
		"### a b c\n### a-1 email\n### a-1 email\n",
		"\ufeff### log-1 log\r\n⟦IP_ADDRESS|10.0.0.1⟧\r\n",
		"### 0 chat\n000\xf0\x9f⟦0|\x9f\xa6⟧",
		"",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data string) {
		examples, err := Parse("fuzz.txt", strings.NewReader(data))
		if err != nil {
			return
		}
		for _, ex := range examples {
			n := utf8.RuneCountInString(ex.Text)
			prevEnd := 0
			for _, g := range ex.Gold {
				if g.Start < prevEnd || g.End <= g.Start || g.End > n {
					t.Fatalf("example %s: span %+v out of order or outside [0,%d)", ex.ID, g, n)
				}
				prevEnd = g.End
			}
			if strings.ContainsAny(ex.Text, "⟦⟧") {
				t.Fatalf("example %s keeps a marker in %q", ex.ID, ex.Text)
			}
		}

		again, err := Parse("again.txt", strings.NewReader(format(examples)))
		if err != nil {
			t.Fatalf("formatted examples do not parse: %v", err)
		}
		if diff := cmp.Diff(examples, again); diff != "" {
			t.Fatalf("format and parse again (-first +second):\n%s", diff)
		}

		// A detector that predicts the gold spans finds everything.
		r := Evaluate(examples, func(kind, text string) []Span {
			for _, ex := range examples {
				if ex.Text == text && ex.Kind == kind {
					return ex.Gold
				}
			}
			return nil
		})
		if r.Total.FN != 0 || r.Total.LeakedChars != 0 {
			t.Fatalf("perfect detector: total %+v", r.Total)
		}
	})
}
