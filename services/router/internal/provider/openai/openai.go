// Package openai is a provider for any server that speaks the OpenAI chat
// completions API (/v1/chat/completions): OpenAI itself, vLLM, Ollama,
// llama.cpp and others.
//
// The grounding passages go into a system message as numbered sources, and
// citations are read back from the [n] markers of the reply. HTTP and
// in-stream errors are mapped to the provider error classes.
package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/keelhq/keel/services/router/internal/provider"
	"github.com/keelhq/keel/services/router/internal/provider/sse"
)

// maxResponseBody bounds a non-streamed response body.
const maxResponseBody = 8 << 20

// Flavor says which server a Provider talks to, for the few settings that
// only one of them accepts.
type Flavor string

// Flavors of OpenAI-compatible servers.
const (
	// FlavorCompatible is any server that speaks the API (vLLM, Ollama,
	// llama.cpp, a mock); only the common fields are sent.
	FlavorCompatible Flavor = ""
	// FlavorOpenAI is OpenAI itself: requests carry store=false.
	FlavorOpenAI Flavor = "openai"
	// FlavorXAI is xAI's Grok API.
	FlavorXAI Flavor = "xai"
)

// Config configures a Provider.
type Config struct {
	// Flavor selects server-specific settings; the zero value sends only
	// the fields every compatible server accepts.
	Flavor Flavor
	// Name is the provider's name in the routes file.
	Name string
	// BaseURL is the API root including the version, for example
	// "http://127.0.0.1:11434/v1".
	BaseURL string
	// APIKey is sent as a bearer token; empty sends none.
	APIKey string
	// HTTPClient sends the requests; nil uses a client without its own
	// timeout, so the context's deadline governs each call.
	HTTPClient *http.Client
	// Now returns the current time, to read Retry-After dates; nil uses
	// time.Now.
	Now func() time.Time
}

// Provider calls an OpenAI-compatible server. It is safe for concurrent use.
type Provider struct {
	flavor   Flavor
	name     string
	endpoint string
	apiKey   string
	client   *http.Client
	now      func() time.Time
}

