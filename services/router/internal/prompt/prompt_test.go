package prompt

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// goldenCase is a testdata/*.yaml file.
type goldenCase struct {
	Template Version           `yaml:"template"`
	Values   map[string]string `yaml:"values"`
}

func TestGolden(t *testing.T) {
	t.Parallel()

	files, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var c goldenCase
			if err := yaml.Unmarshal(data, &c); err != nil {
				t.Fatal(err)
			}
			tpl, err := Compile(name, c.Template)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			got, err := tpl.Render(c.Values)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			golden := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("rendered:\n%s\nwant:\n%s", got, want)
			}
			// Deterministic: the same values render the same bytes.
			for range 20 {
				if again, _ := tpl.Render(c.Values); again != got {
					t.Fatalf("second render differs:\n%s", again)
				}
			}
		})
	}
}

func TestRenderRefusesBadValues(t *testing.T) {
	t.Parallel()

	tpl, err := Compile("t", Version{
		Version:   1,
		Variables: map[string]string{"n": TypeInteger, "b": TypeBoolean, "x": TypeNumber, "tone": "enum:a|b"},
		System:    "{{.n}} {{.b}} {{.x}} {{.tone}}",
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		values map[string]string
		want   string
	}{
		{"missing", map[string]string{"n": "1", "b": "true", "x": "1"}, "variable tone is required"},
		{"unknown", map[string]string{"n": "1", "b": "true", "x": "1", "tone": "a", "y": "1"}, `unknown variable "y"`},
		{"not an integer", map[string]string{"n": "1.5", "b": "true", "x": "1", "tone": "a"}, "variable n"},
		{"an integer in exponent form", map[string]string{"n": "1e3", "b": "true", "x": "1", "tone": "a"}, "variable n"},
		{"an integer in hexadecimal", map[string]string{"n": "0x10", "b": "true", "x": "1", "tone": "a"}, "variable n"},
		{"an integer ending in a point", map[string]string{"n": "3.", "b": "true", "x": "1", "tone": "a"}, "variable n"},
		{"a number with underscores", map[string]string{"n": "1", "b": "true", "x": "1_000", "tone": "a"}, "variable x"},
		{"a number in hexadecimal", map[string]string{"n": "1", "b": "true", "x": "0x1p4", "tone": "a"}, "variable x"},
		{"a boolean as a digit", map[string]string{"n": "1", "b": "1", "x": "1", "tone": "a"}, "variable b"},
		{"a boolean as a letter", map[string]string{"n": "1", "b": "t", "x": "1", "tone": "a"}, "variable b"},
		{"not a boolean", map[string]string{"n": "1", "b": "yes!", "x": "1", "tone": "a"}, "variable b"},
		{"not a number", map[string]string{"n": "1", "b": "true", "x": "one", "tone": "a"}, "variable x"},
		{"not finite", map[string]string{"n": "1", "b": "true", "x": "NaN", "tone": "a"}, "variable x: not a finite number"},
		{"infinite", map[string]string{"n": "1", "b": "true", "x": "-Inf", "tone": "a"}, "variable x: not a finite number"},
		{"not in the enum", map[string]string{"n": "1", "b": "true", "x": "1", "tone": "c"}, "not one of a, b"},
		{"too long", map[string]string{"n": "1", "b": "true", "x": "1", "tone": strings.Repeat("a", maxValueLen+1)}, "longer than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tpl.Render(tc.values)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want one naming %q", err, tc.want)
			}
		})
	}

	// Errors reach logs: they do not repeat a value (it may be a
	// customer's words), and a call's many errors are not all listed.
	secret := "Ana Lopez, 3 Elm St"
	_, err = tpl.Render(map[string]string{"n": secret, "b": secret, "x": secret, "tone": secret})
	if err == nil || strings.Contains(err.Error(), "Ana") {
		t.Errorf("error = %v, want one without the values", err)
	}
	many := map[string]string{"n": "1", "b": "true", "x": "1", "tone": "a"}
	for i := range 40 {
		many[fmt.Sprintf("extra%02d_%s", i, strings.Repeat("v", 1000))] = "1"
	}
	_, err = tpl.Render(many)
	if err == nil || len(err.Error()) > 1000 || !strings.Contains(err.Error(), "and 35 more") {
		t.Errorf("error of %d bytes = %.200v..., want a short one ending with how many more", len(fmt.Sprint(err)), err)
	}
}

// A whole number written as a float (3.0, as JSON encoders write whole
// floats) is an integer, and renders as one.
func TestRenderIntegerAsFloat(t *testing.T) {
	t.Parallel()
	tpl, err := Compile("t", Version{Version: 1, Variables: map[string]string{"n": TypeInteger}, System: "{{.n}} orders"})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"3", "3.0", " 3.00 "} {
		if got, err := tpl.Render(map[string]string{"n": v}); err != nil || got != "3 orders" {
			t.Errorf("n = %q: %q, %v; want 3 orders", v, got, err)
		}
	}
}

func TestCompileRefuses(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		name string
		v    Version
	}{
		{"no version", Version{System: "hi"}},
		{"unknown type", Version{Version: 1, Variables: map[string]string{"a": "date"}, System: "{{.a}}"}},
		{"undeclared variable", Version{Version: 1, System: "hello {{.who}}"}},
		{"bad syntax", Version{Version: 1, System: "hello {{"}},
		{"optional not declared", Version{Version: 1, Optional: []string{"a"}, System: "x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Compile("t", tc.v); !errors.Is(err, ErrInvalid) {
				t.Errorf("Compile = %v, want ErrInvalid", err)
			}
		})
	}
}
