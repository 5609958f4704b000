package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/grpcx"
	"github.com/keelhq/keel/pkg/logging"
	"github.com/keelhq/keel/pkg/natstest"
	"github.com/keelhq/keel/pkg/tenant"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

// startRouter runs the service on an embedded NATS server and a loopback
// port with the given routes file ("" for the embedded default) and returns
// a client and the JetStream the service publishes to.
func startRouter(t *testing.T, routes string) (keelv1.ModelRouterServiceClient, jetstream.JetStream) {
	t.Helper()
	return startRouterWith(t, routes, func(*Config) {})
}

// startRouterWith is startRouter with edit applied to the configuration.
func startRouterWith(t *testing.T, routes string, edit func(*Config)) (keelv1.ModelRouterServiceClient, jetstream.JetStream) {
	t.Helper()
	nc, js := natstest.Start(t)

	cfg := DefaultConfig()
	edit(&cfg)
	if routes != "" {
		cfg.Routes.File = filepath.Join(t.TempDir(), "routes.yaml")
		if err := os.WriteFile(cfg.Routes.File, []byte(routes), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, Deps{Logger: logging.Discard(), NATS: nc, Listener: lis, Getenv: func(string) string { return "" }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})

	conn, err := grpcx.Dial(lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return keelv1.NewModelRouterServiceClient(conn), js
}

func acme() context.Context {
	return tenant.With(context.Background(), "acme")
}

// nextMessage waits for the next message on subject in stream and decodes
// it into m.
func nextMessage(t *testing.T, js jetstream.JetStream, stream, subject string, m proto.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		t.Fatalf("consumer on %s: %v", subject, err)
	}
	msg, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
	if err != nil {
		t.Fatalf("no message on %s: %v", subject, err)
	}
	if got := msg.Headers().Get(tenant.Header); got != "acme" {
		t.Errorf("tenant header = %q, want acme", got)
	}
	if err := proto.Unmarshal(msg.Data(), m); err != nil {
		t.Fatalf("decode %s: %v", subject, err)
	}
}

func supportRequest() *keelv1.GenerateRequest {
	return &keelv1.GenerateRequest{
		UseCase: "support_reply",
		Messages: []*keelv1.ChatMessage{{
			Role:    "user",
			Content: "Hello, how long does express shipping take to arrive? [PERSON_1] [EMAIL_1]",
		}},
		Passages: []*keelv1.Passage{
			{ChunkId: "kb-returns#0", Text: "Unused items can be returned within 30 days."},
			{ChunkId: "kb-shipping#0", Title: "Shipping", Text: "Express shipping arrives the next business day."},
		},
	}
}

func TestGenerateGroundedReply(t *testing.T) {
	t.Parallel()
	client, js := startRouter(t, "")

	resp, err := client.Generate(acme(), supportRequest())
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if !strings.Contains(resp.GetText(), "Express shipping arrives the next business day. [2]") {
		t.Errorf("reply does not quote and cite the shipping passage:\n%s", resp.GetText())
	}
	if !strings.HasPrefix(resp.GetText(), "Hello [PERSON_1],") {
		t.Errorf("reply does not greet the placeholder:\n%s", resp.GetText())
	}
	if got := resp.GetCitations(); len(got) != 1 || got[0] != "kb-shipping#0" {
		t.Errorf("citations = %v, want [kb-shipping#0]", got)
	}
	if resp.GetProvider() != "local" || resp.GetModel() != "keel-local-1" || resp.GetRoute() != "support_reply" ||
		resp.GetFinishReason() != "stop" || resp.GetUsage().GetOutputTokens() == 0 {
		t.Errorf("response metadata = %+v", resp)
	}

	// The call's usage reaches keel.usage.acme, and its audit event says
	// what was called without any text.
	var usage keelv1.UsageEvent
	nextMessage(t, js, bus.StreamUsage, bus.UsageSubject("acme"), &usage)
	if usage.GetTenantId() != "acme" || usage.GetRoute() != "support_reply" || usage.GetProvider() != "local" ||
		usage.GetInputTokens() == 0 || usage.GetOutputTokens() != resp.GetUsage().GetOutputTokens() {
		t.Errorf("usage event = %+v", &usage)
	}

	// The call's audit event travels inside its usage event; the audit
	// service gives it the usage event's fields as attributes, and no field
	// holds text of the request or the reply.
	audit := usage.GetAudit()
	if audit.GetAction() != "model.generated" || audit.GetActor() != "router" || audit.GetId() != "audit-"+usage.GetId() {
		t.Errorf("audit event = %+v", audit)
	}
	for _, v := range []string{usage.GetUseCase(), usage.GetRoute(), usage.GetProvider(), usage.GetModel(),
		usage.GetFinishReason(), usage.GetTemplate(), audit.GetSubject()} {
		if strings.Contains(v, "shipping") || strings.Contains(v, "PERSON") {
			t.Errorf("usage field %q holds text", v)
		}
	}
}

func TestGenerateStream(t *testing.T) {
	t.Parallel()
	client, _ := startRouter(t, "")

	stream, err := client.GenerateStream(acme(), &keelv1.GenerateStreamRequest{Request: supportRequest()})
	if err != nil {
		t.Fatalf("GenerateStream: %v", err)
	}
	var (
		text  strings.Builder
		final *keelv1.GenerateResponse
		count int
	)
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		if final != nil {
			t.Fatal("message after the final one")
		}
		text.WriteString(msg.GetDelta())
		final = msg.GetFinal()
		count++
	}
	if final == nil {
		t.Fatal("stream ended without a final message")
	}
	if text.String() != final.GetText() {
		t.Errorf("deltas join to %q, final text is %q", text.String(), final.GetText())
	}
	if count < 10 || len(final.GetCitations()) != 1 {
		t.Errorf("got %d messages and citations %v", count, final.GetCitations())
	}
}