// New returns a Provider for cfg.
func New(cfg Config) *Provider {
	p := &Provider{
		flavor:   cfg.Flavor,
		name:     cfg.Name,
		endpoint: strings.TrimSuffix(cfg.BaseURL, "/") + "/chat/completions",
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

// Retention describes how the server may keep what it is sent, as a tenant
// sees it in the list of routes.
func (p *Provider) Retention() string {
	switch p.flavor {
	case FlavorOpenAI:
		return "store=false on every request; API data is not used for training by default"
	case FlavorXAI:
		return "no per-request setting; API data is not used for training by default"
	default:
		return "self-hosted or compatible server: retention is the server operator's"
	}
}

// Generate sends one non-streamed completion request. Errors wrap a
// provider class sentinel, except the caller's own cancellation.
func (p *Provider) Generate(ctx context.Context, req provider.Request) (provider.Response, error) {
	httpResp, err := p.post(ctx, toChatRequest(req, false, p.flavor))
	if err != nil {
		return provider.Response{}, err
	}
	defer httpResp.Body.Close()

	body, err := io.ReadAll(io.LimitReader(httpResp.Body, maxResponseBody))
	if err != nil {
		return provider.Response{}, provider.TransportError(ctx, err)
	}
	// An error object in a 200 may echo the key, as error bodies do.
	return p.completion(req, p.scrub(body))
}

// completion reads a completion that is not streamed.
func (p *Provider) completion(req provider.Request, body []byte) (provider.Response, error) {
	var cr chatResponse
	if err := decodeReply(body, &cr); err != nil {
		return provider.Response{}, &provider.Error{
			Class: provider.ErrServerFailed, Message: "malformed completion", Err: err,
		}
	}
	if cr.Error != nil && len(cr.Choices) == 0 {
		// Classified as an error event of a stream is: the server answered
		// 200 and then said what went wrong.
		return provider.Response{}, streamError(cr.Error, p.apiKey)
	}
	if len(cr.Choices) == 0 {
		return provider.Response{}, &provider.Error{
			Class: provider.ErrServerFailed, Message: "completion without choices",
		}
	}

	choice := cr.Choices[0]
	var text string
	if choice.Message.Content != nil {
		text = *choice.Message.Content
	}
	var calls []provider.ToolCall
	for _, c := range choice.Message.ToolCalls {
		call := provider.ToolCall{ID: c.ID, Name: c.Function.Name, Arguments: c.Function.Arguments}
		if err := completeArguments(&call); err != nil {
			return provider.Response{}, err
		}
		calls = append(calls, call)
	}
	var reason string
	if choice.FinishReason != nil {
		reason = *choice.FinishReason
	}
	if err := refusal(choice.Message.Refusal, reason); err != nil {
		return provider.Response{}, err
	}
	return p.response(req, cr.Model, text, calls, reason, cr.Usage), nil
}

// refusal returns ErrContentRefused when the model declined or its output
// was filtered under the provider's content policy.
func refusal(msg *string, finish string) error {
	if msg != nil && *msg != "" {
		return &provider.Error{Class: provider.ErrContentRefused, Message: shorten(*msg)}
	}
	if finish == "content_filter" {
		return &provider.Error{Class: provider.ErrContentRefused, Message: "output withheld by the content filter"}
	}
	return nil
}

// maxRefusal bounds the refusal text kept from a stream.
const maxRefusal = 4 << 10

// completeArguments checks that a tool call's joined arguments are one JSON
// value, reading an empty string as the empty object.
func completeArguments(c *provider.ToolCall) error {
	if c.Name == "" {
		// Nothing could run it: the server's reply is broken.
		return &provider.Error{Class: provider.ErrServerFailed, Message: "tool call without a name"}
	}
	if c.ID == "" {
		// The caller answers a call by its id; some servers send none.
		c.ID = provider.NewCallID()
	}
	if strings.TrimSpace(c.Arguments) == "" {
		c.Arguments = "{}"
		return nil
	}
	if !json.Valid([]byte(c.Arguments)) {
		return &provider.Error{
			Class: provider.ErrServerFailed, Message: fmt.Sprintf("tool call %q: arguments are not JSON", c.Name),
		}
	}
	return nil
}

// Stream sends a streamed completion request and calls emit with every
// piece of content. Tool call fragments are joined by their index and each
// call is emitted whole when the choice finishes. Errors wrap a provider
// class sentinel, except the caller's own cancellation and errors from
// emit, which are returned as they are.
func (p *Provider) Stream(
	ctx context.Context,
	req provider.Request,
	emit func(provider.Delta) error,
) (provider.Response, error) {
	httpResp, err := p.post(ctx, toChatRequest(req, true, p.flavor))
	if err != nil {
		return provider.Response{}, err
	}
	defer httpResp.Body.Close()

	if mt, _, _ := mime.ParseMediaType(httpResp.Header.Get("Content-Type")); mt == "application/json" {
		return p.unstreamed(ctx, req, httpResp.Body, emit)
	}

	acc := streamAccumulator{maxTokens: req.MaxOutputTokens, key: p.apiKey}
	dec := sse.NewDecoder(httpResp.Body)
	for {
		ev, err := dec.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return provider.Response{}, provider.TransportError(ctx, err)
		}
		if p.apiKey != "" && strings.Contains(ev.Data, p.apiKey) {
			ev.Data = string(p.scrub([]byte(ev.Data)))
		}

		done, err := acc.add(ev, emit)
		if err != nil {
			return provider.Response{}, err
		}
		if done {
			break
		}
	}

	if !acc.done && acc.finishReason == "" {
		return provider.Response{}, &provider.Error{
			Class: provider.ErrUnreachable, Message: "stream ended before the completion finished",
		}
	}
	if err := refusal(&acc.refusal, acc.finishReason); err != nil {
		return provider.Response{}, err
	}
	// Servers that finish without a finish_reason chunk still end with
	// [DONE]; their tool calls are complete then.
	if err := acc.flushToolCalls(emit); err != nil {
		return provider.Response{}, err
	}
	return p.response(req, acc.model, acc.text.String(), acc.emitted, acc.finishReason, acc.usage), nil
}

// unstreamed reads the one JSON document a server sent where a stream was
// asked for: a whole completion (servers that do not stream), passed on as
// one piece, or an error object with status 200 (some proxies), classified
// as an error event of a stream would be.
func (p *Provider) unstreamed(
	ctx context.Context,
	req provider.Request,
	r io.Reader,
	emit func(provider.Delta) error,
) (provider.Response, error) {
	body, err := io.ReadAll(io.LimitReader(r, maxResponseBody))
	if err != nil {
		return provider.Response{}, provider.TransportError(ctx, err)
	}
	resp, err := p.completion(req, p.scrub(body))
	if err != nil {
		return provider.Response{}, err
	}
	if resp.Text != "" {
		if err := emit(provider.Delta{Text: resp.Text, Model: resp.Model}); err != nil {
			return provider.Response{}, err
		}
	}
	for i := range resp.ToolCalls {
		if err := emit(provider.Delta{ToolCall: &resp.ToolCalls[i], Model: resp.Model}); err != nil {
			return provider.Response{}, err
		}
	}
	return resp, nil
}

// Check asks the server for its model list (GET /models), which costs no
// tokens; any answer but 200 is an error of its class.
func (p *Provider) Check(ctx context.Context, _ string) error {
	url := strings.TrimSuffix(p.endpoint, "/chat/completions") + "/models"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if p.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+p.apiKey)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return provider.TransportError(ctx, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return statusError(resp, p.scrub(body), p.now(), p.apiKey)
	}
	return nil
}

