package routing

import (
	"bytes"
	"cmp"
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/keelhq/keel/services/router/internal/provider"
)

// Structured output: a call whose request carries a provider.Schema gets
// a reply that is one JSON value valid against that schema, or an error.
// Providers that support schemas natively are asked for one; whatever they
// answer is checked here, because native support is often lax (OpenAI's
// non-strict mode, prompts for the rest) and the local provider ignores
// schemas altogether.

// ErrOverran ends a streamed call whose provider went on far past the
// max_tokens it was sent; its words are Keel's, safe to show the caller.
var ErrOverran = provider.ErrOverran

// ErrSchemaMismatch is returned when the model's reply did not match the
// request's response schema, even after one repair attempt.
var ErrSchemaMismatch = errors.New("model output did not match the response schema after one repair")

// ErrOutputTruncated is returned when the reply of a call with a response
// schema was cut off by the token limit. It is never repaired: the limit
// would cut the second reply as well, and a guess at the rest of the value
// is not the model's answer.
var ErrOutputTruncated = errors.New("structured output cut off by the token limit")

// ErrInvalidSchema is returned, together with provider.ErrRequestRejected,
// when the request's response schema is not a JSON Schema the router can
// use: not valid against its metaschema, or referring to other documents.
var ErrInvalidSchema = errors.New("invalid response schema")

// Bounds of structured output handling.
const (
	// schemaCacheSize is how many compiled schemas are kept, least
	// recently used out first.
	schemaCacheSize = 256
	// repairDetailMax bounds the validation error shown to the model in a
	// repair request.
	repairDetailMax = 1 << 10
	// schemaDetailMax bounds the description of a refused schema.
	schemaDetailMax = 512
	// extractMaxStarts bounds the candidate starts extractJSON tries, which
	// keeps pathological text (thousands of unclosed brackets) linear.
	extractMaxStarts = 128
)

// schemaResource is the URL the request's schema is compiled under; it
// never leaves the process.
const schemaResource = "urn:keel:response-schema"

// tryStructured is tryCandidates for a call whose request has a response
// schema; without one it is tryCandidates itself.
//
// The schema is compiled first (a refused one fails the call before any
// provider is called). A reply cut off by the token limit is
// ErrOutputTruncated; a reply withheld under the provider's content policy
// is provider.ErrContentRefused. Otherwise the first JSON object or array
// of the reply, without code fences and prose, is validated; a valid one
// becomes the reply's text, compacted. An invalid one is repaired once: the
// same request, with the model's reply and the validation error appended,
// goes through the route's candidates again (with their retries, breakers
// and failover, so that a transient failure of the candidate that answered
// does not turn into a mismatch; the order is the same, so it is normally
// the same model that corrects itself). The second reply is checked the
// same way and ErrSchemaMismatch ends the call when it fails too. The
// result sums the usage, cost and attempts of both replies.
//
// A reply that asks for tools is passed on unchecked: the answer the
// schema describes comes in a later turn.
//
// A streamed call cannot be validated before its bytes reach the caller,
// so its providers are called without streaming (the attempt and idle
// timeouts apply; the first-token timeout, which is about what a caller
// sees first, does not) and the validated JSON goes out as one text delta,
// followed by any tool calls. Nothing reaches the caller before that, so
// the router fails over from any provider failure, and the route's
// fallback may still answer.
func (r *Router) tryStructured(
	ctx, callerCtx context.Context,
	call Call,
	routeName string,
	route Route,
	t string,
	req provider.Request,
) (attemptOutcome, error) {
	if req.Schema == nil {
		return r.tryCandidates(ctx, callerCtx, call, routeName, route, t, req)
	}
	sch, err := compileSchema(req.Schema.JSON)
	if err != nil {
		return attemptOutcome{}, err
	}
	// The attempts are not streamed: the caller gets the reply once it is
	// checked.
	caller := call
	call.Emit, call.Started = nil, nil

	first, err := r.tryCandidates(ctx, callerCtx, call, routeName, route, t, req)
	if err != nil {
		return first, err
	}
	text, passed, err := checkReply(sch, first)
	if err == nil {
		return deliver(first, text, passed, caller)
	}
	var invalid *invalidReply
	if !errors.As(err, &invalid) {
		return first, err
	}

	second, err := r.tryCandidates(ctx, callerCtx, call, routeName, route, t, repairRequest(req, first.Response, invalid))
	if err != nil {
		// Nothing of the repair was paid for: the record names the
		// candidate that was.
		second.Provider, second.Model = "", ""
	}
	out := sumOutcomes(first, second)
	if err != nil {
		return out, fmt.Errorf("schema repair: %w", err)
	}
	text, passed, err = checkReply(sch, second)
	if err != nil {
		if errors.As(err, &invalid) {
			return out, &SchemaMismatchError{Where: invalid.where}
		}
		return out, err
	}
	out.Repaired = true
	return deliver(out, text, passed, caller)
}

