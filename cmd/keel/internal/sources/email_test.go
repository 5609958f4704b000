package sources

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// header is a minimal RFC 5322 header for test messages.
const header = "From: Ana Ruiz <ana@example.com>\n" +
	"To: support@larkspurhome.example\n" +
	"Subject: Kettle\n" +
	"Date: Wed, 2 Dec 2026 09:14:22 -0500\n" +
	"Message-ID: <abc.123@example.com>\n" +
	"MIME-Version: 1.0\n"

func TestParseEmailBody(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name        string
		raw         string
		wantBody    string
		wantFormat  string
		wantAttach  string
		notInBody   []string
		wantSubject string
	}{
		{
			name:       "plain text without content type",
			raw:        header + "\nHello,\nmy kettle leaks.\n",
			wantBody:   "Hello,\nmy kettle leaks.",
			wantFormat: "text/plain",
		},
		{
			name:       "CRLF line endings",
			raw:        crlf(header + "Content-Type: text/plain; charset=utf-8\n\nLine one\nLine two\n"),
			wantBody:   "Line one\nLine two",
			wantFormat: "text/plain",
		},
		{
			name: "quoted-printable with soft line breaks",
			raw: header + "Content-Type: text/plain; charset=utf-8\n" +
				"Content-Transfer-Encoding: quoted-printable\n\n" +
				"The chef=E2=80=99s knife handle cracked =E2=80=94 near the bol=\nster.\n",
			wantBody:   "The chef’s knife handle cracked — near the bolster.",
			wantFormat: "text/plain",
			notInBody:  []string{"=E2", "=\n"},
		},
		{
			name: "base64 with folded lines and stray spaces",
			raw: header + "Content-Type: text/plain; charset=utf-8\n" +
				"Content-Transfer-Encoding: base64\n\n" +
				"V2hlcmUgaXMgbXkg\n b3JkZXIgT1JELTEw\nNDIxPw==\n",
			wantBody:   "Where is my order ORD-10421?",
			wantFormat: "text/plain",
		},
		{
			name: "latin-1 quoted-printable is converted to UTF-8",
			raw: header + "Content-Type: text/plain; charset=ISO-8859-1\n" +
				"Content-Transfer-Encoding: quoted-printable\n\n1187 Caf=E9 Row, Stra=DFe\n",
			wantBody:   "1187 Café Row, Straße",
			wantFormat: "text/plain",
		},
		{
			name: "latin-1 8bit body",
			raw: header + "Content-Type: text/plain; charset=latin1\n" +
				"Content-Transfer-Encoding: 8bit\n\nSart\xe9n de 30 cm\n",
			wantBody:   "Sartén de 30 cm",
			wantFormat: "text/plain",
		},
		{
			name: "windows-1252 smart quotes",
			raw: header + "Content-Type: text/plain; charset=windows-1252\n\n" +
				"\x93It\x92s broken\x94 \x96 sorry\n",
			wantBody:   "“It’s broken” – sorry",
			wantFormat: "text/plain",
		},
		{
			name: "undeclared charset with UTF-8 bytes",
			raw:  header + "\nLucía\n",
			// No charset means US-ASCII, but valid UTF-8 is kept as it is.
			wantBody:   "Lucía",
			wantFormat: "text/plain",
		},
		{
			name: "alternative prefers plain text",
			raw: header + "Content-Type: multipart/alternative; boundary=\"b1\"\n\n" +
				"preamble is ignored\n" +
				"--b1\nContent-Type: text/plain; charset=utf-8\n\nPlain version\n" +
				"--b1\nContent-Type: text/html; charset=utf-8\n\n<p>HTML <b>version</b></p>\n" +
				"--b1--\nepilogue is ignored\n",
			wantBody:   "Plain version",
			wantFormat: "text/plain",
			notInBody:  []string{"HTML", "preamble", "epilogue"},
		},
		{
			name: "alternative falls back to HTML",
			raw: header + "Content-Type: multipart/alternative; boundary=b2\n\n" +
				"--b2\nContent-Type: text/plain; charset=utf-8\n\n   \n" +
				"--b2\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: base64\n\n" +
				"PGh0bWw+PGhlYWQ+PHN0eWxlPnB7Y29sb3I6cmVkfTwvc3R5bGU+PC9oZWFkPjxib2R5PjxwPkl0\n" +
				"JiM4MjE3O3MgPGI+YnJva2VuPC9iPjwvcD48cD5Bbm88YnI+UnVpejwvcD48L2JvZHk+PC9odG1s\nPg==\n" +
				"--b2--\n",
			wantBody:   "It’s broken\n\nAno\nRuiz",
			wantFormat: "text/html",
			notInBody:  []string{"color:red", "<"},
		},
		{
			name: "attachments are listed, not inlined",
			raw: header + "Content-Type: multipart/mixed; boundary=\"m\"\n\n" +
				"--m\nContent-Type: text/plain; charset=utf-8\n\nPhotos attached.\n" +
				"--m\nContent-Type: image/jpeg; name=\"IMG_1.jpg\"\n" +
				"Content-Disposition: attachment; filename=\"IMG_1.jpg\"\n" +
				"Content-Transfer-Encoding: base64\n\n/9j/4AAQSkZJRgABAQ==\n" +
				"--m\nContent-Type: text/plain; charset=utf-8\n" +
				"Content-Disposition: attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.txt\n\nSECRET NOTES\n" +
				"--m\nContent-Type: application/pdf\n\n%PDF-1.4\n" +
				"--m--\n",
			wantBody:   "Photos attached.",
			wantFormat: "text/plain",
			wantAttach: "IMG_1.jpg, résumé.txt, unnamed application/pdf",
			notInBody:  []string{"SECRET", "PDF", "/9j/"},
		},
		{
			name: "nested mixed, alternative and related",
			raw: header + "Content-Type: multipart/mixed; boundary=outer\n\n" +
				"--outer\nContent-Type: multipart/alternative; boundary=alt\n\n" +
				"--alt\nContent-Type: multipart/related; boundary=rel\n\n" +
				"--rel\nContent-Type: text/html; charset=utf-8\n\n<div>Only&nbsp;HTML</div><div>here</div>\n" +
				"--rel\nContent-Type: image/png\nContent-Disposition: inline; filename=logo.png\n\nPNG\n" +
				"--rel--\n" +
				"--alt--\n" +
				"--outer\nContent-Type: text/plain; charset=utf-8\nContent-Disposition: inline\n\nSecond inline part\n" +
				"--outer--\n",
			wantBody:   "Only HTML\nhere\n\nSecond inline part",
			wantFormat: "mixed",
			wantAttach: "logo.png",
		},
		{
			name:       "KOI8-R body",
			raw:        header + "Content-Type: text/plain; charset=koi8-r\n\n\xf0\xd2\xc9\xd7\xc5\xd4\n",
			wantBody:   "Привет",
			wantFormat: "text/plain",
		},
		{
			name:       "Shift_JIS body",
			raw:        header + "Content-Type: text/plain; charset=Shift_JIS\n\n\x93\xfa\x96\x7b\n",
			wantBody:   "日本",
			wantFormat: "text/plain",
		},
		{
			name:       "multipart cut off keeps the text it has",
			raw:        header + "Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: text/plain\n\nhi\n",
			wantBody:   "hi",
			wantFormat: "text/plain",
		},
		{
			name: "HTML links keep their targets",
			raw: header + "Content-Type: text/html; charset=utf-8\n\n" +
				"<p>Track it <a href=\"https://shop.example/t/1\">here</a>.</p>\n",
			wantBody:   "Track it here (https://shop.example/t/1).",
			wantFormat: "text/html",
		},
		{
			name: "encoded-word subject",
			raw: strings.Replace(header, "Subject: Kettle",
				"Subject: =?utf-8?q?Entrega_del_pedido_=E2=80=93?=\n =?ISO-8859-1?Q?_ma=F1ana?=", 1) +
				"\nHola\n",
			wantBody:    "Hola",
			wantFormat:  "text/plain",
			wantSubject: "Entrega del pedido – mañana",
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			rec, err := parseEmail([]byte(tt.raw))
			if err != nil {
				t.Fatalf("parseEmail: %v", err)
			}

			assertEqual(t, "body", tt.wantBody, rec.Body)
			assertEqual(t, "body_format", tt.wantFormat, rec.Metadata["body_format"])
			assertEqual(t, "attachments", tt.wantAttach, rec.Metadata["attachments"])
			for _, s := range tt.notInBody {
				if strings.Contains(rec.Body, s) {
					t.Errorf("body %q contains %q", rec.Body, s)
				}
			}
			if tt.wantSubject != "" {
				assertEqual(t, "subject", tt.wantSubject, rec.Subject)
			}
		})
	}
}

