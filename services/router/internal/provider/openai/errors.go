package openai

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/keelhq/keel/pkg/httpretry"
	"github.com/keelhq/keel/services/router/internal/provider"
)

// maxErrorMessage bounds the provider message kept in an error, so a server
// that echoes the prompt cannot fill the logs with it.
const maxErrorMessage = 200

// statusError classifies an HTTP error response; key is the provider's API
// key, taken out of anything the caller may read.
func statusError(resp *http.Response, body []byte, now time.Time, key string) *provider.Error {
	e, decoded := decodeError(body)
	msg := e.messageOr(string(body))
	if key != "" {
		// The body was scrubbed as sent; a key written with JSON escapes
		// shows only once decoded.
		msg = strings.ReplaceAll(msg, key, "[redacted]")
	}
	pe := &provider.Error{StatusCode: resp.StatusCode, Message: shorten(msg)}
	switch code := resp.StatusCode; {
	case code == http.StatusTooManyRequests && isQuota(e):
		pe.Class = provider.ErrQuotaExceeded
	case code == http.StatusTooManyRequests:
		pe.Class = provider.ErrRateLimited
		pe.RetryAfter = httpretry.After(resp.Header, now)
	case code == http.StatusServiceUnavailable || code == 529:
		pe.Class = provider.ErrOverloaded
		pe.RetryAfter = httpretry.After(resp.Header, now)
	case code == http.StatusUnauthorized || code == http.StatusForbidden || isAuth(e):
		// xAI answers a wrong key with a 400 whose message names it.
		pe.Class = provider.ErrCredentialsRejected
	case code == http.StatusRequestTimeout || code == http.StatusGatewayTimeout:
		pe.Class = provider.ErrTimedOut
	case code >= 500:
		pe.Class = provider.ErrServerFailed
	case code == http.StatusNotFound:
		pe.Class = provider.ErrModelUnavailable
	case isContextLength(e):
		pe.Class = provider.ErrContextTooLong
	case isContentPolicy(e):
		pe.Class = provider.ErrContentRefused
	default:
		pe.Class = provider.ErrRequestRejected
		if decoded && (code == http.StatusBadRequest || code == http.StatusUnprocessableEntity) {
			pe.Reason = provider.CleanReason(e.Message, key)
			if pe.Reason != "" {
				pe.Param = provider.CleanParam(e.param())
			}
		}
	}
	return pe
}

// decodeError reads an error body: {"error": {"message": ...}} as OpenAI
// sends it, or {"error": "...", "code": "..."} as xAI does. decoded is false
// when neither holds a message.
func decodeError(body []byte) (e *apiError, decoded bool) {
	var eb errorBody
	if json.Unmarshal(body, &eb) == nil && eb.Error != nil && eb.Error.Message != "" {
		return eb.Error, true
	}
	var flat struct {
		Error string          `json:"error"`
		Code  json.RawMessage `json:"code"`
	}
	if json.Unmarshal(body, &flat) == nil && flat.Error != "" {
		return &apiError{Message: flat.Error, Code: flat.Code}, true
	}
	return nil, false
}

// streamError classifies an error that arrives inside an event stream,
// after the server already answered 200.
func streamError(e *apiError, key string) *provider.Error {
	pe := &provider.Error{Message: shorten(e.messageOr("error event")), Class: provider.ErrServerFailed}
	switch kind := e.Type + " " + e.code(); {
	case isAuth(e):
		pe.Class = provider.ErrCredentialsRejected
	case isQuota(e):
		pe.Class = provider.ErrQuotaExceeded
	case strings.Contains(kind, "rate_limit"):
		pe.Class = provider.ErrRateLimited
	case strings.Contains(kind, "overloaded") || strings.Contains(kind, "unavailable"):
		pe.Class = provider.ErrOverloaded
	case isContentPolicy(e):
		pe.Class = provider.ErrContentRefused
	case isContextLength(e):
		pe.Class = provider.ErrContextTooLong
	case strings.Contains(kind, "invalid_request"):
		// A refusal said in a 200 is a refusal still: its reason is the
		// caller's to read, as a 400's would be.
		pe.Class = provider.ErrRequestRejected
		if pe.Reason = provider.CleanReason(e.Message, key); pe.Reason != "" {
			pe.Param = provider.CleanParam(e.param())
		}
	}
	return pe
}

// isAuth reports an error about the API key, whatever its status: OpenAI's
// invalid_api_key, an authentication error type, or a message naming the
// key.
func isAuth(e *apiError) bool {
	if e == nil {
		return false
	}
	kind := strings.ToLower(e.Type + " " + e.code())
	return strings.Contains(kind, "invalid_api_key") || strings.Contains(kind, "authentication") ||
		provider.MentionsKey(e.Message)
}

func isContextLength(e *apiError) bool {
	if e == nil {
		return false
	}
	return e.code() == "context_length_exceeded" ||
		strings.Contains(strings.ToLower(e.Message), "maximum context length")
}

// isQuota reports a 429 that waiting does not cure: OpenAI's
// insufficient_quota and billing hard limits.
func isQuota(e *apiError) bool {
	if e == nil {
		return false
	}
	kind := e.Type + " " + e.code()
	return strings.Contains(kind, "insufficient_quota") || strings.Contains(kind, "billing_hard_limit")
}

// isContentPolicy reports a request refused under the content policy.
func isContentPolicy(e *apiError) bool {
	if e == nil {
		return false
	}
	kind := e.Type + " " + e.code()
	return strings.Contains(kind, "content_policy") || strings.Contains(kind, "content_filter")
}

func (e *apiError) messageOr(fallback string) string {
	if e == nil || e.Message == "" {
		return fallback
	}
	return e.Message
}

func shorten(s string) string {
	s = strings.TrimSpace(s)
	if len(s) <= maxErrorMessage {
		return s
	}
	return s[:maxErrorMessage] + "..."
}
