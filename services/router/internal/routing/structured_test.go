package routing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keelhq/keel/services/router/internal/provider"
)

// tripSchema is the response schema of the structured tests.
const tripSchema = `{
	"type": "object",
	"required": ["city", "days"],
	"properties": {
		"city": {"type": "string"},
		"days": {"type": "integer", "minimum": 1}
	},
	"additionalProperties": false
}`

// schemaStep is one scripted reply of a schemaProvider.
type schemaStep struct {
	text   string
	finish provider.FinishReason // FinishStop when empty
	usage  provider.Usage        // 100 in, 50 out when zero
	tools  []provider.ToolCall
	err    error
}

// schemaProvider answers each call with the next step of its script,
// streaming the text in two pieces, and keeps the requests it got.
type schemaProvider struct {
	name  string
	steps []schemaStep

	mu   sync.Mutex
	reqs []provider.Request
}

func (p *schemaProvider) Name() string { return p.name }

func (p *schemaProvider) Generate(ctx context.Context, req provider.Request) (provider.Response, error) {
	return p.Stream(ctx, req, func(provider.Delta) error { return nil })
}

func (p *schemaProvider) Stream(
	_ context.Context,
	req provider.Request,
	emit func(provider.Delta) error,
) (provider.Response, error) {
	p.mu.Lock()
	n := len(p.reqs)
	p.reqs = append(p.reqs, req)
	s := schemaStep{text: "the script ran out"}
	if n < len(p.steps) {
		s = p.steps[n]
	}
	p.mu.Unlock()

	if s.err != nil {
		return provider.Response{}, s.err
	}
	half := len(s.text) / 2
	for _, piece := range []string{s.text[:half], s.text[half:]} {
		if piece == "" {
			continue
		}
		if err := emit(provider.Delta{Text: piece}); err != nil {
			return provider.Response{}, err
		}
	}
	for i := range s.tools {
		if err := emit(provider.Delta{ToolCall: &s.tools[i]}); err != nil {
			return provider.Response{}, err
		}
	}
	if s.usage == (provider.Usage{}) {
		s.usage = provider.Usage{InputTokens: 100, OutputTokens: 50}
	}
	if s.finish == "" {
		s.finish = provider.FinishStop
	}
	return provider.Response{
		Text: s.text, ToolCalls: s.tools, Model: req.Model, Usage: s.usage, FinishReason: s.finish,
	}, nil
}

func (p *schemaProvider) requests() []provider.Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]provider.Request(nil), p.reqs...)
}

// aPrice is provider a's price in the structured tests.
var aPrice = Price{InputPerMillion: 1_000_000, OutputPerMillion: 3_000_000}

// structuredRouter returns a router with one route, "extract", over a and
// b, recording into rec; fallback, when set, is the route's holding reply.
func structuredRouter(t *testing.T, a, b []schemaStep, fallback string) (*Router, *schemaProvider, *schemaProvider, *recorderFunc) {
	t.Helper()
	pa := &schemaProvider{name: "a", steps: a}
	pb := &schemaProvider{name: "b", steps: b}
	rec := &recorderFunc{}
	file := File{
		Routes: map[string]Route{"extract": {
			Providers: []Candidate{{Provider: "a", Model: "ma"}, {Provider: "b", Model: "mb"}},
			Timeout:   time.Minute,
			Fallback:  Fallback{Reply: fallback},
		}},
		Providers: map[string]ProviderConfig{"a": {Type: TypeLocal, Price: aPrice}, "b": {Type: TypeLocal}},
	}
	r := newTestRouter(t, file, map[string]provider.Provider{"a": pa, "b": pb}, newFakeClock().options(rec))
	return r, pa, pb, rec
}

func structuredCall(schema string) Call {
	return Call{
		UseCase: "extract",
		Request: provider.Request{
			Messages: []provider.Message{{Role: provider.RoleUser, Content: "Plan a trip to Oslo."}},
			Schema:   &provider.Schema{Name: "trip", JSON: json.RawMessage(schema)},
		},
	}
}

