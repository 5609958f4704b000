package sources

import (
	"testing"
)

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
