package service

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/keelhq/keel/pkg/tenant"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/router/internal/prompt"
	"github.com/keelhq/keel/services/router/internal/provider"
	"github.com/keelhq/keel/services/router/internal/routing"
)

// modelRouterServer implements keelv1.ModelRouterServiceServer over a
// routing.Router.
type modelRouterServer struct {
	keelv1.UnimplementedModelRouterServiceServer

	router *routing.Router
	logger *slog.Logger
	// stall bounds how long a piece of a streamed reply waits for the
	// caller to take the one before.
	stall time.Duration
}

func newModelRouterServer(router *routing.Router, logger *slog.Logger, stall time.Duration) *modelRouterServer {
	return &modelRouterServer{router: router, logger: logger, stall: cmp.Or(stall, DefaultStreamStall)}
}

// Generate routes the request and returns the whole reply.
func (s *modelRouterServer) Generate(
	ctx context.Context,
	req *keelv1.GenerateRequest,
) (*keelv1.GenerateResponse, error) {
	if err := requireTenant(ctx); err != nil {
		return nil, err
	}
	preq, err := toProviderRequest(req)
	if err != nil {
		return nil, err
	}

	ctx = routing.WithSubject(ctx, req.GetSubject())
	res, err := s.router.Do(ctx, toCall(req, preq, nil))
	if err != nil {
		return nil, s.callError(ctx, req.GetUseCase(), err)
	}
	return toGenerateResponse(res), nil
}

// requireTenant refuses a call that carries no tenant.
func requireTenant(ctx context.Context) error {
	if _, err := tenant.Require(ctx); err != nil {
		return status.Error(codes.Unauthenticated, "the call carries no tenant")
	}
	return nil
}

// toCall makes the routing call of req.
func toCall(req *keelv1.GenerateRequest, preq provider.Request, emit func(provider.Delta) error) routing.Call {
	call := routing.Call{
		UseCase:      req.GetUseCase(),
		Request:      preq,
		Conversation: req.GetConversation(),
		Emit:         emit,
		Variables:    req.GetTemplateVariables(),
		ExactRoute:   req.GetExactRoute(),
	}
	if req.GetPriority() == keelv1.Priority_PRIORITY_BATCH {
		call.Priority = routing.Batch
	}
	return call
}

// ListRoutes lists the routes and, for each candidate, the retention
// setting its provider is called with.
func (s *modelRouterServer) ListRoutes(
	ctx context.Context,
	_ *keelv1.ListRoutesRequest,
) (*keelv1.ListRoutesResponse, error) {
	if err := requireTenant(ctx); err != nil {
		return nil, err
	}
	out := &keelv1.ListRoutesResponse{}
	for _, info := range s.router.RouteInfos() {
		ri := &keelv1.RouteInfo{Name: info.Name, Default: info.Default}
		for _, c := range info.Candidates {
			ri.Candidates = append(ri.Candidates, &keelv1.RouteCandidate{
				Provider: c.Provider, Model: c.Model, Retention: c.Retention, Weight: int32(c.Weight),
			})
		}
		out.Routes = append(out.Routes, ri)
	}
	return out, nil
}

// GenerateStream routes the request and streams the reply's text; the last
// message carries the whole response.
func (s *modelRouterServer) GenerateStream(
	in *keelv1.GenerateStreamRequest,
	stream grpc.ServerStreamingServer[keelv1.GenerateStreamResponse],
) (err error) {
	ctx := stream.Context()
	if err := requireTenant(ctx); err != nil {
		return err
	}
	req := in.GetRequest()
	if req == nil {
		return invalidArgument("request", "is required")
	}
	preq, err := toProviderRequest(req)
	if err != nil {
		return err
	}

	// The pieces are sent from a goroutine of their own: Send blocks while
	// a caller that stays connected does not read, and the call (its
	// upstream request, its share of the route's capacity) must end when
	// the caller stalls, not when it leaves.
	out := newPacedSender(stream, s.stall)
	defer func() {
		// Deferred, so that a panic recovered above still waits for the
		// sender: gRPC's Send may not run after the handler returns.
		if cerr := out.close(); err == nil {
			err = cerr
		}
	}()
	err = s.generateStream(ctx, req, preq, out.send)
	if errors.Is(err, errStalled) {
		// The final message, after the call was recorded, can stall too.
		err = stalledStatus
	}
	return err
}

