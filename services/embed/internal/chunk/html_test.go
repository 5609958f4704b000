package chunk

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSplitHTML(t *testing.T) {
	t.Parallel()

	tests := []splitCase{
		{
			name: "headings make the path",
			src: lines(
				"<!DOCTYPE html><html><head><title>Page title</title></head><body>",
				"<p>Before any heading.</p>",
				"<h1>Refund <em>policy</em></h1>",
				"<p>Refunds take 14 days.</p>",
				"<h2>Eligibility</h2><p>Items must be unused.</p>",
				"<h3>Exceptions</h3><p>Gift cards are final.</p>",
				"<h2>Process</h2><p>Open a ticket.</p>",
				"</body></html>",
			),
			want: []view{
				{Text: "Before any heading."},
				{Path: "Refund policy", Text: "Refunds take 14 days."},
				{Path: "Refund policy > Eligibility", Text: "Items must be unused."},
				{Path: "Refund policy > Eligibility > Exceptions", Text: "Gift cards are final."},
				{Path: "Refund policy > Process", Text: "Open a ticket."},
			},
		},
		{
			name: "scripts, styles and comments are dropped, entities decoded",
			src: lines(
				"<style>p { color: red }</style>",
				"<script>document.write('<p>not text</p>')</script>",
				"<noscript>Enable scripts.</noscript>",
				"<p>Fish &amp; chips cost &euro;5&nbsp;or &#163;4 &lt;today&gt;.<!-- hidden --></p>",
				"<template><p>Template text.</p></template>",
				"<svg><text>Chart label</text></svg>",
			),
			want: []view{{Text: "Fish & chips cost €5 or £4 <today>."}},
		},
		{
			name: "white space collapses and br breaks lines",
			src:  "<div>\n  Line   one\n  continues<br/>Line two.\n</div><p>Next <b>para</b>graph.</p>",
			want: []view{{Text: "Line one continues\nLine two.\n\nNext paragraph."}},
		},
		{
			name: "a list that fits stays together",
			opts: Options{MaxChars: 80},
			src: lines(
				"<p>Follow these steps to reset the password of your account, in order.</p>",
				"<ol><li>Open the app.</li><li>Tap settings<ul><li>Account</li></ul></li><li>Reset.</ol>",
			),
			want: []view{
				{Text: "Follow these steps to reset the password of your account, in order."},
				{Text: "Open the app.\nTap settings\nAccount\nReset."},
			},
		},
		{
			name: "a long list is cut between items",
			opts: Options{MaxChars: 40, OverlapTokens: -1},
			src: lines(
				"<ul>",
				"<li>The first item of the list is here.</li>",
				"<li>The second item<p>has a paragraph.</p></li>",
				"<li>Third.",
				"<li>Fourth.",
				"</ul>",
			),
			want: []view{
				{Text: "The first item of the list is here."},
				{Text: "The second item\nhas a paragraph.\nThird."},
				{Text: "Fourth."},
			},
		},
		{
			name: "definition lists pair terms with descriptions",
			opts: Options{MaxChars: 40, OverlapTokens: -1},
			src:  "<dl><dt>Refund</dt><dd>Money returned to you.</dd><dt>Credit</dt><dd>Money kept for later.</dd></dl>",
			want: []view{
				{Text: "Refund\nMoney returned to you."},
				{Text: "Credit\nMoney kept for later."},
			},
		},
		{
			name: "a long table repeats its header row",
			opts: Options{MaxChars: 40, OverlapTokens: -1},
			src: lines(
				"<table>",
				"<caption>Plans</caption>",
				"<thead><tr><th>Plan</th><th>Price</th></tr></thead>",
				"<tbody>",
				"<tr><td>Basic</td><td>10 dollars</td></tr>",
				"<tr><td>Standard</td><td>20 dollars</td></tr>",
				"<tr><td>Premium</td><td>30 <b>dollars</b></td></tr>",
				"</tbody></table>",
			),
			want: []view{
				{Text: "Plans\nPlan\tPrice\nBasic\t10 dollars"},
				{Header: "Plan\tPrice", Text: "Standard\t20 dollars"},
				{Header: "Plan\tPrice", Text: "Premium\t30 dollars"},
			},
		},
		{
			name: "a header row of th cells without thead",
			opts: Options{MaxChars: 24, OverlapTokens: -1},
			src:  "<table><tr><th>Name</th><th>Role</th></tr><tr><td>Ann</td><td>Owner</td></tr><tr><td>Bob</td><td>Agent</td></tr></table>",
			want: []view{
				{Text: "Name\tRole\nAnn\tOwner"},
				{Header: "Name\tRole", Text: "Bob\tAgent"},
			},
		},
		{
			name: "a table without a header row",
			opts: Options{MaxChars: 16, OverlapTokens: -1},
			src:  "<table><tr><td>Ann</td><td>Owner</td></tr><tr><td>Bob</td><td>Agent</td></tr></table>",
			want: []view{{Text: "Ann\tOwner"}, {Text: "Bob\tAgent"}},
		},
		{
			name: "pre keeps its lines and is cut between them",
			opts: Options{MaxChars: 50, OverlapTokens: -1},
			src: lines(
				"<p>Run:</p>",
				"<pre><code>make build",
				"  make test &amp;&amp; make lint",
				"make install PREFIX=/usr/local",
				"</code></pre>",
			),
			want: []view{
				{Text: "Run:\n\nmake build\n  make test && make lint"},
				{Text: "make install PREFIX=/usr/local"},
			},
		},
		{
			name: "hr ends a section",
			src:  "<h2>News</h2><p>First story.</p><hr><p>Second story.</p>",
			want: []view{
				{Path: "News", Text: "First story."},
				{Path: "News", Text: "Second story."},
			},
		},
		{
			name: "an unclosed heading ends at the next block",
			src:  "<h1>Title<p>Body text follows.</p>",
			want: []view{{Path: "Title", Text: "Body text follows."}},
		},
		{
			name: "an unclosed head",
			src:  "<html><head><meta charset=utf-8><title>T</title><link rel=x><body><p>Body text here.</p>",
			want: []view{{Text: "Body text here."}},
		},
		{
			name: "a fragment without block elements",
			src:  "Plain text with <b>bold</b> &amp; <i>italic</i> words.",
			want: []view{{Text: "Plain text with bold & italic words."}},
		},
	}
	runSplitCases(t, FormatHTML, tests)
}

