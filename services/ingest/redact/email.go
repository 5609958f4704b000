package redact

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// emailScore is the confidence of a syntactically valid email address.
const emailScore = 0.95

// Length limits of RFC 5321.
const (
	emailMaxLocal  = 64
	emailMaxDomain = 253
	emailMaxLabel  = 63
)

// findEmails appends the valid email addresses in text to out. From each
// '@' it reads the local part to the left and the domain to the right;
// letters of any script are allowed, as in internationalised addresses (RFC
// 6531). Validation checks the lengths RFC 5321 sets, rejects empty
// dot-separated parts and wants a top-level domain of letters.
func (r *Redactor) findEmails(text string, out []candidate) []candidate {
	for from := 0; ; {
		at := strings.IndexByte(text[from:], '@')
		if at < 0 {
			return out
		}
		at += from
		from = at + 1

		start := emailLocalStart(text, at)
		end := emailDomainEnd(text, at+1)
		if start == at || end == at+1 || !validEmail(text[start:at], text[at+1:end]) || messageIDAt(text, start) {
			continue
		}
		out = append(out, candidate{Finding: Finding{Type: TypeEmail, Start: start, End: end, Score: emailScore}})
	}
}

func isEmailLocalRune(r rune) bool {
	switch r {
	case '.', '_', '%', '+', '-':
		return true
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

func isEmailDomainRune(r rune) bool {
	return r == '.' || r == '-' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// emailLocalStart walks left from the '@' at byte offset at over local-part
// characters, skipping leading dots, and returns where the local part
// starts. It stops early once the part is too long to be valid.
func emailLocalStart(text string, at int) int {
	start := at
	for start > 0 && at-start <= emailMaxLocal {
		r, w := utf8.DecodeLastRuneInString(text[:start])
		if (r == '\'' || r == '\u2019') && start < at && letterBefore(text, start-w) && unicode.IsLetter(firstRune(text, start)) {
			start -= w // "sean.o'neill@example.ie": an apostrophe between letters
			continue
		}
		if !isEmailLocalRune(r) {
			break
		}
		start -= w
	}
	for start < at && text[start] == '.' {
		start++
	}
	return start
}

// emailDomainEnd walks right from byte offset from over domain characters
// and returns where the domain ends, without trailing dots or dashes (a
// sentence may end right after an address).
func emailDomainEnd(text string, from int) int {
	end := from
	for end < len(text) && end-from <= emailMaxDomain {
		r, w := utf8.DecodeRuneInString(text[end:])
		if !isEmailDomainRune(r) {
			break
		}
		end += w
	}
	for end > from && (text[end-1] == '.' || text[end-1] == '-') {
		end--
	}
	return end
}

// validEmail reports whether local@domain obeys the length limits, has no
// empty dot-separated part, no label that starts or ends with '-', and ends
// in a top-level domain of two or more letters.
func validEmail(local, domain string) bool {
	if len(local) > emailMaxLocal || len(domain) > emailMaxDomain {
		return false
	}
	if strings.HasSuffix(local, ".") || strings.Contains(local, "..") {
		return false
	}

	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > emailMaxLabel || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
	}
	tld := labels[len(labels)-1]
	if utf8.RuneCountInString(tld) < 2 {
		return false
	}
	for _, r := range tld {
		if !unicode.IsLetter(r) {
			return false
		}
	}
	return true
}

// messageIDHeaders name the mail headers whose <local@domain> values are
// message identifiers, made by mail software, not mailboxes.
var messageIDHeaders = []string{"message-id:", "in-reply-to:", "references:", "content-id:", "resent-message-id:"}

// messageIDAt reports whether the address-like token at byte start is in
// angle brackets on a Message-ID, In-Reply-To, References or Content-ID
// header line (or a folded continuation of one), or after a message_id=
// key of a log line.
func messageIDAt(text string, start int) bool {
	if start == 0 || text[start-1] != '<' {
		return false
	}
	before := strings.ToLower(text[max(0, start-13) : start-1])
	for _, key := range []string{"message_id=", "message-id=", "messageid=", "msgid=", "msg_id="} {
		if strings.HasSuffix(before, key) {
			return true // message_id=<...> in a log line
		}
	}
	ls := start
	for {
		ls = strings.LastIndexByte(text[:ls], '\n') + 1
		if ls == 0 || (text[ls] != ' ' && text[ls] != '\t') {
			break // not a folded continuation line
		}
		ls--
	}
	line := text[ls:start]
	for _, h := range messageIDHeaders {
		if len(line) >= len(h) && strings.EqualFold(line[:len(h)], h) {
			return true
		}
	}
	return false
}

// letterBefore reports whether a letter ends text[:i].
func letterBefore(text string, i int) bool {
	r, _ := utf8.DecodeLastRuneInString(text[:i])
	return unicode.IsLetter(r)
}
