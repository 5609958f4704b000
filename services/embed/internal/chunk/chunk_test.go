package chunk

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// sentence returns a distinct sentence of about sixty bytes.
func sentence(i int) string {
	return fmt.Sprintf("Sentence number %d explains one step of the refund process.", i)
}

func TestSplitShortDocumentIsOneChunk(t *testing.T) {
	t.Parallel()

	src := "  Hello there.\n\nYour parcel left the warehouse today.  \n"
	chunks := NewSplitter(Options{}).Split("doc-1", src)

	want := []Chunk{{
		ID:      ID("doc-1", 0, "Hello there.\n\nYour parcel left the warehouse today."),
		Ordinal: 0,
		Text:    "Hello there.\n\nYour parcel left the warehouse today.",
		Start:   2,
		End:     53,
	}}
	if diff := cmp.Diff(want, chunks); diff != "" {
		t.Errorf("Split() mismatch (-want +got):\n%s", diff)
	}
}

func TestSplitTracksHeadings(t *testing.T) {
	t.Parallel()

	src := strings.Join([]string{
		"Intro text before any heading.",
		"# Refund policy",
		"Refunds are issued within 14 days.",
		"## Eligibility ##",
		"Items must be unused.",
		"### Exceptions",
		"Gift cards cannot be refunded.",
		"## Process",
		"Open a ticket with the order number.",
		"```",
		"# not a heading inside a fence",
		"```",
	}, "\n\n")
	chunks := NewSplitter(Options{}).Split("doc", src)

	type got struct {
		Path string
		Text string
	}
	var gotChunks []got
	for _, c := range chunks {
		gotChunks = append(gotChunks, got{Path: c.HeadingPath(), Text: c.Text})
	}
	want := []got{
		{Path: "", Text: "Intro text before any heading."},
		{Path: "Refund policy", Text: "Refunds are issued within 14 days."},
		{Path: "Refund policy > Eligibility", Text: "Items must be unused."},
		{Path: "Refund policy > Eligibility > Exceptions", Text: "Gift cards cannot be refunded."},
		{
			Path: "Refund policy > Process",
			Text: "Open a ticket with the order number.\n\n```\n\n# not a heading inside a fence",
		},
	}
	if diff := cmp.Diff(want, gotChunks); diff != "" {
		t.Errorf("Split() heading paths mismatch (-want +got):\n%s", diff)
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
	chunks := NewSplitter(Options{}).Split("doc", src)

	if len(chunks) < 3 {
		t.Fatalf("Split() returned %d chunks, want at least 3", len(chunks))
	}
	for i, c := range chunks {
		if len(c.Text) > DefaultMaxChars {
			t.Errorf("chunk %d has %d bytes, want at most %d", i, len(c.Text), DefaultMaxChars)
		}
		if c.Text != src[c.Start:c.End] {
			t.Errorf("chunk %d text does not match source[%d:%d]", i, c.Start, c.End)
		}
		if i == 0 {
			continue
		}
		// The next chunk opens with the last sentence of the previous one.
		prev := chunks[i-1].Text
		lastSentence := prev[strings.LastIndex(prev[:len(prev)-1], ". ")+2:]
		if !strings.HasPrefix(c.Text, lastSentence) {
			t.Errorf("chunk %d starts %q, want the overlap %q", i, c.Text[:40], lastSentence)
		}
	}
	if !strings.HasSuffix(chunks[len(chunks)-1].Text, sentence(39)) {
		t.Errorf("last chunk does not end with the last sentence")
	}
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
	chunks := NewSplitter(Options{}).Split("doc", src)

	got := make([]string, 0, len(chunks))
	for _, c := range chunks {
		got = append(got, c.Text)
	}
	want := []string{para(0) + "\n\n" + para(10), para(20)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Split() mismatch (-want +got):\n%s", diff)
	}
}

func TestSplitWordLimit(t *testing.T) {
	t.Parallel()

	src := strings.Repeat("go ", 500)
	chunks := NewSplitter(Options{MaxWords: 100}).Split("doc", src)

	if len(chunks) != 5 {
		t.Fatalf("Split() returned %d chunks, want 5", len(chunks))
	}
	for i, c := range chunks {
		if n := len(strings.Fields(c.Text)); n != 100 {
			t.Errorf("chunk %d has %d words, want 100", i, n)
		}
	}
}

func TestSplitCutsGiantWordOnRuneBoundaries(t *testing.T) {
	t.Parallel()

	src := strings.Repeat("é", 1000) // 2000 bytes, no spaces
	chunks := NewSplitter(Options{MaxChars: 101}).Split("doc", src)

	total := 0
	for i, c := range chunks {
		if !utf8.ValidString(c.Text) {
			t.Errorf("chunk %d is not valid UTF-8", i)
		}
		if len(c.Text) > 101 {
			t.Errorf("chunk %d has %d bytes, want at most 101", i, len(c.Text))
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
		name string
		src  string
		want []string
	}{
		{name: "empty", src: "", want: nil},
		{name: "whitespace", src: " \n\t\n\r\n ", want: nil},
		{name: "rules", src: "---\n\n***\n\n___", want: nil},
		{name: "symbols", src: "!!! ??? ...", want: nil},
		{name: "headings only", src: "# Title\n\n## Section", want: nil},
		{name: "symbol soup", src: "ok <<<<>>>>{{{{}}}}[[[[]]]]||||~~~~^^^^", want: nil},
		{
			name: "junk between text",
			src:  "# A\n\nFirst real line.\n\n# B\n\n:-)\n\n# C\n\nSecond real line.",
			want: []string{"First real line.", "Second real line."},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			chunks := NewSplitter(Options{}).Split("doc", tt.src)

			var got []string
			for i, c := range chunks {
				if c.Ordinal != i {
					t.Errorf("chunk %d has ordinal %d", i, c.Ordinal)
				}
				got = append(got, c.Text)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			units := NewSplitter(Options{}).units(tt.src)

			var got []string
			for _, u := range units {
				got = append(got, tt.src[u.start:u.end])
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("units(%q) mismatch (-want +got):\n%s", tt.src, diff)
			}
		})
	}
}

func TestIDIsStable(t *testing.T) {
	t.Parallel()

	src := "# Returns\n\nReturn the item within 30 days. Keep the receipt."
	a := NewSplitter(Options{}).Split("doc-1", src)
	b := NewSplitter(Options{}).Split("doc-1", src)
	c := NewSplitter(Options{}).Split("doc-2", src)

	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("Split() is not deterministic (-first +second):\n%s", diff)
	}
	if len(a[0].ID) != IDLength {
		t.Errorf("ID length = %d, want %d", len(a[0].ID), IDLength)
	}
	if a[0].ID == c[0].ID {
		t.Errorf("chunks of different documents share id %s", a[0].ID)
	}
	if ID("d", 0, "x") == ID("d", 1, "x") {
		t.Errorf("ID ignores the ordinal")
	}
}

func FuzzSplit(f *testing.F) {
	f.Add("# Title\n\nSome text. More text!\n\n- item\n- item two", 80, 20)
	f.Add(strings.Repeat("word ", 400), 0, 0)
	f.Add("a.b.c. d... ```\n# x\n```\n***\n", 16, 1)
	f.Add(strings.Repeat("日本語", 200), 30, 5)
	f.Add("\xff\xfe.\x80 abc. \xc3", 17, 2)

	f.Fuzz(func(t *testing.T, src string, maxChars, maxWords int) {
		opts := Options{MaxChars: maxChars % 2000, MaxWords: maxWords % 400}
		s := NewSplitter(opts)
		chunks := s.Split("doc", src)

		limits := s.Options()
		lastStart := -1
		for i, c := range chunks {
			if c.Ordinal != i {
				t.Fatalf("chunk %d has ordinal %d", i, c.Ordinal)
			}
			if c.Start < 0 || c.Start >= c.End || c.End > len(src) {
				t.Fatalf("chunk %d has offsets [%d, %d) outside [0, %d)", i, c.Start, c.End, len(src))
			}
			if c.Text != src[c.Start:c.End] {
				t.Fatalf("chunk %d text differs from source[%d:%d]", i, c.Start, c.End)
			}
			if strings.TrimSpace(c.Text) == "" {
				t.Fatalf("chunk %d is blank", i)
			}
			if len(c.Text) > limits.MaxChars {
				t.Fatalf("chunk %d has %d bytes, limit %d", i, len(c.Text), limits.MaxChars)
			}
			if n := len(strings.Fields(c.Text)); n > limits.MaxWords {
				t.Fatalf("chunk %d has %d words, limit %d", i, n, limits.MaxWords)
			}
			if c.Start <= lastStart {
				t.Fatalf("chunk %d starts at %d, not after the previous start %d", i, c.Start, lastStart)
			}
			if c.ID != ID("doc", i, c.Text) {
				t.Fatalf("chunk %d id is not derived from its text", i)
			}
			if utf8.ValidString(src) && !utf8.ValidString(c.Text) {
				t.Fatalf("chunk %d cut a rune of valid input", i)
			}
			lastStart = c.Start
		}
	})
}
