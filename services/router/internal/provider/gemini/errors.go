package gemini

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keelhq/keel/pkg/httpretry"
	"github.com/keelhq/keel/services/router/internal/provider"
)

// maxErrorMessage bounds the provider message kept in an error, so a server
// that echoes the prompt cannot fill the logs with it.
const maxErrorMessage = 200

// maxRetrySeconds bounds a RetryInfo delay; a longer one is taken for
// garbage rather than obeyed, as httpretry does for Retry-After.
const maxRetrySeconds = 1e6

// apiError is the body of a Google API error, {"error": {...}}, in an HTTP
// error response or as the data of a stream event.
type apiError struct {
	// Code is the HTTP status the error stands for.
	Code    int    `json:"code"`
	Message string `json:"message"`
	// Status is the google.rpc.Code name: INVALID_ARGUMENT,
	// RESOURCE_EXHAUSTED, UNAVAILABLE, ...
	Status  string        `json:"status"`
	Details []errorDetail `json:"details"`
}

// errorDetail is one entry of details: a google.rpc.RetryInfo,
// QuotaFailure, ErrorInfo or Help message, told apart by @type. Only the
// fields the router reads are kept.
type errorDetail struct {
	Type string `json:"@type"`
	// RetryDelay is a google.protobuf.Duration in its JSON form, "17s" or
	// "0.25s" (RetryInfo).
	RetryDelay string `json:"retryDelay"`
	// Violations lists the quotas that were exceeded (QuotaFailure).
	Violations []quotaViolation `json:"violations"`
	// Reason is a short constant such as API_KEY_INVALID (ErrorInfo).
	Reason string `json:"reason"`
}

type quotaViolation struct {
	QuotaMetric string `json:"quotaMetric"`
	QuotaID     string `json:"quotaId"`
	Description string `json:"description"`
}

type errorBody struct {
	Error *apiError `json:"error"`
}

// statusForCode maps the google.rpc.Code names to the HTTP status Google
// gives them, for an in-stream error that names only its status.
var statusForCode = map[string]int{
	"INVALID_ARGUMENT":    http.StatusBadRequest,
	"FAILED_PRECONDITION": http.StatusBadRequest,
	"OUT_OF_RANGE":        http.StatusBadRequest,
	"UNAUTHENTICATED":     http.StatusUnauthorized,
	"PERMISSION_DENIED":   http.StatusForbidden,
	"NOT_FOUND":           http.StatusNotFound,
	"RESOURCE_EXHAUSTED":  http.StatusTooManyRequests,
	"CANCELLED":           499,
	"INTERNAL":            http.StatusInternalServerError,
	"UNKNOWN":             http.StatusInternalServerError,
	"DATA_LOSS":           http.StatusInternalServerError,
	"UNIMPLEMENTED":       http.StatusNotImplemented,
	"UNAVAILABLE":         http.StatusServiceUnavailable,
	"DEADLINE_EXCEEDED":   http.StatusGatewayTimeout,
}

// statusError classifies an HTTP error response from its status, headers
// and body (at most maxErrorBody bytes of it); key is the API key, taken out
// of the reason the caller may read.
func statusError(resp *http.Response, body []byte, now time.Time, key string) *provider.Error {
	var eb errorBody
	_ = json.Unmarshal(body, &eb)
	e := eb.Error
	msg := string(body)
	if e != nil && e.Message != "" {
		msg = e.Message
	}
	pe := classify(resp.StatusCode, e, msg, httpretry.After(resp.Header, now))
	pe.StatusCode = resp.StatusCode

	// The caller who sent a request refused as malformed may read why,
	// from Google's own message only: a page from a proxy is no reason.
	refused := resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnprocessableEntity
	if pe.Class == provider.ErrRequestRejected && refused && e != nil && e.Message != "" {
		pe.Reason = provider.CleanReason(e.Message, key)
	}
	return pe
}

// streamError classifies an error object that arrives as the data of a
// stream event, after the server already answered 200. It is classified
// like the HTTP error of the same code; StatusCode stays zero because the
// HTTP status was 200.
func streamError(e *apiError) *provider.Error {
	code := e.Code
	if code < 400 || code > 599 {
		code = statusForCode[e.Status]
	}
	msg := e.Message
	if msg == "" {
		msg = "error event"
	}
	pe := classify(code, e, msg, 0)
	if code == 0 {
		// Neither a code nor a known status: a server failure.
		pe.Class = provider.ErrServerFailed
	}
	return pe
}

