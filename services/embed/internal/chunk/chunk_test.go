package chunk

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/html"
)

// sentence returns a distinct sentence of about sixty bytes and, for i
// below 100, 16 estimated tokens.
func sentence(i int) string {
	return fmt.Sprintf("Sentence number %d explains one step of the refund process.", i)
}

// view is what table tests compare of a chunk.
type view struct {
	Path   string
	Header string
	Quoted bool
	Text   string
}

// views returns the views of chunks.
func views(chunks []Chunk) []view {
	var got []view
	for _, c := range chunks {
		got = append(got, view{Path: c.HeadingPath(), Header: c.Header, Quoted: c.Quoted, Text: c.Text})
	}
	return got
}

// splitChecked splits src and checks every invariant of the result.
// splitCase is a source in one format and the chunks expected of it.
type splitCase struct {
	name string
	opts Options
	src  string
	want []view
}

// runSplitCases splits each case's source as format and compares the
// chunks with the case's views.
func runSplitCases(t *testing.T, format Format, cases []splitCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			chunks := splitChecked(t, NewSplitter(tt.opts), format, tt.src)
			if diff := cmp.Diff(tt.want, views(chunks)); diff != "" {
				t.Errorf("Split() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func splitChecked(t *testing.T, s *Splitter, format Format, src string) []Chunk {
	t.Helper()
	chunks := s.SplitFormat("doc", src, format)
	checkInvariants(t, s, format, "doc", src, chunks)
	return chunks
}

// checkInvariants checks what holds for every chunk of every document:
// dense ordinals, offsets inside the source and in order, the text of the
// source (or, for HTML, text drawn from the source region), limits kept,
// no junk, no rune cut in valid input, ids derived from content, and the
// same chunks from a second split.
func checkInvariants(t *testing.T, s *Splitter, format Format, docID, src string, chunks []Chunk) {
	t.Helper()
	opts := s.Options()
	seen := make(map[string]int)
	ids := make(map[string]bool)
	lastStart := -1
	for i, c := range chunks {
		if c.Ordinal != i {
			t.Fatalf("chunk %d has ordinal %d", i, c.Ordinal)
		}
		if c.Start < 0 || c.Start >= c.End || c.End > len(src) {
			t.Fatalf("chunk %d has offsets [%d, %d) outside [0, %d)", i, c.Start, c.End, len(src))
		}
		if c.Start <= lastStart {
			t.Fatalf("chunk %d starts at %d, not after the previous start %d", i, c.Start, lastStart)
		}
		lastStart = c.Start

		if format == FormatHTML {
			checkHTMLText(t, i, src, c)
		} else if c.Text != src[c.Start:c.End] {
			t.Fatalf("chunk %d text %q differs from source[%d:%d] %q", i, c.Text, c.Start, c.End, src[c.Start:c.End])
		}
		if strings.TrimSpace(c.Text) == "" || isJunk(c.Text, opts.MinAlnum) {
			t.Fatalf("chunk %d is junk: %q", i, c.Text)
		}
		if utf8.ValidString(src) && !utf8.ValidString(c.Text) {
			t.Fatalf("chunk %d cut a rune of valid input: %q", i, c.Text)
		}
		if utf8.ValidString(src) && (!utf8.RuneStart(src[c.Start]) || c.End < len(src) && !utf8.RuneStart(src[c.End])) {
			t.Fatalf("chunk %d offsets [%d, %d) cut a rune", i, c.Start, c.End)
		}

		if n := len(c.Header) + len(c.Text); n > opts.MaxChars {
			t.Fatalf("chunk %d has %d bytes, limit %d", i, n, opts.MaxChars)
		}
		if n := countWords(c.Header) + countWords(c.Text); n > opts.MaxWords {
			t.Fatalf("chunk %d has %d words, limit %d", i, n, opts.MaxWords)
		}
		if n := EstimateTokens(c.Header) + EstimateTokens(c.Text); n > opts.MaxTokens {
			t.Fatalf("chunk %d has %d tokens, limit %d", i, n, opts.MaxTokens)
		}

		key := ID(docID, c.Headings, c.Header, c.Text, 0)
		if want := ID(docID, c.Headings, c.Header, c.Text, seen[key]); c.ID != want {
			t.Fatalf("chunk %d id %s, want %s from its content", i, c.ID, want)
		}
		seen[key]++
		if len(c.ID) != IDLength || ids[c.ID] {
			t.Fatalf("chunk %d id %q is not a fresh id of %d characters", i, c.ID, IDLength)
		}
		ids[c.ID] = true

		if format == FormatEmail && !c.Quoted {
			checkFresh(t, i, src, c)
		}
	}

	again := s.SplitFormat(docID, src, format)
	if diff := cmp.Diff(chunks, again); diff != "" {
		t.Fatalf("a second split differs (-first +second):\n%s", diff)
	}
}

// checkHTMLText checks that the text of an HTML chunk comes from its source
// region: its characters but white space appear there in order, once
// character references are decoded, and the region starts and ends with
// the text's first and last characters.
func checkHTMLText(t *testing.T, i int, src string, c Chunk) {
	t.Helper()
	if !utf8.ValidString(c.Text) {
		t.Fatalf("chunk %d text is not valid UTF-8: %q", i, c.Text)
	}
	region := []rune(html.UnescapeString(src[c.Start:c.End]))
	text := []rune(c.Text)
	if len(region) == 0 || len(text) == 0 {
		t.Fatalf("chunk %d has an empty region or text", i)
	}
	if !unicode.IsSpace(text[0]) && text[0] != region[0] {
		t.Fatalf("chunk %d text starts %q, its region %q", i, text[0], region[0])
	}
	if text[len(text)-1] != region[len(region)-1] {
		t.Fatalf("chunk %d text ends %q, its region %q", i, text[len(text)-1], region[len(region)-1])
	}
	j := 0
	for _, r := range text {
		if unicode.IsSpace(r) {
			continue
		}
		for j < len(region) && region[j] != r {
			j++
		}
		if j == len(region) {
			t.Fatalf("chunk %d text %q is not drawn from its region %q", i, c.Text, string(region))
		}
		j++
	}
}

// checkFresh checks that the fresh text of an email holds no line quoted
// with '>'.
func checkFresh(t *testing.T, i int, src string, c Chunk) {
	t.Helper()
	for k, ln := range strings.Split(c.Text, "\n") {
		if k == 0 && c.Start > 0 && src[c.Start-1] != '\n' {
			continue
		}
		if depth, _ := quoteDepth(ln); depth > 0 {
			t.Fatalf("fresh chunk %d holds the quoted line %q", i, ln)
		}
	}
}

func TestNewSplitterDefaults(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		opts Options
		want Options
	}{
		{
			name: "zero",
			want: Options{
				MaxChars: DefaultMaxChars, MaxWords: DefaultMaxWords, MaxTokens: DefaultMaxTokens,
				OverlapTokens: DefaultOverlapTokens, MinAlnum: DefaultMinAlnum,
			},
		},
		{
			name: "tiny limits are raised",
			opts: Options{MaxChars: 1, MaxTokens: 1, Format: FormatHTML},
			want: Options{
				Format: FormatHTML, MaxChars: minMaxChars, MaxWords: DefaultMaxWords, MaxTokens: minMaxTokens,
				OverlapTokens: minMaxTokens / 2, MinAlnum: DefaultMinAlnum,
			},
		},
		{
			name: "no overlap",
			opts: Options{OverlapSentences: -1, Format: "pdf"},
			want: Options{
				MaxChars: DefaultMaxChars, MaxWords: DefaultMaxWords, MaxTokens: DefaultMaxTokens,
				OverlapTokens: -1, MinAlnum: DefaultMinAlnum,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, NewSplitter(tt.opts).Options()); diff != "" {
				t.Errorf("Options() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSplitShortDocumentIsOneChunk(t *testing.T) {
	t.Parallel()

	src := "  Hello there.\n\nYour parcel left the warehouse today.  \n"
	chunks := splitChecked(t, NewSplitter(Options{}), FormatPlain, src)

	text := "Hello there.\n\nYour parcel left the warehouse today."
	want := []Chunk{{
		ID:      ID("doc", nil, "", text, 0),
		Ordinal: 0,
		Text:    text,
		Start:   2,
		End:     53,
	}}
	if diff := cmp.Diff(want, chunks); diff != "" {
		t.Errorf("Split() mismatch (-want +got):\n%s", diff)
	}
}

func TestSplitLongParagraphIsBoundedWithOverlap(t *testing.T) {
	t.Parallel()

	var b strings.Builder
	for i := range 40 {
		b.WriteString(sentence(i))
		b.WriteString(" ")
	}
	src := b.String()
	chunks := splitChecked(t, NewSplitter(Options{}), FormatPlain, src)

	if len(chunks) < 3 {
		t.Fatalf("Split() returned %d chunks, want at least 3", len(chunks))
	}
	for i, c := range chunks[1:] {
		// A sentence is 16 tokens: the 32-token overlap is two sentences.
		overlap := lastSentences(chunks[i].Text, 2)
		if !strings.HasPrefix(c.Text, overlap+" ") {
			t.Errorf("chunk %d starts %q, want the overlap %q", i+1, c.Text[:40], overlap)
		}
	}
	if !strings.HasSuffix(chunks[len(chunks)-1].Text, sentence(39)) {
		t.Errorf("last chunk does not end with the last sentence")
	}
}

func TestSplitOverlapTokens(t *testing.T) {
	t.Parallel()

	var b strings.Builder
	for i := range 30 {
		b.WriteString(sentence(i))
		b.WriteString(" ")
	}
	src := b.String()

	tests := []struct {
		name string
		opts Options
		// want is how many sentences each chunk after the first repeats.
		want int
	}{
		{name: "none", opts: Options{OverlapTokens: -1}, want: 0},
		{name: "none by sentences", opts: Options{OverlapSentences: -1}, want: 0},
		{name: "one sentence", opts: Options{OverlapTokens: 20}, want: 1},
		{name: "two sentences", opts: Options{OverlapTokens: 40}, want: 2},
		{name: "three sentences", opts: Options{OverlapTokens: 60}, want: 3},
		{name: "capped by count", opts: Options{OverlapTokens: 60, OverlapSentences: 2}, want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			chunks := splitChecked(t, NewSplitter(tt.opts), FormatPlain, src)
			if len(chunks) < 2 {
				t.Fatalf("Split() returned %d chunks, want at least 2", len(chunks))
			}
			for i := 1; i < len(chunks); i++ {
				repeated := chunks[i-1].End - chunks[i].Start
				if want := len(lastSentences(chunks[i-1].Text, tt.want)); max(repeated, 0) != want {
					t.Errorf("chunk %d repeats %d bytes of the one before, want %d", i, repeated, want)
				}
			}
		})
	}
}

// lastSentences returns the last n sentences of text, sentences of the
// form sentence returns.
func lastSentences(text string, n int) string {
	if n == 0 {
		return ""
	}
	start := len(text)
	for range n {
		start = strings.LastIndex(text[:start-1], ". ") + 2
	}
	return text[start:]
}

func TestSplitPrefersParagraphBreaks(t *testing.T) {
	t.Parallel()

	para := func(first int) string {
		var b strings.Builder
		for i := first; i < first+5; i++ {
			b.WriteString(sentence(i) + " ")
		}
		return strings.TrimSpace(b.String())
	}
	// Two paragraphs of ~300 bytes fit together; the third would overflow and
	// must start a new chunk rather than be cut after its first sentences.
	src := para(0) + "\n\n" + para(10) + "\n\n" + para(20)
	chunks := splitChecked(t, NewSplitter(Options{MaxTokens: 1000}), FormatPlain, src)

	want := []string{para(0) + "\n\n" + para(10), para(20)}
	if diff := cmp.Diff(want, texts(chunks)); diff != "" {
		t.Errorf("Split() mismatch (-want +got):\n%s", diff)
	}
}

// texts returns the texts of chunks.
func texts(chunks []Chunk) []string {
	var got []string
	for _, c := range chunks {
		got = append(got, c.Text)
	}
	return got
}

func TestSplitLimits(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		opts Options
		src  string
		// want is the number of chunks and the words of each.
		want      int
		wantWords int
	}{
		{name: "words", opts: Options{MaxWords: 100, MaxTokens: 1000}, src: strings.Repeat("go ", 500), want: 5, wantWords: 100},
		{name: "tokens", opts: Options{MaxTokens: 50}, src: strings.Repeat("go ", 500), want: 10, wantWords: 50},
		// "refunds" is two tokens.
		{name: "tokens of long words", opts: Options{MaxTokens: 50}, src: strings.Repeat("refunds ", 100), want: 4, wantWords: 25},
		// A period is a token of its own.
		{name: "punctuation", opts: Options{MaxTokens: 40}, src: strings.Repeat("a. ", 100), want: 5, wantWords: 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.opts.OverlapTokens = -1
			chunks := splitChecked(t, NewSplitter(tt.opts), FormatPlain, tt.src)
			if len(chunks) != tt.want {
				t.Fatalf("Split() returned %d chunks, want %d", len(chunks), tt.want)
			}
			for i, c := range chunks {
				if n := len(strings.Fields(c.Text)); n != tt.wantWords {
					t.Errorf("chunk %d has %d words, want %d", i, n, tt.wantWords)
				}
			}
		})
	}
}

func TestSplitMultiByteText(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		opts Options
		src  string
	}{
		{name: "giant word", opts: Options{MaxChars: 101}, src: strings.Repeat("é", 1000)},
		{name: "CJK without spaces", opts: Options{MaxChars: 100}, src: strings.Repeat("日本語のテキスト", 60)},
		{name: "CJK sentences", opts: Options{MaxTokens: 30}, src: strings.Repeat("返品は三十日以内です。", 30)},
		{name: "emoji", opts: Options{MaxChars: 50}, src: strings.Repeat("Great job 👍🏽 team 👩‍👩‍👧 thanks. ", 20)},
		{name: "emoji inside a giant word", opts: Options{MaxTokens: 9}, src: strings.Repeat("Party🎉time🎉", 50)},
		{name: "mixed markdown", opts: Options{MaxChars: 64}, src: "# 見出し\n\n" + strings.Repeat("中文句子，测试。Ünïcödé words 🚀. ", 20)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, format := range []Format{FormatPlain, FormatMarkdown, FormatEmail, FormatDiff, FormatHTML} {
				chunks := splitChecked(t, NewSplitter(tt.opts), format, tt.src)
				if len(chunks) < 2 {
					t.Errorf("%s: Split() returned %d chunks, want it cut", format, len(chunks))
				}
				for i, c := range chunks {
					if !utf8.ValidString(c.Text) {
						t.Errorf("%s: chunk %d is not valid UTF-8", format, i)
					}
				}
			}
		})
	}
}

