package message

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCharsetDecode(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name        string
		label       string
		in          []byte
		want        string
		wantWarning string
		wantErr     string
	}{
		{name: "UTF-8", label: "UTF-8", in: []byte("ok é"), want: "ok é"},
		{name: "UTF-8 BOM removed", label: "utf-8", in: []byte("\xef\xbb\xbfhi"), want: "hi"},
		{name: "quoted label with language", label: ` "utf-8*en" `, in: []byte("x"), want: "x"},
		{name: "ISO-8859-1", label: "iso-8859-1", in: []byte("caf\xe9"), want: "café"},
		{name: "ISO-8859-15 euro", label: "ISO-8859-15", in: []byte("\xa4 5"), want: "€ 5"},
		{name: "Windows-1251", label: "windows-1251", in: []byte("\xcf\xf0\xe8\xe2\xe5\xf2"), want: "Привет"},
		{name: "KOI8-R", label: "koi8-r", in: []byte("\xf0\xd2\xc9\xd7\xc5\xd4"), want: "Привет"},
		{name: "Shift_JIS via cp932 alias", label: "cp932", in: []byte("\x93\xfa\x96\x7b"), want: "日本"},
		{name: "GB18030", label: "GB18030", in: []byte("\xd6\xd0\xce\xc4"), want: "中文"},
		{name: "Big5", label: "big5", in: []byte("\xa4\xa4\xa4\xe5"), want: "中文"},
		{name: "EUC-KR", label: "ks_c_5601-1987", in: []byte("\xc7\xd1\xb1\xdb"), want: "한글"},
		{name: "UTF-16 big-endian without BOM", label: "utf-16", in: []byte("\x00h\x00i"), want: "hi"},
		{name: "UTF-16 BOM little-endian", label: "utf-16", in: []byte("\xff\xfeh\x00i\x00"), want: "hi"},
		{name: "UTF-16LE label with BOM", label: "utf-16le", in: []byte("\xff\xfeh\x00"), want: "h"},
		{name: "UTF-16BE label", label: "UTF-16BE", in: []byte("\x00h"), want: "h"},
		{
			name: "invalid Shift_JIS replaced", label: "shift_jis", in: []byte("a\x81"), want: "a\uFFFD",
			wantWarning: "part 1: 1 invalid shift_jis sequences replaced with U+FFFD",
		},
		{
			name: "missing label, not UTF-8", label: "", in: []byte("\x80 5"), want: "€ 5",
			wantWarning: "part 1: no charset declared and text is not UTF-8; read as Windows-1252",
		},
		{
			name: "Latin-1 declared as UTF-8", label: "utf-8", in: []byte("m\xfcller@b\xfccher.de"),
			want:        "müller@bücher.de",
			wantWarning: "part 1: charset utf-8 declared but text is not UTF-8; read as Windows-1252",
		},
		{
			name: "UTF-8 with a stray byte", label: "utf-8", in: []byte("m\xc3\xbcller \xff"), want: "müller \uFFFD",
			wantWarning: "part 1: invalid UTF-8 replaced with U+FFFD",
		},
		{
			name: "missing label, UTF-8 with a stray byte", label: "", in: []byte("m\xc3\xbcller b\xc3\xbccher \xff"),
			want:        "müller bücher \uFFFD",
			wantWarning: "part 1: no charset declared and text is UTF-8 but for 1 invalid bytes; replaced with U+FFFD",
		},
		{name: "us-ascii", label: "us-ascii", in: []byte("plain"), want: "plain"},
		{name: "unknown", label: "x-foo", in: []byte("a"), wantErr: `unknown charset "x-foo"`},
		{name: "UTF-7 is unknown", label: "utf-7", in: []byte("a"), wantErr: `unknown charset "utf-7"`},
		{name: "replacement encoding", label: "hz-gb-2312", in: []byte("a"), wantErr: `charset "hz-gb-2312" is not supported`},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			var warnings []string
			d := charsetDecoder{input: inputMessage, part: "1", warn: func(s string) { warnings = append(warnings, s) }}
			got, err := d.decode(tt.label, tt.in)
			if tt.wantErr != "" {
				var me *Error
				if !errors.As(err, &me) || !errors.Is(err, ErrEncoding) || me.Reason != tt.wantErr {
					t.Fatalf("decode error = %v, want ErrEncoding %q", err, tt.wantErr)
				}

				return
			}
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if got != tt.want {
				t.Errorf("decode = %q, want %q", got, tt.want)
			}
			var wantWarnings []string
			if tt.wantWarning != "" {
				wantWarnings = []string{tt.wantWarning}
			}
			if diff := cmp.Diff(wantWarnings, warnings); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}
