package httpapi

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxBodyBytes is the largest request body the gateway reads; a larger one
// is refused with 413.
const MaxBodyBytes = 256 << 10

// maxEventIDLen bounds event ids, which become part of workflow ids.
const maxEventIDLen = 200

// decodeJSON reads the body of r, at most MaxBodyBytes, as exactly one JSON
// object into dst, refusing unknown fields. An empty body leaves dst as it
// is when allowEmpty is set. It returns an *apiError for the client.
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any, allowEmpty bool) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mediaType, _, err := mime.ParseMediaType(ct)
		if err != nil || (mediaType != contentTypeJSON && !strings.HasSuffix(mediaType, "+json")) {
			return &apiError{
				status: http.StatusUnsupportedMediaType,
				kind:   "unsupported-media-type",
				title:  "Unsupported media type",
				detail: "the request body must be application/json",
			}
		}
	}
	body, err := requestBody(w, r, MaxBodyBytes)
	if err != nil {
		return err
	}
	return decodeBody(body, dst, allowEmpty)
}

// requestBody returns the body of r, read to at most limit bytes (more is
// an *http.MaxBytesError), and decompressed when its Content-Encoding is
// gzip: the limit then holds for the compressed and the decompressed bytes
// both. Any other encoding is refused with 415.
func requestBody(w http.ResponseWriter, r *http.Request, limit int64) (io.Reader, error) {
	body := http.MaxBytesReader(w, r.Body, limit)
	// Two Content-Encoding lines are a list, as "a, b" in one is: neither
	// is served.
	switch enc := strings.ToLower(strings.TrimSpace(strings.Join(r.Header.Values("Content-Encoding"), ","))); enc {
	case "", "identity":
		return body, nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			return nil, bodyError(gzipError{err})
		}
		return &inflated{zr: zr, left: limit, limit: limit}, nil
	default:
		return nil, &apiError{
			status: http.StatusUnsupportedMediaType,
			kind:   "unsupported-encoding",
			title:  "Unsupported content encoding",
			detail: "the request body must be sent as is or gzip-compressed (Content-Encoding: gzip)",
		}
	}
}

// inflated reads a gzip body up to limit decompressed bytes.
type inflated struct {
	zr          *gzip.Reader
	left, limit int64
}

func (b *inflated) Read(p []byte) (int, error) {
	if b.left == 0 {
		// At the limit: one byte more is too much.
		var one [1]byte
		n, err := b.zr.Read(one[:])
		if n > 0 {
			return 0, &http.MaxBytesError{Limit: b.limit}
		}
		return 0, asGzipError(err)
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.zr.Read(p)
	b.left -= int64(n)
	return n, asGzipError(err)
}

// asGzipError marks an error of the decompressor as the body's fault; the
// end of the body and its size limit are left as they are.
func asGzipError(err error) error {
	var tooLarge *http.MaxBytesError
	if err == nil || err == io.EOF || errors.As(err, &tooLarge) {
		return err
	}
	return gzipError{err}
}

// gzipError is a body that is not valid gzip.
type gzipError struct{ err error }

func (e gzipError) Error() string { return "gzip: " + e.err.Error() }
func (e gzipError) Unwrap() error { return e.err }

// decodeBody decodes one JSON object from body into dst; see decodeJSON.
func decodeBody(body io.Reader, dst any, allowEmpty bool) error {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()

	if err := dec.Decode(dst); err != nil {
		if errors.Is(err, io.EOF) && allowEmpty {
			return nil
		}
		return bodyError(err)
	}

	// Anything after the object, even a second object, is refused.
	if err := dec.Decode(&json.RawMessage{}); !errors.Is(err, io.EOF) {
		if unreadable(err) {
			return bodyError(err)
		}
		return badRequest("the request body must hold a single JSON object")
	}
	return nil
}

// unreadable reports whether err, met after a body's JSON object, is the
// body's own fault (too large, or gzip that does not end well) rather than
// more JSON after the object.
func unreadable(err error) bool {
	var tooLarge *http.MaxBytesError
	return errors.As(err, &tooLarge) || errors.As(err, new(gzipError))
}

// bodyError describes a JSON decoding error for the client.
func bodyError(err error) *apiError {
	var (
		tooLarge  *http.MaxBytesError
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooLarge):
		return &apiError{
			status: http.StatusRequestEntityTooLarge,
			kind:   "body-too-large",
			title:  "Request body too large",
			detail: fmt.Sprintf("the request body exceeds %d bytes", tooLarge.Limit),
		}
	case errors.As(err, new(gzipError)):
		return badRequest("the request body is not valid gzip")
	case errors.Is(err, io.EOF):
		return badRequest("the request body is empty; a JSON object is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("the request body ends inside a JSON value")
	case errors.As(err, &syntaxErr):
		return badRequest("the request body is not valid JSON (at byte %d)", syntaxErr.Offset)
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return badRequest("the request body must be a JSON object")
		}
		e := badRequest("field %q must be a JSON %s", typeErr.Field, jsonKind(typeErr.Type.Kind().String()))
		if k := typeErr.Type.Kind(); (k == reflect.Float64 || k == reflect.Float32) && strings.HasPrefix(typeErr.Value, "number") {
			e = badRequest("field %q is a number out of range", typeErr.Field)
		}
		if lo, hi, ok := integerRange(typeErr.Type); ok && strings.HasPrefix(typeErr.Value, "number") {
			// A number, but with a fraction or an exponent (which encoding/json
			// refuses for integers, 1.0 too) or too large: say what fits.
			e = badRequest("field %q must be an integer, written without a fraction or exponent, from %d to %d", typeErr.Field, lo, hi)
		}
		e.param = typeErr.Field
		return e
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for an unknown field.
		field := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return badRequest("unknown field %s", field)
	default:
		return badRequest("the request body is not a valid JSON object")
	}
}

// integerRange is the range of an integer type, and whether t is one.
func integerRange(t reflect.Type) (lo, hi int64, ok bool) {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		bits := t.Bits()
		return -1 << (bits - 1), 1<<(bits-1) - 1, true
	case reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return 0, 1<<t.Bits() - 1, true
	}
	return 0, 0, false
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "struct", "map":
		return "object"
	case "slice", "array":
		return "array"
	default:
		return "number"
	}
}

// validEventID reports what is wrong with an event id, or "" when it is
// usable: it becomes the last part of a workflow id and a URL path segment.
func validEventID(id string) string {
	switch {
	case id == "":
		return "event_id must not be empty"
	case len(id) > maxEventIDLen:
		return fmt.Sprintf("event_id must be at most %d bytes", maxEventIDLen)
	case !utf8.ValidString(id):
		return "event_id must be valid UTF-8"
	case strings.ContainsRune(id, '/'):
		return "event_id must not contain '/'"
	case strings.ContainsFunc(id, unicode.IsControl):
		return "event_id must not contain control characters"
	}
	return ""
}