func TestGenerateErrors(t *testing.T) {
	t.Parallel()
	client, _ := startRouter(t, `
routes:
  support_reply:
    providers: [{provider: local, model: keel-local-1}]
`)

	tests := []struct {
		name string
		ctx  context.Context
		req  *keelv1.GenerateRequest
		want codes.Code
	}{
		{name: "no tenant", ctx: context.Background(), req: supportRequest(), want: codes.Unauthenticated},
		{name: "no messages", ctx: acme(), req: &keelv1.GenerateRequest{UseCase: "support_reply"}, want: codes.InvalidArgument},
		{
			name: "bad role",
			ctx:  acme(),
			req: &keelv1.GenerateRequest{
				UseCase: "support_reply", Messages: []*keelv1.ChatMessage{{Role: "wizard", Content: "hi"}},
			},
			want: codes.InvalidArgument,
		},
		{
			name: "unknown use case without a default route",
			ctx:  acme(),
			req: &keelv1.GenerateRequest{
				UseCase: "sales_brief", Messages: []*keelv1.ChatMessage{{Role: "user", Content: "hi"}},
			},
			want: codes.NotFound,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			_, err := client.Generate(tt.ctx, tt.req)
			if got := status.Code(err); got != tt.want {
				t.Errorf("code = %v (%v), want %v", got, err, tt.want)
			}
			_, err = recvAll(t, client, tt.ctx, tt.req)
			if got := status.Code(err); got != tt.want {
				t.Errorf("stream code = %v (%v), want %v", got, err, tt.want)
			}
		})
	}

	// The field violations name what is wrong.
	_, err := client.Generate(acme(), &keelv1.GenerateRequest{UseCase: "support_reply"})
	if fields := violatedFields(err); len(fields) != 1 || fields[0] != "messages" {
		t.Errorf("field violations = %v, want [messages]", fields)
	}
}

