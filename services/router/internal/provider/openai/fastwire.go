package openai

import (
	"encoding/json"

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

// once reports whether the bit of a composite member is not yet set, and
// sets it. encoding/json merges a repeated object or array into what the
// first one decoded, which the readers below do not copy: a repeated
// composite member sends the document to encoding/json.
func once(s *jsonscan.Scanner, seen *uint8, bit uint8) bool {
	if *seen&bit != 0 {
		s.Fail()
		return false
	}
	*seen |= bit
	return true
}

func scanReply(data []byte, r *chatResponse) bool {
	s := jsonscan.New(data)
	var seen uint8
	s.Object(func(key []byte) {
		switch string(key) {
		case "model":
			if !s.Null() {
				r.Model = s.String()
			}
		case "choices":
			if once(s, &seen, 1) && !s.Null() {
				r.Choices = make([]chatChoice, 0, 1)
				s.Array(func() {
					r.Choices = append(r.Choices, chatChoice{})
					scanChoice(s, &r.Choices[len(r.Choices)-1])
				})
			}
		case "usage":
			if once(s, &seen, 2) && !s.Null() {
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
	var seen uint8
	s.Object(func(key []byte) {
		switch string(key) {
		case "index":
			if !s.Null() {
				c.Index = int(s.Int64())
			}
		case "message":
			if once(s, &seen, 1) {
				scanMessage(s, &c.Message)
			}
		case "delta":
			if once(s, &seen, 2) {
				scanMessage(s, &c.Delta)
			}
		case "finish_reason":
			c.FinishReason = scanOptional(s)
		default:
			s.Unknown(key, choiceFields...)
		}
	})
}

// scanOptional reads a string that may be null.
func scanOptional(s *jsonscan.Scanner) *string {
	if s.Null() {
		return nil
	}
	v := s.String()
	return &v
}

func scanMessage(s *jsonscan.Scanner, m *chatMessage) {
	if s.Null() {
		return
	}
	var seen uint8
	s.Object(func(key []byte) {
		switch string(key) {
		case "role":
			if !s.Null() {
				m.Role = s.String()
			}
		case "content":
			m.Content = scanOptional(s)
		case "tool_call_id":
			if !s.Null() {
				m.ToolCallID = s.String()
			}
		case "tool_calls":
			if once(s, &seen, 1) && !s.Null() {
				m.ToolCalls = make([]chatToolCall, 0, 1)
				s.Array(func() {
					m.ToolCalls = append(m.ToolCalls, chatToolCall{})
					scanCall(s, &m.ToolCalls[len(m.ToolCalls)-1])
				})
			}
		case "refusal":
			m.Refusal = scanOptional(s)
		case "reasoning_content":
			if !s.Null() {
				m.ReasoningContent = s.String()
			}
		default:
			s.Unknown(key, messageFields...)
		}
	})
}

func scanCall(s *jsonscan.Scanner, c *chatToolCall) {
	if s.Null() {
		return
	}
	var seen uint8
	s.Object(func(key []byte) {
		switch string(key) {
		case "index":
			if s.Null() {
				c.Index = nil
			} else {
				i := int(s.Int64())
				c.Index = &i
			}
		case "id":
			if !s.Null() {
				c.ID = s.String()
			}
		case "type":
			if !s.Null() {
				c.Type = s.String()
			}
		case "function":
			if once(s, &seen, 1) && !s.Null() {
				scanFunction(s, &c.Function)
			}
		default:
			s.Unknown(key, callFields...)
		}
	})
}

func scanFunction(s *jsonscan.Scanner, f *chatFunctionCall) {
	s.Object(func(key []byte) {
		switch string(key) {
		case "name":
			if !s.Null() {
				f.Name = s.String()
			}
		case "arguments":
			if !s.Null() {
				f.Arguments = s.String()
			}
		default:
			s.Unknown(key, functionFields...)
		}
	})
}

func scanUsage(s *jsonscan.Scanner, u *chatUsage) {
	var seen uint8
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
			if !once(s, &seen, 1) {
				return
			}
			if s.Null() {
				u.PromptTokensDetails = nil
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
