package redact

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// ownCase is a text and what one recogniser keeps in it, each finding
// written as "TYPE matched text". The zero profile is ProfileProse.
type ownCase struct {
	name    string
	text    string
	profile Profile
	want    []string
}

// ownFindings runs one recogniser over text the way a Document does:
// candidates below DefaultMinScore are dropped, then overlaps resolved.
func ownFindings(t *testing.T, r *Redactor, rec recognizer, text string, p Profile) []string {
	t.Helper()
	s := newScan(text, p)
	defer s.release()
	cands := rec(r, s, nil)
	checkCandidateBounds(t, text, cands)

	var kept []candidate
	for _, c := range cands {
		if c.Score >= DefaultMinScore {
			kept = append(kept, c)
		}
	}
	var got []string
	for _, c := range resolveOverlaps(kept) {
		got = append(got, string(c.Type)+" "+text[c.Start:c.End])
	}
	return got
}

// checkCandidateBounds fails when a candidate is out of range, empty, not
// on UTF-8 boundaries or scored outside [0, 1].
func checkCandidateBounds(t *testing.T, text string, cands []candidate) {
	t.Helper()
	for _, c := range cands {
		if c.Start < 0 || c.Start >= c.End || c.End > len(text) {
			t.Fatalf("candidate %+v out of range (text %d bytes)", c.Finding, len(text))
		}
		if !onRuneBoundary(text, c.Start) || !onRuneBoundary(text, c.End) {
			t.Fatalf("candidate %+v not on UTF-8 boundaries in %q", c.Finding, text)
		}
		if c.Score < 0 || c.Score > 1 {
			t.Fatalf("candidate %+v scored outside [0, 1]", c.Finding)
		}
	}
}

// onRuneBoundary reports whether byte offset i does not split a valid
// UTF-8 sequence. A stray byte of invalid UTF-8 counts as a rune of its
// own, as Document counts it.
func onRuneBoundary(text string, i int) bool {
	for j := i - 1; j >= 0 && j >= i-utf8.UTFMax+1; j-- {
		if utf8.RuneStart(text[j]) {
			r, size := utf8.DecodeRuneInString(text[j:])
			return (r == utf8.RuneError && size == 1) || j+size <= i
		}
	}
	return true
}

func runOwnCases(t *testing.T, rec recognizer, cases []ownCase) {
	t.Helper()
	r := New()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := ownFindings(t, r, rec, tc.text, tc.profile)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("findings in %q mismatch (-want +got):\n%s", tc.text, diff)
			}
		})
	}
}

// fuzzRecogniser checks that rec never panics and keeps its candidates in
// range and on UTF-8 boundaries, under every profile.
func fuzzRecogniser(f *testing.F, rec recognizer, seeds ...string) {
	for _, s := range seeds {
		f.Add(s)
	}
	r := New()
	f.Fuzz(func(t *testing.T, text string) {
		for _, p := range []Profile{ProfileProse, ProfileCode, ProfileLog} {
			s := newScan(text, p)
			checkCandidateBounds(t, text, rec(r, s, nil))
			s.release()
		}
	})
}

// redactTypes redacts text with a fresh Redactor and returns the entities
// of the given types as "TYPE original".
func redactTypes(text string, types ...Type) []string {
	var got []string
	for _, e := range New().Redact(text).Entities {
		for _, t := range types {
			if e.Type == t {
				got = append(got, string(e.Type)+" "+text[e.Start:e.End])
			}
		}
	}
	return got
}

const (
	testJWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." +
		"eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ." +
		"SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
	testPEMBody = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n" +
		"VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\n" +
		"LxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW/VDL5AaWTg0nLVkjRo\n"
)

