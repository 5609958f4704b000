package chunk

import (
	"testing"
)

func TestSplitEmail(t *testing.T) {
	t.Parallel()

	tests := []splitCase{
		{
			name: "quoted reply chain below the fresh text",
			src: lines(
				"Hi team,",
				"",
				"The refund for order [ORDER_1] has not arrived. Can you check?",
				"",
				"On Mon, 3 Jun 2024 at 10:02, Support <[EMAIL_1]> wrote:",
				"> We issued the refund today.",
				">",
				"> On Sun, 2 Jun 2024, [PERSON_1] wrote:",
				"> > Where is my refund?",
			),
			want: []view{
				{Text: "Hi team,\n\nThe refund for order [ORDER_1] has not arrived. Can you check?"},
				{
					Path:   "On Mon, 3 Jun 2024 at 10:02, Support <[EMAIL_1]> wrote:",
					Quoted: true,
					Text:   "> We issued the refund today.",
				},
				{
					Path:   "On Mon, 3 Jun 2024 at 10:02, Support <[EMAIL_1]> wrote: > On Sun, 2 Jun 2024, [PERSON_1] wrote:",
					Quoted: true,
					Text:   "> > Where is my refund?",
				},
			},
		},
		{
			name: "attribution wrapped over two lines",
			src: lines(
				"Thanks, that works.",
				"",
				"On Tue, Jun 4, 2024 at 9:15 AM Ann Smith <",
				"[EMAIL_1]> wrote:",
				"",
				"> Try restarting the router first.",
			),
			want: []view{
				{Text: "Thanks, that works."},
				{
					Path:   "On Tue, Jun 4, 2024 at 9:15 AM Ann Smith < [EMAIL_1]> wrote:",
					Quoted: true,
					Text:   "> Try restarting the router first.",
				},
			},
		},
		{
			name: "interleaved replies alternate",
			src: lines(
				"Bob wrote:",
				"> Can you ship on Friday?",
				"Yes, Friday works for us.",
				"> And the invoice?",
				"It is attached to this mail.",
			),
			want: []view{
				{Path: "Bob wrote:", Quoted: true, Text: "> Can you ship on Friday?"},
				{Text: "Yes, Friday works for us."},
				{Path: "Bob wrote:", Quoted: true, Text: "> And the invoice?"},
				{Text: "It is attached to this mail."},
			},
		},
		{
			name: "original message separator quotes the rest",
			src: lines(
				"Sounds good, see you then.",
				"",
				"-----Original Message-----",
				"From: Ann <[EMAIL_1]>",
				"Sent: Monday, June 3, 2024 10:02 AM",
				"Subject: Meeting",
				"",
				"Can we meet on Tuesday at noon?",
			),
			want: []view{
				{Text: "Sounds good, see you then."},
				{
					Path:   "Original Message",
					Quoted: true,
					Text:   "From: Ann <[EMAIL_1]>\nSent: Monday, June 3, 2024 10:02 AM\nSubject: Meeting\n\nCan we meet on Tuesday at noon?",
				},
			},
		},
		{
			name: "outlook header block quotes the rest",
			src: lines(
				"Approved.",
				"________________________________",
				"From: Bob <[EMAIL_2]>",
				"Date: Tuesday, June 4, 2024",
				"To: Ann <[EMAIL_1]>",
				"Please approve the refund of order [ORDER_1].",
			),
			want: []view{
				{Text: "Approved."},
				{
					Path:   "From: Bob <[EMAIL_2]>",
					Quoted: true,
					Text:   "From: Bob <[EMAIL_2]>\nDate: Tuesday, June 4, 2024\nTo: Ann <[EMAIL_1]>\nPlease approve the refund of order [ORDER_1].",
				},
			},
		},
		{
			name: "an attribution without quote markers quotes the rest",
			src:  lines("Noted, thanks.", "", "On Wed, Carol wrote:", "", "The parcel is lost.", "", "Regards"),
			want: []view{
				{Text: "Noted, thanks."},
				{Path: "On Wed, Carol wrote:", Quoted: true, Text: "The parcel is lost.\n\nRegards"},
			},
		},
		{
			name: "a long quote is cut inside the quote only",
			opts: Options{MaxChars: 60, OverlapTokens: -1},
			src: lines(
				"Short fresh reply.",
				"On Thu, Dan wrote:",
				"> The first quoted sentence is long enough.",
				"> The second quoted sentence is long enough.",
			),
			want: []view{
				{Text: "Short fresh reply."},
				{Path: "On Thu, Dan wrote:", Quoted: true, Text: "> The first quoted sentence is long enough."},
				{Path: "On Thu, Dan wrote:", Quoted: true, Text: "> The second quoted sentence is long enough."},
			},
		},
		{
			name: "no quotes",
			src:  "Just a note.\n\nWith two paragraphs.",
			want: []view{{Text: "Just a note.\n\nWith two paragraphs."}},
		},
	}
	runSplitCases(t, FormatEmail, tests)
}

func TestQuoteDepth(t *testing.T) {
	t.Parallel()

	tests := []struct {
		line        string
		wantDepth   int
		wantContent string
	}{
		{line: "plain", wantDepth: 0, wantContent: "plain"},
		{line: "> one", wantDepth: 1, wantContent: "one"},
		{line: ">> two", wantDepth: 2, wantContent: "two"},
		{line: "> > two", wantDepth: 2, wantContent: "two"},
		{line: "  >indented", wantDepth: 1, wantContent: "indented"},
		{line: ">", wantDepth: 1, wantContent: ""},
		{line: "a > b", wantDepth: 0, wantContent: "a > b"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			t.Parallel()
			depth, content := quoteDepth(tt.line)
			if depth != tt.wantDepth || content != tt.wantContent {
				t.Errorf("quoteDepth(%q) = %d, %q, want %d, %q", tt.line, depth, content, tt.wantDepth, tt.wantContent)
			}
		})
	}
}
