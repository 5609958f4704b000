package message

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseFixtures(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name        string
		file        string
		wantSubject string
		wantFrom    []Address
		wantText    string
		wantFresh   string
		wantParts   []TextPart
		wantAttach  []Attachment
		wantWarning string
	}{
		{
			name:        "alternative prefers quoted-printable plain text over base64 HTML",
			file:        "alternative-qp-base64.eml",
			wantSubject: "Order ORD-10421 arrived damaged",
			wantFrom:    []Address{{Name: "Ana Ruiz", Address: "ana.ruiz@example.com"}},
			wantText: "Hello,\n\nThe kettle I ordered (ORD-10421) arrived with a cracked lid — could you " +
				"send a replacement to 14 Rue de l’Arbre, Lyon?\n\nThanks,\nAna",
			wantParts: []TextPart{{Part: "1", MediaType: "text/plain", Charset: "utf-8", Start: 0, End: 143}},
		},
		{
			name:        "HTML only with entities, script, lists, links, hidden text and pre",
			file:        "html-only.eml",
			wantSubject: "Invoice question",
			wantFrom:    []Address{{Name: "Shop Customer", Address: "customer@example.com"}},
			wantText: "Dear team,\n\n" +
				"My order & invoice: ORD-77… costs €42 <incl. VAT>.\n\n" +
				"- Item one\n- Item two\n  - nested\n\n" +
				"Track it here (https://shop.example.com/track?id=77) or at https://shop.example.com/.\n" +
				"Mail help@shop.example.com or call our line (+441234567890).\n\n" +
				"Name: Ana Ruiz\nPhone: 555\u20110100\n\n" +
				"  code   block\n  line 2",
		},
		{
			name:        "ISO-8859-1 body and Q-encoded header words",
			file:        "latin1.eml",
			wantSubject: "Réclamation commande",
			wantFrom:    []Address{{Name: "François Müller", Address: "francois@example.fr"}},
			wantText: "Bonjour,\n\nMa commande n'est pas arrivée à Besançon. Prix : 25 £ ; ½ remboursé ?\n\n" +
				"Cordialement,\nFrançois Müller",
		},
		{
			name:        "Shift_JIS body with ISO-2022-JP and Shift_JIS encoded words",
			file:        "shift-jis.eml",
			wantSubject: "配送について",
			wantFrom:    []Address{{Name: "田中太郎", Address: "tanaka@example.jp"}},
			wantText:    "こんにちは。\n注文番号 ORD-5521 の商品がまだ届いていません。\n\n田中太郎",
		},
		{
			name:        "encoded words in UTF-8, ISO-8859-15 and KOI8-R, raw UTF-8 header",
			file:        "encoded-words.eml",
			wantSubject: "Заказ №42 ¿dónde está? €",
			wantFrom:    []Address{{Name: "Иван Петров", Address: "ivan@example.ru"}},
			wantText:    "Где мой заказ?",
		},
		{
			name:        "nested multipart lists attachments and joins inline text parts",
			file:        "nested-attachments.eml",
			wantSubject: "Invoice",
			wantFrom:    []Address{{Name: "Ana Ruiz", Address: "ana.ruiz@example.com"}},
			wantText:    "Please find the invoice attached.\n\nSecond inline note.",
			wantParts: []TextPart{
				{Part: "1.1", MediaType: "text/plain", Charset: "utf-8", Start: 0, End: 33},
				{Part: "4", MediaType: "text/plain", Charset: "utf-8", Start: 35, End: 54},
			},
			wantAttach: []Attachment{
				{Part: "1.2.2", Filename: "logo.png", MediaType: "image/png", Size: 8, ContentID: "logo@example", Inline: true},
				{Part: "2", Filename: "factura nº7.pdf", MediaType: "application/pdf", Size: 15},
				{Part: "3", Filename: "earlier.eml", MediaType: "message/rfc822", Size: 59},
			},
		},
		{
			name:        "Outlook plain reply with Original Message separator",
			file:        "outlook-reply.eml",
			wantSubject: "RE: Order ORD-10421 arrived damaged",
			wantFrom:    []Address{{Name: "Tom Baker", Address: "tom@larkspur.example"}},
			wantText: "Hi Ana,\n\nYour replacement ships today.\n\nRegards,\nTom\n\n" +
				"-----Original Message-----\nFrom: Ana Ruiz <ana.ruiz@example.com>\n" +
				"Sent: Tuesday, December 1, 2026 9:14 AM\nTo: Support <support@larkspur.example>\n" +
				"Subject: Order ORD-10421 arrived damaged\n\nThe kettle arrived with a cracked lid – please help.",
			wantFresh: "Hi Ana,\n\nYour replacement ships today.\n\nRegards,\nTom",
		},
		{
			name:        "Outlook HTML reply with a From/Sent header block",
			file:        "outlook-html-reply.eml",
			wantSubject: "RE: Refund please",
			wantFrom:    []Address{{Name: "Tom Baker", Address: "tom@larkspur.example"}},
			wantText: "Done, refund issued.\n\nTom\n\nFrom: Ana Ruiz <ana.ruiz@example.com>\n" +
				"Sent: Tuesday, December 1, 2026 9:14 AM\nTo: Support <support@larkspur.example>\n" +
				"Subject: Refund please\n\nPlease refund order ORD-9 to my card.",
			wantFresh: "Done, refund issued.\n\nTom",
		},
		{
			name:        "Gmail plain reply with a wrapped attribution",
			file:        "gmail-reply.eml",
			wantSubject: "Re: Address",
			wantFrom:    []Address{{Name: "Ana Ruiz", Address: "ana.ruiz@example.com"}},
			wantText: "Thanks, that works for me.\n\n" +
				"On Tue, Dec 1, 2026 at 9:14 AM Larkspur Support <support@larkspur.example>\nwrote:\n\n" +
				"> Hi Ana,\n>\n> Could you confirm your address?\n>\n> Tom",
			wantFresh: "Thanks, that works for me.",
		},
		{
			name:        "Gmail HTML reply renders its blockquote as quoted lines",
			file:        "gmail-html-reply.eml",
			wantSubject: "Re: Address",
			wantFrom:    []Address{{Name: "Ana Ruiz", Address: "ana.ruiz@example.com"}},
			wantText: "Thanks, that works for me.\n\n" +
				"On Tue, Dec 1, 2026 at 9:14 AM Larkspur Support <support@larkspur.example> wrote:\n\n" +
				"> Hi Ana,\n>\n> Could you confirm your address?\n>\n> Tom",
			wantFresh: "Thanks, that works for me.",
		},
		{
			name:        "Gmail forward",
			file:        "gmail-forward.eml",
			wantSubject: "Fwd: Complaint",
			wantFrom:    []Address{{Name: "Tom Baker", Address: "tom@larkspur.example"}},
			wantText: "FYI, see below.\n\n---------- Forwarded message ---------\n" +
				"From: Denise Carter <denise.carter@example.com>\nDate: Mon, Nov 30, 2026 at 4:12 PM\n" +
				"Subject: Complaint\nTo: <support@larkspur.example>\n\nI will contact my lawyer about order ORD-3.",
			wantFresh: "FYI, see below.",
		},
		{
			name:        "closing boundary missing keeps the text with a warning",
			file:        "truncated.eml",
			wantSubject: "cut off",
			wantFrom:    []Address{{Address: "a@example.com"}},
			wantText:    "The start of the message survived.",
			wantAttach:  []Attachment{{Part: "2", MediaType: "application/pdf", Size: 9}},
			wantWarning: "closing boundary is missing",
		},
		{
			name:        "UTF-16 with a byte order mark",
			file:        "utf16.eml",
			wantSubject: "utf16",
			wantFrom:    []Address{{Address: "a@example.com"}},
			wantText:    "Grüße aus Köln\nZeile 2",
		},
		{
			name:        "format=flowed lines are joined",
			file:        "flowed.eml",
			wantSubject: "flowed",
			wantFrom:    []Address{{Address: "a@example.com"}},
			wantText: "This paragraph was wrapped by the sender's mail program at a narrow width but is one line.\n" +
				"Second line.\n> > quoted and flowed\n--\nsig",
			wantFresh: "This paragraph was wrapped by the sender's mail program at a narrow width but is one line.\n" +
				"Second line.\n\n--\nsig",
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			e, err := Parse(readFixture(t, tt.file), DefaultLimits())
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			checkEmailInvariants(t, e)

			if e.Subject != tt.wantSubject {
				t.Errorf("subject = %q, want %q", e.Subject, tt.wantSubject)
			}
			if diff := cmp.Diff(tt.wantFrom, e.From); diff != "" {
				t.Errorf("from (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantText, e.Text); diff != "" {
				t.Errorf("text (-want +got):\n%s", diff)
			}
			wantFresh := tt.wantFresh
			if wantFresh == "" {
				wantFresh = tt.wantText
			}
			if diff := cmp.Diff(wantFresh, e.Fresh()); diff != "" {
				t.Errorf("fresh (-want +got):\n%s", diff)
			}
			if tt.wantParts != nil {
				if diff := cmp.Diff(tt.wantParts, e.TextParts); diff != "" {
					t.Errorf("text parts (-want +got):\n%s", diff)
				}
			}
			if diff := cmp.Diff(tt.wantAttach, e.Attachments); diff != "" {
				t.Errorf("attachments (-want +got):\n%s", diff)
			}
			if tt.wantWarning != "" && !hasWarning(e.Warnings, tt.wantWarning) {
				t.Errorf("warnings %q lack %q", e.Warnings, tt.wantWarning)
			}
			if tt.wantWarning == "" && len(e.Warnings) > 0 {
				t.Errorf("unexpected warnings %q", e.Warnings)
			}
		})
	}
}

