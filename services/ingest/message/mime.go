package message

import (
	"errors"
	"fmt"
	"mime"
	"strconv"
	"strings"
)

// parser holds the state of one Parse call while it walks the MIME tree.
type parser struct {
	lim   Limits
	email *Email
	hdr   *headerDecoder
	// parts counts the MIME parts seen, containers included.
	parts int
	// broken lists structural damage that was worked around; it becomes
	// the error when no text is left.
	broken []problem
	// binary is the first text part rejected as binary; it becomes the
	// error when no text is left.
	binary error
}

// problem is structural damage found in one part.
type problem struct {
	part   string
	reason string
}

// content is the readable text of a part or a subtree, piece by piece.
type content []textPiece

// textPiece is the text of one leaf part.
type textPiece struct {
	part, mediaType, charset, text string
	// unrendered is set while text is still HTML source: rendering waits
	// until the piece is chosen, so that the HTML version of a message
	// with a plain one is never parsed.
	unrendered bool
}

// hasHTML reports whether any piece comes from HTML.
func (c content) hasHTML() bool {
	for _, p := range c {
		if p.mediaType == mediaHTML {
			return true
		}
	}

	return false
}

// Media types that can hold body text.
const (
	mediaPlain = "text/plain"
	mediaHTML  = "text/html"
)

// newParser returns a parser that fills e.
func newParser(lim Limits, e *Email) *parser {
	p := &parser{lim: lim, email: e}
	p.hdr = newHeaderDecoder(p.warn)

	return p
}

// maxWarnings bounds the warnings kept for one message.
const maxWarnings = 100

// warn records a lossy decision; past maxWarnings it notes once that more
// were left out.
func (p *parser) warn(msg string) {
	switch n := len(p.email.Warnings); {
	case n < maxWarnings:
		p.email.Warnings = append(p.email.Warnings, msg)
	case n == maxWarnings:
		p.email.Warnings = append(p.email.Warnings, "further warnings left out")
	}
}

// partWarn records a lossy decision about one part.
func (p *parser) partWarn(part, msg string) {
	p.warn(partLabel(part) + ": " + msg)
}

// malformed returns an ErrMalformed error about part ("" for the message).
func (p *parser) malformed(part, reason string) error {
	return &Error{Kind: ErrMalformed, Input: inputMessage, Part: part, Reason: reason}
}

// partLabel names a part in warnings: "part 2.1", or "body" for the
// top-level container.
func partLabel(part string) string {
	if part == "" {
		return "body"
	}

	return "part " + part
}

// leafName returns the IMAP number of a leaf at path: the body of a
// message that is not multipart is part 1.
func leafName(path string) string {
	if path == "" {
		return "1"
	}

	return path
}

// childPath returns the path of the i-th (0-based) child of path.
func childPath(path string, i int) string {
	if path == "" {
		return strconv.Itoa(i + 1)
	}

	return path + "." + strconv.Itoa(i+1)
}

// walk returns the readable text of the part at path with header h and raw
// body, recording attachments and warnings on the way.
func (p *parser) walk(h header, body, path string, depth int, defaultType string) (content, error) {
	p.parts++
	if p.parts > p.lim.MaxParts {
		return nil, p.malformed("", fmt.Sprintf("more than %d MIME parts", p.lim.MaxParts))
	}

	ct := p.contentType(h, path, defaultType)
	if strings.HasPrefix(ct.mediaType, "multipart/") {
		if depth >= p.lim.MaxDepth {
			reason := fmt.Sprintf("multipart parts nested deeper than %d levels", p.lim.MaxDepth)

			return nil, p.malformed(path, reason)
		}

		return p.multipart(ct, body, path, depth)
	}

	return p.leaf(h, ct, body, leafName(path))
}

