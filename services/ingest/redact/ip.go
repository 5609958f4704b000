package redact

import (
	"net/netip"
	"strings"
)

// ipScore is the confidence of an address that net/netip parses.
const ipScore = 0.85

// findIPs appends the IPv4 and IPv6 addresses in text to out.
func (r *Redactor) findIPs(s *scan, out []candidate) []candidate {
	out = r.findIPv4(s, out)
	return findIPv6(s.text, out)
}

// findIPv4 takes dotted quads that net/netip accepts (so no octet above 255
// and no leading zeros) and that are not part of a longer dotted number or
// named as a version.
func (r *Redactor) findIPv4(s *scan, out []candidate) []candidate {
	text := s.text
	next := 0
	for _, t := range s.tokens {
		if t.start < next || !isDigit(text[t.start]) || !t.isNumber() || byteAt(text, t.end) != '.' {
			continue
		}
		end, ok := scanDottedQuad(text, t.start)
		if !ok {
			continue
		}
		start := t.start
		next = end
		before := runeBefore(text, start)
		if before == '.' || isWordRune(before) || (continuesNumber(text, end) && !portOrPrefix(text, end)) {
			continue
		}
		addr, err := netip.ParseAddr(text[start:end])
		if err != nil || !addr.Is4() || notPersonalIP(addr) {
			continue
		}
		if hasContext(text, start, 3, r.versionWords) {
			continue
		}
		out = append(out, candidate{Finding: Finding{Type: TypeIP, Start: start, End: end, Score: ipScore}})
	}
	return out
}

// scanDottedQuad reads four runs of one to three digits joined by dots,
// starting at i, and returns where they end.
func scanDottedQuad(text string, i int) (int, bool) {
	for part := range 4 {
		if part > 0 {
			if byteAt(text, i) != '.' {
				return 0, false
			}
			i++
		}
		start := i
		for i < len(text) && isDigit(text[i]) {
			i++
		}
		if n := i - start; n < 1 || n > 3 {
			return 0, false
		}
	}
	return i, true
}

// portOrPrefix reports whether the address ending at end goes on with a
// port (":8443") or a CIDR prefix length ("/24") and then stops.
func portOrPrefix(text string, end int) bool {
	sep := byteAt(text, end)
	if sep != ':' && sep != '/' {
		return false
	}
	i := end + 1
	for i < len(text) && isDigit(text[i]) && i-end <= 5 {
		i++
	}
	return i > end+1 && !isWordRune(firstRune(text, i)) && byteAt(text, i) != '.'
}

// notPersonalIP reports addresses that identify no one: loopback and the
// unspecified address.
func notPersonalIP(addr netip.Addr) bool {
	return addr.IsLoopback() || addr.IsUnspecified()
}

// hexPairGroups reports whether s is made of six or more colon-separated
// groups of exactly two hex digits and no "::": the shape of certificate
// serials and MAC-like ids, which also parse as IPv6.
func hexPairGroups(s string) bool {
	if strings.Contains(s, "::") {
		return false
	}
	groups := strings.Split(s, ":")
	if len(groups) < 6 {
		return false
	}
	for _, g := range groups {
		if len(g) != 2 {
			return false
		}
	}
	return true
}

func isIPv6Byte(b byte) bool {
	return isDigit(b) || b == ':' || b == '.' || (b|0x20 >= 'a' && b|0x20 <= 'f')
}

// findIPv6 takes runs of hex digits, colons and dots with at least two
// colons and one decimal digit that net/netip parses as IPv6. Times such as
// 10:30:00 and MAC addresses do not parse; requiring a decimal digit keeps
// scopes such as a::b out.
func findIPv6(text string, out []candidate) []candidate {
	for from := 0; ; {
		colon := strings.IndexByte(text[from:], ':')
		if colon < 0 {
			return out
		}
		start, end := from+colon, from+colon
		for start > from && isIPv6Byte(text[start-1]) {
			start--
		}
		for end < len(text) && isIPv6Byte(text[end]) {
			end++
		}
		from = end

		end = trimIPv6Tail(text, start, end)
		s := text[start:end]
		if strings.Count(s, ":") < 2 || !strings.ContainsAny(s, "0123456789") {
			continue
		}
		if isWordRune(runeBefore(text, start)) || isWordRune(firstRune(text, end)) {
			continue
		}
		addr, err := netip.ParseAddr(s)
		if err != nil || !addr.Is6() || notPersonalIP(addr) || hexPairGroups(s) {
			continue
		}
		out = append(out, candidate{Finding: Finding{Type: TypeIP, Start: start, End: end, Score: ipScore}})
	}
}

// trimIPv6Tail drops sentence punctuation that the run swallowed: a final
// dot, or a final single colon ("at fe80::1:" keeps fe80::1).
func trimIPv6Tail(text string, start, end int) int {
	for end > start && text[end-1] == '.' {
		end--
	}
	if end-start >= 2 && text[end-1] == ':' && text[end-2] != ':' {
		end--
	}
	return end
}
