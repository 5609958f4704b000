package chunk

import (
	"strings"
	"testing"
)

// lines joins its arguments with newlines.
func lines(s ...string) string {
	return strings.Join(s, "\n")
}

func TestSplitMarkdown(t *testing.T) {
	t.Parallel()

	tests := []splitCase{
		{
			name: "atx headings",
			src: strings.Join([]string{
				"Intro text before any heading.",
				"# Refund policy",
				"Refunds are issued within 14 days.",
				"## Eligibility ##",
				"Items must be unused.",
				"### Exceptions",
				"Gift cards cannot be refunded.",
				"## Process",
				"Open a ticket with the order number.",
				"```",
				"# not a heading inside a fence",
				"```",
			}, "\n\n"),
			want: []view{
				{Path: "", Text: "Intro text before any heading."},
				{Path: "Refund policy", Text: "Refunds are issued within 14 days."},
				{Path: "Refund policy > Eligibility", Text: "Items must be unused."},
				{Path: "Refund policy > Eligibility > Exceptions", Text: "Gift cards cannot be refunded."},
				{
					Path: "Refund policy > Process",
					Text: "Open a ticket with the order number.\n\n```\n\n# not a heading inside a fence\n\n```",
				},
			},
		},
		{
			name: "setext headings",
			src: lines(
				"Shipping",
				"========",
				"",
				"We ship worldwide.",
				"",
				"Customs and",
				"duties",
				"---",
				"",
				"Duties are paid on delivery.",
				"",
				"---",
				"",
				"After a thematic break.",
			),
			want: []view{
				{Path: "Shipping", Text: "We ship worldwide."},
				{Path: "Shipping > Customs and duties", Text: "Duties are paid on delivery."},
				{Path: "Shipping > Customs and duties", Text: "After a thematic break."},
			},
		},
		{
			name: "front matter is skipped",
			src:  lines("---", "title: Returns", "tags: [a, b]", "---", "# Returns", "", "Body text here."),
			want: []view{{Path: "Returns", Text: "Body text here."}},
		},
		{
			name: "thematic breaks are not front matter",
			src:  lines("---", "", "Between the rules.", "", "---", "", "After them."),
			want: []view{{Text: "Between the rules."}, {Text: "After them."}},
		},
		{
			name: "a list that fits stays together",
			opts: Options{MaxChars: 120},
			src: lines(
				"# Steps",
				"",
				"Do this first, it matters a great deal to the rest of the process.",
				"",
				"1. Open the app.",
				"2. Tap settings.",
				"   - Choose the account.",
				"3. Reset the password.",
			),
			want: []view{
				{Path: "Steps", Text: "Do this first, it matters a great deal to the rest of the process."},
				{Path: "Steps", Text: "1. Open the app.\n2. Tap settings.\n   - Choose the account.\n3. Reset the password."},
			},
		},
		{
			name: "a long list is cut between items",
			opts: Options{MaxChars: 70, OverlapTokens: -1},
			src: lines(
				"- First item, which is fairly short.",
				"- Second item, also short.",
				"  It has a continuation line.",
				"- Third item.",
				"",
				"  With a second paragraph.",
				"- Fourth.",
			),
			want: []view{
				{Text: "- First item, which is fairly short."},
				{Text: "- Second item, also short.\n  It has a continuation line."},
				{Text: "- Third item.\n\n  With a second paragraph.\n- Fourth."},
			},
		},
		{
			// The long item must be cut anyway, so it starts in the chunk of
			// the short one, which is not yet half full.
			name: "an item too long for a chunk is cut between sentences",
			opts: Options{MaxChars: 60, OverlapTokens: -1},
			src: lines(
				"* Short one.",
				"* A long item. It has three sentences. Each one is needed here.",
			),
			want: []view{
				{Text: "* Short one.\n* A long item. It has three sentences."},
				{Text: "Each one is needed here."},
			},
		},
		{
			name: "a table that fits stays together",
			src:  lines("Prices:", "", "| Plan | Price |", "|------|------:|", "| Basic | 10 |", "| Pro | 20 |"),
			want: []view{{Text: "Prices:\n\n| Plan | Price |\n|------|------:|\n| Basic | 10 |\n| Pro | 20 |"}},
		},
		{
			name: "a long table repeats its header",
			opts: Options{MaxChars: 80},
			src: lines(
				"## Plans",
				"| Plan | Monthly price |",
				"| --- | --- |",
				"| Basic | 10 dollars |",
				"| Standard | 20 dollars |",
				"| Premium | 30 dollars |",
				"| Enterprise | call us |",
			),
			want: []view{
				{
					Path: "Plans",
					Text: "| Plan | Monthly price |\n| --- | --- |\n| Basic | 10 dollars |",
				},
				{
					Path:   "Plans",
					Header: "| Plan | Monthly price |\n| --- | --- |",
					Text:   "| Standard | 20 dollars |",
				},
				{
					Path:   "Plans",
					Header: "| Plan | Monthly price |\n| --- | --- |",
					Text:   "| Premium | 30 dollars |",
				},
				{
					Path:   "Plans",
					Header: "| Plan | Monthly price |\n| --- | --- |",
					Text:   "| Enterprise | call us |",
				},
			},
		},
		{
			name: "a long fenced block is cut between lines with overlap",
			opts: Options{MaxChars: 60, OverlapTokens: 8},
			src: lines(
				"```go",
				"func refund(amount int) int {",
				"\ttotal := amount * 100",
				"\treturn total",
				"}",
				"```",
			),
			want: []view{
				{Text: "```go\nfunc refund(amount int) int {\n\ttotal := amount * 100"},
				{Header: "```go", Text: "\ttotal := amount * 100\n\treturn total\n}\n```"},
			},
		},
		{
			name: "an unclosed fence runs to the end",
			src:  lines("Before.", "", "~~~", "code line one", "# still code"),
			want: []view{{Text: "Before.\n\n~~~\ncode line one\n# still code"}},
		},
		{
			name: "indented code",
			opts: Options{MaxChars: 40, OverlapTokens: -1},
			src: lines(
				"Run this:",
				"",
				"    make build",
				"    make test",
				"",
				"    make install PREFIX=/usr/local",
				"",
				"Done.",
			),
			want: []view{
				{Text: "Run this:\n\n    make build\n    make test"},
				{Text: "    make install PREFIX=/usr/local"},
				{Text: "Done."},
			},
		},
		{
			name: "a long line of code is cut between words",
			opts: Options{MaxChars: 40, OverlapTokens: -1},
			src:  lines("```", "call(alpha, beta, gamma, delta, epsilon, zeta, eta)", "```"),
			want: []view{
				{Text: "```\ncall(alpha, beta, gamma, delta,"},
				{Text: "epsilon, zeta, eta)\n```"},
			},
		},
	}
	runSplitCases(t, FormatMarkdown, tests)
}

func TestListMarker(t *testing.T) {
	t.Parallel()

	tests := []struct {
		line        string
		wantOK      bool
		wantContent int
	}{
		{line: "- item", wantOK: true, wantContent: 2},
		{line: "  * item", wantOK: true, wantContent: 4},
		{line: "+\titem", wantOK: true, wantContent: 4},
		{line: "12. item", wantOK: true, wantContent: 4},
		{line: "3) item", wantOK: true, wantContent: 3},
		{line: "-", wantOK: true, wantContent: 2},
		{line: "-      code", wantOK: true, wantContent: 2},
		{line: "-5 degrees", wantOK: false},
		{line: "**bold**", wantOK: false},
		{line: "1234567890. too long", wantOK: false},
		{line: "3.5 litres", wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			t.Parallel()
			got, ok := listMarker(tt.line)
			if ok != tt.wantOK || ok && got.contentIndent != tt.wantContent {
				t.Errorf("listMarker(%q) = %d, %v, want %d, %v", tt.line, got.contentIndent, ok, tt.wantContent, tt.wantOK)
			}
		})
	}
}
