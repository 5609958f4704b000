package message

import (
	"strings"
)

// Range is a span of bytes [Start, End) in a text.
type Range struct {
	Start int
	End   int
}

// textLine is one line of a text: content [start, end) and the start of
// the next line (end+1, or len(text) for the last line).
type textLine struct {
	start, end, next int
}

// splitLines returns the lines of text with their offsets.
func splitLines(text string) []textLine {
	lines := make([]textLine, 0, strings.Count(text, "\n")+1)
	for start := 0; start < len(text); {
		end := strings.IndexByte(text[start:], '\n')
		if end < 0 {
			lines = append(lines, textLine{start: start, end: len(text), next: len(text)})

			break
		}
		lines = append(lines, textLine{start: start, end: start + end, next: start + end + 1})
		start += end + 1
	}

	return lines
}

// maxAttributionLines is how many lines a reply attribution ("On ...,
// ... wrote:") may be wrapped over.
const maxAttributionLines = 3

// findQuoted returns the ranges of text that quote earlier mail, in order
// and without overlaps: lines starting with ">", reply attributions in
// English, Spanish, German, French and a few other languages, and
// everything from an Outlook "Original Message" separator or header block,
// or a forwarded-message separator, to the end. Ranges cover whole lines
// with their line breaks.
func findQuoted(text string) []Range {
	lines := splitLines(text)
	line := func(i int) string { return text[lines[i].start:lines[i].end] }

	// Everything after the first separator or header block is quoted.
	cut := len(lines)
	for i := range lines {
		if isSeparator(line(i)) || isHeaderBlock(lines, text, i) {
			cut = i
			for cut > 0 && isUnderline(line(cut-1)) {
				cut--
			}

			break
		}
	}

	quoted := make([]bool, cut)
	for i := 0; i < cut; i++ {
		if isQuoteLine(line(i)) {
			quoted[i] = true

			continue
		}
		n, opener := attribution(lines, text, i, cut)
		if n == 0 {
			continue
		}
		nextQuoted := followedByQuote(lines, text, i+n, cut)
		if !opener && !nextQuoted {
			continue
		}
		for j := i; j < i+n; j++ {
			quoted[j] = true
		}
		if !nextQuoted {
			// A dated attribution followed by unmarked text: the rest is
			// the earlier mail, quoted without ">" marks.
			cut = i

			break
		}
		i += n - 1
	}

	return quotedRanges(text, lines, quoted, cut)
}

// quotedRanges turns the quoted lines (and every line from cut on) into
// ranges, merging ranges separated only by blank lines.
func quotedRanges(text string, lines []textLine, quoted []bool, cut int) []Range {
	var ranges []Range
	add := func(r Range) {
		if n := len(ranges); n > 0 && strings.TrimSpace(text[ranges[n-1].End:r.Start]) == "" {
			ranges[n-1].End = r.End

			return
		}
		ranges = append(ranges, r)
	}

	for i := 0; i < cut && i < len(quoted); i++ {
		if quoted[i] {
			add(Range{Start: lines[i].start, End: lines[i].next})
		}
	}
	if cut < len(lines) {
		add(Range{Start: lines[cut].start, End: len(text)})
	}

	return ranges
}

// isQuoteLine reports whether a line quotes earlier mail with ">".
func isQuoteLine(line string) bool {
	return strings.HasPrefix(strings.TrimLeft(line, " \t"), ">")
}

// followedByQuote reports whether the first non-blank line from i (before
// cut) is a ">" line.
func followedByQuote(lines []textLine, text string, i, cut int) bool {
	for ; i < cut; i++ {
		l := text[lines[i].start:lines[i].end]
		if strings.TrimSpace(l) == "" {
			continue
		}

		return isQuoteLine(l)
	}

	return false
}

// attribution reports how many lines, from i, form a reply attribution
// such as "On Tue, 1 Dec 2026 at 09:14, Ana <ana@example.com> wrote:"
// (0 when none), and whether it begins with a dated opener ("On", "El",
// "Am", "Le", ...) rather than only a name.
func attribution(lines []textLine, text string, i, cut int) (int, bool) {
	first := text[lines[i].start:lines[i].end]
	if strings.TrimSpace(first) == "" || len(first) > 300 {
		return 0, false
	}
	opener := hasOpener(first)

	joined := ""
	for n := 1; n <= maxAttributionLines && i+n-1 < cut; n++ {
		l := strings.TrimSpace(text[lines[i+n-1].start:lines[i+n-1].end])
		if l == "" {
			break
		}
		if joined != "" {
			joined += " "
		}
		joined += l
		if len(joined) > 400 {
			break
		}
		if endsAttribution(joined) {
			if n > 1 && !opener {
				// Only a dated opener may wrap over several lines.
				return 0, false
			}

			return n, opener
		}
	}

	return 0, false
}

