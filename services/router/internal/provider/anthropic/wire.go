package anthropic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/keelhq/keel/services/router/internal/provider"
)

// The types below mirror the parts of the Anthropic Messages API wire format
// (POST /v1/messages, version 2023-06-01) that the router uses.

// defaultMaxTokens is sent when the request sets no output cap, because the
// Messages API requires max_tokens.
const defaultMaxTokens = 4096

// defaultSchemaTool names the schema tool of a structured-output request
// whose schema has no usable name.
const defaultSchemaTool = "structured_output"

// Descriptions of the schema tool. The model is told to answer through it
// whether the tool is forced or offered beside the caller's tools; beside
// them it must also know that it may call those first.
const (
	schemaToolForced = "Give your whole answer as the input of this tool; it must match the input schema."
	schemaToolBeside = "When you answer rather than call another tool, give your whole answer as the " +
		"input of this tool; it must match the input schema."
)

// maxToolName is the longest tool name the API accepts.
const maxToolName = 64

// emptyObjectSchema is the input schema of a tool that takes no arguments.
var emptyObjectSchema = json.RawMessage(`{"type":"object","properties":{}}`)

// wrappedValueKey names the one property of the schema tool's input under
// which a structured reply travels when its schema is not an object schema;
// see schemaToolInput.
const wrappedValueKey = "value"

type messagesRequest struct {
	Model     string `json:"model"`
	MaxTokens int    `json:"max_tokens"`
	// System is a string, or an array of text blocks when one of them
	// carries a cache breakpoint.
	System        any         `json:"system,omitempty"`
	Messages      []message   `json:"messages"`
	Tools         []tool      `json:"tools,omitempty"`
	ToolChoice    *toolChoice `json:"tool_choice,omitempty"`
	Temperature   *float64    `json:"temperature,omitempty"`
	TopP          *float64    `json:"top_p,omitempty"`
	StopSequences []string    `json:"stop_sequences,omitempty"`
	Stream        bool        `json:"stream,omitempty"`

	// schemaWrapped is set when the schema tool's input holds the reply
	// under wrappedValueKey rather than being the reply; it is not sent.
	schemaWrapped bool
}

type message struct {
	Role    string         `json:"role"`
	Content []contentBlock `json:"content"`
}

// contentBlock is a text, tool_use or tool_result block, in requests and in
// responses.
type contentBlock struct {
	Type string `json:"type"`
	// Text is set for "text" blocks.
	Text string `json:"text,omitempty"`
	// ID, Name and Input are set for "tool_use" blocks.
	ID    string          `json:"id,omitempty"`
	Name  string          `json:"name,omitempty"`
	Input json.RawMessage `json:"input,omitempty"`
	// ToolUseID and Content are set for "tool_result" blocks.
	ToolUseID    string        `json:"tool_use_id,omitempty"`
	Content      string        `json:"content,omitempty"`
	CacheControl *cacheControl `json:"cache_control,omitempty"`
}

type cacheControl struct {
	Type string `json:"type"`
}

type tool struct {
	Name         string          `json:"name"`
	Description  string          `json:"description,omitempty"`
	InputSchema  json.RawMessage `json:"input_schema"`
	CacheControl *cacheControl   `json:"cache_control,omitempty"`
}

type toolChoice struct {
	// Type is "auto", "any", "tool" or "none".
	Type                   string `json:"type"`
	Name                   string `json:"name,omitempty"`
	DisableParallelToolUse bool   `json:"disable_parallel_tool_use,omitempty"`
}

// usage counts tokens. The fields are pointers because a message_delta event
// may carry only some of them; absent ones keep the values of message_start.
type usage struct {
	InputTokens              *int64 `json:"input_tokens"`
	OutputTokens             *int64 `json:"output_tokens"`
	CacheCreationInputTokens *int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     *int64 `json:"cache_read_input_tokens"`
}

// messageResponse is the body of a non-streamed reply and the message of a
// message_start event.
type messageResponse struct {
	Type       string         `json:"type"`
	Model      string         `json:"model"`
	Content    []contentBlock `json:"content"`
	StopReason string         `json:"stop_reason"`
	Usage      *usage         `json:"usage"`
	// Error is set when the body is an error object after all.
	Error *apiError `json:"error"`
}

// streamEvent is the data of one event of a streamed reply; which fields are
// set depends on Type.
type streamEvent struct {
	Type         string           `json:"type"`
	Message      *messageResponse `json:"message"`
	Index        *int             `json:"index"`
	ContentBlock *contentBlock    `json:"content_block"`
	Delta        *eventDelta      `json:"delta"`
	Usage        *usage           `json:"usage"`
	Error        *apiError        `json:"error"`
}

