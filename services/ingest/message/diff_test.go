package message

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// kindLetters maps line kinds to one letter each for compact expectations.
func kindLetters(lines []DiffLine) string {
	const letters = "OFHCARNB"
	var b strings.Builder
	for _, l := range lines {
		b.WriteByte(letters[l.Kind])
	}

	return b.String()
}

// checkDiffInvariants fails the test when a parsed diff breaks the promises
// of its documentation.
func checkDiffInvariants(t testing.TB, text string, d *Diff) {
	t.Helper()

	prevEnd := 0
	for i, l := range d.Lines {
		if l.Start < prevEnd || l.End < l.Start || l.End > len(text) {
			t.Fatalf("line %d %+v out of order or outside text of %d bytes", i, l, len(text))
		}
		if strings.Contains(text[l.Start:l.End], "\n") {
			t.Fatalf("line %d spans a line break", i)
		}
		if l.File < -1 || l.File >= len(d.Files) {
			t.Fatalf("line %d names file %d of %d", i, l.File, len(d.Files))
		}
		prevEnd = l.End
	}
	for _, f := range d.Files {
		if f.Start < 0 || f.End < f.Start || f.End > len(text) {
			t.Fatalf("file %+v outside text", f)
		}
		for _, h := range f.Hunks {
			if h.Start < f.Start || h.End < h.Start || h.End > f.End || h.Line < 1 {
				t.Fatalf("hunk %+v outside its file %d-%d", h, f.Start, f.End)
			}
		}
	}
}