// Each bad field is refused by name, before any provider is called.
func TestGenerateRefusesBadFields(t *testing.T) {
	t.Parallel()
	client, _ := startRouter(t, `
routes:
  support_reply:
    providers: [{provider: local, model: keel-local-1}]
`)
	base := func(edit func(*keelv1.GenerateRequest)) *keelv1.GenerateRequest {
		req := supportRequest()
		edit(req)
		return req
	}
	tool := func(name, params string) *keelv1.ToolDefinition {
		return &keelv1.ToolDefinition{Name: name, ParametersJson: params}
	}
	tests := []struct {
		name  string
		req   *keelv1.GenerateRequest
		field string
	}{
		{"temperature NaN", base(func(r *keelv1.GenerateRequest) { r.Temperature = proto.Float64(math.NaN()) }), "temperature"},
		{"top_p NaN", base(func(r *keelv1.GenerateRequest) { r.TopP = proto.Float64(math.NaN()) }), "top_p"},
		{"unknown priority", base(func(r *keelv1.GenerateRequest) { r.Priority = 99 }), "priority"},
		{"subject too long", base(func(r *keelv1.GenerateRequest) { r.Subject = strings.Repeat("s", 513) }), "subject"},
		{"subject with an escape", base(func(r *keelv1.GenerateRequest) { r.Subject = "case-7\x1b[2J" }), "subject"},
		{"subject with a bidi override", base(func(r *keelv1.GenerateRequest) { r.Subject = "case-\u202e7" }), "subject"},
		{"too many tools", base(func(r *keelv1.GenerateRequest) {
			for i := range 129 {
				r.Tools = append(r.Tools, tool(fmt.Sprintf("t%d", i), ""))
			}
		}), "tools"},
		{"tool name with a space", base(func(r *keelv1.GenerateRequest) {
			r.Tools = []*keelv1.ToolDefinition{tool("look up", "")}
		}), "tools[0].name"},
		{"tool named twice", base(func(r *keelv1.GenerateRequest) {
			r.Tools = []*keelv1.ToolDefinition{tool("lookup", ""), tool("lookup", "")}
		}), "tools[1].name"},
		{"tool parameters a number", base(func(r *keelv1.GenerateRequest) {
			r.Tools = []*keelv1.ToolDefinition{tool("lookup", "42")}
		}), "tools[0].parameters_json"},
		{"tool parameters of an unknown type", base(func(r *keelv1.GenerateRequest) {
			r.Tools = []*keelv1.ToolDefinition{tool("lookup", `{"type":"nonsense","properties":7}`)}
		}), "tools[0].parameters_json"},
		{"tool parameters an array", base(func(r *keelv1.GenerateRequest) {
			r.Tools = []*keelv1.ToolDefinition{tool("lookup", `[{"type":"object"}]`)}
		}), "tools[0].parameters_json"},
		{"tool parameters not an object", base(func(r *keelv1.GenerateRequest) {
			r.Tools = []*keelv1.ToolDefinition{tool("lookup", `{"type":"array","items":{"type":"string"}}`)}
		}), "tools[0].parameters_json"},
		{"tool call signature past 64 KiB", base(func(r *keelv1.GenerateRequest) {
			r.Messages = append(r.Messages, signedCall(strings.Repeat("A", 64<<10+1)))
		}), "messages[1].tool_calls[0].signature"},
		{"tool call signature with a space", base(func(r *keelv1.GenerateRequest) {
			r.Messages = append(r.Messages, signedCall("c2ln bmVk"))
		}), "messages[1].tool_calls[0].signature"},
		{"tool call signature with a line break", base(func(r *keelv1.GenerateRequest) {
			r.Messages = append(r.Messages, signedCall("c2ln\nbmVk"))
		}), "messages[1].tool_calls[0].signature"},
		{"tool call signature not ASCII", base(func(r *keelv1.GenerateRequest) {
			r.Messages = append(r.Messages, signedCall("c2lnbmVk\u00e9"))
		}), "messages[1].tool_calls[0].signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := client.Generate(acme(), tt.req)
			fields := violatedFields(err)
			if status.Code(err) != codes.InvalidArgument || !slices.Equal(fields, []string{tt.field}) {
				t.Errorf("error %v with fields %q, want InvalidArgument naming %s", err, fields, tt.field)
			}
		})
	}

	// What a caller may send: a subject at the bound, JSON mode with no
	// schema of its own, a tool without parameters, a tool call's
	// signature at the bound.
	ok := base(func(r *keelv1.GenerateRequest) {
		r.Subject = strings.Repeat("s", 512)
		r.Messages = append(r.Messages, signedCall(strings.Repeat("A", 64<<10)),
			&keelv1.ChatMessage{Role: "tool", ToolCallId: "call_1", Content: "{}"})
		r.ResponseSchema = &keelv1.ResponseSchema{JsonMode: true}
		r.Tools = []*keelv1.ToolDefinition{tool("lookup_order", ""), tool("refund-7", `{"type":"object"}`),
			// Schemas the provider reads, not Keel: an ECMAScript pattern,
			// a type list.
			tool("lookahead", `{"type":"object","properties":{"id":{"type":"string","pattern":"^(?!foo).*$"}}}`),
			tool("typelist", `{"type":["object"],"properties":{}}`)}
	})
	if _, err := client.Generate(acme(), ok); status.Code(err) == codes.InvalidArgument {
		t.Errorf("a valid request refused: %v", err)
	}

	// A request with very many bad parts is refused quickly, naming the
	// first few: the status must fit a trailer, or the connection, shared
	// with other callers, breaks.
	many := base(func(r *keelv1.GenerateRequest) {
		for range 100000 {
			r.Messages = append(r.Messages, &keelv1.ChatMessage{Role: "wizard", Content: "x"})
		}
	})
	_, err := client.Generate(acme(), many)
	if fields := violatedFields(err); status.Code(err) != codes.InvalidArgument || len(fields) != 21 || fields[20] != "request" {
		t.Errorf("many bad messages: %v with %d fields, want InvalidArgument naming 20 and the rest counted", status.Code(err), len(fields))
	}

	// An unknown use case is named back bounded, whatever its length.
	_, err = client.Generate(acme(), &keelv1.GenerateRequest{UseCase: strings.Repeat("x", 1<<20), ExactRoute: true,
		Messages: []*keelv1.ChatMessage{{Role: "user", Content: "hi"}}})
	if status.Code(err) != codes.NotFound || len(status.Convert(err).Message()) > 200 {
		t.Errorf("unknown use case: %v (%d bytes), want a short NotFound", status.Code(err), len(status.Convert(err).Message()))
	}
}

