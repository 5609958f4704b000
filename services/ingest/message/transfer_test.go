package message

import (
	"testing"
)

func TestDecodeQuotedPrintable(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		in      string
		want    string
		wantBad int
	}{
		{name: "escapes of either case", in: "caf=C3=a9", want: "café"},
		{name: "soft break", in: "long=\nline", want: "longline"},
		{name: "soft break with CRLF and padding", in: "long=  \r\nline", want: "longline"},
		{name: "soft break at the end", in: "end=", want: "end"},
		{name: "trailing white space is padding", in: "a  \t\nb \r\n", want: "a\nb\r\n"},
		{name: "inner white space kept", in: "a  b", want: "a  b"},
		{name: "bad escape kept", in: "100=% =ZZ", want: "100=% =ZZ", wantBad: 2},
		{name: "escape cut off", in: "x=4", want: "x=4", wantBad: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, bad := decodeQuotedPrintable(tt.in)
			if string(got) != tt.want || bad != tt.wantBad {
				t.Errorf("decodeQuotedPrintable(%q) = %q, %d; want %q, %d", tt.in, got, bad, tt.want, tt.wantBad)
			}
		})
	}
}

func TestDecodeBase64(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		in      string
		want    string
		wantErr string
	}{
		{name: "folded with spaces", in: "aGVs\r\n bG8g\td29y\nbGQ=\n", want: "hello world"},
		{name: "missing padding", in: "aGk", want: "hi"},
		{name: "padded pieces in a row", in: "aGk=\naGk=", want: "hihi"},
		{name: "empty", in: " \n", want: ""},
		{name: "illegal character", in: "aGVsbG8*", wantErr: "invalid base64 at byte 7"},
		{name: "cut off", in: "aGVsb", wantErr: "invalid base64: truncated at byte 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, err := decodeBase64(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("decodeBase64(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}

				return
			}
			if err != nil || string(got) != tt.want {
				t.Errorf("decodeBase64(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestDecodedSize(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name, cte, body string
		want            int
		wantWarning     bool
	}{
		{name: "base64", cte: "base64", body: "aGVs\nbG8=\n", want: 5},
		{name: "base64 damaged", cte: "base64", body: "aGVs!bG8=", want: 5, wantWarning: true},
		{name: "quoted-printable", cte: "quoted-printable", body: "a=3Db=\nc", want: 4},
		{name: "8bit", cte: "8bit", body: "abc\n", want: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, warning := decodedSize(tt.cte, tt.body)
			if got != tt.want || (warning != "") != tt.wantWarning {
				t.Errorf("decodedSize = %d, %q; want %d, warning %v", got, warning, tt.want, tt.wantWarning)
			}
		})
	}
}
