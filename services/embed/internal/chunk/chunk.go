// Package chunk splits redacted documents into bounded passages for
// embedding, following the structure of each document format.
//
// A document is first read into blocks: paragraphs, lists, tables and code
// blocks of Markdown; the same elements of HTML; the fresh text and the
// quoted reply chain of an email; the hunks of a unified diff. Blocks are cut
// into units that a chunk may begin or end at (sentences, list items, table
// rows, lines), and units are packed into chunks bounded in bytes, words and
// estimated tokens. Neighbouring blocks of one section share a chunk when
// they fit; a block that fits in a chunk of its own is never cut; a block
// that must be cut is cut between items (list items, table rows) when it
// can, and where a paragraph, list item, code block or hunk is cut, the
// chunks on either side share a few sentences or lines of overlap.
// Headings, thematic breaks, diff hunks and the edges of quoted text are
// hard boundaries that no chunk crosses.
//
// Every chunk knows its heading path and its byte offsets into the source,
// and its id derives from its content, so splitting the same document again
// gives the same ids.
package chunk

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"strconv"
	"strings"
	"unicode"
)

// Version names the splitting rules. It changes whenever the same document
// and options give different chunks, so that callers can tell stale chunks
// from current ones (the embed service puts it in its content hash).
const Version = "2"

// Default limits used when an Options field is zero.
const (
	DefaultMaxChars      = 800
	DefaultMaxWords      = 160
	DefaultMaxTokens     = 256
	DefaultOverlapTokens = 32
	DefaultMinAlnum      = 3

	// DefaultOverlapSentences is zero: the overlap is bounded by
	// OverlapTokens alone, not by a count of sentences or lines.
	DefaultOverlapSentences = 0

	// minMaxChars keeps room for the widest UTF-8 rune in every piece.
	minMaxChars = 16
	// minMaxTokens keeps room for a few words in every piece.
	minMaxTokens = 8
)

// IDLength is the number of hex characters in a chunk id.
const IDLength = 32

// Options bounds the chunks a Splitter produces. A chunk stays within every
// limit at once; its Header, when it has one, counts towards the limits too.
type Options struct {
	// Format is the format of the documents Split reads. Empty (or an unknown
	// name) means DetectFormat decides from each document's content.
	Format Format
	// MaxChars is the largest chunk in bytes of text (default 800).
	MaxChars int
	// MaxWords is the largest chunk in whitespace-separated words (default
	// 160).
	MaxWords int
	// MaxTokens is the largest chunk in estimated tokens (default 256); see
	// EstimateTokens.
	MaxTokens int
	// OverlapTokens bounds, in estimated tokens, the trailing sentences or
	// lines of a chunk that open the next chunk when a block is cut in the
	// middle (default 32; negative means none). The overlap is whole
	// sentences or lines, never more than half a chunk.
	OverlapTokens int
	// OverlapSentences, when positive, also bounds the overlap in sentences
	// or lines; zero leaves it to OverlapTokens and negative means none.
	OverlapSentences int
	// MinAlnum is the fewest letters and digits a chunk must hold to be kept
	// (default 3).
	MinAlnum int
}

// Chunk is one passage of a document.
type Chunk struct {
	// ID derives from the document id, the heading path, the header and the
	// text of the chunk, and from how many earlier chunks of the document
	// have the same ones; see ID.
	ID string
	// Ordinal numbers the kept chunks of a document from zero, in order.
	Ordinal int
	// Headings is the heading path of the section, outermost first: Markdown
	// and HTML headings, the path of a diff's file, the attribution lines
	// ("On ... wrote:") of quoted email text.
	Headings []string
	// Header is text from elsewhere in the source that the chunk needs to be
	// read: the hunk header line of a diff chunk, the header row of the table
	// a chunk continues, or the opening fence of the code block it
	// continues. It is not part of Text; EmbedText puts it in front. A
	// header that would take more than half of any limit is left out.
	Header string
	// Quoted marks a chunk of the quoted reply chain of an email. Quoted and
	// fresh text never share a chunk.
	Quoted bool
	// Text is the passage. For every format but HTML it is exactly
	// Source[Start:End]. For HTML it is the readable text of
	// Source[Start:End]: tags, comments, scripts and styles removed,
	// character references decoded, runs of white space collapsed to one
	// space, blocks separated by a blank line, list items and table rows by
	// a newline and table cells by a tab. Every character of an HTML Text
	// but white space comes from Source[Start:End], in order.
	Text string
	// Start and End are byte offsets into the source. For HTML they are the
	// start of the first and the end of the last character of Text.
	Start, End int
}