// eventDelta is the delta of a content_block_delta event (Type "text_delta"
// or "input_json_delta") or of a message_delta event (StopReason).
type eventDelta struct {
	Type        string `json:"type"`
	Text        string `json:"text"`
	PartialJSON string `json:"partial_json"`
	StopReason  string `json:"stop_reason"`
}

// apiError is the error object of an error body or event:
// {"type":"error","error":{"type":"rate_limit_error","message":"..."}}.
type apiError struct {
	Type    string `json:"type"`
	Message string `json:"message"`
	Details struct {
		ErrorCode string `json:"error_code"`
	} `json:"details"`
}

type errorBody struct {
	Error *apiError `json:"error"`
}

// toMessagesRequest converts req into the wire format.
//
// System messages, after the grounding instructions of a grounded request,
// become the top-level system prompt; the other turns become alternating
// user and assistant messages, tool results going into user turns. With
// req.Schema the reply is requested through a tool, forced or offered
// beside the caller's, see schemaToolName. req.Seed has no counterpart in the Messages API and is not
// sent; neither is req.Retention (see the package comment). Sampling
// parameters the API refuses in OpenAI's form are adapted, see
// samplingParameters. It fails only when an assistant tool call in the
// history carries arguments that are not a JSON object.
func toMessagesRequest(req provider.Request, stream bool) (messagesRequest, error) {
	out := messagesRequest{
		Model:     req.Model,
		MaxTokens: req.MaxOutputTokens,
		Stream:    stream,
	}
	if out.MaxTokens <= 0 {
		out.MaxTokens = defaultMaxTokens
	}
	out.Temperature, out.TopP, out.StopSequences = samplingParameters(req)
	out.System = systemPrompt(req)

	var ids toolIDs
	for _, m := range req.Messages {
		if m.Role == provider.RoleSystem {
			continue
		}
		role, blocks, err := toBlocks(m, &ids)
		if err != nil {
			return messagesRequest{}, err
		}
		if len(blocks) == 0 {
			continue
		}
		// The API wants user and assistant turns to alternate: a turn of the
		// same role as the one before joins it.
		if n := len(out.Messages); n > 0 && out.Messages[n-1].Role == role {
			out.Messages[n-1].Content = appendBlocks(out.Messages[n-1].Content, blocks)
			continue
		}
		out.Messages = append(out.Messages, message{Role: role, Content: blocks})
	}

	for _, t := range req.Tools {
		schema := toolInputSchema(t.Parameters)
		out.Tools = append(out.Tools, tool{Name: t.Name, Description: t.Description, InputSchema: schema})
	}
	if req.Schema != nil {
		schema, wrapped := schemaToolInput(req.Schema)
		out.schemaWrapped = wrapped
		description := schemaToolForced
		if schemaBesideTools(req) {
			description = schemaToolBeside
		}
		out.Tools = append(out.Tools, tool{
			Name:        schemaToolName(req),
			Description: description,
			InputSchema: schema,
		})
	}
	if req.PromptCache && out.System == nil && len(out.Tools) > 0 {
		// Without a system prompt to carry the breakpoint, the last tool
		// does: the tools are the prefix to cache.
		out.Tools[len(out.Tools)-1].CacheControl = &cacheControl{Type: "ephemeral"}
	}
	out.ToolChoice = toToolChoice(req, len(out.Tools) > 0)
	return out, nil
}

// samplingParameters returns the temperature, top_p and stop sequences to
// send for the OpenAI-style parameters of req.
//
// The temperature goes as the caller gave it, even above 1, where OpenAI
// takes up to 2 and Anthropic refuses: the refusal's reason reaches the
// caller, which is better than sampling otherwise than asked without a
// word.
//
// With both temperature and top_p set only the temperature goes: Claude
// models from Sonnet 4.5 on refuse the two together ("temperature and top_p
// cannot both be specified for this model"), and Anthropic advises
// altering one or the other on every model. The temperature is the one
// OpenAI callers usually mean; top_p is often sent only as a default.
//
// Stop sequences that are empty or only white space are dropped: OpenAI
// clients often send "\n", which the API refuses ("each stop sequence must
// contain non-whitespace") and would fail the whole request for. The reply
// then runs past such a sequence rather than stopping at it.
func samplingParameters(req provider.Request) (temperature, topP *float64, stop []string) {
	temperature, topP = req.Temperature, req.TopP
	if temperature != nil && topP != nil {
		topP = nil
	}
	for _, s := range req.Stop {
		if strings.TrimSpace(s) != "" {
			stop = append(stop, s)
		}
	}
	return temperature, topP, stop
}