func TestSplitCutsGiantWordOnRuneBoundaries(t *testing.T) {
	t.Parallel()

	src := strings.Repeat("é", 1000) // 2000 bytes, no spaces
	chunks := splitChecked(t, NewSplitter(Options{MaxChars: 101, MaxTokens: 1000}), FormatPlain, src)

	total := 0
	for i, c := range chunks {
		if len(c.Text) != 100 && i < len(chunks)-1 {
			t.Errorf("chunk %d has %d bytes, want 100 (50 runes)", i, len(c.Text))
		}
		total += len(c.Text)
	}
	if total != len(src) {
		t.Errorf("chunks cover %d bytes, want %d", total, len(src))
	}
}

func TestSplitDropsJunk(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		format Format
		src    string
		want   []string
	}{
		{name: "empty", src: "", want: nil},
		{name: "whitespace", src: " \n\t\n\r\n ", want: nil},
		{name: "rules", src: "---\n\n***\n\n___", want: nil},
		{name: "symbols", src: "!!! ??? ...", want: nil},
		{name: "headings only", src: "# Title\n\n## Section", want: nil},
		{name: "symbol soup", src: "ok <<<<>>>>{{{{}}}}[[[[]]]]||||~~~~^^^^", want: nil},
		{name: "empty fence", src: "```\n\n```", want: nil},
		{name: "table of symbols", src: "| - | + |\n|---|---|\n| * | / |", want: nil},
		{name: "html markup only", format: FormatHTML, src: "<div><p> </p><br><hr><script>alert(1)</script></div>", want: nil},
		{name: "quoted punctuation", format: FormatEmail, src: "> ...\n> !!!", want: nil},
		{name: "diff of blank lines", format: FormatDiff, src: "--- a/x\n+++ b/x\n@@ -1 +1,2 @@\n-\n+\n+}", want: nil},
		{
			name: "junk between text",
			src:  "# A\n\nFirst real line.\n\n# B\n\n:-)\n\n# C\n\nSecond real line.",
			want: []string{"First real line.", "Second real line."},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			format := tt.format
			if format == "" {
				format = FormatMarkdown
			}
			chunks := splitChecked(t, NewSplitter(Options{}), format, tt.src)
			if diff := cmp.Diff(tt.want, texts(chunks)); diff != "" {
				t.Errorf("Split(%q) mismatch (-want +got):\n%s", tt.src, diff)
			}
		})
	}
}