func TestStructuredValidReplyIsCompacted(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name, reply string
	}{
		{name: "bare JSON", reply: "{ \"city\": \"Oslo\",\n  \"days\": 2 }\n"},
		{name: "fenced with prose", reply: "Sure! Here is the plan:\n```json\n{\"city\": \"Oslo\", \"days\": 2}\n```\nAnything else?"},
		{name: "fence without a tag", reply: "```\n{\"city\":\"Oslo\",\"days\":2}\n```"},
		{name: "prose around, no fence", reply: "Result [see below]: {\"city\": \"Oslo\", \"days\": 2}. Enjoy!"},
		{name: "byte order mark", reply: "\ufeff  {\"city\":\"Oslo\",\"days\":2}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, pa, _, rec := structuredRouter(t, []schemaStep{{text: tt.reply}}, nil, "")

			res, err := r.Do(tenantCtx("acme"), structuredCall(tripSchema))
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			if want := `{"city":"Oslo","days":2}`; res.Response.Text != want {
				t.Errorf("text = %q, want %q", res.Response.Text, want)
			}
			if res.Repaired || res.Attempts != 1 || len(pa.requests()) != 1 {
				t.Errorf("repaired %v, attempts %d, calls %d; want one call, no repair",
					res.Repaired, res.Attempts, len(pa.requests()))
			}
			if last := rec.last(t); last.Repaired || last.Err != nil {
				t.Errorf("record = %+v", last)
			}
		})
	}
}

func TestStructuredRepair(t *testing.T) {
	t.Parallel()

	invalid := `{"city": "Oslo", "days": 0}`
	r, pa, pb, rec := structuredRouter(t, []schemaStep{
		{text: invalid, usage: provider.Usage{InputTokens: 100, OutputTokens: 50}},
		{text: "Sorry! ```json\n{\"city\": \"Oslo\", \"days\": 3}\n```", usage: provider.Usage{InputTokens: 180, OutputTokens: 40}},
	}, nil, "")
	call := structuredCall(tripSchema)

	res, err := r.Do(tenantCtx("acme"), call)
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	if want := `{"city":"Oslo","days":3}`; res.Response.Text != want {
		t.Errorf("text = %q, want %q", res.Response.Text, want)
	}
	if !res.Repaired || res.Attempts != 2 || res.Provider != "a" {
		t.Errorf("repaired %v, attempts %d, provider %q; want repaired by a in 2 attempts",
			res.Repaired, res.Attempts, res.Provider)
	}

	// Both replies are paid for.
	wantUsage := provider.Usage{InputTokens: 280, OutputTokens: 90}
	wantCost := aPrice.CostMicros(provider.Usage{InputTokens: 100, OutputTokens: 50}) +
		aPrice.CostMicros(provider.Usage{InputTokens: 180, OutputTokens: 40})
	if res.Response.Usage != wantUsage || res.CostMicros != wantCost {
		t.Errorf("usage %+v, cost %d; want %+v, %d", res.Response.Usage, res.CostMicros, wantUsage, wantCost)
	}
	last := rec.last(t)
	if last.Usage != wantUsage || last.CostMicros != wantCost || last.Attempts != 2 || !last.Repaired {
		t.Errorf("record = %+v", last)
	}

	// The repair goes to the same route and shows the model its reply and
	// what was wrong with it.
	reqs := pa.requests()
	if len(reqs) != 2 || len(pb.requests()) != 0 {
		t.Fatalf("calls: a %d, b %d; want a twice", len(reqs), len(pb.requests()))
	}
	msgs := reqs[1].Messages
	if len(msgs) != 3 || msgs[0].Content != "Plan a trip to Oslo." {
		t.Fatalf("repair messages = %+v", msgs)
	}
	if msgs[1].Role != provider.RoleAssistant || msgs[1].Content != invalid {
		t.Errorf("repair's assistant message = %+v, want the invalid reply", msgs[1])
	}
	if msgs[2].Role != provider.RoleUser ||
		!strings.HasPrefix(msgs[2].Content, "Your reply did not match the JSON Schema: ") ||
		!strings.Contains(msgs[2].Content, "/days") ||
		!strings.HasSuffix(msgs[2].Content, ". Reply again with only the corrected JSON.") {
		t.Errorf("repair's user message = %q", msgs[2].Content)
	}
	if reqs[1].Schema == nil || string(reqs[1].Schema.JSON) != tripSchema {
		t.Errorf("repair request lost the schema: %+v", reqs[1].Schema)
	}
	// The caller's request is left as it was.
	if len(call.Request.Messages) != 1 || len(reqs[0].Messages) != 1 {
		t.Errorf("the caller's messages changed: %+v / %+v", call.Request.Messages, reqs[0].Messages)
	}
}

