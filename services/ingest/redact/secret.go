package redact

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"strings"
	"unicode/utf8"
)

// Secret scores.
const (
	secretScorePEM         = 0.99 // a PEM block labelled PRIVATE KEY
	secretScoreProvider    = 0.95 // a provider prefix with its documented shape
	secretScoreJWT         = 0.95 // three base64url parts, the first a JOSE header
	secretScoreAWSSecret   = 0.95 // 40 base64 characters after aws_secret_access_key
	secretScoreKeyedRandom = 0.85 // a random-looking value after api_key=, token: ...
	secretScoreKeyedWeak   = 0.45 // such a value that does not look random
	passwordScoreStrong    = 0.9  // mixes kinds of character, or is long
	passwordScorePlain     = 0.65 // one kind of character: "123456", "Sunshine"
	passwordScoreWord      = 0.55 // a lower-case word: "password is sunshine"
)

// Limits of the values taken after a keyword.
const (
	passwordMinLen     = 4
	secretValueMaxLen  = 512
	keyedSecretMinLen  = 12 // shorter values after "token:" are rarely secrets
	randomMinLen       = 12
	randomMinEntropy   = 3.0  // bits per character
	randomEntropyShare = 0.75 // of the most a string of its length and alphabet can have
	awsSecretLen       = 40
	maxKeywordLen      = 48
)

// keywordKind says what the value after a keyword is.
type keywordKind uint8

const (
	keywordNone      keywordKind = iota
	keywordPassword              // password, passwd, pwd, passphrase
	keywordPass                  // the short "pass", which needs ':' or '='
	keywordSecret                // api_key, token, secret, access_key, auth
	keywordAuthz                 // Authorization: a scheme word may come first
	keywordAWSSecret             // aws_secret_access_key
)

// findSecrets appends provider API keys, JSON Web Tokens, PEM private keys,
// and the values written after words such as "password" or "api_key", to
// out. Provider keys are recognised by their documented prefixes and
// lengths; other values need their keyword and, for API keys, must look
// random.
func (r *Redactor) findSecrets(s *scan, out []candidate) []candidate {
	out = findPrivateKeys(s.text, out)
	text := s.text
	for k := range s.tokens {
		t := &s.tokens[k]
		if t.ascii && mayStartShapedSecret(text, t) {
			if start, end, typ, score := shapedSecret(text, t); end > 0 {
				out = append(out, candidate{Finding: Finding{Type: typ, Start: start, End: end, Score: score}})
			}
		}
		if t.letters >= 3 && assignmentFollows(text, t.end) {
			out = keyedSecret(s, k, out)
		}
	}
	return out
}

// shapedSecretShortToken is the length below which a token can only
// start a shaped secret when a '-' or '.' follows it (sk-, xoxb-, SG.,
// hooks.) or it may open a JWT (eyJ...); every provider key that is one
// token is longer.
const shapedSecretShortToken = 20

// mayStartShapedSecret is the cheap test that token t can start a
// provider key, a JWT or a webhook, so that most words are passed over
// after a length and a byte comparison.
func mayStartShapedSecret(text string, t *token) bool {
	n := t.len()
	switch {
	case n >= shapedSecretShortToken:
		return true
	case n < 2 || t.end >= len(text):
		return n >= 2 && text[t.start] == 'e'
	}
	next := text[t.end]
	return next == '-' || next == '.' || text[t.start] == 'e'
}

// shapedSecret recognises a secret by its shape from token t: a provider
// key prefix, a JWT or a Slack webhook. It returns the span of the secret
// (end 0 when there is none), its type and its score.
func shapedSecret(text string, t *token) (start, end int, typ Type, score float64) {
	w := text[t.start:t.end]
	switch {
	case w[0] == 'e':
		if end := jwtEnd(text, t.start); end > 0 {
			return t.start, end, TypeJWT, secretScoreJWT
		}
	case w == "hooks":
		if end := slackWebhookEnd(text, t.end); end > 0 {
			return webhookStart(text, t.start), end, TypeAPIKey, secretScoreProvider
		}
	default:
		if end := providerKeyEnd(text, t); end > 0 {
			return t.start, end, TypeAPIKey, secretScoreProvider
		}
	}
	return 0, 0, "", 0
}