// classify maps an HTTP status and the Google error it carries to a
// provider error class. headerDelay is the Retry-After delay, if any.
//
// A 429 is ErrQuotaExceeded rather than ErrRateLimited when waiting will not
// cure it, by this rule:
//   - a QuotaFailure detail names a per-day quota (its quotaId or metric
//     says "PerDay" / "per_day"): the quota resets at most once a day, so
//     any short delay offered is not worth taking; or
//   - no delay is offered (no RetryInfo, no Retry-After) and the message
//     speaks of billing or of having "exceeded your current quota", which
//     is how Gemini words an exhausted plan or spend limit.
//
// Otherwise a 429 is ErrRateLimited, with the RetryInfo delay when there is
// one, else the Retry-After delay.
//
// The message is kept whole here; scrub bounds it once the API key is out.
func classify(code int, e *apiError, msg string, headerDelay time.Duration) *provider.Error {
	pe := &provider.Error{Message: msg}
	status := ""
	if e != nil {
		status = e.Status
	}
	delay := headerDelay
	if d, ok := retryInfoDelay(e); ok {
		delay = d
	}

	switch {
	case code == http.StatusTooManyRequests || status == "RESOURCE_EXHAUSTED":
		if perDayQuota(e) || (delay == 0 && quotaMessage(msg)) {
			pe.Class = provider.ErrQuotaExceeded
			return pe
		}
		pe.Class = provider.ErrRateLimited
		pe.RetryAfter = delay
	case code == http.StatusUnauthorized || code == http.StatusForbidden ||
		status == "UNAUTHENTICATED" || status == "PERMISSION_DENIED" || (code < 500 && badAPIKey(e, msg)):
		pe.Class = provider.ErrCredentialsRejected
	case code == http.StatusServiceUnavailable:
		pe.Class = provider.ErrOverloaded
		pe.RetryAfter = delay
	case code == http.StatusGatewayTimeout || code == http.StatusRequestTimeout:
		pe.Class = provider.ErrTimedOut
	case code >= 500:
		pe.Class = provider.ErrServerFailed
	case tokenLimit(msg):
		pe.Class = provider.ErrContextTooLong
	case code == http.StatusNotFound || status == "NOT_FOUND":
		// No such model here: the candidate is wrong, not the request.
		pe.Class = provider.ErrModelUnavailable
	default:
		// 400 INVALID_ARGUMENT and FAILED_PRECONDITION and any other 4xx.
		pe.Class = provider.ErrRequestRejected
	}
	return pe
}

// retryInfoDelay returns the delay of a google.rpc.RetryInfo detail.
func retryInfoDelay(e *apiError) (time.Duration, bool) {
	if e == nil {
		return 0, false
	}
	for _, d := range e.Details {
		if !strings.HasSuffix(d.Type, "google.rpc.RetryInfo") {
			continue
		}
		if delay, ok := parseDuration(d.RetryDelay); ok {
			return delay, true
		}
	}
	return 0, false
}

// parseDuration reads a google.protobuf.Duration in its JSON form: decimal
// seconds with an "s" suffix, such as "17s" or "0.25s". Zero, negative and
// absurd delays are refused.
func parseDuration(s string) (time.Duration, bool) {
	num, ok := strings.CutSuffix(strings.TrimSpace(s), "s")
	if !ok {
		return 0, false
	}
	secs, err := strconv.ParseFloat(num, 64)
	if err != nil || !(secs > 0) || secs > maxRetrySeconds {
		return 0, false
	}
	return time.Duration(secs * float64(time.Second)), true
}

// perDayQuota reports whether a QuotaFailure detail names a daily quota.
func perDayQuota(e *apiError) bool {
	if e == nil {
		return false
	}
	for _, d := range e.Details {
		if !strings.HasSuffix(d.Type, "google.rpc.QuotaFailure") {
			continue
		}
		for _, v := range d.Violations {
			id := strings.ToLower(v.QuotaID + " " + v.QuotaMetric)
			if strings.Contains(id, "perday") || strings.Contains(id, "per_day") {
				return true
			}
		}
	}
	return false
}

func quotaMessage(msg string) bool {
	msg = strings.ToLower(msg)
	return strings.Contains(msg, "billing") || strings.Contains(msg, "exceeded your current quota")
}

// badAPIKey recognises the 400 Gemini answers for a key it does not know.
func badAPIKey(e *apiError, msg string) bool {
	if strings.Contains(strings.ToLower(msg), "api key not valid") {
		return true
	}
	if e == nil {
		return false
	}
	for _, d := range e.Details {
		if d.Reason == "API_KEY_INVALID" {
			return true
		}
	}
	return false
}

// tokenLimit recognises a prompt too long for the model: "The input token
// count (N) exceeds the maximum number of tokens allowed (M)."
func tokenLimit(msg string) bool {
	msg = strings.ToLower(msg)
	return strings.Contains(msg, "exceeds the maximum number of tokens") ||
		(strings.Contains(msg, "input token count") && strings.Contains(msg, "exceed"))
}

// shorten trims s to maxErrorMessage bytes without splitting a UTF-8
// sequence.
func shorten(s string) string {
	s = strings.TrimSpace(s)
	if len(s) <= maxErrorMessage {
		return s
	}
	cut := maxErrorMessage
	for cut > 0 && !startsRune(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

func startsRune(b byte) bool { return b&0xC0 != 0x80 }

// scrub prepares an error of the provider for the caller: it removes the
// API key, should a server or a proxy echo it back (no error the provider
// returns may carry the key into a log), and then bounds the provider
// message to maxErrorMessage bytes. The key is removed before the message is
// cut so that no part of it survives at the cut. Errors other than
// *provider.Error are returned as they are unless they hold the key.
func scrub(err error, key string) error {
	if err == nil {
		return nil
	}
	pe, ok := err.(*provider.Error)
	if !ok {
		if key != "" && strings.Contains(err.Error(), key) {
			return &redactedError{err: err, key: key}
		}
		return err
	}
	out := *pe
	if key != "" {
		out.Message = strings.ReplaceAll(out.Message, key, "[redacted]")
		if out.Err != nil && strings.Contains(out.Err.Error(), key) {
			out.Err = &redactedError{err: out.Err, key: key}
		}
	}
	out.Message = shorten(out.Message)
	return &out
}

// redactedError hides a secret in the text of the error it wraps; errors.Is
// and errors.As still see the wrapped error.
type redactedError struct {
	err error
	key string
}

func (e *redactedError) Error() string {
	return strings.ReplaceAll(e.err.Error(), e.key, "[redacted]")
}

func (e *redactedError) Unwrap() error { return e.err }
