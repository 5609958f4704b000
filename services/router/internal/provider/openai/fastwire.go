package openai

import (
	"encoding/json"
	"strconv"

	"github.com/keelhq/keel/pkg/jsonscan"
)

// decodeReply reads a completion, or one chunk of a stream, into r exactly
// as json.Unmarshal would. The common shape is read without reflection
// (a third of the gateway's JSON time went to this document); anything
// else, errors included, goes to encoding/json. FuzzDecodeReply holds the
// two to the same result.
func decodeReply(data []byte, r *chatResponse) error {
	if scanReply(data, r) {
		return nil
	}
	*r = chatResponse{}
	return json.Unmarshal(data, r)
}

// The fields each reader knows, for jsonscan.Scanner.Unknown.
var (
	replyFields    = []string{"model", "choices", "usage", "error"}
	choiceFields   = []string{"index", "message", "delta", "finish_reason"}
	messageFields  = []string{"role", "content", "tool_call_id", "tool_calls", "refusal", "reasoning_content"}
	callFields     = []string{"index", "id", "type", "function"}
	functionFields = []string{"name", "arguments"}
	usageFields    = []string{"prompt_tokens", "completion_tokens", "prompt_tokens_details"}
	detailsFields  = []string{"cached_tokens"}
)

func scanReply(data []byte, r *chatResponse) bool {
	s := jsonscan.New(data)
	var seen uint32
	s.Object(func(key []byte) {
		switch string(key) {
		case "model":
			s.StringTo(&r.Model)
		case "choices":
			if s.Once(&seen, 1) {
				r.Choices = jsonscan.Slice(s, func(c *chatChoice) { scanChoice(s, c) })
			}
		case "usage":
			if s.Once(&seen, 2) && !s.Null() {
				r.Usage = &chatUsage{}
				scanUsage(s, r.Usage)
			}
		case "error":
			// Error bodies are rare and read by encoding/json.
			if !s.Null() {
				s.Fail()
			}
		default:
			s.Unknown(key, replyFields...)
		}
	})
	s.End()
	return s.OK()
}

func scanChoice(s *jsonscan.Scanner, c *chatChoice) {
	if s.Null() {
		return
	}
	var seen uint32
	s.Object(func(key []byte) {
		switch string(key) {
		case "index":
			if !s.Null() {
				c.Index = int(s.Int64())
			}
		case "message":
			if s.Once(&seen, 1) {
				scanMessage(s, &c.Message)
			}
		case "delta":
			if s.Once(&seen, 2) {
				scanMessage(s, &c.Delta)
			}
		case "finish_reason":
			c.FinishReason = s.OptionalString()
		default:
			s.Unknown(key, choiceFields...)
		}
	})
}

func scanMessage(s *jsonscan.Scanner, m *chatMessage) {
	if s.Null() {
		return
	}
	var seen uint32
	s.Object(func(key []byte) {
		switch string(key) {
		case "role":
			s.StringTo(&m.Role)
		case "content":
			m.Content = s.OptionalString()
		case "tool_call_id":
			s.StringTo(&m.ToolCallID)
		case "tool_calls":
			if s.Once(&seen, 1) {
				m.ToolCalls = jsonscan.Slice(s, func(c *chatToolCall) { scanCall(s, c) })
			}
		case "refusal":
			m.Refusal = s.OptionalString()
		case "reasoning_content":
			s.StringTo(&m.ReasoningContent)
		default:
			s.Unknown(key, messageFields...)
		}
	})
}

func scanCall(s *jsonscan.Scanner, c *chatToolCall) {
	if s.Null() {
		return
	}
	var seen uint32
	s.Object(func(key []byte) {
		switch string(key) {
		case "index":
			c.Index = s.OptionalInt()
		case "id":
			s.StringTo(&c.ID)
		case "type":
			s.StringTo(&c.Type)
		case "function":
			if s.Once(&seen, 1) && !s.Null() {
				s.Object(func(key []byte) {
					switch string(key) {
					case "name":
						s.StringTo(&c.Function.Name)
					case "arguments":
						s.StringTo(&c.Function.Arguments)
					default:
						s.Unknown(key, functionFields...)
					}
				})
			}
		default:
			s.Unknown(key, callFields...)
		}
	})
}

func scanUsage(s *jsonscan.Scanner, u *chatUsage) {
	var seen uint32
	s.Object(func(key []byte) {
		switch string(key) {
		case "prompt_tokens":
			if !s.Null() {
				u.PromptTokens = s.Int64()
			}
		case "completion_tokens":
			if !s.Null() {
				u.CompletionTokens = s.Int64()
			}
		case "prompt_tokens_details":
			if !s.Once(&seen, 1) || s.Null() {
				return
			}
			d := &struct {
				CachedTokens int64 `json:"cached_tokens"`
			}{}
			u.PromptTokensDetails = d
			s.Object(func(key []byte) {
				if string(key) != "cached_tokens" {
					s.Unknown(key, detailsFields...)
				} else if !s.Null() {
					d.CachedTokens = s.Int64()
				}
			})
		default:
			s.Unknown(key, usageFields...)
		}
	})
}