// DefaultStreamStall is how long a streamed piece waits for the caller to
// take the one before (GRPCConfig.StreamStall): the gateway's write timeout.
const DefaultStreamStall = 10 * time.Second

// errStalled ends a stream whose caller stopped reading; stalledStatus is
// what the caller is told, should it read again.
var (
	errStalled    = errors.New("the caller did not take the stream's pieces")
	stalledStatus = status.Error(codes.DeadlineExceeded, "the stream was ended: its pieces were not read in time")
)

// pacedSender hands a stream's messages to one goroutine that sends them in
// order, so that the caller of send waits for a stalled reader no longer
// than the stall bound.
type pacedSender struct {
	stream grpc.ServerStreamingServer[keelv1.GenerateStreamResponse]
	queue  chan *keelv1.GenerateStreamResponse
	stall  time.Duration
	// done is closed when the goroutine ends; err is why, when a send
	// failed.
	done chan struct{}
	err  error
}

// pacedQueue is how many messages may wait for the sending goroutine: a
// burst of small pieces does not wait on each Send.
const pacedQueue = 16

func newPacedSender(stream grpc.ServerStreamingServer[keelv1.GenerateStreamResponse], stall time.Duration) *pacedSender {
	p := &pacedSender{
		stream: stream,
		queue:  make(chan *keelv1.GenerateStreamResponse, pacedQueue),
		stall:  stall,
		done:   make(chan struct{}),
	}
	go p.run()
	return p
}

func (p *pacedSender) run() {
	defer close(p.done)
	for m := range p.queue {
		if err := p.stream.Send(m); err != nil {
			p.err = err
			return
		}
	}
}

// send queues m, waiting up to the stall bound for room.
func (p *pacedSender) send(m *keelv1.GenerateStreamResponse) error {
	// A sender that has stopped takes nothing more: checked first, since
	// a select between its closed done and a queue with room picks either.
	select {
	case <-p.done:
		return p.err
	default:
	}
	select {
	case p.queue <- m:
		return nil
	default:
	}
	t := time.NewTimer(p.stall)
	defer t.Stop()
	select {
	case p.queue <- m:
		return nil
	case <-p.done:
		return p.err
	case <-t.C:
		return errStalled
	}
}

// close waits for the queued messages to be sent. With a stalled caller
// that is as long as it stays connected without reading; by then the call
// has ended and holds nothing of the route. The handler must not return
// before: gRPC's Send may not run after it.
func (p *pacedSender) close() error {
	close(p.queue)
	<-p.done
	return p.err
}

// generateStream routes a streamed call, handing each piece to send.
func (s *modelRouterServer) generateStream(
	ctx context.Context,
	req *keelv1.GenerateRequest,
	preq provider.Request,
	send func(*keelv1.GenerateStreamResponse) error,
) error {
	ctx = routing.WithSubject(ctx, req.GetSubject())
	call := toCall(req, preq, func(d provider.Delta) error {
		msg := &keelv1.GenerateStreamResponse{Delta: d.Text}
		if c := d.ToolCall; c != nil {
			msg.ToolCall = toProtoToolCall(*c)
		}
		return send(msg)
	})
	call.Started = func(st routing.StreamStart) error {
		return send(&keelv1.GenerateStreamResponse{Start: &keelv1.StreamStart{
			Provider: st.Provider, Model: st.Model, Cached: st.Cached,
			Template: st.Template, TemplateVersion: int32(min(st.TemplateVersion, math.MaxInt32)),
		}})
	}
	res, err := s.router.Do(ctx, call)
	if err != nil {
		return s.callError(ctx, req.GetUseCase(), err)
	}
	if err := send(&keelv1.GenerateStreamResponse{Final: toGenerateResponse(res)}); err != nil {
		return fmt.Errorf("send final message: %w", err)
	}
	return nil
}

