package message

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNote(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name         string
		raw          []byte
		lim          Limits
		want         string
		wantWarnings []string
		wantErr      error
		wantMessage  string
	}{
		{name: "UTF-8", raw: []byte("Call Ana at 555-0100.\n"), want: "Call Ana at 555-0100.\n"},
		{name: "CRLF and lone CR", raw: []byte("a\r\nb\rc\r\n"), want: "a\nb\nc\n"},
		{name: "UTF-8 BOM removed", raw: []byte("\xef\xbb\xbfnote"), want: "note"},
		{name: "UTF-16LE BOM", raw: []byte("\xff\xfeh\x00\xe9\x00\r\x00\n\x00"), want: "hé\n"},
		{name: "UTF-16BE BOM", raw: []byte("\xfe\xff\x00h\x00\xe9"), want: "hé"},
		{
			name: "UTF-16 with an odd byte", raw: []byte("\xff\xfeh\x00i"), want: "h\uFFFD",
			wantWarnings: []string{"1 invalid UTF-16LE sequences replaced with U+FFFD"},
		},
		{
			name: "invalid UTF-8 after a BOM", raw: []byte("\xef\xbb\xbfa\xffb"), want: "a\uFFFDb",
			wantWarnings: []string{"invalid UTF-8 replaced with U+FFFD"},
		},
		{
			name: "invalid UTF-8 after a BOM, one U+FFFD a byte", raw: []byte("\xef\xbb\xbfa\xff\xfeb"),
			want: "a\uFFFD\uFFFDb", wantWarnings: []string{"invalid UTF-8 replaced with U+FFFD"},
		},
		{
			name: "Windows-1252 fallback", raw: []byte("\x93Stra\xdfe\x94 \x80"), want: "“Straße” €",
			wantWarnings: []string{"text is not UTF-8; read as Windows-1252"},
		},
		{
			name: "UTF-8 with a stray byte", raw: []byte("Contact m\xc3\xbcller@b\xc3\xbccher.de \xff"),
			want: "Contact müller@bücher.de \uFFFD", wantWarnings: []string{"1 invalid UTF-8 bytes replaced with U+FFFD"},
		},
		{
			name: "UTF-8 with a run of stray bytes, one U+FFFD a byte", raw: []byte("Zoë \xff\xfe é ü"),
			want: "Zoë \uFFFD\uFFFD é ü", wantWarnings: []string{"2 invalid UTF-8 bytes replaced with U+FFFD"},
		},
		{
			name: "as many invalid bytes as UTF-8 sequences is Windows-1252", raw: []byte("caf\xe9 \xc3\xa9"),
			want: "café Ã©", wantWarnings: []string{"text is not UTF-8; read as Windows-1252"},
		},
		{name: "tabs and form feeds are text", raw: []byte("a\tb\fc\n"), want: "a\tb\fc\n"},
		{name: "empty", raw: nil, want: ""},
		{
			name: "NUL bytes", raw: []byte("ab\x00cd"), wantErr: ErrBinary,
			wantMessage: "note: input is binary: contains NUL bytes",
		},
		{
			name: "too many control characters", raw: []byte("\x01\x02\x03" + strings.Repeat("x", 20)),
			wantErr: ErrBinary, wantMessage: "note: input is binary: mostly control bytes",
		},
		{
			name: "UTF-16 of binary", raw: []byte("\xff\xfe\x00\x00\x01\x00"), wantErr: ErrBinary,
			wantMessage: "note: text is binary: contains NUL bytes",
		},
		{
			name: "oversize", raw: []byte(strings.Repeat("x", 11)), lim: Limits{MaxBytes: 10},
			wantErr: ErrTooLarge, wantMessage: "note: 11 bytes is over the limit of 10 bytes",
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, warnings, err := Note(tt.raw, tt.lim)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || err.Error() != tt.wantMessage {
					t.Fatalf("Note error = %v, want %v %q", err, tt.wantErr, tt.wantMessage)
				}

				return
			}
			if err != nil {
				t.Fatalf("Note: %v", err)
			}
			if got != tt.want {
				t.Errorf("Note = %q, want %q", got, tt.want)
			}
			if diff := cmp.Diff(tt.wantWarnings, warnings); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeNote(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		raw  []byte
		want DecodedNote
	}{
		{
			name: "CRLF and lone CR kept", raw: []byte("a\r\nb\rc\n"),
			want: DecodedNote{Text: "a\r\nb\rc\n"},
		},
		{
			name: "UTF-8 BOM reported", raw: []byte("\xef\xbb\xbfa\r\n"),
			want: DecodedNote{Text: "a\r\n", BOM: true},
		},
		{
			name: "UTF-16LE BOM reported", raw: []byte("\xff\xfeh\x00\r\x00\n\x00"),
			want: DecodedNote{Text: "h\r\n", BOM: true},
		},
		{
			name: "stray bytes one U+FFFD each", raw: []byte("Zoë \xff\xfe é ü\r\n"),
			want: DecodedNote{
				Text:     "Zoë \uFFFD\uFFFD é ü\r\n",
				Warnings: []string{"2 invalid UTF-8 bytes replaced with U+FFFD"},
			},
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, err := DecodeNote(tt.raw, Limits{})
			if err != nil {
				t.Fatalf("DecodeNote: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DecodeNote (-want +got):\n%s", diff)
			}
			note, _, err := Note(tt.raw, Limits{})
			if err != nil || got.Normalized() != note {
				t.Errorf("Normalized = %q, Note = %q, %v", got.Normalized(), note, err)
			}
		})
	}
}