// providerKeyEnd returns where a provider key that starts at token t ends,
// or 0. The shapes are the ones the providers document: a fixed prefix and
// a body of a known length or alphabet.
func providerKeyEnd(text string, t *token) int {
	w := text[t.start:t.end]
	next := byteAt(text, t.end)
	switch w[0] {
	case 'A': // AWS access key ids, Google API keys
		if len(w) == 20 && t.upper+t.digits == 20 && (w[:4] == "AKIA" || w[:4] == "ASIA") {
			return t.end
		}
		if strings.HasPrefix(w, "AIza") {
			return exactRun(text, t.start, 39, isBase64URLByte)
		}
	case 'g': // GitHub and GitLab
		if len(w) == 40 && w[:2] == "gh" && w[3] == '_' && strings.IndexByte("pousr", w[2]) >= 0 {
			return randomBodyEnd(w[4:], t.end)
		}
		if len(w) >= 82 && strings.HasPrefix(w, "github_pat_") {
			return randomBodyEnd(w[11:], t.end)
		}
		if w == "glpat" && next == '-' {
			return prefixedRunEnd(text, t.end+1, 20, isGitLabByte)
		}
	case 'x': // Slack
		if len(w) == 4 && w[:3] == "xox" && strings.IndexByte("baprse", w[3]) >= 0 && next == '-' {
			return prefixedRunEnd(text, t.end+1, 20, isSlackByte)
		}
	case 's': // OpenAI and Anthropic, Stripe, Shopify
		if w == "sk" && next == '-' {
			return prefixedRunEnd(text, t.end+1, 32, isBase64URLByte)
		}
		if hasAnyPrefix(w, "sk_live_", "sk_test_") && len(w) >= 8+16 {
			return randomBodyEnd(w[8:], t.end)
		}
		if len(w) == 38 && hasAnyPrefix(w, "shpat_", "shpss_", "shpca_", "shppa_") && isHexString(w[6:]) {
			return t.end
		}
	case 'r', 'p': // Stripe restricted and publishable keys, PyPI
		if hasAnyPrefix(w, "rk_live_", "rk_test_", "pk_live_") && len(w) >= 8+16 {
			return randomBodyEnd(w[8:], t.end)
		}
		if w == "pypi" && next == '-' {
			return prefixedRunEnd(text, t.end+1, 50, isBase64URLByte)
		}
	case 'S': // SendGrid, Twilio
		if w == "SG" && next == '.' {
			return sendGridEnd(text, t.end+1)
		}
		if len(w) == 34 && w[1] == 'K' && isLowerHexString(w[2:]) {
			return t.end
		}
	case 'k': // Mailgun
		if w == "key" && next == '-' && isLowerHexString(text[t.end+1:min(len(text), t.end+33)]) {
			return exactRun(text, t.end+1, 32, isASCIIAlnum)
		}
	case 'n': // npm
		if len(w) == 40 && strings.HasPrefix(w, "npm_") {
			return randomBodyEnd(w[4:], t.end)
		}
	case 'h': // Hugging Face
		if len(w) >= 37 && len(w) <= 45 && strings.HasPrefix(w, "hf_") {
			return randomBodyEnd(w[3:], t.end)
		}
	case 'w': // Stripe webhook signing secrets
		if len(w) >= 6+32 && strings.HasPrefix(w, "whsec_") {
			return randomBodyEnd(w[6:], t.end)
		}
	}
	return 0
}

// hasAnyPrefix reports whether w starts with one of prefixes.
func hasAnyPrefix(w string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(w, p) {
			return true
		}
	}
	return false
}

// randomBodyEnd returns end when body looks random, else 0; it rejects the
// placeholders documentation uses, such as ghp_xxxxxxxx....
func randomBodyEnd(body string, end int) int {
	if !looksRandom(body) {
		return 0
	}
	return end
}

// exactRun returns the end of the run of bytes accepted by ok that starts
// at i when it is exactly n bytes long, else 0.
func exactRun(text string, i, n int, ok func(byte) bool) int {
	end := boundedRunEnd(text, i, n, ok)
	if end-i != n {
		return 0
	}
	return end
}

// prefixedRunEnd returns the end of the key body that starts at i, after a
// prefix such as "sk-", when it is at least minLen bytes of ok bytes and
// looks random; else 0.
func prefixedRunEnd(text string, i, minLen int, ok func(byte) bool) int {
	end := boundedRunEnd(text, i, maxKeyBody, ok)
	if end < 0 {
		return 0 // longer than any provider's key
	}
	for end > i && (text[end-1] == '-' || text[end-1] == '.') {
		end--
	}
	if end-i < minLen || !looksRandom(text[i:end]) {
		return 0
	}
	return end
}

// maxKeyBody bounds the body of a prefixed key. Provider keys are far
// shorter; the bound keeps a text of "sk-sk-sk-..." linear to scan, as
// every "sk" in it would otherwise read the whole run again.
const maxKeyBody = 512

// maxJWT bounds the length of a JSON Web Token, for the same reason.
const maxJWT = 16 << 10

// boundedRunEnd is runEnd for runs of at most limit bytes: it returns -1
// for a longer run without reading past the limit.
func boundedRunEnd(text string, i, limit int, ok func(byte) bool) int {
	stop := min(len(text), i+limit+1)
	j := i
	for j < stop && ok(text[j]) {
		j++
	}
	if j-i > limit {
		return -1
	}
	return j
}

// runEnd returns where the run of bytes accepted by ok that starts at i
// ends.
func runEnd(text string, i int, ok func(byte) bool) int {
	for i < len(text) && ok(text[i]) {
		i++
	}
	return i
}

// Byte classes of key alphabets: base64url, GitLab tokens (which may
// hold dots), Slack tokens, hex and standard base64.
func isBase64URLByte(b byte) bool { return isASCIIAlnum(b) || b == '-' || b == '_' }
func isGitLabByte(b byte) bool    { return isBase64URLByte(b) || b == '.' }
func isSlackByte(b byte) bool     { return isASCIIAlnum(b) || b == '-' }

func isHexByte(b byte) bool {
	return isDigit(b) || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F')
}

func isHexString(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHexByte(s[i]) {
			return false
		}
	}
	return s != ""
}

// isLowerHexString reports whether s is non-empty lower-case hex, as
// Twilio and Mailgun write their keys.
func isLowerHexString(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) && (s[i] < 'a' || s[i] > 'f') {
			return false
		}
	}
	return s != ""
}

// sendGridEnd reads the two dot-separated parts of a SendGrid key after
// "SG." (22 and 43 base64url characters) and returns where the key ends.
func sendGridEnd(text string, i int) int {
	mid := boundedRunEnd(text, i, 22, isBase64URLByte)
	if mid-i != 22 || byteAt(text, mid) != '.' {
		return 0
	}
	return exactRun(text, mid+1, 43, isBase64URLByte)
}

