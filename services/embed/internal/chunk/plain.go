package chunk

// parsePlain reads source[start:end] as paragraphs separated by blank lines,
// each cut into sentences, with list items and table rows on lines of their
// own.
func parsePlain(b *builder, start, end int) {
	source := b.d.source
	paraStart, paraEnd := -1, 0
	for _, ln := range linesIn(source, start, end) {
		if isBlank(source[ln.start:ln.end]) {
			if paraStart >= 0 {
				b.paragraph(paraStart, paraEnd)
			}
			paraStart = -1
			continue
		}
		if paraStart < 0 {
			paraStart = ln.start
		}
		paraEnd = ln.end
	}
	if paraStart >= 0 {
		b.paragraph(paraStart, paraEnd)
	}
}

// linesIn returns the lines of text[start:end], with offsets into text.
func linesIn(text string, start, end int) []line {
	lines := splitLines(text[start:end])
	for i := range lines {
		lines[i].start += start
		lines[i].end += start
	}
	return lines
}