// signedCall is an assistant message with one tool call signed sig.
func signedCall(sig string) *keelv1.ChatMessage {
	return &keelv1.ChatMessage{Role: "assistant", ToolCalls: []*keelv1.ToolCall{
		{Id: "call_1", Name: "lookup_order", ArgumentsJson: `{}`, Signature: sig},
	}}
}

// A tool call's signature goes to the caller with the call, whole and
// streamed, and back to the provider with the call in the history.
func TestToolCallSignatureRoundTrip(t *testing.T) {
	t.Parallel()
	const (
		sig   = "CiQBVKhc7qH0c2lnbmVk+/=="
		reply = `{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"lookup_order","args":{"order_id":"A"}},` +
			`"thoughtSignature":"` + sig + `"}]},"finishReason":"STOP","index":0}],"modelVersion":"gemini-3-flash"}`
	)
	bodies := make(chan string, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bodies <- readAll(t, r)
		if strings.HasSuffix(r.URL.Path, ":streamGenerateContent") {
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = w.Write([]byte("data: " + reply + "\r\n\r\n"))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(reply))
	}))
	t.Cleanup(srv.Close)
	client, _ := startRouter(t, `
routes:
  support_reply: {providers: [{provider: gem, model: gemini-3-flash}]}
providers:
  gem: {type: gemini, base_url: "`+srv.URL+`/v1beta"}
`)
	req := &keelv1.GenerateRequest{UseCase: "support_reply",
		Messages: []*keelv1.ChatMessage{{Role: "user", Content: "Where is order A?"}},
		Tools:    []*keelv1.ToolDefinition{{Name: "lookup_order"}}}

	resp, err := client.Generate(acme(), req)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	<-bodies
	if calls := resp.GetToolCalls(); len(calls) != 1 || calls[0].GetSignature() != sig {
		t.Fatalf("tool calls %v, want one signed %s", calls, sig)
	}

	stream, err := client.GenerateStream(acme(), &keelv1.GenerateStreamRequest{Request: req})
	if err != nil {
		t.Fatalf("GenerateStream: %v", err)
	}
	var streamed, final []*keelv1.ToolCall
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		if c := msg.GetToolCall(); c != nil {
			streamed = append(streamed, c)
		}
		if f := msg.GetFinal(); f != nil {
			final = f.GetToolCalls()
		}
	}
	<-bodies
	if len(streamed) != 1 || streamed[0].GetSignature() != sig || len(final) != 1 || final[0].GetSignature() != sig {
		t.Errorf("streamed calls %v, final %v; want each signed %s", streamed, final, sig)
	}

	req.Messages = append(req.Messages,
		&keelv1.ChatMessage{Role: "assistant", ToolCalls: resp.GetToolCalls()},
		&keelv1.ChatMessage{Role: "tool", ToolCallId: resp.GetToolCalls()[0].GetId(), Content: `{"status":"shipped"}`})
	if _, err := client.Generate(acme(), req); err != nil {
		t.Fatalf("Generate with the history: %v", err)
	}
	if body := <-bodies; !strings.Contains(body, `"thoughtSignature":"`+sig+`"`) ||
		strings.Contains(body, "skip_thought_signature_validator") {
		t.Errorf("request to Gemini %s, want the call's own signature back", body)
	}
}