// invalidReply is a reply that did not match the schema: what to tell the
// model, and where it failed without quoting the reply (for errors and
// logs, which must not hold model output).
type invalidReply struct {
	detail string
	where  string
}

func (e *invalidReply) Error() string { return "reply does not match the response schema: " + e.where }

// SchemaMismatchError is ErrSchemaMismatch with where the repaired reply
// failed: the schema's keyword locations, never the reply itself.
type SchemaMismatchError struct {
	Where string
}

func (e *SchemaMismatchError) Error() string { return ErrSchemaMismatch.Error() + ": " + e.Where }

// Is makes a SchemaMismatchError match ErrSchemaMismatch.
func (e *SchemaMismatchError) Is(target error) bool { return target == ErrSchemaMismatch }

// checkReply checks the reply of out against sch. It returns the reply's
// compact JSON; passed is set, with the text as it is, for a reply that
// asks for tools and is not checked. A reply that fails validation is an
// *invalidReply.
func checkReply(sch *jsonschema.Schema, out attemptOutcome) (text string, passed bool, err error) {
	resp := out.Response
	switch {
	case resp.FinishReason == provider.FinishLength:
		return "", false, fmt.Errorf("provider %s: %w", out.Provider, ErrOutputTruncated)
	case resp.FinishReason == provider.FinishContentFilter:
		return "", false, &provider.Error{
			Class:   provider.ErrContentRefused,
			Message: "structured output withheld under the provider's content policy",
		}
	case len(resp.ToolCalls) > 0:
		return resp.Text, true, nil
	}
	text, err = extractJSON(resp.Text)
	if err != nil {
		return "", false, &invalidReply{detail: "the reply holds no complete JSON object or array", where: "no JSON value"}
	}
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
	if err != nil {
		// extractJSON returns valid JSON only; this is a number or
		// nesting the decoder refuses.
		return "", false, &invalidReply{detail: "the JSON could not be read: " + err.Error(), where: "unreadable JSON"}
	}
	if err := sch.Validate(v); err != nil {
		return "", false, validationFailure(err)
	}
	return text, false, nil
}

// validationFailure describes a failed validation: every failed keyword
// with the value's location for the model, bounded, and the schema
// locations only for the error.
func validationFailure(err error) *invalidReply {
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		return &invalidReply{detail: bound(err.Error(), repairDetailMax), where: "validation failed"}
	}
	var details, where []string
	for _, u := range verr.BasicOutput().Errors {
		if u.Error == nil {
			continue
		}
		loc := u.InstanceLocation
		if loc == "" {
			loc = "/"
		}
		details = append(details, fmt.Sprintf("at %s: %s", loc, u.Error))
		kw := cmp.Or(u.KeywordLocation, "/")
		if !slices.Contains(where, kw) && len(where) < 5 {
			where = append(where, kw)
		}
	}
	if len(details) == 0 {
		details = []string{verr.Error()}
	}
	return &invalidReply{
		detail: bound(strings.Join(details, "; "), repairDetailMax),
		where:  "failed " + cmp.Or(strings.Join(where, ", "), "/"),
	}
}

