package anthropic

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// fakeAnthropic is a stand-in for the Messages API. It checks every request
// the way the real API does (headers, key, and the body rules that matter to
// the provider: alternating roles, tool results right after their calls,
// valid tool choice, system blocks) and answers a 401 or a 400
// invalid_request_error when one is broken, like the API would. Otherwise it
// answers status, header and body, written in pieces of chunkSize bytes with
// a flush after each so that lines, events and UTF-8 characters are split
// across TCP writes.
type fakeAnthropic struct {
	// apiKey is the key the server accepts.
	apiKey    string
	status    int
	header    http.Header
	body      []byte
	chunkSize int

	mu       sync.Mutex
	requests []recordedRequest
}

// recordedRequest is what the fake saw of one request.
type recordedRequest struct {
	path     string
	header   http.Header
	raw      []byte
	body     wireRequest
	problems []string
}

// wireRequest decodes a request body independently of the provider's own
// wire types.
type wireRequest struct {
	Model         string          `json:"model"`
	MaxTokens     int             `json:"max_tokens"`
	System        json.RawMessage `json:"system"`
	Messages      []wireMessage   `json:"messages"`
	Tools         []wireTool      `json:"tools"`
	ToolChoice    map[string]any  `json:"tool_choice"`
	Temperature   *float64        `json:"temperature"`
	TopP          *float64        `json:"top_p"`
	StopSequences []string        `json:"stop_sequences"`
	Stream        bool            `json:"stream"`
}

type wireMessage struct {
	Role    string      `json:"role"`
	Content []wireBlock `json:"content"`
}

type wireBlock struct {
	Type         string          `json:"type"`
	Text         *string         `json:"text"`
	ID           string          `json:"id"`
	Name         string          `json:"name"`
	Input        json.RawMessage `json:"input"`
	ToolUseID    string          `json:"tool_use_id"`
	Content      json.RawMessage `json:"content"`
	CacheControl map[string]any  `json:"cache_control"`
}

type wireTool struct {
	Name         string          `json:"name"`
	Description  string          `json:"description"`
	InputSchema  json.RawMessage `json:"input_schema"`
	CacheControl map[string]any  `json:"cache_control"`
}

const testAPIKey = "sk-ant-api03-keel-test-secret-0123456789"

func (f *fakeAnthropic) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	body, problems := checkRequest(r, raw)
	f.mu.Lock()
	f.requests = append(f.requests, recordedRequest{
		path: r.URL.Path, header: r.Header.Clone(), raw: raw, body: body, problems: problems,
	})
	f.mu.Unlock()

	if key := r.Header.Get("X-Api-Key"); key != f.apiKey {
		writeError(w, http.StatusUnauthorized, "authentication_error", "invalid x-api-key")
		return
	}
	if len(problems) > 0 {
		writeError(w, http.StatusBadRequest, "invalid_request_error", strings.Join(problems, "; "))
		return
	}

	for k, v := range f.header {
		w.Header()[k] = v
	}
	status := f.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	writeChunked(w, f.body, f.chunkSize)
}

// writeChunked writes body in pieces of size bytes (all at once when size is
// not positive), flushing after each.
func writeChunked(w http.ResponseWriter, body []byte, size int) {
	if size <= 0 {
		size = len(body)
	}
	flusher, _ := w.(http.Flusher)
	for rest := body; len(rest) > 0; {
		n := min(size, len(rest))
		_, _ = w.Write(rest[:n])
		if flusher != nil {
			flusher.Flush()
		}
		rest = rest[n:]
	}
}

func writeError(w http.ResponseWriter, status int, kind, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"type":       "error",
		"error":      map[string]any{"type": kind, "message": message},
		"request_id": "req_011KeelFake",
	})
}

func (f *fakeAnthropic) lastRequest(t *testing.T) recordedRequest {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.requests) == 0 {
		t.Fatal("server saw no request")
	}
	return f.requests[len(f.requests)-1]
}

