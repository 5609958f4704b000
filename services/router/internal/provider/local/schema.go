package local

import (
	"encoding/json"
	"slices"
)

// shapeAsSchema returns a JSON value that fits the JSON Schema schema, the
// way an offline stand-in for a model can: the draft text goes into the
// first string it meets, the rest take the plainest valid values (the
// first enum value, the minimum, false, the fewest items). It covers the
// common shapes of response schemas (objects of scalars, arrays, enums),
// not every keyword.
func shapeAsSchema(schema json.RawMessage, draft string) string {
	var s map[string]any
	if json.Unmarshal(schema, &s) != nil {
		return "{}"
	}
	used := false
	v := instance(s, draft, &used, 0)
	out, err := json.Marshal(v)
	if err != nil {
		return "{}"
	}
	return string(out)
}

func instance(s map[string]any, draft string, used *bool, depth int) any {
	if c, ok := s["const"]; ok {
		return c
	}
	if e, ok := s["enum"].([]any); ok && len(e) > 0 {
		return e[0]
	}
	typ := s["type"]
	if list, ok := typ.([]any); ok && len(list) > 0 {
		typ = list[0]
	}
	if depth > 8 {
		return nil
	}
	switch typ {
	case "object":
		out := map[string]any{}
		props, _ := s["properties"].(map[string]any)
		names := make([]string, 0, len(props))
		for name := range props {
			names = append(names, name)
		}
		// Required properties first, in the schema's required order, so
		// the draft lands in the one a caller most likely reads.
		var required []string
		for _, r := range asList(s["required"]) {
			if name, ok := r.(string); ok {
				required = append(required, name)
			}
		}
		slices.Sort(names)
		for _, name := range append(required, names...) {
			if _, done := out[name]; done {
				continue
			}
			if sub, ok := props[name].(map[string]any); ok {
				out[name] = instance(sub, draft, used, depth+1)
			}
		}
		return out
	case "array":
		n, _ := s["minItems"].(float64)
		items, _ := s["items"].(map[string]any)
		out := make([]any, 0, int(n))
		for range int(min(n, 16)) {
			out = append(out, instance(items, draft, used, depth+1))
		}
		return out
	case "integer", "number":
		if m, ok := s["minimum"].(float64); ok {
			return m
		}
		return 0
	case "boolean":
		return false
	case "null":
		return nil
	default: // "string" and untyped
		if *used {
			return ""
		}
		*used = true
		return draft
	}
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}
