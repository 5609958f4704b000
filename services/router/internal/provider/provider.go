// Package provider defines what the router asks of a language model provider
// and the request, response and error types every provider shares.
//
// The types here are the router's own domain types; the gRPC layer converts
// the protobuf messages into them so providers never depend on the wire
// contract.
package provider

import (
	"context"
	"encoding/json"
)

// Provider generates a reply from a conversation and grounding passages.
//
// Implementations return errors that wrap one of the class sentinels in
// errors.go (ErrRateLimited, ErrServerFailed, ...) so that the router can
// decide whether to fail over.
type Provider interface {
	// Name returns the configured name of the provider, for example "local".
	Name() string

	// Generate returns the whole reply at once.
	Generate(ctx context.Context, req Request) (Response, error)

	// Stream calls onDelta with each piece of text as the provider produces
	// it and returns the whole reply once the provider is done. When onDelta
	// returns an error, Stream stops and returns that error.
	Stream(ctx context.Context, req Request, onDelta func(delta string) error) (Response, error)
}

// Role is the author of a chat message.
type Role string

// Roles a Message can have.
const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
	RoleTool      Role = "tool"
)

// FinishReason says why a provider stopped producing output.
type FinishReason string

// Finish reasons a Response can carry.
const (
	FinishStop      FinishReason = "stop"
	FinishToolCalls FinishReason = "tool_calls"
	FinishLength    FinishReason = "length"
)

// Message is one turn of the conversation.
type Message struct {
	Role    Role
	Content string
	// ToolCallID names the call a RoleTool message answers.
	ToolCallID string
	// ToolCalls are the tools a RoleAssistant message asked for.
	ToolCalls []ToolCall
}

// Passage is a piece of a help article the reply must be drawn from.
type Passage struct {
	ChunkID string
	DocID   string
	Title   string
	Text    string
}

// Tool is a function the model may ask the caller to run.
type Tool struct {
	Name        string
	Description string
	// Parameters is the JSON Schema of the arguments; empty means none.
	Parameters json.RawMessage
}

// ToolCall is a request from the model to run a tool.
type ToolCall struct {
	ID   string
	Name string
	// Arguments is a JSON object.
	Arguments string
}

// Usage counts the tokens of one call.
type Usage struct {
	InputTokens  int64
	OutputTokens int64
}

// Request is what the router sends to a provider.
type Request struct {
	// Model is the provider's model name, taken from the route.
	Model    string
	Messages []Message
	// Passages are the grounding sources; the reply cites them as [n], where
	// n is the 1-based position in this slice.
	Passages []Passage
	Tools    []Tool
	// MaxOutputTokens caps the reply; zero means the provider's default.
	MaxOutputTokens int
}

// Response is a provider's reply.
type Response struct {
	Text      string
	ToolCalls []ToolCall
	// Citations are the chunk ids of the passages the reply cites, in the
	// order they are first cited.
	Citations []string
	// Confidence is between 0 and 1.
	Confidence   float64
	Model        string
	Usage        Usage
	FinishReason FinishReason
}

// LastUserMessage returns the most recent message with RoleUser.
func (r Request) LastUserMessage() (Message, bool) {
	for i := len(r.Messages) - 1; i >= 0; i-- {
		if r.Messages[i].Role == RoleUser {
			return r.Messages[i], true
		}
	}
	return Message{}, false
}

// ToolResults returns the RoleTool messages, oldest first.
func (r Request) ToolResults() []Message {
	var results []Message
	for _, m := range r.Messages {
		if m.Role == RoleTool {
			results = append(results, m)
		}
	}
	return results
}

// HasTool reports whether a tool with the given name is offered.
func (r Request) HasTool(name string) bool {
	for _, t := range r.Tools {
		if t.Name == name {
			return true
		}
	}
	return false
}
