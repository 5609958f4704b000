package provider

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// A provider's reason is cut at a character, never inside one; it loses
// control and invisible formatting characters, and one that speaks of API
// keys or credentials, however spelled, is not shown at all.
func TestCleanReason(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 400)
	got := CleanReason(long, "")
	if !utf8.ValidString(got) || len(got) > maxReason+3 || !strings.HasSuffix(got, "...") {
		t.Errorf("long reason cut to %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
	for _, tt := range []struct{ in, want string }{
		{"bad\x1b[2J\x00 value\r\n\tfor x", "bad [2J value for x"},
		{"rtl \u202eevil\u202c text", "rtl evil text"},
		{"  spaced   out  ", "spaced out"},
		{"bad \xff byte", "bad byte"},
		{"Incorrect API key provided: sk-***", ""},
		{"Incorrect API\tkey provided", ""},
		{"API  key missing", ""},
		{"API\u00a0key missing", ""},
		{"API\u200bkey missing", ""},
		{"bad API-key", ""},
		{"Missing x-api-key header", ""},
		{"Invalid Authorization header: Bearer abc***yz", ""},
		{"key sk-ab***yz refused", ""},
		{"echoes live-123 back", "echoes live-123 back"},
		{"echoes sk-live-123 back", "echoes [redacted] back"},
	} {
		if got := CleanReason(tt.in, "sk-live-123"); got != tt.want {
			t.Errorf("CleanReason(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
