package service

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

// openAIReply is one scripted completion of a fake OpenAI-compatible server.
type openAIReply struct {
	content, finish string
}

// openAIRequest is the part of a chat completions request the tests read.
type openAIRequest struct {
	Messages []struct {
		Role    string  `json:"role"`
		Content *string `json:"content"`
	} `json:"messages"`
	Stream         bool `json:"stream"`
	ResponseFormat *struct {
		Type string `json:"type"`
	} `json:"response_format"`
}

// fakeOpenAI is an OpenAI-compatible server on loopback that answers each
// chat completion with the next scripted reply, whole or streamed as the
// request asks, and keeps the requests.
type fakeOpenAI struct {
	*httptest.Server
	replies []openAIReply

	mu   sync.Mutex
	reqs []openAIRequest
}

func newFakeOpenAI(t *testing.T, replies ...openAIReply) *fakeOpenAI {
	t.Helper()
	f := &fakeOpenAI{replies: replies}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeOpenAI) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/chat/completions" {
		http.NotFound(w, r)
		return
	}
	var req openAIRequest
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	n := len(f.reqs)
	f.reqs = append(f.reqs, req)
	reply := openAIReply{content: "the script ran out", finish: "stop"}
	if n < len(f.replies) {
		reply = f.replies[n]
	}
	f.mu.Unlock()

	content, _ := json.Marshal(reply.content)
	usage := `{"prompt_tokens":100,"completion_tokens":20,"total_tokens":120}`
	if !req.Stream {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"model":"gpt-test","choices":[{"index":0,"message":{"role":"assistant","content":%s},"finish_reason":%q}],"usage":%s}`,
			content, reply.finish, usage)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	half := len(reply.content) / 2
	for _, piece := range []string{reply.content[:half], reply.content[half:]} {
		p, _ := json.Marshal(piece)
		fmt.Fprintf(w, "data: {\"model\":\"gpt-test\",\"choices\":[{\"index\":0,\"delta\":{\"content\":%s},\"finish_reason\":null}]}\n\n", p)
	}
	fmt.Fprintf(w, "data: {\"model\":\"gpt-test\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":%q}]}\n\n", reply.finish)
	fmt.Fprintf(w, "data: {\"model\":\"gpt-test\",\"choices\":[],\"usage\":%s}\n\n", usage)
	fmt.Fprint(w, "data: [DONE]\n\n")
}

func (f *fakeOpenAI) requests() []openAIRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]openAIRequest(nil), f.reqs...)
}

const tripSchemaJSON = `{"type":"object","required":["city","days"],` +
	`"properties":{"city":{"type":"string"},"days":{"type":"integer","minimum":1}},"additionalProperties":false}`

func structuredRequest(useCase, schema string) *keelv1.GenerateRequest {
	return &keelv1.GenerateRequest{
		UseCase:        useCase,
		Messages:       []*keelv1.ChatMessage{{Role: "user", Content: "Plan a trip to Oslo."}},
		ResponseSchema: &keelv1.ResponseSchema{Name: "trip", SchemaJson: schema},
	}
}

// TestStructuredOutputStatuses runs structured calls through the service
// and fake OpenAI-compatible servers: a valid reply is compacted, a bad
// one repaired once, a second bad one and a truncated one are errors with
// their own status codes, and a bad schema is refused before any call.
func TestStructuredOutputStatuses(t *testing.T) {
	t.Parallel()

	valid := newFakeOpenAI(t, openAIReply{content: "```json\n{\"city\": \"Oslo\", \"days\": 2}\n```", finish: "stop"})
	repaired := newFakeOpenAI(t,
		openAIReply{content: `{"city": "Oslo", "days": 0}`, finish: "stop"},
		openAIReply{content: `{"city": "Oslo", "days": 4}`, finish: "stop"})
	mismatch := newFakeOpenAI(t,
		openAIReply{content: `{"city": "Oslo"}`, finish: "stop"},
		openAIReply{content: "Oslo, for two days.", finish: "stop"})
	truncated := newFakeOpenAI(t, openAIReply{content: `{"city": "Oslo", "da`, finish: "length"})
	streamed := newFakeOpenAI(t, openAIReply{content: `Here: {"city": "Oslo", "days": 2}`, finish: "stop"})
	unused := newFakeOpenAI(t)

	var routes, providers strings.Builder
	routes.WriteString("routes:\n")
	providers.WriteString("providers:\n")
	for name, srv := range map[string]*fakeOpenAI{
		"valid": valid, "repaired": repaired, "mismatch": mismatch, "truncated": truncated,
		"streamed": streamed, "unused": unused,
	} {
		fmt.Fprintf(&routes, "  %s:\n    providers: [{provider: %s, model: gpt-test}]\n", name, name)
		fmt.Fprintf(&providers, "  %s: {type: openai, base_url: %q}\n", name, srv.URL+"/v1")
	}
	client, _ := startRouter(t, routes.String()+providers.String())

	t.Run("valid reply is compacted", func(t *testing.T) {
		t.Parallel()
		resp, err := client.Generate(acme(), structuredRequest("valid", tripSchemaJSON))
		if err != nil {
			t.Fatalf("Generate: %v", err)
		}
		if want := `{"city":"Oslo","days":2}`; resp.GetText() != want || resp.GetAttempts() != 1 {
			t.Errorf("text %q after %d attempts, want %q after 1", resp.GetText(), resp.GetAttempts(), want)
		}
		reqs := valid.requests()
		if len(reqs) != 1 || reqs[0].ResponseFormat == nil || reqs[0].ResponseFormat.Type != "json_schema" {
			t.Errorf("provider requests = %+v, want one asking for a json_schema", reqs)
		}
	})

	t.Run("invalid reply is repaired once", func(t *testing.T) {
		t.Parallel()
		resp, err := client.Generate(acme(), structuredRequest("repaired", tripSchemaJSON))
		if err != nil {
			t.Fatalf("Generate: %v", err)
		}
		if resp.GetText() != `{"city":"Oslo","days":4}` || resp.GetAttempts() != 2 ||
			resp.GetUsage().GetInputTokens() != 200 || resp.GetUsage().GetOutputTokens() != 40 {
			t.Errorf("response = %+v, want the repaired JSON with both attempts' usage", resp)
		}
		reqs := repaired.requests()
		if len(reqs) != 2 {
			t.Fatalf("provider calls = %d, want 2", len(reqs))
		}
		msgs := reqs[1].Messages
		if len(msgs) < 2 {
			t.Fatalf("repair messages = %+v", msgs)
		}
		prev, fix := msgs[len(msgs)-2], msgs[len(msgs)-1]
		if prev.Role != "assistant" || prev.Content == nil || *prev.Content != `{"city": "Oslo", "days": 0}` {
			t.Errorf("repair's assistant message = %+v", prev)
		}
		if fix.Role != "user" || fix.Content == nil || !strings.Contains(*fix.Content, "did not match the JSON Schema") {
			t.Errorf("repair's user message = %+v", fix)
		}
	})

	t.Run("second invalid reply fails", func(t *testing.T) {
		t.Parallel()
		_, err := client.Generate(acme(), structuredRequest("mismatch", tripSchemaJSON))
		st := status.Convert(err)
		// Where it failed, in the schema's terms; never the reply.
		if st.Code() != codes.FailedPrecondition ||
			st.Message() != "model output did not match the response schema after one repair (no JSON value)" {
			t.Errorf("status = %v %q, want FailedPrecondition for the schema, saying where", st.Code(), st.Message())
		}
		if n := len(mismatch.requests()); n != 2 {
			t.Errorf("provider calls = %d, want exactly 2", n)
		}
	})

	t.Run("truncated reply fails without a repair", func(t *testing.T) {
		t.Parallel()
		_, err := client.Generate(acme(), structuredRequest("truncated", tripSchemaJSON))
		st := status.Convert(err)
		if st.Code() != codes.OutOfRange || st.Message() != "structured output cut off by the token limit" {
			t.Errorf("status = %v %q, want OutOfRange for the token limit", st.Code(), st.Message())
		}
		if n := len(truncated.requests()); n != 1 {
			t.Errorf("provider calls = %d, want exactly 1", n)
		}
	})

	t.Run("bad schema is refused before any call", func(t *testing.T) {
		t.Parallel()
		for _, schema := range []string{`{"type": 12}`, `{"$ref": "file:///etc/passwd"}`, `{"type": "object"`} {
			_, err := client.Generate(acme(), structuredRequest("unused", schema))
			st := status.Convert(err)
			if st.Code() != codes.InvalidArgument {
				t.Errorf("schema %s: code = %v (%v), want InvalidArgument", schema, st.Code(), err)
			}
			var fields []string
			for _, d := range st.Details() {
				if br, ok := d.(*errdetails.BadRequest); ok {
					for _, v := range br.GetFieldViolations() {
						fields = append(fields, v.GetField())
					}
				}
			}
			if len(fields) != 1 || fields[0] != "response_schema.schema_json" {
				t.Errorf("schema %s: field violations = %v", schema, fields)
			}
			if _, err := recvAll(t, client, acme(), structuredRequest("unused", schema)); status.Code(err) != codes.InvalidArgument {
				t.Errorf("schema %s: stream error = %v, want InvalidArgument", schema, err)
			}
		}
		if n := len(unused.requests()); n != 0 {
			t.Errorf("provider calls = %d, want none", n)
		}
	})

	t.Run("stream sends the validated JSON in one piece", func(t *testing.T) {
		t.Parallel()
		stream, err := client.GenerateStream(acme(), &keelv1.GenerateStreamRequest{Request: structuredRequest("streamed", tripSchemaJSON)})
		if err != nil {
			t.Fatalf("GenerateStream: %v", err)
		}
		var (
			start  *keelv1.StreamStart
			deltas []string
			final  *keelv1.GenerateResponse
		)
		for {
			msg, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("Recv: %v", err)
			}
			switch {
			case msg.GetFinal() != nil:
				final = msg.GetFinal()
			case msg.GetStart() != nil:
				if len(deltas) > 0 || start != nil {
					t.Errorf("start %v after %d pieces", msg.GetStart(), len(deltas))
				}
				start = msg.GetStart()
			default:
				deltas = append(deltas, msg.GetDelta())
			}
		}
		want := `{"city":"Oslo","days":2}`
		if len(deltas) != 1 || deltas[0] != want || final.GetText() != want {
			t.Errorf("deltas %q, final %q; want one delta %q", deltas, final.GetText(), want)
		}
		if start.GetProvider() != "streamed" || start.GetModel() == "" || start.GetCached() {
			t.Errorf("start = %v, want the streamed provider and its model before the reply", start)
		}
		// The reply is buffered for validation anyway, so the provider is
		// asked without streaming, which keeps failover open until the end.
		if reqs := streamed.requests(); len(reqs) != 1 || reqs[0].Stream {
			t.Errorf("provider requests = %+v, want one, not streamed", reqs)
		}
	})
}
