package httpapi

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/keelhq/keel/pkg/auth"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

// ModelRouter is the part of the router's API the chat endpoints use. The
// router service's in-process Local satisfies it, and so does the gRPC
// client adapter the gateway uses when the router runs apart.
type ModelRouter interface {
	Generate(ctx context.Context, req *keelv1.GenerateRequest) (*keelv1.GenerateResponse, error)
	GenerateStream(ctx context.Context, req *keelv1.GenerateRequest, send func(*keelv1.GenerateStreamResponse) error) error
	ListRoutes(ctx context.Context, req *keelv1.ListRoutesRequest) (*keelv1.ListRoutesResponse, error)
}

// maxChatBody bounds a chat completion request.
const maxChatBody = 8 << 20

// Headers of Keel's own on chat responses and requests.
const (
	headerRoute        = "X-Keel-Route"
	headerProvider     = "X-Keel-Provider"
	headerDegraded     = "X-Keel-Degraded"
	headerCache        = "X-Keel-Cache"
	headerTemplate     = "X-Keel-Template"
	headerPriority     = "X-Keel-Priority"
	headerConversation = "X-Keel-Conversation"
)

// chatAPI wraps a chat endpoint with authentication and the scope check and
// writes its errors in OpenAI's error format, which OpenAI clients parse.
// Unlike the other endpoints it sets no request deadline of its own: the
// route's deadlines govern, and a client that hangs up cancels the call.
func (h *handler) chatAPI(endpoint apiFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := h.authenticate(auth.ScopeModelsInvoke, endpoint)(w, r)
		if err == nil {
			return
		}
		e := asOpenAIError(err)
		if e.status == 499 && r.Context().Err() == nil {
			// A cancellation the client did not cause: never answer it
			// with nothing.
			e.status, e.kind, e.message = http.StatusBadGateway, "server_error", "model call was cancelled"
		}
		if e.status >= http.StatusInternalServerError {
			h.logger.ErrorContext(r.Context(), "request failed",
				"route", r.Pattern, "status", e.status, "error", err)
		}
		// A 401 must carry the challenge (RFC 9110), as the problem
		// endpoints send it.
		var ae *apiError
		if errors.As(err, &ae) && ae.challenge != "" {
			w.Header().Set("WWW-Authenticate", ae.challenge)
		}
		writeOpenAIError(w, e)
	})
}

// methodNotAllowed answers a method an OpenAI path does not serve.
func methodNotAllowed(allow string) apiFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Allow", allow)
		return &chatError{status: http.StatusMethodNotAllowed, kind: "invalid_request_error",
			message: fmt.Sprintf("%s is not served here; use %s", r.Method, allow)}
	}
}

// errNoRouter answers the chat endpoints of a gateway without a router.
func errNoRouter() error {
	return &chatError{status: http.StatusServiceUnavailable, kind: "server_error",
		message: "the model router is not configured on this gateway"}
}

// chatCompletions serves POST /v1/chat/completions.
func (h *handler) chatCompletions(w http.ResponseWriter, r *http.Request) error {
	if h.router == nil {
		return errNoRouter()
	}
	// Fields Keel does not know (penalties, metadata) are ignored, as
	// compatible servers do; those a client would rely on (logprobs,
	// logit_bias) are refused by toGenerateRequest.
	var body chatRequest
	in, err := requestBody(w, r, maxChatBody)
	if err != nil {
		return err
	}
	if err := decodeChatRequest(in, r.ContentLength, &body); err != nil {
		return err
	}
	req, err := toGenerateRequest(&body, r.Header)
	if err != nil {
		return err
	}

	id := completionID()
	created := h.now().Unix()
	if body.Stream {
		return h.streamCompletion(w, r, req, &body, id, created)
	}
	resp, err := h.router.Generate(r.Context(), req)
	if err != nil {
		return routedError(w.Header(), body.Model, err)
	}
	setKeelHeaders(w.Header(), resp)
	// A reply can be megabytes: a client that does not take it within the
	// write timeout loses it, rather than holding it in memory for good.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(h.writeTimeout))
	reply := chatResponse{
		ID:      id,
		Object:  "chat.completion",
		Created: created,
		Model:   responseModel(resp, body.Model),
		Choices: []chatChoice{{
			Message:      responseMessageOf(resp.GetText(), resp.GetToolCalls(), "assistant"),
			FinishReason: finishReason(resp.GetFinishReason()),
		}},
		Usage: usageOf(resp.GetUsage()),
	}
	doc := appendChat(make([]byte, 0, 256+len(resp.GetText())), &reply)
	writeRaw(w, http.StatusOK, contentTypeJSON, doc)
	return nil
}

