package message

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
)

// Content-Transfer-Encoding names, lowercased.
const (
	cteQuotedPrintable = "quoted-printable"
	cteBase64          = "base64"
)

// decodeTransfer undoes the Content-Transfer-Encoding cte of body. It
// returns the decoded bytes and, for damage it worked around, a warning
// without a part prefix. Unknown encodings and broken base64 are errors.
func decodeTransfer(cte, body string) ([]byte, string, error) {
	switch cte {
	case "", "7bit", "8bit", "binary":
		return []byte(body), "", nil
	case cteQuotedPrintable:
		out, bad := decodeQuotedPrintable(body)
		if bad > 0 {
			return out, fmt.Sprintf("%d malformed quoted-printable escapes kept as they are", bad), nil
		}

		return out, "", nil
	case cteBase64:
		out, err := decodeBase64(body)

		return out, "", err
	}

	return nil, "", fmt.Errorf("unknown Content-Transfer-Encoding %s", quoteLabel(cte))
}

// decodeQuotedPrintable decodes quoted-printable text (RFC 2045 6.7)
// leniently: soft line breaks are joined, trailing white space on a line is
// dropped as transport padding, and an "=" that starts no valid escape is
// kept as it is and counted in bad.
func decodeQuotedPrintable(s string) (out []byte, bad int) {
	out = make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '=':
			if i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
				out = append(out, unhex(s[i+1])<<4|unhex(s[i+2]))
				i += 3

				continue
			}
			// A soft line break: "=", optional padding, then the line end
			// or the end of the text.
			j := i + 1
			for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
				j++
			}
			switch {
			case j == len(s):
				i = j
			case s[j] == '\n':
				i = j + 1
			case s[j] == '\r' && j+1 < len(s) && s[j+1] == '\n':
				i = j + 2
			default:
				out = append(out, '=')
				bad++
				i++
			}
		case c == ' ' || c == '\t':
			j := i
			for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
				j++
			}
			if j < len(s) && s[j] != '\r' && s[j] != '\n' {
				out = append(out, s[i:j]...)
			}
			i = j
		default:
			out = append(out, c)
			i++
		}
	}

	return out, bad
}

// decodeBase64 decodes a base64 body, ignoring white space, accepting
// missing padding and bodies made of several padded pieces in a row.
func decodeBase64(s string) ([]byte, error) {
	clean := make([]byte, 0, len(s))
	for i := range len(s) {
		switch c := s[i]; c {
		case ' ', '\t', '\r', '\n', '\f', '\v':
		default:
			clean = append(clean, c)
		}
	}

	out := make([]byte, 0, len(clean)*3/4+3)
	consumed := 0
	for len(clean) > 0 {
		// One piece runs to the end of its padding, or to the end.
		end := len(clean)
		if pad := bytes.IndexByte(clean, '='); pad >= 0 {
			end = pad
			for end < len(clean) && clean[end] == '=' {
				end++
			}
		}
		piece := clean[:end]
		enc := base64.StdEncoding
		if piece[len(piece)-1] != '=' {
			enc = base64.RawStdEncoding
			if len(piece)%4 == 1 {
				return nil, fmt.Errorf("invalid base64: truncated at byte %d", consumed+len(piece))
			}
		}
		start := len(out)
		out = append(out, make([]byte, enc.DecodedLen(len(piece)))...)
		n, err := enc.Decode(out[start:], piece)
		if err != nil {
			var corrupt base64.CorruptInputError
			if errors.As(err, &corrupt) {
				return nil, fmt.Errorf("invalid base64 at byte %d", consumed+int(corrupt))
			}

			return nil, fmt.Errorf("invalid base64: %w", err)
		}
		out = out[:start+n]
		consumed += end
		clean = clean[end:]
	}

	return out, nil
}

// decodedSize returns the size of body once its transfer encoding is
// undone, without keeping the decoded bytes, and a warning when the body is
// damaged.
func decodedSize(cte, body string) (int, string) {
	switch cte {
	case cteBase64:
		n, bad := 0, 0
		for i := range len(body) {
			switch c := body[i]; {
			case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/':
				n++
			case c == '=', c == ' ', c == '\t', c == '\r', c == '\n':
			default:
				bad++
			}
		}
		if bad > 0 {
			return n * 3 / 4, "invalid base64; size is approximate"
		}

		return n * 3 / 4, ""
	case cteQuotedPrintable:
		out, bad := decodeQuotedPrintable(body)
		if bad > 0 {
			return len(out), "malformed quoted-printable"
		}

		return len(out), ""
	}

	return len(body), ""
}

// isHex reports whether c is a hexadecimal digit of either case.
func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// unhex returns the value of hexadecimal digit c.
func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}

	return c - 'A' + 10
}
