package redact

import "strings"

// Restore replaces every placeholder in text that originals knows with its
// original value. It returns the restored text and, in order of first
// appearance, the placeholders it found but could not restore. Restored
// values are not scanned again.
//
// TODO: text that already held a placeholder-shaped string before redaction
// (a customer quoting "[EMAIL_1]") is restored too; escaping such strings on
// the way in would need an escape syntax every consumer understands.
func Restore(text string, originals map[string]string) (string, []string) {
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
		b.WriteString(text[prev:i])
		b.WriteString(original)
		prev = end
		i = end - 1
	}
	if prev == 0 {
		return text, unknown
	}
	b.WriteString(text[prev:])
	return b.String(), unknown
}

// placeholderAt reports whether a placeholder of a known type, such as
// [EMAIL_12], starts at text[i], and where it ends.
func placeholderAt(text string, i int) (int, bool) {
	j := i + 1
	for j < len(text) && isUpper(text[j]) {
		j++
	}
	if !knownPrefix(text[i+1:j]) || byteAt(text, j) != '_' {
		return 0, false
	}
	j++
	digits := j
	for j < len(text) && isDigit(text[j]) {
		j++
	}
	if j == digits || text[digits] == '0' || byteAt(text, j) != ']' {
		return 0, false
	}
	return j + 1, true
}

func knownPrefix(prefix string) bool {
	for _, t := range []Type{TypeEmail, TypePhone, TypeCard, TypeIBAN, TypeSSN, TypeIP, TypePerson} {
		if t.placeholderPrefix() == prefix {
			return true
		}
	}
	return false
}
