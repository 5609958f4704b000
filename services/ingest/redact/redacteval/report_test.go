package redacteval

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// sampleReport evaluates a small set with every kind of outcome.
func sampleReport() Report {
	examples := []Example{
		{ID: "e-1", Kind: KindEmail, Text: "Hi Ana, call 020 7946 0958 or ana@example.com", Gold: []Span{
			{"PERSON", 3, 6}, {"PHONE_NUMBER", 13, 26}, {"EMAIL_ADDRESS", 30, 45},
		}},
		{ID: "c-1", Kind: KindChat, Text: "card 4111 1111 1111 1111 ok", Gold: []Span{
			{"CREDIT_CARD", 5, 24},
		}},
	}
	// PERSON is missed (the prediction [0,2) is beside it), the card is found
	// as a phone number: 3 of 50 gold code points leak.
	return Evaluate(examples, func(kind, _ string) []Span {
		if kind == KindEmail {
			return []Span{{"PHONE_NUMBER", 13, 26}, {"EMAIL_ADDRESS", 30, 45}, {"PERSON", 0, 2}}
		}
		return []Span{{"PHONE_NUMBER", 5, 24}}
	})
}

func TestWriteTable(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := sampleReport().WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()

	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if lines[0] != "2 examples, 4 gold spans" {
		t.Errorf("first line = %q", lines[0])
	}
	rows := make(map[string][]string)
	width := -1
	for _, line := range lines[2:] {
		if line == "" {
			continue
		}
		// Right-aligned columns make every row as wide as the header.
		if w := utf8.RuneCountInString(line); width == -1 {
			width = w
		} else if w != width {
			t.Errorf("row %q is %d wide, want %d", line, w, width)
		}
		fields := strings.Fields(line)
		label := strings.Join(fields[:len(fields)-8], " ")
		rows[label] = fields[len(fields)-8:]
	}

	want := map[string][]string{
		"type":                  {"support", "tp", "fp", "fn", "precision", "recall", "F2", "leak"},
		"CREDIT_CARD":           {"1", "0", "0", "1", "-", "0.000", "0.000", "0.000"},
		"EMAIL_ADDRESS":         {"1", "1", "0", "0", "1.000", "1.000", "1.000", "0.000"},
		"PERSON":                {"1", "0", "1", "1", "0.000", "0.000", "0.000", "1.000"},
		"PHONE_NUMBER":          {"1", "1", "1", "0", "0.500", "1.000", "0.833", "0.000"},
		"kind chat":             {"1", "0", "1", "1", "0.000", "0.000", "0.000", "0.000"},
		"kind email":            {"3", "2", "1", "1", "0.667", "0.667", "0.667", "0.097"},
		"group structured":      {"3", "2", "1", "1", "0.667", "0.667", "0.667", "0.000"},
		"group names+addresses": {"1", "0", "1", "1", "0.000", "0.000", "0.000", "1.000"},
		"total":                 {"4", "2", "2", "2", "0.500", "0.500", "0.500", "0.060"},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("table rows (-want +got):\n%s\n%s", diff, out)
	}
}

func TestWriteTableUndefinedRates(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := Evaluate(nil, fixed()).WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(buf.String(), "\n") {
		if strings.HasPrefix(line, "total") && strings.Count(line, "-") != 4 {
			t.Errorf("total row %q, want 4 undefined rates", line)
		}
	}
}

func TestWriteErrors(t *testing.T) {
	t.Parallel()
	r := sampleReport()
	if len(r.Errors) != 4 {
		t.Fatalf("sample report has %d errors, want 4: %+v", len(r.Errors), r.Errors)
	}

	var all bytes.Buffer
	if err := r.WriteErrors(&all, 0); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(all.String(), "4 of 4 errors (2 FP, 2 FN)\n") {
		t.Errorf("header of\n%s", all.String())
	}
	for _, want := range []string{
		`FN CREDIT_CARD c-1 "4111 1111 1111 1111"`,
		`"card ⟦4111 1111 1111 1111⟧ ok"`,
		`predicted PHONE_NUMBER "4111 1111 1111 1111"`,
		`gold CREDIT_CARD "4111 1111 1111 1111"`,
		`FP PERSON e-1 "Hi"`,
	} {
		if !strings.Contains(all.String(), want) {
			t.Errorf("errors lack %q:\n%s", want, all.String())
		}
	}

	var some bytes.Buffer
	if err := r.WriteErrors(&some, 1); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(some.String(), "1 of 4 errors") || strings.Count(some.String(), "\nF") != 1 {
		t.Errorf("limit 1 wrote:\n%s", some.String())
	}
}

func TestReportJSON(t *testing.T) {
	t.Parallel()
	r := sampleReport()
	raw, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, back); diff != "" {
		t.Errorf("JSON round trip (-want +got):\n%s", diff)
	}
	for _, key := range []string{`"f2":`, `"leak":`, `"support":`, `"outcome":"FN"`, `"overlaps":`, `"groups":`} {
		if !bytes.Contains(raw, []byte(key)) {
			t.Errorf("JSON lacks %s: %s", key, raw)
		}
	}
}
