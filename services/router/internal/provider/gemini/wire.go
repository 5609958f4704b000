package gemini

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/keelhq/keel/services/router/internal/provider"
)

// The types below mirror the parts of the Gemini API (v1beta
// models.generateContent and models.streamGenerateContent) that the router
// uses. Field names follow the API's JSON (lowerCamelCase) form.

type generateRequest struct {
	Contents          []content         `json:"contents"`
	SystemInstruction *content          `json:"systemInstruction,omitempty"`
	Tools             []tool            `json:"tools,omitempty"`
	ToolConfig        *toolConfig       `json:"toolConfig,omitempty"`
	GenerationConfig  *generationConfig `json:"generationConfig,omitempty"`
}

// content is one turn of the conversation. Role is "user" or "model"; the
// system instruction has none.
type content struct {
	Role  string `json:"role,omitempty"`
	Parts []part `json:"parts"`
}

// part is one piece of a turn. Exactly one of Text, FunctionCall and
// FunctionResponse is set in what the router sends.
type part struct {
	Text string `json:"text,omitempty"`
	// Thought marks a summary of the model's reasoning, which is not part
	// of the reply.
	Thought bool `json:"thought,omitempty"`
	// ThoughtSignature is an opaque, base64-encoded token that Gemini 3
	// models attach to function calls and expect back with them.
	ThoughtSignature string            `json:"thoughtSignature,omitempty"`
	FunctionCall     *functionCall     `json:"functionCall,omitempty"`
	FunctionResponse *functionResponse `json:"functionResponse,omitempty"`
}

type functionCall struct {
	// ID is set by newer models; older ones send none.
	ID   string          `json:"id,omitempty"`
	Name string          `json:"name"`
	Args json.RawMessage `json:"args,omitempty"`
}

type functionResponse struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name"`
	// Response must be a JSON object.
	Response json.RawMessage `json:"response"`
}

type tool struct {
	FunctionDeclarations []functionDeclaration `json:"functionDeclarations"`
}

// functionDeclaration describes a tool. ParametersJSONSchema is the field
// that takes a full JSON Schema document; the older "parameters" field only
// takes Google's OpenAPI 3.0 subset, which would reject schemas the router
// accepts from callers. The two fields are mutually exclusive.
type functionDeclaration struct {
	Name                 string          `json:"name"`
	Description          string          `json:"description,omitempty"`
	ParametersJSONSchema json.RawMessage `json:"parametersJsonSchema,omitempty"`
}

type toolConfig struct {
	FunctionCallingConfig functionCallingConfig `json:"functionCallingConfig"`
}

type functionCallingConfig struct {
	// Mode is AUTO, ANY or NONE.
	Mode                 string   `json:"mode"`
	AllowedFunctionNames []string `json:"allowedFunctionNames,omitempty"`
}

// generationConfig holds the sampling and output settings.
//
// ResponseJSONSchema is used for structured output rather than
// responseSchema: responseJsonSchema accepts a JSON Schema document as it
// is, while responseSchema takes Google's OpenAPI 3.0 subset. Either needs
// responseMimeType "application/json", which is not sent beside function
// declarations; see schemaInPrompt.
type generationConfig struct {
	MaxOutputTokens    int             `json:"maxOutputTokens,omitempty"`
	Temperature        *float64        `json:"temperature,omitempty"`
	TopP               *float64        `json:"topP,omitempty"`
	StopSequences      []string        `json:"stopSequences,omitempty"`
	Seed               *int32          `json:"seed,omitempty"`
	ResponseMIMEType   string          `json:"responseMimeType,omitempty"`
	ResponseJSONSchema json.RawMessage `json:"responseJsonSchema,omitempty"`
}

// generateResponse is a whole reply, or one chunk of a streamed one. Error
// is set when the server reports a failure inside a stream.
type generateResponse struct {
	Candidates     []candidate     `json:"candidates"`
	PromptFeedback *promptFeedback `json:"promptFeedback"`
	UsageMetadata  *usageMetadata  `json:"usageMetadata"`
	ModelVersion   string          `json:"modelVersion"`
	ResponseID     string          `json:"responseId"`
	Error          *apiError       `json:"error"`
}