// systemPrompt returns the system parameter: nil when there is no system
// text, a string normally, and an array of text blocks with a cache
// breakpoint on the last one when req.PromptCache is set, so that the
// provider caches the tools and the system prompt as a prefix.
func systemPrompt(req provider.Request) any {
	var parts []string
	if req.Grounded {
		parts = append(parts, provider.GroundingPrompt(req.Passages))
	}
	for _, m := range req.Messages {
		if m.Role == provider.RoleSystem && strings.TrimSpace(m.Content) != "" {
			parts = append(parts, m.Content)
		}
	}
	if len(parts) == 0 {
		return nil
	}
	if !req.PromptCache {
		return strings.Join(parts, "\n\n")
	}
	blocks := make([]contentBlock, len(parts))
	for i, p := range parts {
		blocks[i] = contentBlock{Type: "text", Text: p}
	}
	blocks[len(blocks)-1].CacheControl = &cacheControl{Type: "ephemeral"}
	return blocks
}

// toBlocks returns the wire role and content blocks of a user, assistant or
// tool message. Text that is empty or only white space makes no block,
// since the API rejects such text blocks. ids gives tool calls and their
// results the ids the API takes.
func toBlocks(m provider.Message, ids *toolIDs) (string, []contentBlock, error) {
	switch m.Role {
	case provider.RoleTool:
		return "user", []contentBlock{{Type: "tool_result", ToolUseID: ids.result(m.ToolCallID), Content: m.Content}}, nil
	case provider.RoleAssistant:
		var blocks []contentBlock
		if strings.TrimSpace(m.Content) != "" {
			blocks = append(blocks, contentBlock{Type: "text", Text: m.Content})
		}
		for _, c := range m.ToolCalls {
			input := json.RawMessage(strings.TrimSpace(c.Arguments))
			if len(input) == 0 {
				input = json.RawMessage("{}")
			}
			if !isJSONObject(string(input)) {
				// Keel's own words about the caller's history: the caller
				// may read them.
				msg := fmt.Sprintf("the arguments of tool call %.64q are not a JSON object, which Anthropic requires", c.ID)
				return "", nil, &provider.Error{Class: provider.ErrRequestRejected, Message: msg, Reason: msg}
			}
			blocks = append(blocks, contentBlock{Type: "tool_use", ID: ids.call(c.ID), Name: c.Name, Input: input})
		}
		return "assistant", blocks, nil
	default:
		if strings.TrimSpace(m.Content) == "" {
			return "user", nil, nil
		}
		return "user", []contentBlock{{Type: "text", Text: m.Content}}, nil
	}
}

// toolIDs maps the ids of a history's tool calls to ids the API takes:
// only letters, digits, _ and -, and each tool_use id once in a request.
// Histories from other servers break both rules (ids like
// "functions.get_weather:0", or call_0 again in every turn). A result takes
// the id its call was last given, which is the call it answers: results
// follow their calls.
type toolIDs struct {
	given map[string]string // a history's id: the id sent for it
	used  map[string]bool   // ids sent
}

// call returns the id to send for a tool call with the history's id.
func (t *toolIDs) call(id string) string {
	if t.given == nil {
		t.given, t.used = make(map[string]string), make(map[string]bool)
	}
	sent := sanitizeID(id)
	for n := 2; t.used[sent]; n++ {
		sent = fmt.Sprintf("%s_%d", sanitizeID(id), n)
	}
	t.given[id], t.used[sent] = sent, true
	return sent
}

// result returns the id to send for the result of the call with the
// history's id.
func (t *toolIDs) result(id string) string {
	if sent, ok := t.given[id]; ok {
		return sent
	}
	// A result for a call the history does not hold: the API refuses it,
	// with its own words, under an id it can read.
	return sanitizeID(id)
}

// sanitizeID replaces what the API does not take in an id with _.
func sanitizeID(id string) string {
	if id == "" {
		return "call"
	}
	return strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return r
		}
		return '_'
	}, id)
}

// appendBlocks adds blocks to the content of a merged turn, keeping every
// tool_result block ahead of the other blocks as the API expects.
func appendBlocks(content, blocks []contentBlock) []contentBlock {
	all := append(content[:len(content):len(content)], blocks...)
	merged := make([]contentBlock, 0, len(all))
	for _, b := range all {
		if b.Type == "tool_result" {
			merged = append(merged, b)
		}
	}
	for _, b := range all {
		if b.Type != "tool_result" {
			merged = append(merged, b)
		}
	}
	return merged
}

