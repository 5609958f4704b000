package provider

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/keelhq/keel/services/router/internal/provider/sse"
)

// Class sentinels. Every error a Provider returns for a failed call wraps
// exactly one of them (through *Error), so callers can use errors.Is.
var (
	// ErrRateLimited is returned when the provider answered 429; the
	// *Error may carry the Retry-After delay.
	ErrRateLimited = errors.New("provider rate limited")
	// ErrOverloaded is returned when the provider said it is overloaded
	// (Anthropic's 529, Gemini's UNAVAILABLE, an "overloaded" stream
	// event); retryable.
	ErrOverloaded = errors.New("provider overloaded")
	// ErrQuotaExceeded is returned for a 429 that waiting does not cure:
	// a spend limit, billing hard limit or exhausted quota. Not retryable
	// at the same provider and key.
	ErrQuotaExceeded = errors.New("provider quota exceeded")
	// ErrContentRefused is returned when the provider refused the request
	// or withheld the reply under its content policy; not retryable.
	ErrContentRefused = errors.New("provider refused content")
	// ErrCredentialsRejected is returned when the provider answered 401
	// or 403.
	ErrCredentialsRejected = errors.New("provider rejected credentials")
	// ErrRequestRejected is returned when the provider answered 400 (or
	// another 4xx) for a reason other than the context length.
	ErrRequestRejected = errors.New("provider rejected request")
	// ErrContextTooLong is returned when the prompt does not fit the
	// model's context window.
	ErrContextTooLong = errors.New("provider context length exceeded")
	// ErrServerFailed is returned when the provider answered 5xx or
	// reported a server error in the middle of a stream.
	ErrServerFailed = errors.New("provider server error")
	// ErrTimedOut is returned when the attempt's deadline passed before the
	// provider answered.
	ErrTimedOut = errors.New("provider timed out")
	// ErrUnreachable is returned when no connection to the provider could
	// be made or it closed the connection early.
	ErrUnreachable = errors.New("provider unreachable")
	// ErrModelUnavailable is returned when the provider does not serve the
	// model or endpoint a candidate names (404): the candidate is
	// misconfigured, not the request, and the next one is tried.
	ErrModelUnavailable = errors.New("provider does not serve the model")
)

// Error describes a failed provider call. errors.Is(err, ErrRateLimited) and
// the other class sentinels work on it through Unwrap.
type Error struct {
	// Class is one of the class sentinels above.
	Class error
	// StatusCode is the HTTP status, or zero when there was none.
	StatusCode int
	// RetryAfter is how long the provider asked the caller to wait; zero
	// when it did not say.
	RetryAfter time.Duration
	// Message is the provider's own short description of the problem,
	// for debug logs only: it may quote the prompt or the key.
	Message string
	// Reason is the provider's explanation of a request it refused as
	// malformed (a 400 or 422 that names no key), decoded from its JSON,
	// with the key and control characters taken out: the caller who sent
	// the request may read it. Empty otherwise.
	Reason string
	// Param names the request field the provider refused, as its error
	// said (OpenAI's "param"), when it is a plausible field name; set only
	// with Reason.
	Param string
	// Err is the underlying cause, if any.
	Err error
}

// Error returns the class, status and provider message.
func (e *Error) Error() string {
	msg := e.Class.Error()
	if e.StatusCode != 0 {
		msg = fmt.Sprintf("%s (status %d)", msg, e.StatusCode)
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the class sentinel and the cause.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Class}
	}
	return []error{e.Class, e.Err}
}

// Retryable reports whether another attempt, at this or another provider,
// may succeed: rate limits, overload, server errors, timeouts and
// unreachable providers are retryable; rejected requests and credentials,
// exhausted quotas and content refusals are not.
func Retryable(err error) bool {
	return errors.Is(err, ErrRateLimited) ||
		errors.Is(err, ErrOverloaded) ||
		errors.Is(err, ErrServerFailed) ||
		errors.Is(err, ErrTimedOut) ||
		errors.Is(err, ErrUnreachable)
}

// RetryAfter returns the delay a rate-limited provider asked for.
func RetryAfter(err error) (time.Duration, bool) {
	var pe *Error
	if !errors.As(err, &pe) || pe.RetryAfter <= 0 {
		return 0, false
	}
	return pe.RetryAfter, true
}