type candidate struct {
	Content      *content `json:"content"`
	FinishReason string   `json:"finishReason"`
	Index        int      `json:"index"`
}

// promptFeedback says why the prompt itself was blocked; BlockReason is set
// and there are no candidates when it was.
type promptFeedback struct {
	BlockReason string `json:"blockReason"`
}

// usageMetadata counts the tokens of a call. PromptTokenCount is the whole
// prompt, cached tokens included: CachedContentTokenCount is the part of it
// read from the cache. ThoughtsTokenCount is not part of
// CandidatesTokenCount.
type usageMetadata struct {
	PromptTokenCount        int64 `json:"promptTokenCount"`
	CandidatesTokenCount    int64 `json:"candidatesTokenCount"`
	CachedContentTokenCount int64 `json:"cachedContentTokenCount"`
	ThoughtsTokenCount      int64 `json:"thoughtsTokenCount"`
	TotalTokenCount         int64 `json:"totalTokenCount"`
}

// counted reports whether u carries any count; some chunks of a stream carry
// a usageMetadata object with none.
func (u *usageMetadata) counted() bool {
	return u != nil && (u.PromptTokenCount > 0 || u.CandidatesTokenCount > 0 ||
		u.ThoughtsTokenCount > 0 || u.TotalTokenCount > 0)
}

// skipSignature is the value Google documents for a function call part whose
// real thought signature is not at hand (history from another provider or
// client, or one that dropped it): the model then lacks its earlier
// reasoning, but Gemini 3 models accept the request instead of answering
// 400.
const skipSignature = "skip_thought_signature_validator"

// toGenerateRequest converts req into the wire format. It returns a
// *provider.Error of class ErrRequestRejected when a tool result answers no
// known call.
//
// Structured output goes in the generation config, or as the last paragraph
// of the system instruction when tools are declared too; see
// schemaInPrompt.
//
// The Gemini API has no per-request retention or prompt-cache setting:
// req.Retention cannot be passed on (see Provider.Retention), and Gemini
// caches repeated prompt prefixes implicitly, so req.PromptCache needs
// nothing sent. ParallelToolCalls has no Gemini equivalent either.
func toGenerateRequest(req provider.Request) (generateRequest, error) {
	out := generateRequest{Contents: []content{}}

	var system []string
	if req.Grounded {
		system = append(system, provider.GroundingPrompt(req.Passages))
	}

	// callNames finds the tool name of a RoleTool message, which carries
	// only the call's id; callOrder the call's place in the history, and
	// resultOrder the places of the calls a results turn answers.
	callNames := make(map[string]string)
	callOrder := make(map[string]int)
	resultOrder := make(map[int][]int)
	calls := 0
	for _, m := range req.Messages {
		switch m.Role {
		case provider.RoleSystem:
			if m.Content != "" {
				system = append(system, m.Content)
			}
		case provider.RoleUser:
			if m.Content == "" {
				// Gemini rejects a turn without parts; an empty one says
				// nothing anyway.
				continue
			}
			out.Contents = append(out.Contents, content{Role: "user", Parts: []part{{Text: m.Content}}})
		case provider.RoleAssistant:
			// Two assistant turns in a row are one model turn: Gemini wants
			// a function call right after a user or function-response turn.
			var c *content
			if n := len(out.Contents); n > 0 && out.Contents[n-1].Role == "model" {
				c = &out.Contents[n-1]
			} else {
				out.Contents = append(out.Contents, content{Role: "model"})
				c = &out.Contents[len(out.Contents)-1]
			}
			if m.Content != "" {
				c.Parts = append(c.Parts, part{Text: m.Content})
			}
			for _, call := range m.ToolCalls {
				callNames[call.ID] = call.Name
				callOrder[call.ID] = calls
				calls++
				fc := &functionCall{Name: functionName(call.Name), Args: argsObject(call.Arguments)}
				if !generatedID(call.ID) {
					fc.ID = call.ID
				}
				c.Parts = append(c.Parts, part{FunctionCall: fc, ThoughtSignature: call.Signature})
			}
			if len(c.Parts) == 0 {
				out.Contents = out.Contents[:len(out.Contents)-1]
			}
		case provider.RoleTool:
			name, ok := callNames[m.ToolCallID]
			if !ok {
				// Keel's own words about the caller's history.
				msg := "tool result answers no earlier tool call: " + strconv.Quote(shorten(m.ToolCallID))
				return generateRequest{}, &provider.Error{Class: provider.ErrRequestRejected, Message: msg, Reason: msg}
			}
			fr := &functionResponse{Name: functionName(name), Response: responseObject(m.Content)}
			if !generatedID(m.ToolCallID) {
				fr.ID = m.ToolCallID
			}
			rp := part{FunctionResponse: fr}
			// The results of parallel calls go back together in one turn,
			// in the order of the calls: without ids (Keel made them up)
			// Gemini pairs calls and results by name and position.
			if n := len(out.Contents); n > 0 && isToolResults(out.Contents[n-1]) {
				last := &out.Contents[n-1]
				order := resultOrder[n-1]
				at, _ := slices.BinarySearch(order, callOrder[m.ToolCallID])
				last.Parts = slices.Insert(last.Parts, at, rp)
				resultOrder[n-1] = slices.Insert(order, at, callOrder[m.ToolCallID])
				continue
			}
			out.Contents = append(out.Contents, content{Role: "user", Parts: []part{rp}})
			resultOrder[len(out.Contents)-1] = []int{callOrder[m.ToolCallID]}
		}
	}
	for i := range out.Contents {
		skipMissingSignature(&out.Contents[i])
	}
	if schemaInPrompt(req) {
		system = append(system, schemaInstruction(req.Schema))
	}
	if len(system) > 0 {
		out.SystemInstruction = &content{Parts: []part{{Text: strings.Join(system, "\n\n")}}}
	}

	if len(req.Tools) > 0 {
		decls := make([]functionDeclaration, 0, len(req.Tools))
		for _, t := range req.Tools {
			decls = append(decls, functionDeclaration{
				Name:                 functionName(t.Name),
				Description:          t.Description,
				ParametersJSONSchema: t.Parameters,
			})
		}
		out.Tools = []tool{{FunctionDeclarations: decls}}
	}
	out.ToolConfig = toToolConfig(req.ToolChoice)
	out.GenerationConfig = toGenerationConfig(req)
	return out, nil
}

