package openai

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/keelhq/keel/services/router/internal/provider"
)

// The types below mirror the parts of the OpenAI chat completions wire
// format that the router uses.

type chatRequest struct {
	Model         string         `json:"model"`
	Messages      []chatMessage  `json:"messages"`
	Tools         []chatTool     `json:"tools,omitempty"`
	MaxTokens     int            `json:"max_tokens,omitempty"`
	Stream        bool           `json:"stream,omitempty"`
	StreamOptions *streamOptions `json:"stream_options,omitempty"`
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
}

type chatTool struct {
	Type     string       `json:"type"`
	Function chatFunction `json:"function"`
}

type chatFunction struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters"`
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
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
}

type chatResponse struct {
	Model   string       `json:"model"`
	Choices []chatChoice `json:"choices"`
	Usage   *chatUsage   `json:"usage"`
}

type chatChoice struct {
	Index        int         `json:"index"`
	Message      chatMessage `json:"message"`
	Delta        chatMessage `json:"delta"`
	FinishReason *string     `json:"finish_reason"`
}

// chatChunk is one event of a streamed completion. Error is set when a
// server reports a failure in the middle of the stream.
type chatChunk struct {
	Model   string       `json:"model"`
	Choices []chatChoice `json:"choices"`
	Usage   *chatUsage   `json:"usage"`
	Error   *apiError    `json:"error"`
}

// apiError is the body of an error response: {"error": {...}}.
type apiError struct {
	Message string `json:"message"`
	Type    string `json:"type"`
	// Code is a string at OpenAI and a number at some compatible servers.
	Code json.RawMessage `json:"code"`
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

// groundingPrompt tells the model to answer from the numbered sources only.
const groundingPrompt = "You draft replies for a customer support team. " +
	"Answer only from the numbered sources below and cite each source you use as [n]. " +
	"If the sources do not answer the question, say that you could not find it " +
	"in the help articles and that a colleague will follow up. " +
	"Keep placeholders such as [EMAIL_1] or [PERSON_1] exactly as written; " +
	"never guess what they stand for."

// toChatRequest converts req into the wire format. The passages become one
// system message that numbers them from 1.
func toChatRequest(req provider.Request, stream bool) chatRequest {
	var sys strings.Builder
	sys.WriteString(groundingPrompt)
	sys.WriteString("\n\nSources:")
	if len(req.Passages) == 0 {
		sys.WriteString("\n(none)")
	}
	for i, p := range req.Passages {
		fmt.Fprintf(&sys, "\n\n[%d]", i+1)
		if p.Title != "" {
			sys.WriteString(" " + p.Title)
		}
		sys.WriteString("\n" + p.Text)
	}

	out := chatRequest{
		Model:     req.Model,
		Messages:  []chatMessage{{Role: string(provider.RoleSystem), Content: ptr(sys.String())}},
		MaxTokens: req.MaxOutputTokens,
		Stream:    stream,
	}
	if stream {
		out.StreamOptions = &streamOptions{IncludeUsage: true}
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
			Function: chatFunction{Name: t.Name, Description: t.Description, Parameters: params},
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

func ptr(s string) *string { return &s }

// finishReason maps the wire value; "function_call" is the legacy name of
// "tool_calls".
func finishReason(s string) provider.FinishReason {
	switch s {
	case "", "stop":
		return provider.FinishStop
	case "tool_calls", "function_call":
		return provider.FinishToolCalls
	default:
		return provider.FinishReason(s)
	}
}