// violatedFields lists the fields an InvalidArgument status names.
func violatedFields(err error) []string {
	var fields []string
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
		}
	}
	return fields
}

func recvAll(
	t *testing.T,
	client keelv1.ModelRouterServiceClient,
	ctx context.Context,
	req *keelv1.GenerateRequest,
) (*keelv1.GenerateResponse, error) {
	t.Helper()
	stream, err := client.GenerateStream(ctx, &keelv1.GenerateStreamRequest{Request: req})
	if err != nil {
		return nil, err
	}
	var final *keelv1.GenerateResponse
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return final, nil
		}
		if err != nil {
			return nil, err
		}
		if msg.GetFinal() != nil {
			final = msg.GetFinal()
		}
	}
}

// TestFailoverFromRateLimitedProvider routes through an OpenAI-compatible
// server that answers 429: the route with a local fallback still answers,
// the route without one reports ResourceExhausted with the retry delay.
func TestFailoverFromRateLimitedProvider(t *testing.T) {
	t.Parallel()

	limited := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "12")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}`))
	}))
	t.Cleanup(limited.Close)

	client, _ := startRouter(t, `
routes:
  support_reply:
    providers:
      - {provider: hosted, model: gpt-4o-mini}
      - {provider: local, model: keel-local-1}
  hosted_only:
    providers:
      - {provider: hosted, model: gpt-4o-mini}
providers:
  hosted: {type: openai, base_url: "`+limited.URL+`/v1"}
