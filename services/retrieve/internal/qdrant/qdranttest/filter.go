package qdranttest

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// pointKey returns a key for id that orders as Qdrant orders point ids:
// numbers first, by value, then UUIDs, by their bytes.
func pointKey(id *qdrant.PointId) (string, error) {
	switch v := id.GetPointIdOptions().(type) {
	case *qdrant.PointId_Num:
		return fmt.Sprintf("n:%020d", v.Num), nil
	case *qdrant.PointId_Uuid:
		u, err := uuid.Parse(v.Uuid)
		if err != nil {
			return "", status.Errorf(codes.InvalidArgument, "Unable to parse UUID: %s", v.Uuid)
		}
		return "u:" + u.String(), nil
	default:
		return "", status.Error(codes.InvalidArgument, "Validation error in body: [id: point id is empty]")
	}
}

// canonicalID returns id with a UUID in its canonical form.
func canonicalID(id *qdrant.PointId) *qdrant.PointId {
	if u, ok := id.GetPointIdOptions().(*qdrant.PointId_Uuid); ok {
		if parsed, err := uuid.Parse(u.Uuid); err == nil {
			return qdrant.NewIDUUID(parsed.String())
		}
	}
	return id
}

func comparePointIDs(a, b *qdrant.PointId) int {
	ka, _ := pointKey(a)
	kb, _ := pointKey(b)
	return strings.Compare(ka, kb)
}

// payloadValues returns the values under a payload key. Dots separate
// nested keys and a trailing "[]" on a part projects the elements of the
// array found there; an array met without "[]" ends the path.
func payloadValues(payload map[string]*qdrant.Value, key string) []*qdrant.Value {
	current := []*qdrant.Value{qdrant.NewValueFromFields(payload)}
	for part := range strings.SplitSeq(key, ".") {
		name, project := strings.CutSuffix(part, "[]")
		var next []*qdrant.Value
		for _, v := range current {
			child, ok := v.GetStructValue().GetFields()[name]
			if !ok {
				continue
			}
			if !project {
				next = append(next, child)
				continue
			}
			if list, ok := child.GetKind().(*qdrant.Value_ListValue); ok {
				next = append(next, list.ListValue.GetValues()...)
			}
		}
		current = next
	}
	return current
}

// flatValues expands arrays one level: a condition on an array field holds
// when it holds for any element.
func flatValues(values []*qdrant.Value) []*qdrant.Value {
	var out []*qdrant.Value
	for _, v := range values {
		if list, ok := v.GetKind().(*qdrant.Value_ListValue); ok {
			out = append(out, list.ListValue.GetValues()...)
			continue
		}
		out = append(out, v)
	}
	return out
}