func TestParseEmailHeaders(t *testing.T) {
	t.Parallel()

	raw := "From: =?UTF-8?Q?Tomasz_Wi=C5=9Bniewski?= <T.Wisniewski@Example.org>\n" +
		"Subject: Broken plates\n" +
		"Date: Wed, 2 Dec 2026 07:41:09 -0600\n" +
		"Message-ID:   <CAHx7@mail.example.org>  \n" +
		"In-Reply-To: <claim-1@larkspurhome.example>\n" +
		"\nTwo plates arrived cracked.\n"

	rec, err := parseEmail([]byte(raw))
	if err != nil {
		t.Fatalf("parseEmail: %v", err)
	}

	assertEqual(t, "kind", KindEmail, rec.Kind)
	assertEqual(t, "event id", "CAHx7@mail.example.org", rec.EventID)
	assertEqual(t, "name", "Tomasz Wiśniewski", rec.CustomerName)
	assertEqual(t, "email", "T.Wisniewski@Example.org", rec.CustomerEmail)
	assertEqual(t, "subject", "Broken plates", rec.Subject)
	assertEqual(t, "received at", time.Date(2026, 12, 2, 13, 41, 9, 0, time.UTC), rec.ReceivedAt)
	assertEqual(t, "in_reply_to", "claim-1@larkspurhome.example", rec.Metadata["in_reply_to"])
}

