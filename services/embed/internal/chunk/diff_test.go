package chunk

import (
	"strings"
	"testing"
)

func TestSplitDiff(t *testing.T) {
	t.Parallel()

	tests := []splitCase{
		{
			name: "files and hunks with a preamble",
			src: lines(
				"Round refunds to cents.",
				"",
				"diff --git a/pay/refund.go b/pay/refund.go",
				"index 1111111..2222222 100644",
				"--- a/pay/refund.go",
				"+++ b/pay/refund.go",
				"@@ -10,4 +10,4 @@ func Refund(amount int) int {",
				" \t// Round to cents before refunding.",
				"-\ttotal := amount * 100",
				"+\ttotal := (amount*100 + 50) / 100",
				" \treturn total",
				"@@ -40,2 +40,3 @@ func Fee() int {",
				" \treturn 1",
				"+\t// The fee is fixed.",
				" }",
				"diff --git a/docs/new.md b/docs/new.md",
				"new file mode 100644",
				"--- /dev/null",
				"+++ b/docs/new.md",
				"@@ -0,0 +1,2 @@",
				"+# Payments",
				"+Refunds are rounded to cents.",
				"diff --git a/old.txt b/old.txt",
				"deleted file mode 100644",
				"--- a/old.txt",
				"+++ /dev/null",
				"@@ -1 +0,0 @@",
				"-Remove this obsolete file.",
				"-- ",
				"2.45.0",
			),
			want: []view{
				{Text: "Round refunds to cents."},
				{
					Path:   "pay/refund.go",
					Header: "@@ -10,4 +10,4 @@ func Refund(amount int) int {",
					Text:   " \t// Round to cents before refunding.\n-\ttotal := amount * 100\n+\ttotal := (amount*100 + 50) / 100\n \treturn total",
				},
				{
					Path:   "pay/refund.go",
					Header: "@@ -40,2 +40,3 @@ func Fee() int {",
					Text:   " \treturn 1\n+\t// The fee is fixed.\n }",
				},
				{Path: "docs/new.md", Header: "@@ -0,0 +1,2 @@", Text: "+# Payments\n+Refunds are rounded to cents."},
				{Path: "old.txt", Header: "@@ -1 +0,0 @@", Text: "-Remove this obsolete file."},
			},
		},
		{
			name: "plain unified diff with timestamps and a removed line like a header",
			src: lines(
				"--- notes.txt\t2024-06-01 10:00:00",
				"+++ notes.txt\t2024-06-02 10:00:00",
				"@@ -1,3 +1,2 @@",
				" Keep this line.",
				"--- dashes that were removed",
				" And this one.",
			),
			want: []view{{
				Path:   "notes.txt",
				Header: "@@ -1,3 +1,2 @@",
				Text:   " Keep this line.\n--- dashes that were removed\n And this one.",
			}},
		},
		{
			name: "a long hunk is cut between lines, every chunk with the hunk header",
			opts: Options{MaxChars: 80, OverlapTokens: 6},
			src: lines(
				"--- a/list.txt",
				"+++ b/list.txt",
				"@@ -1,4 +1,4 @@ items",
				" first line of the list",
				"-second line of the list",
				"+second line, changed",
				" third line of the list",
				" fourth line of the list",
			),
			want: []view{
				{
					Path:   "list.txt",
					Header: "@@ -1,4 +1,4 @@ items",
					Text:   " first line of the list\n-second line of the list",
				},
				{
					Path:   "list.txt",
					Header: "@@ -1,4 +1,4 @@ items",
					Text:   "+second line, changed\n third line of the list",
				},
				{
					Path:   "list.txt",
					Header: "@@ -1,4 +1,4 @@ items",
					Text:   " third line of the list\n fourth line of the list",
				},
			},
		},
		{
			name: "a hunk header without counts ends at the next file",
			src: lines(
				"--- a/x",
				"+++ b/x",
				"@@ broken header @@",
				"-old text here",
				"+new text here",
				"--- a/y",
				"+++ b/y",
				"@@ -1 +1 @@",
				"-why not",
				"+why so",
			),
			want: []view{
				{Path: "x", Header: "@@ broken header @@", Text: "-old text here\n+new text here"},
				{Path: "y", Header: "@@ -1 +1 @@", Text: "-why not\n+why so"},
			},
		},
		{
			name: "a quoted path",
			src: lines(
				`diff --git "a/my file.txt" "b/my file.txt"`,
				`--- "a/my file.txt"`,
				`+++ "b/my file.txt"`,
				"@@ -1 +1 @@",
				"-one two",
				"+one three",
			),
			want: []view{{Path: "my file.txt", Header: "@@ -1 +1 @@", Text: "-one two\n+one three"}},
		},
	}
	runSplitCases(t, FormatDiff, tests)
}

func TestHunkCounts(t *testing.T) {
	t.Parallel()

	tests := []struct {
		header           string
		wantOld, wantNew int
		wantOK           bool
	}{
		{header: "@@ -1,3 +1,4 @@", wantOld: 3, wantNew: 4, wantOK: true},
		{header: "@@ -1 +1 @@ func x()", wantOld: 1, wantNew: 1, wantOK: true},
		{header: "@@ -0,0 +1,2 @@", wantOld: 0, wantNew: 2, wantOK: true},
		{header: "@@ -a,b +c,d @@", wantOK: false},
		{header: "@@ -1,-2 +1 @@", wantOK: false},
		{header: "@@@ -1 -1 +1 @@@", wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			t.Parallel()
			oldCount, newCount, ok := hunkCounts(tt.header)
			if ok != tt.wantOK || ok && (oldCount != tt.wantOld || newCount != tt.wantNew) {
				t.Errorf("hunkCounts(%q) = %d, %d, %v, want %d, %d, %v",
					tt.header, oldCount, newCount, ok, tt.wantOld, tt.wantNew, tt.wantOK)
			}
		})
	}
}

func TestSplitDiffKeepsHunksApart(t *testing.T) {
	t.Parallel()

	var b strings.Builder
	b.WriteString("--- a/f.go\n+++ b/f.go\n")
	for i := range 5 {
		b.WriteString("@@ -1 +1 @@\n-a\n+short change number " + string(rune('0'+i)) + "\n")
	}
	chunks := splitChecked(t, NewSplitter(Options{}), FormatDiff, b.String())

	// Five tiny hunks would fit in one chunk, but every hunk is a section.
	if len(chunks) != 5 {
		t.Fatalf("Split() returned %d chunks, want 5", len(chunks))
	}
	for i, c := range chunks {
		if c.HeadingPath() != "f.go" || c.Header != "@@ -1 +1 @@" {
			t.Errorf("chunk %d has path %q and header %q", i, c.HeadingPath(), c.Header)
		}
	}
}