// repairRequest is req with the model's invalid reply and the validation
// error appended, asking for the corrected JSON.
func repairRequest(req provider.Request, prev provider.Response, invalid *invalidReply) provider.Request {
	reply := prev.Text
	if strings.TrimSpace(reply) == "" {
		// Some providers refuse an empty assistant turn.
		reply = "(empty reply)"
	}
	req.Messages = append(slices.Clip(req.Messages),
		provider.Message{Role: provider.RoleAssistant, Content: reply},
		provider.Message{
			Role: provider.RoleUser,
			Content: "Your reply did not match the JSON Schema: " + invalid.detail +
				". Reply again with only the corrected JSON.",
		},
	)
	return req
}

// sumOutcomes is the outcome of a repaired call: the second reply, with the
// usage, cost and attempts of both.
func sumOutcomes(first, second attemptOutcome) attemptOutcome {
	out := second
	if out.Provider == "" {
		// The repair failed before any reply: the record names the
		// candidate that was paid.
		out.Provider, out.Model = first.Provider, first.Model
		out.Response.Model = first.Response.Model
	}
	u, v := first.Response.Usage, second.Response.Usage
	out.Response.Usage = provider.Usage{
		InputTokens:       u.InputTokens + v.InputTokens,
		OutputTokens:      u.OutputTokens + v.OutputTokens,
		CachedInputTokens: u.CachedInputTokens + v.CachedInputTokens,
		CacheWriteTokens:  u.CacheWriteTokens + v.CacheWriteTokens,
		Estimated:         u.Estimated || v.Estimated,
	}
	out.CostMicros = first.CostMicros + second.CostMicros
	out.Attempts = first.Attempts + second.Attempts
	return out
}

// deliver sets the checked text as the reply and, for a streamed call,
// tells the caller who answered and hands it the text in one piece, then
// the tool calls.
func deliver(out attemptOutcome, text string, passed bool, caller Call) (attemptOutcome, error) {
	out.Response.Text = text
	emit := caller.Emit
	if emit == nil {
		return out, nil
	}
	out.streamed = true
	if err := caller.started(StreamStart{Provider: out.Provider, Model: out.Model}); err != nil {
		return out, err
	}
	if text != "" {
		if err := emit(provider.Delta{Text: text}); err != nil {
			return out, err
		}
	}
	if passed {
		for i := range out.Response.ToolCalls {
			if err := emit(provider.Delta{ToolCall: &out.Response.ToolCalls[i]}); err != nil {
				return out, err
			}
		}
	}
	return out, nil
}

// CheckSchema reports whether schema is a JSON Schema the router accepts
// as a response schema; the error wraps ErrInvalidSchema and
// provider.ErrRequestRejected and says what is wrong.
func CheckSchema(schema json.RawMessage) error {
	_, err := compileSchema(schema)
	return err
}

// schemaError is a refused response schema.
type schemaError struct{ detail string }

func (e *schemaError) Error() string { return ErrInvalidSchema.Error() + ": " + e.detail }

func (e *schemaError) Unwrap() []error { return []error{ErrInvalidSchema, provider.ErrRequestRejected} }

// schemas caches compiled response schemas for every Router; a compiled
// schema depends on its bytes only.
var schemas = newSchemaCache(schemaCacheSize)

// compileSchema returns the compiled schema, from the cache when the same
// bytes were compiled before.
func compileSchema(schema json.RawMessage) (*jsonschema.Schema, error) {
	key := sha256.Sum256(schema)
	if sch, err, ok := schemas.get(key); ok {
		return sch, err
	}
	// Two calls may compile the same schema at once; both get the one
	// that was stored first.
	sch, err := compileUncached(schema)
	return schemas.put(key, sch, err)
}