func TestParseEmailSender(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name      string
		from      string
		wantEmail string
		wantName  string
	}{
		{name: "bare address", from: "sam@example.net", wantEmail: "sam@example.net"},
		{name: "quoted name with comma", from: `"Park, Wendell" <wendell@example.org>`,
			wantEmail: "wendell@example.org", wantName: "Park, Wendell"},
		{name: "first of a list", from: "a@example.com, b@example.com", wantEmail: "a@example.com"},
		{name: "unquoted dot in name falls back to angle brackets", from: "J. R. Smith <jrs@example.com>",
			wantEmail: "jrs@example.com", wantName: "J. R. Smith"},
		{name: "latin-1 raw header", from: "Jos\xe9 <jose@example.com>",
			wantEmail: "jose@example.com", wantName: "José"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			rec, err := parseEmail([]byte("From: " + tt.from + "\nSubject: hi\n\nbody\n"))
			if err != nil {
				t.Fatalf("parseEmail: %v", err)
			}
			assertEqual(t, "email", tt.wantEmail, rec.CustomerEmail)
			assertEqual(t, "name", tt.wantName, rec.CustomerName)
		})
	}
}

func TestParseEmailErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		raw  string
		want error
	}{
		{name: "no header", raw: "just some text\nwithout a header\n", want: ErrMalformedMessage},
		{name: "no From", raw: "Subject: hi\n\nbody\n", want: ErrMalformedMessage},
		{name: "From without address", raw: "From: nobody\nSubject: hi\n\nbody\n", want: ErrMalformedMessage},
		{
			name: "unsupported charset",
			raw:  header + "Content-Type: text/plain; charset=x-unknown\n\n\xf0\xd2\xc9\xd7\xc5\xd4\n",
			want: ErrUnsupportedCharset,
		},
		{
			name: "unsupported charset in the subject",
			raw:  strings.Replace(header, "Subject: Kettle", "Subject: =?x-unknown?q?hi?=", 1) + "\nbody\n",
			want: ErrUnsupportedCharset,
		},
		{
			name: "binary body",
			raw:  header + "Content-Type: text/plain\n\nPK\x03\x04\x00\x00\n",
			want: ErrMalformedMessage,
		},
		{
			name: "unknown transfer encoding",
			raw:  header + "Content-Transfer-Encoding: x-uuencode\n\nbegin 644 a\n",
			want: ErrMalformedMessage,
		},
		{
			name: "bad base64",
			raw:  header + "Content-Transfer-Encoding: base64\n\n!!!not base64!!!\n",
			want: ErrMalformedMessage,
		},
		{
			name: "multipart without boundary",
			raw:  header + "Content-Type: multipart/mixed\n\n--x\n\nhi\n--x--\n",
			want: ErrMalformedMessage,
		},
		{
			name: "multipart cut off before any part",
			raw:  header + "Content-Type: multipart/mixed; boundary=x\n\npreamble only\n",
			want: ErrMalformedMessage,
		},
		{
			name: "nothing to read",
			raw:  "From: a@example.com\nSubject:  \n\n \n\n",
			want: ErrEmptyRecord,
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			_, err := parseEmail([]byte(tt.raw))
			if !errors.Is(err, tt.want) {
				t.Fatalf("parseEmail error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestParseEmailNestingLimit(t *testing.T) {
	t.Parallel()

	var b strings.Builder
	b.WriteString("From: a@example.com\nSubject: deep\n")
	for i := range maxMIMEDepth + 2 {
		b.WriteString("Content-Type: multipart/mixed; boundary=b" + string(rune('a'+i)) + "\n\n")
		b.WriteString("--b" + string(rune('a'+i)) + "\n")
	}
	b.WriteString("Content-Type: text/plain\n\nhi\n")

	_, err := parseEmail([]byte(b.String()))
	if !errors.Is(err, ErrMalformedMessage) || !strings.Contains(err.Error(), "nested") {
		t.Fatalf("parseEmail error = %v, want nesting error", err)
	}
}

func TestParseEmailContentID(t *testing.T) {
	t.Parallel()

	first := "From: a@example.com\nSubject: one\n\nsame body\n"
	second := "From: a@example.com\nSubject: two\n\nsame body\n"

	a1, err := parseEmail([]byte(first))
	if err != nil {
		t.Fatalf("parseEmail: %v", err)
	}
	a2, err := parseEmail([]byte(first))
	if err != nil {
		t.Fatalf("parseEmail: %v", err)
	}
	b, err := parseEmail([]byte(second))
	if err != nil {
		t.Fatalf("parseEmail: %v", err)
	}

	if !strings.HasPrefix(a1.EventID, "sha256-") || len(a1.EventID) != len("sha256-")+64 {
		t.Errorf("event id %q is not a sha256 content id", a1.EventID)
	}
	assertEqual(t, "id of the same message", a1.EventID, a2.EventID)
	if a1.EventID == b.EventID {
		t.Errorf("different messages share event id %q", a1.EventID)
	}
}

func TestReadEML(t *testing.T) {
	t.Parallel()

	path := writeFile(t, "note.eml", header+"\nHello\n")
	recs, probs := collect(ReadEML(path))
	if len(probs) != 0 {
		t.Fatalf("problems: %v", probs)
	}
	if len(recs) != 1 {
		t.Fatalf("got %d records, want 1", len(recs))
	}
	assertEqual(t, "line", 1, recs[0].Line)
	assertEqual(t, "file", "note.eml", recs[0].Metadata["file"])

	_, probs = collect(ReadEML(path + ".missing"))
	if len(probs) != 1 || !errors.Is(probs[0], ErrReadStopped) {
		t.Fatalf("missing file problems = %v, want one ErrReadStopped", probs)
	}
}

func TestReadEMLFileTooLarge(t *testing.T) {
	t.Parallel()

	path := writeFile(t, "big.eml", header+"\n"+strings.Repeat("x", 200)+"\n")
	_, prob := readEMLFile(path, 100)
	if prob == nil || !errors.Is(prob, ErrTooLarge) {
		t.Fatalf("problem = %v, want ErrTooLarge", prob)
	}
}

func TestParseEmailInvalidUTF8Name(t *testing.T) {
	t.Parallel()

	rec, err := parseEmail([]byte("From: =?utf-8?q?Bad_=FF_name?= <bad@example.com>\nSubject: x\n\ny\n"))
	if err != nil {
		t.Fatalf("parseEmail: %v", err)
	}
	assertEqual(t, "name", "Bad \uFFFD name", rec.CustomerName)
}