// multipart returns the readable text of a multipart body: for
// multipart/alternative the plain text version when it has text, else the
// first other version with text; for other multipart types the text of
// every inline text part, in order.
func (p *parser) multipart(ct contentType, body, path string, depth int) (content, error) {
	boundary := ct.params["boundary"]
	if boundary == "" {
		p.damaged(path, ct.mediaType+" has no boundary")

		return nil, nil
	}
	// Splitting stops just past the part limit, which walk then reports.
	rawParts, found, closed := splitMultipart(body, boundary, p.lim.MaxParts-p.parts+1)
	if !found {
		p.damaged(path, ct.mediaType+" boundary never appears")

		return nil, nil
	}
	if !closed {
		p.damaged(path, ct.mediaType+" closing boundary is missing; the message may be cut off")
	}

	childType := mediaPlain
	if ct.mediaType == "multipart/digest" {
		childType = "message/rfc822"
	}
	alternative := ct.mediaType == "multipart/alternative"

	var (
		children []content
		skipped  error
	)
	for i, raw := range rawParts {
		cp := childPath(path, i)
		h, b, err := p.partHeader(raw, cp)
		if err != nil {
			return nil, err
		}
		c, err := p.walk(h, b, cp, depth+1, childType)
		if err != nil {
			if !p.recoverable(err, alternative) {
				return nil, err
			}
			if skipped == nil {
				skipped = err
			}

			continue
		}
		children = append(children, c)
	}

	if alternative {
		chosen := p.chooseAlternative(children)
		if len(chosen) == 0 && skipped != nil && !errors.Is(skipped, ErrBinary) {
			return nil, skipped
		}

		return chosen, nil
	}

	var joined content
	for _, c := range children {
		joined = append(joined, c...)
	}

	return joined, nil
}

// recoverable reports whether a part that failed with err can be left out
// of its multipart parent: a binary text part always can (it is listed as
// an attachment), an undecodable one only among alternatives. It records
// the decision.
func (p *parser) recoverable(err error, alternative bool) bool {
	var me *Error
	if !errors.As(err, &me) {
		return false
	}

	switch {
	case errors.Is(err, ErrBinary):
		if p.binary == nil {
			p.binary = err
		}
	case alternative && errors.Is(err, ErrEncoding):
	default:
		return false
	}
	p.partWarn(me.Part, "left out: "+me.Reason)

	return true
}

// damaged records structural damage that was worked around.
func (p *parser) damaged(path, reason string) {
	p.broken = append(p.broken, problem{part: path, reason: reason})
	p.partWarn(path, reason)
}

// chooseAlternative returns the first alternative with text and no HTML,
// else the first HTML alternative whose rendering has text.
func (p *parser) chooseAlternative(children []content) content {
	for _, c := range children {
		if len(c) > 0 && !c.hasHTML() {
			return c
		}
	}
	for _, c := range children {
		if c = p.render(c); len(c) > 0 {
			return c
		}
	}

	return nil
}

// render turns the HTML pieces of c into text and drops pieces left empty.
func (p *parser) render(c content) content {
	out := c[:0:0]
	for _, piece := range c {
		if piece.unrendered {
			var flat bool
			piece.text, flat = htmlToText(piece.text)
			piece.unrendered = false
			if flat {
				p.partWarn(piece.part, "HTML nested too deeply to parse; rendered tag by tag")
			}
		}
		if piece.text != "" {
			out = append(out, piece)
		}
	}

	return out
}