// hasOpener reports whether a line begins a dated attribution: an opening
// word such as "On" or "Le" and a digit of the date or time.
func hasOpener(line string) bool {
	line = strings.TrimSpace(line)
	for _, w := range []string{"On ", "El ", "Am ", "Le ", "Op ", "Em ", "Il ", "Den ", "W dniu "} {
		if strings.HasPrefix(line, w) {
			return strings.ContainsAny(line, "0123456789")
		}
	}

	return false
}

// endsAttribution reports whether s ends the way a reply attribution does
// in one of the languages known here.
func endsAttribution(s string) bool {
	s = strings.ReplaceAll(s, "\u00a0", " ")
	if !strings.HasSuffix(s, ":") {
		return false
	}
	for _, suffix := range []string{
		"wrote:", "writes:", "escribió:", "escribio:", "a écrit :", "a écrit:", "a ecrit :",
		"ha scritto:", "escreveu:", "schreef:", "skrev:", "napisał(a):",
	} {
		if strings.HasSuffix(s, suffix) {
			return true
		}
	}
	// German and Dutch put the verb before the name: "Am ... schrieb Ana
	// <ana@example.com>:".
	return (strings.HasPrefix(s, "Am ") && strings.Contains(s, " schrieb ")) ||
		(strings.HasPrefix(s, "Op ") && strings.Contains(s, " schreef "))
}

// isSeparator reports whether a line opens quoted or forwarded mail that
// runs to the end: Outlook's "-----Original Message-----", Gmail's
// "---------- Forwarded message ---------", Apple Mail's "Begin forwarded
// message:" and their translations.
func isSeparator(line string) bool {
	s := strings.TrimSpace(line)
	if strings.HasPrefix(s, "Begin forwarded message:") || strings.HasPrefix(s, "Anfang der weitergeleiteten") {
		return true
	}
	if !strings.HasPrefix(s, "--") || !strings.HasSuffix(s, "--") {
		return false
	}
	inner := strings.ToLower(strings.Trim(s, "- "))
	switch inner {
	case "original message", "ursprüngliche nachricht", "mensaje original", "message d'origine",
		"messaggio originale", "oorspronkelijk bericht", "mensagem original", "originalmeddelande",
		"forwarded message", "weitergeleitete nachricht", "mensaje reenviado", "message transféré",
		"messaggio inoltrato", "doorgestuurd bericht", "mensagem encaminhada":
		return true
	}

	return false
}

// isUnderline reports whether a line is the rule Outlook draws above a
// quoted header block.
func isUnderline(line string) bool {
	s := strings.TrimSpace(line)

	return len(s) >= 10 && strings.Trim(s, "_") == ""
}

// headerBlockSpan is how many lines after a "From:" line are searched for
// the rest of a quoted header block.
const headerBlockSpan = 6

// isHeaderBlock reports whether line i starts a quoted header block as
// Outlook writes one: "From:" followed within a few lines by "Sent:" or
// "Date:" and by "To:" or "Subject:", in any of the languages known here.
func isHeaderBlock(lines []textLine, text string, i int) bool {
	if key, _ := headerKey(text[lines[i].start:lines[i].end]); !isFromKey(key) {
		return false
	}

	var dated, addressed bool
	for j := i + 1; j < len(lines) && j <= i+headerBlockSpan; j++ {
		key, ok := headerKey(text[lines[j].start:lines[j].end])
		if !ok {
			continue
		}
		dated = dated || isDateKey(key)
		addressed = addressed || isToKey(key)
	}

	return dated && addressed
}

// headerKey returns the key of a line shaped like a header field, "Key:"
// or, in French, "Key :", with Markdown-style bold marks allowed around the
// key. Keys are short, so only the start of the line is searched.
func headerKey(line string) (string, bool) {
	s := strings.TrimLeft(line, " \t*")
	colon := strings.IndexByte(s[:min(len(s), 32)], ':')
	if colon <= 0 {
		return "", false
	}
	key := strings.TrimRight(s[:colon], " \u00a0*")

	return key, key != ""
}

// isFromKey reports whether key names the sender in a quoted header block.
func isFromKey(key string) bool {
	switch key {
	case "From", "De", "Von", "Van", "Da", "Från", "Od":
		return true
	}

	return false
}

// isDateKey reports whether key names the date in a quoted header block.
func isDateKey(key string) bool {
	switch key {
	case "Sent", "Date", "Enviado", "Fecha", "Gesendet", "Datum", "Envoyé", "Inviato", "Data",
		"Verzonden", "Skickat", "Wysłano":
		return true
	}

	return false
}

// isToKey reports whether key names the recipients or subject in a quoted
// header block.
func isToKey(key string) bool {
	switch key {
	case "To", "Subject", "Para", "Asunto", "An", "Betreff", "À", "Objet", "A", "Oggetto", "Aan",
		"Onderwerp", "Till", "Ämne", "Assunto", "Do", "Temat":
		return true
	}

	return false
}
