package httpapi_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keelhq/keel/pkg/auth"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

func gzipped(t *testing.T, s string) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// A gzip-compressed body is read decompressed, within the same size limit
// as a plain one (a small body that inflates past it is refused); a body
// that is not valid gzip, or sent in another encoding, is refused with a
// clear error instead of being read as JSON.
func TestRequestContentEncoding(t *testing.T) {
	t.Parallel()
	whole := gzipped(t, simpleChat)
	// 9 MB of spaces before the object compress to a few kilobytes.
	bomb := gzipped(t, strings.Repeat(" ", 9<<20)+simpleChat)
	tests := []struct {
		name, encoding, body string
		status               int
		code, message        string
	}{
		{name: "gzip", encoding: "gzip", body: whole, status: http.StatusOK},
		{name: "gzip named in capitals", encoding: "GZIP", body: whole, status: http.StatusOK},
		{name: "identity", encoding: "identity", body: simpleChat, status: http.StatusOK},
		{name: "inflates past the limit", encoding: "gzip", body: bomb, status: http.StatusRequestEntityTooLarge,
			code: "body_too_large"},
		{name: "not gzip", encoding: "gzip", body: simpleChat, status: http.StatusBadRequest, code: "invalid_request", message: "not valid gzip"},
		{name: "cut short", encoding: "gzip", body: whole[:len(whole)-6], status: http.StatusBadRequest, code: "invalid_request",
			message: "not valid gzip"},
		{name: "brotli", encoding: "br", body: simpleChat, status: http.StatusUnsupportedMediaType, code: "unsupported_encoding"},
		{name: "twice", encoding: "gzip, gzip", body: gzipped(t, whole), status: http.StatusUnsupportedMediaType,
			code: "unsupported_encoding"},
		{name: "twice on two lines", encoding: "gzip|gzip", body: gzipped(t, whole), status: http.StatusUnsupportedMediaType,
			code: "unsupported_encoding"},
		{name: "identity then gzip on two lines", encoding: "identity|gzip", body: whole, status: http.StatusUnsupportedMediaType,
			code: "unsupported_encoding"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			router := &fakeRouter{generate: func(context.Context, *keelv1.GenerateRequest) (*keelv1.GenerateResponse, error) {
				return &keelv1.GenerateResponse{Text: "hello", Route: "support", Provider: "local"}, nil
			}}
			req := newRequest(t, http.MethodPost, "/v1/chat/completions", invokeToken(t), tt.body)
			// Several encodings may come as several header lines.
			for enc := range strings.SplitSeq(tt.encoding, "|") {
				req.Header.Add("Content-Encoding", enc)
			}
			rec := httptest.NewRecorder()
			newChatHandler(t, router).ServeHTTP(rec, req)
			if tt.status == http.StatusOK {
				if rec.Code != http.StatusOK {
					t.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
				if reqs := router.Requests(); len(reqs) != 1 || reqs[0].GetMessages()[0].GetContent() != "hi" {
					t.Errorf("router got %v, want the decompressed request", reqs)
				}
				return
			}
			e := checkOpenAIError(t, rec, tt.status)
			if e.code() != tt.code || !strings.Contains(e.Message, tt.message) {
				t.Errorf("code %q, message %q; want %q and a message with %q", e.code(), e.Message, tt.code, tt.message)
			}
			if n := len(router.Requests()); n != 0 {
				t.Errorf("router called %d times for a refused body", n)
			}
		})
	}

	// The problem-JSON endpoints read bodies the same way.
	env := newTestEnv(t)
	tok := token(t, "acme", "ana", auth.ScopeEmailsWrite)
	req := newRequest(t, http.MethodPost, "/v1/emails", tok, gzipped(t, validEmail))
	req.Header.Set("Content-Encoding", "gzip")
	if rec := serve(env, req); rec.Code != http.StatusAccepted {
		t.Errorf("gzip email: %d %s", rec.Code, rec.Body)
	}
	req = newRequest(t, http.MethodPost, "/v1/emails", tok, validEmail)
	req.Header.Set("Content-Encoding", "deflate")
	rec := httptest.NewRecorder()
	env.handler.ServeHTTP(rec, req)
	if p := decodeProblem(t, rec, http.StatusUnsupportedMediaType); p.Type != "urn:keel:problem:unsupported-encoding" {
		t.Errorf("deflate email: problem type %q", p.Type)
	}
}
