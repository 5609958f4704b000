package openai

import (
	"cmp"
	"encoding/json"
	"strings"

	"github.com/keelhq/keel/services/router/internal/provider"
)

// The types below mirror the parts of the OpenAI chat completions wire
// format that the router uses.

type chatRequest struct {
	Model             string        `json:"model"`
	Messages          []chatMessage `json:"messages"`
	Tools             []chatTool    `json:"tools,omitempty"`
	ToolChoice        any           `json:"tool_choice,omitempty"`
	ParallelToolCalls *bool         `json:"parallel_tool_calls,omitempty"`
	MaxTokens         int           `json:"max_tokens,omitempty"`
	// MaxCompletionTokens replaces MaxTokens at OpenAI itself, whose
	// reasoning models refuse max_tokens; compatible servers know only the
	// older field.
	MaxCompletionTokens int             `json:"max_completion_tokens,omitempty"`
	Temperature         *float64        `json:"temperature,omitempty"`
	TopP                *float64        `json:"top_p,omitempty"`
	Stop                []string        `json:"stop,omitempty"`
	Seed                *int64          `json:"seed,omitempty"`
	ResponseFormat      *responseFormat `json:"response_format,omitempty"`
	// Store is sent only to OpenAI itself, as false, so that completions
	// are not kept for its dashboards and distillation.
	Store         *bool          `json:"store,omitempty"`
	Stream        bool           `json:"stream,omitempty"`
	StreamOptions *streamOptions `json:"stream_options,omitempty"`
}

type responseFormat struct {
	Type       string      `json:"type"`
	JSONSchema *jsonSchema `json:"json_schema,omitempty"`
}

type jsonSchema struct {
	Name   string          `json:"name"`
	Schema json.RawMessage `json:"schema"`
	Strict bool            `json:"strict,omitempty"`
}

type toolChoiceFunction struct {
	Type     string `json:"type"`
	Function struct {
		Name string `json:"name"`
	} `json:"function"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type chatMessage struct {
	Role string `json:"role"`
	// Content is a pointer so an assistant turn that only calls tools can
	// send null, as the API expects.
	Content    *string        `json:"content"`
	ToolCallID string         `json:"tool_call_id,omitempty"`
	ToolCalls  []chatToolCall `json:"tool_calls,omitempty"`
	// Refusal is set instead of content when the model declined under its
	// content policy.
	Refusal *string `json:"refusal,omitempty"`
	// ReasoningContent is the thinking some compatible servers stream
	// before the reply (DeepSeek, vLLM): not part of the reply, but a sign
	// that it has begun. Never sent.
	ReasoningContent string `json:"reasoning_content,omitempty"`
}

type chatTool struct {
	Type     string       `json:"type"`
	Function chatFunction `json:"function"`
}

type chatFunction struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters"`
	Strict      bool            `json:"strict,omitempty"`
}

type chatToolCall struct {
	// Index orders tool call fragments in a stream.
	Index    *int             `json:"index,omitempty"`
	ID       string           `json:"id,omitempty"`
	Type     string           `json:"type,omitempty"`
	Function chatFunctionCall `json:"function"`
}

type chatFunctionCall struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

type chatUsage struct {
	PromptTokens        int64 `json:"prompt_tokens"`
	CompletionTokens    int64 `json:"completion_tokens"`
	PromptTokensDetails *struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
}

type chatResponse struct {
	Model   string       `json:"model"`
	Choices []chatChoice `json:"choices"`
	Usage   *chatUsage   `json:"usage"`
	// Error is set by servers (proxies, some compatible servers) that
	// report a failure with status 200.
	Error *apiError `json:"error"`
}

type chatChoice struct {
	Index        int         `json:"index"`
	Message      chatMessage `json:"message"`
	Delta        chatMessage `json:"delta"`
	FinishReason *string     `json:"finish_reason"`
}

// chatChunk is one event of a streamed completion, read like a completion:
// its choices carry a delta instead of a message, and Error is set when a
// server reports a failure in the middle of the stream.
type chatChunk = chatResponse