func TestFindSecretsProviderKeys(t *testing.T) {
	t.Parallel()
	runOwnCases(t, (*Redactor).findSecrets, []ownCase{
		{name: "AWS access key id", text: "aws_access_key_id = AKIA454ML6LG4TJFCZ4K\n",
			want: []string{"API_KEY AKIA454ML6LG4TJFCZ4K"}},
		{name: "AWS temporary key id", text: "key ASIA454ML6LG4TJFCZ4K expired",
			want: []string{"API_KEY ASIA454ML6LG4TJFCZ4K"}},
		{name: "AWS secret after its name",
			text: "aws_secret_access_key = Na1Hedcm4pMbXDuCL1mH/oOsFaQfDP+rAJ71fTqu\n", profile: ProfileCode,
			want: []string{"API_KEY Na1Hedcm4pMbXDuCL1mH/oOsFaQfDP+rAJ71fTqu"}},
		{name: "GitHub classic", text: "export GH=ghp_WoGsbeKXgzg2sye9b2Rann76dEyTzAeKOmXR;",
			want: []string{"API_KEY ghp_WoGsbeKXgzg2sye9b2Rann76dEyTzAeKOmXR"}},
		{name: "GitHub fine-grained",
			text: "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",
			want: []string{"API_KEY 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"}},
		{name: "GitLab", text: "use glpat-9rXxtNDFyuzX9k1gnneG.",
			want: []string{"API_KEY glpat-9rXxtNDFyuzX9k1gnneG"}},
		{name: "Slack bot token", text: "SLACK=xoxb-364697482123-7899143301467-pdclsxHKifxi5CvQUSHL8iLc",
			want: []string{"API_KEY xoxb-364697482123-7899143301467-pdclsxHKifxi5CvQUSHL8iLc"}},
		{name: "Slack webhook",
			text: "post to https://hooks.slack.com/services/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 now",
			want: []string{"API_KEY https://hooks.slack.com/services/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"}},
		{name: "Stripe live secret", text: `stripe.api_key = "sk_live_KaNQyyLaMeffOhq4AUvy7VSL"`,
			want: []string{"API_KEY sk_live_KaNQyyLaMeffOhq4AUvy7VSL"}},
		{name: "Stripe restricted", text: "rk_live_DCD1IfHWGbtMfEbo9ShFXNQ6",
			want: []string{"API_KEY rk_live_DCD1IfHWGbtMfEbo9ShFXNQ6"}},
		{name: "Stripe publishable", text: "(pk_live_Fq5axtjRNmHkW5vQ7CF5puzQ)",
			want: []string{"API_KEY pk_live_Fq5axtjRNmHkW5vQ7CF5puzQ"}},
		{name: "OpenAI project", text: "OPENAI_API_KEY=sk-proj-Gz3zBXCOArr_SfiJvo58JB0W_O5PjeJfJTNcrZ6ydIEsgo5n",
			want: []string{"API_KEY sk-proj-Gz3zBXCOArr_SfiJvo58JB0W_O5PjeJfJTNcrZ6ydIEsgo5n"}},
		{name: "OpenAI legacy", text: "key sk-ivB50756EHugmANb7qiSXbcmjoaRsuUwpNFgFULh2GNqTmSH works",
			want: []string{"API_KEY sk-ivB50756EHugmANb7qiSXbcmjoaRsuUwpNFgFULh2GNqTmSH"}},
		{name: "Anthropic",
			text: "x-api-key: sk-ant-api03-Vjzz8Gwb8ewCISuYCl0Xq56zaWR7PAmpBFXlNPHcSke4R1J-dBi2ewQr8t4_lC4LvGNWAMsI_z0oaWdfZp-lvi60ZIF8_AA",
			want: []string{"API_KEY sk-ant-api03-Vjzz8Gwb8ewCISuYCl0Xq56zaWR7PAmpBFXlNPHcSke4R1J-dBi2ewQr8t4_lC4LvGNWAMsI_z0oaWdfZp-lvi60ZIF8_AA"}},
		{name: "Google", text: "maps key AIza3cW0uABBrDSxOOyBymrEqlHXm31qzZcmzTU in the page",
			want: []string{"API_KEY AIza3cW0uABBrDSxOOyBymrEqlHXm31qzZcmzTU"}},
		{name: "SendGrid", text: "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",
			want: []string{"API_KEY 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"}},
		{name: "Twilio", text: "sid SKf30b1789a6c52cf63c03378ec16c0388",
			want: []string{"API_KEY SKf30b1789a6c52cf63c03378ec16c0388"}},
		{name: "npm", text: "//registry.npmjs.org/:_authToken=npm_r5vJIGA9HK2gOCZPeJMQW9cy78kyEk2FINMd",
			want: []string{"API_KEY npm_r5vJIGA9HK2gOCZPeJMQW9cy78kyEk2FINMd"}},
		{name: "PyPI", text: "password = pypi-AgEIcHlwaS5vcmc2_1KZNUK9IKLdbFfu0XgOYgOjC29GFfm7sFog16pAgTtpU4r16H1UrLqE9oN",
			want: []string{"API_KEY pypi-AgEIcHlwaS5vcmc2_1KZNUK9IKLdbFfu0XgOYgOjC29GFfm7sFog16pAgTtpU4r16H1UrLqE9oN"}},
		{name: "Hugging Face", text: "HF_TOKEN: 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",
			want: []string{"API_KEY 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"}},
		{name: "Mailgun", text: "MAILGUN_API_KEY=key-3ce2c0c8d1a3b3e6f1e0a1b2c3d4e5f6\n", profile: ProfileCode,
			want: []string{"API_KEY key-3ce2c0c8d1a3b3e6f1e0a1b2c3d4e5f6"}},
		{name: "Shopify", text: "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",
			want: []string{"API_KEY 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"}},
		{name: "multi-byte text around", text: "clé: ghp_WoGsbeKXgzg2sye9b2Rann76dEyTzAeKOmXR — merci 🙏",
			want: []string{"API_KEY ghp_WoGsbeKXgzg2sye9b2Rann76dEyTzAeKOmXR"}},

		{name: "documentation placeholder", text: "GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
		{name: "AKIA too short", text: "AKIA454ML6LG4TJFCZ"},
		{name: "sk- in a word", text: "the task-list and sk-learn docs"},
		{name: "short sk key", text: "sk-abc123"},
		{name: "Google prefix wrong length", text: "AIza3cW0uABBrDSxOOy"},
		{name: "SendGrid wrong part lengths", text: "SG.abc.def"},
		{name: "Twilio upper-case hex", text: "SKF30B1789A6C52CF63C03378EC16C0388"},
		{name: "Slack channel link", text: "https://hooks.slack.com/services/"},
	})
}

func TestFindSecretsJWTAndPEM(t *testing.T) {
	t.Parallel()
	pem := "-----BEGIN RSA PRIVATE KEY-----\n" + testPEMBody + "-----END RSA PRIVATE KEY-----"
	diffPEM := "+-----BEGIN OPENSSH PRIVATE KEY-----\n" +
		"+b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n" +
		"+QyNTUxOQAAACDdj2Vh6Xq1g6m8VbAxM0n1r0r2YQZ1hH5m5Kc9S5dQwAAAAJgAAAAA\n" +
		"+-----END OPENSSH PRIVATE KEY-----"
	runOwnCases(t, (*Redactor).findSecrets, []ownCase{
		{name: "JWT in a header", text: "Authorization: Bearer " + testJWT + "\n",
			want: []string{"JWT " + testJWT}},
		{name: "JWT at end of sentence", text: "the token was " + testJWT + ".",
			want: []string{"JWT " + testJWT}},
		{name: "JWT-like with no alg", text: "eyJub3QiOiJhIGp3dCJ9.eyJ4IjoxfQ.c2lnbmF0dXJl"},
		{name: "JWT with two parts", text: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ4IjoxfQ"},
		{name: "JWT with bad base64 header", text: "eyJ!!!.eyJ4IjoxfQ.c2ln"},

		{name: "PEM block", text: "key:\n" + pem + "\nthanks",
			want: []string{"PRIVATE_KEY " + pem}},
		{name: "PEM in a diff", text: "@@ -0,0 +1,4 @@\n" + diffPEM + "\n",
			profile: ProfileCode, want: []string{"PRIVATE_KEY " + diffPEM[1:]}},
		{name: "PEM without END", text: "-----BEGIN PRIVATE KEY-----\n" + testPEMBody + "\nI forgot the rest",
			want: []string{"PRIVATE_KEY -----BEGIN PRIVATE KEY-----\n" + strings.TrimSuffix(testPEMBody, "\n")}},
		{name: "PEM in a JSON string",
			text: `{"private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"}`,
			want: []string{`PRIVATE_KEY -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----`}},
		{name: "encrypted PEM",
			text: "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----",
			want: []string{"PRIVATE_KEY -----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----"}},
		{name: "public key", text: "-----BEGIN PUBLIC KEY-----\n" + testPEMBody + "-----END PUBLIC KEY-----"},
		{name: "certificate", text: "-----BEGIN CERTIFICATE-----\n" + testPEMBody + "-----END CERTIFICATE-----"},
	})
}

func TestFindSecretsPasswords(t *testing.T) {
	t.Parallel()
	runOwnCases(t, (*Redactor).findSecrets, []ownCase{
		{name: "colon", text: "login: admin\npassword: hunter2\n",
			want: []string{"PASSWORD hunter2"}},
		{name: "env file", text: "+DB_PASSWORD=S3cr3t!pass\n", profile: ProfileCode,
			want: []string{"PASSWORD S3cr3t!pass"}},
		{name: "JSON quoted", text: `{"user": "ana", "password": "correct horse"}`, profile: ProfileCode,
			want: []string{"PASSWORD correct horse"}},
		{name: "spoken", text: "my password is Tr0ub4dor&3 if you need it.",
			want: []string{"PASSWORD Tr0ub4dor&3"}},
		{name: "spoken plain word", text: "The password is sunshine",
			want: []string{"PASSWORD sunshine"}},
		{name: "connection string", text: "Server=db1;User Id=sa;Password=P@ssw0rd1;Encrypt=true", profile: ProfileLog,
			want: []string{"PASSWORD P@ssw0rd1"}},
		{name: "escaped JSON in a log", text: `msg="{\"user\":\"bo\",\"password\":\"hunter22\"}"`, profile: ProfileLog,
			want: []string{"PASSWORD hunter22"}},
		{name: "pwd in query", text: "GET /login?user=bo&pwd=s3cr3tX&next=/", profile: ProfileLog,
			want: []string{"PASSWORD s3cr3tX"}},
		{name: "German", text: "Passwort: Geheim123",
			want: []string{"PASSWORD Geheim123"}},
		{name: "Spanish", text: "contraseña: Verano2024",
			want: []string{"PASSWORD Verano2024"}},
		{name: "short pass with mixed value", text: "user: bob pass: b0bby!",
			want: []string{"PASSWORD b0bby!"}},
		{name: "setenv arguments", text: `t.Setenv("DB_PASSWORD", "Xy7-pq!2")`, profile: ProfileCode,
			want: []string{"PASSWORD Xy7-pq!2"}},
		{name: "form fill arguments", text: `await page.fill("#password", "Tr0ub4dor&3");`, profile: ProfileCode,
			want: []string{"PASSWORD Tr0ub4dor&3"}},
		{name: "environ index", text: `os.environ["API_TOKEN"] = "97U5Hpfx1xbxRzLyYmVKxZyIj1LKllfWD42sZboH"`, profile: ProfileCode,
			want: []string{"API_KEY 97U5Hpfx1xbxRzLyYmVKxZyIj1LKllfWD42sZboH"}},
		{name: "JSON value naming a password is not a key", text: `{"reason":"bad_password","attempt":"third"}`, profile: ProfileLog},
		{name: "dollar password", text: "      POSTGRES_PASSWORD: $gxQ?PXyG#kP%tIm2p2%\n", profile: ProfileCode,
			want: []string{"PASSWORD $gxQ?PXyG#kP%tIm2p2%"}},
		{name: "argument form needs a quoted value", text: `get("password", fallback)`, profile: ProfileCode},
		{name: "SQL", text: "ALTER USER app WITH PASSWORD 'Xy7-pq!2';", profile: ProfileCode,
			want: []string{"PASSWORD Xy7-pq!2"}},
		{name: "Python keyword argument literal", text: `connect(host="db", password="pg-Secret-9")`, profile: ProfileCode,
			want: []string{"PASSWORD pg-Secret-9"}},

		{name: "mask", text: "password: ********"},
		{name: "redacted marker", text: "password=<redacted>"},
		{name: "our own placeholder", text: "password: [SECRET_1]"},
		{name: "env reference", text: "password: ${DB_PASSWORD}", profile: ProfileCode},
		{name: "shell variable", text: "PGPASSWORD=$DB_PASS psql", profile: ProfileCode},
		{name: "getenv", text: `password := os.Getenv("DB_PASSWORD")`, profile: ProfileCode},
		{name: "null", text: "password: null"},
		{name: "empty quotes", text: `password: ""`},
		{name: "incorrect", text: "Your password is incorrect."},
		{name: "not working", text: "my password is not working since Monday"},
		{name: "expired", text: "The password is expired"},
		{name: "sentence about no password", text: "decrypt if no password is present, or without a password is GNUTLS_E_DECRYPTION_FAILED"},
		{name: "program name", text: "Since update-passwd is single-threaded we wait."},
		{name: "C++ scope", text: "strlen_pass::handle_assign and strlen_pass::before_dom_children", profile: ProfileCode},
		{name: "etc passwd", text: "cat: /etc/passwd: Permission denied"},
		{name: "hash", text: "password_hash: $2b$12$KIXQJqYbYlO8pC3Qn3Ry2uWmV1mY8y5Zq6wQF5GmI0b9l2h3iJ4kO"},
		{name: "comparison", text: `if password == "" {`, profile: ProfileCode},
		{name: "type annotation", text: "def login(user: str, password: str) -> bool:", profile: ProfileCode},
		{name: "member access", text: "password = form.password\n", profile: ProfileCode},
		{name: "variable argument", text: "connect(user=u, password=db_password, port=5432)", profile: ProfileCode},
		{name: "object shorthand", text: "{ username, password: userPassword }", profile: ProfileCode},
		{name: "forgot password", text: "Forgot password? Reset it at the link."},
		{name: "test count", text: "pass: 3 fail: 0"},
		{name: "boarding pass", text: "Boarding pass: AB12CD"},
		{name: "template", text: `password: "{{ vault_db_password }}"`, profile: ProfileCode},
	})
}

func TestFindSecretsKeyedValues(t *testing.T) {
	t.Parallel()
	runOwnCases(t, (*Redactor).findSecrets, []ownCase{
		{name: "api_key hex", text: "api_key: ea22dfe9029629fa947bab3ae8e9ea7c", profile: ProfileCode,
			want: []string{"API_KEY ea22dfe9029629fa947bab3ae8e9ea7c"}},
		{name: "token in logfmt", text: "level=info token=97U5Hpfx1xbxRzLyYmVKxZyIj1LKllfWD42sZboH user=7", profile: ProfileLog,
			want: []string{"API_KEY 97U5Hpfx1xbxRzLyYmVKxZyIj1LKllfWD42sZboH"}},
		{name: "api key in prose", text: "Our API key: 97U5Hpfx1xbxRzLyYmVKxZyIj1LKllfWD42sZboH, please keep it safe",
			want: []string{"API_KEY 97U5Hpfx1xbxRzLyYmVKxZyIj1LKllfWD42sZboH"}},
		{name: "client secret quoted", text: `"clientSecret": "Qm9sdC1zZWNyZXQtMjAyNC0xMC0wMQ=="`, profile: ProfileCode,
			want: []string{"API_KEY Qm9sdC1zZWNyZXQtMjAyNC0xMC0wMQ=="}},
		{name: "bearer token", text: "Authorization: Bearer 8f14e45fceea167a5a36dedd4bea2543", profile: ProfileLog,
			want: []string{"API_KEY 8f14e45fceea167a5a36dedd4bea2543"}},
		{name: "basic auth", text: "Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l", profile: ProfileLog,
			want: []string{"API_KEY YWxhZGRpbjpvcGVuc2VzYW1l"}},
		{name: "Azure connection string", profile: ProfileCode,
			text: "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=xLn3Ji4LQd8fS5vtty05p8OyUo2bMoOdjBsm+LmstnZlIWwhZSB==;EndpointSuffix=core.windows.net",
			want: []string{"API_KEY xLn3Ji4LQd8fS5vtty05p8OyUo2bMoOdjBsm+LmstnZlIWwhZSB=="}},
		{name: "subscription key header", text: "Ocp-Apim-Subscription-Key: 3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c", profile: ProfileLog,
			want: []string{"API_KEY 3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c"}},
		{name: "cache key is not a secret", text: "cache_key=9f8e7d6c5b4a39281706f5e4d3c2b1a0", profile: ProfileLog},
		{name: "idempotency key is not a secret", text: `"idempotencyKey": "4f3a2b1c0d9e8f7a6b5c3f9a8b7c6d5e"`, profile: ProfileCode},
		{name: "JWT after token wins as JWT", text: "token=" + testJWT, profile: ProfileLog,
			want: []string{"JWT " + testJWT}},
		{name: "provider key after api_key wins as key", text: "api_key=sk_live_KaNQyyLaMeffOhq4AUvy7VSL",
			want: []string{"API_KEY sk_live_KaNQyyLaMeffOhq4AUvy7VSL"}},

		{name: "LLM token counts", text: `{"max_tokens": 4096, "prompt_tokens": 1200, "total_tokens": 1400}`, profile: ProfileLog},
		{name: "pagination token", text: "next_page_token: CiAKGjBpNDd2Nmp2Zml2cXRwYjBpOXA0", profile: ProfileLog},
		{name: "secret name", text: "secret: db-credentials", profile: ProfileCode},
		{name: "env placeholder", text: "api_key: ${OPENAI_API_KEY}", profile: ProfileCode},
		{name: "angle placeholder", text: "token=<your-token-here>"},
		{name: "word token", text: "token: expired_session_value"},
		{name: "auth flag", text: "auth: true", profile: ProfileCode},
		{name: "GitHub Actions secret", text: "token: ${{ secrets.GITHUB_TOKEN }}", profile: ProfileCode},
		{name: "low entropy value", text: "api_key: aaaaaaaaaaaa1111", profile: ProfileCode},
	})
}

func TestFindSecretsCodeAndLogNegatives(t *testing.T) {
	t.Parallel()
	runOwnCases(t, (*Redactor).findSecrets, []ownCase{
		{name: "git log", profile: ProfileCode,
			text: "commit 4bf92f3577b34da6a3ce929d0e0e4736ab12cd34\nAuthor: Dev <dev@example.com>\nDate:   Mon Jan 15 14:30:00 2024 +0000\n"},
		{name: "diff of constants", profile: ProfileCode,
			text: "-const maxRetries = 3\n+const maxRetries = 5\n+var seed = 0xDEADBEEFCAFEBABE\n+id := uuid.MustParse(\"550e8400-e29b-41d4-a716-446655440000\")\n"},
		{name: "base64 image", profile: ProfileCode,
			text: `<img src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==">`},
		{name: "npm integrity", profile: ProfileCode,
			text: `"integrity": "sha512-Kq5sNclPz7QV2+lfQIuu8iLd7M4i1Zu2w9OuI3a9ZF6A0bDFhEr5M1lJIN8X6JU9QY2nGq0m9ACP9lp3i3jCpg=="`},
		{name: "docker digest", profile: ProfileLog,
			text: "pulled nginx@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31"},
		{name: "k8s pod and timestamps", profile: ProfileLog,
			text: "2024-01-15T14:30:00.123Z pod=api-7f9c8d6b5-x2x7q ts=1705329000 version=v2.14.3 status=200"},
		{name: "go test output", profile: ProfileLog,
			text: "=== RUN   TestLogin\n--- PASS: TestLogin (0.01s)\nPASS\nok  \texample.com/auth\t0.2s\n"},
		{name: "generated doc comments", profile: ProfileCode,
			text: "\t// Password: Input only. The password of the user.\n\tPassword string `json:\"password,omitempty\"`\n" +
				"\t// PrivateKey: Hardware-backed key material.\n\t// AccessToken: Encapsulates an OAuth token.\n"},
		{name: "struct literals and assignments", profile: ProfileCode,
			text: "\t\tPrivateKey: testRSA2048PrivateKey,\n\tconfig.Certificates[0].PrivateKey = testRSA2048PrivateKey\n" +
				"type OidcToken = src.OidcToken\n\tpass := &analysis.Pass{\n\tvar emptyPass pass = pass{}\n" +
				"\t\tpassword: []byte(\"x\"),\n\ttoken := respData.AccessToken2\n"},
		{name: "password hash", profile: ProfileCode,
			text: `"password": "$2a$10$UHR6GhotWhpLsKtVP0/i6.Nh9.fuY73cWjLoJjb2sKT8KISBcUW5q"`},
		{name: "keyword at the end of a string", profile: ProfileCode, text: `cmd.Env = append(os.Environ(), "PWD="+cmd.Dir, "HOME=/tmp")`},
		{name: "repeated character fixture", profile: ProfileCode, text: `"password": "CCCCCCCCCCCCCCCC"`},
		{name: "kubernetes secret manifest without data", profile: ProfileCode,
			text: "kind: Secret\nmetadata:\n  name: db-secret\ntype: Opaque\n"},
	})
}

func TestSecretWinsOverOtherTypes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		text string
		want []string
	}{
		{name: "login and password side by side",
			text: "login ana@example.com password: P@ssw0rd!",
			want: []string{"EMAIL_ADDRESS ana@example.com", "PASSWORD P@ssw0rd!"}},
		{name: "JWT in a query string URL is one URL",
			text: "https://app.example.com/cb#id_token=" + testJWT,
			want: []string{"URL https://app.example.com/cb#id_token=" + testJWT}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := redactTypes(tc.text, TypePassword, TypeEmail, TypeURL, TypeJWT, TypeAPIKey)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Redact(%q) mismatch (-want +got):\n%s", tc.text, diff)
			}
		})
	}
}

