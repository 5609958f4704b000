package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/keelhq/keel/services/router/internal/provider/sse"
)

func TestParseCitations(t *testing.T) {
	t.Parallel()

	passages := []Passage{{ChunkID: "a"}, {ChunkID: "b"}, {ChunkID: "c"}}
	tests := []struct {
		name string
		text string
		want []string
	}{
		{name: "order of first citation", text: "x [3] y [1] z [3].", want: []string{"c", "a"}},
		{name: "lists", text: "see [2, 1]", want: []string{"b", "a"}},
		{name: "out of range and zero", text: "[0] [4] [99]", want: nil},
		{name: "placeholders are not citations", text: "Hello [PERSON_1], mail [EMAIL_2]", want: nil},
		{name: "none", text: "no markers", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			if diff := cmp.Diff(tt.want, ParseCitations(tt.text, passages)); diff != "" {
				t.Errorf("citations (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSplitSentences(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		text string
		want []string
	}{
		{
			name: "stops and line breaks",
			text: "One. Two! Three?\nFour",
			want: []string{"One.", "Two!", "Three?", "Four"},
		},
		{
			name: "citation stays with its sentence",
			text: "Shipping takes 3 days. [1] Returns are free. [2]",
			want: []string{"Shipping takes 3 days. [1]", "Returns are free. [2]"},
		},
		{
			name: "decimals do not split",
			text: "It costs 4.99 dollars. Really.",
			want: []string{"It costs 4.99 dollars.", "Really."},
		},
		{name: "blank", text: " \n\n ", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			if diff := cmp.Diff(tt.want, SplitSentences(tt.text)); diff != "" {
				t.Errorf("sentences (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEstimateTokens(t *testing.T) {
	t.Parallel()

	if got := EstimateTokens("one two three four five six"); got != 8 {
		t.Errorf("EstimateTokens = %d, want 8", got)
	}
	req := Request{
		Messages: []Message{{Content: "a b c"}},
		Passages: []Passage{{Title: "t", Text: "d e"}},
	}
	if got := EstimateInputTokens(req); got != 8 {
		t.Errorf("EstimateInputTokens = %d, want 8", got)
	}

	// Text that is not spaced into words is not one token: scripts written
	// without spaces count a token per character, long runs of letters or
	// digits one per four, marks one each, other scripts one per two
	// letters.
	for _, tt := range []struct {
		text string
		want int64
	}{
		{"我的订单在哪里", 7},
		{"注文はどこですか", 8},
		{"주문 어디", 4},
		{strings.Repeat("a", 400), 100},
		{"ORD-10421 在哪里", 2 + 1 + 3},
		// Punctuation and symbols count one each: JSON is mostly those.
		{`{"a":1,"b":2}`, 5 + 9},
		// Other spaced scripts: a token for every two letters.
		{"Привет, как дела?", 7 + 2},
		{"", 0},
	} {
		if got := EstimateTokens(tt.text); got != tt.want {
			t.Errorf("EstimateTokens(%.20q) = %d, want %d", tt.text, got, tt.want)
		}
	}

	// Streamed in pieces split anywhere, a reply is estimated as a whole.
	text := "Votre commande 注文 est partie hier, ORD-10421."
	for cut := range len(text) + 1 {
		if !utf8.RuneStart(text[min(cut, len(text)-1)]) {
			continue
		}
		var e ReplyEstimate
		e.Add(text[:cut])
		e.Add(text[cut:])
		if got, want := e.Tokens(), EstimateTokens(text); got != want {
			t.Errorf("cut at %d: %d tokens, whole %d", cut, got, want)
		}
	}
	// Messages do not run into each other: "ab" and "cd" are two words.
	joined := EstimateInputTokens(Request{Messages: []Message{{Content: "ab"}, {Content: "cd"}}})
	if joined != EstimateTokens("ab cd") {
		t.Errorf("two one-word messages = %d tokens, want %d", joined, EstimateTokens("ab cd"))
	}
}

func TestErrorClasses(t *testing.T) {
	t.Parallel()

	tests := []struct {
		class     error
		name      string
		retryable bool
	}{
		{ErrRateLimited, "rate_limited", true},
		{ErrServerFailed, "server", true},
		{ErrTimedOut, "timeout", true},
		{ErrUnreachable, "unreachable", true},
		{ErrCredentialsRejected, "auth", false},
		{ErrRequestRejected, "bad_request", false},
		{ErrContextTooLong, "context_length", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			cause := errors.New("cause")
			err := fmt.Errorf("provider x: %w", &Error{Class: tt.class, StatusCode: 429, RetryAfter: time.Second, Err: cause})
			if !errors.Is(err, tt.class) || !errors.Is(err, cause) {
				t.Errorf("errors.Is fails for %v", err)
			}
			if got := Retryable(err); got != tt.retryable {
				t.Errorf("Retryable = %v, want %v", got, tt.retryable)
			}
			if got := ClassName(err); got != tt.name {
				t.Errorf("ClassName = %q, want %q", got, tt.name)
			}
			if d, ok := RetryAfter(err); !ok || d != time.Second {
				t.Errorf("RetryAfter = %v, %v", d, ok)
			}
		})
	}
	if ClassName(errors.New("other")) != "unknown" || Retryable(errors.New("other")) {
		t.Error("an unclassified error is classified")
	}
}

func TestLogTextLeavesOutTheProviderMessage(t *testing.T) {
	t.Parallel()

	err := fmt.Errorf("provider p: %w", &Error{
		Class: ErrServerFailed, StatusCode: 500, RetryAfter: 2 * time.Second,
		Message: "could not process: 'my secret order 123'",
	})
	got := LogText(err)
	if strings.Contains(got, "secret") || !strings.Contains(got, "server") || !strings.Contains(got, "500") {
		t.Errorf("LogText = %q", got)
	}
	if plain := LogText(errors.New("route x: no candidate")); plain != "route x: no candidate" {
		t.Errorf("LogText of a plain error = %q", plain)
	}
}

func TestTransportError(t *testing.T) {
	t.Parallel()

	live := context.Background()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, stop := context.WithDeadline(context.Background(), time.Unix(1, 0))
	defer stop()
	reset := errors.New("read tcp: connection reset by peer")

	if err := TransportError(cancelled, reset); !errors.Is(err, context.Canceled) || errors.Is(err, ErrUnreachable) {
		t.Errorf("caller's cancellation = %v, want it as it is", err)
	}
	if err := TransportError(expired, reset); !errors.Is(err, ErrTimedOut) {
		t.Errorf("passed deadline = %v, want ErrTimedOut", err)
	}
	if err := TransportError(live, fmt.Errorf("decode: %w", sse.ErrLineTooLong)); !errors.Is(err, ErrServerFailed) {
		t.Errorf("over-long stream line = %v, want ErrServerFailed", err)
	}
	if err := TransportError(live, reset); !errors.Is(err, ErrUnreachable) {
		t.Errorf("reset = %v, want ErrUnreachable", err)
	}
}

func TestCleanParam(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"max_tokens":                   "max_tokens",
		"messages[0].content":          "messages[0].content",
		"tools[1].function.parameters": "tools[1].function.parameters",
		"":                             "",
		"messages; DROP":               "",
		"a\nb":                         "",
		strings.Repeat("p", 65):        "",
		"paramètre":                    "",
	} {
		if got := CleanParam(in); got != want {
			t.Errorf("CleanParam(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestValidSignature(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{
		"":                                  true,
		"CiQBVKhc7qH0aW5rIHNpZ25hdHVyZQ==":  true,
		"skip_thought_signature_validator":  true,
		strings.Repeat("A", MaxSignature):   true,
		strings.Repeat("A", MaxSignature+1): false,
		"two words":                         false,
		"line\nbreak":                       false,
		"tab\t":                             false,
		"del\x7f":                           false,
		"é":                                 false,
		"\u200bzero-width":                  false,
	} {
		if got := ValidSignature(in); got != want {
			t.Errorf("ValidSignature(%.40q) = %v, want %v", in, got, want)
		}
	}
}