// skipMissingSignature gives the first function call of a model turn
// skipSignature when no call of the turn carries a signature. Parallel
// calls carry one signature, on the first; a turn with one elsewhere (a
// history a client reordered) keeps it where it came and gets no
// skipSignature beside it, since the turn's reasoning is at hand.
func skipMissingSignature(c *content) {
	if c.Role != "model" {
		return
	}
	first := -1
	for i, p := range c.Parts {
		if p.FunctionCall == nil {
			continue
		}
		if p.ThoughtSignature != "" {
			return
		}
		if first < 0 {
			first = i
		}
	}
	if first >= 0 {
		c.Parts[first].ThoughtSignature = skipSignature
	}
}

// functionName is a tool's name as Gemini takes it: a name must start with
// a letter or _, where OpenAI's may start with a digit or -; those get a _
// in front, which toolName takes off the calls that come back.
func functionName(name string) string {
	if name != "" && (name[0] == '-' || name[0] >= '0' && name[0] <= '9') {
		return "_" + name
	}
	return name
}

// toolName is the caller's name of a function Gemini called: the one
// functionName gave it, or the name as it came.
func toolName(req provider.Request, called string) string {
	if strings.HasPrefix(called, "_") && !req.HasTool(called) && req.HasTool(called[1:]) && functionName(called[1:]) == called {
		return called[1:]
	}
	return called
}

func isToolResults(c content) bool {
	if c.Role != "user" || len(c.Parts) == 0 {
		return false
	}
	for _, p := range c.Parts {
		if p.FunctionResponse == nil {
			return false
		}
	}
	return true
}

// toToolConfig maps the router's tool choice: "auto", "required" (ANY),
// "none", or the name of the one tool the model must call.
func toToolConfig(choice string) *toolConfig {
	var cfg functionCallingConfig
	switch choice {
	case "":
		return nil
	case "auto":
		cfg.Mode = "AUTO"
	case "required":
		cfg.Mode = "ANY"
	case "none":
		cfg.Mode = "NONE"
	default:
		cfg.Mode = "ANY"
		cfg.AllowedFunctionNames = []string{functionName(choice)}
	}
	return &toolConfig{FunctionCallingConfig: cfg}
}

