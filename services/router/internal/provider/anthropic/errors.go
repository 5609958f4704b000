package anthropic

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keelhq/keel/pkg/httpretry"
	"github.com/keelhq/keel/services/router/internal/provider"
)

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = 64 << 10

// maxErrorMessage bounds the provider message kept in an error, so that a
// server that echoes the prompt cannot fill the logs with it.
const maxErrorMessage = 200

// statusOverloaded is Anthropic's "overloaded" status.
const statusOverloaded = 529

// statusError classifies an HTTP error response from its status, its
// Retry-After header and its {"type":"error","error":{...}} body; key is the
// API key, taken out of the reason the caller may read.
func statusError(resp *http.Response, body []byte, now time.Time, key string) *provider.Error {
	var eb errorBody
	_ = json.Unmarshal(body, &eb)
	e := eb.Error
	if e == nil {
		e = &apiError{}
	}

	pe := &provider.Error{StatusCode: resp.StatusCode, Message: shorten(messageOr(e, string(body)))}
	retryAfter := httpretry.After(resp.Header, now)
	switch code := resp.StatusCode; {
	case code == http.StatusBadRequest:
		switch {
		case isQuota(e):
			pe.Class = provider.ErrQuotaExceeded
		case isContextLength(e):
			pe.Class = provider.ErrContextTooLong
		default:
			pe.Class = provider.ErrRequestRejected
		}
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		pe.Class = provider.ErrCredentialsRejected
	case code == http.StatusPaymentRequired:
		// billing_error: waiting does not cure it.
		pe.Class = provider.ErrQuotaExceeded
	case code == http.StatusRequestEntityTooLarge:
		pe.Class = provider.ErrContextTooLong
	case code == http.StatusTooManyRequests:
		if isQuota(e) {
			pe.Class = provider.ErrQuotaExceeded
		} else {
			pe.Class = provider.ErrRateLimited
			pe.RetryAfter = retryAfter
		}
	case code == statusOverloaded || (code >= 500 && e.Type == "overloaded_error"):
		pe.Class = provider.ErrOverloaded
		pe.RetryAfter = retryAfter
	case code >= 500:
		pe.Class = provider.ErrServerFailed
		pe.RetryAfter = retryAfter
	case isContextLength(e):
		pe.Class = provider.ErrContextTooLong
	case code == http.StatusNotFound:
		// not_found_error: no such model here; the candidate is wrong.
		pe.Class = provider.ErrModelUnavailable
	default:
		// Any other 4xx.
		pe.Class = provider.ErrRequestRejected
	}

	// The caller who sent a request refused as malformed may read why. The
	// body was scrubbed as it came; a key written with JSON escapes shows
	// only once decoded, so the decoded message is cleaned with the key.
	refused := resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnprocessableEntity
	if pe.Class == provider.ErrRequestRejected && refused && e.Message != "" {
		pe.Reason = provider.CleanReason(e.Message, key)
	}
	return pe
}

// eventError classifies an error event that arrives inside a stream, after
// the server already answered 200, from its error type alone.
func eventError(e *apiError) *provider.Error {
	pe := &provider.Error{Message: shorten(messageOr(e, "error event")), Class: provider.ErrServerFailed}
	switch e.Type {
	case "overloaded_error":
		pe.Class = provider.ErrOverloaded
	case "rate_limit_error":
		pe.Class = provider.ErrRateLimited
		if isQuota(e) {
			pe.Class = provider.ErrQuotaExceeded
		}
	case "invalid_request_error":
		switch {
		case isQuota(e):
			pe.Class = provider.ErrQuotaExceeded
		case isContextLength(e):
			pe.Class = provider.ErrContextTooLong
		default:
			pe.Class = provider.ErrRequestRejected
		}
	case "authentication_error", "permission_error":
		pe.Class = provider.ErrCredentialsRejected
	case "billing_error":
		pe.Class = provider.ErrQuotaExceeded
	case "not_found_error":
		pe.Class = provider.ErrRequestRejected
	case "request_too_large":
		pe.Class = provider.ErrContextTooLong
	}
	// "api_error" and unknown types stay server errors.
	return pe
}

// isQuota reports whether e is a limit that waiting a moment does not lift:
// the tier's monthly spend cap (a 429 with error code
// enforced_spend_limit_reached), a spend limit the customer set (a 400 "You
// have reached your specified API usage limits") or an empty credit balance.
func isQuota(e *apiError) bool {
	if e.Details.ErrorCode == "enforced_spend_limit_reached" {
		return true
	}
	msg := strings.ToLower(e.Message)
	for _, s := range []string{"credit balance", "usage limit", "spend limit", "spending limit", "credit limit"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// isContextLength reports whether e says the prompt does not fit, as in
// "prompt is too long: 208310 tokens > 200000 maximum" or "input length and
// `max_tokens` exceed context limit".
func isContextLength(e *apiError) bool {
	msg := strings.ToLower(e.Message)
	return strings.Contains(msg, "prompt is too long") ||
		strings.Contains(msg, "context") && (strings.Contains(msg, "too long") || strings.Contains(msg, "exceed"))
}

func messageOr(e *apiError, fallback string) string {
	if e == nil || e.Message == "" {
		return fallback
	}
	return e.Message
}

// shorten bounds s to maxErrorMessage bytes without cutting a character in
// two.
func shorten(s string) string {
	s = strings.TrimSpace(s)
	if len(s) <= maxErrorMessage {
		return s
	}
	cut := maxErrorMessage
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// scrub replaces every occurrence of secret in s. Error bodies and events
// are scrubbed before they are classified, so that a key cut by shorten
// cannot leave a prefix behind.
func scrub(s, secret string) string {
	if secret == "" {
		return s
	}
	return strings.ReplaceAll(s, secret, "[redacted]")
}

// redact removes the API key from the messages of err, in case a server or
// proxy echoes it back, as a last guard after scrub.
func redact(err error, apiKey string) error {
	var pe *provider.Error
	if apiKey == "" || !errors.As(err, &pe) {
		return err
	}
	pe.Message = scrub(pe.Message, apiKey)
	if pe.Err != nil && strings.Contains(pe.Err.Error(), apiKey) {
		pe.Err = errors.New(scrub(pe.Err.Error(), apiKey))
	}
	return err
}
