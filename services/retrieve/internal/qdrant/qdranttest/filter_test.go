package qdranttest

import (
	"testing"
	"time"

	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// filterPoint is the payload the filter table tests run against.
func filterPoint(t *testing.T) *point {
	t.Helper()
	payload, err := qdrant.TryValueMap(map[string]any{
		"city":      "London",
		"tags":      []any{"red", "blue"},
		"empty":     []any{},
		"nothing":   nil,
		"nulls":     []any{nil},
		"count":     int64(7),
		"price":     9.5,
		"flag":      true,
		"created":   "2026-11-10T12:00:00Z",
		"mixed":     []any{"a", int64(3)},
		"address":   map[string]any{"city": "Paris", "zip": "75001"},
		"stores":    []any{map[string]any{"city": "Berlin", "open": true}, map[string]any{"city": "Rome", "open": false}},
		"only_null": []any{nil, nil},
	})
	if err != nil {
		t.Fatal(err)
	}
	p := &point{id: qdrant.NewIDNum(42), payload: payload, dense: map[string][]float32{"dense": {1}}}
	p.key, _ = pointKey(p.id)
	return p
}

func must(c ...*qdrant.Condition) *qdrant.Filter    { return &qdrant.Filter{Must: c} }
func should(c ...*qdrant.Condition) *qdrant.Filter  { return &qdrant.Filter{Should: c} }
func mustNot(c ...*qdrant.Condition) *qdrant.Filter { return &qdrant.Filter{MustNot: c} }

func TestFilterSemantics(t *testing.T) {
	t.Parallel()
	day := func(d int) *timestamppb.Timestamp {
		return timestamppb.New(time.Date(2026, 11, d, 12, 0, 0, 0, time.UTC))
	}
	tests := []struct {
		name   string
		filter *qdrant.Filter
		want   bool
	}{
		{"no filter", nil, true},
		{"empty filter", &qdrant.Filter{}, true},
		{"match keyword", must(qdrant.NewMatch("city", "London")), true},
		{"match keyword is case sensitive", must(qdrant.NewMatch("city", "london")), false},
		{"match missing key", must(qdrant.NewMatch("country", "UK")), false},
		{"array matches any element", must(qdrant.NewMatch("tags", "blue")), true},
		{"array without the value", must(qdrant.NewMatch("tags", "green")), false},
		{"match any", must(qdrant.NewMatchKeywords("tags", "green", "red")), true},
		{"match any none", must(qdrant.NewMatchKeywords("tags", "green", "black")), false},
		{"match any on a scalar", must(qdrant.NewMatchKeywords("city", "Paris", "London")), true},
		{"except on a scalar", must(qdrant.NewMatchExcept("city", "Paris")), true},
		{"except the value", must(qdrant.NewMatchExcept("city", "London")), false},
		{"except on an array with another element", must(qdrant.NewMatchExcept("tags", "red")), true},
		{"except on an array of only excluded", must(qdrant.NewMatchExcept("tags", "red", "blue")), false},
		{"except on a missing key", must(qdrant.NewMatchExcept("country", "UK")), false},
		{"except on an empty array", must(qdrant.NewMatchExcept("empty", "x")), false},
		{"except on null", must(qdrant.NewMatchExcept("nothing", "x")), false},
		{"except keywords on a number", must(qdrant.NewMatchExcept("count", "x")), true},
		{"except keywords on mixed", must(qdrant.NewMatchExcept("mixed", "a")), true},
		{"match integer", must(qdrant.NewMatchInt("count", 7)), true},
		{"match integer on a float", must(qdrant.NewMatchInt("price", 9)), false},
		{"match integer in mixed", must(qdrant.NewMatchInts("mixed", 3, 4)), true},
		{"except integers", must(qdrant.NewMatchExceptInts("count", 7)), false},
		{"match bool", must(qdrant.NewMatchBool("flag", true)), true},
		{"keyword does not match a number", must(qdrant.NewMatch("count", "7")), false},
		{"range gte", must(qdrant.NewRange("price", &qdrant.Range{Gte: qdrant.PtrOf(9.5)})), true},
		{"range gt", must(qdrant.NewRange("price", &qdrant.Range{Gt: qdrant.PtrOf(9.5)})), false},
		{"range on an integer", must(qdrant.NewRange("count", &qdrant.Range{Lt: qdrant.PtrOf(8.0)})), true},
		{"range on a string", must(qdrant.NewRange("city", &qdrant.Range{Lt: qdrant.PtrOf(8.0)})), false},
		{"datetime in range", must(qdrant.NewDatetimeRange("created", &qdrant.DatetimeRange{Gte: day(10), Lt: day(11)})), true},
		{"datetime lt is exclusive", must(qdrant.NewDatetimeRange("created", &qdrant.DatetimeRange{Lt: day(10)})), false},
		{"datetime lte is inclusive", must(qdrant.NewDatetimeRange("created", &qdrant.DatetimeRange{Lte: day(10)})), true},
		{"datetime gt", must(qdrant.NewDatetimeRange("created", &qdrant.DatetimeRange{Gt: day(10)})), false},
		{"datetime on a missing key", must(qdrant.NewDatetimeRange("updated", &qdrant.DatetimeRange{Gt: day(1)})), false},
		{"datetime on a non-date", must(qdrant.NewDatetimeRange("city", &qdrant.DatetimeRange{Gt: day(1)})), false},
		{"is_empty on a missing key", must(qdrant.NewIsEmpty("country")), true},
		{"is_empty on an empty array", must(qdrant.NewIsEmpty("empty")), true},
		{"is_empty on null", must(qdrant.NewIsEmpty("nothing")), true},
		{"is_empty on [null]", must(qdrant.NewIsEmpty("nulls")), false},
		{"is_empty on a value", must(qdrant.NewIsEmpty("city")), false},
		{"is_null on null", must(qdrant.NewIsNull("nothing")), true},
		{"is_null on a missing key", must(qdrant.NewIsNull("country")), false},
		{"is_null on an empty array", must(qdrant.NewIsNull("empty")), false},
		{"is_null on [null]", must(qdrant.NewIsNull("nulls")), false},
		{"has_id", must(qdrant.NewHasID(qdrant.NewIDNum(1), qdrant.NewIDNum(42))), true},
		{"has_id other", must(qdrant.NewHasID(qdrant.NewIDNum(1))), false},
		{"has_vector", must(qdrant.NewHasVector("dense")), true},
		{"has_vector other", must(qdrant.NewHasVector("sparse")), false},
		{"nested key", must(qdrant.NewMatch("address.city", "Paris")), true},
		{"array projection", must(qdrant.NewMatch("stores[].city", "Rome")), true},
		{"array without projection", must(qdrant.NewMatch("stores.city", "Rome")), false},
		{"must is and", must(qdrant.NewMatch("city", "London"), qdrant.NewMatch("tags", "green")), false},
		{"should is or", should(qdrant.NewMatch("city", "Paris"), qdrant.NewMatch("tags", "red")), true},
		{"should none", should(qdrant.NewMatch("city", "Paris"), qdrant.NewMatch("tags", "green")), false},
		{"must_not none", mustNot(qdrant.NewMatch("city", "Paris"), qdrant.NewMatch("tags", "green")), true},
		{"must_not one", mustNot(qdrant.NewMatch("city", "Paris"), qdrant.NewMatch("tags", "red")), false},
		{"must and must_not", &qdrant.Filter{
			Must:    []*qdrant.Condition{qdrant.NewMatch("city", "London")},
			MustNot: []*qdrant.Condition{qdrant.NewHasID(qdrant.NewIDNum(42))},
		}, false},
		{"min_should met", &qdrant.Filter{MinShould: &qdrant.MinShould{MinCount: 2, Conditions: []*qdrant.Condition{
			qdrant.NewMatch("city", "London"), qdrant.NewMatch("tags", "red"), qdrant.NewMatch("tags", "green"),
		}}}, true},
		{"min_should missed", &qdrant.Filter{MinShould: &qdrant.MinShould{MinCount: 3, Conditions: []*qdrant.Condition{
			qdrant.NewMatch("city", "London"), qdrant.NewMatch("tags", "red"), qdrant.NewMatch("tags", "green"),
		}}}, false},
		{"nested filter condition", must(qdrant.NewFilterAsCondition(should(
			qdrant.NewIsEmpty("acl"), qdrant.NewMatchKeywords("acl", "user:a")))), true},
		{"nested filter under must_not", mustNot(qdrant.NewFilterAsCondition(must(
			qdrant.NewMatch("city", "London"), qdrant.NewMatch("tags", "red")))), false},
		{"nested object, same element", must(qdrant.NewNestedFilter("stores", must(
			qdrant.NewMatch("city", "Berlin"), qdrant.NewMatchBool("open", true)))), true},
		{"nested object, conditions split over elements", must(qdrant.NewNestedFilter("stores", must(
			qdrant.NewMatch("city", "Rome"), qdrant.NewMatchBool("open", true)))), false},
		{"has_id inside a nested object", must(qdrant.NewNestedFilter("stores", must(
			qdrant.NewHasID(qdrant.NewIDNum(42))))), false},
	}
	p := filterPoint(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := validateFilter(tt.filter); err != nil {
				t.Fatalf("validateFilter: %v", err)
			}
			if got := checkFilter(tt.filter, p); got != tt.want {
				t.Errorf("checkFilter = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestUnsupportedFiltersAreRefused(t *testing.T) {
	t.Parallel()
	for name, f := range map[string]*qdrant.Filter{
		"text":         must(qdrant.NewMatchText("city", "Lon")),
		"geo":          must(qdrant.NewGeoRadius("loc", 1, 2, 3)),
		"values count": must(qdrant.NewValuesCount("tags", &qdrant.ValuesCount{Gt: qdrant.PtrOf(uint64(1))})),
		"deep":         must(qdrant.NewFilterAsCondition(should(qdrant.NewMatchText("city", "Lon")))),
	} {
		if err := validateFilter(f); err == nil {
			t.Errorf("%s: validateFilter accepted a condition the server does not implement", name)
		}
	}
}
