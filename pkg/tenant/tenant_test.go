package tenant

import (
	"context"
	"errors"
	"testing"
)

func TestValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		id   string
		ok   bool
	}{
		{name: "simple", id: "acme", ok: true},
		{name: "digits and dashes", id: "acme-2_eu", ok: true},
		{name: "empty", id: ""},
		{name: "uppercase", id: "Acme"},
		{name: "subject wildcard", id: "acme.*"},
		{name: "full wildcard", id: ">"},
		{name: "space", id: "ac me"},
		{name: "leading dash", id: "-acme"},
		{name: "too long", id: "a123456789012345678901234567890123456789012345678901234567890123"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := Valid(tc.id)
			if (err == nil) != tc.ok {
				t.Fatalf("Valid(%q) = %v, want ok=%v", tc.id, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("Valid(%q) error %v does not wrap ErrInvalid", tc.id, err)
			}
		})
	}
}

func TestContext(t *testing.T) {
	t.Parallel()
	if _, err := Require(context.Background()); !errors.Is(err, ErrMissing) {
		t.Fatalf("Require(empty) = %v, want ErrMissing", err)
	}
	if _, ok := From(With(context.Background(), "")); ok {
		t.Fatal("an empty tenant counts as present")
	}
	got, err := Require(With(context.Background(), "acme"))
	if err != nil || got != "acme" {
		t.Fatalf("Require = %q, %v", got, err)
	}
}