func compileUncached(schema json.RawMessage) (*jsonschema.Schema, error) {
	if len(schema) > maxSchemaBytes {
		return nil, &schemaError{detail: fmt.Sprintf("larger than %d bytes", maxSchemaBytes)}
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		return nil, &schemaError{detail: "not valid JSON: " + err.Error()}
	}
	if _, ok := doc.(map[string]any); !ok {
		// true and false are schemas, but no provider takes them, and
		// false would have every reply fail after a paid repair.
		return nil, &schemaError{detail: "the schema must be a JSON object"}
	}
	if err := checkSchemaShape(doc); err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	// The schema comes from a caller: it must not make the router read
	// files or fetch URLs. The metaschemas are built in.
	c.UseLoader(refusingLoader{})
	if err := c.AddResource(schemaResource, doc); err != nil {
		return nil, &schemaError{detail: err.Error()}
	}
	sch, err := c.Compile(schemaResource)
	if err != nil {
		return nil, &schemaError{detail: describeSchemaError(err)}
	}
	return sch, nil
}

// describeSchemaError puts a compiler error on one line, bounded.
func describeSchemaError(err error) string {
	msg := strings.ReplaceAll(err.Error(), `"`+schemaResource+`#" `, "the schema ")
	lines := strings.Split(msg, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(strings.TrimSpace(l), "- ")
	}
	return bound(strings.Join(lines, "; "), schemaDetailMax)
}

// Bounds of a response schema, checked before it is compiled: a caller's
// schema must not make the router spend seconds or gigabytes compiling it
// (deep nesting and many patterns are what the compiler pays most for).
const (
	maxSchemaBytes    = 64 << 10
	maxSchemaDepth    = 32
	maxSchemaNodes    = 4096
	maxSchemaPatterns = 64
	maxPatternLen     = 512
)