// toGenerationConfig returns nil when req sets nothing, so that the model's
// defaults apply.
func toGenerationConfig(req provider.Request) *generationConfig {
	cfg := generationConfig{
		MaxOutputTokens: max(req.MaxOutputTokens, 0),
		Temperature:     req.Temperature,
		TopP:            req.TopP,
		StopSequences:   req.Stop,
	}
	if req.Seed != nil {
		// Gemini's seed is a 32-bit integer; a wider seed is folded into
		// that range the same way every time, so it stays reproducible.
		seed := int32(*req.Seed)
		cfg.Seed = &seed
	}
	if req.Schema != nil && !schemaInPrompt(req) {
		cfg.ResponseMIMEType = "application/json"
		if len(bytes.TrimSpace(req.Schema.JSON)) > 0 {
			cfg.ResponseJSONSchema = req.Schema.JSON
		}
	}
	if cfg.MaxOutputTokens == 0 && cfg.Temperature == nil && cfg.TopP == nil &&
		len(cfg.StopSequences) == 0 && cfg.Seed == nil && cfg.ResponseMIMEType == "" {
		return nil
	}
	return &cfg
}

// schemaInPrompt reports whether the structured output req asks for is
// asked for in the system instruction instead of with responseMimeType and
// responseJsonSchema: Gemini 2.5 models refuse those beside function
// declarations ("Function calling with a response mime type:
// 'application/json' is unsupported"), and a caller that sends tools with a
// response schema wants either function calls or the structured answer. The
// model is then free to answer otherwise; the router checks every reply
// against the schema and asks once for a repair.
func schemaInPrompt(req provider.Request) bool {
	return req.Schema != nil && len(req.Tools) > 0
}

// schemaInstruction asks the model to answer with JSON valid against s,
// which it is shown compacted. An empty schema asks for a JSON object, as
// JSON mode does; so does one that is not JSON, which the router refuses
// before any provider is called.
func schemaInstruction(s *provider.Schema) string {
	const ask = "When you answer rather than call a function, reply with only one JSON value, " +
		"without code fences or any other text"
	var schema bytes.Buffer
	if json.Compact(&schema, s.JSON) != nil || schema.Len() == 0 {
		return ask + ": a JSON object."
	}
	return ask + ", that matches this JSON Schema:\n" + schema.String()
}

// argsObject returns the arguments of a replayed call as a JSON object:
// Gemini rejects anything else. Arguments that are empty or not an object
// (which the router never produces) become {}.
func argsObject(args string) json.RawMessage {
	if isJSONObject(args) {
		return json.RawMessage(args)
	}
	return json.RawMessage(`{}`)
}

// responseObject returns a tool result as the JSON object Gemini expects:
// an object as it is, any other JSON value or plain text under "result".
func responseObject(result string) json.RawMessage {
	if isJSONObject(result) {
		return json.RawMessage(result)
	}
	var value any = result
	if trimmed := strings.TrimSpace(result); trimmed != "" && json.Valid([]byte(trimmed)) {
		value = json.RawMessage(trimmed)
	}
	b, err := json.Marshal(map[string]any{"result": value})
	if err != nil {
		// Not reached: a string and a valid raw value always encode.
		return json.RawMessage(`{}`)
	}
	return b
}

func isJSONObject(s string) bool {
	s = strings.TrimSpace(s)
	return strings.HasPrefix(s, "{") && json.Valid([]byte(s))
}

// generatedID reports whether id is one Keel made up (provider.NewCallID),
// or numbered as this provider did before ("call_1", "call_2", ... still
// in histories), which Gemini never saw and must not be sent back.
func generatedID(id string) bool {
	n, ok := strings.CutPrefix(id, provider.MadeUpIDPrefix)
	if !ok || n == "" {
		return false
	}
	digits, hexDigits := true, len(n) == provider.MadeUpIDDigits
	for _, c := range n {
		digits = digits && c >= '0' && c <= '9'
		hexDigits = hexDigits && (c >= '0' && c <= '9' || c >= 'a' && c <= 'f')
	}
	return digits || hexDigits
}
