package redact

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFindURLs(t *testing.T) {
	t.Parallel()
	runOwnCases(t, (*Redactor).findURLs, []ownCase{
		{name: "userinfo password", text: "clone https://deploy:Xk3v9QpL@git.example.com/team/app.git now",
			want: []string{"URL https://deploy:Xk3v9QpL@git.example.com/team/app.git"}},
		{name: "database URL", text: "DATABASE_URL=postgres://app:s3cret@db.internal:5432/orders?sslmode=require\n", profile: ProfileCode,
			want: []string{"URL postgres://app:s3cret@db.internal:5432/orders?sslmode=require"}},
		{name: "redis with empty user", text: "REDIS_URL=redis://:hunter22@cache:6379/0", profile: ProfileCode,
			want: []string{"URL redis://:hunter22@cache:6379/0"}},
		{name: "mongodb srv", text: `uri = "mongodb+srv://admin:pa55word@cluster0.ab1cd.mongodb.net/test"`, profile: ProfileCode,
			want: []string{"URL mongodb+srv://admin:pa55word@cluster0.ab1cd.mongodb.net/test"}},
		{name: "JDBC", text: "jdbc:postgresql://db:5432/app?user=app&password=Pg-2024-x", profile: ProfileCode,
			want: []string{"URL jdbc:postgresql://db:5432/app?user=app&password=Pg-2024-x"}},
		{name: "token in query, in parentheses", text: "(see https://example.com/reset?token=a8Fk2LmQ9x&lang=en).",
			want: []string{"URL https://example.com/reset?token=a8Fk2LmQ9x&lang=en"}},
		{name: "access token in fragment", text: "redirected to https://app.example.com/cb#access_token=ya29.a0AfH6SMB&token_type=Bearer",
			want: []string{"URL https://app.example.com/cb#access_token=ya29.a0AfH6SMB&token_type=Bearer"}},
		{name: "presigned S3", profile: ProfileLog,
			text: "GET https://bucket.s3.amazonaws.com/a.pdf?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA454ML6LG4TJFCZ4K%2F20240115%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=9f8e7d6c 200",
			want: []string{"URL https://bucket.s3.amazonaws.com/a.pdf?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA454ML6LG4TJFCZ4K%2F20240115%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=9f8e7d6c"}},
		{name: "Azure SAS signature", text: "https://acct.blob.core.windows.net/c/f.txt?sv=2022-11-02&sig=AbC%2Bdef%3D",
			want: []string{"URL https://acct.blob.core.windows.net/c/f.txt?sv=2022-11-02&sig=AbC%2Bdef%3D"}},
		{name: "OAuth code", text: "https://app.example.com/oauth/callback?code=4%2F0AX4XfWh7Ty9kLm&state=xyz",
			want: []string{"URL https://app.example.com/oauth/callback?code=4%2F0AX4XfWh7Ty9kLm&state=xyz"}},
		{name: "Google key", text: "https://maps.googleapis.com/maps/api/js?key=AIza3cW0uABBrDSxOOyBymrEqlHXm31qzZcmzTU",
			want: []string{"URL https://maps.googleapis.com/maps/api/js?key=AIza3cW0uABBrDSxOOyBymrEqlHXm31qzZcmzTU"}},
		{name: "token user name", text: "https://ghp_WoGsbeKXgzg2sye9b2Rann76dEyTzAeKOmXR@github.com/org/repo.git",
			want: []string{"URL https://ghp_WoGsbeKXgzg2sye9b2Rann76dEyTzAeKOmXR@github.com/org/repo.git"}},
		{name: "balanced parentheses kept", text: "https://en.example.org/wiki/A_(b)?api_key=k3Y9x7Qz",
			want: []string{"URL https://en.example.org/wiki/A_(b)?api_key=k3Y9x7Qz"}},
		{name: "multi-byte text around", text: "lien：https://x.example.jp/?token=Zx81kQ2m。ありがとう",
			want: []string{"URL https://x.example.jp/?token=Zx81kQ2m"}},

		{name: "ordinary URL", text: "see https://example.com/docs/getting-started?lang=en#install"},
		{name: "user without password", text: "ssh://git@github.com/org/repo.git"},
		{name: "masked password", text: "postgres://app:****@db/app"},
		{name: "template password", text: "postgres://app:${DB_PASSWORD}@db/app"},
		{name: "templated token", text: "https://api.example.com/v1?token={token}"},
		{name: "empty token", text: "https://api.example.com/v1?token=&x=1"},
		{name: "undefined token", text: "GET /?token=undefined https://example.com/?token=undefined"},
		{name: "promo code", text: "https://shop.example.com/?code=SPRING"},
		{name: "plain key", text: "https://example.com/search?key=value&q=shoes"},
		{name: "email in query", text: "https://example.com/unsubscribe?email=a@b.com"},
		{name: "at sign in path", text: "https://medium.com/@someone/post-1"},
		{name: "no scheme", text: "example.com/?token=abc123xyz"},
	})
}

func TestURLWinsOverPartsInside(t *testing.T) {
	t.Parallel()
	text := "DSN: postgres://app:s3cret@10.0.0.5:5432/app?password=s3cret"
	got := redactTypes(text, TypeURL, TypeIP, TypeEmail, TypePassword)
	if diff := cmp.Diff([]string{"URL postgres://app:s3cret@10.0.0.5:5432/app?password=s3cret"}, got); diff != "" {
		t.Errorf("Redact(%q) mismatch (-want +got):\n%s", text, diff)
	}
}

func FuzzFindURLs(f *testing.F) {
	fuzzRecogniser(f, (*Redactor).findURLs,
		"https://a:b@c", "://", "x://?token=", "https://e.com/?code=%zz&sig=((", "jdbc:a://b?password=c)", "é://a:b@")
}