// leaf returns the text of a part that is not multipart, or lists it as an
// attachment.
func (p *parser) leaf(h header, ct contentType, body, part string) (content, error) {
	disposition, filename := p.disposition(h, ct, part)
	cte := strings.ToLower(strings.TrimSpace(h.get("Content-Transfer-Encoding")))

	isText := (ct.mediaType == mediaPlain || ct.mediaType == mediaHTML) &&
		disposition != "attachment" && (filename == "" || disposition == "inline")
	if !isText {
		// TODO: a forwarded message/rfc822 part is only listed; its own
		// text is not extracted, so it is neither shown nor redacted.
		p.attach(h, ct, part, disposition, filename, cte, body)

		return nil, nil
	}

	decoded, warning, err := decodeTransfer(cte, body)
	if err != nil {
		return nil, &Error{Kind: ErrEncoding, Input: inputMessage, Part: part, Reason: err.Error()}
	}
	if warning != "" {
		p.partWarn(part, warning)
	}

	charset := normalizeCharset(ct.params["charset"])
	cd := charsetDecoder{input: inputMessage, part: part, warn: p.warn}
	text, err := cd.decode(charset, decoded)
	if err != nil {
		return nil, err
	}
	if why := binaryReason(text); why != "" {
		p.attach(h, ct, part, disposition, filename, cte, body)

		return nil, &Error{Kind: ErrBinary, Input: inputMessage, Part: part,
			Reason: ct.mediaType + " body is binary: " + why}
	}

	html := ct.mediaType == mediaHTML
	if html {
		if strings.TrimSpace(text) == "" {
			return nil, nil
		}
	} else {
		if strings.EqualFold(ct.params["format"], "flowed") {
			text = unflow(text, strings.EqualFold(ct.params["delsp"], "yes"))
		}
		if text = cleanText(text); text == "" {
			return nil, nil
		}
	}

	return content{{part: part, mediaType: ct.mediaType, charset: charset, text: text, unrendered: html}}, nil
}

// attach lists a part as an attachment.
func (p *parser) attach(h header, ct contentType, part, disposition, filename, cte, body string) {
	size, warning := decodedSize(cte, body)
	if warning != "" {
		p.partWarn(part, warning)
	}
	id := ""
	if ids := p.hdr.messageIDs("Content-ID", h.get("Content-ID")); len(ids) > 0 {
		id = ids[0]
	}
	p.email.Attachments = append(p.email.Attachments, Attachment{
		Part:      part,
		Filename:  filename,
		MediaType: ct.mediaType,
		Size:      size,
		ContentID: id,
		Inline:    disposition == "inline",
	})
}

// disposition returns the lowercased Content-Disposition type and the
// decoded file name, from the disposition's filename or the type's name.
func (p *parser) disposition(h header, ct contentType, part string) (string, string) {
	v := h.get("Content-Disposition")
	disposition, params := "", map[string]string(nil)
	if v != "" {
		disposition, params = parseParams(v)
	}

	for _, name := range []string{params["filename"], ct.params["name"]} {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		decoded, err := p.hdr.words.DecodeHeader(p.hdr.raw(name))
		if err != nil {
			p.partWarn(part, "file name has an unknown charset; kept encoded")
			decoded = name
		}

		return disposition, cleanHeaderText(p.hdr.valid(decoded))
	}

	return disposition, ""
}

// contentType is a parsed Content-Type field.
type contentType struct {
	mediaType string
	params    map[string]string
}

// contentType parses the Content-Type of a part, defaulting to def as RFC
// 2045 and 2046 say. A type that cannot be read at all is text/plain.
func (p *parser) contentType(h header, path, def string) contentType {
	v := h.get("Content-Type")
	if v == "" {
		return contentType{mediaType: def}
	}

	mediaType, params := parseParams(v)
	if slash := strings.IndexByte(mediaType, '/'); slash <= 0 || slash == len(mediaType)-1 {
		p.partWarn(leafName(path), "unreadable Content-Type; read as text/plain")

		return contentType{mediaType: mediaPlain}
	}

	return contentType{mediaType: mediaType, params: params}
}

// parseParams parses a field with parameters, such as Content-Type or
// Content-Disposition, returning the lowercased value and the parameters
// (names lowercased). RFC 2231 parameters are decoded by mime; a field that
// mime rejects is read leniently, as mailers write unquoted boundaries
// with "=" in them.
func parseParams(v string) (string, map[string]string) {
	// TODO: mime drops RFC 2231 values in charsets other than UTF-8 and
	// US-ASCII, so such a file name falls back to the name parameter.
	value, params, err := mime.ParseMediaType(v)
	if err == nil {
		return strings.ToLower(value), params
	}

	params = map[string]string{}
	first := true
	for _, item := range splitParams(v) {
		item = strings.TrimSpace(item)
		if first {
			value, first = strings.ToLower(item), false

			continue
		}
		key, val, ok := strings.Cut(item, "=")
		if !ok {
			continue
		}
		key = strings.ToLower(strings.TrimSpace(key))
		val = strings.TrimSpace(val)
		if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
			val = strings.ReplaceAll(val[1:len(val)-1], `\"`, `"`)
		}
		if _, dup := params[key]; key != "" && !dup {
			params[key] = val
		}
	}

	return value, params
}

