package anthropic

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"sort"
	"strings"

	"github.com/keelhq/keel/services/router/internal/provider"
	"github.com/keelhq/keel/services/router/internal/provider/sse"
)

// blockKind is what a content block of a streamed reply holds.
type blockKind int

const (
	// kindOther is a block the router does not use (thinking, server
	// tools, future types); its deltas are ignored.
	kindOther blockKind = iota
	kindText
	kindToolUse
	// kindSchema is the tool_use block of the schema tool of a
	// structured-output request; its input is the reply's text.
	kindSchema
)

// blockCost is what one content block counts against maxResponseBody.
const blockCost = 64

// streamBlock is one content block of a streamed reply.
type streamBlock struct {
	kind blockKind
	id   string
	name string
	// input collects the input_json_delta fragments of a tool_use block.
	input strings.Builder
	// startInput is the input of the content_block_start event, used when
	// no fragment follows.
	startInput json.RawMessage
	done       bool
}

// streamAccumulator builds a reply from the events of a stream and emits
// text and finished tool calls as they arrive. Its zero value is not ready;
// use newStreamAccumulator.
type streamAccumulator struct {
	// schemaTool is the name of the schema tool of a structured-output
	// request, or empty. Unlike Generate, a stream cannot take back words
	// the model wrote before answering through it; the router calls
	// Generate for structured calls, so only a direct caller sees them.
	schemaTool string
	// schemaWrapped is set when the schema tool's input holds the reply
	// under wrappedValueKey. Its fragments are then held back and the
	// reply emitted whole once the block ends: which bytes of the input
	// are the reply is known only once it is complete.
	schemaWrapped bool
	// secret is removed from every event before it is read, so that an
	// error event that echoes the API key cannot carry it into an error.
	secret string

	model      string
	text       strings.Builder
	calls      []provider.ToolCall
	blocks     map[int]*streamBlock
	stopReason string
	usage      usage
	// size counts the bytes of text and tool input taken so far.
	size int
	// done is set by message_stop.
	done bool
	// maxTokens is the cap the request asked for; held estimates the tool
	// input held back until its block ends, which the router cannot count
	// as it arrives.
	maxTokens int
	held      provider.ReplyEstimate
	// begun is set once an empty emit said a held-back tool call had
	// begun the reply.
	begun bool
}

func newStreamAccumulator(schemaTool string, maxTokens int) *streamAccumulator {
	return &streamAccumulator{schemaTool: schemaTool, maxTokens: maxTokens, blocks: make(map[int]*streamBlock)}
}

// decodeStream reads the events of body into acc until message_stop, the end
// of body or an error. Errors wrap a provider class sentinel, except the
// caller's own cancellation and errors from emit, which are returned as they
// are. A body that ends before message_stop is ErrUnreachable.
func decodeStream(ctx context.Context, body io.Reader, acc *streamAccumulator, emit func(provider.Delta) error) error {
	dec := sse.NewDecoder(body)
	for !acc.done {
		ev, err := dec.Next()
		switch {
		case err == io.EOF:
			return &provider.Error{Class: provider.ErrUnreachable, Message: "stream ended early"}
		case err != nil:
			return provider.TransportError(ctx, err)
		}
		if err := acc.add(ev, emit); err != nil {
			return err
		}
	}
	return nil
}

// knownEvents are the event types of the Messages stream that the
// accumulator handles; events of other types are skipped, as the API asks
// of clients so that it can add new ones.
var knownEvents = map[string]bool{
	"message_start":       true,
	"content_block_start": true,
	"content_block_delta": true,
	"content_block_stop":  true,
	"message_delta":       true,
	"message_stop":        true,
	"ping":                true,
	"error":               true,
}

