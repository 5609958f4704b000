package message

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// field is one header field: its name as written and its unfolded value.
type field struct {
	name  string
	value string
}

// header is the fields of a message or part, in order.
type header []field

// get returns the trimmed value of the first field called name, compared
// without regard to case, or "".
func (h header) get(name string) string {
	for _, f := range h {
		if strings.EqualFold(f.name, name) {
			return strings.TrimSpace(f.value)
		}
	}

	return ""
}

// splitHeader splits s at the first empty line into the header section
// (with its line breaks) and the body. ok is false when there is no empty
// line. tooLong is set when the header section, separator or not, runs past
// maxHeader bytes.
func splitHeader(s string, maxHeader int) (head, body string, ok, tooLong bool) {
	for i := 0; i < len(s); {
		if i > maxHeader {
			return "", "", false, true
		}
		nl := strings.IndexByte(s[i:], '\n')
		if nl < 0 {
			// The last line has no line break: no separator follows.
			return "", "", false, len(s) > maxHeader
		}
		line := s[i : i+nl]
		if line == "" || line == "\r" {
			return s[:i], s[i+nl+1:], true, false
		}
		i += nl + 1
	}

	return "", "", false, false
}

// parseFields reads the fields of a header section. With strict set, a line
// that is neither a field nor a continuation is an error (returned as a
// reason); otherwise such lines are skipped with one warning. A leading
// mbox "From " line is skipped either way.
func parseFields(head string, strict bool, warn func(string)) (header, string) {
	var (
		h       header
		skipped int
		// valueStart and valueEnd delimit the raw value of the last field,
		// continuation lines included, so that folding is undone once per
		// field rather than by growing a string line by line.
		valueStart, valueEnd int
	)
	closeField := func() {
		if len(h) > 0 {
			h[len(h)-1].value = unfold(head[valueStart:valueEnd])
		}
	}

	lineNo := 0
	for offset := 0; offset < len(head); {
		lineNo++
		end := strings.IndexByte(head[offset:], '\n')
		next := len(head)
		if end < 0 {
			end = len(head)
		} else {
			end += offset
			next = end + 1
		}
		line := strings.TrimSuffix(head[offset:end], "\r")
		lineStart := offset
		offset = next
		if line == "" {
			continue
		}

		if line[0] == ' ' || line[0] == '\t' {
			if len(h) == 0 {
				if strict {
					return nil, "header begins with a continuation line"
				}
				skipped++

				continue
			}
			valueEnd = end

			continue
		}

		colon := strings.IndexByte(line, ':')
		if colon <= 0 || !validFieldName(strings.TrimRight(line[:colon], " \t")) {
			switch {
			case lineNo == 1 && strings.HasPrefix(line, "From "):
				warn("mbox \"From \" line before the header skipped")
			case strict:
				return nil, fmt.Sprintf("header line %d is not a header field", lineNo)
			default:
				skipped++
			}

			continue
		}
		closeField()
		h = append(h, field{name: strings.TrimRight(line[:colon], " \t")})
		valueStart, valueEnd = lineStart+colon+1, end
	}
	closeField()

	if skipped > 0 {
		warn(fmt.Sprintf("%d header lines are not header fields; skipped", skipped))
	}

	return h, ""
}

// unfold removes the line breaks of a folded header value (RFC 5322
// 2.2.3), keeping the white space that follows them.
func unfold(v string) string {
	if !strings.Contains(v, "\n") {
		return strings.TrimSuffix(v, "\r")
	}
	v = strings.ReplaceAll(v, "\r\n", "")

	return strings.ReplaceAll(v, "\n", "")
}

// validFieldName reports whether name is a header field name: printable
// ASCII without spaces or colons (RFC 5322 3.6.8).
func validFieldName(name string) bool {
	if name == "" {
		return false
	}
	for i := range len(name) {
		if c := name[i]; c <= ' ' || c >= 0x7f {
			return false
		}
	}

	return true
}

// headerDecoder decodes header values of one message: RFC 2047 encoded
// words in any charset charsetDecoder knows, raw 8-bit text, addresses,
// message ids and dates. It is used by one Parse call only.
type headerDecoder struct {
	words *mime.WordDecoder
	warn  func(string)
	// field is the name of the field being decoded, for warnings.
	field string
}

// newHeaderDecoder returns a decoder that reports lossy decisions to warn.
func newHeaderDecoder(warn func(string)) *headerDecoder {
	d := &headerDecoder{warn: warn}
	d.words = &mime.WordDecoder{CharsetReader: d.charsetReader}

	return d
}

// charsetReader converts the text of one encoded word to UTF-8.
func (d *headerDecoder) charsetReader(label string, input io.Reader) (io.Reader, error) {
	b, err := io.ReadAll(input)
	if err != nil {
		return nil, fmt.Errorf("read encoded word: %w", err)
	}
	cd := charsetDecoder{input: inputMessage, warn: d.fieldWarn}
	s, err := cd.decode(label, b)
	if err != nil {
		return nil, err
	}

	return strings.NewReader(s), nil
}

// fieldWarn reports a warning about the field being decoded.
func (d *headerDecoder) fieldWarn(msg string) {
	d.warn("header " + d.field + ": " + msg)
}

// fieldError turns a decoding failure in the current field into an *Error.
func (d *headerDecoder) fieldError(err error) error {
	var me *Error
	if errors.As(err, &me) {
		return &Error{Kind: me.Kind, Input: inputMessage, Charset: me.Charset,
			Reason: "header " + d.field + ": " + me.Reason}
	}

	return &Error{Kind: ErrEncoding, Input: inputMessage, Reason: "header " + d.field + ": " + err.Error()}
}

