// Package anthropic is a provider for Anthropic's Claude models through the
// Messages API (POST /v1/messages).
//
// It speaks the wire format with net/http and encoding/json rather than the
// official SDK, because the router needs byte-level control of the stream:
// failing over before the first byte, its own silence deadlines and its own
// retries (the SDK retries on its own).
//
// The grounding passages go into the system prompt as numbered sources, and
// citations are read back from the [n] markers of the reply. HTTP and
// in-stream errors are mapped to the provider error classes.
//
// Structured output is asked for through a tool, forced or offered beside
// the caller's tools, since the classic Messages API has no JSON-schema
// response format; see schemaToolName.
//
// Retention: the Messages API has no per-request setting to keep a call from
// being stored or trained on. Anthropic does not train on API content by
// default under its commercial terms, and longer or shorter retention is a
// matter of the organization's agreement (zero data retention, for example),
// not of the request. Both provider.RetentionNone and
// provider.RetentionProviderDefault therefore send the same request; see
// Provider.Retention.
package anthropic

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/keelhq/keel/services/router/internal/provider"
)

const (
	// DefaultBaseURL is the API root used when Config.BaseURL is empty.
	DefaultBaseURL = "https://api.anthropic.com"
	// APIVersion is the anthropic-version header sent with every request.
	APIVersion = "2023-06-01"
)

// maxResponseBody bounds a non-streamed response body, and the text and tool
// input a stream may accumulate.
const maxResponseBody = 8 << 20

// Config configures a Provider.
type Config struct {
	// Name is the provider's name in the routes file.
	Name string
	// BaseURL is the API root without the version path, for example
	// "https://api.anthropic.com"; the provider appends "/v1/messages".
	// Empty uses DefaultBaseURL.
	BaseURL string
	// APIKey is sent in the x-api-key header; empty sends none. It never
	// appears in an error.
	APIKey string
	// HTTPClient sends the requests; nil uses a client without its own
	// timeout, so the context's deadline governs each call.
	HTTPClient *http.Client
	// Now returns the current time, to read Retry-After dates; nil uses
	// time.Now.
	Now func() time.Time
}

// Provider calls the Anthropic Messages API. It is safe for concurrent use.
type Provider struct {
	name     string
	endpoint string
	apiKey   string
	client   *http.Client
	now      func() time.Time
}

