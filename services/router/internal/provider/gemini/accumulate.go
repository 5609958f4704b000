package gemini

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/keelhq/keel/services/router/internal/provider"
)

// refusedFinish are the finish reasons that mean Google withheld or cut the
// reply under its content policy.
var refusedFinish = map[string]bool{
	"SAFETY":             true,
	"RECITATION":         true,
	"BLOCKLIST":          true,
	"PROHIBITED_CONTENT": true,
	"SPII":               true,
	"IMAGE_SAFETY":       true,
}

// accumulator builds a reply from a whole GenerateContentResponse or from
// the chunks of a streamed one. Each chunk of a stream is a complete
// GenerateContentResponse holding the parts produced since the last one;
// usage, when a chunk has it, counts the whole call so far.
type accumulator struct {
	req          provider.Request
	model        string
	text         strings.Builder
	calls        []provider.ToolCall
	finishReason string
	usage        *usageMetadata
	// sawCandidate is set once a chunk had a candidate.
	sawCandidate bool
}

func newAccumulator(req provider.Request) *accumulator {
	return &accumulator{req: req}
}

// add takes one response or chunk. It calls emit, when not nil, with each
// text part and each function call, in order. It returns the error of an
// error chunk, a blocked prompt or a refused reply, or emit's own error.
func (a *accumulator) add(chunk generateResponse, emit func(provider.Delta) error) error {
	if chunk.Error != nil {
		return streamError(chunk.Error)
	}
	if chunk.ModelVersion != "" {
		a.model = chunk.ModelVersion
	}
	if chunk.UsageMetadata.counted() {
		u := *chunk.UsageMetadata
		a.usage = &u
	}
	if pf := chunk.PromptFeedback; pf != nil && pf.BlockReason != "" {
		return &provider.Error{
			Class: provider.ErrContentRefused, Message: "prompt blocked: " + shorten(pf.BlockReason),
		}
	}

	cand, ok := firstCandidate(chunk.Candidates)
	if !ok {
		return nil
	}
	a.sawCandidate = true
	if cand.Content != nil {
		for _, p := range cand.Content.Parts {
			if err := a.addPart(p, emit); err != nil {
				return err
			}
		}
	}

	switch reason := cand.FinishReason; {
	case reason == "" || reason == "FINISH_REASON_UNSPECIFIED":
	case refusedFinish[reason]:
		a.finishReason = reason
		return &provider.Error{Class: provider.ErrContentRefused, Message: "reply withheld: " + reason}
	case reason == "MALFORMED_FUNCTION_CALL":
		a.finishReason = reason
		return &provider.Error{Class: provider.ErrServerFailed, Message: "model produced a malformed function call"}
	default:
		a.finishReason = reason
	}
	return nil
}

func (a *accumulator) addPart(p part, emit func(provider.Delta) error) error {
	switch {
	case p.Thought:
		// A summary of the model's reasoning, not part of the reply.
		return nil
	case p.FunctionCall != nil:
		call := provider.ToolCall{
			ID:        p.FunctionCall.ID,
			Name:      toolName(a.req, p.FunctionCall.Name),
			Arguments: compactArgs(p.FunctionCall.Args),
		}
		// A part comes whole, in one chunk of a stream: the signature is
		// on the call's own part. One the router's API would refuse back
		// is dropped; the call then goes back with skipSignature rather
		// than failing the next turn.
		if provider.ValidSignature(p.ThoughtSignature) {
			call.Signature = p.ThoughtSignature
		}
		if call.ID == "" {
			call.ID = provider.NewCallID()
		}
		a.calls = append(a.calls, call)
		if emit != nil {
			return emit(provider.Delta{ToolCall: &call, Model: a.model})
		}
	case p.Text != "":
		a.text.WriteString(p.Text)
		if emit != nil {
			return emit(provider.Delta{Text: p.Text, Model: a.model})
		}
	}
	return nil
}

// firstCandidate returns the candidate of index 0: the router asks for one.
func firstCandidate(cands []candidate) (candidate, bool) {
	for _, c := range cands {
		if c.Index == 0 {
			return c, true
		}
	}
	return candidate{}, false
}

// compactArgs returns the arguments of a call as compact JSON, "{}" when
// the model sent none.
func compactArgs(args json.RawMessage) string {
	trimmed := bytes.TrimSpace(args)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return "{}"
	}
	var b bytes.Buffer
	if err := json.Compact(&b, trimmed); err != nil {
		return string(trimmed)
	}
	return b.String()
}

// response returns the reply built so far.
func (a *accumulator) response() provider.Response {
	text := a.text.String()
	model := a.model
	if model == "" {
		model = a.req.Model
	}
	// TODO: ask for a structured confidence once providers agree on JSON
	// output; until then the share of cited sentences stands in for it.
	resp := provider.Response{
		Text:         text,
		ToolCalls:    a.calls,
		Citations:    provider.ParseCitations(text, a.req.Passages),
		Confidence:   provider.CitedSentenceShare(text),
		Model:        model,
		FinishReason: a.finish(),
	}
	if a.usage != nil {
		resp.Usage = provider.Usage{
			InputTokens:       a.usage.PromptTokenCount,
			CachedInputTokens: a.usage.CachedContentTokenCount,
			OutputTokens:      a.usage.CandidatesTokenCount + a.usage.ThoughtsTokenCount,
		}
	} else {
		resp.Usage = provider.Usage{
			InputTokens:  provider.EstimateInputTokens(a.req),
			OutputTokens: provider.EstimateReplyTokens(text, a.calls),
			Estimated:    true,
		}
	}
	return resp
}

// filteredFinish are the finish reasons, other than those of refusedFinish
// that fail the call, that mean Google cut the output rather than the model
// finishing it: LANGUAGE (a language the model does not support) and the
// image policy ones.
var filteredFinish = map[string]bool{
	"LANGUAGE":                 true,
	"IMAGE_PROHIBITED_CONTENT": true,
	"IMAGE_RECITATION":         true,
}

// finish maps Gemini's finish reason onto the router's, the only ones
// callers expect. Gemini has no finish reason of its own for function
// calls: a reply that holds some is FinishToolCalls. Any reason not named
// here (OTHER, UNEXPECTED_TOOL_CALL, TOO_MANY_TOOL_CALLS, NO_IMAGE, reasons
// added later) is FinishStop, or FinishToolCalls: the reply ended, and
// OpenAI's set has no closer name for why.
func (a *accumulator) finish() provider.FinishReason {
	switch {
	case a.finishReason == "MAX_TOKENS":
		return provider.FinishLength
	case filteredFinish[a.finishReason]:
		return provider.FinishContentFilter
	case len(a.calls) > 0:
		return provider.FinishToolCalls
	}
	return provider.FinishStop
}
