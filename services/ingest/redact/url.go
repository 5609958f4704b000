package redact

import "strings"

// URL scores: a password in the userinfo or a parameter named for a secret
// is near certain; a parameter whose name is only sometimes a secret
// ("key", "code", "sid") needs a random-looking value.
const (
	urlScoreUserinfo    = 0.95 // scheme://user:password@host
	urlScoreSecretParam = 0.9  // ?token=..., X-Amz-Signature=...
	urlScoreTokenUser   = 0.85 // scheme://<random token>@host
	urlScoreWeakParam   = 0.75 // ?code=<random>, ?key=<random>
)

// Limits of a URL.
const (
	urlMaxSchemeLen      = 32
	urlMaxLen            = 8192
	urlUserTokenMinLen   = 20 // a user name this long and random is a token
	urlWeakParamMinLen   = 8
	urlSecretValueMinLen = 3
)

// findURLs appends to out the URLs that carry credentials: a password in
// the userinfo (https://user:pass@host, postgres://app:pw@db/app), a
// random token as the user name, or a query or fragment parameter named for
// a secret (token, access_token, api_key, sig, X-Amz-Signature, password,
// code ...). The span is the whole URL without trailing punctuation.
// Ordinary URLs are not findings.
func (r *Redactor) findURLs(s *scan, out []candidate) []candidate {
	text := s.text
	for from := 0; ; {
		i := strings.Index(text[from:], "://")
		if i < 0 {
			return out
		}
		sep := from + i
		from = sep + 3
		start := urlSchemeStart(text, sep)
		if start == sep {
			continue
		}
		end := urlEnd(text, sep+3)
		if score := urlCredentialScore(text[sep+3 : end]); score > 0 {
			out = append(out, candidate{Finding: Finding{Type: TypeURL, Start: start, End: end, Score: score}})
		}
		from = max(from, end)
	}
}

// urlSchemeStart walks back from the "://" at sep over the scheme (a
// letter, then letters, digits, '+', '-' or '.') and returns where it
// starts, or sep when there is none. A JDBC prefix (jdbc:postgresql://) is
// part of the URL.
func urlSchemeStart(text string, sep int) int {
	start := sep
	for start > 0 && sep-start < urlMaxSchemeLen {
		c := text[start-1]
		if !isASCIIAlnum(c) && c != '+' && c != '-' && c != '.' {
			break
		}
		start--
	}
	for start < sep && !isUpper(text[start]) && (text[start] < 'a' || text[start] > 'z') {
		start++
	}
	if start == sep {
		return sep
	}
	if start >= 5 && strings.EqualFold(text[start-5:start], "jdbc:") {
		start -= 5
	}
	return start
}

// urlEnd returns where the URL whose authority starts at i ends: at
// whitespace, a non-ASCII byte, a quote or a character URLs never hold
// unescaped, with trailing sentence punctuation and unbalanced closing
// brackets dropped.
func urlEnd(text string, i int) int {
	end := i
	for end < len(text) && end-i < urlMaxLen {
		c := text[end]
		if c <= ' ' || c >= 0x7f {
			break
		}
		switch c {
		case '"', '\'', '`', '<', '>', '{', '}', '|', '\\', '^':
			return trimURLTail(text, i, end)
		}
		end++
	}
	return trimURLTail(text, i, end)
}

// trimURLTail drops sentence punctuation after a URL, and closing
// brackets that close nothing inside it.
func trimURLTail(text string, start, end int) int {
	for end > start {
		switch c := text[end-1]; c {
		case '.', ',', ';', ':', '!', '?', '*':
			end--
			continue
		case ')', ']':
			if !bracketsBalanced(text[start:end], c) {
				end--
				continue
			}
		}
		return end
	}
	return end
}

// urlCredentialScore scores the credentials in rest, the URL after its
// "://", or returns 0 when it carries none.
func urlCredentialScore(rest string) float64 {
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	if at := strings.LastIndexByte(authority, '@'); at > 0 {
		userinfo := authority[:at]
		if colon := strings.IndexByte(userinfo, ':'); colon >= 0 {
			if password := userinfo[colon+1:]; password != "" && !isTemplateOrMask(password) {
				return urlScoreUserinfo
			}
		} else if len(userinfo) >= urlUserTokenMinLen && looksRandom(userinfo) {
			return urlScoreTokenUser
		}
	}

	best := 0.0
	params := rest[len(authority):]
	if q := strings.IndexAny(params, "?#"); q >= 0 {
		params = params[q+1:]
	} else {
		return 0
	}
	for params != "" {
		var param string
		if i := strings.IndexAny(params, "&;#?"); i >= 0 {
			param, params = params[:i], params[i+1:]
		} else {
			param, params = params, ""
		}
		eq := strings.IndexByte(param, '=')
		if eq <= 0 {
			continue
		}
		best = max(best, urlParamScore(param[:eq], param[eq+1:]))
	}
	return best
}

// isTemplateOrMask reports a userinfo password that stands for none: a
// mask (****), a template or environment reference (${DB_PASS}, {{pw}},
// <password>) or a redaction marker ([SECRET_1]).
func isTemplateOrMask(v string) bool {
	if isMask(v) {
		return true
	}
	switch v[0] {
	case '$', '{', '<', '[':
		return true
	}
	return false
}

// urlParamScore scores one query or fragment parameter by its name and
// value.
func urlParamScore(name, value string) float64 {
	if len(value) < urlSecretValueMinLen || isPlaceholderValue(value) {
		return 0
	}
	var buf [32]byte
	if len(name) > len(buf) {
		return 0
	}
	lower := lowerASCII(buf[:0], name)
	switch string(lower) {
	case "key", "code", "session", "sessionid", "session_id", "sid", "auth":
		if len(value) >= urlWeakParamMinLen && looksRandomURLValue(value) {
			return urlScoreWeakParam
		}
		return 0
	case "sig", "signature", "x-amz-signature", "x-amz-credential", "x-amz-security-token",
		"x-goog-signature", "x-goog-credential", "password", "passwd", "pwd", "pass",
		"api_key", "apikey", "api-key", "jwt", "client_secret", "secret", "awsaccesskeyid",
		"access_key", "accesskey":
		return urlScoreSecretParam
	}
	if hasSuffixFold(name, "token", "secret", "password") {
		return urlScoreSecretParam
	}
	return 0
}

// looksRandomURLValue is looksRandom for a query value: percent escapes
// (%2F) are read as the character they stand for would be, one symbol.
func looksRandomURLValue(v string) bool {
	if strings.IndexByte(v, '%') < 0 {
		return looksRandom(v)
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '%' && i+2 < len(v) && isHexByte(v[i+1]) && isHexByte(v[i+2]) {
			b.WriteByte('~')
			i += 2
			continue
		}
		b.WriteByte(v[i])
	}
	return looksRandom(b.String())
}