// streamCompletion answers with server-sent events in OpenAI's chunk
// format. The status and headers go out with the first piece of the reply,
// so an error before it (every candidate failed, a limit) is still a plain
// HTTP error; after it, an error is sent as a last "error" event.
func (h *handler) streamCompletion(
	w http.ResponseWriter,
	r *http.Request,
	req *keelv1.GenerateRequest,
	body *chatRequest,
	id string,
	created int64,
) error {
	// The writer is wrapped by the request log's recorder, which is no
	// http.Flusher itself; the controller reaches the connection through
	// its Unwrap.
	sse := &sseWriter{w: w, rc: http.NewResponseController(w), id: id, created: created, model: body.Model,
		writeTimeout: h.writeTimeout}
	// The route is the model the client named (exact routes); the router
	// says who answers just before the first piece, in time for the
	// headers and for the chunks to name the model.
	w.Header().Set(headerRoute, body.Model)
	toolIndex := 0

	err := h.router.GenerateStream(r.Context(), req, func(m *keelv1.GenerateStreamResponse) error {
		if start := m.GetStart(); start != nil {
			if !sse.started {
				w.Header().Set(headerProvider, start.GetProvider())
				if start.GetCached() {
					w.Header().Set(headerCache, "hit")
				}
				if t := start.GetTemplate(); t != "" {
					w.Header().Set(headerTemplate, templateRef(t, start.GetTemplateVersion()))
				}
				sse.model = cmp.Or(start.GetModel(), sse.model)
			}
			return nil
		}
		if final := m.GetFinal(); final != nil {
			if !sse.started {
				// Nothing was streamed (an empty reply, a degraded
				// answer): the reply names who answered.
				setKeelHeaders(w.Header(), final)
				sse.model = responseModel(final, body.Model)
			}
			if !sse.sentContent {
				// A degraded fallback arrives whole, never as deltas; an
				// empty reply still opens with the assistant's role, as
				// OpenAI's streams do.
				text := final.GetText()
				if err := sse.chunk(&responseMessage{Role: "assistant", Content: &text}, nil); err != nil {
					return err
				}
			}
			if err := sse.chunk(&responseMessage{}, finishReason(final.GetFinishReason())); err != nil {
				return err
			}
			if body.StreamOptions != nil && body.StreamOptions.IncludeUsage {
				return sse.usage(usageOf(final.GetUsage()))
			}
			return nil
		}
		delta := &responseMessage{}
		if !sse.started {
			delta.Role = "assistant"
		}
		if text := m.GetDelta(); text != "" {
			delta.Content = &text
		}
		if c := m.GetToolCall(); c != nil {
			delta.ToolCalls = toChatToolCalls([]*keelv1.ToolCall{c}, toolIndex)
			toolIndex++
		}
		sse.sentContent = true
		return sse.chunk(delta, nil)
	})
	if err == nil {
		return sse.done()
	}
	if !sse.started {
		return routedError(w.Header(), body.Model, err)
	}
	// The client already has part of the reply: end the stream with an
	// error event, as OpenAI does, and no [DONE].
	e := asOpenAIError(routerError(err))
	if werr := sse.errorEvent(e.body()); werr != nil {
		return nil //nolint:nilerr // the client is gone; nothing more to tell it
	}
	level := slog.LevelWarn
	if e.status == 499 {
		// The client left: its own doing, which needs no one's attention.
		level = slog.LevelDebug
	}
	h.logger.Log(r.Context(), level, "stream ended by an error", "status", e.status, "error", err)
	return nil
}

