package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// The types below are the parts of OpenAI's chat completions API that the
// gateway serves, so that OpenAI clients work against Keel unchanged.

type chatRequest struct {
	Model               string          `json:"model"`
	Messages            []chatMessage   `json:"messages"`
	Stream              bool            `json:"stream"`
	StreamOptions       *streamOptions  `json:"stream_options"`
	Temperature         *float64        `json:"temperature"`
	TopP                *float64        `json:"top_p"`
	MaxTokens           *int32          `json:"max_tokens"`
	MaxCompletionTokens *int32          `json:"max_completion_tokens"`
	Stop                json.RawMessage `json:"stop"`
	Seed                *int64          `json:"seed"`
	N                   *int            `json:"n"`
	Tools               []chatTool      `json:"tools"`
	ToolChoice          json.RawMessage `json:"tool_choice"`
	ParallelToolCalls   *bool           `json:"parallel_tool_calls"`
	ResponseFormat      *responseFormat `json:"response_format"`
	User                string          `json:"user"`
	// Asked for, these would change what the reply holds or which tokens
	// it may use; Keel serves neither, so they are refused, not ignored.
	Logprobs    *bool              `json:"logprobs"`
	TopLogprobs *int               `json:"top_logprobs"`
	LogitBias   map[string]float64 `json:"logit_bias"`
	// KeelVariables are the values of the route's prompt template
	// variables, Keel's own extension of the request: strings, numbers or
	// booleans, checked by the router against the declared types.
	KeelVariables map[string]json.RawMessage `json:"keel_variables"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type chatMessage struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content,omitempty"`
	ToolCallID string          `json:"tool_call_id,omitempty"`
	ToolCalls  []chatToolCall  `json:"tool_calls,omitempty"`
}

type chatTool struct {
	Type     string `json:"type"`
	Function struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Parameters  json.RawMessage `json:"parameters"`
		Strict      bool            `json:"strict"`
	} `json:"function"`
}

type chatToolCall struct {
	Index    *int   `json:"index,omitempty"`
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
	ExtraContent *extraContent `json:"extra_content,omitempty"`
}

// extraContent carries a provider's opaque state of a tool call where
// Google's OpenAI compatibility puts it: OpenAI's SDKs keep the field when
// a client appends the reply's message to the conversation as it is, and
// so send it back with the call. Keys of other providers are ignored.
type extraContent struct {
	Google *googleContent `json:"google,omitempty"`
}

type googleContent struct {
	ThoughtSignature string `json:"thought_signature,omitempty"`
}

// signature is the call's opaque provider state, "" when it has none.
func (c *chatToolCall) signature() string {
	if c.ExtraContent == nil || c.ExtraContent.Google == nil {
		return ""
	}
	return c.ExtraContent.Google.ThoughtSignature
}

type responseFormat struct {
	Type       string `json:"type"`
	JSONSchema *struct {
		Name   string          `json:"name"`
		Schema json.RawMessage `json:"schema"`
		Strict bool            `json:"strict"`
	} `json:"json_schema"`
}

type chatResponse struct {
	ID      string       `json:"id"`
	Object  string       `json:"object"`
	Created int64        `json:"created"`
	Model   string       `json:"model"`
	Choices []chatChoice `json:"choices"`
	Usage   *chatUsage   `json:"usage,omitempty"`
}

type chatChoice struct {
	Index        int              `json:"index"`
	Message      *replyMessage    `json:"message,omitempty"`
	Delta        *responseMessage `json:"delta,omitempty"`
	FinishReason *string          `json:"finish_reason"`
}

// replyMessage is the message of a reply that is not streamed: content is
// null, not left out, when the model only called tools, as OpenAI sends it.
type replyMessage struct {
	Role      string         `json:"role"`
	Content   *string        `json:"content"`
	ToolCalls []chatToolCall `json:"tool_calls,omitempty"`
}

// responseMessage is the delta of a streamed chunk.
type responseMessage struct {
	Role      string         `json:"role,omitempty"`
	Content   *string        `json:"content,omitempty"`
	ToolCalls []chatToolCall `json:"tool_calls,omitempty"`
}

type chatUsage struct {
	PromptTokens        int64               `json:"prompt_tokens"`
	CompletionTokens    int64               `json:"completion_tokens"`
	TotalTokens         int64               `json:"total_tokens"`
	PromptTokensDetails *promptTokenDetails `json:"prompt_tokens_details,omitempty"`
}

type promptTokenDetails struct {
	CachedTokens int64 `json:"cached_tokens"`
}

// openAIError is the body of every error the chat endpoints return.
type openAIError struct {
	Error openAIErrorBody `json:"error"`
}

type openAIErrorBody struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

type modelList struct {
	Object string      `json:"object"`
	Data   []modelInfo `json:"data"`
}

type modelInfo struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
	// Keel describes the route behind the model name: its candidates and
	// how each provider is asked to keep the content.
	Keel *routeDetail `json:"keel,omitempty"`
}

type routeDetail struct {
	Default    bool             `json:"default,omitempty"`
	Candidates []routeCandidate `json:"candidates"`
}

type routeCandidate struct {
	Provider  string `json:"provider"`
	Model     string `json:"model"`
	Retention string `json:"retention"`
	Weight    int32  `json:"weight,omitempty"`
}

// messageText reads a message's content: a string, null, or an array of
// parts of which only text parts are accepted.
func messageText(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", nil
	}
	switch raw[0] {
	case '"':
		if s, ok := scanString(raw); ok {
			return s, nil
		}
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case '[':
		var parts []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		if err := json.Unmarshal(raw, &parts); err != nil {
			return "", err
		}
		var b strings.Builder
		for _, p := range parts {
			if p.Type != "text" {
				return "", fmt.Errorf("content parts of type %q are not supported", p.Type)
			}
			b.WriteString(p.Text)
		}
		return b.String(), nil
	}
	return "", errors.New("content must be a string or an array of text parts")
}

// stopSequences reads "stop": a string, an array of strings, or null.
func stopSequences(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return []string{s}, nil
	}
	var list []string
	err := json.Unmarshal(raw, &list)
	return list, err
}

// toolChoice reads "tool_choice": "auto", "none", "required" or
// {"type":"function","function":{"name":...}}; it returns the name of the
// one tool in the last case.
func toolChoice(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
		switch s {
		case "auto", "none", "required":
			return s, nil
		}
		return "", fmt.Errorf("unknown tool_choice %q", s)
	}
	var obj struct {
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil || obj.Function.Name == "" {
		return "", errors.New("tool_choice must be auto, none, required or name a function")
	}
	return obj.Function.Name, nil
}

// templateVariables turns the JSON values of keel_variables into the
// strings the router checks against the declared types.
func templateVariables(raw map[string]json.RawMessage) (map[string]string, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(raw))
	for name, v := range raw {
		v = bytes.TrimSpace(v)
		switch {
		case len(v) > 0 && v[0] == '"':
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, fmt.Errorf("keel_variables.%s: %w", name, err)
			}
			out[name] = s
		case bytes.Equal(v, []byte("true")), bytes.Equal(v, []byte("false")):
			out[name] = string(v)
		case len(v) > 0 && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) && json.Valid(v):
			out[name] = string(v)
		default:
			return nil, fmt.Errorf("keel_variables.%s must be a string, a number or a boolean", name)
		}
	}
	return out, nil
}
