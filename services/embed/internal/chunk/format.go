package chunk

import (
	"mime"
	"strings"
)

// Format is how a document is written, which decides how it is read into
// blocks.
type Format string

// The formats a Splitter reads.
const (
	// FormatPlain is text in paragraphs separated by blank lines.
	FormatPlain Format = "plain"
	// FormatMarkdown is CommonMark with GitHub tables: ATX and setext
	// headings, paragraphs, lists, pipe tables, fenced and indented code.
	FormatMarkdown Format = "markdown"
	// FormatHTML is an HTML document or fragment.
	FormatHTML Format = "html"
	// FormatEmail is the plain-text body of an email, whose quoted reply
	// chain ("On ... wrote:", "> " lines, "-----Original Message-----") is
	// set apart from the fresh text.
	FormatEmail Format = "email"
	// FormatDiff is a unified diff, as git diff and diff -u write it, with an
	// optional preamble such as a commit message.
	FormatDiff Format = "diff"
)

// known reports whether f is empty or one of the formats above.
func (f Format) known() bool {
	switch f {
	case "", FormatPlain, FormatMarkdown, FormatHTML, FormatEmail, FormatDiff:
		return true
	}
	return false
}

// sniffLimit is how much of a document DetectFormat reads.
const sniffLimit = 64 << 10

// DetectFormat returns the format of a document from its media type, when
// that names one (text/markdown, text/html, message/rfc822, text/x-diff and
// their usual aliases), and otherwise from the first 64 KiB of its content:
// a diff has a "diff --git" line or "---", "+++" and "@@" lines; HTML opens
// with a tag and closes a known element; an email has an attribution line
// ("On ... wrote:"), an original-message separator or lines quoted with
// '>'; Markdown has headings, fences, pipe tables or setext underlines.
// Anything else is FormatPlain.
func DetectFormat(contentType, source string) Format {
	if mediaType, _, err := mime.ParseMediaType(contentType); err == nil {
		switch mediaType {
		case "text/markdown", "text/x-markdown":
			return FormatMarkdown
		case "text/html", "application/xhtml+xml":
			return FormatHTML
		case "message/rfc822":
			return FormatEmail
		case "text/x-diff", "text/x-patch", "application/x-diff", "application/x-patch":
			return FormatDiff
		}
	}

	if len(source) > sniffLimit {
		source = source[:cutAt(source, 0, sniffLimit)]
	}
	switch {
	case looksLikeDiff(source):
		return FormatDiff
	case looksLikeHTML(source):
		return FormatHTML
	case looksLikeEmail(source):
		return FormatEmail
	case looksLikeMarkdown(source):
		return FormatMarkdown
	}
	return FormatPlain
}

// looksLikeDiff reports whether source holds a git file header, or an old
// and new file header followed by a hunk header.
func looksLikeDiff(source string) bool {
	lines := splitLines(source)
	for i, ln := range lines {
		text := source[ln.start:ln.end]
		if strings.HasPrefix(text, "diff --git ") {
			return true
		}
		if i+2 < len(lines) && strings.HasPrefix(text, "--- ") &&
			strings.HasPrefix(source[lines[i+1].start:lines[i+1].end], "+++ ") &&
			strings.HasPrefix(source[lines[i+2].start:lines[i+2].end], "@@ -") {
			return true
		}
	}
	return false
}

// htmlSignals are closing tags that only HTML writes.
var htmlSignals = []string{
	"</html>", "</body>", "</p>", "</div>", "</li>", "</td>", "</tr>", "</table>",
	"</h1>", "</h2>", "</h3>", "</h4>", "</h5>", "</h6>", "</span>", "</a>", "</pre>",
}

// looksLikeHTML reports whether source starts with a doctype or an html
// element, or starts with a tag and closes a known element.
func looksLikeHTML(source string) bool {
	head := strings.ToLower(strings.TrimLeft(strings.TrimPrefix(source, "\ufeff"), " \t\r\n"))
	if strings.HasPrefix(head, "<!doctype html") || strings.HasPrefix(head, "<html") {
		return true
	}
	if !strings.HasPrefix(head, "<") {
		return false
	}
	for _, tag := range htmlSignals {
		if strings.Contains(head, tag) {
			return true
		}
	}
	return false
}

// looksLikeEmail reports whether source has an attribution line or an
// original-message separator, or at least two lines quoted with '>' and no
// Markdown heading.
func looksLikeEmail(source string) bool {
	lines := splitLines(source)
	quoted := 0
	for i, ln := range lines {
		depth, content := quoteDepth(source[ln.start:ln.end])
		if n, _ := attribution(source, lines, i); n > 0 {
			return true
		}
		if _, ok := separatorTitle(content); ok {
			return true
		}
		if depth > 0 {
			quoted++
		}
	}
	return quoted >= 2 && !looksLikeMarkdown(source)
}

// looksLikeMarkdown reports whether source has an ATX heading, a code fence,
// a pipe table or a setext heading.
func looksLikeMarkdown(source string) bool {
	lines := splitLines(source)
	for i, ln := range lines {
		text := source[ln.start:ln.end]
		if isATXHeading(text) {
			return true
		}
		if _, ok := openFence(text); ok {
			return true
		}
		if i == 0 || isBlank(source[lines[i-1].start:lines[i-1].end]) {
			continue
		}
		prev := source[lines[i-1].start:lines[i-1].end]
		if strings.Contains(prev, "|") && isDelimiterRow(text) {
			return true
		}
		if _, ok := setextLevel(text); ok && !isRule(strings.TrimSpace(prev)) {
			return true
		}
	}
	return false
}