// toToolChoice maps the router's tool choice. No tool_choice is sent without
// tools. A structured-output request forces its schema tool unless the
// schema tool goes beside the caller's tools (see schemaBesideTools); then
// the caller's choice applies to all of them, and "required" (any) is met
// by an answer through the schema tool too. disable_parallel_tool_use is
// sent when parallel calls are turned off (the "none" choice has no such
// field), and always for the forced schema tool so that the reply is one
// value.
func toToolChoice(req provider.Request, haveTools bool) *toolChoice {
	if !haveTools {
		return nil
	}
	noParallel := req.ParallelToolCalls != nil && !*req.ParallelToolCalls

	var tc toolChoice
	switch {
	case req.Schema != nil && !schemaBesideTools(req):
		return &toolChoice{Type: "tool", Name: schemaToolName(req), DisableParallelToolUse: true}
	case req.ToolChoice == "":
		if !noParallel {
			return nil
		}
		tc = toolChoice{Type: "auto"}
	case req.ToolChoice == "auto":
		tc = toolChoice{Type: "auto"}
	case req.ToolChoice == "required":
		tc = toolChoice{Type: "any"}
	case req.ToolChoice == "none":
		return &toolChoice{Type: "none"}
	default:
		tc = toolChoice{Type: "tool", Name: req.ToolChoice}
	}
	tc.DisableParallelToolUse = noParallel
	return &tc
}

// schemaBesideTools reports whether the schema tool of a structured-output
// request is offered beside the caller's tools rather than forced. A forced
// schema tool would leave the model no way to call the caller's tools,
// while OpenAI callers that send tools with a response schema expect either
// tool calls or the structured answer. With "none" the caller's tools may
// not be called, so the schema tool stays forced.
func schemaBesideTools(req provider.Request) bool {
	return req.Schema != nil && len(req.Tools) > 0 && req.ToolChoice != "none"
}

// schemaToolName returns the name of the tool that carries a structured
// reply: the schema's name with every character the API does not
// allow in tool names replaced by '_', cut to 64 bytes, or
// "structured_output" when that is empty or is already the name of one of
// req.Tools, followed by _2, _3 and so on while that is one of them too:
// the API refuses two tools of one name, and a call of the caller's tool
// would be taken for the structured reply.
//
// The classic Messages API has no JSON-schema response format. A
// structured-output request therefore offers one more tool, whose input
// schema is the requested schema (wrapped in an object when it is not an
// object schema, see schemaToolInput), and forces the model to call it, or
// offers it beside the caller's tools (see schemaBesideTools); the tool's
// input is the reply. That tool call is returned as the Text of the
// Response, not as a ToolCall. A model that is not forced may answer in
// plain text instead, which the router checks against the schema as it
// checks any reply.
func schemaToolName(req provider.Request) string {
	if req.Schema == nil {
		return ""
	}
	name := []byte(req.Schema.Name)
	for i, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			name[i] = '_'
		}
	}
	if len(name) > maxToolName {
		name = name[:maxToolName]
	}
	if len(name) > 0 && !req.HasTool(string(name)) {
		return string(name)
	}
	fallback := defaultSchemaTool
	for n := 2; req.HasTool(fallback); n++ {
		fallback = defaultSchemaTool + "_" + strconv.Itoa(n)
	}
	return fallback
}

// toolInputSchema returns a tool's parameters as the API wants its
// input_schema: an object schema. No parameters, or {} as OpenAI callers
// send for a tool without arguments, is an object without properties; a
// schema that names no type is given type object, which arguments always
// are. A schema of another type goes as it is, for the API to refuse with
// its reason: arguments that are not an object make no tool call.
func toolInputSchema(params json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(params)) == 0 {
		return emptyObjectSchema
	}
	var root map[string]json.RawMessage
	if json.Unmarshal(params, &root) != nil {
		// Not an object, or not JSON: encoding the request fails on it or
		// the API refuses it, as before.
		return params
	}
	if len(root) == 0 {
		return emptyObjectSchema
	}
	if _, ok := root["type"]; ok {
		return params
	}
	root["type"] = json.RawMessage(`"object"`)
	b, err := json.Marshal(root)
	if err != nil {
		return params
	}
	return b
}

