package redact

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// token is one word of a text: a maximal run of letters, digits and '_'.
// Punctuation and spaces separate tokens. Offsets are bytes.
type token struct {
	start, end int
	digits     int32 // ASCII digits
	letters    int32 // letters of any script
	upper      int32 // upper-case letters
	under      int32 // underscores
	firstUpper bool  // starts with an upper-case letter
	ascii      bool  // every byte is ASCII
}

// len returns the token's length in bytes.
func (t token) len() int { return t.end - t.start }

// isWord reports whether the token is made of letters only.
func (t token) isWord() bool { return t.letters > 0 && t.digits == 0 && t.under == 0 }

// isNumber reports whether the token is made of ASCII digits only.
func (t token) isNumber() bool { return int(t.digits) == t.len() }

// scan is what one pass over a text learns, shared by every recogniser so
// that none of them has to read the whole text byte by byte again. A
// recogniser walks the tokens it cares about (those with digits, those that
// start upper case, long mixed ones) and reads the text around them.
type scan struct {
	text   string
	tokens []token
	// nonASCII is set when the text holds any byte >= 0x80.
	nonASCII bool
	// profile says what kind of text this is.
	profile Profile
	// newlines holds the offset of every '\n', ascending; built on first
	// use by lineStart.
	newlines      []int
	newlinesReady bool
}

// Profile is the kind of text being redacted. Recognisers that rely on
// prose conventions (names after greetings, capitalised words) are stricter
// in code, diffs and logs, where identifiers look like names.
type Profile uint8

// Profiles of text.
const (
	ProfileProse Profile = iota // emails, chat, notes
	ProfileCode                 // source code, unified diffs, configuration
	ProfileLog                  // application and access logs
)

// byteClass tells, for each ASCII byte, whether it continues a token and
// what kind of character it is.
const (
	classOther = iota
	classDigit
	classLower
	classUpper
	classUnderscore
)

var asciiClass = func() (t [utf8.RuneSelf]uint8) {
	for b := '0'; b <= '9'; b++ {
		t[b] = classDigit
	}
	for b := 'a'; b <= 'z'; b++ {
		t[b] = classLower
	}
	for b := 'A'; b <= 'Z'; b++ {
		t[b] = classUpper
	}
	t['_'] = classUnderscore
	return t
}()

// newScan splits text into tokens. It reads every byte once; non-ASCII
// runes are decoded so that letters of every script form words.
//
// A scan comes from a pool; give it back with release once no candidate
// needs it any more.
func newScan(text string, profile Profile) *scan {
	s := scanPool.Get().(*scan)
	s.text, s.profile, s.nonASCII = text, profile, false
	s.newlines, s.newlinesReady = s.newlines[:0], false
	if want := len(text)/5 + 1; cap(s.tokens) < want {
		s.tokens = make([]token, 0, want) // one allocation instead of doubling
	}
	s.tokens = s.tokens[:0]
	for i := 0; i < len(text); {
		// Outside a token: skip separators.
		b := text[i]
		if b < utf8.RuneSelf {
			if asciiClass[b] == classOther {
				i++
				continue
			}
		} else {
			s.nonASCII = true
			r, w := utf8.DecodeRuneInString(text[i:])
			if !isTokenRune(r) {
				i += w
				continue
			}
		}
		i = s.readToken(i)
	}
	return s
}

// isTokenRune reports whether a non-ASCII rune continues a token: a letter,
// a digit, or a combining mark (so that vowel signs stay inside their word).
func isTokenRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.In(r, unicode.Mn, unicode.Mc)
}

