// Package prompt holds versioned prompt templates with typed variables and
// renders them deterministically: the same template, version and values
// always give the same bytes, so that a prompt change is a new version and
// a golden test, never a silent drift.
package prompt

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
)

// ErrInvalid is wrapped by every error about a template or its variables.
var ErrInvalid = errors.New("prompt")

// Types a variable can have.
const (
	TypeString  = "string"
	TypeInteger = "integer"
	TypeNumber  = "number"
	TypeBoolean = "boolean"
)

// maxValueLen bounds one variable's value.
const maxValueLen = 64 << 10

// jsonNumber is a number as JSON writes it.
var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// maxErrors is how many of a call's variable errors an error lists.
const maxErrors = 5

// Version is one version of a template, as the routes file declares it.
type Version struct {
	Version int `yaml:"version"`
	// Variables maps each variable to its type: string, integer, number,
	// boolean, or "enum:a|b|c".
	Variables map[string]string `yaml:"variables"`
	// Optional lists the variables that may be left out (they render as
	// their zero value).
	Optional []string `yaml:"optional"`
	// System is the system message, a Go text/template over the variables
	// ({{.name}}).
	System string `yaml:"system"`
}

// Template is a compiled version, ready to render.
type Template struct {
	Name    string
	Version int
	vars    map[string]string
	opt     []string
	system  *template.Template
}

// Compile checks v and compiles its system message. Referring to a
// variable the version does not declare is an error.
func Compile(name string, v Version) (*Template, error) {
	if v.Version <= 0 {
		return nil, fmt.Errorf("%w: template %s: version must be positive", ErrInvalid, name)
	}
	for vn, typ := range v.Variables {
		if err := checkType(typ); err != nil {
			return nil, fmt.Errorf("%w: template %s v%d: variable %s: %w", ErrInvalid, name, v.Version, vn, err)
		}
	}
	for _, o := range v.Optional {
		if _, ok := v.Variables[o]; !ok {
			return nil, fmt.Errorf("%w: template %s v%d: optional %s is not a variable", ErrInvalid, name, v.Version, o)
		}
	}
	t, err := template.New(name).Option("missingkey=error").Parse(v.System)
	if err != nil {
		return nil, fmt.Errorf("%w: template %s v%d: %w", ErrInvalid, name, v.Version, err)
	}
	tpl := &Template{Name: name, Version: v.Version, vars: v.Variables, opt: v.Optional, system: t}
	// Rendering the zero values finds references to undeclared variables
	// now rather than at the first call.
	if _, err := tpl.render(tpl.zeroValues()); err != nil {
		return nil, fmt.Errorf("%w: template %s v%d: %w", ErrInvalid, name, v.Version, err)
	}
	return tpl, nil
}

// Render checks values against the declared types and renders the system
// message. Unknown variables, missing required ones and values of the
// wrong type are errors wrapping ErrInvalid, naming the variable.
func (t *Template) Render(values map[string]string) (string, error) {
	typed := t.zeroValues()
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(values)) {
		typ, ok := t.vars[name]
		if !ok {
			errs = append(errs, fmt.Errorf("unknown variable %.64q", name))
			continue
		}
		v, err := parse(typ, values[name])
		if err != nil {
			errs = append(errs, fmt.Errorf("variable %s: %w", name, err))
			continue
		}
		typed[name] = v
	}
	for _, name := range slices.Sorted(maps.Keys(t.vars)) {
		if _, ok := values[name]; !ok && !slices.Contains(t.opt, name) {
			errs = append(errs, fmt.Errorf("variable %s is required", name))
		}
	}
	if len(errs) > maxErrors {
		errs = append(errs[:maxErrors], fmt.Errorf("and %d more", len(errs)-maxErrors))
	}
	if err := errors.Join(errs...); err != nil {
		return "", fmt.Errorf("%w: template %s v%d: %w", ErrInvalid, t.Name, t.Version, err)
	}
	return t.render(typed)
}

func (t *Template) render(values map[string]any) (string, error) {
	var b bytes.Buffer
	if err := t.system.Execute(&b, values); err != nil {
		return "", err
	}
	return b.String(), nil
}

func (t *Template) zeroValues() map[string]any {
	out := make(map[string]any, len(t.vars))
	for name, typ := range t.vars {
		switch {
		case typ == TypeInteger:
			out[name] = int64(0)
		case typ == TypeNumber:
			out[name] = float64(0)
		case typ == TypeBoolean:
			out[name] = false
		default:
			out[name] = ""
		}
	}
	return out
}

func checkType(typ string) error {
	switch typ {
	case TypeString, TypeInteger, TypeNumber, TypeBoolean:
		return nil
	}
	if values, ok := strings.CutPrefix(typ, "enum:"); ok && values != "" {
		return nil
	}
	return fmt.Errorf("unknown type %q (string, integer, number, boolean or enum:a|b)", typ)
}

// parse reads s as a value of typ. Its errors do not repeat s: a value may
// be a customer's name or message, and errors reach logs.
func parse(typ, s string) (any, error) {
	if len(s) > maxValueLen {
		return nil, fmt.Errorf("longer than %d bytes", maxValueLen)
	}
	switch typ {
	case TypeString:
		return s, nil
	case TypeInteger:
		// 3.0 is an integer too: JSON encoders write whole floats so. Only
		// zeros may follow the point; no exponent, no hexadecimal.
		digits, zeros, point := strings.Cut(strings.TrimSpace(s), ".")
		n, err := strconv.ParseInt(digits, 10, 64)
		if err != nil || strings.Trim(zeros, "0") != "" || point && zeros == "" {
			return nil, errors.New("not an integer")
		}
		return n, nil
	case TypeNumber:
		// A number as JSON writes one: no hexadecimal, no underscores.
		t := strings.TrimSpace(s)
		if !jsonNumber.MatchString(t) {
			return nil, errors.New("not a finite number")
		}
		f, err := strconv.ParseFloat(t, 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, errors.New("not a finite number")
		}
		return f, nil
	case TypeBoolean:
		// true or false, as JSON writes them; not 1, t or F.
		switch strings.TrimSpace(s) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, errors.New("not true or false")
	}
	allowed := strings.Split(strings.TrimPrefix(typ, "enum:"), "|")
	if !slices.Contains(allowed, s) {
		return nil, fmt.Errorf("not one of %s", strings.Join(allowed, ", "))
	}
	return s, nil
}
