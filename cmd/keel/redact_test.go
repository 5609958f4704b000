package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRedactJSONCountsCodePoints(t *testing.T) {
	t.Parallel()
	// "Zoë — " is 6 code points but 9 bytes: offsets must count the former.
	in := "Zoë — mail zoe@example.com or call +44 7700 900123."
	var out bytes.Buffer
	if err := runRedact([]string{"--json"}, strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	var got redactOutput
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("output is not one JSON object: %v\n%s", err, out.String())
	}

	want := redactOutput{
		Text: "Zoë — mail [EMAIL_1] or call [PHONE_1].",
		Entities: []redactEntity{
			{Type: "EMAIL_ADDRESS", Start: 11, End: 26, Operator: "replace"},
			{Type: "PHONE_NUMBER", Start: 35, End: 50, Operator: "replace"},
		},
	}
	runes := []rune(in)
	for i := range got.Entities {
		if got.Entities[i].Score <= 0 || got.Entities[i].Score > 1 {
			t.Errorf("entity %d score = %v, want in (0, 1]", i, got.Entities[i].Score)
		}
		got.Entities[i].Score = 0
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("redact --json (-want +got):\n%s", diff)
	}
	if s := string(runes[11:26]); s != "zoe@example.com" {
		t.Errorf("email offsets select %q", s)
	}
}

func TestRedactPlainText(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := runRedact(nil, strings.NewReader("card 4111 1111 1111 1111\n"), &out); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "card [CARD_1]\n" {
		t.Fatalf("redact = %q", got)
	}
}
