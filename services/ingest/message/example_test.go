package message_test

import (
	"errors"
	"fmt"

	"github.com/keelhq/keel/services/ingest/message"
)

func ExampleParse() {
	raw := []byte("From: =?UTF-8?Q?Luc=C3=ADa?= <lucia@example.com>\r\n" +
		"Subject: Re: Pedido\r\n" +
		"Content-Type: text/plain; charset=ISO-8859-1\r\n" +
		"\r\n" +
		"Gracias, lo recib\xed.\r\n" +
		"\r\n" +
		"El lun, 7 dic 2026 a las 10:01, Soporte <soporte@example.com> escribi\xf3:\r\n" +
		"> Su pedido sale hoy.\r\n")

	e, err := message.Parse(raw, message.DefaultLimits())
	if err != nil {
		fmt.Println(err)

		return
	}
	fmt.Println(e.From[0].Name, e.From[0].Address)
	fmt.Println(e.Fresh())
	fmt.Println(len(e.Quoted), "quoted range")
	// Output:
	// Lucía lucia@example.com
	// Gracias, lo recibí.
	// 1 quoted range
}

func ExampleParse_rejection() {
	raw := []byte("From: a@example.com\n" +
		"Content-Type: multipart/mixed; boundary=m\n\n" +
		"--m\nContent-Type: text/plain; charset=x-foo\n\nhi\n--m--\n")

	_, err := message.Parse(raw, message.Limits{})
	fmt.Println(err)
	fmt.Println(errors.Is(err, message.ErrEncoding))
	// Output:
	// message: part 1: unknown charset "x-foo"
	// true
}

func ExampleDecodeNote() {
	// A Windows note: byte order mark, CRLF line endings and one stray byte.
	n, err := message.DecodeNote([]byte("\xef\xbb\xbfZo\xc3\xab: caf\xc3\xa9 \xff\r\nbye\r\n"), message.Limits{})
	if err != nil {
		fmt.Println(err)

		return
	}
	fmt.Printf("%+q %v\n", n.Text, n.BOM)
	fmt.Printf("%+q\n", n.Normalized())
	fmt.Println(n.Warnings)
	// Output:
	// "Zo\u00eb: caf\u00e9 \ufffd\r\nbye\r\n" true
	// "Zo\u00eb: caf\u00e9 \ufffd\nbye\n"
	// [invalid UTF-8 replaced with U+FFFD]
}

func ExampleParseDiff() {
	d, err := message.ParseDiff("--- a/app.go\n+++ b/app.go\n@@ -1 +1 @@\n-key := \"old\"\n+key := \"new\"\n")
	if err != nil {
		fmt.Println(err)

		return
	}
	for _, l := range d.Lines {
		fmt.Println(l.Kind)
	}
	// Output:
	// file-header
	// file-header
	// hunk-header
	// removed
	// added
}
