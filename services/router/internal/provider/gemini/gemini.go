// Package gemini is a provider for Google's Gemini API
// (generativelanguage.googleapis.com): models.generateContent for whole
// replies and models.streamGenerateContent with alt=sse for streamed ones.
//
// It speaks the REST wire format with net/http and encoding/json rather
// than through an SDK, so that the router keeps byte-level control of the
// stream: it can fail over before the first byte, watch for silence and
// retry on its own terms.
//
// The grounding passages go into the system instruction as numbered
// sources, and citations are read back from the [n] markers of the reply.
// HTTP and in-stream errors are mapped to the provider error classes.
//
// Structured output is asked for with responseJsonSchema, or in the system
// instruction when function declarations go with it; see schemaInPrompt.
package gemini

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/keelhq/keel/services/router/internal/provider"
	"github.com/keelhq/keel/services/router/internal/provider/sse"
)

// DefaultBaseURL is the Gemini API root used when Config.BaseURL is empty.
const DefaultBaseURL = "https://generativelanguage.googleapis.com/v1beta"

const (
	// maxResponseBody bounds a non-streamed response body.
	maxResponseBody = 8 << 20
	// maxErrorBody bounds the body of an HTTP error response.
	maxErrorBody = 64 << 10
)

// Config configures a Provider.
type Config struct {
	// Name is the provider's name in the routes file.
	Name string
	// BaseURL is the API root including the version; empty means
	// DefaultBaseURL. Calls go to {BaseURL}/models/{model}:generateContent
	// and {BaseURL}/models/{model}:streamGenerateContent?alt=sse.
	BaseURL string
	// APIKey is sent in the x-goog-api-key header, never in the URL, and
	// never appears in an error.
	APIKey string
	// HTTPClient sends the requests; nil uses a client without its own
	// timeout, so the context's deadline governs each call.
	HTTPClient *http.Client
	// Now returns the current time, to read Retry-After dates; nil uses
	// time.Now.
	Now func() time.Time
}

// Provider calls the Gemini API. It is safe for concurrent use.
type Provider struct {
	name    string
	baseURL string
	apiKey  string
	client  *http.Client
	now     func() time.Time
}

// New returns a Provider for cfg.
func New(cfg Config) *Provider {
	p := &Provider{
		name:    cfg.Name,
		baseURL: strings.TrimSuffix(cfg.BaseURL, "/"),
		apiKey:  cfg.APIKey,
		client:  cfg.HTTPClient,
		now:     cfg.Now,
	}
	if p.baseURL == "" {
		p.baseURL = DefaultBaseURL
	}
	if p.client == nil {
		p.client = &http.Client{}
	}
	if p.now == nil {
		p.now = time.Now
	}
	return p
}

// Name returns the configured name.
func (p *Provider) Name() string { return p.name }

// Retention describes how Google may keep what it is sent, as a tenant sees
// it in the list of routes.
//
// The Gemini API has no per-request setting to ask that a call not be
// stored, so provider.RetentionNone cannot be passed on. On the paid tier
// Google does not use prompts or replies to improve its models, but logs
// them for a limited time to detect abuse; zero data retention is a
// per-project arrangement with Google, outside the request.
func (p *Provider) Retention() string {
	return "no per-request setting; paid-tier data is not used for training " +
		"but is logged for a limited time for abuse monitoring"
}

// Generate sends one models.generateContent request. Errors wrap a provider
// class sentinel, except the caller's own cancellation.
func (p *Provider) Generate(ctx context.Context, req provider.Request) (provider.Response, error) {
	resp, err := p.generate(ctx, req)
	return resp, scrub(err, p.apiKey)
}

func (p *Provider) generate(ctx context.Context, req provider.Request) (provider.Response, error) {
	httpResp, err := p.post(ctx, req, false)
	if err != nil {
		return provider.Response{}, err
	}
	defer httpResp.Body.Close()

	body, err := io.ReadAll(io.LimitReader(httpResp.Body, maxResponseBody+1))
	if err != nil {
		return provider.Response{}, provider.TransportError(ctx, err)
	}
	if len(body) > maxResponseBody {
		return provider.Response{}, &provider.Error{
			Class: provider.ErrServerFailed, Message: fmt.Sprintf("response larger than %d bytes", maxResponseBody),
		}
	}
	var gr generateResponse
	if err := json.Unmarshal(body, &gr); err != nil {
		return provider.Response{}, &provider.Error{
			Class: provider.ErrServerFailed, Message: "malformed response", Err: err,
		}
	}

	acc := newAccumulator(req)
	if err := acc.add(gr, nil); err != nil {
		return provider.Response{}, err
	}
	if !acc.sawCandidate {
		return provider.Response{}, &provider.Error{
			Class: provider.ErrServerFailed, Message: "response without candidates",
		}
	}
	return acc.response(), nil
}

