package redact

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func preparedPolicy(t *testing.T, p *Policy) *Policy {
	t.Helper()
	if err := p.Prepare(); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	return p
}

func redactWith(t *testing.T, p *Policy, text string) Result {
	t.Helper()
	doc := New().NewDocument()
	if err := doc.SetPolicy(p); err != nil {
		t.Fatal(err)
	}
	return doc.Redact(text)
}

func TestPolicyPrepareErrors(t *testing.T) {
	tests := []struct {
		name string
		p    Policy
		want string
	}{
		{"unknown default", Policy{Default: "shred"}, `unknown operator "shred"`},
		{"unknown per type", Policy{Operators: map[Type]Operator{TypeEmail: "zap"}}, "EMAIL_ADDRESS"},
		{"keyed without key", Policy{Operators: map[Type]Operator{TypeCard: OpFPE}}, "tenant key"},
		{"short key", Policy{Default: OpHash, Key: make([]byte, 16)}, "at least 32 bytes"},
		{"score above one", Policy{MinScore: 1.5}, "outside [0, 1]"},
		{"score not a number", Policy{MinScore: math.NaN()}, "outside [0, 1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Prepare()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Prepare() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	if err := New().NewDocument().SetPolicy(&Policy{}); err == nil {
		t.Error("SetPolicy accepted a policy that was not prepared")
	}
}

func TestParseOperator(t *testing.T) {
	for _, op := range Operators {
		got, err := ParseOperator(" " + strings.ToUpper(string(op)) + " ")
		if err != nil || got != op {
			t.Errorf("ParseOperator(%q) = %q, %v", op, got, err)
		}
	}
	if _, err := ParseOperator("delete"); err == nil {
		t.Error("ParseOperator accepted an unknown name")
	}
}

const operatorText = "Card 4111 1111 1111 1111, mail jane.doe@example.com, card again 4111-1111-1111-1111."

func TestOperatorMask(t *testing.T) {
	p := preparedPolicy(t, &Policy{Default: OpMask})
	res := redactWith(t, p, operatorText)
	want := "Card **** **** **** 1111, mail ****.***@*******.***, card again ****-****-****-1111."
	if res.Text != want {
		t.Fatalf("text = %q\nwant   %q", res.Text, want)
	}
	if len(res.Originals) != 0 {
		t.Errorf("masking is not reversible, yet Originals = %v", res.Originals)
	}
	for _, e := range res.Entities {
		if e.Operator != OpMask {
			t.Errorf("entity %s operator %s, want mask", e.Type, e.Operator)
		}
	}

	none := preparedPolicy(t, &Policy{Default: OpMask, MaskKeepLast: -1})
	if got := redactWith(t, none, "card 4111 1111 1111 1111").Text; got != "card **** **** **** ****" {
		t.Errorf("MaskKeepLast -1: %q", got)
	}
}

func TestOperatorHash(t *testing.T) {
	p := preparedPolicy(t, &Policy{Default: OpHash, Key: testKey(1)})
	a := redactWith(t, p, operatorText)
	b := redactWith(t, p, "Mail JANE.DOE@example.com please")
	cards := a.Entities[0].Replacement
	if !strings.HasPrefix(cards, "[CARD:") || len(cards) != len("[CARD:]")+hashHexLen {
		t.Fatalf("hash replacement %q, want [CARD:<%d hex>]", cards, hashHexLen)
	}
	if a.Entities[2].Replacement != cards {
		t.Errorf("the same card written two ways hashed differently: %q, %q", cards, a.Entities[2].Replacement)
	}
	if a.Entities[1].Replacement != b.Entities[0].Replacement {
		t.Errorf("the same address hashed differently across documents: %q, %q",
			a.Entities[1].Replacement, b.Entities[0].Replacement)
	}
	other := preparedPolicy(t, &Policy{Default: OpHash, Key: testKey(2)})
	if got := redactWith(t, other, operatorText).Entities[0].Replacement; got == cards {
		t.Error("two tenant keys gave the same hash")
	}
	if len(a.Originals) != 0 {
		t.Errorf("hashes are not reversible, yet Originals = %v", a.Originals)
	}
}

func TestOperatorFPE(t *testing.T) {
	p := preparedPolicy(t, &Policy{Default: OpFPE, Key: testKey(3)})
	res := redactWith(t, p, "Card 4111 1111 1111 1111, call +44 20 7946 0958, mail jane@example.com")
	if len(res.Entities) != 3 {
		t.Fatalf("entities = %+v", res.Entities)
	}
	card, phone, email := res.Entities[0], res.Entities[1], res.Entities[2]
	if card.Operator != OpFPE || len(card.Replacement) != len("4111 1111 1111 1111") ||
		card.Replacement == "4111 1111 1111 1111" || strings.Count(card.Replacement, " ") != 3 {
		t.Errorf("card under fpe = %q (%s), want 16 other digits in the same groups", card.Replacement, card.Operator)
	}
	if phone.Operator != OpFPE || !strings.HasPrefix(phone.Replacement, "+") {
		t.Errorf("phone under fpe = %q (%s)", phone.Replacement, phone.Operator)
	}
	if email.Operator != OpReplace || email.Replacement != "[EMAIL_1]" {
		t.Errorf("email under fpe = %q (%s), want the placeholder fallback", email.Replacement, email.Operator)
	}
	back, err := p.RevealFPE(TypeCard, card.Replacement)
	if err != nil || back != "4111 1111 1111 1111" {
		t.Errorf("RevealFPE = %q, %v", back, err)
	}
	restored, unknown := Restore("Refund to "+card.Replacement+" and "+email.Replacement, res.Originals)
	if restored != "Refund to 4111 1111 1111 1111 and jane@example.com" || len(unknown) != 0 {
		t.Errorf("Restore = %q, unknown %v", restored, unknown)
	}
}

func TestOperatorEncrypt(t *testing.T) {
	p := preparedPolicy(t, &Policy{Operators: map[Type]Operator{TypeEmail: OpEncrypt}, Key: testKey(4)})
	res := redactWith(t, p, "mail jane@example.com or jane@example.com, card 4111 1111 1111 1111")
	sealed := res.Entities[0].Replacement
	if !strings.HasPrefix(sealed, "[EMAIL_ENC:") || res.Entities[1].Replacement != sealed {
		t.Fatalf("replacements %q, %q: want one sealed value used twice", sealed, res.Entities[1].Replacement)
	}
	if res.Entities[2].Replacement != "[CARD_1]" {
		t.Errorf("card = %q, want the default placeholder", res.Entities[2].Replacement)
	}
	if got, err := p.Decrypt(sealed); err != nil || got != "jane@example.com" {
		t.Errorf("Decrypt = %q, %v", got, err)
	}
	other := preparedPolicy(t, &Policy{Default: OpEncrypt, Key: testKey(5)})
	if _, err := other.Decrypt(sealed); err == nil {
		t.Error("another tenant's key opened the value")
	}
	tampered := strings.Replace(sealed, "[EMAIL_ENC:", "[PHONE_ENC:", 1)
	if _, err := p.Decrypt(tampered); err == nil {
		t.Error("a value relabelled as another type still opened")
	}
	if restored, _ := Restore("to "+sealed, res.Originals); restored != "to jane@example.com" {
		t.Errorf("Restore = %q", restored)
	}
}

func TestOperatorRedactAndKeep(t *testing.T) {
	p := preparedPolicy(t, &Policy{Default: OpRedact, Operators: map[Type]Operator{TypeEmail: OpKeep}})
	res := redactWith(t, p, "card 4111 1111 1111 1111 mail jane@example.com")
	if res.Text != "card  mail jane@example.com" {
		t.Errorf("text = %q", res.Text)
	}
	if len(res.Entities) != 2 || res.Entities[1].Operator != OpKeep || res.Entities[1].Replacement != "jane@example.com" {
		t.Errorf("entities = %+v, want the kept address reported", res.Entities)
	}
	doc := New().NewDocument()
	doc.Keep(TypeCard)
	if got := doc.Redact("card 4111 1111 1111 1111").Text; got != "card 4111 1111 1111 1111" {
		t.Errorf("Keep(TypeCard) still replaced the card: %q", got)
	}
}

func TestPolicyMinScore(t *testing.T) {
	// A bare nine-digit run after "SSN" scores below a formatted SSN.
	const text = "SSN 219099999 and 219-09-9999"
	strict := preparedPolicy(t, &Policy{MinScore: 0.99})
	if got := redactWith(t, strict, text); len(got.Entities) != 0 {
		t.Errorf("min score 0.99 still redacted %+v", got.Entities)
	}
	lax := preparedPolicy(t, &Policy{MinScore: 0.1})
	if got := redactWith(t, lax, text); len(got.Entities) != 2 {
		t.Errorf("min score 0.1 redacted %+v, want both numbers", got.Entities)
	}
}