// splitParams splits a parameterised field at semicolons outside quotes.
func splitParams(v string) []string {
	var (
		items   []string
		start   int
		quoted  bool
		escaped bool
	)
	for i := range len(v) {
		c := v[i]
		switch {
		case escaped:
			escaped = false
		case quoted && c == '\\':
			escaped = true
		case c == '"':
			quoted = !quoted
		case c == ';' && !quoted:
			items = append(items, v[start:i])
			start = i + 1
		}
	}

	return append(items, v[start:])
}

// splitMultipart splits a multipart body at its boundary (RFC 2046 5.1.1).
// It returns at most limit raw parts, whether any delimiter line was found
// and whether the closing delimiter was. The line break before a delimiter
// belongs to the delimiter; preamble and epilogue are dropped.
func splitMultipart(body, boundary string, limit int) (parts []string, found, closed bool) {
	delim := "--" + boundary
	partStart := -1
	for start := 0; start < len(body); {
		end := strings.IndexByte(body[start:], '\n')
		next := len(body)
		if end < 0 {
			end = len(body)
		} else {
			end += start
			next = end + 1
		}

		if isClose, ok := delimiterLine(body[start:end], delim); ok {
			found = true
			if partStart >= 0 {
				parts = append(parts, body[partStart:lineBreakBefore(body, partStart, start)])
			}
			if isClose || len(parts) >= limit {
				return parts, true, isClose
			}
			partStart = next
		}
		start = next
	}
	if partStart >= 0 {
		parts = append(parts, body[min(partStart, len(body)):])
	}

	return parts, found, false
}

// delimiterLine reports whether line is a boundary delimiter for delim and
// whether it is the closing one. Trailing white space is allowed.
func delimiterLine(line, delim string) (isClose, ok bool) {
	rest, found := strings.CutPrefix(line, delim)
	if !found {
		return false, false
	}
	if after, c := strings.CutPrefix(rest, "--"); c {
		rest, isClose = after, true
	}
	if strings.TrimRight(rest, " \t\r") != "" {
		return false, false
	}

	return isClose, true
}

// lineBreakBefore returns the offset where the line break ending just
// before offset at begins (for "\r\n" or "\n"), not going below min.
func lineBreakBefore(body string, floor, at int) int {
	end := at
	if end > floor && body[end-1] == '\n' {
		end--
		if end > floor && body[end-1] == '\r' {
			end--
		}
	}

	return end
}

// partHeader splits a raw part into its header and body. A part whose
// header is not followed by a blank line is taken as all header when its
// first line is a field, else as all body.
func (p *parser) partHeader(raw, part string) (header, string, error) {
	warn := func(msg string) { p.partWarn(part, msg) }
	if strings.HasPrefix(raw, "\n") || strings.HasPrefix(raw, "\r\n") {
		return nil, raw[strings.IndexByte(raw, '\n')+1:], nil
	}

	head, body, ok, tooLong := splitHeader(raw, p.lim.MaxHeaderBytes)
	if tooLong {
		return nil, "", p.malformed(part, fmt.Sprintf("header is longer than %d bytes", p.lim.MaxHeaderBytes))
	}
	if !ok {
		first, _, _ := strings.Cut(raw, "\n")
		colon := strings.IndexByte(first, ':')
		if colon <= 0 || !validFieldName(strings.TrimRight(first[:colon], " \t")) {
			warn("no header; read as text/plain")

			return nil, raw, nil
		}
		warn("no blank line after the header; body is empty")
		head, body = raw, ""
	}

	h, _ := parseFields(head, false, warn)

	return h, body, nil
}