func TestStructuredRepairMessageIsBounded(t *testing.T) {
	t.Parallel()

	// Every one of many properties is wrong: the error the model is shown
	// stays around a kilobyte.
	var props, bad []string
	for i := range 200 {
		props = append(props, fmt.Sprintf(`"p%03d": {"type": "integer"}`, i))
		bad = append(bad, fmt.Sprintf(`"p%03d": "not a number at all"`, i))
	}
	schema := `{"type": "object", "properties": {` + strings.Join(props, ",") + `}}`
	reply := "{" + strings.Join(bad, ",") + "}"
	r, pa, _, _ := structuredRouter(t, []schemaStep{{text: reply}, {text: `{"p000": 1}`}}, nil, "")

	if _, err := r.Do(tenantCtx("acme"), structuredCall(schema)); err != nil {
		t.Fatalf("Do: %v", err)
	}
	reqs := pa.requests()
	if len(reqs) != 2 {
		t.Fatalf("calls = %d, want 2", len(reqs))
	}
	msg := reqs[1].Messages[len(reqs[1].Messages)-1].Content
	if n := len(msg); n > repairDetailMax+200 || !strings.Contains(msg, " …") {
		t.Errorf("repair message is %d bytes, want it cut near %d:\n%s", n, repairDetailMax, msg)
	}
}

func TestStructuredMismatchAfterRepair(t *testing.T) {
	t.Parallel()

	for _, fallback := range []string{"", "We are busy, try again later."} {
		t.Run(fmt.Sprintf("fallback %t", fallback != ""), func(t *testing.T) {
			t.Parallel()
			r, pa, pb, rec := structuredRouter(t, []schemaStep{
				{text: `{"city": "secret-town", "days": "many"}`},
				{text: "I cannot produce JSON, sorry."},
			}, nil, fallback)

			_, err := r.Do(tenantCtx("acme"), structuredCall(tripSchema))
			if !errors.Is(err, ErrSchemaMismatch) {
				t.Fatalf("error = %v, want ErrSchemaMismatch", err)
			}
			if n := len(pa.requests()) + len(pb.requests()); n != 2 {
				t.Errorf("provider calls = %d, want exactly 2", n)
			}
			if strings.Contains(err.Error(), "secret-town") || strings.Contains(err.Error(), "sorry") {
				t.Errorf("error %q quotes the model's reply", err)
			}
			last := rec.last(t)
			if ErrorClass(last.Err) != "schema_mismatch" || last.Attempts != 2 ||
				last.Usage.OutputTokens != 100 || last.Degraded {
				t.Errorf("record = %+v (class %s)", last, ErrorClass(last.Err))
			}
		})
	}
}