// slackWebhookEnd returns where a Slack incoming-webhook URL ends, given
// the end of its "hooks" host label, or 0: hooks.slack.com/services/ and
// three path segments (team, channel, secret).
func slackWebhookEnd(text string, i int) int {
	const rest = ".slack.com/services/"
	if !strings.HasPrefix(text[i:], rest) {
		return 0
	}
	start := i + len(rest)
	end := boundedRunEnd(text, start, maxKeyBody, func(b byte) bool { return isBase64URLByte(b) || b == '/' })
	if end < 0 {
		return 0
	}
	for end > start && text[end-1] == '/' {
		end--
	}
	if strings.Count(text[start:end], "/") != 2 || end-start < 30 {
		return 0
	}
	return end
}

// webhookStart widens a Slack webhook that starts at the host to include
// the "https://" in front of it.
func webhookStart(text string, host int) int {
	for _, scheme := range []string{"https://", "http://"} {
		if host >= len(scheme) && text[host-len(scheme):host] == scheme {
			return host - len(scheme)
		}
	}
	return host
}

// jwtEnd returns where a JSON Web Token that starts at i ends, or 0: three
// (signed) or five (encrypted) non-empty base64url parts joined by dots,
// the first decoding to a JSON object with an "alg" member.
func jwtEnd(text string, i int) int {
	if !strings.HasPrefix(text[i:], "eyJ") {
		return 0
	}
	// Reading stops at the sixth part: no token has more than five, and a
	// run of "eyJ..." parts must not be read again from each of its parts.
	dots := 0
	end := boundedRunEnd(text, i, maxJWT, func(b byte) bool {
		if b == '.' {
			dots++
		}
		return (isBase64URLByte(b) || b == '.') && dots <= 5
	})
	if end < 0 {
		return 0
	}
	for end > i && text[end-1] == '.' {
		end--
	}
	token := text[i:end]
	parts := strings.Count(token, ".") + 1
	if (parts != 3 && parts != 5) || strings.Contains(token, "..") {
		return 0
	}
	header, err := base64.RawURLEncoding.DecodeString(token[:strings.IndexByte(token, '.')])
	if err != nil {
		return 0
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(header, &fields) != nil {
		return 0
	}
	if _, ok := fields["alg"]; !ok {
		return 0
	}
	return end
}

// findPrivateKeys appends every PEM block whose label names a private key
// ("-----BEGIN RSA PRIVATE KEY-----", "-----BEGIN OPENSSH PRIVATE KEY-----",
// "-----BEGIN PGP PRIVATE KEY BLOCK-----" ...) to out, from its BEGIN line
// to the end of its END line, or to the end of its base64 lines when the
// END line is missing.
func findPrivateKeys(text string, out []candidate) []candidate {
	const begin = "-----BEGIN "
	for from := 0; ; {
		i := strings.Index(text[from:], begin)
		if i < 0 {
			return out
		}
		start := from + i
		from = start + len(begin)
		label, headerEnd, ok := pemLabel(text, from)
		if !ok || !strings.Contains(label, "PRIVATE KEY") {
			continue
		}
		end := pemEnd(text, headerEnd)
		out = append(out, candidate{Finding: Finding{Type: TypePrivateKey, Start: start, End: end, Score: secretScorePEM}})
		from = end
	}
}

// pemLabel reads a PEM label from i up to its closing "-----" and returns
// it with the offset after the dashes.
func pemLabel(text string, i int) (string, int, bool) {
	const maxLabel = 48
	j := i
	for j < len(text) && j-i <= maxLabel && (isUpper(text[j]) || isDigit(text[j]) || text[j] == ' ') {
		j++
	}
	if j == i || !strings.HasPrefix(text[j:], "-----") {
		return "", 0, false
	}
	return text[i:j], j + len("-----"), true
}

// pemEnd returns the end of the PEM block whose header ends at from: the
// end of its "-----END ... PRIVATE KEY-----" marker when one comes before
// any other BEGIN, else the end of the base64 lines.
func pemEnd(text string, from int) int {
	const end = "-----END "
	// The END marker is looked for only up to the next BEGIN, so that many
	// BEGIN lines without an END do not each read to the end of the text.
	limit := len(text)
	if b := strings.Index(text[from:], "-----BEGIN "); b >= 0 {
		limit = from + b
	}
	if e := strings.Index(text[from:limit], end); e >= 0 {
		label, markerEnd, ok := pemLabel(text, from+e+len(end))
		if ok && strings.Contains(label, "PRIVATE KEY") {
			return markerEnd
		}
	}
	return pemBodyEnd(text, from)
}

// pemBodyEnd returns where the base64 lines after a PEM header end, for a
// block whose END line is missing. Lines may carry a diff or quote prefix
// ('+', '>', ' '); a key pasted into a JSON string has "\n" escapes for
// line breaks; encrypted keys may have Proc-Type and DEK-Info headers.
func pemBodyEnd(text string, from int) int {
	end := from
	i := from
	for i < len(text) {
		switch {
		case text[i] == '\n' || text[i] == '\r':
			i++
			if i < len(text) && (text[i] == '+' || text[i] == '>') {
				i++
			}
			continue
		case text[i] == '\\' && byteAt(text, i+1) == 'n':
			i += 2
			continue
		case text[i] == ' ' || text[i] == '\t':
			i++
			continue
		case hasAnyPrefix(text[i:], "Proc-Type:", "DEK-Info:"):
			i = lineEnd(text, i)
			end = i
			continue
		}
		j := runEnd(text, i, isBase64StdByte)
		line := text[i:j]
		if j == i || !lineBreakOrEnd(text, j) || (len(line) < 16 && !strings.ContainsAny(line, "0123456789+/=")) {
			break
		}
		end, i = j, j
	}
	return end
}

func isBase64StdByte(b byte) bool { return isASCIIAlnum(b) || b == '+' || b == '/' || b == '=' }

// lineBreakOrEnd reports whether a line ends at i: a line break, an
// escaped "\n", a closing quote or the end of the text.
func lineBreakOrEnd(text string, i int) bool {
	if i >= len(text) {
		return true
	}
	switch text[i] {
	case '\n', '\r', '"', '\'':
		return true
	case '\\':
		return byteAt(text, i+1) == 'n'
	}
	return false
}

// lineEnd returns the offset of the line break at or after i, or the end
// of the text.
func lineEnd(text string, i int) int {
	if j := strings.IndexByte(text[i:], '\n'); j >= 0 {
		return i + j
	}
	return len(text)
}

// assignmentFollows is the cheap test that token k, ending at end, is
// followed by ':', '=' or " is", possibly after a closing quote: only then
// can it be a keyword whose value is a secret.
func assignmentFollows(text string, end int) bool {
	switch byteAt(text, end) {
	case ':', '=', '"', '\'', '`', '\\':
		return true
	case ' ', '\t':
		switch b := byteAt(text, end+1); b {
		case ':', '=', '"', '\'':
			return true
		case 'i', 'I':
			return byteAt(text, end+2)|0x20 == 's'
		}
	}
	return false
}

// keyedSecret looks at token k, a word followed by ':' or '=', and when
// the word names a password or a secret, appends the value after it.
//
// TODO: passwords given without a keyword ("it's st4g1ng!", "Guest /
// welcome2x" in a chat) need the dialogue around them and are missed.
func keyedSecret(s *scan, k int, out []candidate) []candidate {
	kind := secretKeyword(s, k)
	if kind == keywordNone {
		return out
	}
	v, ok := readSecretValue(s, k, kind)
	if !ok {
		return out
	}
	typ, score := scoreSecretValue(s, kind, v)
	if score == 0 {
		return out
	}
	return append(out, candidate{Finding: Finding{Type: typ, Start: v.start, End: v.end, Score: score}})
}

// readSecretValue reads the value written after keyword token k, and
// reports false when there is none or it is not a literal: a placeholder,
// an expression in code, or the start of a sentence.
func readSecretValue(s *scan, k int, kind keywordKind) (secretValue, bool) {
	t := &s.tokens[k]
	from, form := valueStart(s.text, t.end)
	if form == formArgument && !openedAsArgument(s.text, t.start) {
		form = formNone // "reason":"bad_password","attempt": a value, not a key
	}
	if form == formNone && kind == keywordPassword && s.profile != ProfileProse {
		// SQL: ALTER USER app WITH PASSWORD 'x'.
		if j := skipBlanks(s.text, t.end); j > t.end && isQuote(byteAt(s.text, j)) {
			from, form = j, formAssigned
		}
	}
	if q := byteAt(s.text, t.start-1); isQuote(q) && byteAt(s.text, t.end) != q && byteAt(s.text, from) == q {
		return secretValue{}, false // "PWD="+dir: the quote closes the keyword's string
	}
	spoken := form == formSpoken
	if form == formNone || (spoken && kind == keywordPass) || (form == formArgument && s.profile == ProfileProse) {
		return secretValue{}, false
	}

	query := strings.IndexByte("?&", byteAt(s.text, t.start-1)) >= 0
	start, end, quoted, ok := valueSpan(s.text, from, query, spoken)
	if ok && kind == keywordAuthz && isAuthScheme(s.text[start:end]) {
		start, end, quoted, ok = valueSpan(s.text, skipBlanks(s.text, end), false, false)
	}
	if !ok {
		return secretValue{}, false
	}
	v := secretValue{
		text: s.text[start:end], start: start, end: end, quoted: quoted, spoken: spoken,
		owned:        k > 0 && isOwnerWord(s.word(k-1)),
		spacedAssign: strings.Contains(s.text[t.end:from], " ="),
	}
	if strings.EqualFold(v.text, s.word(k)) || isPlaceholderValue(v.text) {
		return secretValue{}, false
	}
	if !v.quoted && (v.isExpression(s) || v.isProse(s.text)) {
		return secretValue{}, false
	}
	return v, true
}

// scoreSecretValue returns the type and score of the value after a keyword
// of kind, or a score of 0 when the value cannot be that secret.
func scoreSecretValue(s *scan, kind keywordKind, v secretValue) (Type, float64) {
	switch kind {
	case keywordPassword, keywordPass:
		score := passwordValueScore(s, v)
		if kind == keywordPass && score < passwordScoreStrong {
			score = 0 // "pass: 3" counts tests; only a mixed value is a password
		}
		return TypePassword, score
	case keywordAWSSecret:
		return TypeAPIKey, awsSecretScore(v.text)
	case keywordAuthz:
		return TypeAPIKey, keyedSecretScore(v.text, v.spoken)
	}
	if !strings.ContainsAny(v.text, "0123456789") {
		return TypeAPIKey, 0 // random keys hold digits; "WithCustomClaims" does not
	}
	return TypeAPIKey, keyedSecretScore(v.text, v.spoken)
}

// secretKeyword classifies token k as a keyword whose value is a secret.
// Identifiers are matched by their last part, so DB_PASSWORD, dbPassword,
// client_secret and GITHUB_TOKEN all count.
func secretKeyword(s *scan, k int) keywordKind {
	w := s.word(k)
	if !s.tokens[k].ascii {
		if strings.EqualFold(w, "contraseña") {
			return keywordPassword
		}
		return keywordNone
	}
	if len(w) > maxKeywordLen || runeBefore(s.text, s.tokens[k].start) == '/' {
		return keywordNone // a path such as /etc/passwd
	}
	switch {
	case containsFold(w, "hash"):
		return keywordNone // password_hash, hashed_password: not the secret itself
	case hasSuffixFold(w, "password", "passwd", "passphrase", "passcode", "passwort", "kennwort",
		"wachtwoord", "senha"):
		return keywordPassword
	case strings.EqualFold(w, "pwd") || identifierPartSuffix(w, "pwd") || identifierPartSuffix(w, "pass"):
		return keywordPassword
	case strings.EqualFold(w, "pass"):
		if w == "PASS" || (k > 0 && isPassQualifier(s.word(k-1))) {
			return keywordNone // "--- PASS: TestX", a boarding pass, a day pass
		}
		return keywordPass
	case strings.EqualFold(w, "passe") && prevWordsAre(s, k, "mot", "de"):
		return keywordPassword
	case hasSuffixFold(w, "secret_access_key", "secretaccesskey") || strings.EqualFold(w, "aws_secret_key"):
		return keywordAWSSecret
	case strings.EqualFold(w, "authorization"):
		return keywordAuthz
	case strings.EqualFold(w, "key"):
		if k > 0 && isKeyQualifier(s.word(k-1)) && (s.gap(k) == " " || s.gap(k) == "-") {
			return keywordSecret
		}
	case hasSuffixFold(w, "token"):
		if containsFold(w, "page") || containsFold(w, "next") || containsFold(w, "cursor") ||
			containsFold(w, "continuation") {
			return keywordNone // pagination cursors
		}
		return keywordSecret
	case hasSuffixFold(w, "secret", "apikey", "api_key", "accesskey", "secretkey", "privatekey"):
		return keywordSecret
	case identifierPartSuffix(w, "key"):
		if isKeyQualifier(w[:len(w)-len("key")]) {
			return keywordSecret
		}
	case strings.EqualFold(w, "auth") || hasSuffixFold(w, "_auth"):
		return keywordSecret
	}
	return keywordNone
}

// isKeyQualifier reports whether w, the word or identifier before "key",
// makes it a secret key: "API key", access_key, AccountKey,
// Ocp-Apim-Subscription-Key. Keys that are not secrets (primary_key,
// cache_key, public_key, idempotency_key) are not qualified.
func isKeyQualifier(w string) bool {
	w = strings.TrimRight(w, "_-")
	return hasSuffixFold(w, "api", "access", "secret", "private", "account", "sharedaccess",
		"signing", "master", "encryption", "client", "subscription", "app", "auth", "session",
		"webhook", "license", "service_account", "serviceaccount")
}

// isOwnerWord reports whether w, before "password is", says whose or
// which password it is.
func isOwnerWord(w string) bool {
	for _, owner := range [...]string{"my", "our", "your", "his", "her", "their", "the", "new", "wifi",
		"temporary", "temp", "default", "admin", "root", "current", "old"} {
		if strings.EqualFold(w, owner) {
			return true
		}
	}
	return false
}

// isPassQualifier reports whether w, before "pass", makes it a ticket or
// a test result rather than a password.
func isPassQualifier(w string) bool {
	for _, q := range [...]string{"boarding", "day", "season", "bus", "rail", "guest", "visitor",
		"test", "tests", "hall", "press"} {
		if strings.EqualFold(w, q) {
			return true
		}
	}
	return false
}

// prevWordsAre reports whether the tokens right before k are words, in
// order, ignoring case.
func prevWordsAre(s *scan, k int, words ...string) bool {
	if k < len(words) {
		return false
	}
	for i, w := range words {
		if !strings.EqualFold(s.word(k-len(words)+i), w) {
			return false
		}
	}
	return true
}

// hasSuffixFold reports whether w ends with one of the lower-case
// suffixes, ignoring ASCII case.
func hasSuffixFold(w string, suffixes ...string) bool {
	for _, suf := range suffixes {
		if len(w) >= len(suf) && strings.EqualFold(w[len(w)-len(suf):], suf) {
			return true
		}
	}
	return false
}

// hasPrefixFold reports whether w starts with prefix, ignoring ASCII case.
func hasPrefixFold(w, prefix string) bool {
	return len(w) >= len(prefix) && strings.EqualFold(w[:len(prefix)], prefix)
}

// containsFold reports whether w contains the lower-case ASCII sub,
// ignoring case.
func containsFold(w, sub string) bool {
	for i := 0; i+len(sub) <= len(w); i++ {
		if strings.EqualFold(w[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

// identifierPartSuffix reports whether identifier w ends with the part
// part, as its own snake_case or camelCase part: DB_PASS, dbPass, db-pass.
// part is lower case.
func identifierPartSuffix(w, part string) bool {
	if len(w) <= len(part) || !strings.EqualFold(w[len(w)-len(part):], part) {
		return false
	}
	before := w[len(w)-len(part)-1]
	first := w[len(w)-len(part)]
	return before == '_' || before == '-' || (isUpper(first) && !isUpper(before))
}

// lowerASCII appends the ASCII lower-case form of w to dst. Callers
// compare the result with string(b) == "..." or switch string(b), which
// do not allocate.
func lowerASCII(dst []byte, w string) []byte {
	for i := 0; i < len(w); i++ {
		b := w[i]
		if b >= 'A' && b <= 'Z' {
			b += 'a' - 'A'
		}
		dst = append(dst, b)
	}
	return dst
}

// valueForm says how a value follows its keyword.
type valueForm uint8

const (
	formNone     valueForm = iota
	formAssigned           // password: x, password = x, "password" => "x"
	formSpoken             // my password is x
	formArgument           // setenv("PASSWORD", "x"): the value must be quoted
)

// valueStart reads what follows a keyword that ends at end: a closing
// quote, blanks, then ':', ':=', '=', '=>', "is", or, after a quoted
// keyword, ',' or "] =" (a key and its value as arguments or an index),
// then blanks. It returns where the value starts and the form.
func valueStart(text string, end int) (int, valueForm) {
	i := end
	quotedKey := true
	switch {
	case byteAt(text, i) == '\\' && isQuote(byteAt(text, i+1)):
		i += 2
	case isQuote(byteAt(text, i)):
		i++
	default:
		quotedKey = false
	}
	i, form := readSeparator(text, skipBlanks(text, i), quotedKey)
	if form == formNone {
		return 0, formNone
	}
	i = skipBlanks(text, i)
	if i >= len(text) || text[i] == '\n' || text[i] == '\r' {
		return 0, formNone
	}
	if form == formArgument {
		if q, _ := openingQuote(text, i); q == 0 {
			return 0, formNone
		}
	}
	return i, form
}

// readSeparator reads the separator between a keyword and its value at i
// and returns the offset after it and the form it gives the value.
func readSeparator(text string, i int, quotedKey bool) (int, valueForm) {
	switch byteAt(text, i) {
	case ':':
		switch byteAt(text, i+1) {
		case '=':
			return i + 2, formAssigned
		case ':':
			return 0, formNone // a scope: strlen_pass::handle
		}
		return i + 1, formAssigned
	case '=':
		switch byteAt(text, i+1) {
		case '=', '~':
			return 0, formNone // a comparison
		case '>':
			return i + 2, formAssigned
		}
		return i + 1, formAssigned
	case 'i', 'I':
		if byteAt(text, i+1)|0x20 != 's' || isASCIIAlnum(byteAt(text, i+2)) {
			return 0, formNone
		}
		if byteAt(text, i+2) == ':' {
			return i + 3, formSpoken
		}
		return i + 2, formSpoken
	case ',':
		if quotedKey {
			return i + 1, formArgument
		}
	case ']':
		j := skipBlanks(text, i+1)
		if quotedKey && byteAt(text, j) == '=' && byteAt(text, j+1) != '=' {
			return j + 1, formAssigned
		}
	}
	return 0, formNone
}

// openedAsArgument reports whether the quoted keyword that starts at
// start (after at most two bytes such as '#' or '$') is the first argument
// of a call or an index: setenv("PASSWORD", ...), env["TOKEN"] = ....
func openedAsArgument(text string, start int) bool {
	i := start - 1
	for n := 0; n < 2 && i >= 0 && !isQuote(text[i]); n++ {
		i--
	}
	if i < 0 || !isQuote(text[i]) {
		return false
	}
	i--
	for i >= 0 && (text[i] == ' ' || text[i] == '\t') {
		i--
	}
	return i >= 0 && (text[i] == '(' || text[i] == '[')
}

func isQuote(b byte) bool { return b == '"' || b == '\'' || b == '`' }

// skipBlanks returns the offset of the first byte at or after i that is
// not a space or a tab.
func skipBlanks(text string, i int) int {
	for i < len(text) && (text[i] == ' ' || text[i] == '\t') {
		i++
	}
	return i
}

// valueSpan returns the value that starts at from: the text inside the
// quotes when it is quoted (", ', ` or a JSON-escaped \"), else the text up
// to whitespace or a delimiter (',', ';', '<', '>', and '&' in a query
// string), without a trailing full stop, or any trailing sentence
// punctuation when the value was spoken ("my password is x!").
func valueSpan(text string, from int, query, spoken bool) (start, end int, quoted, ok bool) {
	if q, width := openingQuote(text, from); width > 0 {
		start = from + width
		end = closingQuote(text, start, q, width == 2)
		if end <= start || end-start > secretValueMaxLen {
			return 0, 0, true, false
		}
		return start, end, true, true
	}

	end = from
	for end < len(text) && end-from <= secretValueMaxLen {
		c := text[end]
		if c <= ' ' || isQuote(c) || c == ',' || c == ';' || c == '<' || c == '>' || c == '\\' || (c == '&' && query) {
			break
		}
		if c >= utf8.RuneSelf {
			r, w := utf8.DecodeRuneInString(text[end:])
			if r == utf8.RuneError || isUnicodeSpace(r) {
				break
			}
			end += w
			continue
		}
		end++
	}
	end = trimTrailingPunct(text, from, end, spoken)
	if end <= from {
		return 0, 0, false, false
	}
	return from, end, false, true
}

// openingQuote returns the quote that opens a value at i and how many
// bytes it takes (two for a JSON-escaped \"), or width 0.
func openingQuote(text string, i int) (byte, int) {
	b := byteAt(text, i)
	if isQuote(b) {
		return b, 1
	}
	if b == '\\' && isQuote(byteAt(text, i+1)) {
		return text[i+1], 2
	}
	return 0, 0
}

// closingQuote returns the offset of the quote q that closes a value
// starting at i, on the same line, or -1. A backslash escapes the next
// byte; when escaped is set the closing quote is itself written \q.
func closingQuote(text string, i int, q byte, escaped bool) int {
	for j := i; j < len(text); j++ {
		switch c := text[j]; {
		case c == '\n':
			return -1
		case c == '\\' && escaped && byteAt(text, j+1) == q:
			return j
		case c == '\\':
			j++
		case c == q && !escaped:
			return j
		}
	}
	return -1
}

// isUnicodeSpace reports the non-ASCII spaces that end a value: no-break,
// thin, zero-width and ideographic spaces.
func isUnicodeSpace(r rune) bool {
	switch r {
	case '\u00a0', '\u2000', '\u2001', '\u2002', '\u2003', '\u2009', '\u200b', '\u3000':
		return true
	}
	return false
}

// trimTrailingPunct drops a full stop or colon from the end of
// text[start:end] (and '!' and '?' too in a sentence), and closing
// brackets that do not close one inside it.
func trimTrailingPunct(text string, start, end int, sentence bool) int {
	for end > start {
		switch c := text[end-1]; c {
		case '.', ':':
			end--
			continue
		case '!', '?':
			if sentence {
				end--
				continue
			}
		case ')', ']', '}':
			if !bracketsBalanced(text[start:end], c) {
				end--
				continue
			}
		}
		return end
	}
	return end
}

// bracketsBalanced reports whether s opens as many of the brackets that
// closing closes as it closes.
func bracketsBalanced(s string, closing byte) bool {
	open := byte('(')
	switch closing {
	case ']':
		open = '['
	case '}':
		open = '{'
	}
	return strings.Count(s, string(open)) >= strings.Count(s, string(closing))
}

// isAuthScheme reports whether v is an HTTP authentication scheme that
// comes before the credentials in an Authorization header.
func isAuthScheme(v string) bool {
	for _, scheme := range []string{"bearer", "basic", "token", "bot", "apikey"} {
		if strings.EqualFold(v, scheme) {
			return true
		}
	}
	return false
}

// isPlaceholderValue reports values written where a secret goes that are
// not one: masks (********), template and environment references (${X},
// {{ x }}, $DB_PASSWORD, os.Getenv(...)), redaction markers (<redacted>,
// [SECRET_1]) and the words configuration files use for "unset".
func isPlaceholderValue(v string) bool {
	if isMask(v) {
		return true
	}
	switch v[0] {
	case '<', '{', '(':
		return true
	case '%':
		if len(v) == 1 || !isHexByte(v[1]) {
			return true // a format verb: %s, %(password)s
		}
	case '$':
		if len(v) == 1 || v[1] == '{' || v[1] == '(' || isVariableName(v[1:]) {
			return true
		}
	case '[':
		if v[len(v)-1] == ']' {
			return true
		}
	}
	if allSameByte(v) || isPasswordHash(v) {
		return true
	}
	if strings.ContainsAny(v, "()") {
		return true // a call: os.Getenv("X"), getpass()
	}
	if hasPrefixFold(v, "your") || hasPrefixFold(v, "process.env") || hasPrefixFold(v, "env.") {
		return true
	}
	var buf [24]byte
	if len(v) > len(buf) {
		return false
	}
	switch string(lowerASCII(buf[:0], v)) {
	case "null", "nil", "none", "undefined", "true", "false", "empty", "blank", "redacted",
		"hidden", "masked", "removed", "secret", "password", "passwd", "changeme", "example",
		"placeholder", "required", "optional", "string", "str", "bytes", "text", "tbd", "todo",
		"n/a", "na", "not set", "unset", "default", "see", "same", "below", "above", "attached",
		"reset", "incorrect", "invalid", "expired", "changed", "updated", "protected", "sent":
		return true
	}
	return false
}

// isPasswordHash reports whether v is a stored password hash in crypt
// form (bcrypt $2b$..., sha512-crypt $6$..., argon2 $argon2id$...) rather
// than a password.
func isPasswordHash(v string) bool {
	for _, prefix := range [...]string{"$2a$", "$2b$", "$2y$", "$1$", "$5$", "$6$", "$argon2", "$scrypt$", "$pbkdf2"} {
		if strings.HasPrefix(v, prefix) {
			return true
		}
	}
	return false
}

// isVariableName reports whether v is an identifier: $DB_PASS is a shell
// or PHP variable, $gx?P#2 a password that starts with '$'.
func isVariableName(v string) bool {
	if v == "" || isDigit(v[0]) {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] != '_' && !isASCIIAlnum(v[i]) {
			return false
		}
	}
	return true
}

// isMask reports whether v is made only of masking characters: ****, xxxx,
// ••••, ....
func isMask(v string) bool {
	for _, r := range v {
		switch r {
		case '*', 'x', 'X', '•', '●', '.', '#', '-', '_', '…':
		default:
			return false
		}
	}
	return true
}

// passwordValueScore scores the value after a password keyword, or
// returns 0 when it is not a password: too short, a word of the sentence
// ("my password is incorrect"), or, in code, an unquoted name.
func passwordValueScore(s *scan, v secretValue) float64 {
	if len(v.text) < passwordMinLen {
		return 0
	}
	classes, lowerOnly := charClasses(v.text)
	if v.spoken && !strings.ContainsAny(v.text, "0123456789!@#$%^&*+=?~.") {
		// A word after "password is" is the password only after "my",
		// "the" and the like, and only when it cannot end the sentence:
		// "if no password is present", "my password is incorrect".
		var buf [maxKeywordLen]byte
		if !v.owned || len(v.text) > len(buf) || isProseWord(string(lowerASCII(buf[:0], v.text))) {
			return 0
		}
	}
	if !v.quoted && s.profile == ProfileCode && !strings.ContainsAny(v.text, "0123456789!@#$%^&*+=?~") {
		return 0 // an unquoted word in code is a name: password: str, pass = value
	}
	switch {
	case classes >= 2 || len(v.text) >= 12:
		return passwordScoreStrong
	case lowerOnly && (v.spoken || s.profile == ProfileProse):
		return passwordScoreWord
	}
	return passwordScorePlain
}

// isLettersOnly reports whether v is made of ASCII letters only.
func isLettersOnly(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// secretValue is a value found after a secret keyword, with how it was
// written.
type secretValue struct {
	text         string
	start, end   int  // offsets of text
	quoted       bool // inside quotes
	spoken       bool // after "is"
	owned        bool // the keyword follows "my", "the", "our" ...
	spacedAssign bool // after " =", as code assigns; .env files write KEY=value
}

// isExpression reports whether an unquoted value in source code is an
// expression rather than a literal: a dotted member access (user.password,
// src.OidcToken), a call, composite or pointer (pass{, &cfg, []byte(), an
// identifier followed by ',', ')', ';' or '}' (f(password=pw), {Token:
// tok,}), an identifier assigned with " = ", or an identifier named like a
// secret (password=db_password).
func (v secretValue) isExpression(s *scan) bool {
	if s.profile != ProfileCode {
		return false
	}
	if strings.ContainsAny(v.text, "{}[]()&*") {
		return true
	}
	identifier, dotted := !isDigit(v.text[0]), false
	for i := 0; i < len(v.text) && identifier; i++ {
		c := v.text[i]
		switch {
		case c == '.' && i > 0 && i < len(v.text)-1:
			dotted = true
		case c == '_' || isASCIIAlnum(c):
		default:
			identifier = false
		}
	}
	if !identifier {
		return false
	}
	switch byteAt(s.text, skipBlanks(s.text, v.end)) {
	case ',', ')', ';', '}':
		return true
	}
	return dotted || v.spacedAssign ||
		hasSuffixFold(v.text, "password", "passwd", "pwd", "pass", "secret", "token", "key")
}

// isProse reports whether an unquoted value without digits is followed by
// another word: the start of a sentence ("Password: Input only. The ..."),
// not a credential.
func (v secretValue) isProse(text string) bool {
	if v.spoken || strings.ContainsAny(v.text, "0123456789") {
		return false
	}
	return byteAt(text, v.end) == ' ' && unicodeLetterAt(text, v.end+1)
}

// unicodeLetterAt reports whether a letter of any script starts at i.
func unicodeLetterAt(text string, i int) bool {
	r := firstRune(text, i)
	return r >= 0 && isWordRune(r) && !(r < utf8.RuneSelf && isDigit(byte(r)))
}

// charClasses counts the kinds of character in v (lower case, upper case,
// digits, others) and reports whether v is lower-case letters only.
func charClasses(v string) (int, bool) {
	var lower, upper, digit, other bool
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= 'A' && c <= 'Z':
			upper = true
		case isDigit(c):
			digit = true
		default:
			other = true
		}
	}
	n := 0
	for _, b := range [4]bool{lower, upper, digit, other} {
		if b {
			n++
		}
	}
	return n, lower && n == 1
}

// alnumClasses counts the kinds of letter or digit in v: lower case,
// upper case and digits.
func alnumClasses(v string) int {
	var lower, upper, digit bool
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= 'A' && c <= 'Z':
			upper = true
		case isDigit(c):
			digit = true
		}
	}
	n := 0
	for _, b := range [3]bool{lower, upper, digit} {
		if b {
			n++
		}
	}
	return n
}

// isProseWord reports whether a lower-case word after "password is" is
// more likely the rest of the sentence than the password: a function
// word, or a participle or adverb such as "expired" or "still".
func isProseWord(w string) bool {
	if hasSuffixFold(w, "ed", "ing", "ly") {
		return true
	}
	switch w {
	case "not", "the", "also", "still", "just", "only", "wrong", "correct", "case", "weak",
		"strong", "short", "long", "valid", "same", "different", "fine", "good", "what",
		"that", "this", "there", "here", "where", "when", "must", "should", "will", "would",
		"could", "can", "cannot", "does", "doesn", "isn", "too", "very", "now", "then",
		"being", "been", "shown", "known", "unknown", "mine", "yours", "your", "their",
		"secure", "insecure", "safe", "unsafe", "visible", "stored", "kept", "sent", "on",
		"in", "at", "for", "of", "with", "without", "from", "into", "under", "over", "about",
		"missing", "blank", "empty", "gone", "lost", "broken", "working", "needed", "set":
		return true
	}
	return false
}

// keyedSecretScore scores the value after a word such as "api_key" or
// "token": a random-looking value scores high, other token-like values low,
// and values that cannot be keys score 0.
func keyedSecretScore(v string, spoken bool) float64 {
	if len(v) < keyedSecretMinLen || strings.Contains(v, "://") || v[0] == '/' || v[0] == '.' {
		return 0
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !isBase64URLByte(c) && !strings.ContainsRune("+/=.~:%", rune(c)) {
			return 0
		}
	}
	if alnumClasses(v) < 2 {
		return 0
	}
	if looksRandom(v) {
		return secretScoreKeyedRandom
	}
	if spoken {
		return 0
	}
	return secretScoreKeyedWeak
}

// awsSecretScore scores the value after aws_secret_access_key: 40
// characters of base64 are a secret key; anything else is scored as any
// keyed secret.
func awsSecretScore(v string) float64 {
	if len(v) == awsSecretLen && strings.IndexFunc(v, func(r rune) bool {
		return r >= utf8.RuneSelf || !isBase64StdByte(byte(r)) || r == '='
	}) < 0 {
		return secretScoreAWSSecret
	}
	return keyedSecretScore(v, false)
}

// looksRandom reports whether v reads as machine-generated: long enough,
// at least two kinds of character (or hexadecimal), and a Shannon entropy
// close to the most its length and alphabet allow.
func looksRandom(v string) bool {
	if len(v) < randomMinLen {
		return false
	}
	hexOnly := true
	for i := 0; i < len(v); i++ {
		if !isHexByte(v[i]) && v[i] != '-' {
			hexOnly = false
			break
		}
	}
	if alnumClasses(v) < 2 && !hexOnly {
		return false
	}
	alphabet := 64.0
	if hexOnly {
		alphabet = 17
	}
	h := shannonEntropy(v)
	most := math.Log2(math.Min(float64(len(v)), alphabet))
	return h >= randomMinEntropy && h >= randomEntropyShare*most
}

// shannonEntropy returns the Shannon entropy of the bytes of v in bits per
// byte.
func shannonEntropy(v string) float64 {
	var counts [256]int
	for i := 0; i < len(v); i++ {
		counts[v[i]]++
	}
	n := float64(len(v))
	h := 0.0
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}
