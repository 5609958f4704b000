package httpapi_test

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

// TestChatCompletionStructuredOutputErrors maps the router's structured
// output failures: a reply that missed the schema after a repair is the
// upstream's fault (502, schema_mismatch); one cut off by the token limit
// is the caller's max_tokens to raise (400, output_truncated).
func TestChatCompletionStructuredOutputErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name              string
		err               error
		status            int
		kind, code, param string
	}{
		{
			name:   "schema mismatch",
			err:    status.Error(codes.FailedPrecondition, "model output did not match the response schema after one repair"),
			status: 502, kind: "server_error", code: "schema_mismatch",
		},
		{
			name:   "truncated",
			err:    status.Error(codes.OutOfRange, "structured output cut off by the token limit"),
			status: 400, kind: "invalid_request_error", code: "output_truncated", param: "max_tokens",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			router := &fakeRouter{
				generate: func(context.Context, *keelv1.GenerateRequest) (*keelv1.GenerateResponse, error) {
					return nil, tt.err
				},
				stream: func(context.Context, *keelv1.GenerateRequest, func(*keelv1.GenerateStreamResponse) error) error {
					return tt.err
				},
			}
			h := newChatHandler(t, router)
			for _, body := range []string{
				`{"model":"support","messages":[{"role":"user","content":"hi"}],` +
					`"response_format":{"type":"json_schema","json_schema":{"name":"a","schema":{"type":"object"}}}}`,
				`{"model":"support","stream":true,"messages":[{"role":"user","content":"hi"}],` +
					`"response_format":{"type":"json_object"}}`,
			} {
				e := checkOpenAIError(t, postChat(t, h, invokeToken(t), body), tt.status)
				if e.Type != tt.kind || e.code() != tt.code || e.param() != tt.param {
					t.Errorf("type, code, param = %q, %q, %q; want %q, %q, %q",
						e.Type, e.code(), e.param(), tt.kind, tt.code, tt.param)
				}
				if e.Message != status.Convert(tt.err).Message() {
					t.Errorf("message = %q, want the router's", e.Message)
				}
			}
		})
	}
}
