package intake

import (
	"slices"
	"strings"
	"testing"

	"github.com/keelhq/keel/services/ingest/redact"
)

func TestClassifyBuiltIn(t *testing.T) {
	t.Parallel()
	c, err := NewClassifier(SensitivityConfig{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		kind   string
		counts map[redact.Type]int
		want   string
	}{
		{name: "nothing found", kind: KindEmail, want: SensitivityInternal},
		{name: "zero counts", kind: KindEmail, counts: map[redact.Type]int{redact.TypeEmail: 0}, want: SensitivityInternal},
		{name: "email", kind: KindTicket, counts: map[redact.Type]int{redact.TypeEmail: 1}, want: SensitivityConfidential},
		{name: "person", kind: KindNote, counts: map[redact.Type]int{redact.TypePerson: 2}, want: SensitivityConfidential},
		{name: "card", kind: KindEmail, counts: map[redact.Type]int{redact.TypeCard: 1}, want: SensitivityRestricted},
		{name: "iban", kind: KindEmail, counts: map[redact.Type]int{redact.TypeIBAN: 1}, want: SensitivityRestricted},
		{name: "api key", kind: KindNote, counts: map[redact.Type]int{redact.TypeAPIKey: 1}, want: SensitivityRestricted},
		{name: "article", kind: KindArticle, want: SensitivityPublic},
		{name: "article with an email", kind: KindArticle, counts: map[redact.Type]int{redact.TypeEmail: 1}, want: SensitivityPublic},
		{name: "article with a card", kind: KindArticle, counts: map[redact.Type]int{redact.TypeCard: 1}, want: SensitivityRestricted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got, _ := c.Classify(tc.kind, tc.counts); got != tc.want {
				t.Errorf("Classify(%q, %v) = %q, want %q", tc.kind, tc.counts, got, tc.want)
			}
		})
	}
}

func TestClassifyTenantRules(t *testing.T) {
	t.Parallel()
	c, err := NewClassifier(SensitivityConfig{
		Types:    map[string]string{"PERSON": "restricted"},
		Keywords: map[string][]string{"restricted": {"Board  Only"}, "confidential": {"salary"}},
		Kinds:    map[string]string{"note": "confidential"},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		kind        string
		counts      map[redact.Type]int
		text        string
		want        string
		wantReasons []string
	}{
		{"type rule", KindEmail, map[redact.Type]int{redact.TypePerson: 1, redact.TypeEmail: 1}, "",
			SensitivityRestricted, []string{"PERSON found"}},
		{"keyword, any case and spacing of the rule", KindEmail, nil, "This is BOARD ONLY, sorry",
			SensitivityRestricted, []string{`tenant rule: keyword "board only"`}},
		{"keyword inside a longer word does not count", KindEmail, nil, "the salaryman film",
			SensitivityInternal, nil},
		{"kind rule", KindNote, nil, "",
			SensitivityConfidential, []string{"tenant rule: every note"}},
		{"rules only raise", KindNote, map[redact.Type]int{redact.TypeCard: 1}, "salary",
			SensitivityRestricted, []string{"CREDIT_CARD found"}},
		{"several reasons at the top level", KindEmail, map[redact.Type]int{redact.TypeEmail: 1}, "salary review",
			SensitivityConfidential, []string{"EMAIL_ADDRESS found", `tenant rule: keyword "salary"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, reasons := c.Classify(tc.kind, tc.counts, tc.text)
			if got != tc.want || !slices.Equal(reasons, tc.wantReasons) {
				t.Errorf("Classify = %q %q, want %q %q", got, reasons, tc.want, tc.wantReasons)
			}
		})
	}
}

func TestClassifierConfigErrors(t *testing.T) {
	t.Parallel()
	_, err := NewClassifier(SensitivityConfig{
		Types:    map[string]string{"SHOE_SIZE": "restricted", "PERSON": "secret"},
		Keywords: map[string][]string{"top": {"x"}, "restricted": {"  "}},
		Kinds:    map[string]string{"tweet": "public"},
	})
	if err == nil {
		t.Fatal("NewClassifier accepted a broken configuration")
	}
	for _, want := range []string{`"SHOE_SIZE"`, `"secret"`, `"top"`, "empty phrase", `"tweet"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}
