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
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/keelhq/keel/services/router/internal/provider"
)

// maxResponseBody bounds a non-streamed response body.
const maxResponseBody = 8 << 20

// Config configures a Provider.
type Config struct {
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
	name     string
	endpoint string
	apiKey   string
	client   *http.Client
	now      func() time.Time
}

// New returns a Provider for cfg.
func New(cfg Config) *Provider {
	p := &Provider{
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

// Generate sends one non-streamed completion request. Errors wrap a
// provider class sentinel, except the caller's own cancellation.
func (p *Provider) Generate(ctx context.Context, req provider.Request) (provider.Response, error) {
	httpResp, err := p.post(ctx, toChatRequest(req, false))
	if err != nil {
		return provider.Response{}, err
	}
	defer httpResp.Body.Close()

	body, err := io.ReadAll(io.LimitReader(httpResp.Body, maxResponseBody))
	if err != nil {
		return provider.Response{}, transportError(ctx, err)
	}
	var cr chatResponse
	if err := json.Unmarshal(body, &cr); err != nil {
		return provider.Response{}, &provider.Error{
			Class: provider.ErrServerFailed, Message: "malformed completion", Err: err,
		}
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
		calls = append(calls, provider.ToolCall{ID: c.ID, Name: c.Function.Name, Arguments: c.Function.Arguments})
	}
	var reason string
	if choice.FinishReason != nil {
		reason = *choice.FinishReason
	}
	return p.response(req, cr.Model, text, calls, reason, cr.Usage), nil
}

// Stream sends a streamed completion request and calls onDelta with every
// piece of content. Tool call fragments are joined by their index. Errors
// wrap a provider class sentinel, except the caller's own cancellation and
// errors from onDelta, which are returned as they are.
func (p *Provider) Stream(
	ctx context.Context,
	req provider.Request,
	onDelta func(delta string) error,
) (provider.Response, error) {
	httpResp, err := p.post(ctx, toChatRequest(req, true))
	if err != nil {
		return provider.Response{}, err
	}
	defer httpResp.Body.Close()

	var acc streamAccumulator
	dec := newSSEDecoder(httpResp.Body)
	for {
		ev, err := dec.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return provider.Response{}, transportError(ctx, err)
		}

		done, err := acc.add(ev, onDelta)
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
	return p.response(req, acc.model, acc.text.String(), acc.toolCalls(), acc.finishReason, acc.usage), nil
}

// post sends body and returns the response when its status is 200.
func (p *Provider) post(ctx context.Context, body chatRequest) (*http.Response, error) {
	payload, err := json.Marshal(body)
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
		return nil, transportError(ctx, err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}

	defer resp.Body.Close()
	errBody, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return nil, statusError(resp, errBody, p.now())
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
	// TODO: ask for a structured confidence once providers agree on JSON
	// output; until then the share of cited sentences stands in for it.
	resp := provider.Response{
		Text:         text,
		ToolCalls:    calls,
		Citations:    provider.ParseCitations(text, req.Passages),
		Confidence:   provider.CitedSentenceShare(text),
		Model:        model,
		FinishReason: finishReason(reason),
	}
	if usage != nil {
		resp.Usage = provider.Usage{InputTokens: usage.PromptTokens, OutputTokens: usage.CompletionTokens}
	} else {
		resp.Usage = provider.Usage{
			InputTokens:  provider.EstimateInputTokens(req),
			OutputTokens: provider.EstimateTokens(text),
		}
	}
	return resp
}

// streamAccumulator builds a completion from its streamed chunks.
type streamAccumulator struct {
	model        string
	text         strings.Builder
	calls        map[int]*provider.ToolCall
	finishReason string
	usage        *chatUsage
	done         bool
}

// add takes one event. It reports whether the stream is over ("[DONE]") and
// returns the error of an error event or of onDelta.
func (a *streamAccumulator) add(ev sseEvent, onDelta func(string) error) (bool, error) {
	data := strings.TrimSpace(ev.Data)
	if data == "[DONE]" {
		a.done = true
		return true, nil
	}

	var chunk chatChunk
	err := json.Unmarshal([]byte(data), &chunk)
	switch {
	case err == nil && chunk.Error != nil:
		return false, streamError(chunk.Error)
	case ev.Event == "error":
		// Some servers send the error object itself, without a wrapper.
		var bare apiError
		if json.Unmarshal([]byte(data), &bare) != nil || bare.Message == "" {
			bare.Message = data
		}
		return false, streamError(&bare)
	case err != nil:
		return false, &provider.Error{Class: provider.ErrServerFailed, Message: "malformed stream chunk", Err: err}
	}

	if chunk.Model != "" {
		a.model = chunk.Model
	}
	if chunk.Usage != nil {
		a.usage = chunk.Usage
	}
	for _, choice := range chunk.Choices {
		if choice.Index != 0 {
			continue
		}
		if choice.FinishReason != nil && *choice.FinishReason != "" {
			a.finishReason = *choice.FinishReason
		}
		a.addToolCalls(choice.Delta.ToolCalls)
		if choice.Delta.Content == nil || *choice.Delta.Content == "" {
			continue
		}
		a.text.WriteString(*choice.Delta.Content)
		if err := onDelta(*choice.Delta.Content); err != nil {
			return false, err
		}
	}
	return false, nil
}

func (a *streamAccumulator) addToolCalls(fragments []chatToolCall) {
	for i, f := range fragments {
		index := i
		if f.Index != nil {
			index = *f.Index
		}
		if a.calls == nil {
			a.calls = make(map[int]*provider.ToolCall)
		}
		call, ok := a.calls[index]
		if !ok {
			call = &provider.ToolCall{}
			a.calls[index] = call
		}
		if f.ID != "" {
			call.ID = f.ID
		}
		if f.Function.Name != "" {
			call.Name = f.Function.Name
		}
		call.Arguments += f.Function.Arguments
	}
}

func (a *streamAccumulator) toolCalls() []provider.ToolCall {
	indexes := make([]int, 0, len(a.calls))
	for i := range a.calls {
		indexes = append(indexes, i)
	}
	sort.Ints(indexes)

	var calls []provider.ToolCall
	for _, i := range indexes {
		calls = append(calls, *a.calls[i])
	}
	return calls
}
