package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"sync"

	"github.com/keelhq/keel/pkg/jsonscan"
)

// decodeChatRequest reads the body of a chat completion into body as one
// json.Decoder.Decode would, and checks that nothing but whitespace
// follows. A body of declared length up to maxScannedBody, the common
// request, is read whole and scanned without reflection; anything else,
// every error included, goes through encoding/json, over the same bytes
// and the same read error, so errors stay as they were. FuzzDecodeChat
// holds the two to the same result. Larger bodies and those of unknown
// length are decoded as they arrive, so that a broken one is refused
// before its end.
func decodeChatRequest(in io.Reader, length int64, body *chatRequest) error {
	if length <= 0 || length > maxScannedBody {
		return decodeChatStream(in, body)
	}
	buf := bodyBuffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 2*maxScannedBody {
			buf.Reset()
			bodyBuffers.Put(buf)
		}
	}()
	_, readErr := buf.ReadFrom(in)
	if readErr == nil && scanChatRequest(buf.Bytes(), body) {
		return nil
	}
	*body = chatRequest{}
	src := io.Reader(bytes.NewReader(buf.Bytes()))
	if readErr != nil {
		src = io.MultiReader(src, failingReader{readErr})
	}
	return decodeChatStream(src, body)
}

// decodeChatStream reads the body with encoding/json.
func decodeChatStream(src io.Reader, body *chatRequest) error {
	dec := json.NewDecoder(src)
	if err := dec.Decode(body); err != nil {
		return bodyError(err)
	}
	if err := dec.Decode(&json.RawMessage{}); !errors.Is(err, io.EOF) {
		if unreadable(err) {
			return bodyError(err)
		}
		return badChat("", "the request body must hold a single JSON object")
	}
	return nil
}

// maxScannedBody bounds the bodies read whole for the scanner; buffers up
// to twice as large (a gzip body inflates) are kept for the next request.
const maxScannedBody = 256 << 10

var bodyBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// failingReader returns err, after the bytes read before it.
type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }

// The fields each reader knows, for jsonscan.Scanner.Unknown.
var (
	requestFields = []string{"model", "messages", "stream", "stream_options", "temperature", "top_p",
		"max_tokens", "max_completion_tokens", "stop", "seed", "n", "tools", "tool_choice",
		"parallel_tool_calls", "response_format", "user", "logprobs", "top_logprobs", "logit_bias", "keel_variables"}
	streamOptionFields   = []string{"include_usage"}
	messageFields        = []string{"role", "content", "tool_call_id", "tool_calls"}
	toolFields           = []string{"type", "function"}
	toolFunctionFields   = []string{"name", "description", "parameters", "strict"}
	toolCallFields       = []string{"index", "id", "type", "function", "extra_content"}
	extraContentFields   = []string{"google"}
	googleContentFields  = []string{"thought_signature"}
	callFunctionFields   = []string{"name", "arguments"}
	responseFormatFields = []string{"type", "json_schema"}
	jsonSchemaFields     = []string{"name", "schema", "strict"}
)

// raw copies a raw value out of the pooled buffer.
func raw(s *jsonscan.Scanner) json.RawMessage {
	return bytes.Clone(s.Raw())
}

func scanChatRequest(data []byte, b *chatRequest) bool {
	s := jsonscan.New(data)
	var seen uint32
	s.Object(func(key []byte) {
		switch string(key) {
		case "model":
			s.StringTo(&b.Model)
		case "messages":
			if s.Once(&seen, 1<<0) {
				b.Messages = jsonscan.Slice(s, func(m *chatMessage) { scanMessage(s, m) })
			}
		case "stream":
			if !s.Null() {
				b.Stream = s.Bool()
			}
		case "stream_options":
			if s.Once(&seen, 1<<1) && !s.Null() {
				b.StreamOptions = &streamOptions{}
				s.Object(func(key []byte) {
					if string(key) != "include_usage" {
						s.Unknown(key, streamOptionFields...)
					} else if !s.Null() {
						b.StreamOptions.IncludeUsage = s.Bool()
					}
				})
			}
		case "temperature":
			b.Temperature = s.OptionalFloat64()
		case "top_p":
			b.TopP = s.OptionalFloat64()
		case "max_tokens":
			b.MaxTokens = scanInt32(s)
		case "max_completion_tokens":
			b.MaxCompletionTokens = scanInt32(s)
		case "stop":
			b.Stop = raw(s)
		case "seed":
			b.Seed = s.OptionalInt64()
		case "n":
			b.N = s.OptionalInt()
		case "tools":
			if s.Once(&seen, 1<<2) {
				b.Tools = jsonscan.Slice(s, func(t *chatTool) { scanTool(s, t) })
			}
		case "tool_choice":
			b.ToolChoice = raw(s)
		case "parallel_tool_calls":
			b.ParallelToolCalls = s.OptionalBool()
		case "response_format":
			if s.Once(&seen, 1<<3) && !s.Null() {
				b.ResponseFormat = &responseFormat{}
				scanResponseFormat(s, b.ResponseFormat)
			}
		case "user":
			s.StringTo(&b.User)
		case "logprobs":
			b.Logprobs = s.OptionalBool()
		case "top_logprobs":
			b.TopLogprobs = s.OptionalInt()
		case "logit_bias", "keel_variables":
			// Maps are rare here, and encoding/json's to read.
			if !s.Null() {
				s.Fail()
			}
		default:
			s.Unknown(key, requestFields...)
		}
	})
	s.End()
	return s.OK()
}