var toolName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// checkRequest decodes a Messages request and lists what the real API would
// reject in it.
func checkRequest(r *http.Request, raw []byte) (wireRequest, []string) {
	var (
		body     wireRequest
		problems []string
	)
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if r.Method != http.MethodPost || r.URL.Path != "/v1/messages" {
		bad("%s %s: not found", r.Method, r.URL.Path)
	}
	if v := r.Header.Get("Anthropic-Version"); v != "2023-06-01" {
		bad("anthropic-version header = %q", v)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		bad("content-type = %q", ct)
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		bad("body: %v", err)
		return body, problems
	}

	if body.Model == "" {
		bad("model: field required")
	}
	if body.MaxTokens < 1 {
		bad("max_tokens: must be at least 1")
	}
	for name, v := range map[string]*float64{"temperature": body.Temperature, "top_p": body.TopP} {
		if v != nil && (*v < 0 || *v > 1) {
			bad("%s: out of range", name)
		}
	}
	// As Claude models from Sonnet 4.5 on do.
	if body.Temperature != nil && body.TopP != nil {
		bad("temperature and top_p cannot both be specified for this model. Please use only one.")
	}
	for _, s := range body.StopSequences {
		if strings.TrimSpace(s) == "" {
			bad("stop_sequences: each stop sequence must contain non-whitespace")
		}
	}
	checkSystem(body.System, bad)
	checkMessages(body.Messages, bad)

	tools := map[string]bool{}
	for _, t := range body.Tools {
		if !toolName.MatchString(t.Name) {
			bad("tools: invalid name %q", t.Name)
		}
		if tools[t.Name] {
			bad("tools: tool names must be unique")
		}
		tools[t.Name] = true
		var schema map[string]any
		if json.Unmarshal(t.InputSchema, &schema) != nil || schema["type"] != "object" {
			bad("tools.%s.input_schema: type must be object", t.Name)
		}
	}
	if tc := body.ToolChoice; tc != nil {
		switch tc["type"] {
		case "auto", "any":
		case "tool":
			if name, _ := tc["name"].(string); !tools[name] {
				bad("tool_choice: tool %q not found", tc["name"])
			}
		case "none":
			if _, ok := tc["disable_parallel_tool_use"]; ok {
				bad("tool_choice.none: extra inputs are not permitted")
			}
		default:
			bad("tool_choice.type: %v", tc["type"])
		}
		if len(body.Tools) == 0 {
			bad("tool_choice may only be specified while providing tools")
		}
	}
	return body, problems
}

func checkSystem(raw json.RawMessage, bad func(string, ...any)) {
	if len(raw) == 0 {
		return
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return
	}
	var blocks []wireBlock
	if err := json.Unmarshal(raw, &blocks); err != nil {
		bad("system: must be a string or a list of text blocks")
		return
	}
	for i, b := range blocks {
		if b.Type != "text" || b.Text == nil || *b.Text == "" {
			bad("system.%d: text content blocks must be non-empty", i)
		}
		if b.CacheControl != nil && b.CacheControl["type"] != "ephemeral" {
			bad("system.%d.cache_control: invalid type", i)
		}
	}
}

func checkMessages(msgs []wireMessage, bad func(string, ...any)) {
	if len(msgs) == 0 {
		bad("messages: at least one message is required")
		return
	}
	if msgs[0].Role != "user" {
		bad("messages: first message must use the \"user\" role")
	}
	for i, m := range msgs {
		if m.Role != "user" && m.Role != "assistant" {
			bad("messages.%d.role: unexpected role %q", i, m.Role)
		}
		if i > 0 && msgs[i-1].Role == m.Role {
			bad("messages: roles must alternate between \"user\" and \"assistant\"")
		}
		if len(m.Content) == 0 {
			bad("messages.%d: content must not be empty", i)
		}

		// Tool results answer the calls of the turn just before, and come
		// first.
		calls := map[string]bool{}
		if i > 0 {
			for _, b := range msgs[i-1].Content {
				if b.Type == "tool_use" {
					calls[b.ID] = true
				}
			}
		}
		answered := map[string]bool{}
		seenOther := false
		for j, b := range m.Content {
			switch b.Type {
			case "text":
				if b.Text == nil || *b.Text == "" {
					bad("messages.%d.content.%d: text content blocks must be non-empty", i, j)
				}
				seenOther = true
			case "tool_use":
				if m.Role != "assistant" || b.ID == "" || !toolName.MatchString(b.Name) {
					bad("messages.%d.content.%d: invalid tool_use", i, j)
				}
				var input map[string]any
				if json.Unmarshal(b.Input, &input) != nil {
					bad("messages.%d.content.%d.input: must be an object", i, j)
				}
				seenOther = true
			case "tool_result":
				if m.Role != "user" || !calls[b.ToolUseID] {
					bad("messages.%d.content.%d: unexpected tool_use_id %q", i, j, b.ToolUseID)
				}
				if seenOther {
					bad("messages.%d: tool_result blocks must come first", i)
				}
				answered[b.ToolUseID] = true
			default:
				bad("messages.%d.content.%d: unexpected type %q", i, j, b.Type)
			}
		}
		if m.Role == "user" && i > 0 {
			for id := range calls {
				if !answered[id] {
					bad("messages.%d: tool_use id %s has no tool_result right after it", i, id)
				}
			}
		}
	}
}

