package chunk

import (
	"fmt"
	"strings"
	"testing"
)

// benchmarkDocuments returns a document of about 64 KiB in each format.
func benchmarkDocuments() map[Format]string {
	var md, web, mail, patch strings.Builder
	for i := 0; md.Len() < 64<<10; i++ {
		fmt.Fprintf(&md, "## Section %d\n\n%s %s\n\n- %s\n- %s\n\n"+
			"| a | b |\n|---|---|\n| %d | %d |\n\n```\ncode line %d\n```\n\n",
			i, sentence(i), sentence(i+1), sentence(i+2), sentence(i+3), i, i+1, i)
		fmt.Fprintf(&web, "<h2>Section %d</h2><p>%s %s</p><ul><li>%s</li><li>%s</li></ul>"+
			"<table><tr><th>a</th></tr><tr><td>%d</td></tr></table>",
			i, sentence(i), sentence(i+1), sentence(i+2), sentence(i+3), i)
		fmt.Fprintf(&mail, "%s\n\nOn Mon, Ann wrote:\n> %s\n> %s\n\n",
			sentence(i), sentence(i+1), sentence(i+2))
		fmt.Fprintf(&patch, "--- a/f%d.go\n+++ b/f%d.go\n@@ -1,3 +1,3 @@ func F%d()\n context line %d\n-%s\n+%s\n",
			i, i, i, i, sentence(i), sentence(i+1))
	}
	return map[Format]string{
		FormatMarkdown: md.String(),
		FormatHTML:     web.String(),
		FormatEmail:    mail.String(),
		FormatDiff:     patch.String(),
		FormatPlain:    md.String(),
	}
}

func BenchmarkSplit(b *testing.B) {
	s := NewSplitter(Options{})
	for format, doc := range benchmarkDocuments() {
		b.Run(string(format), func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			chunks := 0
			for b.Loop() {
				chunks = len(s.SplitFormat("doc", doc, format))
			}
			b.ReportMetric(float64(chunks*b.N)/b.Elapsed().Seconds(), "chunks/s")
		})
	}
}