// New returns a Provider for cfg.
func New(cfg Config) *Provider {
	base := cfg.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	p := &Provider{
		name:     cfg.Name,
		endpoint: strings.TrimSuffix(base, "/") + "/v1/messages",
		apiKey:   cfg.APIKey,
		client:   cfg.HTTPClient,
		now:      cfg.Now,
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

// Retention describes how Anthropic keeps the content of calls. The API has
// no per-request no-store or no-training flag, so the request's Retention
// setting changes nothing on the wire.
func (p *Provider) Retention() string {
	return "no training by default (commercial terms); no per-request setting"
}

// Generate sends one non-streamed request. Errors wrap a provider class
// sentinel, except the caller's own cancellation; a refusal is
// ErrContentRefused.
func (p *Provider) Generate(ctx context.Context, req provider.Request) (provider.Response, error) {
	resp, err := p.generate(ctx, req)
	return resp, redact(err, p.apiKey)
}

func (p *Provider) generate(ctx context.Context, req provider.Request) (provider.Response, error) {
	body, err := toMessagesRequest(req, false)
	if err != nil {
		return provider.Response{}, err
	}
	httpResp, err := p.post(ctx, body)
	if err != nil {
		return provider.Response{}, err
	}
	defer httpResp.Body.Close()

	raw, err := io.ReadAll(io.LimitReader(httpResp.Body, maxResponseBody+1))
	if err != nil {
		return provider.Response{}, provider.TransportError(ctx, err)
	}
	if len(raw) > maxResponseBody {
		return provider.Response{}, &provider.Error{Class: provider.ErrServerFailed, Message: "reply too large"}
	}
	var mr messageResponse
	if err := json.Unmarshal(raw, &mr); err != nil {
		return provider.Response{}, malformed("malformed message", err)
	}
	if mr.Type == "error" || mr.Error != nil {
		if mr.Error == nil {
			mr.Error = &apiError{}
		}
		mr.Error.Message = scrub(mr.Error.Message, p.apiKey)
		return provider.Response{}, eventError(mr.Error)
	}
	if mr.StopReason == "refusal" {
		return provider.Response{}, refusalError()
	}

	schemaTool := schemaToolName(req)
	var (
		text  strings.Builder
		calls []provider.ToolCall
		// answer is the schema tool's input, when the model answered
		// through it: the reply, without the words it may have written
		// before (which the router, looking for the JSON, could take for
		// it: "[2]" is JSON too).
		answer   string
		answered bool
	)
	for _, b := range mr.Content {
		switch b.Type {
		case "text":
			text.WriteString(b.Text)
		case "tool_use":
			input := strings.TrimSpace(string(b.Input))
			if input == "" || input == "null" {
				input = "{}"
			}
			if !isJSONObject(input) {
				return provider.Response{}, malformed("tool call "+b.ID+" has input that is not a JSON object", nil)
			}
			if schemaTool != "" && b.Name == schemaTool {
				reply := compactJSON(input)
				if body.schemaWrapped {
					if reply, err = unwrapValue(input); err != nil {
						return provider.Response{}, err
					}
				}
				answer, answered = answer+reply, true
				continue
			}
			calls = append(calls, provider.ToolCall{ID: b.ID, Name: b.Name, Arguments: compactJSON(input)})
		}
	}
	reply := text.String()
	if answered {
		reply = answer
	}
	var u usage
	u.merge(mr.Usage)
	return p.response(req, mr.Model, reply, calls, mr.StopReason, u), nil
}

// Stream sends a streamed request and calls emit with every piece of text
// as it arrives and with every tool call once its input is complete. Errors
// wrap a provider class sentinel, except the caller's own cancellation and
// errors from emit, which are returned as they are. An error event is
// classified like the HTTP error of the same type; a refusal is
// ErrContentRefused even when some text was already emitted.
func (p *Provider) Stream(
	ctx context.Context,
	req provider.Request,
	emit func(provider.Delta) error,
) (provider.Response, error) {
	resp, err := p.stream(ctx, req, emit)
	return resp, redact(err, p.apiKey)
}

func (p *Provider) stream(
	ctx context.Context,
	req provider.Request,
	emit func(provider.Delta) error,
) (provider.Response, error) {
	body, err := toMessagesRequest(req, true)
	if err != nil {
		return provider.Response{}, err
	}
	httpResp, err := p.post(ctx, body)
	if err != nil {
		return provider.Response{}, err
	}
	defer httpResp.Body.Close()

	acc := newStreamAccumulator(schemaToolName(req), body.MaxTokens)
	acc.schemaWrapped = body.schemaWrapped
	acc.secret = p.apiKey
	if err := decodeStream(ctx, httpResp.Body, acc, emit); err != nil {
		return provider.Response{}, err
	}
	return p.response(req, acc.model, acc.text.String(), acc.calls, acc.stopReason, acc.usage), nil
}

// post sends body and returns the response when its status is 200.
func (p *Provider) post(ctx context.Context, body messagesRequest) (*http.Response, error) {
	payload, err := json.Marshal(body)
	if err != nil {
		// Tool parameters or a schema that are not JSON: a caller's bug
		// that no other attempt can cure.
		return nil, &provider.Error{Class: provider.ErrRequestRejected, Message: "encode messages request", Err: err}
	}
	httpReq, err := http.NewRequestWithContext(ctx, http.MethodPost, p.endpoint, bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("build messages request: %w", err)
	}
	httpReq.Header.Set("Content-Type", "application/json")
	httpReq.Header.Set("anthropic-version", APIVersion)
	if body.Stream {
		httpReq.Header.Set("Accept", "text/event-stream")
	} else {
		httpReq.Header.Set("Accept", "application/json")
	}
	if p.apiKey != "" {
		httpReq.Header.Set("x-api-key", p.apiKey)
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
	errBody = []byte(scrub(string(errBody), p.apiKey))
	return nil, statusError(resp, errBody, p.now(), p.apiKey)
}

// response builds the Response of a finished reply. Usage the server did not
// report is estimated.
func (p *Provider) response(
	req provider.Request,
	model, text string,
	calls []provider.ToolCall,
	stopReason string,
	u usage,
) provider.Response {
	if model == "" {
		model = req.Model
	}
	return provider.Response{
		Text:         text,
		ToolCalls:    calls,
		Citations:    provider.ParseCitations(text, req.Passages),
		Confidence:   provider.CitedSentenceShare(text),
		Model:        model,
		Usage:        toUsage(u, req, text, calls),
		FinishReason: finishReason(stopReason, len(calls), req.Schema != nil),
	}
}

// toUsage converts the wire counts. Anthropic's input_tokens leaves out the
// tokens written to and read from the prompt cache, while the router counts
// every input token in InputTokens, so the three are added up.
func toUsage(u usage, req provider.Request, text string, calls []provider.ToolCall) provider.Usage {
	var out provider.Usage
	if u.InputTokens != nil || u.CacheCreationInputTokens != nil || u.CacheReadInputTokens != nil {
		write, read := deref(u.CacheCreationInputTokens), deref(u.CacheReadInputTokens)
		out.InputTokens = deref(u.InputTokens) + write + read
		out.CacheWriteTokens = write
		out.CachedInputTokens = read
	} else {
		out.InputTokens = provider.EstimateInputTokens(req)
		out.Estimated = true
	}
	if u.OutputTokens != nil {
		out.OutputTokens = *u.OutputTokens
	} else {
		out.OutputTokens = provider.EstimateReplyTokens(text, calls)
		out.Estimated = true
	}
	return out
}

func deref(n *int64) int64 {
	if n == nil {
		return 0
	}
	return *n
}