func TestSentences(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		src  string
		want []string
	}{
		{
			name: "terminators",
			src:  "Is it broken? Yes! It is. Fine",
			want: []string{"Is it broken?", "Yes!", "It is.", "Fine"},
		},
		{
			name: "abbreviations and numbers",
			src:  "Dr. Who paid 3.50 e.g. by card. Mr. X did not. See U.S. law.",
			want: []string{"Dr. Who paid 3.50 e.g. by card.", "Mr. X did not.", "See U.S. law."},
		},
		{
			name: "closing quotes",
			src:  `He said "stop." Then left.`,
			want: []string{`He said "stop."`, "Then left."},
		},
		{
			name: "list items",
			src:  "Steps:\n- open the app\n- tap settings\n1. reset\n| a | b |",
			want: []string{"Steps:", "- open the app", "- tap settings", "1. reset", "| a | b |"},
		},
		{
			name: "soft wrap",
			src:  "This line wraps\nonto the next one.",
			want: []string{"This line wraps\nonto the next one."},
		},
		{
			name: "ellipsis",
			src:  "Wait... what? Ok.",
			want: []string{"Wait...", "what?", "Ok."},
		},
		{
			name: "ideographic full stops",
			src:  "返品できます。三十日以内です！本当？はい",
			want: []string{"返品できます。", "三十日以内です！", "本当？", "はい"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			b := newBuilder(NewSplitter(Options{}), tt.src)
			b.paragraph(0, len(tt.src))
			d := b.doc()

			var got []string
			for _, u := range d.units {
				got = append(got, tt.src[u.start:u.end])
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("sentences(%q) mismatch (-want +got):\n%s", tt.src, diff)
			}
		})
	}
}

