package sources

import (
	"errors"
	"fmt"
	"strings"

	"github.com/keelhq/keel/services/ingest/message"
)

// Limits on the MIME structure of one message.
const (
	maxMIMEDepth = 16
	maxMIMEParts = 256
)

// emailLimits returns the limits message.Parse applies to one message.
func emailLimits() message.Limits {
	return message.Limits{MaxBytes: MaxMessageBytes, MaxParts: maxMIMEParts, MaxDepth: maxMIMEDepth}
}

// parseEmail turns one raw RFC 5322 message into a Record without Line.
// Errors wrap ErrMalformedMessage, ErrUnsupportedCharset, ErrTooLarge or
// ErrEmptyRecord; parse errors also wrap the message package's error.
func parseEmail(raw []byte) (Record, error) {
	e, err := message.Parse(raw, emailLimits())
	if err != nil {
		return Record{}, sourceError(err)
	}
	if len(e.From) == 0 {
		return Record{}, fmt.Errorf("%w: no sender address in the From header", ErrMalformedMessage)
	}

	rec := Record{
		Kind:          KindEmail,
		Subject:       e.Subject,
		Body:          e.Text,
		CustomerEmail: e.From[0].Address,
		CustomerName:  e.From[0].Name,
		Metadata:      map[string]string{},
	}

	// Identity and time.
	// TODO: the sender chooses the Message-ID, so a message that reuses
	// another's id is dropped as a duplicate downstream; hashing the id with
	// the sender would narrow that, at the cost of ids that match the mail
	// system's.
	rec.EventID = e.MessageID
	if rec.EventID == "" {
		rec.EventID = contentID(raw)
	}
	if !e.Date.IsZero() {
		rec.ReceivedAt = e.Date.UTC()
	}
	if len(e.InReplyTo) > 0 {
		rec.Metadata["in_reply_to"] = e.InReplyTo[0]
	}

	// Body.
	if format := bodyFormat(e.TextParts); format != "" {
		rec.Metadata["body_format"] = format
	}
	if names := attachmentNames(e.Attachments); names != "" {
		rec.Metadata["attachments"] = names
	}

	if rec.Subject == "" && rec.Body == "" {
		return Record{}, ErrEmptyRecord
	}

	return rec, nil
}

// sourceError wraps an error of message.Parse in the matching error of
// this package: ErrTooLarge, ErrUnsupportedCharset when a charset is to
// blame, else ErrMalformedMessage.
func sourceError(err error) error {
	var me *message.Error
	switch {
	case errors.Is(err, message.ErrTooLarge):
		return fmt.Errorf("%w: %w", ErrTooLarge, err)
	case errors.As(err, &me) && me.Charset != "":
		return fmt.Errorf("%w: %w", ErrUnsupportedCharset, err)
	default:
		return fmt.Errorf("%w: %w", ErrMalformedMessage, err)
	}
}

// bodyFormat names where the body text came from: the media type of its
// one text part, "mixed" when several parts were joined, or "" without
// text.
func bodyFormat(parts []message.TextPart) string {
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0].MediaType
	default:
		return "mixed"
	}
}

// attachmentNames lists attachments for Metadata: each by file name, or as
// "unnamed" and its media type.
func attachmentNames(attachments []message.Attachment) string {
	names := make([]string, 0, len(attachments))
	for _, a := range attachments {
		if a.Filename != "" {
			names = append(names, a.Filename)

			continue
		}
		names = append(names, "unnamed "+a.MediaType)
	}

	return strings.Join(names, ", ")
}