// checkSchemaShape walks the decoded schema and refuses one beyond the
// bounds above.
func checkSchemaShape(doc any) error {
	var nodes, patterns int
	var walk func(v any, depth int) error
	walk = func(v any, depth int) error {
		if depth > maxSchemaDepth {
			return &schemaError{detail: fmt.Sprintf("nested deeper than %d", maxSchemaDepth)}
		}
		nodes++
		if nodes > maxSchemaNodes {
			return &schemaError{detail: fmt.Sprintf("more than %d values", maxSchemaNodes)}
		}
		switch v := v.(type) {
		case map[string]any:
			for k, child := range v {
				if k == "pattern" {
					p, _ := child.(string)
					if patterns++; patterns > maxSchemaPatterns || len(p) > maxPatternLen {
						return &schemaError{detail: fmt.Sprintf("at most %d patterns of %d bytes", maxSchemaPatterns, maxPatternLen)}
					}
				}
				if k == "patternProperties" {
					if m, ok := child.(map[string]any); ok {
						for p := range m {
							if patterns++; patterns > maxSchemaPatterns || len(p) > maxPatternLen {
								return &schemaError{detail: fmt.Sprintf("at most %d patterns of %d bytes", maxSchemaPatterns, maxPatternLen)}
							}
						}
					}
				}
				if err := walk(child, depth+1); err != nil {
					return err
				}
			}
		case []any:
			for _, child := range v {
				if err := walk(child, depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(doc, 0)
}

// refusingLoader refuses every document a schema refers to.
type refusingLoader struct{}

func (refusingLoader) Load(string) (any, error) {
	return nil, errors.New("references to other documents are not allowed")
}

// schemaCache is a least-recently-used cache of compiled schemas (and of
// refusals), safe for concurrent use.
type schemaCache struct {
	size int

	mu      sync.Mutex
	entries map[[sha256.Size]byte]*list.Element
	order   *list.List // of *schemaEntry, most recent at the front
}

type schemaEntry struct {
	key    [sha256.Size]byte
	schema *jsonschema.Schema
	err    error
}

func newSchemaCache(size int) *schemaCache {
	return &schemaCache{size: size, entries: make(map[[sha256.Size]byte]*list.Element), order: list.New()}
}

func (c *schemaCache) get(key [sha256.Size]byte) (*jsonschema.Schema, error, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return nil, nil, false
	}
	c.order.MoveToFront(el)
	e := el.Value.(*schemaEntry)
	return e.schema, e.err, true
}

// put stores a compiled schema under key and returns the one stored: an
// earlier entry for the same key wins.
func (c *schemaCache) put(key [sha256.Size]byte, sch *jsonschema.Schema, err error) (*jsonschema.Schema, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		c.order.MoveToFront(el)
		e := el.Value.(*schemaEntry)
		return e.schema, e.err
	}
	c.entries[key] = c.order.PushFront(&schemaEntry{key: key, schema: sch, err: err})
	for c.order.Len() > c.size {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.entries, oldest.Value.(*schemaEntry).key)
	}
	return sch, err
}

func (c *schemaCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// errNoJSON is returned by extractJSON for text without a JSON value.
var errNoJSON = errors.New("no complete JSON object or array in the text")

// extractJSON returns the JSON value a model's reply holds, compacted: the
// whole reply when it is JSON, else the first complete object or array in
// the first code fence (```json or any other tag, or none) that has one,
// else the first complete object or array in the reply, skipping the
// prose around it. Brackets inside strings, escaped quotes included, do
// not count. A leading byte order mark and white space are ignored.
func extractJSON(text string) (string, error) {
	s := strings.TrimSpace(text)
	s = strings.TrimSpace(strings.TrimPrefix(s, "\ufeff"))
	if json.Valid([]byte(s)) {
		return compact(s), nil
	}
	for rest := s; ; {
		body, after, ok := nextFence(rest)
		if !ok {
			break
		}
		body = strings.TrimSpace(body)
		if json.Valid([]byte(body)) {
			return compact(body), nil
		}
		if v, ok := firstValue(body); ok {
			return compact(v), nil
		}
		rest = after
	}
	if v, ok := firstValue(s); ok {
		return compact(v), nil
	}
	return "", errNoJSON
}

// nextFence returns the body of the first fenced code block of s, without
// its info string, and the text after it; an unclosed fence runs to the
// end of s.
func nextFence(s string) (body, after string, ok bool) {
	i := strings.Index(s, "```")
	if i < 0 {
		return "", "", false
	}
	n := 3
	for i+n < len(s) && s[i+n] == '`' {
		n++
	}
	fence := s[i : i+n]
	rest := s[i+n:]
	// The info string: a language tag up to the end of the line. A fence
	// whose body starts on the same line has none.
	if nl := strings.IndexByte(rest, '\n'); nl >= 0 && isInfoString(rest[:nl]) {
		rest = rest[nl+1:]
	} else if nl < 0 && isInfoString(rest) {
		rest = ""
	}
	end := strings.Index(rest, fence)
	if end < 0 {
		return rest, "", true
	}
	return rest[:end], rest[end+len(fence):], true
}

// isInfoString reports whether s, the rest of a fence's first line, is a
// language tag (json, JSON5, application/json...) or nothing.
func isInfoString(s string) bool {
	s = strings.TrimSpace(s)
	for _, c := range s {
		if c == '{' || c == '[' || c == '"' || c == '`' {
			return false
		}
	}
	return true
}

// firstValue returns the first complete JSON object or array in s.
func firstValue(s string) (string, bool) {
	for i, tries := 0, 0; i < len(s) && tries < extractMaxStarts; i++ {
		j := strings.IndexAny(s[i:], "{[")
		if j < 0 {
			return "", false
		}
		i += j
		tries++
		if end, ok := closing(s, i); ok && json.Valid([]byte(s[i:end])) {
			return s[i:end], true
		}
	}
	return "", false
}

// closing returns the end of the bracketed value that starts at s[start],
// matching brackets outside strings; false when a bracket does not match
// or s ends first.
func closing(s string, start int) (int, bool) {
	var (
		stack    []byte
		inString bool
		escaped  bool
	)
	for i := start; i < len(s); i++ {
		c := s[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{':
			stack = append(stack, '}')
		case '[':
			stack = append(stack, ']')
		case '}', ']':
			if len(stack) == 0 || stack[len(stack)-1] != c {
				return 0, false
			}
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				return i + 1, true
			}
		}
	}
	return 0, false
}

func compact(s string) string {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		return s
	}
	return b.String()
}

// bound cuts s to at most n bytes, on a rune boundary, marking the cut.
func bound(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = " …"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}