func TestParseHeaderFields(t *testing.T) {
	t.Parallel()

	e, err := Parse(readFixture(t, "alternative-qp-base64.eml"), Limits{})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}

	got := struct {
		To, Cc, ReplyTo []Address
		Date            time.Time
		MessageID       string
		InReplyTo       []string
		References      []string
	}{e.To, e.Cc, e.ReplyTo, e.Date.UTC(), e.MessageID, e.InReplyTo, e.References}
	want := struct {
		To, Cc, ReplyTo []Address
		Date            time.Time
		MessageID       string
		InReplyTo       []string
		References      []string
	}{
		To:         []Address{{Name: "Support", Address: "support@larkspur.example"}, {Address: "bob@example.org"}},
		Cc:         []Address{{Name: "José Martínez", Address: "jose@example.net"}},
		ReplyTo:    []Address{{Address: "ana.private@example.com"}},
		Date:       time.Date(2026, 12, 1, 8, 14, 22, 0, time.UTC),
		MessageID:  "CAF1234.abcd@mail.example.com",
		InReplyTo:  []string{"reply-1@larkspur.example"},
		References: []string{"orig-1@larkspur.example", "reply-1@larkspur.example"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("header fields (-want +got):\n%s", diff)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()

	const head = "From: a@example.com\nSubject: s\n"
	deep := head
	for i := range defaultMaxDepth + 1 {
		b := "b" + strings.Repeat("x", i)
		deep += "Content-Type: multipart/mixed; boundary=" + b + "\n\n--" + b + "\n"
	}
	deep += "Content-Type: text/plain\n\nhi\n"

	tests := []struct {
		name        string
		raw         []byte
		lim         Limits
		wantKind    error
		wantMessage string
		wantPart    string
		wantCharset string
	}{
		{
			name:        "broken boundary leaves no text",
			raw:         readFixture(t, "broken-boundary.eml"),
			wantKind:    ErrMalformed,
			wantMessage: "message: multipart/mixed boundary never appears; no text is left",
		},
		{
			name:        "binary junk",
			raw:         readFixture(t, "binary-junk.eml"),
			wantKind:    ErrBinary,
			wantMessage: "message: input is binary: contains NUL bytes",
		},
		{
			name:        "unknown charset names part and charset",
			raw:         readFixture(t, "unknown-charset.eml"),
			wantKind:    ErrEncoding,
			wantMessage: `message: part 2: unknown charset "x-foo"`,
			wantPart:    "2",
			wantCharset: "x-foo",
		},
		{
			name:        "oversize",
			raw:         readFixture(t, "alternative-qp-base64.eml"),
			lim:         Limits{MaxBytes: 1000},
			wantKind:    ErrTooLarge,
			wantMessage: "message: 1152 bytes is over the limit of 1000 bytes",
		},
		{
			name:        "no header/body separator",
			raw:         []byte("From: a@example.com\nSubject: no body"),
			wantKind:    ErrMalformed,
			wantMessage: "message: no blank line between header and body",
		},
		{
			name:        "plain text is not a message",
			raw:         []byte("just some text\nwithout a header\n\nmore\n"),
			wantKind:    ErrMalformed,
			wantMessage: "message: header line 1 is not a header field",
		},
		{
			name:        "header over the limit",
			raw:         []byte(head + "X-Long: " + strings.Repeat("y", 300) + "\n\nbody\n"),
			lim:         Limits{MaxHeaderBytes: 200},
			wantKind:    ErrMalformed,
			wantMessage: "message: header section is longer than 200 bytes",
		},
		{
			name:        "too many parts",
			raw:         readFixture(t, "nested-attachments.eml"),
			lim:         Limits{MaxParts: 4},
			wantKind:    ErrMalformed,
			wantMessage: "message: more than 4 MIME parts",
		},
		{
			name:        "nested too deep",
			raw:         []byte(deep),
			wantKind:    ErrMalformed,
			wantMessage: "message: part 1.1.1.1.1.1.1.1.1.1: multipart parts nested deeper than 10 levels",
			wantPart:    "1.1.1.1.1.1.1.1.1.1",
		},
		{
			name:        "multipart without boundary",
			raw:         []byte(head + "Content-Type: multipart/mixed\n\n--x\n\nhi\n--x--\n"),
			wantKind:    ErrMalformed,
			wantMessage: "message: multipart/mixed has no boundary; no text is left",
		},
		{
			name:        "unknown transfer encoding",
			raw:         []byte(head + "Content-Transfer-Encoding: x-uuencode\n\nbegin 644 a\n"),
			wantKind:    ErrEncoding,
			wantMessage: `message: part 1: unknown Content-Transfer-Encoding "x-uuencode"`,
			wantPart:    "1",
		},
		{
			name:        "broken base64",
			raw:         []byte(head + "Content-Transfer-Encoding: base64\n\naGVsbG8*d29ybGQ=\n"),
			wantKind:    ErrEncoding,
			wantMessage: "message: part 1: invalid base64 at byte 7",
			wantPart:    "1",
		},
		{
			name:        "binary text body",
			raw:         []byte(head + "Content-Type: text/plain\n\nPK\x03\x04\x00\x00junk\n"),
			wantKind:    ErrBinary,
			wantMessage: "message: part 1: text/plain body is binary: contains NUL bytes",
			wantPart:    "1",
		},
		{
			name:        "mostly control bytes",
			raw:         []byte(head + "\n\x01\x02\x03\x04\x05\x06ab\n"),
			wantKind:    ErrBinary,
			wantMessage: "message: part 1: text/plain body is binary: mostly control bytes",
			wantPart:    "1",
		},
		{
			name:        "unknown charset in the subject",
			raw:         []byte("From: a@example.com\nSubject: =?x-bogus?q?hi?=\n\nbody\n"),
			wantKind:    ErrEncoding,
			wantMessage: `message: header Subject: unknown charset "x-bogus"`,
			wantCharset: "x-bogus",
		},
		{
			name:        "charset the standard maps to replacement",
			raw:         []byte(head + "Content-Type: text/plain; charset=iso-2022-kr\n\nhi\n"),
			wantKind:    ErrEncoding,
			wantMessage: `message: part 1: charset "iso-2022-kr" is not supported`,
			wantPart:    "1",
			wantCharset: "iso-2022-kr",
		},
		{
			name: "only alternative is undecodable",
			raw: []byte(head + "Content-Type: multipart/alternative; boundary=a\n\n" +
				"--a\nContent-Type: text/plain; charset=x-nope\n\nhi\n--a--\n"),
			wantKind:    ErrEncoding,
			wantMessage: `message: part 1: unknown charset "x-nope"`,
			wantPart:    "1",
			wantCharset: "x-nope",
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			e, err := Parse(tt.raw, tt.lim)
			if err == nil {
				t.Fatalf("Parse succeeded with text %q, want %v", e.Text, tt.wantKind)
			}
			checkError(t, err)
			if !errors.Is(err, tt.wantKind) {
				t.Fatalf("error %v is not %v", err, tt.wantKind)
			}
			if !strings.Contains(err.Error(), tt.wantMessage) {
				t.Errorf("error %q does not contain %q", err.Error(), tt.wantMessage)
			}
			var me *Error
			errors.As(err, &me)
			if me.Part != tt.wantPart || me.Charset != tt.wantCharset {
				t.Errorf("part, charset = %q, %q; want %q, %q", me.Part, me.Charset, tt.wantPart, tt.wantCharset)
			}
		})
	}
}

