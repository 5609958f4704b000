package embedder

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	refundText   = "Refund policy: we reimburse the full price of returned items within 30 days of purchase."
	shippingText = "Shipping times: orders are dispatched within two business days and delivered by courier."
)

// embedOne embeds a single text or fails the test.
func embedOne(t testing.TB, e Embedder, text string) []float32 {
	t.Helper()
	vectors, err := e.Embed(context.Background(), []string{text})
	if err != nil {
		t.Fatalf("Embed(%q): %v", text, err)
	}
	return vectors[0]
}

// cosine compares two texts with e or fails the test.
func cosine(t testing.TB, e Embedder, a, b string) float64 {
	t.Helper()
	sim, err := Cosine(embedOne(t, e, a), embedOne(t, e, b))
	if err != nil {
		t.Fatalf("Cosine: %v", err)
	}
	return sim
}

func TestHashingParaphraseBeatsUnrelated(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name      string
		query     string
		related   string
		unrelated string
	}{
		{
			name:      "money back",
			query:     "how do I get my money back",
			related:   refundText,
			unrelated: shippingText,
		},
		{
			name:      "delivery",
			query:     "when will my delivery arrive",
			related:   shippingText,
			unrelated: refundText,
		},
		{
			name:      "broken item",
			query:     "the blender arrived broken",
			related:   "Defective or damaged products are replaced free of charge.",
			unrelated: "You can change your password from the account page.",
		},
		{
			name:      "sign in",
			query:     "I cannot sign in to my account",
			related:   "Reset your password from the login screen.",
			unrelated: "Damaged products are replaced free of charge.",
		},
		{
			name:      "terminate",
			query:     "terminate my subscription",
			related:   "You may cancel a subscription at any time.",
			unrelated: "The warranty covers two years.",
		},
		{
			name:      "guarantee",
			query:     "is there a guarantee on the kettle",
			related:   "Every kettle carries a two-year warranty.",
			unrelated: "You may cancel a subscription at any time.",
		},
	}
	e := NewHashing()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			related := cosine(t, e, tt.query, tt.related)
			unrelated := cosine(t, e, tt.query, tt.unrelated)
			if related <= unrelated {
				t.Errorf("cosine(related) = %.3f, not above cosine(unrelated) = %.3f", related, unrelated)
			}
			if related < 0.2 {
				t.Errorf("cosine(related) = %.3f, want at least 0.2", related)
			}
		})
	}
}

// TestHashingSupportParaphrases checks that a customer's wording and the
// wording of the help-centre article that answers it are closer than the
// customer's wording and an unrelated article, on the vocabulary of a
// kitchenware shop's support: the article never uses the customer's words.
func TestHashingSupportParaphrases(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name      string
		query     string
		related   string
		unrelated string
	}{
		{
			name:      "instalments",
			query:     "can I buy now and pay later in installments?",
			related:   "Klarna splits the total into four interest-free instalments.",
			unrelated: "We sharpen your knives for free once a year.",
		},
		{
			name:      "blunt knives",
			query:     "my knives have gone blunt",
			related:   "A dull knife edge is not a defect; we sharpen every knife for free.",
			unrelated: "Gift cards never expire and carry no fees.",
		},
		{
			name:      "supervisor",
			query:     "I want to talk to a supervisor about this",
			related:   "Ask the agent to pass your case to a team lead, or write to escalations.",
			unrelated: "Dry cast iron straight after washing and oil it lightly.",
		},
		{
			name:      "scam",
			query:     "is this email a scam?",
			related:   "Recognising fake messages that pretend to come from our shop.",
			unrelated: "Express parcels arrive two business days after dispatch.",
		},
		{
			name:      "promo code",
			query:     "where do I enter my promo code",
			related:   "A coupon code cannot be added once the order is placed.",
			unrelated: "Turn on two-step verification to protect your account.",
		},
		{
			name:      "delete profile",
			query:     "please delete my profile",
			related:   "You can close your account at any time from the privacy page.",
			unrelated: "Import duties are collected by the carrier on delivery.",
		},
		{
			name:      "bent pan",
			query:     "the frying pan bent out of shape",
			related:   "Warping that stops a pan sitting flat is covered for life.",
			unrelated: "Store credit is added to your account within one business day.",
		},
		{
			name:      "customs",
			query:     "will I pay customs charges?",
			related:   "Import duties and taxes are not included in the price abroad.",
			unrelated: "Choose a new password of at least twelve characters.",
		},
		{
			name:      "next day",
			query:     "I need it next day",
			related:   "Overnight parcels arrive on the following business day.",
			unrelated: "Wash non-stick pans with a soft sponge.",
		},
		{
			name:      "send it back",
			query:     "how do I send it back",
			related:   "Start a return online and drop the parcel off with its label.",
			unrelated: "Two-step verification asks for a code on a new device.",
		},
	}
	e := NewHashing()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			related := cosine(t, e, tt.query, tt.related)
			unrelated := cosine(t, e, tt.query, tt.unrelated)
			if related <= unrelated {
				t.Errorf("cosine(related) = %.3f, not above cosine(unrelated) = %.3f", related, unrelated)
			}
			if related < 0.2 {
				t.Errorf("cosine(related) = %.3f, want at least 0.2", related)
			}
		})
	}
}