// isEmptyValue reports Qdrant's is_empty: no value, or only nulls and
// empty arrays.
func isEmptyValue(values []*qdrant.Value) bool {
	for _, v := range values {
		switch k := v.GetKind().(type) {
		case *qdrant.Value_NullValue:
		case *qdrant.Value_ListValue:
			if len(k.ListValue.GetValues()) > 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// validateFilter rejects filters that use conditions the server does not
// implement, so that evaluation never guesses.
func validateFilter(f *qdrant.Filter) error {
	if f == nil {
		return nil
	}
	for _, group := range [][]*qdrant.Condition{f.GetMust(), f.GetShould(), f.GetMustNot(), f.GetMinShould().GetConditions()} {
		for _, c := range group {
			if err := validateCondition(c); err != nil {
				return err
			}
		}
	}
	return nil
}

func validateCondition(c *qdrant.Condition) error {
	switch cond := c.GetConditionOneOf().(type) {
	case *qdrant.Condition_Field:
		return validateField(cond.Field)
	case *qdrant.Condition_Filter:
		return validateFilter(cond.Filter)
	case *qdrant.Condition_Nested:
		return validateFilter(cond.Nested.GetFilter())
	case *qdrant.Condition_IsEmpty, *qdrant.Condition_IsNull, *qdrant.Condition_HasId, *qdrant.Condition_HasVector:
		return nil
	default:
		return status.Error(codes.InvalidArgument, "Validation error in body: [filter: empty condition]")
	}
}

func validateField(f *qdrant.FieldCondition) error {
	if f.GetKey() == "" {
		return status.Error(codes.InvalidArgument, "Validation error in body: [filter.key: must not be empty]")
	}
	switch {
	case f.GeoBoundingBox != nil, f.GeoRadius != nil, f.GeoPolygon != nil:
		return errUnimplemented("geo conditions")
	case f.ValuesCount != nil:
		return errUnimplemented("values_count conditions")
	case f.IsEmpty != nil, f.IsNull != nil:
		return errUnimplemented("is_empty and is_null inside a field condition")
	case f.Match == nil && f.Range == nil && f.DatetimeRange == nil:
		return status.Errorf(codes.InvalidArgument,
			"Validation error in body: [filter: field condition on %s has no condition]", f.GetKey())
	}
	switch f.GetMatch().GetMatchValue().(type) {
	case *qdrant.Match_Text, *qdrant.Match_Phrase, *qdrant.Match_TextAny:
		return errUnimplemented("full-text match")
	}
	return nil
}

// checkFilter evaluates a validated filter for a point: every must
// condition, at least one should condition when there are any, at least
// min_count min_should conditions, and no must_not condition.
func checkFilter(f *qdrant.Filter, p *point) bool {
	if f == nil {
		return true
	}
	return checkPayloadFilter(f, p.payload, p)
}

// checkPayloadFilter evaluates f over payload; p is nil inside a nested
// object, where has_id and has_vector never match.
func checkPayloadFilter(f *qdrant.Filter, payload map[string]*qdrant.Value, p *point) bool {
	for _, c := range f.GetMust() {
		if !checkCondition(c, payload, p) {
			return false
		}
	}
	if should := f.GetShould(); len(should) > 0 {
		if !slices.ContainsFunc(should, func(c *qdrant.Condition) bool { return checkCondition(c, payload, p) }) {
			return false
		}
	}
	if ms := f.GetMinShould(); ms != nil {
		n := uint64(0)
		for _, c := range ms.GetConditions() {
			if checkCondition(c, payload, p) {
				n++
			}
		}
		if n < ms.GetMinCount() {
			return false
		}
	}
	for _, c := range f.GetMustNot() {
		if checkCondition(c, payload, p) {
			return false
		}
	}
	return true
}

func checkCondition(c *qdrant.Condition, payload map[string]*qdrant.Value, p *point) bool {
	switch cond := c.GetConditionOneOf().(type) {
	case *qdrant.Condition_Field:
		return checkField(cond.Field, payloadValues(payload, cond.Field.GetKey()))
	case *qdrant.Condition_Filter:
		return checkPayloadFilter(cond.Filter, payload, p)
	case *qdrant.Condition_IsEmpty:
		return isEmptyValue(payloadValues(payload, cond.IsEmpty.GetKey()))
	case *qdrant.Condition_IsNull:
		return slices.ContainsFunc(payloadValues(payload, cond.IsNull.GetKey()), func(v *qdrant.Value) bool {
			_, null := v.GetKind().(*qdrant.Value_NullValue)
			return null
		})
	case *qdrant.Condition_HasId:
		if p == nil {
			return false
		}
		return slices.ContainsFunc(cond.HasId.GetHasId(), func(id *qdrant.PointId) bool {
			k, err := pointKey(id)
			return err == nil && k == p.key
		})
	case *qdrant.Condition_HasVector:
		if p == nil {
			return false
		}
		name := cond.HasVector.GetHasVector()
		_, dense := p.dense[name]
		_, sparse := p.sparse[name]
		return dense || sparse
	case *qdrant.Condition_Nested:
		key := strings.TrimSuffix(cond.Nested.GetKey(), "[]") + "[]"
		for _, v := range payloadValues(payload, key) {
			obj, ok := v.GetKind().(*qdrant.Value_StructValue)
			if ok && checkPayloadFilter(cond.Nested.GetFilter(), obj.StructValue.GetFields(), nil) {
				return true
			}
		}
		return false
	}
	return false
}

// checkField holds when any value (arrays expanded one level) passes the
// match, the range or the datetime range of f.
func checkField(f *qdrant.FieldCondition, values []*qdrant.Value) bool {
	for _, v := range flatValues(values) {
		if f.Match != nil && checkMatch(f.Match, v) {
			return true
		}
		if f.Range != nil && checkRange(f.Range, v) {
			return true
		}
		if f.DatetimeRange != nil && checkDatetimeRange(f.DatetimeRange, v) {
			return true
		}
	}
	return false
}

// checkMatch follows Qdrant's value checker: keywords compare strings,
// integers compare integer values only, and except holds for every value
// of another type but null.
func checkMatch(m *qdrant.Match, v *qdrant.Value) bool {
	switch want := m.GetMatchValue().(type) {
	case *qdrant.Match_Keyword:
		s, ok := v.GetKind().(*qdrant.Value_StringValue)
		return ok && s.StringValue == want.Keyword
	case *qdrant.Match_Integer:
		n, ok := v.GetKind().(*qdrant.Value_IntegerValue)
		return ok && n.IntegerValue == want.Integer
	case *qdrant.Match_Boolean:
		b, ok := v.GetKind().(*qdrant.Value_BoolValue)
		return ok && b.BoolValue == want.Boolean
	case *qdrant.Match_Keywords:
		s, ok := v.GetKind().(*qdrant.Value_StringValue)
		return ok && slices.Contains(want.Keywords.GetStrings(), s.StringValue)
	case *qdrant.Match_Integers:
		n, ok := v.GetKind().(*qdrant.Value_IntegerValue)
		return ok && slices.Contains(want.Integers.GetIntegers(), n.IntegerValue)
	case *qdrant.Match_ExceptKeywords:
		switch k := v.GetKind().(type) {
		case *qdrant.Value_NullValue:
			return false
		case *qdrant.Value_StringValue:
			return !slices.Contains(want.ExceptKeywords.GetStrings(), k.StringValue)
		default:
			return true
		}
	case *qdrant.Match_ExceptIntegers:
		switch k := v.GetKind().(type) {
		case *qdrant.Value_NullValue:
			return false
		case *qdrant.Value_IntegerValue:
			return !slices.Contains(want.ExceptIntegers.GetIntegers(), k.IntegerValue)
		default:
			return true
		}
	}
	return false
}

func checkRange(r *qdrant.Range, v *qdrant.Value) bool {
	var x float64
	switch k := v.GetKind().(type) {
	case *qdrant.Value_IntegerValue:
		x = float64(k.IntegerValue)
	case *qdrant.Value_DoubleValue:
		x = k.DoubleValue
	default:
		return false
	}
	return (r.Lt == nil || x < r.GetLt()) &&
		(r.Gt == nil || x > r.GetGt()) &&
		(r.Lte == nil || x <= r.GetLte()) &&
		(r.Gte == nil || x >= r.GetGte())
}

// checkDatetimeRange compares a string payload value, read as RFC 3339,
// with the bounds.
func checkDatetimeRange(r *qdrant.DatetimeRange, v *qdrant.Value) bool {
	s, ok := v.GetKind().(*qdrant.Value_StringValue)
	if !ok {
		return false
	}
	t, err := parseDatetime(s.StringValue)
	if err != nil {
		return false
	}
	return (r.Lt == nil || t.Before(r.GetLt().AsTime())) &&
		(r.Gt == nil || t.After(r.GetGt().AsTime())) &&
		(r.Lte == nil || !t.After(r.GetLte().AsTime())) &&
		(r.Gte == nil || !t.Before(r.GetGte().AsTime()))
}

// parseDatetime reads the datetime payload formats Qdrant documents: RFC
// 3339 with or without a zone (UTC when absent), with a space or a T, and
// a bare date.
func parseDatetime(s string) (time.Time, error) {
	for _, layout := range []string{
		time.RFC3339Nano,
		"2006-01-02T15:04:05.999999999",
		"2006-01-02 15:04:05.999999999Z07:00",
		"2006-01-02 15:04:05.999999999",
		"2006-01-02",
	} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("not a datetime: %q", s)
}