// apiError is the body of an error response: {"error": {...}}.
type apiError struct {
	Message string `json:"message"`
	Type    string `json:"type"`
	// Param names the request field at fault, when the server says (a
	// string at OpenAI; anything at some compatible servers).
	Param json.RawMessage `json:"param"`
	// Code is a string at OpenAI and a number at some compatible servers.
	Code json.RawMessage `json:"code"`
}

// param is the field Param names, when it is a string.
func (e *apiError) param() string {
	var s string
	if e == nil || json.Unmarshal(e.Param, &s) != nil {
		return ""
	}
	return s
}

func (e *apiError) code() string {
	if e == nil || len(e.Code) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(e.Code, &s) == nil {
		return s
	}
	return strings.Trim(string(e.Code), `"`)
}

type errorBody struct {
	Error *apiError `json:"error"`
}

// toChatRequest converts req into the wire format. A grounded request gets
// one system message first that numbers the passages from 1.
func toChatRequest(req provider.Request, stream bool, flavor Flavor) chatRequest {
	out := chatRequest{
		Model:             req.Model,
		Messages:          make([]chatMessage, 0, len(req.Messages)+1),
		MaxTokens:         req.MaxOutputTokens,
		Temperature:       req.Temperature,
		TopP:              req.TopP,
		Stop:              req.Stop,
		Seed:              req.Seed,
		ParallelToolCalls: req.ParallelToolCalls,
		Stream:            stream,
	}
	if req.Grounded {
		out.Messages = append(out.Messages, chatMessage{
			Role: string(provider.RoleSystem), Content: ptr(provider.GroundingPrompt(req.Passages)),
		})
	}
	if stream {
		out.StreamOptions = &streamOptions{IncludeUsage: true}
	}
	if flavor == FlavorOpenAI {
		out.MaxTokens, out.MaxCompletionTokens = 0, req.MaxOutputTokens
		if req.Retention == provider.RetentionNone {
			out.Store = ptr(false)
		}
	}
	switch {
	case req.Schema == nil:
	case req.Schema.JSONMode:
		// Only when the caller asked for it: OpenAI's JSON mode wants the
		// word "JSON" in the messages, which a json_schema caller need not
		// have written.
		out.ResponseFormat = &responseFormat{Type: "json_object"}
	default:
		out.ResponseFormat = &responseFormat{Type: "json_schema", JSONSchema: &jsonSchema{
			Name: cmp.Or(req.Schema.Name, "response"), Schema: req.Schema.JSON, Strict: req.Schema.Strict,
		}}
	}
	switch req.ToolChoice {
	case "":
	case "auto", "none", "required":
		out.ToolChoice = req.ToolChoice
	default:
		tc := toolChoiceFunction{Type: "function"}
		tc.Function.Name = req.ToolChoice
		out.ToolChoice = tc
	}
	for _, m := range req.Messages {
		out.Messages = append(out.Messages, toChatMessage(m))
	}
	for _, t := range req.Tools {
		params := t.Parameters
		if len(params) == 0 {
			params = json.RawMessage(`{"type":"object","properties":{}}`)
		}
		out.Tools = append(out.Tools, chatTool{
			Type:     "function",
			Function: chatFunction{Name: t.Name, Description: t.Description, Parameters: params, Strict: t.Strict},
		})
	}
	return out
}

func toChatMessage(m provider.Message) chatMessage {
	cm := chatMessage{Role: string(m.Role), ToolCallID: m.ToolCallID}
	if m.Content != "" || len(m.ToolCalls) == 0 {
		cm.Content = ptr(m.Content)
	}
	for _, c := range m.ToolCalls {
		cm.ToolCalls = append(cm.ToolCalls, chatToolCall{
			ID:       c.ID,
			Type:     "function",
			Function: chatFunctionCall{Name: c.Name, Arguments: c.Arguments},
		})
	}
	return cm
}

func ptr[T any](v T) *T { return &v }

// finishReason maps the wire value; "function_call" is the legacy name of
// "tool_calls".
func finishReason(s string) provider.FinishReason {
	switch s {
	case "", "stop":
		return provider.FinishStop
	case "tool_calls", "function_call":
		return provider.FinishToolCalls
	case "content_filter":
		return provider.FinishContentFilter
	default:
		return provider.FinishReason(s)
	}
}
