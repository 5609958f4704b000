package sources

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"unicode/utf8"
)

// Limits on the MIME structure of one message.
const (
	maxMIMEDepth = 16
	maxMIMEParts = 256
)

// newWordDecoder returns a decoder for RFC 2047 encoded words in the
// charsets that decodeCharset knows.
func newWordDecoder() *mime.WordDecoder {
	return &mime.WordDecoder{
		CharsetReader: func(charset string, input io.Reader) (io.Reader, error) {
			b, err := io.ReadAll(input)
			if err != nil {
				return nil, err
			}
			s, err := decodeCharset(charset, b)
			if err != nil {
				return nil, err
			}

			return strings.NewReader(s), nil
		},
	}
}

// parseEmail turns one raw RFC 5322 message into a Record without Line.
// Errors wrap ErrMalformedMessage, ErrUnsupportedCharset or ErrEmptyRecord.
func parseEmail(raw []byte) (Record, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Record{}, fmt.Errorf("%w: read header: %w", ErrMalformedMessage, err)
	}

	rec := Record{
		Kind:     KindEmail,
		Subject:  normalizeText(decodeHeader(msg.Header.Get("Subject"))),
		Metadata: map[string]string{},
	}

	// Sender.
	from, err := parseSender(msg.Header.Get("From"))
	if err != nil {
		return Record{}, fmt.Errorf("%w: %w", ErrMalformedMessage, err)
	}
	rec.CustomerEmail = strings.ToValidUTF8(from.Address, "\uFFFD")
	rec.CustomerName = normalizeText(strings.ToValidUTF8(from.Name, "\uFFFD"))

	// Identity and time.
	// TODO: the sender chooses the Message-ID, so a message that reuses
	// another's id is dropped as a duplicate downstream; hashing the id with
	// the sender would narrow that, at the cost of ids that match the mail
	// system's.
	rec.EventID = trimMessageID(msg.Header.Get("Message-Id"))
	if rec.EventID == "" {
		rec.EventID = contentID(raw)
	}
	if date, err := msg.Header.Date(); err == nil {
		rec.ReceivedAt = date.UTC()
	}
	if inReplyTo := trimMessageID(msg.Header.Get("In-Reply-To")); inReplyTo != "" {
		rec.Metadata["in_reply_to"] = inReplyTo
	}

	// Body.
	ex := &extractor{}
	body, err := ex.part(textproto.MIMEHeader(msg.Header), msg.Body, 0)
	if err != nil {
		return Record{}, err
	}
	rec.Body = body.text
	if body.format != "" {
		rec.Metadata["body_format"] = body.format
	}
	if len(ex.attachments) > 0 {
		rec.Metadata["attachments"] = strings.Join(ex.attachments, ", ")
	}

	if rec.Subject == "" && rec.Body == "" {
		return Record{}, ErrEmptyRecord
	}

	return rec, nil
}

// decodeHeader decodes encoded words; raw 8-bit header text that is not
// UTF-8 is read as Latin-1.
func decodeHeader(v string) string {
	if !utf8.ValidString(v) {
		v = decodeLatin1([]byte(v), true)
	}
	decoded, err := newWordDecoder().DecodeHeader(v)
	if err != nil {
		return v
	}

	return decoded
}

// parseSender reads the From header. A header that does not parse as an
// address list still yields an address when it holds one in angle
// brackets.
func parseSender(v string) (*mail.Address, error) {
	if strings.TrimSpace(v) == "" {
		return nil, errors.New("no From header")
	}
	if !utf8.ValidString(v) {
		v = decodeLatin1([]byte(v), true)
	}

	parser := mail.AddressParser{WordDecoder: newWordDecoder()}
	list, err := parser.ParseList(v)
	if err == nil && len(list) > 0 {
		return list[0], nil
	}

	open, end := strings.LastIndexByte(v, '<'), strings.LastIndexByte(v, '>')
	if open >= 0 && end > open {
		addr := strings.TrimSpace(v[open+1 : end])
		if strings.Count(addr, "@") == 1 && !strings.ContainsAny(addr, " \t") {
			name := strings.Trim(strings.TrimSpace(v[:open]), `"`)

			return &mail.Address{Name: decodeHeader(name), Address: addr}, nil
		}
	}

	return nil, fmt.Errorf("parse From header: %w", err)
}

// trimMessageID removes white space and angle brackets from a message id.
func trimMessageID(v string) string {
	v = strings.TrimSpace(v)
	if fields := strings.Fields(v); len(fields) > 0 {
		v = fields[0]
	}

	return strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(v, "<"), ">"))
}

// content is the readable text found in a MIME part.
type content struct {
	text string
	// format is "text/plain" or "text/html" for the part the text came
	// from, "mixed" when several parts were joined, or "" without text.
	format string
}

// extractor walks the MIME tree of one message.
type extractor struct {
	parts       int
	attachments []string
}