func TestSplitFormatDetectsUnknownFormats(t *testing.T) {
	t.Parallel()

	src := "# Returns\n\nReturn the item within 30 days."
	want := NewSplitter(Options{}).SplitFormat("doc", src, FormatMarkdown)
	for _, got := range [][]Chunk{
		NewSplitter(Options{}).Split("doc", src),
		NewSplitter(Options{}).SplitFormat("doc", src, ""),
		NewSplitter(Options{}).SplitFormat("doc", src, "pdf"),
		NewSplitter(Options{Format: "pdf"}).Split("doc", src),
	} {
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Split() with an unknown format mismatch (-want +got):\n%s", diff)
		}
	}
	if got := want[0].HeadingPath(); got != "Returns" {
		t.Errorf("heading path = %q, want Returns", got)
	}
}

func TestEmbedText(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		chunk Chunk
		want  string
	}{
		{name: "no header", chunk: Chunk{Text: "| Pro | 20 |"}, want: "| Pro | 20 |"},
		{
			name:  "header",
			chunk: Chunk{Header: "| Plan | Price |\n|---|---|", Text: "| Pro | 20 |"},
			want:  "| Plan | Price |\n|---|---|\n| Pro | 20 |",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.chunk.EmbedText(); got != tt.want {
				t.Errorf("EmbedText() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestID(t *testing.T) {
	t.Parallel()

	base := ID("doc", []string{"A", "B"}, "", "text", 0)
	if len(base) != IDLength {
		t.Errorf("ID length = %d, want %d", len(base), IDLength)
	}
	// Every input counts, and moving a boundary between fields changes it.
	for name, other := range map[string]string{
		"document":   ID("doc2", []string{"A", "B"}, "", "text", 0),
		"headings":   ID("doc", []string{"A"}, "", "text", 0),
		"joined":     ID("doc", []string{"A B"}, "", "text", 0),
		"header":     ID("doc", []string{"A", "B"}, "h", "text", 0),
		"text":       ID("doc", []string{"A", "B"}, "", "text!", 0),
		"occurrence": ID("doc", []string{"A", "B"}, "", "text", 1),
		"shifted":    ID("doc", []string{"A", "B"}, "text", "", 0),
	} {
		if other == base {
			t.Errorf("ID ignores the %s", name)
		}
	}
	if again := ID("doc", []string{"A", "B"}, "", "text", 0); again != base {
		t.Errorf("ID is not deterministic: %s, then %s", base, again)
	}
}

// editCase is a document before and after an edit of one part.
type editCase struct {
	name   string
	format Format
	opts   Options
	before string
	after  string
	// changed are the texts of chunks after the edit whose ids must be new.
	changed []string
}

func TestIDsSurviveEdits(t *testing.T) {
	t.Parallel()

	section := func(title string, first int) string {
		var b strings.Builder
		b.WriteString("## " + title + "\n\n")
		for i := first; i < first+3; i++ {
			b.WriteString(sentence(i) + "\n\n")
		}
		return b.String()
	}
	md := "# Guide\n\n" + section("One", 0) + section("Two", 10) + section("Three", 20)

	tests := []editCase{
		{
			name:    "markdown paragraph edited",
			format:  FormatMarkdown,
			before:  md,
			after:   strings.Replace(md, sentence(11), "Sentence eleven was rewritten.", 1),
			changed: []string{sentence(10) + "\n\nSentence eleven was rewritten.\n\n" + sentence(12)},
		},
		{
			name:   "markdown section inserted",
			format: FormatMarkdown,
			before: md,
			after:  strings.Replace(md, "## Two", "## New\n\nA brand new section.\n\n## Two", 1),
			// The new chunk moves every later ordinal; no other id changes.
			changed: []string{"A brand new section."},
		},
		{
			name:   "html list item edited",
			format: FormatHTML,
			opts:   Options{MaxChars: 30},
			before: "<h1>T</h1><ul><li>First item of the list.</li><li>Second item of the list.</li>" +
				"<li>Third item.</li></ul><p>Closing words here.</p>",
			after: "<h1>T</h1><ul><li>First item of the list.</li><li>Second item, edited.</li>" +
				"<li>Third item.</li></ul><p>Closing words here.</p>",
			changed: []string{"Second item, edited."},
		},
		{
			name:    "email fresh text edited",
			format:  FormatEmail,
			before:  "Please refund order 1.\n\nOn Mon, Ann wrote:\n> Your order shipped today.",
			after:   "Please refund order 2.\n\nOn Mon, Ann wrote:\n> Your order shipped today.",
			changed: []string{"Please refund order 2."},
		},
		{
			name:    "diff hunk edited",
			format:  FormatDiff,
			before:  "--- a/x.go\n+++ b/x.go\n@@ -1,2 +1,2 @@\n-old line\n+new line\n@@ -9,2 +9,2 @@\n-second old\n+second new\n",
			after:   "--- a/x.go\n+++ b/x.go\n@@ -1,2 +1,2 @@\n-old line\n+newer line\n@@ -9,2 +9,2 @@\n-second old\n+second new\n",
			changed: []string{"-old line\n+newer line"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkEdit(t, tt)
		})
	}
}

// checkEdit checks that an edit changes the ids of the chunks in
// tt.changed and of no other chunk.
func checkEdit(t *testing.T, tt editCase) {
	t.Helper()
	s := NewSplitter(tt.opts)
	before := splitChecked(t, s, tt.format, tt.before)
	after := splitChecked(t, s, tt.format, tt.after)

	oldIDs := make(map[string]bool)
	for _, c := range before {
		oldIDs[c.ID] = true
	}
	var changed []string
	for _, c := range after {
		if !oldIDs[c.ID] {
			changed = append(changed, c.Text)
		}
	}
	if diff := cmp.Diff(tt.changed, changed); diff != "" {
		t.Errorf("chunks with new ids mismatch (-want +got):\n%s", diff)
	}
	if kept := len(after) - len(changed); kept == 0 {
		t.Errorf("no chunk kept its id")
	}
}

func TestIDsOfRepeatedChunks(t *testing.T) {
	t.Parallel()

	src := "# FAQ\n\nSee the manual.\n\n---\n\nSee the manual.\n\n---\n\nSee the manual.\n\n# Other\n\nSee the manual."
	chunks := splitChecked(t, NewSplitter(Options{}), FormatMarkdown, src)

	want := []string{
		ID("doc", []string{"FAQ"}, "", "See the manual.", 0),
		ID("doc", []string{"FAQ"}, "", "See the manual.", 1),
		ID("doc", []string{"FAQ"}, "", "See the manual.", 2),
		ID("doc", []string{"Other"}, "", "See the manual.", 0),
	}
	var got []string
	for _, c := range chunks {
		got = append(got, c.ID)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ids mismatch (-want +got):\n%s", diff)
	}
}

func TestSplitIsIdempotent(t *testing.T) {
	t.Parallel()

	docs := map[Format]string{
		FormatMarkdown: "# A\n\nText one. Text two.\n\n| x | y |\n|---|---|\n| 1 | 2 |",
		FormatHTML:     "<h1>A</h1><p>Text one. Text two.</p><table><tr><th>x</th></tr><tr><td>1</td></tr></table>",
		FormatEmail:    "Fresh words here.\n\nOn Tue, Bob wrote:\n> Older words here.",
		FormatDiff:     "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-old words\n+new words",
		FormatPlain:    "Plain words. More plain words.",
	}
	for format, src := range docs {
		first := NewSplitter(Options{}).SplitFormat("doc-1", src, format)
		second := NewSplitter(Options{}).SplitFormat("doc-1", src, format)
		if len(first) == 0 {
			t.Errorf("%s: no chunks", format)
		}
		if diff := cmp.Diff(first, second); diff != "" {
			t.Errorf("%s: a second split differs (-first +second):\n%s", format, diff)
		}
		other := NewSplitter(Options{}).SplitFormat("doc-2", src, format)
		for i := range other {
			if slices.ContainsFunc(first, func(c Chunk) bool { return c.ID == other[i].ID }) {
				t.Errorf("%s: chunk %d of another document shares an id", format, i)
			}
		}
	}
}