func TestStructuredTruncatedIsNotRepaired(t *testing.T) {
	t.Parallel()

	for _, fallback := range []string{"", "We are busy, try again later."} {
		t.Run(fmt.Sprintf("fallback %t", fallback != ""), func(t *testing.T) {
			t.Parallel()
			// The cut reply would even parse: it must not be taken.
			r, pa, pb, rec := structuredRouter(t, []schemaStep{
				{text: `{"city": "Oslo", "days": 2}`, finish: provider.FinishLength},
				{text: `{"city": "Oslo", "days": 2}`},
			}, nil, fallback)

			_, err := r.Do(tenantCtx("acme"), structuredCall(tripSchema))
			if !errors.Is(err, ErrOutputTruncated) {
				t.Fatalf("error = %v, want ErrOutputTruncated", err)
			}
			if len(pa.requests()) != 1 || len(pb.requests()) != 0 {
				t.Errorf("calls: a %d, b %d; want exactly one", len(pa.requests()), len(pb.requests()))
			}
			last := rec.last(t)
			if ErrorClass(last.Err) != "output_truncated" || last.Usage.OutputTokens != 50 || last.Provider != "a" {
				t.Errorf("record = %+v", last)
			}
		})
	}

	// A truncated repair is truncated too, not a mismatch.
	r, pa, _, _ := structuredRouter(t, []schemaStep{
		{text: `{"city": 7}`},
		{text: `{"city": "Oslo", "da`, finish: provider.FinishLength},
	}, nil, "")
	_, err := r.Do(tenantCtx("acme"), structuredCall(tripSchema))
	if !errors.Is(err, ErrOutputTruncated) || errors.Is(err, ErrSchemaMismatch) || len(pa.requests()) != 2 {
		t.Errorf("error = %v after %d calls, want ErrOutputTruncated after 2", err, len(pa.requests()))
	}
}

func TestStructuredContentFilter(t *testing.T) {
	t.Parallel()

	r, pa, _, _ := structuredRouter(t, []schemaStep{{text: `{"city": "Os`, finish: provider.FinishContentFilter}}, nil, "")
	_, err := r.Do(tenantCtx("acme"), structuredCall(tripSchema))
	if !errors.Is(err, provider.ErrContentRefused) || len(pa.requests()) != 1 {
		t.Errorf("error = %v after %d calls, want a content refusal after 1", err, len(pa.requests()))
	}
}

func TestStructuredRefusedSchema(t *testing.T) {
	t.Parallel()

	tests := map[string]string{
		"not JSON":              `{"type": "object"`,
		"not a schema":          `"an object please"`,
		"boolean true":          `true`,
		"boolean false":         `false`,
		"bad keyword value":     `{"type": 12}`,
		"regexp Go cannot run":  `{"type": "string", "pattern": "(?=x)"}`,
		"reference to a file":   `{"$ref": "file:///etc/passwd"}`,
		"reference to a URL":    `{"$ref": "https://example.com/schema.json"}`,
		"relative to a file id": `{"$id": "file:///tmp/s.json", "$ref": "other.json"}`,
	}
	for name, schema := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r, pa, pb, _ := structuredRouter(t, nil, nil, "We are busy.")

			_, err := r.Do(tenantCtx("acme"), structuredCall(schema))
			if !errors.Is(err, provider.ErrRequestRejected) || !errors.Is(err, ErrInvalidSchema) {
				t.Fatalf("error = %v, want a rejected request for an invalid schema", err)
			}
			if n := len(pa.requests()) + len(pb.requests()); n != 0 {
				t.Errorf("provider calls = %d, want none", n)
			}
			if err := CheckSchema(json.RawMessage(schema)); !errors.Is(err, ErrInvalidSchema) {
				t.Errorf("CheckSchema = %v, want ErrInvalidSchema", err)
			}
		})
	}

	for _, ok := range []string{tripSchema, `{}`, `{"$schema": "http://json-schema.org/draft-07/schema#", "type": "array"}`,
		`{"$defs": {"d": {"type": "integer"}}, "type": "object", "properties": {"n": {"$ref": "#/$defs/d"}}}`} {
		if err := CheckSchema(json.RawMessage(ok)); err != nil {
			t.Errorf("CheckSchema(%s) = %v, want nil", ok, err)
		}
	}
}

