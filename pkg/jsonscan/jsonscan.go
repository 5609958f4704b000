// Package jsonscan reads JSON documents of a known shape without
// reflection, for the few documents on a hot path: a provider's reply and
// each chunk of its stream, read thousands of times a second.
//
// A Scanner reads only the common case. It stops at anything it does not
// read exactly as encoding/json would (an escape it does not decode, a key
// that names a field only when case is ignored, invalid UTF-8, a number out
// of range, a value of an unexpected type, invalid JSON) and the caller
// decodes the document again with encoding/json, which then gives its own
// value or error. A document therefore decodes to the same value either
// way; only the time differs.
//
// AppendString is the writing half: the strings of a document written
// without reflection, byte for byte as json.Marshal writes them.
//
// Readers report failure through the Scanner: once it has failed, every
// method returns zero values and consumes nothing, so a reader can run to
// its end and check OK once.
package jsonscan

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds the nesting of skipped values. Deeper documents are read
// by encoding/json.
const maxDepth = 256

// Scanner reads one JSON document.
type Scanner struct {
	data   []byte
	pos    int
	failed bool
}

// New returns a Scanner over data, which must not change while it is read.
func New(data []byte) *Scanner {
	return &Scanner{data: data}
}

// OK reports whether everything read so far was read as encoding/json
// would read it.
func (s *Scanner) OK() bool { return !s.failed }

// Fail marks the document as one for encoding/json.
func (s *Scanner) Fail() {
	s.failed = true
	s.pos = len(s.data)
}

// End checks that nothing but whitespace follows the document.
func (s *Scanner) End() {
	s.space()
	if s.pos != len(s.data) {
		s.Fail()
	}
}

func (s *Scanner) space() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// peek returns the first byte of the next value, or 0 at the end.
func (s *Scanner) peek() byte {
	s.space()
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

// Null reads a null and reports true if the next value is one; otherwise
// it reads nothing.
func (s *Scanner) Null() bool {
	if s.peek() == 'n' {
		s.literal("null")
		return !s.failed
	}
	return false
}

func (s *Scanner) literal(word string) {
	if len(s.data)-s.pos < len(word) || string(s.data[s.pos:s.pos+len(word)]) != word {
		s.Fail()
		return
	}
	s.pos += len(word)
}

// Object reads an object, calling member with each key; member must read
// the member's value. A key holding an escape fails the document.
func (s *Scanner) Object(member func(key []byte)) {
	if s.peek() != '{' {
		s.Fail()
		return
	}
	s.pos++
	if s.peek() == '}' {
		s.pos++
		return
	}
	for !s.failed {
		key := s.key()
		if s.peek() != ':' {
			s.Fail()
			return
		}
		s.pos++
		member(key)
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return
		default:
			s.Fail()
		}
	}
}

// key reads an object key that needs no unescaping, returning its bytes.
func (s *Scanner) key() []byte {
	if s.peek() != '"' {
		s.Fail()
		return nil
	}
	start := s.pos + 1
	for i := start; i < len(s.data); i++ {
		switch c := s.data[i]; {
		case c == '"':
			s.pos = i + 1
			return s.data[start:i]
		case c == '\\' || c < 0x20:
			s.Fail()
			return nil
		}
	}
	s.Fail()
	return nil
}

// Array reads an array, calling elem once per element; elem must read it.
func (s *Scanner) Array(elem func()) {
	if s.peek() != '[' {
		s.Fail()
		return
	}
	s.pos++
	if s.peek() == ']' {
		s.pos++
		return
	}
	for !s.failed {
		elem()
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return
		default:
			s.Fail()
		}
	}
}

// Unknown reads the value of a member that is none of fields. A key that
// equals one of them when case is ignored names that field for
// encoding/json, and so fails the document, as does any key outside ASCII
// (encoding/json folds some of those too).
func (s *Scanner) Unknown(key []byte, fields ...string) {
	for _, c := range key {
		if c >= utf8.RuneSelf {
			s.Fail()
			return
		}
	}
	for _, f := range fields {
		if foldEqual(key, f) {
			s.Fail()
			return
		}
	}
	s.Skip()
}