func TestSplitHTMLOffsets(t *testing.T) {
	t.Parallel()

	src := `<h1>Returns</h1><p>Keep the <b>receipt</b> &amp; the box.</p><ul><li>One</li><li>Two &gt; one</li></ul>`
	chunks := splitChecked(t, NewSplitter(Options{MaxChars: 16}), FormatHTML, src)

	type region struct {
		Text   string
		Source string
	}
	var got []region
	for _, c := range chunks {
		got = append(got, region{Text: c.Text, Source: src[c.Start:c.End]})
	}
	want := []region{
		{Text: "Keep the receipt", Source: "Keep the <b>receipt"},
		{Text: "& the box.", Source: "&amp; the box."},
		{Text: "One\nTwo > one", Source: "One</li><li>Two &gt; one"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("chunk regions mismatch (-want +got):\n%s", diff)
	}
}

func TestEntityAt(t *testing.T) {
	t.Parallel()

	tests := []struct {
		in      string
		wantLen int
		want    string
	}{
		{in: "&amp;rest", wantLen: 5, want: "&"},
		{in: "&amp", wantLen: 4, want: "&"},
		{in: "&ampx", wantLen: 4, want: "&"},
		{in: "&notin;", wantLen: 7, want: "∉"},
		{in: "&notit;", wantLen: 4, want: "¬"},
		{in: "&#65;", wantLen: 5, want: "A"},
		{in: "&#x1F600", wantLen: 8, want: "😀"},
		{in: "&#0000000000000065;", wantLen: 19, want: "A"},
		{in: "&#;", wantLen: 0},
		{in: "&nosuch;", wantLen: 0},
		{in: "& alone", wantLen: 0},
		{in: "&NotEqualTilde;", wantLen: 15, want: "≂̸"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			n, got := entityAt(tt.in)
			if n != tt.wantLen || got != tt.want {
				t.Errorf("entityAt(%q) = %d, %q, want %d, %q", tt.in, n, got, tt.wantLen, tt.want)
			}
		})
	}
}

func TestSplitHTMLLongParagraph(t *testing.T) {
	t.Parallel()

	var b strings.Builder
	b.WriteString("<p>")
	for i := range 30 {
		b.WriteString("<span>" + sentence(i) + "</span> ")
	}
	b.WriteString("</p>")
	chunks := splitChecked(t, NewSplitter(Options{}), FormatHTML, b.String())

	if len(chunks) < 2 {
		t.Fatalf("Split() returned %d chunks, want the paragraph cut", len(chunks))
	}
	for i, c := range chunks[1:] {
		if overlap := lastSentences(chunks[i].Text, 2); !strings.HasPrefix(c.Text, overlap+" ") {
			t.Errorf("chunk %d starts %q, want the overlap %q", i+1, c.Text[:40], overlap)
		}
	}
}