func TestStructuredStreamIsBuffered(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		steps    []schemaStep
		repaired bool
	}{
		{name: "valid", steps: []schemaStep{{text: "Here you go: {\"city\": \"Oslo\", \"days\": 2} — have fun"}}},
		{name: "repaired", steps: []schemaStep{{text: `{"city": "Oslo"}`}, {text: `{"city": "Oslo", "days": 2}`}}, repaired: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, pa, _, _ := structuredRouter(t, tt.steps, nil, "")
			var deltas []provider.Delta
			call := structuredCall(tripSchema)
			call.Emit = func(d provider.Delta) error {
				deltas = append(deltas, d)
				return nil
			}

			res, err := r.Do(tenantCtx("acme"), call)
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			want := `{"city":"Oslo","days":2}`
			if len(deltas) != 1 || deltas[0].Text != want || res.Response.Text != want {
				t.Errorf("deltas = %+v, text %q; want one delta %q", deltas, res.Response.Text, want)
			}
			if res.Repaired != tt.repaired || len(pa.requests()) != len(tt.steps) {
				t.Errorf("repaired %v after %d calls", res.Repaired, len(pa.requests()))
			}
		})
	}

	// Nothing reaches the caller of a stream that fails validation.
	r, _, _, _ := structuredRouter(t, []schemaStep{{text: "no JSON here"}, {text: "still none"}}, nil, "")
	call := structuredCall(tripSchema)
	var emitted int
	call.Emit = func(provider.Delta) error {
		emitted++
		return nil
	}
	if _, err := r.Do(tenantCtx("acme"), call); !errors.Is(err, ErrSchemaMismatch) || emitted != 0 {
		t.Errorf("error %v after %d deltas, want ErrSchemaMismatch and none", err, emitted)
	}

	// A caller that hangs up on the validated JSON gets its own error back.
	hangUp := errors.New("client gone")
	r, _, _, _ = structuredRouter(t, []schemaStep{{text: `{"city": "Oslo", "days": 2}`}}, nil, "")
	call.Emit = func(provider.Delta) error { return hangUp }
	if _, err := r.Do(tenantCtx("acme"), call); !errors.Is(err, hangUp) {
		t.Errorf("error = %v, want the emit error", err)
	}
}

func TestStructuredFailoverBeforeAnyReply(t *testing.T) {
	t.Parallel()

	// A buffered stream whose first candidate fails before replying still
	// fails over; the valid reply of the second is used.
	r, pa, pb, _ := structuredRouter(t,
		[]schemaStep{{err: classErr(provider.ErrServerFailed)}},
		[]schemaStep{{text: `{"city": "Oslo", "days": 2}`}}, "")
	call := structuredCall(tripSchema)
	call.Emit = func(provider.Delta) error { return nil }
	res, err := r.Do(tenantCtx("acme"), call)
	if err != nil || res.Provider != "b" || res.Attempts != 2 || len(pa.requests()) != 1 || len(pb.requests()) != 1 {
		t.Errorf("result %+v, error %v; want b's reply after a's failure", res, err)
	}
}

func TestStructuredRepairFails(t *testing.T) {
	t.Parallel()

	// The repair request is refused: the call fails with that error, and
	// the first reply is still counted.
	r, pa, _, rec := structuredRouter(t, []schemaStep{
		{text: `{"city": 1}`},
		{err: classErr(provider.ErrRequestRejected)},
	}, nil, "")
	_, err := r.Do(tenantCtx("acme"), structuredCall(tripSchema))
	if !errors.Is(err, provider.ErrRequestRejected) || errors.Is(err, ErrSchemaMismatch) || len(pa.requests()) != 2 {
		t.Fatalf("error = %v after %d calls", err, len(pa.requests()))
	}
	if last := rec.last(t); last.Usage.OutputTokens != 50 || last.Attempts != 2 || last.Provider != "a" {
		t.Errorf("record = %+v", last)
	}
}

func TestStructuredToolCallsPassUnchecked(t *testing.T) {
	t.Parallel()

	calls := []provider.ToolCall{{ID: "c1", Name: "lookup_city", Arguments: `{"q":"Oslo"}`}}
	r, pa, _, _ := structuredRouter(t, []schemaStep{{tools: calls, finish: provider.FinishToolCalls}}, nil, "")
	call := structuredCall(tripSchema)
	call.Request.Tools = []provider.Tool{{Name: "lookup_city"}}
	var deltas []provider.Delta
	call.Emit = func(d provider.Delta) error {
		deltas = append(deltas, d)
		return nil
	}

	res, err := r.Do(tenantCtx("acme"), call)
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	if len(res.Response.ToolCalls) != 1 || len(pa.requests()) != 1 {
		t.Errorf("tool calls %+v after %d calls", res.Response.ToolCalls, len(pa.requests()))
	}
	if len(deltas) != 1 || deltas[0].ToolCall == nil || deltas[0].ToolCall.ID != "c1" {
		t.Errorf("deltas = %+v, want the tool call", deltas)
	}
}