func TestLooksRandom(t *testing.T) {
	t.Parallel()
	tests := []struct {
		value string
		want  bool
	}{
		{"97U5Hpfx1xbxRzLyYmVKxZyIj1LKllfWD42sZboH", true},
		{"ea22dfe9029629fa947bab3ae8e9ea7c", true},
		{"550e8400-e29b-41d4-a716-446655440000", true},
		{"expired_session_value", false},
		{"aaaaaaaaaaaa1111", false},
		{"short1A", false},
		{"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", false},
	}
	for _, tc := range tests {
		if got := looksRandom(tc.value); got != tc.want {
			t.Errorf("looksRandom(%q) = %v, want %v (entropy %.2f)", tc.value, got, tc.want, shannonEntropy(tc.value))
		}
	}
}

func FuzzFindSecrets(f *testing.F) {
	fuzzRecogniser(f, (*Redactor).findSecrets,
		"password: hunter2", "my password is \"x\"", `{\"password\":\"a`, "token=",
		"-----BEGIN RSA PRIVATE KEY-----\nMIIE\\n", "eyJhbGciOiJub25lIn0.e30.", "sk-", "xoxb-",
		"hooks.slack.com/services/a/b/c", "Authorization: Bearer ", "password: 'é", "api key: ß\u00a0")
}