// listModels serves GET /v1/models: one model per route the caller can
// name, with the providers and retention settings behind it.
func (h *handler) listModels(w http.ResponseWriter, r *http.Request) error {
	models, err := h.models(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, modelList{Object: "list", Data: models})
	return nil
}

// getModel serves GET /v1/models/{model}: one route, as OpenAI answers
// for one model.
func (h *handler) getModel(w http.ResponseWriter, r *http.Request) error {
	models, err := h.models(r)
	if err != nil {
		return err
	}
	for _, m := range models {
		if m.ID == r.PathValue("model") {
			writeJSON(w, http.StatusOK, m)
			return nil
		}
	}
	return modelNotFound()
}

// routedError is the answer to a call to route the router did not answer:
// like a reply, it names the route, unless the model names none.
func routedError(h http.Header, route string, err error) *chatError {
	e := routerError(err)
	if e.status == http.StatusNotFound {
		h.Del(headerRoute)
	} else {
		h.Set(headerRoute, route)
	}
	return e
}

// modelNotFound answers a model that names no route.
func modelNotFound() *chatError {
	return &chatError{status: http.StatusNotFound, kind: "invalid_request_error", code: "model_not_found",
		param: "model", message: "the model names no route; GET /v1/models lists them"}
}

// models returns the router's routes as OpenAI model objects.
func (h *handler) models(r *http.Request) ([]modelInfo, error) {
	if h.router == nil {
		return nil, errNoRouter()
	}
	routes, err := h.router.ListRoutes(r.Context(), &keelv1.ListRoutesRequest{})
	if err != nil {
		return nil, routerError(err)
	}
	out := []modelInfo{}
	for _, rt := range routes.GetRoutes() {
		detail := &routeDetail{Default: rt.GetDefault()}
		for _, c := range rt.GetCandidates() {
			detail.Candidates = append(detail.Candidates, routeCandidate{
				Provider: c.GetProvider(), Model: c.GetModel(), Retention: c.GetRetention(), Weight: c.GetWeight(),
			})
		}
		out = append(out, modelInfo{ID: rt.GetName(), Object: "model", OwnedBy: "keel", Keel: detail})
	}
	return out, nil
}