func TestStructuredConcurrentCalls(t *testing.T) {
	t.Parallel()

	const n = 16
	steps := make([]schemaStep, n)
	for i := range steps {
		steps[i] = schemaStep{text: fmt.Sprintf(`{"city": "c%d", "days": %d}`, i, i+1)}
	}
	r, _, _, _ := structuredRouter(t, steps, nil, "")
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			if _, err := r.Do(tenantCtx("acme"), structuredCall(tripSchema)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Do: %v", err)
	}
}

func TestSchemaCache(t *testing.T) {
	t.Parallel()

	a, err := compileSchema(json.RawMessage(tripSchema))
	if err != nil {
		t.Fatal(err)
	}
	b, err := compileSchema(json.RawMessage(tripSchema))
	if err != nil || a != b {
		t.Errorf("the same schema compiled twice (%p, %p, %v)", a, b, err)
	}

	c := newSchemaCache(2)
	keys := [][32]byte{{1}, {2}, {3}}
	c.put(keys[0], nil, errors.New("one"))
	c.put(keys[1], nil, errors.New("two"))
	c.get(keys[0]) // the second is now the least recently used
	c.put(keys[2], nil, errors.New("three"))
	if _, _, ok := c.get(keys[1]); ok || c.len() != 2 {
		t.Errorf("len %d, second kept %v; want 2 entries without the second", c.len(), ok)
	}
	if _, err, ok := c.get(keys[0]); !ok || err.Error() != "one" {
		t.Errorf("first entry = %v, %v", err, ok)
	}
}

