package httpapi

import (
	"strconv"

	"github.com/keelhq/keel/pkg/jsonscan"
)

// appendChat appends r to dst byte for byte as json.Marshal writes it,
// without reflection: every reply and every chunk of a stream is one.
// TestAppendChat and FuzzAppendChat hold it to json.Marshal.
func appendChat(dst []byte, r *chatResponse) []byte {
	dst = append(dst, `{"id":`...)
	dst = jsonscan.AppendString(dst, r.ID)
	dst = append(dst, `,"object":`...)
	dst = jsonscan.AppendString(dst, r.Object)
	dst = append(dst, `,"created":`...)
	dst = strconv.AppendInt(dst, r.Created, 10)
	dst = append(dst, `,"model":`...)
	dst = jsonscan.AppendString(dst, r.Model)
	dst = append(dst, `,"choices":`...)
	if r.Choices == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i := range r.Choices {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendChoice(dst, &r.Choices[i])
		}
		dst = append(dst, ']')
	}
	if u := r.Usage; u != nil {
		dst = append(dst, `,"usage":{"prompt_tokens":`...)
		dst = strconv.AppendInt(dst, u.PromptTokens, 10)
		dst = append(dst, `,"completion_tokens":`...)
		dst = strconv.AppendInt(dst, u.CompletionTokens, 10)
		dst = append(dst, `,"total_tokens":`...)
		dst = strconv.AppendInt(dst, u.TotalTokens, 10)
		if d := u.PromptTokensDetails; d != nil {
			dst = append(dst, `,"prompt_tokens_details":{"cached_tokens":`...)
			dst = strconv.AppendInt(dst, d.CachedTokens, 10)
			dst = append(dst, '}')
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

func appendChoice(dst []byte, c *chatChoice) []byte {
	dst = append(dst, `{"index":`...)
	dst = strconv.AppendInt(dst, int64(c.Index), 10)
	if m := c.Message; m != nil {
		dst = append(dst, `,"message":{"role":`...)
		dst = jsonscan.AppendString(dst, m.Role)
		dst = append(dst, `,"content":`...)
		dst = appendOptional(dst, m.Content)
		dst = appendCalls(dst, m.ToolCalls)
		dst = append(dst, '}')
	}
	if d := c.Delta; d != nil {
		dst = append(dst, `,"delta":{`...)
		n := len(dst)
		if d.Role != "" {
			dst = append(dst, `,"role":`...)
			dst = jsonscan.AppendString(dst, d.Role)
		}
		if d.Content != nil {
			dst = append(dst, `,"content":`...)
			dst = jsonscan.AppendString(dst, *d.Content)
		}
		dst = appendCalls(dst, d.ToolCalls)
		if len(dst) > n {
			// The first member went in with a comma before it.
			dst = append(dst[:n], dst[n+1:]...)
		}
		dst = append(dst, '}')
	}
	dst = append(dst, `,"finish_reason":`...)
	dst = appendOptional(dst, c.FinishReason)
	return append(dst, '}')
}

// appendOptional appends a string that may be null.
func appendOptional(dst []byte, s *string) []byte {
	if s == nil {
		return append(dst, "null"...)
	}
	return jsonscan.AppendString(dst, *s)
}

// appendCalls appends the tool_calls member, with its comma, unless there
// are none.
func appendCalls(dst []byte, calls []chatToolCall) []byte {
	if len(calls) == 0 {
		return dst
	}
	dst = append(dst, `,"tool_calls":[`...)
	for i := range calls {
		c := &calls[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '{')
		if c.Index != nil {
			dst = append(dst, `"index":`...)
			dst = strconv.AppendInt(dst, int64(*c.Index), 10)
			dst = append(dst, ',')
		}
		dst = append(dst, `"id":`...)
		dst = jsonscan.AppendString(dst, c.ID)
		dst = append(dst, `,"type":`...)
		dst = jsonscan.AppendString(dst, c.Type)
		dst = append(dst, `,"function":{"name":`...)
		dst = jsonscan.AppendString(dst, c.Function.Name)
		dst = append(dst, `,"arguments":`...)
		dst = jsonscan.AppendString(dst, c.Function.Arguments)
		dst = append(dst, '}')
		if e := c.ExtraContent; e != nil {
			dst = append(dst, `,"extra_content":{`...)
			if g := e.Google; g != nil {
				dst = append(dst, `"google":{`...)
				if g.ThoughtSignature != "" {
					dst = append(dst, `"thought_signature":`...)
					dst = jsonscan.AppendString(dst, g.ThoughtSignature)
				}
				dst = append(dst, '}')
			}
			dst = append(dst, '}')
		}
		dst = append(dst, '}')
	}
	return append(dst, ']')
}
