package redact

import "strings"

// Restore replaces every placeholder in text that originals knows with its
// original value, and every other reversible replacement that originals
// holds (format-preserving and encrypted values) wherever it appears. It
// returns the restored text and, in order of first appearance, the
// placeholders it found but could not restore. Restored values are not
// scanned again.
//
// TODO: text that already held a placeholder-shaped string before redaction
// (a customer quoting "[EMAIL_1]") is restored too; escaping such strings on
// the way in would need an escape syntax every consumer understands.
func Restore(text string, originals map[string]string) (string, []string) {
	others := otherReplacements(originals)
	var b strings.Builder
	var unknown []string
	seen := make(map[string]bool)
	prev := 0
	for i := 0; i < len(text); i++ {
		if text[i] != '[' {
			continue
		}
		end, ok := placeholderAt(text, i)
		if !ok {
			continue
		}
		ph := text[i:end]
		original, known := originals[ph]
		if !known {
			if !seen[ph] {
				seen[ph] = true
				unknown = append(unknown, ph)
			}
			i = end - 1
			continue
		}
		if b.Len() == 0 {
			b.Grow(len(text))
		}
		writeRestored(&b, text[prev:i], others)
		b.WriteString(original)
		prev = end
		i = end - 1
	}
	if prev == 0 && others == nil {
		return text, unknown
	}
	writeRestored(&b, text[prev:], others)
	return b.String(), unknown
}

// otherReplacements returns a Replacer for the originals that are not
// placeholders, or nil when there are none.
func otherReplacements(originals map[string]string) *strings.Replacer {
	var pairs []string
	for out, original := range originals {
		if end, ok := placeholderAt(out, 0); ok && end == len(out) {
			continue
		}
		if out != "" {
			pairs = append(pairs, out, original)
		}
	}
	if pairs == nil {
		return nil
	}
	return strings.NewReplacer(pairs...)
}

func writeRestored(b *strings.Builder, s string, others *strings.Replacer) {
	if others == nil {
		b.WriteString(s)
		return
	}
	others.WriteString(b, s) //nolint:errcheck // a strings.Builder does not fail
}

// placeholderAt reports whether a placeholder of a known type, such as
// [EMAIL_12] or [US_PASSPORT_1], starts at text[i], and where it ends.
func placeholderAt(text string, i int) (int, bool) {
	if byteAt(text, i) != '[' {
		return 0, false
	}
	j := i + 1
	for j < len(text) && (isUpper(text[j]) || isDigit(text[j]) || text[j] == '_') && j-i <= maxPlaceholderLen {
		j++
	}
	if byteAt(text, j) != ']' {
		return 0, false
	}
	inner := text[i+1 : j]
	sep := strings.LastIndexByte(inner, '_')
	if sep <= 0 || sep == len(inner)-1 || inner[sep+1] == '0' || !knownPrefixes[inner[:sep]] {
		return 0, false
	}
	for k := sep + 1; k < len(inner); k++ {
		if !isDigit(inner[k]) {
			return 0, false
		}
	}
	return j + 1, true
}

// maxPlaceholderLen bounds the inside of a placeholder.
const maxPlaceholderLen = 40