// startFake starts a fake and a Provider pointed at it with the accepted
// key.
func startFake(t *testing.T, f *fakeAnthropic) *Provider {
	t.Helper()
	f.apiKey = testAPIKey
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return New(Config{Name: "anthropic", BaseURL: srv.URL + "/", APIKey: testAPIKey})
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	return b
}

// sseBody builds an event stream from name and data pairs.
func sseBody(pairs ...string) []byte {
	var b strings.Builder
	for i := 0; i+1 < len(pairs); i += 2 {
		fmt.Fprintf(&b, "event: %s\ndata: %s\n\n", pairs[i], pairs[i+1])
	}
	return []byte(b.String())
}

// Events of the documented stream shapes, for tests that build their own
// streams.
const (
	evMessageStart = `{"type":"message_start","message":{"id":"msg_01KeelEv","type":"message","role":"assistant",` +
		`"content":[],"model":"claude-sonnet-4-5-20250929","stop_reason":null,"stop_sequence":null,` +
		`"usage":{"input_tokens":40,"output_tokens":1}}}`
	evTextStart   = `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`
	evTextStop    = `{"type":"content_block_stop","index":0}`
	evMessageStop = `{"type":"message_stop"}`
	evEndTurn     = `{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":9}}`
)

func evText(index int, text string) string {
	b, _ := json.Marshal(map[string]any{
		"type": "content_block_delta", "index": index,
		"delta": map[string]any{"type": "text_delta", "text": text},
	})
	return string(b)
}

// evToolUseStop ends a message that called a tool.
const evToolUseStop = `{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":9}}`

// toolUseStream is a stream of one tool_use block, toolu_1 calling name,
// its input sent in the given fragments, ending as a tool call does.
func toolUseStream(name string, fragments ...string) []byte {
	pairs := []string{"message_start", evMessageStart, "content_block_start", evToolStart(0, "toolu_1", name)}
	for _, f := range fragments {
		pairs = append(pairs, "content_block_delta", evJSON(0, f))
	}
	pairs = append(pairs, "content_block_stop", evStop(0), "message_delta", evToolUseStop, "message_stop", evMessageStop)
	return sseBody(pairs...)
}

func evToolStart(index int, id, name string) string {
	b, _ := json.Marshal(map[string]any{
		"type": "content_block_start", "index": index,
		"content_block": map[string]any{"type": "tool_use", "id": id, "name": name, "input": map[string]any{}},
	})
	return string(b)
}

func evJSON(index int, partial string) string {
	b, _ := json.Marshal(map[string]any{
		"type": "content_block_delta", "index": index,
		"delta": map[string]any{"type": "input_json_delta", "partial_json": partial},
	})
	return string(b)
}

func evStop(index int) string {
	return fmt.Sprintf(`{"type":"content_block_stop","index":%d}`, index)
}

func evError(kind, message string) string {
	b, _ := json.Marshal(map[string]any{"type": "error", "error": map[string]any{"type": kind, "message": message}})
	return string(b)
}
