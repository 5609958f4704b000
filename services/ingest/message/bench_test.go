package message

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
)

// benchMessage builds a multipart message of about size bytes: a
// quoted-printable plain part with a quoted reply, a base64 HTML
// alternative and a small base64 attachment.
func benchMessage(size int) []byte {
	var plain, html strings.Builder
	for i := 0; plain.Len() < size/3; i++ {
		fmt.Fprintf(&plain, "Paragraph %d: the kettle for order ORD-%05d arrived with a cracked lid =E2=80=94 "+
			"please call Ana Ruiz on +44 20 7946 0%03d or write to ana.ruiz@example.com.\n\n", i, 10000+i, i%1000)
		fmt.Fprintf(&html, "<p>Paragraph %d: the kettle for order <b>ORD-%05d</b> arrived with a cracked lid &mdash; "+
			"please call <a href=\"tel:+442079460%03d\">Ana Ruiz</a>.</p>\n", i, 10000+i, i%1000)
	}
	plain.WriteString("On Tue, 1 Dec 2026 at 09:14, Support <support@example.com> wrote:\n> Earlier message.\n")

	var b strings.Builder
	b.WriteString("From: Ana Ruiz <ana.ruiz@example.com>\r\nTo: support@example.com\r\n" +
		"Subject: =?UTF-8?Q?Kettle_=E2=80=94_order?=\r\nDate: Tue, 1 Dec 2026 09:14:22 +0100\r\n" +
		"Message-ID: <bench@example.com>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"mixed\"\r\n\r\n--mixed\r\n" +
		"Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n--alt\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	b.WriteString(plain.String())
	b.WriteString("\r\n--alt\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	writeBase64(&b, []byte(html.String()))
	b.WriteString("--alt--\r\n--mixed\r\nContent-Type: image/png; name=\"photo.png\"\r\n" +
		"Content-Disposition: attachment; filename=\"photo.png\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	writeBase64(&b, []byte(strings.Repeat("\x89PNG-data", size/60)))
	b.WriteString("--mixed--\r\n")

	return []byte(b.String())
}

// writeBase64 writes data in base64 lines of 76 characters.
func writeBase64(b *strings.Builder, data []byte) {
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
}

func BenchmarkParse(b *testing.B) {
	raw := benchMessage(20 << 10)
	if _, err := Parse(raw, Limits{}); err != nil {
		b.Fatalf("Parse: %v", err)
	}

	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(raw, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestBenchMessage(t *testing.T) {
	t.Parallel()

	raw := benchMessage(20 << 10)
	if n := len(raw); n < 18<<10 || n > 24<<10 {
		t.Fatalf("benchmark message is %d bytes, want about 20 KiB", n)
	}
	e, err := Parse(raw, Limits{})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(e.TextParts) != 1 || e.TextParts[0].MediaType != "text/plain" || len(e.Attachments) != 1 ||
		len(e.Quoted) != 1 || !strings.Contains(e.Text, "lid — please") {
		t.Fatalf("benchmark message parsed as %d parts, %d attachments, %d quotes", len(e.TextParts),
			len(e.Attachments), len(e.Quoted))
	}
}

func BenchmarkParseHTMLOnly(b *testing.B) {
	var html strings.Builder
	for i := 0; html.Len() < 20<<10; i++ {
		fmt.Fprintf(&html, "<div><p>Row %d: <b>ORD-%05d</b> &mdash; <a href=\"https://shop.example.com/o/%d\">track</a></p>"+
			"<ul><li>kettle</li><li>lid</li></ul></div>\n", i, i, i)
	}
	raw := []byte("From: a@example.com\nSubject: html\nContent-Type: text/html; charset=utf-8\n\n" + html.String())

	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(raw, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}