// callError logs a failed call and maps it to a gRPC status. The status
// names the error class; of the provider's own words, which may repeat the
// prompt, it carries only the cleaned reason of a request the provider
// refused (provider.Error.Reason, the caller's to read). The log keeps to
// the class; the whole error is logged at debug level only.
func (s *modelRouterServer) callError(ctx context.Context, useCase string, err error) error {
	t, _ := tenant.From(ctx)
	useCase = routing.BoundedName(useCase)
	class := routing.ErrorClass(err)

	var (
		code codes.Code
		msg  = "model call failed: " + class
		wait time.Duration
	)
	var limit *routing.LimitError
	switch {
	case errors.Is(err, routing.ErrRouteNotFound):
		return status.Errorf(codes.NotFound, "no route for use case %q", useCase)
	case errors.Is(err, routing.ErrInvalidCall):
		// The router's own finding about the call: its words, no
		// provider's, are safe to show.
		var pe *provider.Error
		msg = "invalid call"
		if errors.As(err, &pe) {
			msg = cmp.Or(pe.Message, errorText(pe.Err))
		}
		msg = strings.ReplaceAll(msg, "\n", "; ")
		if errors.Is(err, prompt.ErrInvalid) {
			// The template's variables are what the caller got wrong.
			return invalidArgument("template_variables", strings.TrimPrefix(msg, prompt.ErrInvalid.Error()+": "))
		}
		code = codes.InvalidArgument
	case errors.As(err, &limit):
		// The tenant's own limit: say which, so the caller can back off.
		code, msg, wait = codes.ResourceExhausted, limit.Error(), limit.RetryAfter
	case errors.Is(ctx.Err(), context.Canceled):
		// Only the caller's own hang-up is a cancellation; the router's
		// deadlines end attempts with timeouts.
		return status.Error(codes.Canceled, "call cancelled")
	case errors.Is(err, errStalled):
		// The caller's doing, not a failure of Keel's: no error log.
		return stalledStatus
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, provider.ErrTimedOut):
		code = codes.DeadlineExceeded
	case errors.Is(err, provider.ErrRateLimited), errors.Is(err, provider.ErrQuotaExceeded):
		code = codes.ResourceExhausted
	case errors.Is(err, routing.ErrInvalidSchema):
		return invalidArgument("response_schema.schema_json", "must be a usable JSON Schema")
	case errors.Is(err, routing.ErrOutputTruncated):
		// The token limit cut the JSON: a larger max_output_tokens may
		// fit it, a repair would not.
		code, msg = codes.OutOfRange, "structured output cut off by the token limit"
	case errors.Is(err, routing.ErrSchemaMismatch):
		code, msg = codes.FailedPrecondition, "model output did not match the response schema after one repair"
		var sm *routing.SchemaMismatchError
		if errors.As(err, &sm) {
			msg += " (" + sm.Where + ")"
		}
	case errors.Is(err, provider.ErrRequestRejected), errors.Is(err, provider.ErrContextTooLong):
		code = codes.InvalidArgument
		// The provider refused what the caller sent: its reason is the
		// caller's to read, though it may quote the request (the log
		// line below keeps to the class).
		var pe *provider.Error
		if errors.As(err, &pe) && pe.Reason != "" {
			msg += ": " + pe.Reason
			if pe.Param != "" {
				// The field the provider named, in its (OpenAI's) naming.
				return withViolation(status.New(codes.InvalidArgument, msg), pe.Param, pe.Reason)
			}
		}
	case errors.Is(err, provider.ErrContentRefused):
		code = codes.FailedPrecondition
		msg = "model call refused under the provider's content policy"
	case errors.Is(err, provider.ErrCredentialsRejected), errors.Is(err, provider.ErrModelUnavailable):
		code = codes.FailedPrecondition
	case errors.Is(err, provider.ErrServerFailed), errors.Is(err, provider.ErrUnreachable),
		errors.Is(err, provider.ErrOverloaded), errors.Is(err, routing.ErrNoHealthyCandidate):
		code = codes.Unavailable
		msg = "model call failed: " + errorClassName(err)
		if errors.Is(err, routing.ErrOverran) {
			msg += ": " + routing.ErrOverran.Error()
		}
	default:
		code = codes.Internal
		msg = "model call failed"
	}
	// The provider's own message may quote the prompt: class and status
	// at warning level, the whole error only when debugging.
	s.logger.Warn("model call failed", "tenant", t, "use_case", useCase, "class", class, "error", provider.LogText(err))
	s.logger.Debug("model call failed in full", "tenant", t, "use_case", useCase, "error", err)

	st := status.New(code, msg)
	if wait == 0 {
		wait, _ = provider.RetryAfter(err)
	}
	if wait > 0 {
		if detailed, derr := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(wait)}); derr == nil {
			st = detailed
		}
	}
	return st.Err()
}