func TestParseDiff(t *testing.T) {
	t.Parallel()

	formatPatch, err := os.ReadFile(filepath.Join("testdata", "diff", "format-patch.eml"))
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		text      string
		wantFiles []DiffFile
		wantKinds string
	}{
		{
			name: "git diff with a change and a new file",
			text: "diff --git a/main.go b/main.go\nindex 83db48f..bf269f4 100644\n--- a/main.go\n+++ b/main.go\n" +
				"@@ -1,3 +1,3 @@ package main\n package main\n-var x = 1\n+var x = 2\n \n" +
				"diff --git a/new.txt b/new.txt\nnew file mode 100644\nindex 0000000..e69de29\n--- /dev/null\n+++ b/new.txt\n" +
				"@@ -0,0 +1 @@\n+hello\n",
			wantFiles: []DiffFile{
				{OldPath: "main.go", NewPath: "main.go", Hunks: []Hunk{
					{OldStart: 1, OldLines: 3, NewStart: 1, NewLines: 3, Section: "package main", Line: 5},
				}},
				{NewPath: "new.txt", Created: true, Hunks: []Hunk{
					{OldStart: 0, OldLines: 0, NewStart: 1, NewLines: 1, Line: 15},
				}},
			},
			wantKinds: "FFFFHCRAC" + "FFFFFHA",
		},
		{
			name:      "pure rename",
			text:      "diff --git a/old name.txt b/new name.txt\nsimilarity index 100%\nrename from old name.txt\nrename to new name.txt\n",
			wantFiles: []DiffFile{{OldPath: "old name.txt", NewPath: "new name.txt", Renamed: true}},
			wantKinds: "FFFF",
		},
		{
			name:      "path with spaces split in the middle",
			text:      "diff --git a/my file.go b/my file.go\ndeleted file mode 100644\nindex 1..0\n--- a/my file.go\n+++ /dev/null\n@@ -1 +0,0 @@\n-gone\n",
			wantFiles: []DiffFile{{OldPath: "my file.go", Deleted: true, Hunks: []Hunk{{OldStart: 1, OldLines: 1, NewStart: 0, NewLines: 0, Line: 6}}}},
			wantKinds: "FFFFFHR",
		},
		{
			name:      "quoted non-ASCII path",
			text:      "diff --git \"a/caf\\303\\251.txt\" \"b/caf\\303\\251.txt\"\nindex 1..2 100644\nBinary files \"a/caf\\303\\251.txt\" and \"b/caf\\303\\251.txt\" differ\n",
			wantFiles: []DiffFile{{OldPath: "café.txt", NewPath: "café.txt", Binary: true}},
			wantKinds: "FFF",
		},
		{
			name: "git binary patch",
			text: "diff --git a/logo.png b/logo.png\nindex 1..2 100644\nGIT binary patch\nliteral 8\nPcmZ?wbhEHbM&u7\n\nliteral 0\nKcmV+b0RR6000031\n\n" +
				"diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-a\n+b\n",
			wantFiles: []DiffFile{
				{OldPath: "logo.png", NewPath: "logo.png", Binary: true},
				{OldPath: "a.txt", NewPath: "a.txt", Hunks: []Hunk{{OldStart: 1, OldLines: 1, NewStart: 1, NewLines: 1, Line: 13}}},
			},
			wantKinds: "FFFBBBBBB" + "FFFHRA",
		},
		{
			name: "plain diff -u with timestamps and no newline at end",
			text: "diff -u a/conf.ini b/conf.ini\n--- a/conf.ini\t2026-12-07 10:00:00.000000000 +0100\n" +
				"+++ b/conf.ini\t2026-12-07 10:05:00.000000000 +0100\n@@ -1,2 +1,2 @@\n [db]\n-host=old\n\\ No newline at end of file\n+host=new\n\\ No newline at end of file\n",
			wantFiles: []DiffFile{{OldPath: "conf.ini", NewPath: "conf.ini", Hunks: []Hunk{{OldStart: 1, OldLines: 2, NewStart: 1, NewLines: 2, Line: 4}}}},
			wantKinds: "FFFHCRNAN",
		},
		{
			name:      "plain diff without prefixes",
			text:      "--- conf.ini.orig\n+++ conf.ini\n@@ -3 +3,2 @@\n-x\n+y\n+z\n",
			wantFiles: []DiffFile{{OldPath: "conf.ini.orig", NewPath: "conf.ini", Hunks: []Hunk{{OldStart: 3, OldLines: 1, NewStart: 3, NewLines: 2, Line: 3}}}},
			wantKinds: "FFHRAA",
		},
		{
			name:      "empty context line whose space was trimmed, CRLF",
			text:      "--- a/x\r\n+++ b/x\r\n@@ -1,3 +1,3 @@\r\n a\r\n\r\n-b\r\n+c\r\n",
			wantFiles: []DiffFile{{OldPath: "x", NewPath: "x", Hunks: []Hunk{{OldStart: 1, OldLines: 3, NewStart: 1, NewLines: 3, Line: 3}}}},
			wantKinds: "FFHCCRA",
		},
		{
			name: "format-patch mail with commit message and trailer",
			text: string(formatPatch),
			wantFiles: []DiffFile{{OldPath: "services/ingest/log.go", NewPath: "services/ingest/log.go", Hunks: []Hunk{
				{OldStart: 10, OldLines: 7, NewStart: 10, NewLines: 7, Section: "func logEvent(ev Event) {", Line: 15},
			}}},
			wantKinds: "OOOOOOOOOO" + "FFFFH" + "CCCRACRAC" + "OOO",
		},
		{
			name: "removed line that looks like a file header",
			text: "--- a/notes.md\n+++ b/notes.md\n@@ -1,2 +1 @@\n--- old rule\n-+++ old rule\n+new\n",
			wantFiles: []DiffFile{{OldPath: "notes.md", NewPath: "notes.md", Hunks: []Hunk{
				{OldStart: 1, OldLines: 2, NewStart: 1, NewLines: 1, Line: 3}}}},
			wantKinds: "FFHRRA",
		},
	}

	ignoreOffsets := cmpopts.IgnoreFields(DiffFile{}, "Start", "End")
	ignoreHunkOffsets := cmpopts.IgnoreFields(Hunk{}, "Start", "End")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			d, err := ParseDiff(tt.text)
			if err != nil {
				t.Fatalf("ParseDiff: %v", err)
			}
			checkDiffInvariants(t, tt.text, d)
			if diff := cmp.Diff(tt.wantFiles, d.Files, ignoreOffsets, ignoreHunkOffsets, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
			if got := kindLetters(d.Lines); got != tt.wantKinds {
				t.Errorf("kinds = %s, want %s", got, tt.wantKinds)
			}
			if !IsDiff(tt.text) {
				t.Errorf("IsDiff = false")
			}
		})
	}
}

