package sources

import "strings"

// normalizeText makes line endings "\n", drops control characters other
// than tab and newline, trims trailing spaces from each line, keeps at most
// one blank line in a row and trims the whole text.
func normalizeText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")

	var (
		b     strings.Builder
		blank = 0
	)
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.Map(func(r rune) rune {
			switch {
			case r == '\t':
				return r
			case r == '\u00a0':
				return ' '
			case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0:
				return -1
			}

			return r
		}, line)
		line = strings.TrimRight(line, " \t")

		if line == "" {
			blank++
			if blank > 1 {
				continue
			}
		} else {
			blank = 0
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}

	return strings.TrimSpace(b.String())
}