// add takes one event. It returns the error of an error event, of a
// malformed or out-of-order event, of a refusal, or of emit.
func (a *streamAccumulator) add(ev sse.Event, emit func(provider.Delta) error) error {
	ev.Data = scrub(ev.Data, a.secret)
	var e streamEvent
	if err := json.Unmarshal([]byte(ev.Data), &e); err != nil {
		switch {
		case ev.Event == "error":
			return &provider.Error{Class: provider.ErrServerFailed, Message: shorten(ev.Data)}
		case ev.Event != "" && !knownEvents[ev.Event]:
			return nil
		}
		return malformed("malformed stream event", err)
	}
	kind := e.Type
	if kind == "" || ev.Event == "error" {
		kind = ev.Event
	}

	switch kind {
	case "message_start":
		if e.Message != nil {
			if e.Message.Model != "" {
				a.model = e.Message.Model
			}
			a.usage.merge(e.Message.Usage)
		}
	case "content_block_start":
		return a.startBlock(e, emit)
	case "content_block_delta":
		return a.addDelta(e, emit)
	case "content_block_stop":
		b, err := a.block(e.Index)
		if err != nil {
			return err
		}
		return a.finishBlock(b, emit)
	case "message_delta":
		if e.Delta != nil && e.Delta.StopReason != "" {
			a.stopReason = e.Delta.StopReason
		}
		a.usage.merge(e.Usage)
		if a.stopReason == "refusal" {
			return refusalError()
		}
	case "message_stop":
		return a.finishOpenBlocks(emit)
	case "error":
		if e.Error == nil {
			return &provider.Error{Class: provider.ErrServerFailed, Message: shorten(ev.Data)}
		}
		return eventError(e.Error)
	}
	// ping and unknown event types.
	return nil
}

func (a *streamAccumulator) startBlock(e streamEvent, emit func(provider.Delta) error) error {
	if e.Index == nil || e.ContentBlock == nil {
		return malformed("content_block_start without index or block", nil)
	}
	if _, ok := a.blocks[*e.Index]; ok {
		return malformed("content block started twice", nil)
	}
	// Blocks count against the size bound too, so that a stream of empty
	// blocks cannot grow the map without end.
	if err := a.grow(blockCost); err != nil {
		return err
	}
	b := &streamBlock{}
	a.blocks[*e.Index] = b
	switch cb := e.ContentBlock; cb.Type {
	case "text":
		b.kind = kindText
		// The text normally comes in deltas; a start that already holds
		// some is taken like a delta.
		return a.addText(cb.Text, emit)
	case "tool_use":
		b.kind = kindToolUse
		if a.schemaTool != "" && cb.Name == a.schemaTool {
			b.kind = kindSchema
		}
		b.id, b.name, b.startInput = cb.ID, cb.Name, cb.Input
	}
	return nil
}

func (a *streamAccumulator) addDelta(e streamEvent, emit func(provider.Delta) error) error {
	b, err := a.block(e.Index)
	if err != nil {
		return err
	}
	if e.Delta == nil {
		return malformed("content_block_delta without delta", nil)
	}
	if b.kind == kindOther {
		// Blocks the router does not use get deltas of their own, and
		// server tools stream input_json_delta too.
		return nil
	}
	switch e.Delta.Type {
	case "text_delta":
		if b.kind != kindText {
			return malformed("text delta for a block that is not text", nil)
		}
		if b.done {
			return malformed("delta after content_block_stop", nil)
		}
		return a.addText(e.Delta.Text, emit)
	case "input_json_delta":
		if b.kind != kindToolUse && b.kind != kindSchema {
			return malformed("input delta for a block that is not tool_use", nil)
		}
		if b.done {
			return malformed("delta after content_block_stop", nil)
		}
		if err := a.grow(len(e.Delta.PartialJSON)); err != nil {
			return err
		}
		b.input.WriteString(e.Delta.PartialJSON)
		if b.kind == kindSchema && !a.schemaWrapped {
			// The structured reply is the reply's text: it is emitted as
			// it comes, like text, and checked once the block ends.
			return a.emitText(e.Delta.PartialJSON, emit)
		}
		a.held.Add(e.Delta.PartialJSON)
		if provider.Overran(a.maxTokens, a.held.Tokens()) {
			return &provider.Error{Class: provider.ErrServerFailed, Err: provider.ErrOverran}
		}
		if !a.begun {
			// The call is emitted once whole; the reply has begun.
			a.begun = true
			return emit(provider.Delta{Model: a.model})
		}
	}
	// thinking, signature, citations and future delta types.
	return nil
}