func TestSchemaRepairedAttribute(t *testing.T) {
	t.Parallel()

	pub := &fakePublisher{}
	r := testRecorder(pub, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	usage, err := r.events(Record{Tenant: "acme", Route: "extract", Repaired: true, Attempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !usage.GetSchemaRepaired() {
		t.Error("schema_repaired not set on a repaired call")
	}
	usage, err = r.events(Record{Tenant: "acme", Route: "extract", Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	if usage.GetSchemaRepaired() {
		t.Error("schema_repaired set on a call without a repair")
	}
	usage, err = r.events(Record{Tenant: "acme", Route: "extract", Err: fmt.Errorf("route x: %w", ErrSchemaMismatch)})
	if err != nil {
		t.Fatal(err)
	}
	if usage.GetErrorClass() != "schema_mismatch" {
		t.Errorf("error class = %q, want schema_mismatch", usage.GetErrorClass())
	}
}

func TestExtractJSON(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name, text, want string
		wantErr          bool
	}{
		{name: "object", text: `{"a": 1}`, want: `{"a":1}`},
		{name: "array", text: " [1, 2,\n 3] ", want: `[1,2,3]`},
		{name: "scalar alone", text: `"just a string"`, want: `"just a string"`},
		{name: "byte order mark and space", text: "\ufeff\n  {\"a\": true}", want: `{"a":true}`},
		{name: "json fence", text: "```json\n{\"a\": 1}\n```", want: `{"a":1}`},
		{name: "JSON fence with prose", text: "Here:\n\n```JSON\n{\"a\": 1}\n```\n\nHope it helps.", want: `{"a":1}`},
		{name: "fence without tag", text: "```\n[\"x\"]\n```", want: `["x"]`},
		{name: "fence on one line", text: "```{\"a\":1}```", want: `{"a":1}`},
		{name: "four backticks", text: "````json\n{\"a\": \"```\"}\n````", want: "{\"a\":\"```\"}"},
		{name: "unclosed fence", text: "```json\n{\"a\": 1}", want: `{"a":1}`},
		{name: "fence wins over bracketed prose", text: "Per [1] and [2]:\n```json\n{\"a\": 1}\n```", want: `{"a":1}`},
		{name: "second fence holds the JSON", text: "```sh\ncurl x\n```\nthen\n```json\n{\"a\": 1}\n```", want: `{"a":1}`},
		{name: "prose before and after", text: `The answer is {"a": {"b": [1, 2]}} as requested.`, want: `{"a":{"b":[1,2]}}`},
		{name: "braces inside strings", text: `Result: {"a": "} not the end {", "b": "]"} ok`, want: `{"a":"} not the end {","b":"]"}`},
		{name: "escaped quotes", text: `x {"a": "say \"}\" twice", "b": "\\"} y`, want: `{"a":"say \"}\" twice","b":"\\"}`},
		{name: "bracketed prose skipped", text: `See [the docs] then {"a": 1}`, want: `{"a":1}`},
		{name: "value inside invalid brackets", text: `[note: {"a": 1}]`, want: `{"a":1}`},
		{name: "first of two values", text: `{"a": 1} and {"b": 2}`, want: `{"a":1}`},
		{name: "quote in prose before", text: `He said "hi {there" then {"a": 1}`, want: `{"a":1}`},
		{name: "unicode kept", text: `{"a": "Ünïcødé ✓ \u00e9"}`, want: `{"a":"Ünïcødé ✓ \u00e9"}`},
		{name: "large number kept as written", text: `{"n": 12345678901234567890.5}`, want: `{"n":12345678901234567890.5}`},
		{name: "no JSON", text: "I could not find it.", wantErr: true},
		{name: "empty", text: "", wantErr: true},
		{name: "unterminated object", text: `{"a": 1`, wantErr: true},
		{name: "mismatched brackets", text: `{"a": [1}`, wantErr: true},
		{name: "unterminated string", text: `{"a": "b}`, wantErr: true},
		{name: "invalid inside balanced braces", text: `{a: 1}`, wantErr: true},
		{name: "many open brackets", text: strings.Repeat("[", 10000), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := extractJSON(tt.text)
			if tt.wantErr {
				if err == nil {
					t.Errorf("extractJSON = %q, want an error", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("extractJSON = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func FuzzExtractJSON(f *testing.F) {
	for _, seed := range []string{
		`{"a": 1}`, "```json\n[1, 2]\n```", `text {"a": "}"} more`, `[[[`, `{"a": "\"}"}`,
		"\ufeff{}", "``````", `"str"`, `x [1] {"b": [true, null]}`, "```\n{\"a\":\n```",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		got, err := extractJSON(text)
		if err != nil {
			return
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("extractJSON(%q) = %q, not valid JSON", text, got)
		}
	})
}

func TestSchemaBounds(t *testing.T) {
	t.Parallel()

	deep := strings.Repeat(`{"items":`, 40) + `{}` + strings.Repeat(`}`, 40)
	var props strings.Builder
	props.WriteString(`{"type":"object","properties":{`)
	for i := range 100 {
		if i > 0 {
			props.WriteByte(',')
		}
		fmt.Fprintf(&props, `"p%d":{"type":"string","pattern":"^(a|aa)*b$"}`, i)
	}
	props.WriteString(`}}`)
	wide := `{"enum":[` + strings.TrimSuffix(strings.Repeat(`1,`, 5000), ",") + `]}`
	for name, schema := range map[string]string{
		"too deep":          deep,
		"too many patterns": props.String(),
		"too many values":   wide,
		"too large":         `{"description":"` + strings.Repeat("x", maxSchemaBytes) + `"}`,
	} {
		if err := CheckSchema(json.RawMessage(schema)); !errors.Is(err, ErrInvalidSchema) {
			t.Errorf("%s: CheckSchema = %v, want ErrInvalidSchema", name, err)
		}
	}
	// An ordinary schema with a few patterns and some nesting passes.
	ok := `{"type":"object","properties":{"a":{"type":"array","items":{"type":"object","properties":{"b":{"type":"string","pattern":"^x+$"}}}}}}`
	if err := CheckSchema(json.RawMessage(ok)); err != nil {
		t.Errorf("ordinary schema refused: %v", err)
	}
}