// maxSubject bounds a call's subject, which every usage event and audit
// record of the call carries.
const maxSubject = 512

// objectSchema reports whether params, valid JSON, is a schema object whose
// type, when it names one, is "object" or a list holding it.
func objectSchema(params string) bool {
	var root map[string]json.RawMessage
	if json.Unmarshal([]byte(params), &root) != nil {
		return false
	}
	typ, ok := root["type"]
	if !ok {
		return true
	}
	var one string
	if json.Unmarshal(typ, &one) == nil {
		return one == "object"
	}
	var many []string
	return json.Unmarshal(typ, &many) == nil && slices.Contains(many, "object")
}

// maxTools is the most tools a call may offer, as OpenAI allows.
const maxTools = 128

// maxViolations is how many bad fields a refusal names.
const maxViolations = 20

// invisible reports control and formatting characters (bidi overrides,
// zero-width marks), which would make a record read otherwise than it is.
func invisible(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }

// toolName is what OpenAI accepts as a function's name; the other
// providers accept at least as much.
var toolName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// toProviderRequest checks req and converts it. It returns an
// InvalidArgument status naming every bad field.
func toProviderRequest(req *keelv1.GenerateRequest) (provider.Request, error) {
	var (
		violations []*errdetails.BadRequest_FieldViolation
		more       int
	)
	bad := func(field, desc string) {
		// A request of many bad parts is told about the first few: the
		// status goes back in one trailer, which must stay small.
		if len(violations) == maxViolations {
			more++
			return
		}
		violations = append(violations, &errdetails.BadRequest_FieldViolation{Field: field, Description: desc})
	}

	if len(req.GetMessages()) == 0 {
		bad("messages", "at least one message is required")
	}
	if req.GetMaxOutputTokens() < 0 {
		bad("max_output_tokens", "must not be negative")
	}

	// Written so that NaN, which no comparison holds for, is refused too.
	if t := req.Temperature; t != nil && !(*t >= 0 && *t <= 2) {
		bad("temperature", "must be between 0 and 2")
	}
	if p := req.TopP; p != nil && !(*p >= 0 && *p <= 1) {
		bad("top_p", "must be between 0 and 1")
	}
	if _, ok := keelv1.Priority_name[int32(req.GetPriority())]; !ok {
		bad("priority", "must be unspecified, interactive or batch")
	}
	switch subject := req.GetSubject(); {
	case len(subject) > maxSubject:
		bad("subject", fmt.Sprintf("at most %d bytes", maxSubject))
	case !utf8.ValidString(subject) || strings.ContainsFunc(subject, invisible):
		// The subject is written into the audit chain as it is.
		bad("subject", "must be UTF-8 without control or formatting characters")
	}
	if len(req.GetStop()) > 4 {
		bad("stop", "at most 4 sequences")
	}

	out := provider.Request{
		MaxOutputTokens:   int(req.GetMaxOutputTokens()),
		Temperature:       req.Temperature,
		TopP:              req.TopP,
		Stop:              req.GetStop(),
		Seed:              req.Seed,
		ToolChoice:        req.GetToolChoice(),
		ParallelToolCalls: req.ParallelToolCalls,
		PromptCache:       req.GetPromptCache(),
	}
	if sc := req.GetResponseSchema(); sc != nil {
		if sc.GetJsonMode() && sc.GetSchemaJson() == "" {
			// JSON mode asks for any object.
			sc = &keelv1.ResponseSchema{Name: sc.GetName(), SchemaJson: `{"type":"object"}`, Strict: sc.GetStrict(), JsonMode: true}
		}
		if !json.Valid([]byte(sc.GetSchemaJson())) {
			bad("response_schema.schema_json", "must be valid JSON")
		} else if err := routing.CheckSchema(json.RawMessage(sc.GetSchemaJson())); err != nil {
			bad("response_schema.schema_json", "must be a usable JSON Schema: "+
				strings.TrimPrefix(err.Error(), routing.ErrInvalidSchema.Error()+": "))
		}
		out.Schema = &provider.Schema{
			Name: sc.GetName(), JSON: json.RawMessage(sc.GetSchemaJson()), Strict: sc.GetStrict(), JSONMode: sc.GetJsonMode(),
		}
	}
	for i, m := range req.GetMessages() {
		role := provider.Role(m.GetRole())
		switch role {
		case provider.RoleSystem, provider.RoleUser, provider.RoleAssistant, provider.RoleTool:
		default:
			bad(fmt.Sprintf("messages[%d].role", i), "must be system, user, assistant or tool")
		}
		if role == provider.RoleTool && m.GetToolCallId() == "" {
			bad(fmt.Sprintf("messages[%d].tool_call_id", i), "is required for a tool message")
		}
		msg := provider.Message{Role: role, Content: m.GetContent(), ToolCallID: m.GetToolCallId()}
		for j, c := range m.GetToolCalls() {
			switch sig := c.GetSignature(); {
			case len(sig) > provider.MaxSignature:
				bad(fmt.Sprintf("messages[%d].tool_calls[%d].signature", i, j), fmt.Sprintf("at most %d bytes", provider.MaxSignature))
			case !provider.ValidSignature(sig):
				// Providers make them of base64 text; anything else was
				// not one of theirs.
				bad(fmt.Sprintf("messages[%d].tool_calls[%d].signature", i, j), "must be printable ASCII without spaces")
			}
			msg.ToolCalls = append(msg.ToolCalls, provider.ToolCall{
				ID: c.GetId(), Name: c.GetName(), Arguments: c.GetArgumentsJson(), Signature: c.GetSignature(),
			})
		}
		out.Messages = append(out.Messages, msg)
	}
	for _, p := range req.GetPassages() {
		out.Passages = append(out.Passages, provider.Passage{
			ChunkID: p.GetChunkId(), DocID: p.GetDocId(), Title: p.GetTitle(), Text: p.GetText(),
		})
	}
	if len(req.GetTools()) > maxTools {
		bad("tools", fmt.Sprintf("at most %d tools", maxTools))
	}
	named := make(map[string]bool, min(len(req.GetTools()), maxTools))
	for i, t := range req.GetTools()[:min(len(req.GetTools()), maxTools)] {
		switch name := t.GetName(); {
		case name == "":
			bad(fmt.Sprintf("tools[%d].name", i), "is required")
		case !toolName.MatchString(name):
			bad(fmt.Sprintf("tools[%d].name", i), "must be 1 to 64 letters, digits, underscores or dashes")
		case named[name]:
			bad(fmt.Sprintf("tools[%d].name", i), "names another tool too")
		}
		named[t.GetName()] = true
		params := t.GetParametersJson()
		switch {
		case params == "":
		case !json.Valid([]byte(params)):
			bad(fmt.Sprintf("tools[%d].parameters_json", i), "must be valid JSON")
		case !objectSchema(params):
			// A tool takes named arguments: every provider wants an object
			// schema here. The schema itself is the provider's to read
			// (OpenAI's patterns are ECMAScript, which Go's regexp is not).
			bad(fmt.Sprintf("tools[%d].parameters_json", i), `must be a JSON Schema object describing an object ("type": "object")`)
		}
		out.Tools = append(out.Tools, provider.Tool{
			Name: t.GetName(), Description: t.GetDescription(), Parameters: json.RawMessage(params), Strict: t.GetStrict(),
		})
	}
	switch tc := req.GetToolChoice(); tc {
	case "", "auto", "none", "required":
	default:
		if !out.HasTool(tc) {
			bad("tool_choice", "names no offered tool")
		}
	}

	if more > 0 {
		violations = append(violations, &errdetails.BadRequest_FieldViolation{
			Field: "request", Description: fmt.Sprintf("and %d more problems", more),
		})
	}
	if len(violations) > 0 {
		st := status.New(codes.InvalidArgument, "invalid generate request")
		if detailed, err := st.WithDetails(&errdetails.BadRequest{FieldViolations: violations}); err == nil {
			st = detailed
		}
		return provider.Request{}, st.Err()
	}
	return out, nil
}

