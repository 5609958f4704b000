// Package httpretry reads how long an HTTP server asks its client to wait
// before trying again, as the model and embedding providers say it.
package httpretry

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxSeconds bounds a delay given in seconds; a larger one is taken for
// garbage rather than obeyed.
const maxSeconds = 1e6

// After returns the delay h asks for: the retry-after-ms header some
// OpenAI-compatible servers send, else Retry-After as delay seconds or an
// HTTP date, measured from now. It returns zero when neither holds a
// usable delay (absent, negative, unparsable, out of range or past).
func After(h http.Header, now time.Time) time.Duration {
	if ms, err := strconv.ParseFloat(strings.TrimSpace(h.Get("Retry-After-Ms")), 64); err == nil && ms > 0 && ms < maxSeconds*1000 {
		return time.Duration(ms * float64(time.Millisecond))
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 || secs > maxSeconds {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if at, err := http.ParseTime(v); err == nil && at.After(now) {
		return at.Sub(now)
	}
	return 0
}
