package redacteval

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want []Example
	}{
		{
			name: "one record",
			in:   "### email-1 email\nHi ⟦PERSON|Ana⟧, mail ⟦EMAIL_ADDRESS|ana@example.com⟧.\n",
			want: []Example{{
				ID: "email-1", Kind: "email",
				Text: "Hi Ana, mail ana@example.com.",
				Gold: []Span{{"PERSON", 3, 6}, {"EMAIL_ADDRESS", 13, 28}},
			}},
		},
		{
			// "Zoë 😀 " is 6 code points and 10 bytes; 王小明 is 3 code points.
			name: "offsets count code points",
			in:   "### chat-1 chat\nZoë 😀 ⟦PERSON|王小明⟧ ok",
			want: []Example{{
				ID: "chat-1", Kind: "chat",
				Text: "Zoë 😀 王小明 ok",
				Gold: []Span{{"PERSON", 6, 9}},
			}},
		},
		{
			name: "newline inside a value",
			in:   "### note-1 note\nShip to:\n⟦LOCATION|1 Rue de Rivoli\n75001 Paris⟧\nthanks\n",
			want: []Example{{
				ID: "note-1", Kind: "note",
				Text: "Ship to:\n1 Rue de Rivoli\n75001 Paris\nthanks",
				Gold: []Span{{"LOCATION", 9, 36}},
			}},
		},
		{
			name: "trailing blank lines dropped, leading kept",
			in:   "### log-1 log\n\nline\n\n  \n\n### log-2 log\nnext",
			want: []Example{
				{ID: "log-1", Kind: "log", Text: "\nline"},
				{ID: "log-2", Kind: "log", Text: "next"},
			},
		},
		{
			name: "hash lines that are not headers are text",
			in:   "### diff-1 diff\n# comment\n## title\n###no-space\n####x y\n",
			want: []Example{{ID: "diff-1", Kind: "diff", Text: "# comment\n## title\n###no-space\n####x y"}},
		},
		{
			name: "bars outside markers and after the first bar are text",
			in:   "### log-1 log\na | b ⟦PASSWORD|p|w⟧",
			want: []Example{{ID: "log-1", Kind: "log", Text: "a | b p|w", Gold: []Span{{"PASSWORD", 6, 9}}}},
		},
		{
			name: "unknown entity types are kept",
			in:   "### note-1 note\n⟦MY_TYPE|x⟧",
			want: []Example{{ID: "note-1", Kind: "note", Text: "x", Gold: []Span{{"MY_TYPE", 0, 1}}}},
		},
		{
			name: "byte order mark, blank lines before the first header, CRLF header",
			in:   "\ufeff\n\n### email-1 email\r\nbody\r\n",
			want: []Example{{ID: "email-1", Kind: "email", Text: "body\r"}},
		},
		{
			name: "empty record",
			in:   "### chat-1 chat\n### chat-2 chat\nx",
			want: []Example{{ID: "chat-1", Kind: "chat"}, {ID: "chat-2", Kind: "chat", Text: "x"}},
		},
		{
			name: "adjacent markers",
			in:   "### chat-1 chat\n⟦PERSON|Mary⟧⟦PERSON|Jane⟧",
			want: []Example{{ID: "chat-1", Kind: "chat", Text: "MaryJane", Gold: []Span{{"PERSON", 0, 4}, {"PERSON", 4, 8}}}},
		},
		{
			name: "no records",
			in:   "\n\n",
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse("f.txt", strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		in       string
		wantLine int
		wantMsg  string
	}{
		{"unclosed marker", "### a-1 email\nok\nHi ⟦PERSON|Ana,\nbye\n", 3, "unbalanced ⟦"},
		{"stray close", "### a-1 email\nx\ny ⟧ z", 3, "unbalanced ⟧"},
		{"close after multi-line value", "### a-1 email\n⟦LOCATION|1 Main St\nSpringfield⟧\nthen ⟧", 4, "unbalanced ⟧"},
		{"missing bar", "### a-1 email\n\nHi ⟦PERSON Ana⟧", 3, "missing '|'"},
		{"missing bar before newline", "### a-1 email\n⟦PERSON\nAna|x⟧", 2, "missing '|'"},
		{"empty type", "### a-1 email\n⟦|Ana⟧", 2, "empty entity type"},
		{"type with space", "### a-1 email\n⟦CREDIT CARD|4111⟧", 2, "space"},
		{"nested in value", "### a-1 email\n⟦PERSON|A\n⟦PERSON|B⟧⟧", 3, "nested markers"},
		{"nested in type", "### a-1 email\n⟦PER⟦SON|A⟧", 2, "nested markers"},
		{"empty value", "### a-1 email\nx ⟦PERSON|⟧", 2, "empty value"},
		{"unknown kind", "### a-1 letter\nx", 1, `unknown kind "letter"`},
		{"header with one field", "### a-1\nx", 1, "header must be"},
		{"header with three fields", "### a-1 email extra\nx", 1, "header must be"},
		{"bad id", "### a/1 email\nx", 1, `id "a/1"`},
		{"duplicate id", "### a-1 email\nx\n### a-1 chat\ny", 3, `duplicate id "a-1", first used at f.txt:1`},
		{"invalid UTF-8", "### a-1 email\nok\nbad \xff here", 3, "invalid UTF-8"},
		{"text before header", "hello\n### a-1 email\nx", 1, "text before the first"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse("f.txt", strings.NewReader(tt.in))
			if err == nil {
				t.Fatalf("Parse = %+v, want an error", got)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			if pe.File != "f.txt" || pe.Line != tt.wantLine {
				t.Errorf("error at %s:%d, want f.txt:%d (%v)", pe.File, pe.Line, tt.wantLine, err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not say %q", err, tt.wantMsg)
			}
			if got != nil {
				t.Errorf("Parse returned examples with an error: %+v", got)
			}
		})
	}
}

func TestParseReportsEveryBrokenRecord(t *testing.T) {
	t.Parallel()
	in := "### a-1 email\n⟦PERSON|x\n### a-2 email\nfine\n### a-3 mail\nx\n### a-4 chat\n⟦|y⟧\n"
	_, err := Parse("f.txt", strings.NewReader(in))
	if err == nil {
		t.Fatal("Parse succeeded, want errors")
	}
	for _, want := range []string{"f.txt:2: unbalanced ⟦", "f.txt:5: unknown kind", "f.txt:8: empty entity type"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not report %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "f.txt:3") {
		t.Errorf("error blames the valid record a-2:\n%v", err)
	}
}

func TestLoadDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "b.txt", "### chat-1 chat\nhey ⟦PERSON|Bo⟧\n")
	writeFile(t, dir, "a.txt", "### email-1 email\nhi\n### email-2 email\nyo\n")
	writeFile(t, dir, "README.md", "### not a record\n")
	if err := os.Mkdir(filepath.Join(dir, "sub.txt"), 0o755); err != nil {
		t.Fatal(err)
	}

	got, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, ex := range got {
		ids = append(ids, ex.ID)
	}
	if diff := cmp.Diff([]string{"email-1", "email-2", "chat-1"}, ids); diff != "" {
		t.Errorf("LoadDir ids (-want +got):\n%s", diff)
	}
}

func TestLoadDirErrors(t *testing.T) {
	t.Parallel()
	t.Run("duplicate id across files", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		writeFile(t, dir, "a.txt", "### x-1 email\nhi\n")
		writeFile(t, dir, "b.txt", "\n### x-1 chat\nyo\n")
		_, err := LoadDir(dir)
		want := filepath.Join(dir, "b.txt") + `:2: duplicate id "x-1", first used at ` + filepath.Join(dir, "a.txt") + ":1"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("LoadDir error = %v, want %q", err, want)
		}
	})
	t.Run("no txt files", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		writeFile(t, dir, "a.md", "### x-1 email\nhi\n")
		if _, err := LoadDir(dir); err == nil || !strings.Contains(err.Error(), "no *.txt file") {
			t.Errorf("LoadDir error = %v, want no *.txt file", err)
		}
	})
	t.Run("missing dir", func(t *testing.T) {
		t.Parallel()
		_, err := LoadDir(filepath.Join(t.TempDir(), "absent"))
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("LoadDir error = %v, want os.ErrNotExist", err)
		}
	})
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