func TestParseLenient(t *testing.T) {
	t.Parallel()

	const head = "From: a@example.com\nSubject: s\n"

	tests := []struct {
		name        string
		raw         string
		wantText    string
		wantWarning string
		wantAttach  []Attachment
	}{
		{
			name:        "invalid UTF-8 in a UTF-8 part",
			raw:         head + "Content-Type: text/plain; charset=utf-8\n\nbad \xff byte in Zo\xc3\xab's note\n",
			wantText:    "bad \uFFFD byte in Zoë's note",
			wantWarning: "part 1: invalid UTF-8 replaced with U+FFFD",
		},
		{
			name:        "Latin-1 in a UTF-8 part reads Windows-1252",
			raw:         head + "Content-Type: text/plain; charset=utf-8\n\nm\xfcller@b\xfccher.de\n",
			wantText:    "müller@bücher.de",
			wantWarning: "part 1: charset utf-8 declared but text is not UTF-8; read as Windows-1252",
		},
		{
			name:        "no charset and not UTF-8 reads Windows-1252",
			raw:         head + "\n\x93quoted\x94 caf\xe9\n",
			wantText:    "“quoted” café",
			wantWarning: "part 1: no charset declared and text is not UTF-8; read as Windows-1252",
		},
		{
			name:     "no charset and valid UTF-8",
			raw:      head + "\nLucía\n",
			wantText: "Lucía",
		},
		{
			name:        "us-ascii declared with 8-bit bytes",
			raw:         head + "Content-Type: text/plain; charset=us-ascii\n\nna\xefve\n",
			wantText:    "naïve",
			wantWarning: "charset us-ascii declared but text has 8-bit bytes",
		},
		{
			name:        "mbox From line before the header",
			raw:         "From a@example.com Mon Dec  7 10:00:00 2026\n" + head + "\nhello\n",
			wantText:    "hello",
			wantWarning: `mbox "From " line before the header skipped`,
		},
		{
			name: "unquoted boundary with an equals sign",
			raw: head + "Content-Type: multipart/alternative; boundary=----=_NextPart_000_0001\n\n" +
				"------=_NextPart_000_0001\nContent-Type: text/plain\n\nfrom Outlook\n------=_NextPart_000_0001--\n",
			wantText: "from Outlook",
		},
		{
			name: "alternative skips an undecodable version",
			raw: head + "Content-Type: multipart/alternative; boundary=a\n\n" +
				"--a\nContent-Type: text/plain; charset=x-nope\n\nplain\n" +
				"--a\nContent-Type: text/html; charset=utf-8\n\n<p>html version</p>\n--a--\n",
			wantText:    "html version",
			wantWarning: `part 1: left out: unknown charset "x-nope"`,
		},
		{
			name: "binary text part in mixed is listed, not inlined",
			raw: head + "Content-Type: multipart/mixed; boundary=m\n\n" +
				"--m\nContent-Type: text/plain\n\nreal text\n" +
				"--m\nContent-Type: text/plain\n\n\x00\x01binary\n--m--\n",
			wantText:    "real text",
			wantWarning: "part 2: left out: text/plain body is binary",
			wantAttach:  []Attachment{{Part: "2", MediaType: "text/plain", Size: 8}},
		},
		{
			name: "part without a header",
			raw: head + "Content-Type: multipart/mixed; boundary=m\n\n" +
				"--m\njust text, no header\n--m--\n",
			wantText:    "just text, no header",
			wantWarning: "part 1: no header; read as text/plain",
		},
		{
			name: "text attachment is listed",
			raw: head + "Content-Type: multipart/mixed; boundary=m\n\n" +
				"--m\n\nbody\n" +
				"--m\nContent-Type: text/plain\nContent-Disposition: attachment; filename=\"notes.txt\"\n\nSECRET\n--m--\n",
			wantText:   "body",
			wantAttach: []Attachment{{Part: "2", Filename: "notes.txt", MediaType: "text/plain", Size: 6}},
		},
		{
			name:        "quoted-printable with a bad escape",
			raw:         head + "Content-Transfer-Encoding: quoted-printable\n\n100=% sure=\n ok\n",
			wantText:    "100=% sure ok",
			wantWarning: "part 1: 1 malformed quoted-printable escapes kept as they are",
		},
		{
			name:     "invisible characters are dropped",
			raw:      head + "Content-Type: text/plain; charset=utf-8\n\nj\u200bohn@exa\u00admple.com\n",
			wantText: "john@example.com",
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			e := mustParse(t, tt.raw)
			checkEmailInvariants(t, e)
			if e.Text != tt.wantText {
				t.Errorf("text = %q, want %q", e.Text, tt.wantText)
			}
			if tt.wantWarning != "" && !hasWarning(e.Warnings, tt.wantWarning) {
				t.Errorf("warnings %q lack %q", e.Warnings, tt.wantWarning)
			}
			if diff := cmp.Diff(tt.wantAttach, e.Attachments); diff != "" {
				t.Errorf("attachments (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseAddresses(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name        string
		field       string
		want        []Address
		wantWarning string
	}{
		{name: "bare address", field: "sam@example.net", want: []Address{{Address: "sam@example.net"}}},
		{
			name:  "quoted name with a comma",
			field: `"Park, Wendell" <wendell@example.org>, b@example.com`,
			want:  []Address{{Name: "Park, Wendell", Address: "wendell@example.org"}, {Address: "b@example.com"}},
		},
		{
			name:        "raw Latin-1 name",
			field:       "Jos\xe9 <jose@example.com>",
			want:        []Address{{Name: "José", Address: "jose@example.com"}},
			wantWarning: "header From: 8-bit text is not UTF-8; read as Windows-1252",
		},
		{
			name:        "encoded word with invalid UTF-8",
			field:       "=?utf-8?q?Bad_=FF_name?= <bad@example.com>",
			want:        []Address{{Name: "Bad \uFFFD name", Address: "bad@example.com"}},
			wantWarning: "header From: invalid UTF-8 replaced with U+FFFD",
		},
		{
			name:        "not RFC 5322 is read leniently",
			field:       `Ana "the boss" Ruiz <ana@example.com>, nobody, <b@example.com>`,
			want:        []Address{{Name: `Ana "the boss" Ruiz`, Address: "ana@example.com"}, {Address: "b@example.com"}},
			wantWarning: "header From: 1 entries are not addresses; skipped",
		},
		{name: "no address at all", field: "nobody", want: nil, wantWarning: "header From: 1 entries"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			e := mustParse(t, "From: "+tt.field+"\nSubject: x\n\nbody\n")
			if diff := cmp.Diff(tt.want, e.From); diff != "" {
				t.Errorf("from (-want +got):\n%s", diff)
			}
			if tt.wantWarning != "" && !hasWarning(e.Warnings, tt.wantWarning) {
				t.Errorf("warnings %q lack %q", e.Warnings, tt.wantWarning)
			}
			checkEmailInvariants(t, e)
		})
	}
}

func TestParseWarningsNeverQuoteContent(t *testing.T) {
	t.Parallel()

	raw := "From: Secret Name \xe9 <x@example.com>, secretword\nSubject: =?utf-8?q?secret_=FF?=\n" +
		"Date: secret date\nContent-Type: multipart/mixed; boundary=m\n\n" +
		"--m\nContent-Type: text/plain\n\nsecret \xff body\n--m\n"
	e := mustParse(t, raw)
	if len(e.Warnings) < 4 {
		t.Fatalf("want several warnings, got %q", e.Warnings)
	}
	for _, w := range e.Warnings {
		if strings.Contains(strings.ToLower(w), "secret") {
			t.Errorf("warning %q quotes the content", w)
		}
	}
}

func TestFresh(t *testing.T) {
	t.Parallel()

	e := &Email{Text: "Top reply.\n\n> first quote\n\nInline answer.\n\n> second quote"}
	e.Quoted = findQuoted(e.Text)

	want := []string{"> first quote\n", "> second quote"}
	if diff := cmp.Diff(want, quotedTexts(e.Text, e.Quoted)); diff != "" {
		t.Errorf("quoted (-want +got):\n%s", diff)
	}
	if got := e.Fresh(); got != "Top reply.\n\nInline answer." {
		t.Errorf("Fresh() = %q", got)
	}

	// Ranges that are out of order or outside the text are ignored rather
	// than trusted.
	bad := &Email{Text: "abc", Quoted: []Range{{Start: 2, End: 9}, {Start: 1, End: 0}}}
	if got := bad.Fresh(); got != "abc" {
		t.Errorf("Fresh() with bad ranges = %q, want %q", got, "abc")
	}
}

func TestParseFoldedHeader(t *testing.T) {
	t.Parallel()

	e := mustParse(t, "From: a@example.com\r\nSubject: first\r\n  second\r\n\tthird\r\nTo: b@example.com\r\n\r\nbody")
	if e.Subject != "first second third" {
		t.Errorf("subject = %q, want %q", e.Subject, "first second third")
	}
	if len(e.To) != 1 || e.To[0].Address != "b@example.com" {
		t.Errorf("to = %+v", e.To)
	}
}

func TestParseWarningsAreBounded(t *testing.T) {
	t.Parallel()

	var b strings.Builder
	b.WriteString("From: a@example.com\nContent-Type: multipart/mixed; boundary=m\n\n")
	for range 90 {
		// Each part has no header and is not UTF-8: two warnings.
		b.WriteString("--m\ncaf\xe9\n")
	}
	b.WriteString("--m--\n")

	e := mustParse(t, b.String())
	if len(e.Warnings) != maxWarnings+1 || e.Warnings[maxWarnings] != "further warnings left out" {
		t.Fatalf("got %d warnings ending %q, want %d ending with the note", len(e.Warnings),
			e.Warnings[len(e.Warnings)-1], maxWarnings+1)
	}
	if strings.Count(e.Text, "café") != 90 {
		t.Errorf("text lost parts: %q", e.Text)
	}
}

func TestParsePartLimitStopsSplitting(t *testing.T) {
	t.Parallel()

	raw := "From: a@example.com\nContent-Type: multipart/mixed; boundary=m\n\n" +
		strings.Repeat("--m\n\nx\n", 100000) + "--m--\n"
	_, err := Parse([]byte(raw), Limits{MaxParts: 50})
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "more than 50 MIME parts") {
		t.Fatalf("Parse error = %v, want the part limit", err)
	}

	parts, found, closed := splitMultipart(strings.Repeat("--m\n\nx\n", 10), "m", 3)
	if len(parts) != 3 || !found || closed {
		t.Errorf("splitMultipart = %d parts, found %v, closed %v; want 3, true, false", len(parts), found, closed)
	}
}
