package redact

import "strings"

// macScore is the confidence of six hex pairs or three dotted quads of
// hex: few other things are written that way.
const macScore = 0.9

// Lengths of the two written forms of a 48-bit MAC address.
const (
	macPairsLen  = 17 // 00:1a:2b:3c:4d:5e or 00-1a-2b-3c-4d-5e
	macCiscoLen  = 14 // 001a.2b3c.4d5e
	macHexDigits = 12
)

// macContextTokens is how many tokens before an all-decimal address are
// searched for a word such as "MAC".
const macContextTokens = 4

// findMACs appends MAC addresses to out: six hex pairs joined by ':' or by
// '-' (one kind in an address) and Cisco's three dotted groups of four.
//
// Addresses that name no device are left alone: the all-zero address, the
// broadcast address ff:ff:ff:ff:ff:ff and the well-known multicast groups
// (01:00:5e IPv4, 33:33 IPv6, 01:80:c2 bridge protocols). An address made
// of decimal digits only, which dashed timestamps and counters can mimic,
// needs a word such as "MAC" before it.
func (r *Redactor) findMACs(s *scan, out []candidate) []candidate {
	text := s.text
	for k := 0; k < len(s.tokens); k++ {
		t := &s.tokens[k]
		var end int
		switch {
		case t.len() == 2 && (byteAt(text, t.end) == ':' || byteAt(text, t.end) == '-'):
			end = macPairsEnd(text, t.start)
		case t.len() == 4 && byteAt(text, t.end) == '.':
			end = macCiscoEnd(text, t.start)
		}
		if end == 0 || !macBoundaryOK(text, t.start, end) {
			continue
		}
		var hex [macHexDigits]byte
		n := 0
		for i := t.start; i < end; i++ {
			if isHexByte(text[i]) {
				hex[n] = text[i] | 0x20
				n++
			}
		}
		if !macNamesDevice(hex) {
			continue
		}
		if allDigits(string(hex[:])) && !prevWordFunc(s, k, macContextTokens, isMACContextWord) {
			continue
		}
		out = append(out, candidate{
			Finding: Finding{Type: TypeMAC, Start: t.start, End: end, Score: macScore},
			key:     string(hex[:]),
		})
		k = s.tokenAt(end) - 1
	}
	return out
}

// macPairsEnd returns the end of six hex pairs joined by one separator
// that start at i, or 0.
func macPairsEnd(text string, i int) int {
	if i+macPairsLen > len(text) {
		return 0
	}
	sep := text[i+2]
	for p := range 6 {
		j := i + 3*p
		if !isHexByte(text[j]) || !isHexByte(text[j+1]) {
			return 0
		}
		if p < 5 && text[j+2] != sep {
			return 0
		}
	}
	return i + macPairsLen
}

// macCiscoEnd returns the end of three groups of four hex digits joined
// by dots that start at i, or 0.
func macCiscoEnd(text string, i int) int {
	if i+macCiscoLen > len(text) {
		return 0
	}
	for g := range 3 {
		j := i + 5*g
		if !isHexString(text[j:j+4]) || (g < 2 && text[j+4] != '.') {
			return 0
		}
	}
	return i + macCiscoLen
}

// macBoundaryOK reports whether the address at [start, end) stands alone:
// not part of a longer run of hex groups such as an IPv6 address or an
// EUI-64, and not glued to a word.
func macBoundaryOK(text string, start, end int) bool {
	before := runeBefore(text, start)
	if isWordRune(before) || before == ':' || before == '-' || before == '.' {
		return false
	}
	after := firstRune(text, end)
	if isWordRune(after) {
		return false
	}
	switch after {
	case ':', '-':
		return !isHexByte(byteAt(text, end+1))
	case '.':
		return !isASCIIAlnum(byteAt(text, end+1))
	}
	return true
}

// macNamesDevice reports whether the twelve lower-case hex digits are an
// address that can name one device: not all zero, not broadcast, not a
// well-known multicast group.
func macNamesDevice(hex [macHexDigits]byte) bool {
	h := string(hex[:])
	switch {
	case h == "000000000000", h == "ffffffffffff":
		return false
	case strings.HasPrefix(h, "01005e"), strings.HasPrefix(h, "3333"), strings.HasPrefix(h, "0180c2"):
		return false
	}
	return true
}

// isMACContextWord reports whether the lower-case word says that a number
// nearby is a hardware address.
func isMACContextWord(w []byte) bool {
	switch string(w) {
	case "mac", "hwaddr", "ether", "ethernet", "bssid", "hardware", "wifi", "wlan", "eth0", "device":
		return true
	}
	return false
}
