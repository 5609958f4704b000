package message

import (
	"fmt"
	"strings"
	"time"
)

// Email is a parsed RFC 5322 message: decoded header fields, the readable
// text of its body, the attachments it carries and where its text quotes
// earlier mail.
type Email struct {
	// From, To, Cc and ReplyTo are the decoded address fields. An entry
	// that is not an address is left out with a warning.
	From    []Address
	To      []Address
	Cc      []Address
	ReplyTo []Address
	// Subject is decoded, on one line, without surrounding space.
	Subject string
	// Date is the Date field, or the zero time when it is missing or
	// unreadable.
	Date time.Time
	// MessageID, InReplyTo and References hold message ids without their
	// angle brackets.
	MessageID  string
	InReplyTo  []string
	References []string

	// Text is the readable body in UTF-8 with LF line endings: the text
	// parts shown to a reader, HTML rendered as text, joined by a blank
	// line. Attachments are never part of it.
	Text string
	// TextParts says which MIME part each stretch of Text came from.
	TextParts []TextPart
	// Quoted lists, in order and without overlaps, the byte ranges of Text
	// that quote earlier mail; see Fresh.
	Quoted []Range
	// Attachments lists the parts that are not body text: attachments,
	// inline images and other non-text parts, in message order.
	Attachments []Attachment
	// Warnings lists every lossy decision made while parsing, such as a
	// guessed charset or bytes replaced with U+FFFD. They never quote the
	// content.
	Warnings []string
}

// Address is one mailbox of an address field.
type Address struct {
	// Name is the decoded display name, or "".
	Name string
	// Address is the addr-spec, such as "ana@example.com".
	Address string
}

// TextPart is a stretch of Email.Text and the MIME part it came from.
type TextPart struct {
	// Part is the IMAP part number, such as "1" or "2.1".
	Part string
	// MediaType is "text/plain" or "text/html".
	MediaType string
	// Charset is the declared charset, lowercased, or "" when none was.
	Charset string
	// Start and End are the byte offsets of the stretch in Text.
	Start, End int
}

// Attachment describes a part that is not body text. Its content is never
// kept.
type Attachment struct {
	// Part is the IMAP part number, such as "2" or "1.2".
	Part string
	// Filename is the decoded file name, or "" when the part has none.
	Filename string
	// MediaType is the lowercased media type, such as "image/png".
	MediaType string
	// Size is the size in bytes once the transfer encoding is undone.
	Size int
	// ContentID is the Content-ID without angle brackets, or "".
	ContentID string
	// Inline is set when the part is marked to be shown inline.
	Inline bool
}

// Parse reads one RFC 5322 message and returns its decoded header fields,
// its body as text, its attachments and the ranges of quoted mail.
//
// A zero Limits field takes its default. Parse returns an *Error of kind
// ErrTooLarge when raw is longer than lim.MaxBytes; ErrBinary when the
// input, or the only text body, is binary; ErrEncoding for an unknown
// charset, an unknown Content-Transfer-Encoding or broken base64 in a text
// part; and ErrMalformed when there is no header/body separator, the
// header is too long or not a header, there are too many or too deeply
// nested parts, or MIME boundaries are so broken that no text is left.
func Parse(raw []byte, lim Limits) (*Email, error) {
	lim = lim.withDefaults()
	if len(raw) > lim.MaxBytes {
		return nil, &Error{Kind: ErrTooLarge, Input: inputMessage,
			Reason: fmt.Sprintf("%d bytes is over the limit of %d bytes", len(raw), lim.MaxBytes)}
	}

	e := &Email{}
	p := newParser(lim, e)
	s := string(raw)

	fields, body, err := p.topHeader(s)
	if err != nil {
		return nil, err
	}
	if err := p.readHeader(fields); err != nil {
		return nil, err
	}

	c, err := p.walk(fields, body, "", 0, "text/plain")
	if err != nil {
		return nil, err
	}
	if err := p.assemble(c); err != nil {
		return nil, err
	}

	return e, nil
}

// Fresh returns the text that is new in this message: Text without the
// Quoted ranges, tidied the way Text is.
func (e *Email) Fresh() string {
	if len(e.Quoted) == 0 {
		return e.Text
	}

	var b strings.Builder
	b.Grow(len(e.Text))
	prev := 0
	for _, r := range e.Quoted {
		if r.Start < prev || r.End < r.Start || r.End > len(e.Text) {
			continue
		}
		b.WriteString(e.Text[prev:r.Start])
		b.WriteByte('\n')
		prev = r.End
	}
	b.WriteString(e.Text[prev:])

	return cleanText(b.String())
}

// sampleBytes is how much of an input without a header separator is
// checked for binary content.
const sampleBytes = 8 << 10

// topHeader splits the message into its header fields and body.
func (p *parser) topHeader(s string) (header, string, error) {
	head, body, ok, tooLong := splitHeader(s, p.lim.MaxHeaderBytes)

	sample := head
	if !ok {
		sample = s[:min(len(s), sampleBytes)]
	}
	if why := binaryReason(sample); why != "" {
		return nil, "", &Error{Kind: ErrBinary, Input: inputMessage, Reason: "input is binary: " + why}
	}

	switch {
	case tooLong:
		reason := fmt.Sprintf("header section is longer than %d bytes", p.lim.MaxHeaderBytes)

		return nil, "", p.malformed("", reason)
	case !ok:
		return nil, "", p.malformed("", "no blank line between header and body")
	}

	fields, reason := parseFields(head, true, p.warn)
	if reason != "" {
		return nil, "", p.malformed("", reason)
	}
	if len(fields) == 0 {
		return nil, "", p.malformed("", "header has no fields")
	}

	return fields, body, nil
}

// readHeader decodes the header fields the Email exposes.
func (p *parser) readHeader(h header) error {
	var err error
	d, e := p.hdr, p.email

	if e.Subject, err = d.text("Subject", h.get("Subject")); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		dst  *[]Address
	}{
		{"From", &e.From}, {"To", &e.To}, {"Cc", &e.Cc}, {"Reply-To", &e.ReplyTo},
	} {
		if *f.dst, err = d.addresses(f.name, h.get(f.name)); err != nil {
			return err
		}
	}

	e.Date = d.date(h.get("Date"))
	if ids := d.messageIDs("Message-ID", h.get("Message-ID")); len(ids) > 0 {
		e.MessageID = ids[0]
	}
	e.InReplyTo = d.messageIDs("In-Reply-To", h.get("In-Reply-To"))
	e.References = d.messageIDs("References", h.get("References"))

	return nil
}

// assemble joins the text pieces into Email.Text, marks quoted ranges, and
// rejects a message left without text by binary or broken parts.
func (p *parser) assemble(c content) error {
	c = p.render(c)
	var b strings.Builder
	for i, piece := range c {
		if i > 0 {
			b.WriteString("\n\n")
		}
		start := b.Len()
		b.WriteString(piece.text)
		p.email.TextParts = append(p.email.TextParts, TextPart{
			Part: piece.part, MediaType: piece.mediaType, Charset: piece.charset,
			Start: start, End: b.Len(),
		})
	}
	p.email.Text = b.String()

	if p.email.Text == "" {
		if p.binary != nil {
			return p.binary
		}
		if len(p.broken) > 0 {
			return p.malformed(p.broken[0].part, p.broken[0].reason+"; no text is left")
		}
	}
	p.email.Quoted = findQuoted(p.email.Text)

	return nil
}
