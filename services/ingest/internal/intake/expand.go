package intake

import (
	"errors"
	"fmt"
	"mime"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/ingest/message"
	"github.com/keelhq/keel/services/ingest/redact"
)

// Media types of IngestEvent.raw and RedactRequest.content_type.
const (
	ContentTypeEmail  = "message/rfc822"
	ContentTypeText   = "text/plain"
	ContentTypeDiff   = "text/x-diff"
	ContentTypeSource = "text/x-source"
	ContentTypeLog    = "text/x-log"
)

// rawContentTypes names the accepted media types of raw, for messages.
const rawContentTypes = "message/rfc822, text/plain, text/x-diff, text/x-source or text/x-log"

// mediaType returns the media type of a Content-Type value without its
// parameters, lower-cased; "" when it does not parse.
func mediaType(contentType string) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return ""
	}
	return mt
}

func rawContentType(contentType string) bool {
	switch mediaType(contentType) {
	case ContentTypeEmail, ContentTypeText, ContentTypeDiff, ContentTypeSource, ContentTypeLog:
		return true
	}
	return false
}

// ProfileOf returns the redaction profile for a media type: prose for
// text/plain (and for an empty type), code for diffs and source, log for
// logs. It reports false for any other type.
func ProfileOf(contentType string) (redact.Profile, bool) {
	if strings.TrimSpace(contentType) == "" {
		return redact.ProfileProse, true
	}
	switch mediaType(contentType) {
	case ContentTypeText, ContentTypeEmail:
		return redact.ProfileProse, true
	case ContentTypeDiff, ContentTypeSource:
		return redact.ProfileCode, true
	case ContentTypeLog:
		return redact.ProfileLog, true
	}
	return 0, false
}

// ErrUnreadable is matched (errors.Is) by the errors of Expand: raw content
// that cannot be turned into text. Such an event is refused, not retried.
var ErrUnreadable = errors.New("unreadable raw content")

// Expanded is the result of Expand: the redaction input and what parsing
// had to guess.
type Expanded struct {
	Input *Input
	// Warnings lists the lossy decisions of the parser (a guessed charset,
	// replaced bytes); they never quote the content.
	Warnings []string
}

// Expand turns a validated event into redaction input. An event without
// raw content is used as it is. Raw content is parsed by its media type: a
// MIME email gives the subject, the new text as body, the quoted reply chain
// apart, the attachments, and the sender as customer when the event names
// none; a note, log or source file is decoded to UTF-8; a diff must parse
// as a unified diff. The text produced must fit in maxBodyBytes.
func Expand(ev *keelv1.IngestEvent, maxBodyBytes int) (*Expanded, error) {
	if len(ev.GetRaw()) == 0 {
		return &Expanded{Input: &Input{Event: ev, Profile: redact.ProfileProse}}, nil
	}
	profile, ok := ProfileOf(ev.GetContentType())
	if !ok || !rawContentType(ev.GetContentType()) {
		return nil, fmt.Errorf("%w: content_type %s is not one of %s", ErrUnreadable, quote(ev.GetContentType()), rawContentTypes)
	}
	lim := message.DefaultLimits()
	lim.MaxBytes = max(maxBodyBytes, len(ev.GetRaw()))

	out := proto.CloneOf(ev)
	out.Raw, out.ContentType = nil, ""
	x := &Expanded{Input: &Input{Event: out, Profile: profile}}

	if mediaType(ev.GetContentType()) == ContentTypeEmail {
		email, err := message.Parse(ev.GetRaw(), lim)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnreadable, err)
		}
		fillFromEmail(x, email)
	} else {
		text, warnings, err := message.Note(ev.GetRaw(), lim)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnreadable, err)
		}
		if mediaType(ev.GetContentType()) == ContentTypeDiff {
			if _, err := message.ParseDiff(text); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrUnreadable, err)
			}
		}
		out.Body = text
		x.Warnings = warnings
	}

	if n := len(out.GetBody()) + len(x.Input.Quoted); n > maxBodyBytes {
		return nil, fmt.Errorf("%w: the text of raw is %d bytes; the limit is %d", ErrUnreadable, n, maxBodyBytes)
	}
	if strings.TrimSpace(out.GetBody()) == "" && strings.TrimSpace(out.GetSubject()) == "" && x.Input.Quoted == "" {
		return nil, fmt.Errorf("%w: raw holds no text", ErrUnreadable)
	}
	return x, nil
}

// fillFromEmail sets the event's fields from a parsed email.
func fillFromEmail(x *Expanded, email *message.Email) {
	ev := x.Input.Event
	ev.Subject = email.Subject
	ev.Body = email.Fresh()
	x.Input.Quoted = quotedText(email)
	x.Warnings = email.Warnings
	if ev.GetCustomer().GetEmail() == "" && len(email.From) > 0 {
		c := proto.CloneOf(ev.GetCustomer())
		if c == nil {
			c = &keelv1.Customer{}
		}
		c.Email, c.Name = email.From[0].Address, email.From[0].Name
		ev.Customer = c
	}
	if ev.GetReceivedAt() == nil && !email.Date.IsZero() {
		ev.ReceivedAt = timestamppb.New(email.Date)
	}
	for _, a := range email.Attachments {
		x.Input.Attachments = append(x.Input.Attachments, Attachment{
			Filename: a.Filename, MediaType: a.MediaType, Size: int64(a.Size),
		})
	}
}

// quotedText joins the quoted ranges of the email's text, one block per
// range.
func quotedText(email *message.Email) string {
	var b strings.Builder
	for _, r := range email.Quoted {
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		b.WriteString(strings.TrimRight(email.Text[r.Start:r.End], "\n"))
		b.WriteString("\n")
	}
	return b.String()
}