// HeadingPath joins the chunk's headings with " > ", or returns "" outside any
// section.
func (c Chunk) HeadingPath() string {
	return strings.Join(c.Headings, " > ")
}

// EmbedText is what should be embedded for the chunk: its Header, when it
// has one, on a line before its Text.
func (c Chunk) EmbedText() string {
	if c.Header == "" {
		return c.Text
	}
	return c.Header + "\n" + c.Text
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
	if opts.MaxTokens <= 0 {
		opts.MaxTokens = DefaultMaxTokens
	}
	opts.MaxTokens = max(opts.MaxTokens, minMaxTokens)
	if opts.OverlapTokens == 0 {
		opts.OverlapTokens = DefaultOverlapTokens
	}
	if opts.OverlapSentences < 0 {
		opts.OverlapTokens = -1
	}
	opts.OverlapTokens = min(max(opts.OverlapTokens, -1), opts.MaxTokens/2)
	opts.OverlapSentences = max(opts.OverlapSentences, 0)
	if opts.MinAlnum <= 0 {
		opts.MinAlnum = DefaultMinAlnum
	}
	if !opts.Format.known() {
		opts.Format = ""
	}
	return &Splitter{opts: opts}
}

// Options returns the limits the splitter applies, defaults filled in. A
// negative OverlapTokens means no overlap.
func (s *Splitter) Options() Options {
	return s.opts
}

// Split cuts source into chunks for the document docID, reading it in the
// splitter's Format, or in the format DetectFormat finds in it when the
// splitter has none. Blank and junk chunks (too few letters and digits, or
// mostly symbols) are dropped; ordinals count the kept chunks only.
func (s *Splitter) Split(docID, source string) []Chunk {
	format := s.opts.Format
	if format == "" {
		format = DetectFormat("", source)
	}
	return s.SplitFormat(docID, source, format)
}

// SplitFormat is Split for a document in the given format. An empty or
// unknown format is detected from the content.
func (s *Splitter) SplitFormat(docID, source string, format Format) []Chunk {
	if !format.known() || format == "" {
		format = DetectFormat("", source)
	}

	b := newBuilder(s, source)
	switch format {
	case FormatMarkdown:
		parseMarkdown(b)
	case FormatHTML:
		parseHTML(b)
	case FormatEmail:
		parseEmail(b)
	case FormatDiff:
		parseDiff(b)
	default:
		parsePlain(b, 0, len(source))
	}
	return s.pack(docID, b.doc())
}

// ID returns the stable id of a chunk: the hex SHA-256 of the document id,
// the heading path, the header and the text of the chunk and its occurrence
// (how many earlier chunks of the document have the same heading path,
// header and text), truncated to IDLength characters. The position of the
// chunk does not count, so chunks before it may come and go without
// changing it.
func ID(docID string, headings []string, header, text string, occurrence int) string {
	h := sha256.New()
	writeField(h, docID)
	writeField(h, strconv.Itoa(len(headings)))
	for _, heading := range headings {
		writeField(h, heading)
	}
	writeField(h, header)
	writeField(h, text)
	writeField(h, strconv.Itoa(occurrence))
	return hex.EncodeToString(h.Sum(nil))[:IDLength]
}

// writeField writes s length-prefixed, so field boundaries cannot shift.
func writeField(h hash.Hash, s string) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(s)))
	h.Write(n[:])
	h.Write([]byte(s))
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
