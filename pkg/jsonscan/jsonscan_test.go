package jsonscan

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		ok   bool
	}{
		{`"plain"`, "plain", true},
		{`""`, "", true},
		{`"naïve 日本"`, "naïve 日本", true},
		{`"a\"b\\c\/d\b\f\n\r\t"`, "a\"b\\c/d\b\f\n\r\t", true},
		{`"\u00e9\u65e5"`, "é日", true},
		{`"\ud83d\ude00!"`, "😀!", true},
		{`"é\n"`, "é\n", true},
		// What encoding/json replaces or refuses goes to it.
		{`"\ud83d"`, "", false},
		{`"\ud83d\u0041"`, "", false},
		{`"\ude00"`, "", false},
		{"\"\xff\"", "", false},
		{"\"a\\n\xff\"", "", false},
		{"\"tab\there\"", "", false},
		{`"\x"`, "", false},
		{`"\u12"`, "", false},
		{`"open`, "", false},
		{`"open\`, "", false},
		{`12`, "", false},
		{`null`, "", false},
	} {
		s := New([]byte(tc.in))
		got := s.String()
		s.End()
		if s.OK() != tc.ok || got != tc.want {
			t.Errorf("String(%q) = %q, ok %v; want %q, ok %v", tc.in, got, s.OK(), tc.want, tc.ok)
		}
		if tc.ok {
			var std string
			if err := json.Unmarshal([]byte(tc.in), &std); err != nil || std != got {
				t.Errorf("encoding/json reads %q as %q (%v)", tc.in, std, err)
			}
		}
	}
}

func TestInt64(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{`0`, 0, true},
		{`-0`, 0, true},
		{`42`, 42, true},
		{`-17`, -17, true},
		{`999999999999999999`, 999999999999999999, true},
		{`9223372036854775807`, 0, false}, // encoding/json's to read
		{`01`, 0, false},
		{`1.0`, 0, false},
		{`1e3`, 0, false},
		{`-`, 0, false},
		{`"1"`, 0, false},
		{`true`, 0, false},
	} {
		s := New([]byte(tc.in))
		got := s.Int64()
		s.End()
		if s.OK() != tc.ok || got != tc.want {
			t.Errorf("Int64(%q) = %d, ok %v; want %d, ok %v", tc.in, got, s.OK(), tc.want, tc.ok)
		}
	}
}

func TestObjectAndUnknown(t *testing.T) {
	read := func(doc string) (string, bool) {
		s := New([]byte(doc))
		var name string
		s.Object(func(key []byte) {
			if string(key) == "name" {
				name = s.String()
				return
			}
			s.Unknown(key, "name")
		})
		s.End()
		return name, s.OK()
	}
	for _, tc := range []struct {
		doc  string
		want string
		ok   bool
	}{
		{`{"name":"a"}`, "a", true},
		{` { "other" : [1, {"x": null}, "s", true, false, -1.5e+3] , "name" : "b" } `, "b", true},
		{`{}`, "", true},
		{`{"name":"a","name":"c"}`, "c", true},
		// encoding/json matches keys without regard to case.
		{`{"NAME":"a"}`, "", false},
		{`{"Name":"a"}`, "", false},
		{`{"nAme":"a"}`, "", false},
		// And folds some letters outside ASCII (U+017F is a long s).
		{`{"ſ":"a"}`, "", false},
		{`{"na\u006de":"a"}`, "", false},
		{`{"name":"a",}`, "", false},
		{`{"name":"a"} x`, "", false},
		{`{"name" "a"}`, "", false},
		{`{"other":01}`, "", false},
		{`{"other":1.}`, "", false},
		{`{"other":[1,]}`, "", false},
		{`{"other":nul}`, "", false},
		{`{"name":"a"`, "", false},
		{``, "", false},
	} {
		name, ok := read(tc.doc)
		if ok != tc.ok || ok && name != tc.want {
			t.Errorf("read %q = %q, ok %v; want %q, ok %v", tc.doc, name, ok, tc.want, tc.ok)
		}
	}
}

func TestSkipDepth(t *testing.T) {
	deep := strings.Repeat("[", maxDepth+2) + strings.Repeat("]", maxDepth+2)
	s := New([]byte(deep))
	s.Skip()
	if s.OK() {
		t.Errorf("skipped %d levels of nesting; the bound is %d", maxDepth+2, maxDepth)
	}
	shallow := strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth)
	s = New([]byte(shallow))
	s.Skip()
	s.End()
	if !s.OK() {
		t.Errorf("failed %d levels of nesting", maxDepth)
	}
}

// FuzzSkip holds Skip to encoding/json's idea of valid JSON: what it reads
// is valid, and a valid document too short to nest beyond maxDepth is read.
func FuzzSkip(f *testing.F) {
	for _, seed := range []string{
		`{"a":[1,2,{"b":null}],"c":"d\u00e9\n","e":-0.5e-7,"f":true}`,
		`[]`, `{}`, `"x"`, `0`, `-1.25E+10`, `[1,"\ud800",{"":""}]`, "\"\xff\"",
		`{"a":}`, `[01]`, `1.`, `.5`, `"\q"`, `nulll`, `[1 2]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := New(data)
		s.Skip()
		s.End()
		valid := json.Valid(data)
		if s.OK() && !valid {
			t.Fatalf("skipped %q, which is not valid JSON", data)
		}
		if !s.OK() && valid && len(data) <= 2*maxDepth {
			t.Fatalf("failed valid JSON %q", data)
		}
	})
}