// Stream sends a models.streamGenerateContent request and calls emit with
// every piece of text as it arrives and with every function call once it is
// whole. Errors wrap a provider class sentinel, except the caller's own
// cancellation and errors from emit, which are returned as they are.
func (p *Provider) Stream(
	ctx context.Context,
	req provider.Request,
	emit func(provider.Delta) error,
) (provider.Response, error) {
	httpResp, err := p.post(ctx, req, true)
	if err != nil {
		return provider.Response{}, scrub(err, p.apiKey)
	}
	defer httpResp.Body.Close()

	emitFailed := false
	resp, err := readStream(ctx, httpResp.Body, req, func(d provider.Delta) error {
		if emit == nil {
			return nil
		}
		err := emit(d)
		emitFailed = err != nil
		return err
	})
	if emitFailed {
		// The caller's own error goes back untouched: readStream stops at
		// the first one.
		return provider.Response{}, err
	}
	return resp, scrub(err, p.apiKey)
}

// readStream decodes an event stream of GenerateContentResponse chunks from
// body, calling emit as Stream does. Read errors are classified against
// ctx.
func readStream(
	ctx context.Context,
	body io.Reader,
	req provider.Request,
	emit func(provider.Delta) error,
) (provider.Response, error) {
	acc := newAccumulator(req)
	dec := sse.NewDecoder(body)
	for {
		ev, err := dec.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return provider.Response{}, provider.TransportError(ctx, err)
		}

		data := strings.TrimSpace(ev.Data)
		if data == "" || data == "[DONE]" {
			continue
		}
		var chunk generateResponse
		if err := json.Unmarshal([]byte(data), &chunk); err != nil {
			if ev.Unterminated {
				// The connection closed in the middle of an event.
				return provider.Response{}, &provider.Error{
					Class: provider.ErrUnreachable, Message: "stream ended early, inside an event",
				}
			}
			return provider.Response{}, &provider.Error{
				Class: provider.ErrServerFailed, Message: "malformed stream chunk", Err: err,
			}
		}
		if err := acc.add(chunk, emit); err != nil {
			return provider.Response{}, err
		}
	}

	if acc.finishReason == "" {
		return provider.Response{}, &provider.Error{
			Class: provider.ErrUnreachable, Message: "stream ended early",
		}
	}
	return acc.response(), nil
}

// post sends req to the generate or stream endpoint and returns the
// response when its status is 200.
func (p *Provider) post(ctx context.Context, req provider.Request, stream bool) (*http.Response, error) {
	endpoint, err := p.endpoint(req.Model, stream)
	if err != nil {
		return nil, err
	}
	body, err := toGenerateRequest(req)
	if err != nil {
		return nil, err
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return nil, &provider.Error{Class: provider.ErrRequestRejected, Message: "cannot encode request", Err: err}
	}
	httpReq, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(payload))
	if err != nil {
		return nil, &provider.Error{Class: provider.ErrRequestRejected, Message: "cannot build request", Err: err}
	}
	httpReq.Header.Set("Content-Type", "application/json")
	if stream {
		httpReq.Header.Set("Accept", "text/event-stream")
	}
	if p.apiKey != "" {
		httpReq.Header.Set("x-goog-api-key", p.apiKey)
	}

	resp, err := p.client.Do(httpReq)
	if err != nil {
		return nil, provider.TransportError(ctx, err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}

	defer resp.Body.Close()
	errBody, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return nil, statusError(resp, errBody, p.now(), p.apiKey)
}

// endpoint returns the URL of the generate or stream method of model, which
// may be given with or without its "models/" prefix.
func (p *Provider) endpoint(model string, stream bool) (string, error) {
	model = strings.TrimPrefix(model, "models/")
	if model == "" {
		return "", &provider.Error{Class: provider.ErrRequestRejected, Message: "request names no model"}
	}
	u := p.baseURL + "/models/" + url.PathEscape(model)
	if stream {
		return u + ":streamGenerateContent?alt=sse", nil
	}
	return u + ":generateContent", nil
}
