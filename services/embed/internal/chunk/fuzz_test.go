package chunk

import (
	"strings"
	"testing"
)

// fuzzSplitter returns a splitter with limits from fuzzed numbers, small
// enough that documents make many chunks.
func fuzzSplitter(format Format, maxChars, maxTokens, overlapTokens int) *Splitter {
	return NewSplitter(Options{
		Format:        format,
		MaxChars:      maxChars % 2000,
		MaxTokens:     maxTokens % 400,
		OverlapTokens: overlapTokens % 64,
	})
}

// fuzzFormat checks the invariants of splitting fuzzed documents in format.
func fuzzFormat(f *testing.F, format Format, seeds []string) {
	for i, seed := range seeds {
		f.Add(seed, 0, 0, 0)
		f.Add(seed, 40+i, 12+i, 4)
	}
	f.Fuzz(func(t *testing.T, src string, maxChars, maxTokens, overlapTokens int) {
		s := fuzzSplitter(format, maxChars, maxTokens, overlapTokens)
		chunks := s.Split("doc", src)
		checkInvariants(t, s, format, "doc", src, chunks)
	})
}

func FuzzSplitMarkdown(f *testing.F) {
	fuzzFormat(f, FormatMarkdown, []string{
		"# Title\n\nSome text. More text!\n\n- item\n- item two\n  continued\n\n1. one\n2. two",
		"Setext\n===\n\n| a | b |\n|---|:-:|\n| 1 | 2 |\n| 3 | 4 |\n\n***\n",
		"```go\nfunc main() {\n\tprintln(\"日本語\")\n}\n```\n\n    indented\n    code\n",
		"---\nfront: matter\n---\n## H ##\n> quote\n\n* a\n\n  b\n* c",
		strings.Repeat("日本語のテキスト。", 40) + "\n\n" + strings.Repeat("emoji 🎉 ", 50),
		"~~~\nunclosed fence\n# x",
	})
}

func FuzzSplitHTML(f *testing.F) {
	fuzzFormat(f, FormatHTML, []string{
		"<html><head><title>t</title><style>p{}</style></head><body><h1>A &amp; B</h1><p>One. Two.</p></body></html>",
		"<ul><li>a<ul><li>b</li></ul></li><li>c</ul><ol><li>d</ol><dl><dt>e<dd>f</dl>",
		"<table><caption>c</caption><thead><tr><th>x<th>y</thead><tr><td>1<td>2<tr><td>3<td>4</table>",
		"<pre><code>line one\n  line &lt;two&gt;\r\n</code></pre><br><hr><p>&notit; &#x1F600; &#0; &bogus;</p>",
		"<script>var a = '</p>';</script><svg><text>x</text></svg><p>text<!-- c --> more</p>",
		"<h2>unclosed <p>x <b>y <table><tr><td><ul><li>z",
		"\x00<p>\xff\xfe bad bytes \r\n</p>",
	})
}

func FuzzSplitEmail(f *testing.F) {
	fuzzFormat(f, FormatEmail, []string{
		"Hi,\n\nFresh text.\n\nOn Mon, Ann <[EMAIL_1]> wrote:\n> quoted\n>\n> > deeper\n",
		"Yes.\n> Question?\nAnswer.\n> Another?\n",
		"Ok.\n\n-----Original Message-----\nFrom: A\nSent: B\nSubject: C\n\nBody.",
		"Done.\n________________\nFrom: X\nDate: Y\nTo: Z\nOld text.",
		"On Tue, Jun 4, 2024 at 9:15 AM Ann <\n[EMAIL_1]> wrote:\n\nunquoted old text",
	})
}

func FuzzSplitDiff(f *testing.F) {
	fuzzFormat(f, FormatDiff, []string{
		"msg\n\ndiff --git a/x.go b/x.go\nindex 1..2 100644\n--- a/x.go\n+++ b/x.go\n@@ -1,3 +1,3 @@ func x\n a\n-b\n+c\n d\n",
		"--- a\t2024\n+++ b\t2024\n@@ -1 +1 @@\n-x\n\\ No newline at end of file\n+y\n",
		"diff --git \"a/q q\" \"b/q q\"\nnew file mode 100644\n--- /dev/null\n+++ \"b/q q\"\n@@ -0,0 +1,2 @@\n+1\n+2\n-- \n2.45",
		"@@ broken @@\n-x\n+y\n--- a/z\n+++ b/z\n@@ -1,100 +1,100 @@\n short",
	})
}

func FuzzSplitPlain(f *testing.F) {
	fuzzFormat(f, FormatPlain, []string{
		"Hello there. How are you?\n\nNew paragraph with Dr. Who and e.g. this.",
		strings.Repeat("word ", 400),
		strings.Repeat("é", 500),
	})
}

// FuzzSplit splits documents in the format DetectFormat finds.
func FuzzSplit(f *testing.F) {
	f.Add("# Title\n\nSome text. More text!\n\n- item\n- item two", 80, 20)
	f.Add(strings.Repeat("word ", 400), 0, 0)
	f.Add("a.b.c. d... ```\n# x\n```\n***\n", 16, 1)
	f.Add(strings.Repeat("日本語", 200), 30, 5)
	f.Add("\xff\xfe.\x80 abc. \xc3", 17, 2)
	f.Add("<p>Hello <b>world</b></p>", 20, 5)
	f.Add("On Mon, A wrote:\n> hi there", 20, 5)
	f.Add("--- a\n+++ b\n@@ -1 +1 @@\n-a\n+b", 20, 5)

	f.Fuzz(func(t *testing.T, src string, maxChars, maxWords int) {
		s := NewSplitter(Options{MaxChars: maxChars % 2000, MaxWords: maxWords % 400})
		chunks := s.Split("doc", src)
		checkInvariants(t, s, DetectFormat("", src), "doc", src, chunks)
	})
}