func errorText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// errorClassName names an error's class for a status message.
func errorClassName(err error) string {
	if errors.Is(err, routing.ErrNoHealthyCandidate) {
		return "no healthy candidate"
	}
	return provider.ClassName(err)
}

func invalidArgument(field, desc string) error {
	return withViolation(status.New(codes.InvalidArgument, field+" "+desc), field, desc)
}

// withViolation is st naming field as the one at fault.
func withViolation(st *status.Status, field, desc string) error {
	detailed, err := st.WithDetails(&errdetails.BadRequest{
		FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: desc}},
	})
	if err != nil {
		return st.Err()
	}
	return detailed.Err()
}

func toGenerateResponse(res routing.Result) *keelv1.GenerateResponse {
	resp := res.Response
	out := &keelv1.GenerateResponse{
		Text:         resp.Text,
		Citations:    resp.Citations,
		Confidence:   resp.Confidence,
		Provider:     res.Provider,
		Model:        res.Model,
		Route:        res.Route,
		FinishReason: string(resp.FinishReason),
		Usage: &keelv1.Usage{
			InputTokens:       resp.Usage.InputTokens,
			OutputTokens:      resp.Usage.OutputTokens,
			CostMicros:        res.CostMicros,
			CachedInputTokens: resp.Usage.CachedInputTokens,
			CacheWriteTokens:  resp.Usage.CacheWriteTokens,
			Estimated:         resp.Usage.Estimated,
		},
		Degraded:        res.Degraded,
		DegradedReason:  res.DegradedReason,
		Cached:          res.Cached,
		Template:        res.Template,
		TemplateVersion: int32(min(res.TemplateVersion, math.MaxInt32)),
		Attempts:        int32(min(res.Attempts, math.MaxInt32)),
	}
	for _, c := range resp.ToolCalls {
		out.ToolCalls = append(out.ToolCalls, toProtoToolCall(c))
	}
	return out
}

func toProtoToolCall(c provider.ToolCall) *keelv1.ToolCall {
	return &keelv1.ToolCall{Id: c.ID, Name: c.Name, ArgumentsJson: c.Arguments, Signature: c.Signature}
}