`)

	resp, err := client.Generate(acme(), supportRequest())
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if resp.GetProvider() != "local" {
		t.Errorf("provider = %q, want local after the 429", resp.GetProvider())
	}

	// The provider asked for 12 s: until then the route that has only it
	// fails at once, unavailable, with the rest of the wait.
	req := supportRequest()
	req.UseCase = "hosted_only"
	_, err = client.Generate(acme(), req)
	st := status.Convert(err)
	if st.Code() != codes.Unavailable {
		t.Fatalf("code = %v (%v), want Unavailable", st.Code(), err)
	}
	var delay time.Duration
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			delay = ri.GetRetryDelay().AsDuration()
		}
	}
	if delay <= 10*time.Second || delay > 12*time.Second {
		t.Errorf("retry delay = %v, want the rest of 12s", delay)
	}
	if strings.Contains(st.Message(), "Rate limit reached") {
		t.Errorf("status message %q repeats the provider's message", st.Message())
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()

	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("default config: %v", err)
	}
	err := Config{GRPC: GRPCConfig{StreamStall: -time.Second}}.Validate()
	for _, want := range []string{"KEEL_NATS_URL", "KEEL_ROUTER_GRPC_ADDR", "KEEL_ROUTER_STREAM_STALL"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %s", err, want)
		}
	}
}

func TestRunBadRoutesFile(t *testing.T) {
	t.Parallel()

	cfg := DefaultConfig()
	cfg.Routes.File = filepath.Join(t.TempDir(), "missing.yaml")
	err := Run(context.Background(), cfg, Deps{Logger: logging.Discard()})
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error = %v, want os.ErrNotExist", err)
	}
}

// A router that restarts keeps the day's spend: it counts the usage already
// on the stream before its Local serves (Ready), so a spent budget stays
// spent.
func TestRestartedRouterKeepsBudget(t *testing.T) {
	t.Parallel()
	nc, _ := natstest.Start(t)
	cfg := DefaultConfig()
	cfg.Routes.File = filepath.Join(t.TempDir(), "routes.yaml")
	// A micro a token: a call reserves its prompt and 200 tokens of reply
	// (about 201 micros) and spends what the local reply used; the budget
	// admits the first call only.
	routes := `
default_route: chat
routes:
  chat:
    providers: [{provider: local, model: keel-local-1}]
providers:
  local:
    type: local
    price: {input_per_million: 1000000, output_per_million: 1000000}
tenants:
  default: {budget_micros: 210, budget_period: day}
`
	if err := os.WriteFile(cfg.Routes.File, []byte(routes), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func() (*Local, func()) {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		local := NewLocal()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- Run(ctx, cfg, Deps{Logger: logging.Discard(), NATS: nc, Listener: lis, Local: local,
				Getenv: func(string) string { return "" }})
		}()
		select {
		case <-local.Ready():
		case err := <-done:
			t.Fatalf("Run ended before it was ready: %v", err)
		}
		return local, func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}
	}
	req := func() *keelv1.GenerateRequest {
		return &keelv1.GenerateRequest{UseCase: "chat", Messages: []*keelv1.ChatMessage{{Role: "user", Content: "hi"}},
			MaxOutputTokens: 200}
	}

	local, stop := run()
	first, err := local.Generate(acme(), req())
	if err != nil {
		t.Fatalf("first call: %v", err)
	}
	if first.GetUsage().GetOutputTokens() == 0 {
		t.Fatalf("first call used no tokens: %+v", first)
	}
	_, err = local.Generate(acme(), req())
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("second call: %v, want RESOURCE_EXHAUSTED (budget)", err)
	}
	stop() // drains the outbox: the first call's usage is on the stream

	local, stop = run()
	defer stop()
	_, err = local.Generate(acme(), req())
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "budget") {
		t.Errorf("call after the restart: %v, want the budget still spent", err)
	}
}

// Calls through Local made before the router serves wait for it; after Run
// has failed or stopped, they fail with Unavailable.
func TestLocalWaitsForStart(t *testing.T) {
	t.Parallel()
	nc, _ := natstest.Start(t)
	cfg := DefaultConfig()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	local := NewLocal()
	early := make(chan error, 1)
	go func() {
		_, err := local.ListRoutes(acme(), &keelv1.ListRoutesRequest{})
		early <- err
	}()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, Deps{Logger: logging.Discard(), NATS: nc, Listener: lis, Local: local,
			Getenv: func(string) string { return "" }})
	}()
	if err := <-early; err != nil {
		t.Errorf("call made before the router served: %v, want it to wait and succeed", err)
	}
	if !local.Serving() {
		t.Error("Serving is false while Run serves")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, err := local.ListRoutes(acme(), &keelv1.ListRoutesRequest{}); status.Code(err) != codes.Unavailable {
		t.Errorf("call after Run stopped: %v, want Unavailable", err)
	}

	// A router that cannot start releases its waiting callers at once.
	broken := NewLocal()
	bad := DefaultConfig()
	bad.Routes.File = filepath.Join(t.TempDir(), "missing.yaml")
	waiting := make(chan error, 1)
	go func() {
		_, err := broken.ListRoutes(acme(), &keelv1.ListRoutesRequest{})
		waiting <- err
	}()
	if err := Run(context.Background(), bad, Deps{Logger: logging.Discard(), NATS: nc, Local: broken}); err == nil {
		t.Fatal("Run with a missing routes file succeeded")
	}
	if err := <-waiting; status.Code(err) != codes.Unavailable {
		t.Errorf("call waiting for a router that failed: %v, want Unavailable", err)
	}
	<-broken.Ready()
	if broken.Serving() {
		t.Error("a router that failed to start reports serving")
	}
}

// A provider that refuses the request itself (400) gives the caller its
// reason, which is about what the caller sent; other failures keep to the
// class, and a refused key never shows what the provider said of it.
func TestProviderRefusalReasonReachesCaller(t *testing.T) {
	t.Parallel()
	answer := func(status int, body string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}))
		t.Cleanup(srv.Close)
		return srv.URL + "/v1"
	}
	refused := answer(http.StatusBadRequest,
		`{"error":{"message":"Unsupported parameter: 'max_tokens' is not supported with this model.","type":"invalid_request_error","param":"max_tokens","code":"unsupported_parameter"}}`)
	badKey := answer(http.StatusUnauthorized,
		`{"error":{"message":"Incorrect API key provided: sk-abc***xyz.","type":"invalid_request_error","code":"invalid_api_key"}}`)
	xaiBadKey := answer(http.StatusBadRequest,
		`{"code":"Client specified an invalid argument","error":"Incorrect API key provided: xa***zz."}`)
	noModel := answer(http.StatusNotFound,
		`{"error":{"message":"The model secret-internal-model does not exist","type":"invalid_request_error","code":"model_not_found"}}`)
	client, _ := startRouter(t, `
