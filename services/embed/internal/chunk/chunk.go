// Package chunk splits redacted documents into bounded passages for
// embedding. Splitting follows paragraphs and sentences, carries one sentence
// of overlap between neighbouring chunks of a paragraph, tracks Markdown
// headings so that every chunk knows the section it came from, and reports
// byte offsets into the source so a passage can be traced back to its text.
package chunk

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Default limits used when an Options field is zero.
const (
	DefaultMaxChars         = 800
	DefaultMaxWords         = 160
	DefaultOverlapSentences = 1
	DefaultMinAlnum         = 3

	// minMaxChars keeps room for the widest UTF-8 rune in every piece.
	minMaxChars = 16
)

// IDLength is the number of hex characters in a chunk id.
const IDLength = 32

// Options bounds the chunks a Splitter produces.
type Options struct {
	// MaxChars is the largest chunk in bytes of source text (default 800).
	MaxChars int
	// MaxWords is the largest chunk in whitespace-separated words (default 160).
	MaxWords int
	// OverlapSentences is how many trailing sentences of a chunk open the next
	// chunk when a paragraph is cut in the middle (default 1; negative means
	// none).
	OverlapSentences int
	// MinAlnum is the fewest letters and digits a chunk must hold to be kept
	// (default 3).
	MinAlnum int
}

// Chunk is one passage of a document.
type Chunk struct {
	// ID is stable for the same document id, ordinal and text.
	ID string
	// Ordinal numbers the kept chunks of a document from zero.
	Ordinal int
	// Headings is the Markdown heading path of the section, outermost first.
	Headings []string
	// Text is exactly Source[Start:End].
	Text string
	// Start and End are byte offsets into the source.
	Start, End int
}

// HeadingPath joins the chunk's headings with " > ", or returns "" outside any
// section.
func (c Chunk) HeadingPath() string {
	return strings.Join(c.Headings, " > ")
}

// Splitter cuts documents into chunks. It is safe for concurrent use.
type Splitter struct {
	opts Options
}

// NewSplitter returns a Splitter that applies opts, with defaults for zero
// fields.
func NewSplitter(opts Options) *Splitter {
	if opts.MaxChars <= 0 {
		opts.MaxChars = DefaultMaxChars
	}
	opts.MaxChars = max(opts.MaxChars, minMaxChars)
	if opts.MaxWords <= 0 {
		opts.MaxWords = DefaultMaxWords
	}
	if opts.OverlapSentences == 0 {
		opts.OverlapSentences = DefaultOverlapSentences
	}
	opts.OverlapSentences = max(opts.OverlapSentences, 0)
	if opts.MinAlnum <= 0 {
		opts.MinAlnum = DefaultMinAlnum
	}
	return &Splitter{opts: opts}
}

// Options returns the limits the splitter applies, defaults filled in.
func (s *Splitter) Options() Options {
	return s.opts
}

// Split cuts source into chunks for the document docID. Blank and junk
// chunks (too few letters and digits) are dropped; ordinals count the kept
// chunks only.
func (s *Splitter) Split(docID, source string) []Chunk {
	units := s.units(source)

	var (
		chunks []Chunk
		cur    []unit
	)
	emit := func() {
		if len(cur) == 0 {
			return
		}
		start, end := cur[0].start, cur[len(cur)-1].end
		text := source[start:end]
		if !isJunk(text, s.opts.MinAlnum) {
			ordinal := len(chunks)
			chunks = append(chunks, Chunk{
				ID:       ID(docID, ordinal, text),
				Ordinal:  ordinal,
				Headings: cur[0].headings,
				Text:     text,
				Start:    start,
				End:      end,
			})
		}
	}

	for _, u := range units {
		if len(cur) == 0 {
			cur = append(cur, u)
			continue
		}
		last := cur[len(cur)-1]

		// A new section always starts a new chunk.
		if u.section != last.section {
			emit()
			cur = []unit{u}
			continue
		}

		// At a paragraph break, prefer to cut there when the chunk is already
		// half full and the whole next paragraph would not fit.
		start := cur[0].start
		if u.para != last.para && s.halfFull(source, start, last.end) && !s.fits(source, start, u.paraEnd) {
			emit()
			cur = []unit{u}
			continue
		}

		if s.fits(source, start, u.end) {
			cur = append(cur, u)
			continue
		}

		// Cut inside the chunk; carry the last sentences over when the cut
		// falls inside a paragraph so the next chunk keeps its context.
		emit()
		var next []unit
		if u.para == last.para {
			next = s.overlap(source, cur, u)
		}
		cur = append(next, u)
	}
	emit()

	return chunks
}

// ID returns the stable chunk id: hex SHA-256 of the document id, ordinal and
// text, truncated to IDLength characters.
func ID(docID string, ordinal int, text string) string {
	h := sha256.New()
	h.Write([]byte(docID))
	h.Write([]byte{0})
	h.Write([]byte(strconv.Itoa(ordinal)))
	h.Write([]byte{0})
	h.Write([]byte(text))
	return hex.EncodeToString(h.Sum(nil))[:IDLength]
}

// fits reports whether source[start:end] stays within the limits.
func (s *Splitter) fits(source string, start, end int) bool {
	return end-start <= s.opts.MaxChars && countWords(source[start:end]) <= s.opts.MaxWords
}

// halfFull reports whether source[start:end] fills at least half of either
// limit.
func (s *Splitter) halfFull(source string, start, end int) bool {
	return (end-start)*2 >= s.opts.MaxChars || countWords(source[start:end])*2 >= s.opts.MaxWords
}

// overlap returns the trailing units of cur that open the chunk continuing
// with next: at most OverlapSentences of them, all from next's paragraph,
// never the whole of cur, at most half a chunk long and leaving room for next.
func (s *Splitter) overlap(source string, cur []unit, next unit) []unit {
	n := 0
	for i := len(cur) - 1; i >= 1 && n < s.opts.OverlapSentences; i-- {
		if cur[i].para != next.para {
			break
		}
		if (cur[len(cur)-1].end-cur[i].start)*2 > s.opts.MaxChars {
			break
		}
		if !s.fits(source, cur[i].start, next.end) {
			break
		}
		n++
	}
	return slices.Clone(cur[len(cur)-n:])
}

// countWords counts the whitespace-separated words of text, as strings.Fields
// would, without allocating.
func countWords(text string) int {
	n, inWord := 0, false
	for _, r := range text {
		space := unicode.IsSpace(r)
		if !space && !inWord {
			n++
		}
		inWord = !space
	}
	return n
}

// isJunk reports whether text holds fewer than minAlnum letters and digits,
// or is mostly symbols (rules, separators, stray markup).
func isJunk(text string, minAlnum int) bool {
	alnum, other := 0, 0
	for _, r := range text {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			alnum++
		case unicode.IsSpace(r):
		default:
			other++
		}
	}
	if alnum < minAlnum {
		return true
	}
	return alnum*3 < other
}

// trimSpan shrinks [start, end) of source past leading and trailing
// whitespace, staying on rune boundaries.
func trimSpan(source string, start, end int) (int, int) {
	s := source[start:end]
	left := strings.TrimLeftFunc(s, unicode.IsSpace)
	start += len(s) - len(left)
	return start, start + len(strings.TrimRightFunc(left, unicode.IsSpace))
}

// nextRune decodes the rune at i, or returns utf8.RuneError and 0 at the end.
func nextRune(s string, i int) (rune, int) {
	if i >= len(s) {
		return utf8.RuneError, 0
	}
	return utf8.DecodeRuneInString(s[i:])
}
