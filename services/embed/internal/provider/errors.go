package provider

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// Class sentinels. Every error an embedding client returns for a failed
// request wraps exactly one of them through *Error, so callers can tell the
// conditions apart with errors.Is. The caller's own cancellation is returned
// as the context's error instead.
var (
	// ErrRateLimited is returned when the provider answered 429 because
	// requests came too fast; the *Error may carry the delay it asked for.
	ErrRateLimited = errors.New("rate limited")
	// ErrQuotaExhausted is returned when the provider answered 429 because
	// the account's quota or billing is used up; waiting a few seconds does
	// not help.
	ErrQuotaExhausted = errors.New("quota exhausted")
	// ErrCredentialsRejected is returned when the provider answered 401 or
	// 403.
	ErrCredentialsRejected = errors.New("credentials rejected")
	// ErrRequestRejected is returned when the provider answered another
	// 4xx status.
	ErrRequestRejected = errors.New("request rejected")
	// ErrServerFailed is returned when the provider answered 5xx.
	ErrServerFailed = errors.New("server error")
	// ErrTimedOut is returned when the provider answered 408 or the
	// request's own timeout passed before it answered.
	ErrTimedOut = errors.New("timed out")
	// ErrUnreachable is returned when no connection could be made or the
	// connection broke before the whole response arrived.
	ErrUnreachable = errors.New("unreachable")
	// ErrMalformedResponse is returned when a successful response cannot be
	// decoded or does not hold exactly one valid vector per text.
	ErrMalformedResponse = errors.New("malformed response")
	// ErrDimensionMismatch is returned, beside ErrMalformedResponse, when a
	// vector does not have the configured number of dimensions; the
	// configuration and the model disagree.
	ErrDimensionMismatch = errors.New("dimension mismatch")
)

// maxErrorMessage bounds the provider message kept in an error, so a server
// that echoes the input cannot fill the logs with customer text.
const maxErrorMessage = 300

// maxErrorBody bounds the error body read from a failed response.
const maxErrorBody = 64 << 10

// Error describes a failed embedding request. errors.Is(err, ErrRateLimited)
// and the other class sentinels work on it through Unwrap.
type Error struct {
	// Provider names the client that failed: "openai" or "gemini".
	Provider string
	// Class is one of the class sentinels above.
	Class error
	// StatusCode is the HTTP status, or zero when there was none.
	StatusCode int
	// Code is the provider's own error code or status name, such as
	// "insufficient_quota" or "RESOURCE_EXHAUSTED"; empty when it gave none.
	Code string
	// Message is the provider's short description of the problem, or ours
	// for a malformed response.
	Message string
	// RetryAfter is how long the provider asked the caller to wait; zero
	// when it did not say.
	RetryAfter time.Duration
	// Err is the underlying cause, if any.
	Err error
}

// Error returns the provider, the class, the status and the provider's
// message.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Provider)
	b.WriteString(" embeddings: ")
	b.WriteString(e.Class.Error())
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, " (status %d", e.StatusCode)
		if e.Code != "" {
			b.WriteString(", " + e.Code)
		}
		b.WriteString(")")
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the class sentinel and the cause.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Class}
	}
	return []error{e.Class, e.Err}
}

// Retryable reports whether the same request may succeed later: rate
// limits, server errors, timeouts and broken connections are retryable;
// exhausted quotas, rejected requests and credentials, and malformed
// responses are not.
func Retryable(err error) bool {
	if errors.Is(err, ErrQuotaExhausted) {
		return false
	}
	return errors.Is(err, ErrRateLimited) ||
		errors.Is(err, ErrServerFailed) ||
		errors.Is(err, ErrTimedOut) ||
		errors.Is(err, ErrUnreachable)
}

// RetryAfter returns the delay the provider asked for before the next
// attempt, and false when it asked for none.
func RetryAfter(err error) (time.Duration, bool) {
	var pe *Error
	if !errors.As(err, &pe) || pe.RetryAfter <= 0 {
		return 0, false
	}
	return pe.RetryAfter, true
}

// statusClass returns the class of an HTTP error status. quota reports
// whether the provider said the account's quota or billing is exhausted.
func statusClass(status int, quota bool) error {
	switch {
	case status == http.StatusTooManyRequests && quota:
		return ErrQuotaExhausted
	case status == http.StatusTooManyRequests:
		return ErrRateLimited
	case status == http.StatusRequestTimeout:
		return ErrTimedOut
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return ErrCredentialsRejected
	case status >= 500:
		return ErrServerFailed
	default:
		return ErrRequestRejected
	}
}

// transportError classifies an error from sending a request or reading its
// response. The caller's own cancellation or deadline is not a provider
// failure and is returned as the context's error; a request timeout of our
// own is ErrTimedOut.
func transportError(provider string, callerCtx context.Context, err error) error {
	if ctxErr := callerCtx.Err(); ctxErr != nil {
		return ctxErr
	}
	var netErr net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()) {
		return &Error{Provider: provider, Class: ErrTimedOut, Err: err}
	}
	return &Error{Provider: provider, Class: ErrUnreachable, Err: err}
}

// malformed returns an ErrMalformedResponse error with message.
func malformed(provider, format string, args ...any) *Error {
	return &Error{Provider: provider, Class: ErrMalformedResponse, Message: fmt.Sprintf(format, args...)}
}

// cleanMessage shortens a provider message and removes the API key from it,
// should the provider echo it.
func cleanMessage(msg, apiKey string) string {
	msg = strings.TrimSpace(msg)
	if apiKey != "" {
		msg = strings.ReplaceAll(msg, apiKey, "[redacted]")
	}
	if len(msg) <= maxErrorMessage {
		return msg
	}
	cut := maxErrorMessage
	for cut > 0 && !isRuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + "..."
}

func isRuneStart(b byte) bool {
	return b&0xC0 != 0x80
}
