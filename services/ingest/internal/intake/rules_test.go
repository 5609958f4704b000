package intake

import (
	"bytes"
	"context"
	"strings"
	"testing"

	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/ingest/redact"
)

func TestRulesPerTenant(t *testing.T) {
	t.Parallel()
	master := bytes.Repeat([]byte{7}, 32)
	rules, err := NewRules(
		PolicyConfig{Operators: map[string]string{"CREDIT_CARD": "hash"}},
		map[string]PolicyConfig{"acme": {Default: "mask", MinScore: 0.7}},
		master,
	)
	if err != nil {
		t.Fatal(err)
	}
	r := redact.New()
	ev := &keelv1.IngestEvent{EventId: "e1", Kind: KindEmail, Body: "card 4111 1111 1111 1111, mail jane@example.com"}

	acme := RedactEvent(context.Background(), r, rules.For("acme"), &Input{Event: ev}).Event.GetBody()
	if acme != "card **** **** **** 1111, mail ****@*******.***" {
		t.Errorf("acme (mask) body = %q", acme)
	}
	globex := RedactEvent(context.Background(), r, rules.For("globex"), &Input{Event: ev}).Event.GetBody()
	initech := RedactEvent(context.Background(), r, rules.For("initech"), &Input{Event: ev}).Event.GetBody()
	if !strings.HasPrefix(globex, "card [CARD:") || !strings.HasSuffix(globex, "mail [EMAIL_1]") {
		t.Errorf("globex (default: hash cards) body = %q", globex)
	}
	if globex == initech {
		t.Error("two tenants under the default policy got the same card hash: keys are not per tenant")
	}
	if again := RedactEvent(context.Background(), r, rules.For("globex"), &Input{Event: ev}).Event.GetBody(); again != globex {
		t.Errorf("the same tenant hashed differently: %q then %q", globex, again)
	}
}

func TestRulesErrors(t *testing.T) {
	t.Parallel()
	_, err := NewRules(
		PolicyConfig{Default: "shred"},
		map[string]PolicyConfig{
			"acme":   {Operators: map[string]string{"SHOE_SIZE": "mask"}},
			"globex": {MinScore: 2},
		},
		bytes.Repeat([]byte{1}, 32),
	)
	if err == nil {
		t.Fatal("NewRules accepted a broken configuration")
	}
	for _, want := range []string{"default policy", `"shred"`, `tenant "acme"`, "SHOE_SIZE", `tenant "globex"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if _, err := NewRules(PolicyConfig{Default: "fpe"}, nil, nil); err == nil {
		t.Error("a keyed operator was accepted without a master key")
	}
}
