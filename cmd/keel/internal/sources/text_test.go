package sources

import (
	"errors"
	"testing"
)

func TestHTMLToText(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		html string
		want string
	}{
		{
			name: "paragraphs and line breaks",
			html: "<p>Hi there,</p><p>&nbsp;</p><p>My details:<br>Priya<br>88 Harborview Lane</p>",
			want: "Hi there,\n\nMy details:\nPriya\n88 Harborview Lane",
		},
		{
			name: "head, style, script and comments are dropped",
			html: "<html><head><title>T</title><style>p{color:red}</style></head>" +
				"<body><!-- tracking --><script>alert(1)</script><p>Visible</p></body></html>",
			want: "Visible",
		},
		{
			name: "entities are decoded",
			html: "<div>I&#8217;d like a refund &amp; a label &lt;now&gt; &quot;please&quot;</div>",
			want: "I’d like a refund & a label <now> \"please\"",
		},
		{
			name: "white space collapses and inline tags join",
			html: "<p>order\n   <b>ORD-10457</b>.\tIt <i>leaks</i></p>",
			want: "order ORD-10457. It leaks",
		},
		{
			name: "gmail divs with blank lines",
			html: "<div>To Larkspur,</div><div><br></div><div>This is my <b>FOURTH</b> email</div>",
			want: "To Larkspur,\n\nThis is my FOURTH email",
		},
		{
			name: "lists and tables",
			html: "<ul><li>one</li><li>two</li></ul><table><tr><td>Item</td><td>Qty</td></tr><tr><td>Pan</td><td>2</td></tr></table>",
			want: "- one\n- two\n\nItem Qty\nPan 2",
		},
		{
			name: "a lone less-than sign is text",
			html: "<p>3 < 5 and 7 > 2</p>",
			want: "3 < 5 and 7 > 2",
		},
		{
			name: "quoted greater-than inside an attribute",
			html: `<a title="a > b" href="x">link</a> text`,
			want: "link text",
		},
		{
			name: "unclosed style swallows the rest",
			html: "<p>Before</p><style>p{}",
			want: "Before",
		},
		{
			name: "tag cut off at the end",
			html: "<p>Before</p><img src=\"x",
			want: "Before",
		},
		{
			name: "upper-case tags",
			html: "<P>One</P><DIV>Two</DIV><STYLE>x</STYLE>",
			want: "One\n\nTwo",
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			assertEqual(t, "text", tt.want, htmlToText(tt.html))
		})
	}
}

func TestDecodeCharset(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		charset string
		in      string
		want    string
		wantErr error
	}{
		{name: "utf-8", charset: "UTF-8", in: "Lucía", want: "Lucía"},
		{name: "utf8 alias", charset: "utf8", in: "ok", want: "ok"},
		{name: "invalid utf-8 is replaced", charset: "utf-8", in: "a\xffb", want: "a\uFFFDb"},
		{name: "us-ascii", charset: "us-ascii", in: "plain", want: "plain"},
		{name: "us-ascii with latin-1 bytes", charset: "us-ascii", in: "caf\xe9", want: "café"},
		{name: "iso-8859-1", charset: "ISO-8859-1", in: "\xc4pfel \xdf", want: "Äpfel ß"},
		{name: "quoted charset", charset: `"iso-8859-1"`, in: "\xe9", want: "é"},
		{name: "windows-1252", charset: "cp1252", in: "\x80 5 \x85", want: "€ 5 …"},
		{name: "latin-1 keeps C1 bytes", charset: "latin1", in: "\x80", want: "\u0080"},
		{name: "koi8-r is not supported", charset: "koi8-r", in: "x", wantErr: ErrUnsupportedCharset},
		{name: "shift_jis is not supported", charset: "Shift_JIS", in: "x", wantErr: ErrUnsupportedCharset},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, err := decodeCharset(tt.charset, []byte(tt.in))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			assertEqual(t, "text", tt.want, got)
		})
	}
}

func TestNormalizeText(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "line endings", in: "a\r\nb\rc\n", want: "a\nb\nc"},
		{name: "trailing spaces and blank runs", in: "  a  \n\n\n\n\tb\t\n", want: "a\n\n\tb"},
		{name: "control characters", in: "a\x00b\x1bc\u0085d", want: "abcd"},
		{name: "no-break space", in: "a\u00a0b", want: "a b"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			assertEqual(t, "text", tt.want, normalizeText(tt.in))
		})
	}
}