func TestTokenizerWeight(t *testing.T) {
	t.Parallel()

	tok := NewTokenizer()
	tests := []struct {
		name  string
		token string
		want  float64
	}{
		{name: "generic", token: "order", want: genericWeight},
		{name: "generic after folding", token: tok.Tokens("Orders")[0], want: genericWeight},
		{name: "topical", token: "refund", want: 1},
		{name: "unknown", token: "zyzzyva", want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			if got := tok.Weight(tt.token); got != tt.want {
				t.Errorf("Weight(%q) = %v, want %v", tt.token, got, tt.want)
			}
		})
	}
}

func TestHashingVectors(t *testing.T) {
	t.Parallel()

	e := NewHashing()
	if got := e.Dimensions(); got != 384 {
		t.Errorf("Dimensions() = %d, want 384", got)
	}
	if e.Model() == "" {
		t.Errorf("Model() is empty")
	}

	vectors, err := e.Embed(context.Background(), []string{refundText, refundText, "", "the and of"})
	if err != nil {
		t.Fatalf("Embed: %v", err)
	}
	if len(vectors) != 4 {
		t.Fatalf("Embed returned %d vectors, want 4", len(vectors))
	}
	for i, v := range vectors {
		if len(v) != 384 {
			t.Errorf("vector %d has %d dimensions, want 384", i, len(v))
		}
	}
	if norm := l2(vectors[0]); math.Abs(norm-1) > 1e-5 {
		t.Errorf("norm of vector 0 = %f, want 1", norm)
	}
	if diff := cmp.Diff(vectors[0], vectors[1]); diff != "" {
		t.Errorf("same text embedded differently (-first +second):\n%s", diff)
	}
	for _, i := range []int{2, 3} {
		if norm := l2(vectors[i]); norm != 0 {
			t.Errorf("vector %d of a text without features has norm %f, want 0", i, norm)
		}
	}
}

func TestHashingRespectsContext(t *testing.T) {
	t.Parallel()

	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	_, err := NewHashing().Embed(ctx, []string{"refund"})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Embed on a cancelled context: err = %v, want context.Canceled", err)
	}
}

func TestCosineDimensionMismatch(t *testing.T) {
	t.Parallel()

	if _, err := Cosine([]float32{1}, []float32{1, 0}); !errors.Is(err, ErrDimensionMismatch) {
		t.Errorf("Cosine of different lengths: err = %v, want ErrDimensionMismatch", err)
	}
}

func TestTokens(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		text string
		want []string
	}{
		{name: "empty", text: "", want: []string{}},
		{name: "stopwords only", text: "How do I get it?", want: []string{}},
		{name: "money back", text: "How do I get my money back?", want: []string{"refund"}},
		{
			name: "stemming",
			text: "Parcels shipped, boxes opened, tracking",
			want: []string{"parcel", "ship", "box", "open", "track"},
		},
		{
			name: "synonyms",
			text: "Reimbursement for defective items after termination",
			want: []string{"refund", "damag", "item", "cancel"},
		},
		{name: "login phrases", text: "Logging in fails; signed on before", want: []string{"password", "fail", "password"}},
		{name: "unicode", text: "Café ÜBER naïve 42 x", want: []string{"café", "über", "naïv", "42"}},
		{name: "filler", text: "Hi guys, I just wanted a refund please", want: []string{"refund"}},
		{name: "irregular verbs", text: "bought, sent and paid", want: []string{"buy", "send", "pay"}},
		{name: "ied", text: "verified and applied", want: []string{"verify", "apply"}},
		{name: "negations", text: "I don't, it isn't, never", want: []string{"not", "not", "not"}},
		{name: "spelling variants", text: "installments colour", want: []string{"instalment", "colour"}},
		{name: "long phrase", text: "buy now, pay later", want: []string{"instalment"}},
		{name: "phrase around stopwords", text: "Send it all back", want: []string{"return"}},
		{name: "phrase at the end", text: "money", want: []string{"money"}},
	}
	tok := NewTokenizer()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got := tok.Tokens(tt.text)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Tokens(%q) mismatch (-want +got):\n%s", tt.text, diff)
			}
		})
	}
}

func FuzzTokens(f *testing.F) {
	f.Add("How do I get my money back?")
	f.Add("\xff\xfeshipped\x00 signing in ÉÉ")
	tok := NewTokenizer()
	e := NewHashing()

	f.Fuzz(func(t *testing.T, text string) {
		for _, token := range tok.Tokens(text) {
			if token == "" || strings.ContainsFunc(token, func(r rune) bool { return r == ' ' }) {
				t.Fatalf("Tokens(%q) returned token %q", text, token)
			}
		}
		v := embedOne(t, e, text)
		if norm := l2(v); norm != 0 && math.Abs(norm-1) > 1e-4 {
			t.Fatalf("Embed(%q) has norm %f", text, norm)
		}
	})
}

func BenchmarkHashingEmbed(b *testing.B) {
	texts := make([]string, 32)
	for i := range texts {
		texts[i] = strings.Repeat(fmt.Sprintf("%s %s %d ", refundText, shippingText, i), 5)[:800]
	}
	e := NewHashing()
	ctx := context.Background()

	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Embed(ctx, texts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(texts)), "ns/text")
}

func l2(v []float32) float64 {
	var sum float64
	for _, x := range v {
		sum += float64(x) * float64(x)
	}
	return math.Sqrt(sum)
}