// readToken reads the token that starts at i, appends it, and returns
// where it ends. ASCII bytes take the fast path of a table lookup.
func (s *scan) readToken(i int) int {
	text := s.text
	t := token{start: i, ascii: true}
read:
	for i < len(text) {
		b := text[i]
		if b < utf8.RuneSelf {
			switch asciiClass[b] {
			case classOther:
				break read
			case classDigit:
				t.digits++
			case classLower:
				t.letters++
			case classUpper:
				if i == t.start {
					t.firstUpper = true
				}
				t.letters++
				t.upper++
			case classUnderscore:
				t.under++
			}
			i++
			continue
		}
		s.nonASCII = true
		r, w := utf8.DecodeRuneInString(text[i:])
		if !isTokenRune(r) {
			break read
		}
		t.ascii = false
		if unicode.IsLetter(r) {
			t.letters++
			if unicode.IsUpper(r) {
				t.upper++
				if i == t.start {
					t.firstUpper = true
				}
			}
		}
		i += w
	}
	t.end = i
	s.tokens = append(s.tokens, t)
	return i
}

// scanPool keeps scans, and their token slices, between texts.
var scanPool = sync.Pool{New: func() any { return new(scan) }}

// maxPooledTokens bounds the token slice a pooled scan keeps, so that one
// huge text does not pin its tokens in memory.
const maxPooledTokens = 1 << 16

// release returns s to the pool. s must not be used afterwards.
func (s *scan) release() {
	s.text = ""
	if cap(s.tokens) > maxPooledTokens {
		s.tokens = nil
	}
	if cap(s.newlines) > maxPooledTokens {
		s.newlines = nil
	}
	scanPool.Put(s)
}

// lineStart returns the offset where the line holding byte offset i
// starts. The newlines are found once per text, with a vectorised search,
// so that recognisers asking for many lines do not scan backwards each time.
func (s *scan) lineStart(i int) int {
	if !s.newlinesReady {
		for from := 0; ; {
			j := strings.IndexByte(s.text[from:], '\n')
			if j < 0 {
				break
			}
			s.newlines = append(s.newlines, from+j)
			from += j + 1
		}
		s.newlinesReady = true
	}
	// The last newline before i.
	lo, hi := 0, len(s.newlines)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s.newlines[m] < i {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return 0
	}
	return s.newlines[lo-1] + 1
}

// tokenAt returns the index of the first token that ends after byte offset
// i, or len(s.tokens) when there is none.
func (s *scan) tokenAt(i int) int {
	lo, hi := 0, len(s.tokens)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s.tokens[m].end <= i {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// word returns the text of token k.
func (s *scan) word(k int) string {
	t := s.tokens[k]
	return s.text[t.start:t.end]
}

// gap returns the text between token k-1 and token k (everything before
// the first token when k is 0).
func (s *scan) gap(k int) string {
	start := 0
	if k > 0 {
		start = s.tokens[k-1].end
	}
	end := len(s.text)
	if k < len(s.tokens) {
		end = s.tokens[k].start
	}
	return s.text[start:end]
}

// lineBreakBetween reports whether a line break separates byte offsets a
// and b.
func (s *scan) lineBreakBetween(a, b int) bool {
	return strings.IndexByte(s.text[a:b], '\n') >= 0
}

// prevWordIn reports whether one of the n tokens before token k, all on
// the same line as it, equals (ignoring case) a word of set. set holds
// lower-case words.
func (s *scan) prevWordIn(k, n int, set map[string]bool) bool {
	for j := k - 1; j >= 0 && j >= k-n; j-- {
		if s.lineBreakBetween(s.tokens[j].end, s.tokens[k].start) {
			return false
		}
		if lowerIn(s.word(j), set) {
			return true
		}
	}
	return false
}

// lowerIn reports whether w, lower-cased, is in set. Short ASCII words are
// lower-cased without allocating.
func lowerIn(w string, set map[string]bool) bool {
	var buf [32]byte
	if len(w) <= len(buf) {
		ascii := true
		for i := 0; i < len(w); i++ {
			b := w[i]
			if b >= utf8.RuneSelf {
				ascii = false
				break
			}
			if b >= 'A' && b <= 'Z' {
				b += 'a' - 'A'
			}
			buf[i] = b
		}
		if ascii {
			return set[string(buf[:len(w)])]
		}
	}
	return set[strings.ToLower(w)]
}