// toGenerateRequest converts an OpenAI request into the router's. The model
// names the route.
func toGenerateRequest(body *chatRequest, header http.Header) (*keelv1.GenerateRequest, error) {
	if body.Model == "" {
		return nil, badChat("model", "model is required: name a route from GET /v1/models")
	}
	if len(body.Messages) == 0 {
		return nil, badChat("messages", "messages must hold at least one message")
	}
	if body.N != nil && *body.N != 1 {
		return nil, badChat("n", "only n=1 is supported")
	}
	switch {
	case body.Logprobs != nil && *body.Logprobs:
		return nil, badChat("logprobs", "log probabilities are not served")
	case body.TopLogprobs != nil && *body.TopLogprobs > 0:
		return nil, badChat("top_logprobs", "log probabilities are not served")
	case len(body.LogitBias) > 0:
		return nil, badChat("logit_bias", "token biases are not served")
	}
	req := &keelv1.GenerateRequest{
		UseCase:           body.Model,
		Temperature:       body.Temperature,
		TopP:              body.TopP,
		Seed:              body.Seed,
		ParallelToolCalls: body.ParallelToolCalls,
		Conversation:      header.Get(headerConversation),
		ExactRoute:        true,
	}
	vars, err := templateVariables(body.KeelVariables)
	if err != nil {
		return nil, badChat("keel_variables", err.Error())
	}
	req.TemplateVariables = vars
	switch p := header.Get(headerPriority); p {
	case "", "interactive":
	case "batch":
		req.Priority = keelv1.Priority_PRIORITY_BATCH
	default:
		return nil, badChat("", fmt.Sprintf("%s must be interactive or batch, not %q", headerPriority, p))
	}
	if m := body.MaxCompletionTokens; m != nil {
		req.MaxOutputTokens = *m
	} else if m := body.MaxTokens; m != nil {
		req.MaxOutputTokens = *m
	}
	if req.MaxOutputTokens < 0 {
		return nil, badChat("max_tokens", "max_tokens must not be negative")
	}
	stop, err := stopSequences(body.Stop)
	if err != nil {
		return nil, badChat("stop", "stop must be a string or an array of strings")
	}
	req.Stop = stop
	if req.ToolChoice, err = toolChoice(body.ToolChoice); err != nil {
		return nil, badChat("tool_choice", err.Error())
	}
	for i, m := range body.Messages {
		text, err := messageText(m.Content)
		if err != nil {
			return nil, badChat(fmt.Sprintf("messages[%d].content", i), err.Error())
		}
		role := m.Role
		switch role {
		case "developer":
			role = "system"
		case "system", "user", "assistant", "tool":
		default:
			return nil, badChat(fmt.Sprintf("messages[%d].role", i), "must be system, developer, user, assistant or tool")
		}
		msg := &keelv1.ChatMessage{Role: role, Content: text, ToolCallId: m.ToolCallID}
		for _, c := range m.ToolCalls {
			msg.ToolCalls = append(msg.ToolCalls, &keelv1.ToolCall{
				Id: c.ID, Name: c.Function.Name, ArgumentsJson: c.Function.Arguments, Signature: c.signature(),
			})
		}
		req.Messages = append(req.Messages, msg)
	}
	for i, t := range body.Tools {
		if t.Type != "function" {
			return nil, badChat(fmt.Sprintf("tools[%d].type", i), "only function tools are supported")
		}
		req.Tools = append(req.Tools, &keelv1.ToolDefinition{
			Name: t.Function.Name, Description: t.Function.Description, ParametersJson: string(t.Function.Parameters),
			Strict: t.Function.Strict,
		})
	}
	if rf := body.ResponseFormat; rf != nil {
		switch rf.Type {
		case "text":
		case "json_object":
			req.ResponseSchema = &keelv1.ResponseSchema{Name: "json_object", SchemaJson: `{"type":"object"}`, JsonMode: true}
		case "json_schema":
			if rf.JSONSchema == nil || len(rf.JSONSchema.Schema) == 0 {
				return nil, badChat("response_format.json_schema", "json_schema.schema is required")
			}
			req.ResponseSchema = &keelv1.ResponseSchema{
				Name: rf.JSONSchema.Name, SchemaJson: string(rf.JSONSchema.Schema), Strict: rf.JSONSchema.Strict,
			}
		default:
			return nil, badChat("response_format.type", fmt.Sprintf("unknown response_format type %q", rf.Type))
		}
	}
	return req, nil
}

func responseMessageOf(text string, calls []*keelv1.ToolCall, role string) *replyMessage {
	m := &replyMessage{Role: role, ToolCalls: toChatToolCalls(calls, -1)}
	if text != "" || len(calls) == 0 {
		m.Content = &text
	}
	return m
}

// toChatToolCalls converts tool calls; index, when not negative, numbers
// them from there as stream deltas need.
func toChatToolCalls(calls []*keelv1.ToolCall, index int) []chatToolCall {
	var out []chatToolCall
	for i, c := range calls {
		tc := chatToolCall{ID: c.GetId(), Type: "function"}
		tc.Function.Name = c.GetName()
		tc.Function.Arguments = c.GetArgumentsJson()
		if sig := c.GetSignature(); sig != "" {
			tc.ExtraContent = &extraContent{Google: &googleContent{ThoughtSignature: sig}}
		}
		if index >= 0 {
			n := index + i
			tc.Index = &n
		}
		out = append(out, tc)
	}
	return out
}