// ClassName returns a short stable name for the class of err, for logs and
// audit attributes: "rate_limited", "server", "unknown" and so on.
func ClassName(err error) string {
	switch {
	case errors.Is(err, ErrRateLimited):
		return "rate_limited"
	case errors.Is(err, ErrOverloaded):
		return "overloaded"
	case errors.Is(err, ErrQuotaExceeded):
		return "quota"
	case errors.Is(err, ErrContentRefused):
		return "content_refused"
	case errors.Is(err, ErrCredentialsRejected):
		return "auth"
	case errors.Is(err, ErrModelUnavailable):
		return "model_unavailable"
	case errors.Is(err, ErrContextTooLong):
		return "context_length"
	case errors.Is(err, ErrRequestRejected):
		return "bad_request"
	case errors.Is(err, ErrServerFailed):
		return "server"
	case errors.Is(err, ErrTimedOut):
		return "timeout"
	case errors.Is(err, ErrUnreachable):
		return "unreachable"
	default:
		return "unknown"
	}
}

// LogText describes err for a log line without the provider's own message,
// which may quote the prompt: the class, the status, the wait asked for and
// the cause (a transport or deadline error, never text the provider sent).
// The whole error is for debug logging only.
func LogText(err error) string {
	var pe *Error
	if !errors.As(err, &pe) {
		return err.Error()
	}
	msg := ClassName(err)
	if pe.StatusCode != 0 {
		msg = fmt.Sprintf("%s (status %d)", msg, pe.StatusCode)
	}
	if pe.RetryAfter > 0 {
		msg += fmt.Sprintf(", retry after %s", pe.RetryAfter)
	}
	if pe.Err != nil {
		msg += ": " + pe.Err.Error()
	}
	return msg
}

// TransportError classifies an error from sending a request to a provider
// or reading its response. The caller's own cancellation is not the
// provider's failure and comes back as it is; a passed deadline or a
// network timeout is ErrTimedOut; an event stream line longer than
// sse.MaxLine is ErrServerFailed (the server misbehaved); anything else,
// a refused or reset connection, is ErrUnreachable.
func TransportError(ctx context.Context, err error) error {
	switch ctxErr := ctx.Err(); {
	case errors.Is(ctxErr, context.Canceled):
		return ctxErr
	case errors.Is(ctxErr, context.DeadlineExceeded):
		return &Error{Class: ErrTimedOut, Err: err}
	}
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return &Error{Class: ErrTimedOut, Err: err}
	case errors.Is(err, sse.ErrLineTooLong):
		return &Error{Class: ErrServerFailed, Err: err}
	}
	return &Error{Class: ErrUnreachable, Err: err}
}

// CleanParam returns param when it reads as a request field's name
// (messages[0].content, tools[1].function.parameters), else "": it reaches
// the caller as the field to fix.
func CleanParam(param string) string {
	if param == "" || len(param) > 64 {
		return ""
	}
	for _, r := range param {
		if !(r == '_' || r == '.' || r == '[' || r == ']' || r == '-' || r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r))) {
			return ""
		}
	}
	return param
}

// maxReason bounds a Reason.
const maxReason = 300

// CleanReason makes msg, a provider's explanation of a refused request, fit
// to show the caller: every occurrence of key taken out, control characters
// and runs of spaces made one space, invisible formatting characters
// dropped, cut at a character boundary. It returns "" for a message that
// speaks of credentials, which a caller has no business reading even
// masked.
func CleanReason(msg, key string) string {
	if key != "" {
		msg = strings.ReplaceAll(msg, key, "[redacted]")
	}
	if speaksOfCredentials(msg) {
		return ""
	}
	var b strings.Builder
	space := false
	for _, r := range msg {
		switch {
		case r == utf8.RuneError || unicode.IsControl(r) || unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case unicode.Is(unicode.Cf, r):
			continue // bidirectional overrides and other invisible formatting
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		if b.Len()+utf8.RuneLen(r) > maxReason {
			b.WriteString("...")
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// MentionsKey reports whether a provider's error message is about an API
// key ("Incorrect API key provided: sk-...", "API key not valid",
// "x-api-key"), however the words are spaced or joined: such an answer is
// a refused credential, whatever its status.
func MentionsKey(msg string) bool {
	return strings.Contains(letters(msg), "apikey")
}

// speaksOfCredentials reports a message about an API key or the
// Authorization header, or holding what looks like a key ("sk-...",
// "xai-..."), however the words are spaced or joined.
func speaksOfCredentials(msg string) bool {
	l, m := letters(msg), strings.ToLower(msg)
	return strings.Contains(l, "apikey") || strings.Contains(l, "authorization") || strings.Contains(l, "bearer") ||
		strings.Contains(m, "sk-") || strings.Contains(m, "xai-")
}

// letters returns the letters of s in lower case, nothing else: "API\u00a0Key"
// and "api-key" are both "apikey".
func letters(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsLetter(r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}