// FuzzString holds String to encoding/json: a string it reads is the one
// encoding/json reads.
func FuzzString(f *testing.F) {
	for _, seed := range []string{`"plain"`, `"\u00e9\ud83d\ude00\n"`, `"é"`, "\"\xc3\"", `"\ud800\udc00"`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := New(data)
		got := s.String()
		s.End()
		if !s.OK() {
			return
		}
		var want string
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("read %q as %q; encoding/json refuses it: %v", data, got, err)
		}
		if got != want {
			t.Fatalf("read %q as %q; encoding/json reads %q", data, got, want)
		}
	})
}

func TestScalars(t *testing.T) {
	for _, tc := range []struct {
		in   string
		read func(*Scanner) any
		want any
		ok   bool
	}{
		{`true`, func(s *Scanner) any { return s.Bool() }, true, true},
		{` false`, func(s *Scanner) any { return s.Bool() }, false, true},
		{`1`, func(s *Scanner) any { return s.Bool() }, false, false},
		{`trux`, func(s *Scanner) any { return s.Bool() }, false, false},
		{`0.7`, func(s *Scanner) any { return s.Float64() }, 0.7, true},
		{`-1.5e-3`, func(s *Scanner) any { return s.Float64() }, -1.5e-3, true},
		{`1e400`, func(s *Scanner) any { return s.Float64() }, 0.0, false},
		{`.5`, func(s *Scanner) any { return s.Float64() }, 0.0, false},
		{`"1"`, func(s *Scanner) any { return s.Float64() }, 0.0, false},
		{` {"a": [1, 2]} `, func(s *Scanner) any { return string(s.Raw()) }, `{"a": [1, 2]}`, true},
		{`null`, func(s *Scanner) any { return string(s.Raw()) }, `null`, true},
		{`{"a":}`, func(s *Scanner) any { return string(s.Raw()) }, ``, false},
	} {
		s := New([]byte(tc.in))
		got := tc.read(s)
		s.End()
		if s.OK() != tc.ok || tc.ok && got != tc.want {
			t.Errorf("read %q = %v, ok %v; want %v, ok %v", tc.in, got, s.OK(), tc.want, tc.ok)
		}
	}
}

// FuzzAppendString holds AppendString to json.Marshal, byte for byte.
func FuzzAppendString(f *testing.F) {
	for _, seed := range []string{"plain", "", "a\"b\\c\n\r\t\b\f\x00\x1f", "<script>&", "caf\u00e9 \u2028\u2029 😀", "bad \xff\xc3 utf-8"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendString(nil, s); string(got) != string(want) {
			t.Fatalf("AppendString(%q) = %s; json.Marshal: %s", s, got, want)
		}
	})
}

// FuzzAppendFloat holds AppendFloat to json.Marshal, byte for byte.
func FuzzAppendFloat(f *testing.F) {
	for _, seed := range []float64{0, 0.7, -1.5, 1e-7, 1e-6, 9.99e-7, 1e20, 1e21, 123456789e15, -2.5e-300, math.MaxFloat64, math.SmallestNonzeroFloat64} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return
		}
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendFloat(nil, v); string(got) != string(want) {
			t.Fatalf("AppendFloat(%v) = %s; json.Marshal: %s", v, got, want)
		}
	})
}

func TestSliceAndOnce(t *testing.T) {
	read := func(doc string) ([]*int, bool) {
		s := New([]byte(doc))
		var got []*int
		var seen uint32
		s.Object(func(key []byte) {
			if string(key) == "a" && s.Once(&seen, 1) {
				got = Slice(s, func(p **int) { *p = s.OptionalInt() })
			} else if string(key) != "a" {
				s.Skip()
			}
		})
		s.End()
		return got, s.OK()
	}
	got, ok := read(`{"a":[1,null,3]}`)
	if !ok || len(got) != 3 || *got[0] != 1 || got[1] != nil || *got[2] != 3 {
		t.Errorf(`read [1,null,3] = %v, ok %v`, got, ok)
	}
	if got, ok := read(`{"a":null}`); !ok || got != nil {
		t.Errorf("read null = %v, ok %v; want nil", got, ok)
	}
	if got, ok := read(`{"a":[]}`); !ok || got == nil || len(got) != 0 {
		t.Errorf("read [] = %v, ok %v; want empty, not nil", got, ok)
	}
	if _, ok := read(`{"a":[1],"a":[2]}`); ok {
		t.Error("read a repeated array member; encoding/json merges those")
	}
}