// foldEqual reports whether ASCII key equals f when case is ignored.
func foldEqual(key []byte, f string) bool {
	if len(key) != len(f) {
		return false
	}
	for i, c := range key {
		if c|0x20 != f[i]|0x20 || c|0x20 < 'a' || c|0x20 > 'z' {
			if c != f[i] {
				return false
			}
		}
	}
	return true
}

// String reads a string.
func (s *Scanner) String() string {
	if s.peek() != '"' {
		s.Fail()
		return ""
	}
	start := s.pos + 1
	i := start
	ascii := true
	for ; i < len(s.data); i++ {
		c := s.data[i]
		if c == '"' {
			break
		}
		if c == '\\' {
			return s.unescape(start, i, ascii)
		}
		if c < 0x20 {
			s.Fail()
			return ""
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	if i == len(s.data) || !ascii && !utf8.Valid(s.data[start:i]) {
		// Unterminated, or invalid UTF-8 that encoding/json would replace.
		s.Fail()
		return ""
	}
	s.pos = i + 1
	return string(s.data[start:i])
}

// unescape reads the rest of a string whose first escape is at i.
func (s *Scanner) unescape(start, i int, ascii bool) string {
	buf := make([]byte, i-start, i-start+16)
	copy(buf, s.data[start:i])
	for i < len(s.data) {
		c := s.data[i]
		switch {
		case c == '"':
			if !ascii && !utf8.Valid(buf) {
				s.Fail()
				return ""
			}
			s.pos = i + 1
			return string(buf)
		case c < 0x20:
			s.Fail()
			return ""
		case c != '\\':
			if c >= utf8.RuneSelf {
				ascii = false
			}
			buf = append(buf, c)
			i++
			continue
		}
		if i+1 >= len(s.data) {
			break
		}
		switch e := s.data[i+1]; e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, n := s.codePoint(i)
			if n == 0 {
				s.Fail()
				return ""
			}
			buf = utf8.AppendRune(buf, r)
			i += n
			continue
		default:
			s.Fail()
			return ""
		}
		i += 2
	}
	s.Fail()
	return ""
}

// codePoint decodes the \u escape at i, with the low half of a surrogate
// pair that follows it, returning the rune and the bytes read; n is 0 for
// what encoding/json would replace (a lone surrogate) or refuse.
func (s *Scanner) codePoint(i int) (r rune, n int) {
	hi, ok := hex4(s.data, i+2)
	if !ok {
		return 0, 0
	}
	if !utf16.IsSurrogate(hi) {
		return hi, 6
	}
	if i+12 > len(s.data) || s.data[i+6] != '\\' || s.data[i+7] != 'u' {
		return 0, 0
	}
	lo, ok := hex4(s.data, i+8)
	if !ok {
		return 0, 0
	}
	r = utf16.DecodeRune(hi, lo)
	if r == utf8.RuneError {
		return 0, 0
	}
	return r, 12
}

func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[at : at+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// Int64 reads an integer. Fractions, exponents and integers of more than
// 18 digits fail the document: encoding/json refuses the first two for an
// integer field and reads the last itself.
func (s *Scanner) Int64() int64 {
	s.space()
	i := s.pos
	neg := i < len(s.data) && s.data[i] == '-'
	if neg {
		i++
	}
	digits := i
	var v int64
	for i < len(s.data) && '0' <= s.data[i] && s.data[i] <= '9' {
		v = v*10 + int64(s.data[i]-'0')
		i++
	}
	n := i - digits
	if n == 0 || n > 18 || n > 1 && s.data[digits] == '0' {
		s.Fail()
		return 0
	}
	if i < len(s.data) {
		switch s.data[i] {
		case '.', 'e', 'E':
			s.Fail()
			return 0
		}
	}
	s.pos = i
	if neg {
		return -v
	}
	return v
}

// Bool reads true or false.
func (s *Scanner) Bool() bool {
	switch s.peek() {
	case 't':
		s.literal("true")
		return !s.failed
	case 'f':
		s.literal("false")
	default:
		s.Fail()
	}
	return false
}

// Float64 reads a number. One out of range fails the document, which
// encoding/json refuses.
func (s *Scanner) Float64() float64 {
	s.space()
	start := s.pos
	s.number()
	if s.failed {
		return 0
	}
	f, err := strconv.ParseFloat(string(s.data[start:s.pos]), 64)
	if err != nil {
		s.Fail()
		return 0
	}
	return f
}

// Raw reads any valid value and returns its bytes, which share the
// document's memory.
func (s *Scanner) Raw() []byte {
	s.space()
	start := s.pos
	s.Skip()
	if s.failed {
		return nil
	}
	return s.data[start:s.pos:s.pos]
}

// Skip reads any valid value.
func (s *Scanner) Skip() { s.skip(0) }

func (s *Scanner) skip(depth int) {
	if depth > maxDepth {
		s.Fail()
		return
	}
	switch s.peek() {
	case '{':
		s.Object(func([]byte) { s.skip(depth + 1) })
	case '[':
		s.Array(func() { s.skip(depth + 1) })
	case '"':
		s.skipString()
	case 't':
		s.literal("true")
	case 'f':
		s.literal("false")
	case 'n':
		s.literal("null")
	default:
		s.number()
	}
}

// skipString reads a string without building it; escapes are checked,
// and invalid UTF-8 is allowed, as encoding/json allows it.
func (s *Scanner) skipString() {
	i := s.pos + 1
	for i < len(s.data) {
		c := s.data[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return
		case c < 0x20:
			s.Fail()
			return
		case c == '\\':
			if i+1 >= len(s.data) {
				s.Fail()
				return
			}
			switch s.data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if _, ok := hex4(s.data, i+2); !ok {
					s.Fail()
					return
				}
				i += 6
			default:
				s.Fail()
				return
			}
		default:
			i++
		}
	}
	s.Fail()
}

// number reads a number by JSON's grammar.
func (s *Scanner) number() {
	d, i := s.data, s.pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && '1' <= d[i] && d[i] <= '9':
		i = digits(d, i)
	default:
		s.Fail()
		return
	}
	if i < len(d) && d[i] == '.' {
		if j := digits(d, i+1); j > i+1 {
			i = j
		} else {
			s.Fail()
			return
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if j := digits(d, i); j > i {
			i = j
		} else {
			s.Fail()
			return
		}
	}
	s.pos = i
}

func digits(d []byte, i int) int {
	for i < len(d) && '0' <= d[i] && d[i] <= '9' {
		i++
	}
	return i
}

// Once reports whether bit is not yet in seen, and adds it. encoding/json
// merges a repeated object or array member into what the first one decoded,
// which readers do not copy: a composite member read twice fails the
// document. Readers fill zero values, so a composite member met once and
// null needs nothing: it is already the nil encoding/json would set.
func (s *Scanner) Once(seen *uint32, bit uint32) bool {
	if *seen&bit != 0 {
		s.Fail()
		return false
	}
	*seen |= bit
	return true
}

// StringTo reads a string into *p; null leaves *p as it is, as
// encoding/json leaves a string field.
func (s *Scanner) StringTo(p *string) {
	if !s.Null() {
		*p = s.String()
	}
}

// OptionalString reads a string, or null as nil.
func (s *Scanner) OptionalString() *string {
	if s.Null() {
		return nil
	}
	v := s.String()
	return &v
}

// OptionalInt reads an integer, or null as nil.
func (s *Scanner) OptionalInt() *int {
	if s.Null() {
		return nil
	}
	v := int(s.Int64())
	return &v
}

// OptionalInt64 reads an integer, or null as nil.
func (s *Scanner) OptionalInt64() *int64 {
	if s.Null() {
		return nil
	}
	v := s.Int64()
	return &v
}

// OptionalFloat64 reads a number, or null as nil.
func (s *Scanner) OptionalFloat64() *float64 {
	if s.Null() {
		return nil
	}
	v := s.Float64()
	return &v
}

// OptionalBool reads true or false, or null as nil.
func (s *Scanner) OptionalBool() *bool {
	if s.Null() {
		return nil
	}
	v := s.Bool()
	return &v
}

// Slice reads an array, or null as nil, calling elem to read each element
// into its place.
func Slice[T any](s *Scanner, elem func(*T)) []T {
	if s.Null() {
		return nil
	}
	out := make([]T, 0, 1)
	s.Array(func() {
		var zero T
		out = append(out, zero)
		elem(&out[len(out)-1])
	})
	return out
}