routes:
  refused: {providers: [{provider: refused, model: o3}]}
  bad_key: {providers: [{provider: bad_key, model: o3}]}
  xai_then_local: {providers: [{provider: xai_bad_key, model: grok-4}, {provider: local, model: keel-local-1}]}
  missing_then_local: {providers: [{provider: no_model, model: secret-internal-model}, {provider: local, model: keel-local-1}]}
  missing: {providers: [{provider: no_model, model: secret-internal-model}]}
providers:
  refused: {type: openai, base_url: "`+refused+`"}
  bad_key: {type: openai, base_url: "`+badKey+`"}
  xai_bad_key: {type: openai, base_url: "`+xaiBadKey+`"}
  no_model: {type: openai, base_url: "`+noModel+`"}
`)
	req := supportRequest()
	req.UseCase = "refused"
	_, err := client.Generate(acme(), req)
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "'max_tokens' is not supported") {
		t.Errorf("refused request: %v %q, want InvalidArgument with the provider's reason", st.Code(), st.Message())
	}
	if fields := violatedFields(err); !slices.Equal(fields, []string{"max_tokens"}) {
		t.Errorf("refused request names fields %q, want the provider's param max_tokens", fields)
	}

	req.UseCase = "bad_key"
	_, err = client.Generate(acme(), req)
	st = status.Convert(err)
	if st.Code() != codes.FailedPrecondition || strings.Contains(st.Message(), "sk-abc") {
		t.Errorf("refused key: %v %q, want FailedPrecondition without the provider's words", st.Code(), st.Message())
	}

	// A key refused with a 400 (xAI) or a model the provider does not have
	// is the candidate's fault: the next one answers.
	for _, route := range []string{"xai_then_local", "missing_then_local"} {
		req.UseCase = route
		resp, err := client.Generate(acme(), req)
		if err != nil || resp.GetProvider() != "local" {
			t.Errorf("%s: %v, %v; want the local candidate's answer", route, resp.GetProvider(), err)
		}
	}
	req.UseCase = "missing"
	_, err = client.Generate(acme(), req)
	st = status.Convert(err)
	if st.Code() != codes.FailedPrecondition || strings.Contains(st.Message(), "secret-internal-model") {
		t.Errorf("model missing: %v %q, want FailedPrecondition without the provider's words", st.Code(), st.Message())
	}
}

// A stream whose caller stays connected but stops reading ends after the
// stall bound: its upstream request is cancelled and the route's only slot
// of capacity goes to the next caller, who would otherwise wait as long as
// the stalled one stayed connected.
func TestStalledStreamReaderFreesCapacity(t *testing.T) {
	t.Parallel()
	upstreamDone := make(chan struct{}, 1)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		if !strings.Contains(readAll(t, r), `"stream":true`) {
			_, _ = io.WriteString(w, `{"choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}`)
			return
		}
		piece := `data: {"choices":[{"index":0,"delta":{"content":"` + strings.Repeat("x", 1000) + `"}}]}` + "\n\n"
		for range 20000 { // 20 MB: far more than gRPC's flow-control windows hold
			if _, err := io.WriteString(w, piece); err != nil {
				break
			}
			w.(http.Flusher).Flush()
			if r.Context().Err() != nil {
				break
			}
		}
		upstreamDone <- struct{}{}
	}))
	t.Cleanup(upstream.Close)
	client, _ := startRouterWith(t, `
routes:
  support_reply:
    providers: [{provider: up, model: m}]
    concurrency: 1
    timeout: 1m
    total_timeout: 2m
providers:
  up: {type: openai, base_url: "`+upstream.URL+`/v1"}
`, func(c *Config) { c.GRPC.StreamStall = 300 * time.Millisecond })

	ctx, cancel := context.WithCancel(acme())
	defer cancel()
	stream, err := client.GenerateStream(ctx, &keelv1.GenerateStreamRequest{Request: supportRequest()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("first piece: %v", err)
	}
	// Not another Recv: the caller stalls, connected.
	select {
	case <-upstreamDone:
	case <-time.After(20 * time.Second):
		t.Fatal("the upstream request of the stalled stream was not ended")
	}
	next, cancelNext := context.WithTimeout(tenant.With(context.Background(), "globex"), 20*time.Second)
	defer cancelNext()
	if _, err := client.Generate(next, supportRequest()); err != nil {
		t.Fatalf("the next caller: %v; want the route's capacity back", err)
	}
	// Reading again, the stalled caller gets what was queued, then is told
	// why its stream ended.
	for {
		_, err := stream.Recv()
		if err == nil {
			continue
		}
		if status.Code(err) != codes.DeadlineExceeded {
			t.Errorf("the stalled stream ended with %v, want DeadlineExceeded", err)
		}
		break
	}
}

