package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/keelhq/keel/pkg/httpretry"
)

// responseOverhead is the part of the response body limit that does not
// depend on the vectors: envelope, usage and model name.
const responseOverhead = 64 << 10

// bytesPerValue bounds the JSON size of one vector value, with its sign,
// exponent and separator, when the response body size is limited.
const bytesPerValue = 32

// httpClient holds what both clients need to send one request: the HTTP
// client, the per-request timeout and the key to keep out of errors.
type httpClient struct {
	provider string
	client   *http.Client
	timeout  time.Duration
	apiKey   string
	now      func() time.Time
}

// errorDetails is what a provider said about a failed request.
type errorDetails struct {
	// code is the provider's error code or status name.
	code string
	// message is the provider's description.
	message string
	// quota reports that the account's quota or billing is exhausted.
	quota bool
	// retryAfter is a delay given in the body rather than in a header.
	retryAfter time.Duration
}

// post sends payload as JSON to url with header and returns the body of a
// 200 response, read up to limit bytes. decodeError reads the body of any
// other status. The request is bounded by the client's timeout; the
// caller's own cancellation is returned as the context's error.
func (c *httpClient) post(
	ctx context.Context,
	url string,
	header http.Header,
	payload any,
	limit int64,
	decodeError func(body []byte) errorDetails,
) ([]byte, error) {
	body, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("encode %s embeddings request: %w", c.provider, err)
	}
	attemptCtx := ctx
	if c.timeout > 0 {
		var cancel context.CancelFunc
		attemptCtx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(attemptCtx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build %s embeddings request: %w", c.provider, err)
	}
	req.Header = header.Clone()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")

	resp, err := c.client.Do(req)
	if err != nil {
		return nil, transportError(c.provider, ctx, err)
	}
	defer resp.Body.Close()

	if resp.StatusCode != http.StatusOK {
		errBody, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		details := decodeError(errBody)
		if details.message == "" {
			details.message = string(errBody)
		}
		retryAfter := httpretry.After(resp.Header, c.now())
		if retryAfter == 0 {
			retryAfter = details.retryAfter
		}
		return nil, &Error{
			Provider:   c.provider,
			Class:      statusClass(resp.StatusCode, details.quota),
			StatusCode: resp.StatusCode,
			Code:       cleanMessage(details.code, c.apiKey),
			Message:    cleanMessage(details.message, c.apiKey),
			RetryAfter: retryAfter,
		}
	}

	respBody, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, transportError(c.provider, ctx, err)
	}
	if int64(len(respBody)) > limit {
		return nil, malformed(c.provider, "response larger than %d bytes", limit)
	}
	return respBody, nil
}

// responseLimit bounds the body of a response holding n vectors of dims
// values.
func responseLimit(n, dims int) int64 {
	return responseOverhead + int64(n)*int64(dims)*bytesPerValue
}

// checkVector returns an error when v does not have dims values or holds a
// value that is not a finite number.
func checkVector(provider string, i int, v []float32, dims int) error {
	if len(v) != dims {
		return &Error{
			Provider: provider,
			Class:    ErrMalformedResponse,
			Message:  fmt.Sprintf("vector %d has %d dimensions, want %d", i, len(v), dims),
			Err:      ErrDimensionMismatch,
		}
	}
	for j, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return malformed(provider, "vector %d holds %v at %d", i, x, j)
		}
	}
	return nil
}

// isBlank reports whether text holds nothing but white space.
func isBlank(text string) bool {
	return strings.TrimFunc(text, unicode.IsSpace) == ""
}

// embedSplit embeds texts through send, at most maxPerRequest texts per
// call. Blank texts are not sent: providers reject empty input, and a text
// without content has no meaning to embed, so its vector is all zeros, as
// the local hashing embedder gives for a text without features.
func embedSplit(
	ctx context.Context,
	texts []string,
	dims, maxPerRequest int,
	send func(ctx context.Context, texts []string) ([][]float32, error),
) ([][]float32, error) {
	vectors := make([][]float32, len(texts))
	var sendTexts []string
	var positions []int
	for i, text := range texts {
		if isBlank(text) {
			vectors[i] = make([]float32, dims)
			continue
		}
		sendTexts = append(sendTexts, text)
		positions = append(positions, i)
	}

	for start := 0; start < len(sendTexts); start += maxPerRequest {
		end := min(start+maxPerRequest, len(sendTexts))
		got, err := send(ctx, sendTexts[start:end])
		if err != nil {
			return nil, err
		}
		for k, v := range got {
			vectors[positions[start+k]] = v
		}
	}
	return vectors, nil
}
