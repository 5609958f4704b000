// Package jsonscantest helps test readers and writers built on jsonscan
// against encoding/json: a field added to a wire type and forgotten by its
// reader or writer shows up in these.
package jsonscantest

import (
	"reflect"
	"strings"
)

// Names returns the JSON names of t's fields, in order.
func Names(t reflect.Type) []string {
	var names []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		names = append(names, name)
	}
	return names
}

// Filled returns a value of type t with every field set, recursively:
// strings to s, integers to n, floats to n/8, booleans true, bytes '1',
// pointers to filled values, slices to two elements (s+"2" and n+1 in the
// second). Interfaces stay nil.
func Filled(t reflect.Type, s string, n int64) reflect.Value {
	v := reflect.New(t).Elem()
	switch t.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Int, reflect.Int32, reflect.Int64:
		v.SetInt(n)
	case reflect.Float64:
		v.SetFloat(float64(n) / 8)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Uint8:
		v.SetUint('1')
	case reflect.Interface:
	case reflect.Pointer:
		v.Set(Filled(t.Elem(), s, n).Addr())
	case reflect.Slice:
		v.Set(reflect.Append(reflect.MakeSlice(t, 0, 2), Filled(t.Elem(), s, n), Filled(t.Elem(), s+"2", n+1)))
	case reflect.Struct:
		for i := range t.NumField() {
			v.Field(i).Set(Filled(t.Field(i).Type, s, n))
		}
	default:
		panic("jsonscantest.Filled: no value for " + t.String())
	}
	return v
}