// post sends body and returns the response when its status is 200.
func (p *Provider) post(ctx context.Context, body chatRequest) (*http.Response, error) {
	payload, err := encodeRequest(&body)
	if err != nil {
		return nil, fmt.Errorf("encode completion request: %w", err)
	}
	httpReq, err := http.NewRequestWithContext(ctx, http.MethodPost, p.endpoint, bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("build completion request: %w", err)
	}
	httpReq.Header.Set("Content-Type", "application/json")
	if body.Stream {
		httpReq.Header.Set("Accept", "text/event-stream")
	}
	if p.apiKey != "" {
		httpReq.Header.Set("Authorization", "Bearer "+p.apiKey)
	}

	resp, err := p.client.Do(httpReq)
	if err != nil {
		return nil, provider.TransportError(ctx, err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}

	defer resp.Body.Close()
	errBody, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return nil, statusError(resp, p.scrub(errBody), p.now(), p.apiKey)
}

// scrub removes the API key from what a server sent back: some echo the
// Authorization header in their error messages, which end up in logs.
func (p *Provider) scrub(b []byte) []byte {
	if p.apiKey == "" || !bytes.Contains(b, []byte(p.apiKey)) {
		return b
	}
	return bytes.ReplaceAll(b, []byte(p.apiKey), []byte("[redacted]"))
}

func (p *Provider) response(
	req provider.Request,
	model, text string,
	calls []provider.ToolCall,
	reason string,
	usage *chatUsage,
) provider.Response {
	if model == "" {
		model = req.Model
	}
	if len(calls) > 0 && (reason == "" || reason == "stop") {
		// The reply calls tools: agent loops look for tool_calls, which
		// some servers do not say (or say stop).
		reason = "tool_calls"
	}
	resp := provider.Response{
		Text:         text,
		ToolCalls:    calls,
		Model:        model,
		FinishReason: finishReason(reason),
	}
	if req.Grounded {
		// TODO: ask for a structured confidence once providers agree on
		// JSON output; until then the share of cited sentences stands in.
		resp.Citations = provider.ParseCitations(text, req.Passages)
		resp.Confidence = provider.CitedSentenceShare(text)
	}
	switch {
	case usage != nil:
		resp.Usage = provider.Usage{InputTokens: usage.PromptTokens, OutputTokens: usage.CompletionTokens}
		if d := usage.PromptTokensDetails; d != nil {
			resp.Usage.CachedInputTokens = d.CachedTokens
		}
	default:
		resp.Usage = provider.Usage{
			InputTokens:  provider.EstimateInputTokens(req),
			OutputTokens: provider.EstimateReplyTokens(text, calls),
			Estimated:    true,
		}
	}
	return resp
}

// streamAccumulator builds a completion from its streamed chunks.
type streamAccumulator struct {
	model   string
	text    strings.Builder
	refusal string
	calls   map[int]*partialCall
	emitted []provider.ToolCall
	// size counts the text and argument bytes taken so far, bounded by
	// maxResponseBody like a whole response.
	size         int
	finishReason string
	usage        *chatUsage
	done         bool
	// maxTokens is the cap the request asked for; held estimates the tool
	// call arguments, which are held back until the choice finishes and so
	// are not counted by the router as they arrive.
	maxTokens int
	held      provider.ReplyEstimate
	// key is the API key, kept out of the reasons of error events.
	key string
	// begun is set once the emit of a held-back tool call said the reply
	// had begun.
	begun bool
}

// add takes one event. It reports whether the stream is over ("[DONE]") and
// returns the error of an error event or of emit.
func (a *streamAccumulator) add(ev sse.Event, emit func(provider.Delta) error) (bool, error) {
	data := strings.TrimSpace(ev.Data)
	if data == "[DONE]" {
		a.done = true
		return true, nil
	}

	var chunk chatChunk
	err := decodeReply([]byte(data), &chunk)
	switch {
	case err == nil && chunk.Error != nil:
		return false, streamError(chunk.Error, a.key)
	case ev.Event == "error":
		// Some servers send the error object itself, without a wrapper.
		var bare apiError
		if json.Unmarshal([]byte(data), &bare) != nil || bare.Message == "" {
			bare.Message = data
		}
		return false, streamError(&bare, a.key)
	case err != nil:
		return false, &provider.Error{Class: provider.ErrServerFailed, Message: "malformed stream chunk", Err: err}
	}

	if chunk.Model != "" {
		a.model = chunk.Model
	}
	if chunk.Usage != nil {
		a.usage = chunk.Usage
		if a.finishReason != "" && len(chunk.Choices) == 0 {
			// The usage chunk Keel asks for (include_usage) comes after the
			// finish: the completion is whole even if [DONE] never does.
			return true, nil
		}
	}
	for _, choice := range chunk.Choices {
		if choice.Index != 0 {
			continue
		}
		if err := a.addToolCalls(choice.Delta.ToolCalls); err != nil {
			return false, err
		}
		if (len(choice.Delta.ToolCalls) > 0 || choice.Delta.ReasoningContent != "") && !a.begun {
			// The calls are emitted once whole, the reasoning never; the
			// reply has begun.
			a.begun = true
			if err := emit(provider.Delta{Model: a.model}); err != nil {
				return false, err
			}
		}
		if r := choice.Delta.Refusal; r != nil {
			if !a.grow(len(*r)) {
				return false, errStreamTooLong()
			}
			// Only its start is ever shown: a refusal streamed without end
			// is not kept whole (it was joined at quadratic cost).
			if len(a.refusal) < maxRefusal {
				a.refusal += *r
			}
		}
		if c := choice.Delta.Content; c != nil && *c != "" {
			if !a.grow(len(*c)) {
				return false, errStreamTooLong()
			}
			a.text.WriteString(*c)
			if err := emit(provider.Delta{Text: *c, Model: a.model}); err != nil {
				return false, err
			}
		}
		if choice.FinishReason != nil && *choice.FinishReason != "" {
			a.finishReason = *choice.FinishReason
			if err := a.flushToolCalls(emit); err != nil {
				return false, err
			}
		}
	}
	return false, nil
}

// flushToolCalls emits the assembled tool calls in index order, once each.
func (a *streamAccumulator) flushToolCalls(emit func(provider.Delta) error) error {
	for _, c := range a.toolCalls() {
		if err := completeArguments(&c); err != nil {
			return err
		}
		a.emitted = append(a.emitted, c)
		if err := emit(provider.Delta{ToolCall: &c, Model: a.model}); err != nil {
			return err
		}
	}
	clear(a.calls)
	return nil
}

// partialCall is a tool call whose argument fragments are still coming.
type partialCall struct {
	id, name string
	args     strings.Builder
}

// errStreamTooLong ends a stream whose text and tool arguments outgrow what
// a whole response may hold.
func errStreamTooLong() error {
	return &provider.Error{Class: provider.ErrServerFailed, Message: "stream longer than a response may be"}
}

// grow counts n more bytes of the reply and reports whether it still fits.
func (a *streamAccumulator) grow(n int) bool {
	a.size += n
	return a.size <= maxResponseBody
}

func (a *streamAccumulator) addToolCalls(fragments []chatToolCall) error {
	for i, f := range fragments {
		index := i
		if f.Index != nil {
			index = *f.Index
		}
		if a.calls == nil {
			a.calls = make(map[int]*partialCall)
		}
		call, ok := a.calls[index]
		if !ok {
			call = &partialCall{}
			a.calls[index] = call
		}
		if f.ID != "" {
			call.id = f.ID
		}
		if f.Function.Name != "" {
			call.name = f.Function.Name
		}
		if !a.grow(len(f.Function.Arguments)) {
			return errStreamTooLong()
		}
		a.held.Add(f.Function.Arguments)
		if provider.Overran(a.maxTokens, a.held.Tokens()) {
			return &provider.Error{Class: provider.ErrServerFailed, Err: provider.ErrOverran}
		}
		call.args.WriteString(f.Function.Arguments)
	}
	return nil
}

func (a *streamAccumulator) toolCalls() []provider.ToolCall {
	indexes := make([]int, 0, len(a.calls))
	for i := range a.calls {
		indexes = append(indexes, i)
	}
	sort.Ints(indexes)

	var calls []provider.ToolCall
	for _, i := range indexes {
		c := a.calls[i]
		calls = append(calls, provider.ToolCall{ID: c.id, Name: c.name, Arguments: c.args.String()})
	}
	return calls
}
