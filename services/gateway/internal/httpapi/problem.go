package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"go.temporal.io/api/serviceerror"
	"google.golang.org/grpc/codes"
)

// problemTypePrefix starts the type URI of every problem the gateway returns.
// The URIs name problem kinds; they are not meant to be dereferenced.
const problemTypePrefix = "urn:keel:problem:"

// Content types the gateway writes.
const (
	contentTypeJSON    = "application/json"
	contentTypeProblem = "application/problem+json"
)

// problemBody is the RFC 9457 problem document written for every error.
type problemBody struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// apiError is an error that knows how it is shown to the client. Handlers
// return it; serveAPI writes it as problem JSON. cause is logged, never sent.
type apiError struct {
	status int
	kind   string
	title  string
	detail string
	// challenge, when set, is sent as the WWW-Authenticate header.
	challenge string
	cause     error
	// param names the request field at fault, when one is: OpenAI's
	// error format carries it.
	param string
}

func (e *apiError) Error() string {
	msg := fmt.Sprintf("%d %s: %s", e.status, e.kind, e.detail)
	if e.cause != nil {
		msg += ": " + e.cause.Error()
	}
	return msg
}

func (e *apiError) Unwrap() error { return e.cause }

func (e *apiError) body() problemBody {
	return problemBody{
		Type:   problemTypePrefix + e.kind,
		Title:  e.title,
		Status: e.status,
		Detail: e.detail,
	}
}

func badRequest(format string, args ...any) *apiError {
	return &apiError{
		status: http.StatusBadRequest,
		kind:   "invalid-request",
		title:  "Invalid request",
		detail: fmt.Sprintf(format, args...),
	}
}

func notFound(format string, args ...any) *apiError {
	return &apiError{
		status: http.StatusNotFound,
		kind:   "not-found",
		title:  "Not found",
		detail: fmt.Sprintf(format, args...),
	}
}

func internalError(cause error) *apiError {
	return &apiError{
		status: http.StatusInternalServerError,
		kind:   "internal",
		title:  "Internal error",
		detail: "the request could not be completed",
		cause:  cause,
	}
}

// routeError is the problem for a request no route takes: 404 for an unknown
// path, 405 for a known path with another method.
func routeError(status int) *apiError {
	if status == http.StatusMethodNotAllowed {
		return &apiError{
			status: status,
			kind:   "method-not-allowed",
			title:  "Method not allowed",
			detail: "the resource does not accept this method",
		}
	}
	return notFound("no such resource")
}

// upstreamError maps an error of the ingest service or of Temporal to the
// problem the client sees. Client errors keep the upstream message, which
// names what was wrong with the request; server errors hide it.
func upstreamError(err error) *apiError {
	var queryFailed *serviceerror.QueryFailed
	if errors.As(err, &queryFailed) {
		// QueryFailed travels as InvalidArgument, yet it is the workflow that
		// failed to answer, not the client that asked badly.
		return internalError(err)
	}

	st := serviceerror.ToStatus(err)
	e := &apiError{detail: st.Message(), cause: err}
	switch st.Code() {
	case codes.InvalidArgument, codes.OutOfRange:
		e.status, e.kind, e.title = http.StatusBadRequest, "invalid-request", "Invalid request"
	case codes.Unauthenticated:
		e.status, e.kind, e.title = http.StatusUnauthorized, "unauthenticated", "Unauthenticated"
	case codes.PermissionDenied:
		e.status, e.kind, e.title = http.StatusForbidden, "forbidden", "Forbidden"
	case codes.NotFound:
		e.status, e.kind, e.title = http.StatusNotFound, "not-found", "Not found"
	case codes.AlreadyExists:
		e.status, e.kind, e.title = http.StatusConflict, "conflict", "Conflict"
	case codes.ResourceExhausted:
		e.status, e.kind, e.title = http.StatusTooManyRequests, "rate-limited", "Too many requests"
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
		e.status, e.kind, e.title = http.StatusServiceUnavailable, "unavailable", "Service unavailable"
		e.detail = "a backend service did not answer in time; retry later"
	default:
		return internalError(err)
	}
	return e
}

// isNotFound reports whether err is Temporal's NotFound: no such workflow,
// or a workflow that is no longer running when it is signalled.
func isNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}

// writeProblem writes e as problem JSON.
func writeProblem(w http.ResponseWriter, e *apiError) {
	if e.challenge != "" {
		w.Header().Set("WWW-Authenticate", e.challenge)
	}
	writeDocument(w, e.status, contentTypeProblem, e.body())
}

// writeJSON writes v as a JSON response with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	writeDocument(w, status, contentTypeJSON, v)
}

func writeDocument(w http.ResponseWriter, status int, contentType string, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Every value written here is a plain struct or map; a failure is a
		// programming error, shown as a bare 500.
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	writeRaw(w, status, contentType, body)
}

func writeRaw(w http.ResponseWriter, status int, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// asAPIError turns any handler error into the problem the client sees.
// Errors that are not apiErrors become a 500 without detail, except a
// deadline of the request itself, which is a 503.
func asAPIError(err error) *apiError {
	var e *apiError
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return upstreamError(err)
	}
	return internalError(err)
}