// finishBlock ends a block. A tool_use block's joined input must be JSON
// ("" stands for {}); the finished call is emitted.
func (a *streamAccumulator) finishBlock(b *streamBlock, emit func(provider.Delta) error) error {
	if b.done {
		return nil
	}
	b.done = true
	if b.kind != kindToolUse && b.kind != kindSchema {
		return nil
	}

	input := strings.TrimSpace(b.input.String())
	if input == "" {
		input = strings.TrimSpace(string(b.startInput))
		if input == "" || input == "null" {
			input = "{}"
		}
		if b.kind == kindSchema && !a.schemaWrapped {
			// Nothing of the reply was emitted yet.
			if err := a.emitText(input, emit); err != nil {
				return err
			}
		}
	}
	if !isJSONObject(input) {
		return &provider.Error{
			Class:   provider.ErrServerFailed,
			Message: "tool call " + b.id + " has input that is not a JSON object",
		}
	}
	if b.kind == kindSchema {
		if !a.schemaWrapped {
			return nil
		}
		reply, err := unwrapValue(input)
		if err != nil {
			return err
		}
		return a.emitText(reply, emit)
	}

	call := provider.ToolCall{ID: b.id, Name: b.name, Arguments: compactJSON(input)}
	a.calls = append(a.calls, call)
	return emit(provider.Delta{ToolCall: &call, Model: a.model})
}

// finishOpenBlocks ends, in index order, the blocks that message_stop found
// still open, so that no tool call is lost to a missing content_block_stop.
func (a *streamAccumulator) finishOpenBlocks(emit func(provider.Delta) error) error {
	a.done = true
	indexes := make([]int, 0, len(a.blocks))
	for i, b := range a.blocks {
		if !b.done {
			indexes = append(indexes, i)
		}
	}
	sort.Ints(indexes)
	for _, i := range indexes {
		if err := a.finishBlock(a.blocks[i], emit); err != nil {
			return err
		}
	}
	return nil
}

func (a *streamAccumulator) block(index *int) (*streamBlock, error) {
	if index == nil {
		return nil, malformed("content block event without index", nil)
	}
	b, ok := a.blocks[*index]
	if !ok {
		return nil, malformed("event for a content block that was not started", nil)
	}
	return b, nil
}

// addText takes a piece of a text block.
func (a *streamAccumulator) addText(s string, emit func(provider.Delta) error) error {
	if err := a.grow(len(s)); err != nil {
		return err
	}
	return a.emitText(s, emit)
}

// emitText appends s to the reply's text and emits it at once.
func (a *streamAccumulator) emitText(s string, emit func(provider.Delta) error) error {
	if s == "" {
		return nil
	}
	a.text.WriteString(s)
	return emit(provider.Delta{Text: s, Model: a.model})
}

// grow counts n more bytes of reply and fails once the reply is larger than
// a non-streamed body may be.
func (a *streamAccumulator) grow(n int) error {
	a.size += n
	if a.size > maxResponseBody {
		return &provider.Error{Class: provider.ErrServerFailed, Message: "streamed reply too large"}
	}
	return nil
}

// merge takes the counts that u reports and keeps the others.
func (u *usage) merge(from *usage) {
	if from == nil {
		return
	}
	if from.InputTokens != nil {
		u.InputTokens = from.InputTokens
	}
	if from.OutputTokens != nil {
		u.OutputTokens = from.OutputTokens
	}
	if from.CacheCreationInputTokens != nil {
		u.CacheCreationInputTokens = from.CacheCreationInputTokens
	}
	if from.CacheReadInputTokens != nil {
		u.CacheReadInputTokens = from.CacheReadInputTokens
	}
}

// isJSONObject reports whether s is one valid JSON object, as the input of
// a tool call must be.
func isJSONObject(s string) bool {
	s = strings.TrimSpace(s)
	return strings.HasPrefix(s, "{") && json.Valid([]byte(s))
}

// compactJSON returns the valid JSON s without insignificant white space.
func compactJSON(s string) string {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		return s
	}
	return b.String()
}

func malformed(msg string, err error) *provider.Error {
	return &provider.Error{Class: provider.ErrServerFailed, Message: msg, Err: err}
}

func refusalError() *provider.Error {
	return &provider.Error{Class: provider.ErrContentRefused, Message: "the model declined to answer (stop_reason refusal)"}
}
