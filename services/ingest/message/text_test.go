package message

import (
	"strings"
	"testing"
)

func TestCleanText(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name, in, want string
	}{
		{name: "line endings", in: "a\r\nb\rc\n", want: "a\nb\nc"},
		{name: "trailing spaces and blank runs", in: "\n\n a  \n\n\n\nb\t\n\n", want: " a\n\nb"},
		{name: "controls dropped, tabs kept", in: "a\x00b\x1bc\td\x7f\u0085e", want: "abc\tde"},
		{name: "invisible format characters", in: "\ufeffx\u200by\u2060z\u00ad!", want: "xyz!"},
		{name: "joiners kept", in: "👩\u200d💻 a\u200cb", want: "👩\u200d💻 a\u200cb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			if got := cleanText(tt.in); got != tt.want {
				t.Errorf("cleanText(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestUnflow(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		in    string
		delSp bool
		want  string
	}{
		{name: "soft breaks join", in: "one \ntwo \nthree\nfour", want: "one two three\nfour"},
		{name: "delsp removes the wrapping space", in: "日本 \n語\n", delSp: true, want: "日本語\n"},
		{name: "space stuffing removed", in: " From here\n  indented", want: "From here\n indented"},
		{name: "quote depth change ends a paragraph", in: "> a \n> b \n>> c\nd", want: "> a b \n> > c\nd"},
		{name: "signature separator is not flowed", in: "text\n-- \nsig", want: "text\n-- \nsig"},
		{name: "CRLF", in: "a \r\nb\r\n", want: "a b\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			if got := unflow(tt.in, tt.delSp); got != tt.want {
				t.Errorf("unflow(%q, %v) = %q, want %q", tt.in, tt.delSp, got, tt.want)
			}
		})
	}
}

func TestBinaryReason(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "text", in: "plain\ttext\r\n\f", want: ""},
		{name: "8-bit text", in: "caf\xe9 \x93x\x94", want: ""},
		{name: "NUL", in: "ab\x00c", want: "contains NUL bytes"},
		{name: "ten percent controls is text", in: "\x01" + strings.Repeat("a", 9), want: ""},
		{name: "over ten percent controls", in: "\x01\x02" + strings.Repeat("a", 9), want: "mostly control bytes"},
		{name: "DEL counts", in: "\x7f\x7f\x7fab", want: "mostly control bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			if got := binaryReason(tt.in); got != tt.want {
				t.Errorf("binaryReason(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