// schemaToolInput returns the input schema of the schema tool for s, and
// whether it wraps s.
//
// The API takes only object schemas as a tool's input_schema, while a
// structured reply may be an array, a string or any other value. A schema
// whose root is not of type object is therefore wrapped: the tool's input
// is an object whose one required property, wrappedValueKey, holds the
// reply and has s as its schema; unwrapValue takes the reply back out. An
// empty schema asks for any object.
func schemaToolInput(s *provider.Schema) (json.RawMessage, bool) {
	if len(bytes.TrimSpace(s.JSON)) == 0 {
		return emptyObjectSchema, false
	}
	var root struct {
		Type json.RawMessage `json:"type"`
	}
	if json.Unmarshal(s.JSON, &root) == nil && string(bytes.TrimSpace(root.Type)) == `"object"` {
		return s.JSON, false
	}
	wrapper, err := wrapSchema(s.JSON)
	if err != nil {
		// s is not JSON: encoding the request fails on it, as before.
		return s.JSON, false
	}
	return wrapper, true
}

// wrapSchema puts schema under the wrapping object's wrappedValueKey. Its
// definitions move to the wrapper's root and its local references are
// rebased on their new place, so that "#/$defs/item" and "#" still point
// where they did.
func wrapSchema(schema json.RawMessage) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(schema))
	dec.UseNumber() // numbers go on as written
	var inner any
	if err := dec.Decode(&inner); err != nil {
		return nil, err
	}
	wrapper := map[string]any{
		"type":                 "object",
		"required":             []string{wrappedValueKey},
		"additionalProperties": false,
	}
	if m, ok := inner.(map[string]any); ok {
		for _, k := range []string{"$defs", "definitions"} {
			if defs, ok := m[k]; ok {
				delete(m, k)
				wrapper[k] = rebaseRefs(defs)
			}
		}
		// The document's identity and dialect are the wrapper's now:
		// references resolve against the root that holds the definitions.
		for _, k := range []string{"$id", "$schema"} {
			if v, ok := m[k]; ok {
				delete(m, k)
				wrapper[k] = v
			}
		}
	}
	wrapper["properties"] = map[string]any{wrappedValueKey: rebaseRefs(inner)}
	return json.Marshal(wrapper)
}

// rebaseRefs rewrites, in place, the local "$ref"s of a schema moved under
// the wrapper's properties.value: those into the definitions, which moved
// to the wrapper's root, stay as they are.
func rebaseRefs(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, sub := range v {
			if ref, ok := sub.(string); ok && k == "$ref" {
				v[k] = rebasedRef(ref)
				continue
			}
			rebaseRefs(sub)
		}
	case []any:
		for _, sub := range v {
			rebaseRefs(sub)
		}
	}
	return v
}

func rebasedRef(ref string) string {
	const base = "#/properties/" + wrappedValueKey
	switch {
	case ref == "#":
		return base
	case strings.HasPrefix(ref, "#/$defs/"), strings.HasPrefix(ref, "#/definitions/"):
		return ref
	case strings.HasPrefix(ref, "#/"):
		return base + ref[1:]
	}
	return ref
}

// unwrapValue returns, as compact JSON, the reply held under
// wrappedValueKey in the input of a wrapping schema tool. A model that left
// it out broke the tool's schema, as a server error would.
func unwrapValue(input string) (string, error) {
	var wrapper map[string]json.RawMessage
	if err := json.Unmarshal([]byte(input), &wrapper); err != nil {
		return "", malformed("structured reply is not a JSON object", err)
	}
	value, ok := wrapper[wrappedValueKey]
	if !ok {
		return "", malformed("structured reply lacks its "+wrappedValueKey+" property", nil)
	}
	return compactJSON(string(value)), nil
}

// finishReason maps a stop_reason onto the router's finish reasons, the
// only ones callers expect. "refusal" never gets here: it becomes an
// ErrContentRefused error. A tool_use stop that only called the schema tool
// of a structured-output request is a normal stop.
//
// pause_turn (a server tool's loop paused; the turn goes on once the reply
// is sent back) is an unfinished reply, as length is, so that no caller
// takes it for whole. A stop_reason added after this was written is a stop,
// or tool_calls when the reply asks for tools: the reply ended, and nothing
// more is known of it.
func finishReason(stopReason string, reportedCalls int, structured bool) provider.FinishReason {
	switch stopReason {
	case "", "end_turn", "stop_sequence":
		return provider.FinishStop
	case "max_tokens", "model_context_window_exceeded", "pause_turn":
		return provider.FinishLength
	case "tool_use":
		if structured && reportedCalls == 0 {
			return provider.FinishStop
		}
		return provider.FinishToolCalls
	}
	if reportedCalls > 0 {
		return provider.FinishToolCalls
	}
	return provider.FinishStop
}