// part returns the readable text of one MIME part, recording attachments
// on the way. Errors wrap ErrMalformedMessage or ErrUnsupportedCharset.
func (ex *extractor) part(header textproto.MIMEHeader, body io.Reader, depth int) (content, error) {
	ex.parts++
	if ex.parts > maxMIMEParts {
		return content{}, fmt.Errorf("%w: more than %d MIME parts", ErrMalformedMessage, maxMIMEParts)
	}

	mediaType, params := contentType(header)
	disposition, dispParams, _ := mime.ParseMediaType(header.Get("Content-Disposition"))
	filename := attachmentName(dispParams["filename"], params["name"])

	if strings.HasPrefix(mediaType, "multipart/") {
		if depth >= maxMIMEDepth {
			return content{}, fmt.Errorf("%w: MIME parts nested deeper than %d",
				ErrMalformedMessage, maxMIMEDepth)
		}

		return ex.multipart(mediaType, params["boundary"], body, depth)
	}

	isText := mediaType == "text/plain" || mediaType == "text/html"
	if disposition == "attachment" || !isText || (filename != "" && disposition != "inline") {
		ex.attachments = append(ex.attachments, describeAttachment(filename, mediaType))

		return content{}, nil
	}

	decoded, err := decodeTransfer(header.Get("Content-Transfer-Encoding"), body)
	if err != nil {
		return content{}, err
	}
	text, err := decodeCharset(params["charset"], decoded)
	if err != nil {
		return content{}, err
	}
	if mediaType == "text/html" {
		text = htmlToText(text)
	} else {
		text = normalizeText(text)
	}
	if text == "" {
		return content{}, nil
	}

	return content{text: text, format: mediaType}, nil
}

// multipart returns the readable text of a multipart body. For
// multipart/alternative it takes the plain text version, else the first
// HTML one; for every other multipart type it joins the text of the inline
// parts in order.
func (ex *extractor) multipart(mediaType, boundary string, body io.Reader, depth int) (content, error) {
	if boundary == "" {
		return content{}, fmt.Errorf("%w: %s without a boundary", ErrMalformedMessage, mediaType)
	}

	var children []content
	mr := multipart.NewReader(body, boundary)
	for {
		p, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return content{}, fmt.Errorf("%w: read %s: %w", ErrMalformedMessage, mediaType, err)
		}

		c, err := ex.part(p.Header, p, depth+1)
		if err != nil {
			return content{}, err
		}
		children = append(children, c)
	}

	if mediaType == "multipart/alternative" {
		return chooseAlternative(children), nil
	}

	var joined content
	for _, c := range children {
		switch {
		case c.text == "":
			continue
		case joined.text == "":
			joined = c
		default:
			joined.text += "\n\n" + c.text
			joined.format = "mixed"
		}
	}

	return joined, nil
}

// chooseAlternative prefers plain text over HTML and HTML over nothing.
func chooseAlternative(children []content) content {
	var html content
	for _, c := range children {
		if c.text == "" {
			continue
		}
		if c.format != "text/html" {
			return c
		}
		if html.text == "" {
			html = c
		}
	}

	return html
}

// contentType returns the media type and parameters of a part, defaulting
// to text/plain as RFC 2045 says.
func contentType(header textproto.MIMEHeader) (string, map[string]string) {
	v := header.Get("Content-Type")
	if strings.TrimSpace(v) == "" {
		return "text/plain", map[string]string{}
	}

	mediaType, params, err := mime.ParseMediaType(v)
	if err != nil && !errors.Is(err, mime.ErrInvalidMediaParameter) {
		return "text/plain", map[string]string{}
	}
	if params == nil {
		params = map[string]string{}
	}

	return strings.ToLower(mediaType), params
}

// attachmentName returns the decoded file name of an attachment.
func attachmentName(names ...string) string {
	for _, name := range names {
		if name = strings.TrimSpace(decodeHeader(name)); name != "" {
			return strings.Map(func(r rune) rune {
				if r < 0x20 || r == 0x7f {
					return -1
				}

				return r
			}, name)
		}
	}

	return ""
}

// describeAttachment names an attachment for Metadata.
func describeAttachment(filename, mediaType string) string {
	if filename != "" {
		return filename
	}

	return "unnamed " + mediaType
}

// decodeTransfer undoes a Content-Transfer-Encoding.
func decodeTransfer(encoding string, body io.Reader) ([]byte, error) {
	var r io.Reader
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "", "7bit", "8bit", "binary":
		r = body
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, &base64Cleaner{r: body})
	default:
		return nil, fmt.Errorf("%w: unknown Content-Transfer-Encoding %q", ErrMalformedMessage, encoding)
	}

	b, err := io.ReadAll(io.LimitReader(r, MaxMessageBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: decode %s body: %w", ErrMalformedMessage, encoding, err)
	}

	return b, nil
}

// base64Cleaner drops the spaces and tabs that some mailers leave in
// base64 bodies; the decoder itself skips line breaks.
type base64Cleaner struct{ r io.Reader }

func (c *base64Cleaner) Read(p []byte) (int, error) {
	for {
		n, err := c.r.Read(p)
		kept := 0
		for _, b := range p[:n] {
			if b != ' ' && b != '\t' {
				p[kept] = b
				kept++
			}
		}
		if kept > 0 || err != nil {
			return kept, err
		}
	}
}
