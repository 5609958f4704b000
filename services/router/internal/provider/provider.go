// Package provider defines what the router asks of a language model provider
// and the request, response and error types every provider shares.
//
// The types here are the router's own domain types; the gRPC layer converts
// the protobuf messages into them so providers never depend on the wire
// contract.
package provider

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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

	// Stream calls emit with each piece of text as the provider produces it
	// and with each tool call once its arguments are complete, and returns
	// the whole reply once the provider is done. When emit returns an error,
	// Stream stops and returns that error as it is.
	//
	// An error that arrives inside the stream (an error event in an HTTP 200
	// response) is returned like an HTTP error of the same class, so that the
	// router can still fail over when nothing was emitted yet.
	Stream(ctx context.Context, req Request, emit func(Delta) error) (Response, error)
}

// HealthChecker is implemented by providers with a cheap call that tells
// whether they serve a model, for the router's active health checks. It
// costs no tokens.
type HealthChecker interface {
	Check(ctx context.Context, model string) error
}

// Delta is one piece of a streamed reply: text, or one whole tool call. A
// Delta with neither says the reply has begun while its pieces are held
// back (the fragments of a tool call, emitted once whole): the router stops
// waiting for a first token.
type Delta struct {
	Text string
	// ToolCall is set, and Text empty, when the model finished asking for a
	// tool; its Arguments are the joined fragments, a complete JSON object.
	ToolCall *ToolCall
	// Model is the model the provider says answers, once its stream has
	// said (as Response.Model); empty before.
	Model string
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
	// FinishContentFilter means the provider withheld or cut the output
	// under its content policy.
	FinishContentFilter FinishReason = "content_filter"
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
	// Strict asks a provider with a strict mode (OpenAI's function strict)
	// to hold the arguments to Parameters.
	Strict bool
}

// ToolCall is a request from the model to run a tool.
type ToolCall struct {
	ID   string
	Name string
	// Arguments is a JSON object.
	Arguments string
	// Signature is opaque state the provider that made the call attached
	// to it (Gemini's thought signature), to be handed back with the call
	// when the conversation goes on; empty when there is none. Only the
	// provider of its kind reads it: the others never send it upstream.
	Signature string
}

// MaxSignature bounds a ToolCall's Signature.
const MaxSignature = 64 << 10

// ValidSignature reports whether s is a signature the router's API takes
// back: at most MaxSignature bytes of printable ASCII without spaces. A
// provider keeps no other, so that every call it returns can be sent back.
func ValidSignature(s string) bool {
	if len(s) > MaxSignature {
		return false
	}
	for i := range len(s) {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// Usage counts the tokens of one call.
type Usage struct {
	// InputTokens counts every input token, cached ones included.
	InputTokens  int64
	OutputTokens int64
	// CachedInputTokens are the input tokens read from the provider's
	// prompt cache; CacheWriteTokens those written to it. Both are part of
	// InputTokens and are priced on their own.
	CachedInputTokens int64
	CacheWriteTokens  int64
	// Estimated is true when the provider did not report usage (a stream
	// cut short, a server that sends none) and the counts are Keel's
	// estimate.
	Estimated bool
}

// MaxCallTokens bounds each count of a Usage a provider reports: eight
// times the largest context window a model offers (2M tokens), so that a
// provider reporting nonsense charges a call no more than a few of the
// dearest real ones would cost, and prices cannot overflow.
const MaxCallTokens = 1 << 24

// Sane returns u with every count within [0, MaxCallTokens] and the cached
// and cache-write counts within the input count, so that a provider
// reporting nonsense (negative or absurd numbers) can neither hand budget
// back nor overflow a cost.
func (u Usage) Sane() Usage {
	clamp := func(n int64) int64 { return min(max(n, 0), MaxCallTokens) }
	u.InputTokens = clamp(u.InputTokens)
	u.OutputTokens = clamp(u.OutputTokens)
	u.CachedInputTokens = min(clamp(u.CachedInputTokens), u.InputTokens)
	u.CacheWriteTokens = min(clamp(u.CacheWriteTokens), u.InputTokens-u.CachedInputTokens)
	return u
}

// Schema asks for a reply that is one JSON value valid against a JSON
// Schema.
type Schema struct {
	// Name identifies the schema to providers that want one.
	Name string
	// JSON is the JSON Schema document.
	JSON json.RawMessage
	// Strict asks a provider with a strict mode to hold its output to the
	// schema (OpenAI's json_schema strict, which takes only schemas that
	// name every property required and allow no others). The router
	// validates the reply whether or not it is set.
	Strict bool
	// JSONMode asks for any JSON object (OpenAI's json_object), which
	// OpenAI-compatible servers are asked for as such; JSON is then an
	// object schema to check the reply against.
	JSONMode bool
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

	// Grounded asks the provider to answer from Passages only, with the
	// support grounding instructions; without it Passages are ignored by
	// the model providers and the conversation goes as it is.
	Grounded bool
	// Temperature and TopP are sampling parameters; nil leaves the
	// provider's default.
	Temperature *float64
	TopP        *float64
	// Stop ends the reply at any of these sequences.
	Stop []string
	// Seed asks for reproducible sampling where the provider offers it.
	Seed *int64
	// ToolChoice is "auto", "none", "required" or the name of one tool;
	// empty leaves the provider's default.
	ToolChoice string
	// ParallelToolCalls, when false, asks for at most one tool call per
	// turn; nil leaves the provider's default (parallel allowed).
	ParallelToolCalls *bool
	// Schema, when set, asks for structured output; providers that support
	// it natively pass it on, the others are told in the prompt. The router
	// validates the reply either way.
	Schema *Schema
	// Retention is the customer-content retention setting the provider is
	// called with; the zero value is RetentionNone.
	Retention Retention
	// PromptCache passes the caller's prompt-caching wish through to
	// providers with explicit cache controls (Anthropic).
	PromptCache bool
}

// Retention is how a provider may keep a call's content.
type Retention int

const (
	// RetentionNone asks the provider not to store the call and not to
	// train on it, with whatever setting the provider has for that.
	RetentionNone Retention = iota
	// RetentionProviderDefault leaves the provider's own default, for a
	// route whose owner chose it explicitly.
	RetentionProviderDefault
)

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

// MadeUpIDPrefix starts the ids Keel makes up for tool calls a provider
// sent without one: the prefix and MadeUpIDDigits random hex digits. They
// are random rather than counted so that no two calls of a conversation
// share one: callers match tool results to calls by id, and "call_1" of
// one reply would be "call_1" of the next.
const MadeUpIDPrefix = "call_"

// MadeUpIDDigits is the number of hex digits of a made-up id: 48 random
// bits, far from repeating within a conversation.
const MadeUpIDDigits = 12

// NewCallID returns a made-up id for a tool call that came without one.
func NewCallID() string {
	var b [MadeUpIDDigits / 2]byte
	// crypto/rand.Read never fails; it crashes the program first.
	_, _ = rand.Read(b[:])
	return MadeUpIDPrefix + hex.EncodeToString(b[:])
}