// scanInt32 reads an integer that may be null; one out of range is
// encoding/json's to refuse.
func scanInt32(s *jsonscan.Scanner) *int32 {
	v := s.OptionalInt64()
	if v == nil {
		return nil
	}
	if *v < math.MinInt32 || *v > math.MaxInt32 {
		s.Fail()
		return nil
	}
	n := int32(*v)
	return &n
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
			m.Content = raw(s)
		case "tool_call_id":
			s.StringTo(&m.ToolCallID)
		case "tool_calls":
			if s.Once(&seen, 1) {
				m.ToolCalls = jsonscan.Slice(s, func(c *chatToolCall) { scanToolCall(s, c) })
			}
		default:
			s.Unknown(key, messageFields...)
		}
	})
}

func scanToolCall(s *jsonscan.Scanner, c *chatToolCall) {
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
						s.Unknown(key, callFunctionFields...)
					}
				})
			}
		case "extra_content":
			if s.Once(&seen, 2) && !s.Null() {
				c.ExtraContent = &extraContent{}
				scanExtraContent(s, c.ExtraContent)
			}
		default:
			s.Unknown(key, toolCallFields...)
		}
	})
}

func scanExtraContent(s *jsonscan.Scanner, e *extraContent) {
	var seen uint32
	s.Object(func(key []byte) {
		if string(key) != "google" {
			s.Unknown(key, extraContentFields...)
			return
		}
		if !s.Once(&seen, 1) || s.Null() {
			return
		}
		g := &googleContent{}
		e.Google = g
		s.Object(func(key []byte) {
			if string(key) != "thought_signature" {
				s.Unknown(key, googleContentFields...)
			} else {
				s.StringTo(&g.ThoughtSignature)
			}
		})
	})
}

func scanTool(s *jsonscan.Scanner, t *chatTool) {
	if s.Null() {
		return
	}
	var seen uint32
	s.Object(func(key []byte) {
		switch string(key) {
		case "type":
			s.StringTo(&t.Type)
		case "function":
			if s.Once(&seen, 1) && !s.Null() {
				s.Object(func(key []byte) {
					switch string(key) {
					case "name":
						s.StringTo(&t.Function.Name)
					case "description":
						s.StringTo(&t.Function.Description)
					case "parameters":
						t.Function.Parameters = raw(s)
					case "strict":
						if !s.Null() {
							t.Function.Strict = s.Bool()
						}
					default:
						s.Unknown(key, toolFunctionFields...)
					}
				})
			}
		default:
			s.Unknown(key, toolFields...)
		}
	})
}

func scanResponseFormat(s *jsonscan.Scanner, f *responseFormat) {
	var seen uint32
	s.Object(func(key []byte) {
		switch string(key) {
		case "type":
			s.StringTo(&f.Type)
		case "json_schema":
			if !s.Once(&seen, 1) || s.Null() {
				return
			}
			js := &struct {
				Name   string          `json:"name"`
				Schema json.RawMessage `json:"schema"`
				Strict bool            `json:"strict"`
			}{}
			f.JSONSchema = js
			s.Object(func(key []byte) {
				switch string(key) {
				case "name":
					s.StringTo(&js.Name)
				case "schema":
					js.Schema = raw(s)
				case "strict":
					if !s.Null() {
						js.Strict = s.Bool()
					}
				default:
					s.Unknown(key, jsonSchemaFields...)
				}
			})
		default:
			s.Unknown(key, responseFormatFields...)
		}
	})
}

// scanString reads a JSON string as encoding/json would, or reports false
// for one it leaves to encoding/json.
func scanString(raw []byte) (string, bool) {
	s := jsonscan.New(raw)
	v := s.String()
	s.End()
	return v, s.OK()
}
