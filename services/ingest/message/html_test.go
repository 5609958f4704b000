package message

import (
	"strings"
	"testing"
)

func TestHTMLToText(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		html string
		want string
	}{
		{name: "empty", html: "", want: ""},
		{name: "line breaks", html: "a<br>b<br><br>c", want: "a\nb\n\nc"},
		{name: "paragraphs and divs", html: "<p>one</p><p>two</p><div>three</div><div>four</div>",
			want: "one\n\ntwo\n\nthree\nfour"},
		{name: "white space collapses", html: "<p>  many \n\t spaces   here </p>", want: "many spaces here"},
		{name: "inline elements join words", html: "<b>bo</b><i>ld</i> <span>x</span>", want: "bold x"},
		{name: "entities", html: "&lt;a&gt; &amp; &quot;b&quot; &#233; &eacute; &#x1F600; &copy;",
			want: "<a> & \"b\" é é 😀 ©"},
		{name: "script style head title dropped",
			html: "<html><head><title>T</title><style>x{}</style></head><body><script>alert(1)</script>shown</body></html>",
			want: "shown"},
		{name: "unordered and ordered lists", html: "<ul><li>a</li><li>b</li></ul><ol><li>c</li></ol>",
			want: "- a\n- b\n\n- c"},
		{name: "nested list", html: "<ul><li>a<ul><li>b</li></ul></li><li>c</li></ul>", want: "- a\n  - b\n- c"},
		{name: "paragraph in list item keeps its marker", html: "<ul><li><p>para item</p></li></ul>", want: "- para item"},
		{name: "link with different text", html: `<a href="https://x.example/p">docs</a>`,
			want: "docs (https://x.example/p)"},
		{name: "link with the same text", html: `<a href="https://x.example/">x.example</a>`, want: "x.example"},
		{name: "mailto link with the address as text", html: `<a href="mailto:a@example.com">a@example.com</a>`,
			want: "a@example.com"},
		{name: "mailto link with a name", html: `<a href="MAILTO:a@example.com?subject=x">Ana</a>`,
			want: "Ana (a@example.com)"},
		{name: "anchor and script links show no target",
			html: `<a href="#top">top</a> <a href="javascript:void(0)">js</a> <a href="cid:x">c</a>`,
			want: "top js c"},
		{name: "image link shows its target", html: `<a href="https://x.example/"><img src="l.png"></a>`,
			want: "(https://x.example/)"},
		{name: "image alt text", html: `Logo: <img alt="Larkspur" src="x">!`, want: "Logo: Larkspur !"},
		{name: "hidden elements", html: `<div hidden>h1</div><span style="DISPLAY : none">h2</span>` +
			`<p style="mso-hide:all">h3</p>seen`, want: "seen"},
		{name: "blockquote marks lines", html: "<p>reply</p><blockquote>old<br>older<blockquote>oldest</blockquote></blockquote>",
			want: "reply\n\n> old\n> older\n>\n> > oldest"},
		{name: "pre keeps spacing", html: "<pre>a  b\n  c</pre>", want: "a  b\n  c"},
		{name: "table cells", html: "<table><tr><th>k</th><th>v</th></tr><tr><td>1</td><td>2</td></tr></table>",
			want: "k v\n1 2"},
		{name: "unclosed tags", html: "<p>unclosed <b>bold <i>both", want: "unclosed bold both"},
		{name: "stray angle brackets", html: "3 < 4 and 5 > 2", want: "3 < 4 and 5 > 2"},
		{name: "non-breaking spaces", html: "a&nbsp;&nbsp;b", want: "a b"},
		{name: "heading and rule", html: "<h1>Title</h1>text<hr>after", want: "Title\n\ntext\n\nafter"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			if got, flat := htmlToText(tt.html); got != tt.want || flat {
				t.Errorf("htmlToText(%q) =\n%q\nwant\n%q", tt.html, got, tt.want)
			}
		})
	}
}

func TestHTMLToTextDeepNesting(t *testing.T) {
	t.Parallel()

	html := "<style>p{}</style>" + strings.Repeat("<div>", 100000) + "deep<br>er" +
		"<script>x()</script><ul><li>item</li></ul>" + strings.Repeat("</div>", 100000)
	got, flat := htmlToText(html)
	if want := "deep\ner\n\n- item"; got != want || !flat {
		t.Errorf("htmlToText of deep nesting = %q, %v; want %q, true", got, flat, want)
	}
}

func TestHTMLToTextBoundsMarks(t *testing.T) {
	t.Parallel()

	html := strings.Repeat("<blockquote><ul><li>", 600) + "x<p>y"
	got, flat := htmlToText(html)
	if !flat {
		t.Fatalf("want the token fallback for 1800 open elements")
	}
	want := strings.Repeat("> ", maxMarks) + strings.Repeat("  ", maxMarks) + "- x\n" +
		strings.Repeat(">", maxMarks) + "\n" + strings.Repeat("> ", maxMarks) + "y"
	if got != want {
		t.Errorf("htmlToText = %q, want %q", got, want)
	}
}