func usageOf(u *keelv1.Usage) *chatUsage {
	out := &chatUsage{
		PromptTokens:     u.GetInputTokens(),
		CompletionTokens: u.GetOutputTokens(),
		TotalTokens:      u.GetInputTokens() + u.GetOutputTokens(),
	}
	if c := u.GetCachedInputTokens(); c > 0 {
		out.PromptTokensDetails = &promptTokenDetails{CachedTokens: c}
	}
	return out
}

func finishReason(reason string) *string {
	if reason == "" {
		reason = "stop"
	}
	return &reason
}

// responseModel is the model that answered, or the route for a degraded
// answer, which no model gave.
func responseModel(resp *keelv1.GenerateResponse, requested string) string {
	if resp.GetDegraded() || resp.GetModel() == "" {
		return requested
	}
	return resp.GetModel()
}

func setKeelHeaders(h http.Header, resp *keelv1.GenerateResponse) {
	h.Set(headerRoute, resp.GetRoute())
	if resp.GetCached() {
		h.Set(headerCache, "hit")
	}
	if t := resp.GetTemplate(); t != "" {
		h.Set(headerTemplate, templateRef(t, resp.GetTemplateVersion()))
	}
	if resp.GetDegraded() {
		h.Set(headerDegraded, "true; reason="+resp.GetDegradedReason())
		return
	}
	h.Set(headerProvider, resp.GetProvider())
}

// templateRef is how X-Keel-Template names a template: name@version.
func templateRef(name string, version int32) string {
	return name + "@" + strconv.Itoa(int(version))
}

func completionID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "chatcmpl-" + hex.EncodeToString(b[:])
}

// sseWriter writes a chat completion as server-sent events.
type sseWriter struct {
	w           http.ResponseWriter
	rc          *http.ResponseController
	id, model   string
	created     int64
	started     bool
	sentContent bool
	// writeTimeout bounds each write (zero: no bound).
	writeTimeout time.Duration
	// buf holds the event being written, kept for the next unless large.
	buf []byte
}

// maxKeptChunk bounds the event buffer an sseWriter keeps between events.
const maxKeptChunk = 64 << 10

func (s *sseWriter) start() {
	if s.started {
		return
	}
	s.started = true
	h := s.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	s.w.WriteHeader(http.StatusOK)
}

func (s *sseWriter) chunk(delta *responseMessage, finish *string) error {
	return s.event(&chatResponse{
		ID: s.id, Object: "chat.completion.chunk", Created: s.created, Model: s.model,
		Choices: []chatChoice{{Delta: delta, FinishReason: finish}},
	})
}

func (s *sseWriter) usage(u *chatUsage) error {
	return s.event(&chatResponse{
		ID: s.id, Object: "chat.completion.chunk", Created: s.created, Model: s.model,
		Choices: []chatChoice{}, Usage: u,
	})
}

func (s *sseWriter) event(r *chatResponse) error {
	s.buf = appendChat(append(s.buf[:0], "data: "...), r)
	return s.send()
}

// errorEvent sends the last event of a stream that failed after it began.
func (s *sseWriter) errorEvent(e openAIErrorBody) error {
	data, err := json.Marshal(openAIError{Error: e})
	if err != nil {
		return err
	}
	s.buf = append(append(s.buf[:0], "data: "...), data...)
	return s.send()
}

