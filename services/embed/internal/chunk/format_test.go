package chunk

import (
	"strings"
	"testing"
)

func TestDetectFormat(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name        string
		contentType string
		src         string
		want        Format
	}{
		{name: "markdown media type", contentType: "text/markdown; charset=utf-8", src: "plain words", want: FormatMarkdown},
		{name: "html media type", contentType: "text/html", src: "plain words", want: FormatHTML},
		{name: "email media type", contentType: "message/rfc822", src: "plain words", want: FormatEmail},
		{name: "diff media type", contentType: "text/x-patch", src: "plain words", want: FormatDiff},
		{name: "plain media type sniffs", contentType: "text/plain", src: "# Title\n\nText.", want: FormatMarkdown},
		{name: "bad media type sniffs", contentType: "%%%", src: "<p>Hello</p>", want: FormatHTML},
		{name: "git diff", src: "Fix.\n\ndiff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b", want: FormatDiff},
		{name: "unified diff", src: "--- x\n+++ x\n@@ -1 +1 @@\n-a\n+b", want: FormatDiff},
		{name: "html document", src: "\ufeff  <!DOCTYPE html><html><body>Hi</body></html>", want: FormatHTML},
		{name: "html fragment", src: "<div><p>Hi</p></div>", want: FormatHTML},
		{name: "markdown with inline html", src: "Intro <b>bold</b> text.\n\n## Section\n", want: FormatMarkdown},
		{name: "tag without closing", src: "<3 you all", want: FormatPlain},
		{name: "attribution", src: "Thanks!\n\nOn Mon, Ann wrote:\n> hi", want: FormatEmail},
		{name: "original message", src: "Ok.\n-----Original Message-----\nFrom: x", want: FormatEmail},
		{name: "quoted lines", src: "> one\n> two\nmy answer", want: FormatEmail},
		{name: "markdown block quote", src: "# Notes\n\n> one\n> two", want: FormatMarkdown},
		{name: "fence", src: "Run:\n\n```\nmake\n```", want: FormatMarkdown},
		{name: "pipe table", src: "| a | b |\n|---|---|\n| 1 | 2 |", want: FormatMarkdown},
		{name: "setext", src: "Title\n=====\n\nText.", want: FormatMarkdown},
		{name: "email signature is not setext", src: "See you.\n--\nAnn", want: FormatPlain},
		{name: "plain", src: "Just words.\n\n- a list item\n- another", want: FormatPlain},
		{name: "empty", src: "", want: FormatPlain},
		{name: "beyond the sniffed prefix", src: strings.Repeat("word ", 20000) + "\n# Heading", want: FormatPlain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := DetectFormat(tt.contentType, tt.src); got != tt.want {
				t.Errorf("DetectFormat(%q, %.40q) = %q, want %q", tt.contentType, tt.src, got, tt.want)
			}
		})
	}
}