// raw returns a header value as valid UTF-8: UTF-8 as it is (RFC 6532),
// other 8-bit text read as Windows-1252.
func (d *headerDecoder) raw(v string) string {
	if utf8.ValidString(v) {
		return v
	}
	d.fieldWarn("8-bit text is not UTF-8; read as Windows-1252")
	s, err := charmap.Windows1252.NewDecoder().String(v)
	if err != nil {
		return strings.ToValidUTF8(v, "\uFFFD")
	}

	return s
}

// text decodes an unstructured field such as Subject.
func (d *headerDecoder) text(name, v string) (string, error) {
	d.field = name
	s, err := d.words.DecodeHeader(d.raw(v))
	if err != nil {
		return "", d.fieldError(err)
	}

	return cleanHeaderText(d.valid(s)), nil
}

// valid replaces invalid UTF-8 left by encoded words that declared UTF-8.
func (d *headerDecoder) valid(s string) string {
	s, replaced := validUTF8(s)
	if replaced {
		d.fieldWarn("invalid UTF-8 replaced with U+FFFD")
	}

	return s
}

// addresses decodes an address-list field. A list that does not parse as
// RFC 5322 is read leniently, entry by entry.
func (d *headerDecoder) addresses(name, v string) ([]Address, error) {
	d.field = name
	v = strings.TrimSpace(d.raw(v))
	if v == "" {
		return nil, nil
	}

	parser := mail.AddressParser{WordDecoder: d.words}
	list, err := parser.ParseList(v)
	if err == nil {
		out := make([]Address, 0, len(list))
		for _, a := range list {
			out = append(out, Address{Name: cleanHeaderText(d.valid(a.Name)), Address: d.valid(a.Address)})
		}

		return out, nil
	}
	var me *Error
	if errors.As(err, &me) {
		return nil, d.fieldError(err)
	}

	return d.lenientAddresses(v)
}

// lenientAddresses reads an address list that net/mail rejects: each
// comma-separated entry is "name <address>" or a bare address.
func (d *headerDecoder) lenientAddresses(v string) ([]Address, error) {
	var (
		out     []Address
		skipped int
	)
	for _, entry := range splitAddressList(v) {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}

		open, end := strings.LastIndexByte(entry, '<'), strings.LastIndexByte(entry, '>')
		if open >= 0 && end > open {
			addr := strings.TrimSpace(entry[open+1 : end])
			if !plausibleAddress(addr) {
				skipped++

				continue
			}
			name, err := d.words.DecodeHeader(strings.Trim(strings.TrimSpace(entry[:open]), `"`))
			if err != nil {
				return nil, d.fieldError(err)
			}
			out = append(out, Address{Name: cleanHeaderText(d.valid(name)), Address: d.valid(addr)})

			continue
		}
		if plausibleAddress(entry) {
			out = append(out, Address{Address: d.valid(entry)})

			continue
		}
		skipped++
	}

	if skipped > 0 {
		d.fieldWarn(fmt.Sprintf("%d entries are not addresses; skipped", skipped))
	} else {
		d.fieldWarn("not RFC 5322; addresses read leniently")
	}

	return out, nil
}

// splitAddressList splits an address list at commas outside quotes, angle
// brackets and comments.
func splitAddressList(v string) []string {
	var (
		parts         []string
		start         int
		quoted        bool
		angle, paren  int
		escapedQuoted bool
	)
	for i := range len(v) {
		c := v[i]
		switch {
		case escapedQuoted:
			escapedQuoted = false
		case quoted && c == '\\':
			escapedQuoted = true
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '<':
			angle++
		case c == '>' && angle > 0:
			angle--
		case c == '(':
			paren++
		case c == ')' && paren > 0:
			paren--
		case c == ',' && angle == 0 && paren == 0:
			parts = append(parts, v[start:i])
			start = i + 1
		}
	}

	return append(parts, v[start:])
}

// plausibleAddress reports whether s looks like local@domain.
func plausibleAddress(s string) bool {
	at := strings.IndexByte(s, '@')

	return at > 0 && at < len(s)-1 && strings.Count(s, "@") == 1 && !strings.ContainsAny(s, " \t<>,;\"")
}

// messageIDs returns the ids in a Message-ID, In-Reply-To or References
// field without angle brackets. Text outside brackets (comments, phrases)
// is ignored when bracketed ids exist; otherwise the value is split at
// white space.
func (d *headerDecoder) messageIDs(name, v string) []string {
	d.field = name
	v = d.valid(v)

	var ids []string
	for rest := v; ; {
		open := strings.IndexByte(rest, '<')
		if open < 0 {
			break
		}
		end := strings.IndexByte(rest[open:], '>')
		if end < 0 {
			break
		}
		if id := cleanHeaderText(rest[open+1 : open+end]); id != "" {
			ids = append(ids, id)
		}
		rest = rest[open+end+1:]
	}
	if len(ids) > 0 {
		return ids
	}

	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		if id := cleanHeaderText(strings.Trim(f, "<>")); id != "" {
			ids = append(ids, id)
		}
	}

	return ids
}

// date parses a Date field; an unreadable date is a warning and the zero
// time.
func (d *headerDecoder) date(v string) time.Time {
	d.field = "Date"
	if strings.TrimSpace(v) == "" {
		return time.Time{}
	}
	t, err := mail.ParseDate(cleanHeaderText(d.valid(v)))
	if err != nil {
		d.fieldWarn("not a valid date; ignored")

		return time.Time{}
	}

	return t
}