// send writes the event in buf.
func (s *sseWriter) send() error {
	s.start()
	s.buf = append(s.buf, '\n', '\n')
	buf := s.buf
	if cap(s.buf) > maxKeptChunk {
		s.buf = nil
	}
	s.deadline()
	if _, err := s.w.Write(buf); err != nil {
		return err
	}
	if err := s.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// deadline gives the next write writeTimeout to reach the client: one that
// stops reading gets an error instead of holding the call open. net/http
// lifts the deadline when the request ends, before the connection serves
// another.
func (s *sseWriter) deadline() {
	if s.writeTimeout > 0 {
		_ = s.rc.SetWriteDeadline(time.Now().Add(s.writeTimeout))
	}
}

func (s *sseWriter) done() error {
	s.start()
	s.deadline()
	if _, err := io.WriteString(s.w, "data: [DONE]\n\n"); err != nil {
		return nil //nolint:nilerr // the client is gone after the whole reply
	}
	_ = s.rc.Flush()
	return nil
}

// chatError is an error shown in OpenAI's format.
type chatError struct {
	status  int
	kind    string // OpenAI's error type
	code    string
	param   string
	message string
	// retryAfter, when positive, is sent as the Retry-After header.
	retryAfter time.Duration
	cause      error
	// tried marks a failure after the router's own retries and failover
	// (the route's policy): an SDK retrying on top would multiply the
	// provider calls, and wait out a circuit's Retry-After of up to a
	// minute while the application's user waits.
	tried bool
}

func (e *chatError) Error() string {
	msg := fmt.Sprintf("%d %s: %s", e.status, e.kind, e.message)
	if e.cause != nil {
		msg += ": " + e.cause.Error()
	}
	return msg
}

func (e *chatError) Unwrap() error { return e.cause }

// retryable reports whether sending the same request again soon can
// succeed: not once a budget is spent (it reopens with the next period),
// nor when the model answered outside the schema twice.
func (e *chatError) retryable() bool {
	switch e.code {
	case "insufficient_quota", "schema_mismatch":
		return false
	}
	return !e.tried
}

func (e *chatError) body() openAIErrorBody {
	b := openAIErrorBody{Message: e.message, Type: e.kind}
	if e.param != "" {
		b.Param = &e.param
	}
	if e.code != "" {
		b.Code = &e.code
	}
	return b
}

func badChat(param, message string) *chatError {
	return &chatError{status: http.StatusBadRequest, kind: "invalid_request_error", param: param, message: message}
}

// asOpenAIError turns any error into a chatError; the gateway's problem
// errors (authentication, scope) keep their status and detail.
func asOpenAIError(err error) *chatError {
	var ce *chatError
	if errors.As(err, &ce) {
		return ce
	}
	var ae *apiError
	if errors.As(err, &ae) {
		kind := "invalid_request_error"
		switch ae.status {
		case http.StatusUnauthorized:
			kind = "authentication_error"
		case http.StatusForbidden:
			kind = "permission_error"
		}
		if ae.status >= 500 {
			kind = "server_error"
		}
		// Problem kinds are kebab-case (token-expired); OpenAI's codes are
		// snake_case (model_not_found), and so are these in its format.
		code := strings.ReplaceAll(ae.kind, "-", "_")
		return &chatError{status: ae.status, kind: kind, code: code, param: ae.param, message: ae.detail, cause: ae.cause}
	}
	return &chatError{status: http.StatusInternalServerError, kind: "server_error", message: "internal error", cause: err}
}

// openAIParams names the router's request fields as a chat request does.
var openAIParams = strings.NewReplacer(
	"max_output_tokens", "max_tokens",
	"response_schema.schema_json", "response_format.json_schema.schema",
	"response_schema", "response_format",
	".parameters_json", ".function.parameters",
	"template_variables", "keel_variables",
	".arguments_json", ".function.arguments",
	".signature", ".extra_content.google.thought_signature",
)

// openAIParam returns the chat request's name of a router request field:
// tools[0].parameters_json is tools[0].function.parameters.
func openAIParam(field string) string {
	if strings.HasPrefix(field, "tools[") && strings.HasSuffix(field, "].name") {
		return strings.TrimSuffix(field, "name") + "function.name"
	}
	return openAIParams.Replace(field)
}

// routerError maps the router's gRPC status to an OpenAI error. The
// status's message is the router's own short one; only a request the
// provider refused carries the provider's reason, which is the caller's.
func routerError(err error) *chatError {
	st := status.Convert(err)
	var wait time.Duration
	var fields []string
	var param string
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.RetryInfo:
			wait = d.GetRetryDelay().AsDuration()
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				field := openAIParam(v.GetField())
				param = cmp.Or(param, field)
				fields = append(fields, field+": "+v.GetDescription())
			}
		}
	}
	e := &chatError{message: st.Message(), retryAfter: wait, cause: err}
	switch st.Code() {
	case codes.InvalidArgument:
		e.status, e.kind, e.param = http.StatusBadRequest, "invalid_request_error", param
		// The router's own checks name their fields in the message; a
		// provider's refusal keeps its words and names the field it gave.
		if len(fields) > 0 && !strings.HasPrefix(st.Message(), "model call failed") {
			e.message = strings.Join(fields, "; ")
		}
		if strings.Contains(st.Message(), "context_length") {
			e.code = "context_length_exceeded"
		}
	case codes.NotFound:
		nf := modelNotFound()
		nf.cause = err
		return nf
	case codes.ResourceExhausted:
		e.status, e.kind, e.code = http.StatusTooManyRequests, "rate_limit_error", "rate_limit_exceeded"
		if strings.Contains(st.Message(), "budget") || strings.Contains(st.Message(), "quota") {
			e.code = "insufficient_quota"
		}
	case codes.Unauthenticated:
		e.status, e.kind = http.StatusUnauthorized, "authentication_error"
	case codes.PermissionDenied:
		e.status, e.kind = http.StatusForbidden, "permission_error"
	case codes.FailedPrecondition:
		e.status, e.kind = http.StatusBadGateway, "server_error"
		switch {
		case strings.Contains(st.Message(), "content policy"):
			e.status, e.kind, e.code = http.StatusBadRequest, "invalid_request_error", "content_policy_violation"
		case strings.Contains(st.Message(), "response schema"):
			// The model answered, twice, but not in the schema's shape.
			e.code = "schema_mismatch"
		}
	case codes.OutOfRange:
		// Structured output cut off by the token limit: the request's
		// max_tokens is what the caller can change; retrying as it is
		// would be cut again.
		e.status, e.kind, e.code, e.param = http.StatusBadRequest, "invalid_request_error", "output_truncated", "max_tokens"
	case codes.Unavailable:
		e.status, e.kind = http.StatusServiceUnavailable, "server_error"
	case codes.DeadlineExceeded:
		e.status, e.kind, e.code = http.StatusGatewayTimeout, "server_error", "timeout"
	case codes.Canceled:
		e.status, e.kind = 499, "server_error"
	default:
		e.status, e.kind, e.message = http.StatusInternalServerError, "server_error", "model call failed"
	}
	// The router's own failures after its attempts say "model call
	// failed" (a provider's rate limit among them, after the route's
	// retries and failover); a transport error on the way to it (a router
	// restarting), one still starting, or a tenant's own rate limit is
	// worth an SDK's retry.
	e.tried = (e.status >= 500 || e.status == http.StatusTooManyRequests) &&
		strings.HasPrefix(st.Message(), "model call failed")
	return e
}

func writeOpenAIError(w http.ResponseWriter, e *chatError) {
	if !e.retryable() {
		// OpenAI's SDKs retry 429s and 5xx by themselves, waiting out any
		// Retry-After (hours for a spent budget): this header stops them.
		w.Header().Set("X-Should-Retry", "false")
	}
	if e.retryAfter > 0 {
		secs := int64(math.Ceil(e.retryAfter.Seconds()))
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	if e.status == 499 {
		// The client is gone; nobody reads the answer.
		return
	}
	writeJSON(w, e.status, openAIError{Error: e.body()})
}