func TestParseDiffOffsets(t *testing.T) {
	t.Parallel()

	text := "intro\ndiff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -2,2 +2,2 @@ fn\n keep\n-old secret\n+new secret\n"
	d, err := ParseDiff(text)
	if err != nil {
		t.Fatalf("ParseDiff: %v", err)
	}

	type line struct {
		Kind             LineKind
		Text             string
		OldLine, NewLine int
	}
	var got []line
	for _, l := range d.Lines {
		got = append(got, line{l.Kind, text[l.Start:l.End], l.OldLine, l.NewLine})
	}
	want := []line{
		{LineOther, "intro", 0, 0},
		{LineFileHeader, "diff --git a/f b/f", 0, 0},
		{LineFileHeader, "--- a/f", 0, 0},
		{LineFileHeader, "+++ b/f", 0, 0},
		{LineHunkHeader, "@@ -2,2 +2,2 @@ fn", 0, 0},
		{LineContext, " keep", 2, 2},
		{LineRemoved, "-old secret", 3, 0},
		{LineAdded, "+new secret", 0, 3},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}

	f := d.Files[0]
	if got := text[f.Start:f.End]; !strings.HasPrefix(got, "diff --git") || !strings.HasSuffix(got, "+new secret") {
		t.Errorf("file range = %q", got)
	}
	if got := text[f.Hunks[0].Start:f.Hunks[0].End]; got != "@@ -2,2 +2,2 @@ fn\n keep\n-old secret\n+new secret" {
		t.Errorf("hunk range = %q", got)
	}
}

func TestParseDiffErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name        string
		text        string
		wantLine    int
		wantMessage string
	}{
		{name: "empty", text: "", wantMessage: "diff: no file header (\"diff --git\" or \"---\"/\"+++\" lines)"},
		{name: "prose", text: "just words\n+ not a diff\n", wantMessage: "diff: no file header"},
		{name: "hunk before a file header", text: "hello\n@@ -1 +1 @@\n-a\n+b\n", wantLine: 2,
			wantMessage: "diff: line 2: hunk header before any file header"},
		{name: "hunk shorter than its header", text: "--- a/x\n+++ b/x\n@@ -1,3 +1,3 @@\n a\n-b\n+c\ndiff --git a/y b/y\n",
			wantLine: 7, wantMessage: "diff: line 7: hunk at line 3 does not match its header: 1 old and 1 new lines missing"},
		{name: "hunk longer than its header", text: "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n+c\n",
			wantLine: 6, wantMessage: "diff: line 6: line after the hunk at line 3, which is already complete"},
		{name: "text ends inside a hunk", text: "--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n a\n",
			wantLine: 3, wantMessage: "diff: line 3: hunk ends with the text, 1 old and 1 new lines missing"},
		{name: "too many removed lines", text: "--- a/x\n+++ b/x\n@@ -1 +1,2 @@\n-a\n-b\n",
			wantLine: 5, wantMessage: "diff: line 5: hunk at line 3 does not match its header: 0 old and 2 new lines missing"},
		{name: "malformed hunk header", text: "--- a/x\n+++ b/x\n@@ -a +1 @@\n", wantLine: 3,
			wantMessage: "diff: line 3: malformed hunk header"},
		{name: "combined diff", text: "diff --cc f\n--- a/f\n+++ b/f\n@@@ -1,1 -1,1 +1,1 @@@\n", wantLine: 4,
			wantMessage: "diff: line 4: combined diffs (\"@@@\") are not supported"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			_, err := ParseDiff(tt.text)
			var me *Error
			if !errors.Is(err, ErrMalformed) || !errors.As(err, &me) {
				t.Fatalf("ParseDiff error = %v, want ErrMalformed", err)
			}
			if me.Line != tt.wantLine || !strings.HasPrefix(err.Error(), tt.wantMessage) {
				t.Errorf("error = %q (line %d), want %q (line %d)", err, me.Line, tt.wantMessage, tt.wantLine)
			}
		})
	}
}

func TestIsDiff(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		text string
		want bool
	}{
		{name: "git", text: "commit message\n\ndiff --git a/x b/x\n", want: true},
		{name: "unified", text: "--- x\n+++ y\n@@ -1 +1 @@\n", want: true},
		{name: "unified CRLF", text: "--- x\r\n+++ y\r\n@@ -1 +1 @@\r\n", want: true},
		{name: "headers without hunk", text: "--- x\n+++ y\n", want: false},
		{name: "email signature and list", text: "Thanks\n--- \n+++ great\n- item\n", want: false},
		{name: "empty", text: "", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			if got := IsDiff(tt.text); got != tt.want {
				t.Errorf("IsDiff(%q) = %v, want %v", tt.text, got, tt.want)
			}
		})
	}
}