func readAll(t *testing.T, r *http.Request) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Error(err)
	}
	return string(b)
}

// Wrong template variables are refused naming template_variables, every
// problem on one line.
func TestTemplateVariableErrors(t *testing.T) {
	t.Parallel()
	client, _ := startRouter(t, `
templates:
  greet:
    - version: 2
      variables: {name: string, orders: integer}
      system: "Greet {{.name}}, who has {{.orders}} orders."
routes:
  support_reply:
    providers: [{provider: local, model: keel-local-1}]
    template: {name: greet, version: 2}
`)
	req := supportRequest()
	req.TemplateVariables = map[string]string{"orders": "three"}
	_, err := client.Generate(acme(), req)
	fields := violatedFields(err)
	msg := status.Convert(err).Message()
	if status.Code(err) != codes.InvalidArgument || !slices.Equal(fields, []string{"template_variables"}) ||
		strings.Contains(msg, "\n") || !strings.Contains(msg, "not an integer; variable name is required") {
		t.Errorf("error %v naming %q, want InvalidArgument naming template_variables, problems joined by ';'", err, fields)
	}
	req.TemplateVariables = map[string]string{"name": "Ana", "orders": "3.0"}
	if _, err := client.Generate(acme(), req); err != nil {
		t.Errorf("orders 3.0: %v", err)
	}
}
