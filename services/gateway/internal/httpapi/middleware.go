package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"
)

// requestInfo collects what inner handlers learn about a request for the
// request log.
type requestInfo struct {
	tenant string
}

type requestInfoKey struct{}

func requestInfoFrom(ctx context.Context) *requestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(*requestInfo)
	return info
}

// observe logs every request, turns a panic into a 500 problem, and answers
// requests that match no route with a problem instead of plain text.
func (h *handler) observe(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &requestInfo{}
		r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info))
		rec := &statusRecorder{ResponseWriter: w}

		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				h.logger.ErrorContext(r.Context(), "http handler panic",
					"route", r.Pattern, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if rec.status == 0 {
					writeProblem(rec, internalError(nil))
				}
			}
			h.logRequest(r, info, rec.status, time.Since(start))
		}()

		if _, pattern := mux.Handler(r); pattern == "" {
			mux.ServeHTTP(&unmatchedWriter{statusRecorder: rec, request: r}, r)
			return
		}
		mux.ServeHTTP(rec, r)
	})
}

func (h *handler) logRequest(r *http.Request, info *requestInfo, status int, elapsed time.Duration) {
	if status == 0 {
		status = http.StatusOK
	}
	level := slog.LevelInfo
	if status >= http.StatusInternalServerError {
		level = slog.LevelError
	}
	if !h.logger.Enabled(r.Context(), level) {
		return // before the arguments are boxed: a quiet gateway pays nothing
	}
	h.logger.Log(r.Context(), level, "http request",
		"method", r.Method,
		"route", r.Pattern,
		"status", status,
		"duration_ms", elapsed.Milliseconds(),
		"tenant", info.tenant,
	)
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(status int) {
	if s.status == 0 {
		s.status = status
	}
	s.ResponseWriter.WriteHeader(status)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// unmatchedWriter replaces the plain-text 404 and 405 answers of ServeMux
// with problem documents, the Allow header of a 405 kept; a path under /v1
// that is none of Keel's own is answered as OpenAI answers an unknown URL,
// since an OpenAI client sent it (an SDK's embeddings call, say).
type unmatchedWriter struct {
	*statusRecorder
	request  *http.Request
	replaced bool
}

func (u *unmatchedWriter) WriteHeader(status int) {
	u.replaced = true
	if status == http.StatusNotFound && openAIPath(u.request.URL.Path) {
		writeOpenAIError(u.statusRecorder, &chatError{status: status, kind: "invalid_request_error", code: "unknown_url",
			message: fmt.Sprintf("unknown request URL: %s %s; Keel serves POST /v1/chat/completions and GET /v1/models",
				u.request.Method, u.request.URL.Path)})
		return
	}
	writeProblem(u.statusRecorder, routeError(status))
}

// openAIPath reports whether path is under /v1 and not one of Keel's own
// endpoints there (emails, reviews).
func openAIPath(path string) bool {
	if path == "/v1" {
		return true
	}
	rest, ok := strings.CutPrefix(path, "/v1/")
	if !ok {
		return false
	}
	first, _, _ := strings.Cut(rest, "/")
	return first != "emails" && first != "reviews"
}

func (u *unmatchedWriter) Write(b []byte) (int, error) {
	if u.replaced {
		return len(b), nil
	}
	return u.statusRecorder.Write(b)
}
