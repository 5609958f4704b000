// Package httpapi is the gateway's HTTP API: bearer-token authentication,
// email submission to the ingest service, and the reviewer endpoints that
// read and decide support copilot workflows in Temporal. Errors are RFC 9457
// problem documents.
package httpapi

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/keelhq/keel/pkg/auth"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

// DefaultRequestTimeout bounds the upstream calls of one API request.
const DefaultRequestTimeout = 15 * time.Second

// WorkflowClient is the part of the Temporal client the gateway uses;
// go.temporal.io/sdk/client.Client satisfies it.
type WorkflowClient interface {
	ListWorkflow(
		ctx context.Context,
		request *workflowservice.ListWorkflowExecutionsRequest,
	) (*workflowservice.ListWorkflowExecutionsResponse, error)
	QueryWorkflow(
		ctx context.Context,
		workflowID, runID, queryType string,
		args ...any,
	) (converter.EncodedValue, error)
	UpdateWorkflow(ctx context.Context, options client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error)
	DescribeWorkflowExecution(
		ctx context.Context,
		workflowID, runID string,
	) (*workflowservice.DescribeWorkflowExecutionResponse, error)
}

// Auditor records audit events; *bus.Publisher satisfies it.
type Auditor interface {
	Audit(ctx context.Context, ev *keelv1.AuditEvent) error
}

// Options are the dependencies of the API handler.
type Options struct {
	// TokenKey verifies bearer tokens; at least auth.MinKeyLen bytes.
	TokenKey []byte
	// Ingest receives submitted emails. Its connection must forward the
	// context's tenant (grpcx.Dial does).
	Ingest keelv1.IngestServiceClient
	// Temporal reads and signals copilot workflows.
	Temporal WorkflowClient
	// Auditor, when not nil, records what users do through the gateway.
	Auditor Auditor
	// Logger receives the request log; nil discards it.
	Logger *slog.Logger
	// Now tells the time for token checks; nil means time.Now.
	Now func() time.Time
	// RequestTimeout bounds each API request's upstream calls; zero means
	// DefaultRequestTimeout. The chat endpoints are bounded by their
	// route's deadlines instead.
	RequestTimeout time.Duration
	// Router serves the OpenAI-compatible chat endpoints; nil answers them
	// with 503.
	Router ModelRouter
	// WriteTimeout bounds how long a chat reply that is not streamed, or
	// one piece of a streamed one, may wait for the client to take it;
	// zero means DefaultWriteTimeout. A client that stops reading
	// then loses its reply (and a stream's model call, with the capacity it
	// holds, ends) instead of holding it in memory.
	WriteTimeout time.Duration
	// ModelAPIOnly serves the OpenAI-compatible endpoints and health only;
	// Ingest and Temporal may then be nil, and the email and review
	// endpoints answer 404 saying where they are served.
	ModelAPIOnly bool
}

// DefaultWriteTimeout is the default Options.WriteTimeout.
const DefaultWriteTimeout = 10 * time.Second

var (
	// ErrTokenKeyMissing is returned by NewHandler for a key shorter than
	// auth.MinKeyLen.
	ErrTokenKeyMissing = errors.New("httpapi: token key missing or too short")
	// ErrClientMissing is returned by NewHandler when the ingest or Temporal
	// client is nil.
	ErrClientMissing = errors.New("httpapi: upstream client missing")
)

// handler serves the API. It is safe for concurrent use.
type handler struct {
	key            []byte
	ingest         keelv1.IngestServiceClient
	temporal       WorkflowClient
	auditor        Auditor
	logger         *slog.Logger
	now            func() time.Time
	requestTimeout time.Duration
	writeTimeout   time.Duration
	router         ModelRouter
	verifier       *auth.Verifier
	mux            *http.ServeMux
	modelAPIOnly   bool
}

