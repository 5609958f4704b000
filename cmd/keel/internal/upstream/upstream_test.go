package upstream

import (
	"strings"
	"testing"
)

func TestEventIDIsStableAndSafe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "message id", in: "CAK1x@mail.example.com", want: "CAK1x@mail.example.com"},
		{name: "slashes and spaces", in: "a/b c", want: "a_b_c"},
		{name: "ticket", in: "T-1042", want: "T-1042"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := EventID(tc.in); got != tc.want {
				t.Fatalf("EventID(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
	long := strings.Repeat("x", 300)
	if a, b := EventID(long), EventID(long); a != b || !strings.HasPrefix(a, "sha256-") {
		t.Fatalf("long id: %q, %q", a, b)
	}
	if EventID("") == "" {
		t.Fatal("empty source id gave an empty event id")
	}
}