// encodeRequest writes body as json.Marshal does. A request without tools,
// tool choice or response format, the common one, is written without
// reflection; the rest carry raw JSON schemas that json.Marshal compacts
// and escapes, and go to it.
func encodeRequest(body *chatRequest) ([]byte, error) {
	if len(body.Tools) > 0 || body.ToolChoice != nil || body.ResponseFormat != nil {
		return json.Marshal(body)
	}
	n := 128
	for i := range body.Messages {
		m := &body.Messages[i]
		n += 64 + len(m.ToolCallID)
		if m.Content != nil {
			n += len(*m.Content)
		}
		for _, c := range m.ToolCalls {
			n += 64 + len(c.ID) + len(c.Function.Name) + len(c.Function.Arguments)
		}
	}
	return appendRequest(make([]byte, 0, n+n/8), body), nil
}

func appendRequest(dst []byte, b *chatRequest) []byte {
	dst = append(dst, `{"model":`...)
	dst = jsonscan.AppendString(dst, b.Model)
	dst = append(dst, `,"messages":`...)
	if b.Messages == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i := range b.Messages {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendMessage(dst, &b.Messages[i])
		}
		dst = append(dst, ']')
	}
	if b.ParallelToolCalls != nil {
		dst = append(dst, `,"parallel_tool_calls":`...)
		dst = strconv.AppendBool(dst, *b.ParallelToolCalls)
	}
	if b.MaxTokens != 0 {
		dst = append(dst, `,"max_tokens":`...)
		dst = strconv.AppendInt(dst, int64(b.MaxTokens), 10)
	}
	if b.MaxCompletionTokens != 0 {
		dst = append(dst, `,"max_completion_tokens":`...)
		dst = strconv.AppendInt(dst, int64(b.MaxCompletionTokens), 10)
	}
	if b.Temperature != nil {
		dst = append(dst, `,"temperature":`...)
		dst = jsonscan.AppendFloat(dst, *b.Temperature)
	}
	if b.TopP != nil {
		dst = append(dst, `,"top_p":`...)
		dst = jsonscan.AppendFloat(dst, *b.TopP)
	}
	if len(b.Stop) > 0 {
		dst = append(dst, `,"stop":[`...)
		for i, s := range b.Stop {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = jsonscan.AppendString(dst, s)
		}
		dst = append(dst, ']')
	}
	if b.Seed != nil {
		dst = append(dst, `,"seed":`...)
		dst = strconv.AppendInt(dst, *b.Seed, 10)
	}
	if b.Store != nil {
		dst = append(dst, `,"store":`...)
		dst = strconv.AppendBool(dst, *b.Store)
	}
	if b.Stream {
		dst = append(dst, `,"stream":true`...)
	}
	if b.StreamOptions != nil {
		dst = append(dst, `,"stream_options":{"include_usage":`...)
		dst = strconv.AppendBool(dst, b.StreamOptions.IncludeUsage)
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

func appendMessage(dst []byte, m *chatMessage) []byte {
	dst = append(dst, `{"role":`...)
	dst = jsonscan.AppendString(dst, m.Role)
	dst = append(dst, `,"content":`...)
	if m.Content == nil {
		dst = append(dst, "null"...)
	} else {
		dst = jsonscan.AppendString(dst, *m.Content)
	}
	if m.ToolCallID != "" {
		dst = append(dst, `,"tool_call_id":`...)
		dst = jsonscan.AppendString(dst, m.ToolCallID)
	}
	if len(m.ToolCalls) > 0 {
		dst = append(dst, `,"tool_calls":[`...)
		for i := range m.ToolCalls {
			c := &m.ToolCalls[i]
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, '{')
			if c.Index != nil {
				dst = append(dst, `"index":`...)
				dst = strconv.AppendInt(dst, int64(*c.Index), 10)
				dst = append(dst, ',')
			}
			if c.ID != "" {
				dst = append(dst, `"id":`...)
				dst = jsonscan.AppendString(dst, c.ID)
				dst = append(dst, ',')
			}
			if c.Type != "" {
				dst = append(dst, `"type":`...)
				dst = jsonscan.AppendString(dst, c.Type)
				dst = append(dst, ',')
			}
			dst = append(dst, `"function":{`...)
			if c.Function.Name != "" {
				dst = append(dst, `"name":`...)
				dst = jsonscan.AppendString(dst, c.Function.Name)
				dst = append(dst, ',')
			}
			dst = append(dst, `"arguments":`...)
			dst = jsonscan.AppendString(dst, c.Function.Arguments)
			dst = append(dst, "}}"...)
		}
		dst = append(dst, ']')
	}
	if m.Refusal != nil {
		dst = append(dst, `,"refusal":`...)
		dst = jsonscan.AppendString(dst, *m.Refusal)
	}
	if m.ReasoningContent != "" {
		dst = append(dst, `,"reasoning_content":`...)
		dst = jsonscan.AppendString(dst, m.ReasoningContent)
	}
	return append(dst, '}')
}