// NewHandler returns the gateway's HTTP handler. It returns
// ErrTokenKeyMissing or ErrClientMissing when opts lacks a dependency.
func NewHandler(opts Options) (http.Handler, error) {
	if len(opts.TokenKey) < auth.MinKeyLen {
		return nil, ErrTokenKeyMissing
	}
	if (opts.Ingest == nil || opts.Temporal == nil) && !opts.ModelAPIOnly {
		return nil, ErrClientMissing
	}
	h := &handler{
		key:            opts.TokenKey,
		ingest:         opts.Ingest,
		temporal:       opts.Temporal,
		auditor:        opts.Auditor,
		logger:         opts.Logger,
		now:            opts.Now,
		requestTimeout: opts.RequestTimeout,
		writeTimeout:   cmp.Or(opts.WriteTimeout, DefaultWriteTimeout),
		router:         opts.Router,
		verifier:       auth.NewVerifier(opts.TokenKey, auth.DefaultVerifierCache),
		mux:            http.NewServeMux(),
		modelAPIOnly:   opts.ModelAPIOnly,
	}
	if h.logger == nil {
		h.logger = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.requestTimeout <= 0 {
		h.requestTimeout = DefaultRequestTimeout
	}
	h.routes()
	return h.observe(h.mux), nil
}

// routes registers every endpoint. Per-tenant request, token and budget
// limits of the chat endpoints are the router's.
//
// TODO: rate limits of the gateway's own endpoints (emails, reviews).
func (h *handler) routes() {
	h.mux.Handle("POST /v1/chat/completions", h.chatAPI(h.chatCompletions))
	h.mux.Handle("GET /v1/models", h.chatAPI(h.listModels))
	h.mux.Handle("GET /v1/models/{model}", h.chatAPI(h.getModel))
	// Other methods on the OpenAI paths are answered in OpenAI's format.
	h.mux.Handle("/v1/chat/completions", h.chatAPI(methodNotAllowed(http.MethodPost)))
	h.mux.Handle("/v1/models", h.chatAPI(methodNotAllowed(http.MethodGet)))
	h.mux.Handle("/v1/models/{model}", h.chatAPI(methodNotAllowed(http.MethodGet)))
	h.mux.HandleFunc("GET /healthz", h.healthz)
	if h.modelAPIOnly {
		notServed := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			writeProblem(w, notFound("this gateway serves the model API only (/v1/chat/completions, /v1/models); "+
				"emails and reviews are served by the full stack (keel dev, make demo)"))
		})
		h.mux.Handle("/v1/emails", notServed)
		h.mux.Handle("/v1/emails/", notServed)
		h.mux.Handle("/v1/reviews", notServed)
		h.mux.Handle("/v1/reviews/", notServed)
		return
	}
	h.mux.Handle("POST /v1/emails", h.api(auth.ScopeEmailsWrite, h.submitEmail))
	h.mux.Handle("GET /v1/reviews", h.api(auth.ScopeReviewsRead, h.listReviews))
	h.mux.Handle("GET /v1/reviews/{event_id}", h.api(auth.ScopeReviewsRead, h.getReview))
	h.mux.Handle("POST /v1/reviews/{event_id}/approve",
		h.api(auth.ScopeReviewsWrite, h.decideReview(decisionApprove)))
	h.mux.Handle("POST /v1/reviews/{event_id}/edit",
		h.api(auth.ScopeReviewsWrite, h.decideReview(decisionEdit)))
	h.mux.Handle("POST /v1/reviews/{event_id}/reject",
		h.api(auth.ScopeReviewsWrite, h.decideReview(decisionReject)))
}

// apiFunc is an API endpoint: it writes a success response itself and
// returns errors for serveAPI to write as problems.
type apiFunc func(w http.ResponseWriter, r *http.Request) error

// api wraps an endpoint with authentication, the scope check and the
// request deadline, and writes its error as a problem.
func (h *handler) api(scope string, endpoint apiFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := h.authorize(scope, endpoint)(w, r)
		if err == nil {
			return
		}

		e := asAPIError(err)
		if e.status >= http.StatusInternalServerError {
			h.logger.ErrorContext(r.Context(), "request failed",
				"route", r.Pattern, "status", e.status, "error", err)
		}
		writeProblem(w, e)
	})
}

func (h *handler) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
