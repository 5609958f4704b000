package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/keelhq/keel/pkg/temporalx"
	"github.com/keelhq/keel/pkg/tenant"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

// Review decisions, as the copilot's review signal carries them.
const (
	decisionApprove = "approve"
	decisionEdit    = "edit"
	decisionReject  = "reject"
)

// Limits of a review decision body, in bytes.
const (
	maxEditedTextLen = 64 << 10
	maxNoteLen       = 4 << 10
)

const (
	// runningCopilotsQuery lists running copilot runs of every tenant.
	runningCopilotsQuery = "WorkflowType = '" + temporalx.CopilotWorkflow +
		"' AND ExecutionStatus = 'Running'"
	// listPageSize is the page size asked of Temporal's visibility store.
	listPageSize = 200
	// maxListedRuns caps how many running runs one listing inspects.
	maxListedRuns = 1000
	// queryConcurrency bounds the status queries one listing runs at once.
	queryConcurrency = 8
)

// statusJSON renders a CopilotStatus with the field names of the proto.
var statusJSON = protojson.MarshalOptions{UseProtoNames: true}

// reviewSummary is one entry of GET /v1/reviews.
type reviewSummary struct {
	EventID        string     `json:"event_id"`
	WorkflowID     string     `json:"workflow_id"`
	Subject        string     `json:"subject"`
	Stage          string     `json:"stage"`
	RiskScore      float64    `json:"risk_score"`
	ReviewReason   string     `json:"review_reason,omitempty"`
	ReviewDeadline *time.Time `json:"review_deadline,omitempty"`
}

// listReviewsResponse is the answer to GET /v1/reviews.
type listReviewsResponse struct {
	Reviews []reviewSummary `json:"reviews"`
}

// decisionRequest is the body of the review decision endpoints.
type decisionRequest struct {
	Text string `json:"text"`
	Note string `json:"note"`
}

// decisionResponse is the 202 answer to a review decision.
type decisionResponse struct {
	WorkflowID string `json:"workflow_id"`
	Decision   string `json:"decision"`
}

// listReviews handles GET /v1/reviews: the tenant's running copilot runs
// that wait for a reviewer, or with ?stage= those in another stage (all:
// every running one). Runs are listed newest first.
func (h *handler) listReviews(w http.ResponseWriter, r *http.Request) error {
	wanted, err := stageFilter(r.URL.Query().Get("stage"))
	if err != nil {
		return err
	}
	tenantID, err := tenant.Require(r.Context())
	if err != nil {
		return internalError(err)
	}

	ids, err := h.runningCopilots(r.Context(), tenantID)
	if err != nil {
		return err
	}
	statuses, err := h.queryStatuses(r.Context(), ids)
	if err != nil {
		return err
	}

	resp := listReviewsResponse{Reviews: []reviewSummary{}}
	for i, st := range statuses {
		if st == nil || !wanted(st.GetStage()) {
			continue
		}
		resp.Reviews = append(resp.Reviews, summarize(ids[i], st))
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// stageFilter parses the ?stage= parameter of GET /v1/reviews.
func stageFilter(param string) (func(stage string) bool, error) {
	switch {
	case param == "":
		return temporalx.ReviewPending, nil
	case param == "all":
		return func(string) bool { return true }, nil
	case slices.Contains(temporalx.CopilotStages, param):
		return func(stage string) bool { return stage == param }, nil
	}
	return nil, badRequest("stage must be all or one of %s", strings.Join(temporalx.CopilotStages, ", "))
}

// runningCopilots returns the ids of the tenant's running copilot runs.
//
// TODO: filter by a tenant search attribute in the visibility query; the
// query lists every tenant's runs and the ids are filtered here, which costs
// a scan of other tenants' runs and is capped at maxListedRuns.
func (h *handler) runningCopilots(ctx context.Context, tenantID string) ([]string, error) {
	prefix := temporalx.CopilotWorkflowPrefix(tenantID)
	var (
		ids       []string
		pageToken []byte
		seen      int
	)
	for {
		resp, err := h.temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			PageSize:      listPageSize,
			NextPageToken: pageToken,
			Query:         runningCopilotsQuery,
		})
		if err != nil {
			return nil, upstreamError(fmt.Errorf("list copilot runs: %w", err))
		}

		for _, run := range resp.GetExecutions() {
			seen++
			id := run.GetExecution().GetWorkflowId()
			if strings.HasPrefix(id, prefix) && !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
		pageToken = resp.GetNextPageToken()
		if len(pageToken) == 0 || seen >= maxListedRuns {
			return ids, nil
		}
	}
}

// queryStatuses asks each run for its status. A run that is gone by the
// time it is asked yields nil.
func (h *handler) queryStatuses(ctx context.Context, ids []string) ([]*keelv1.CopilotStatus, error) {
	statuses := make([]*keelv1.CopilotStatus, len(ids))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(queryConcurrency)
	for i, id := range ids {
		g.Go(func() error {
			st, err := h.queryStatus(ctx, id)
			if isNotFound(err) {
				return nil
			}
			if err != nil {
				return err
			}
			statuses[i] = st
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, upstreamError(err)
	}
	return statuses, nil
}

// queryStatus runs the copilot's status query on workflowID.
func (h *handler) queryStatus(ctx context.Context, workflowID string) (*keelv1.CopilotStatus, error) {
	value, err := h.temporal.QueryWorkflow(ctx, workflowID, "", temporalx.StatusQuery)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", workflowID, err)
	}
	var st *keelv1.CopilotStatus
	if value == nil || !value.HasValue() {
		return nil, fmt.Errorf("query %s: empty status", workflowID)
	}
	if err := value.Get(&st); err != nil {
		return nil, fmt.Errorf("decode status of %s: %w", workflowID, err)
	}
	if st == nil {
		return nil, fmt.Errorf("query %s: empty status", workflowID)
	}
	return st, nil
}

func summarize(workflowID string, st *keelv1.CopilotStatus) reviewSummary {
	s := reviewSummary{
		EventID:      st.GetEventId(),
		WorkflowID:   workflowID,
		Subject:      st.GetSubject(),
		Stage:        st.GetStage(),
		RiskScore:    st.GetRiskScore(),
		ReviewReason: st.GetReviewReason(),
	}
	if d := st.GetReviewDeadline(); d != nil {
		t := d.AsTime()
		s.ReviewDeadline = &t
	}
	return s
}

// reviewWorkflowID validates the {event_id} of the path and returns the
// workflow id of that event's copilot run in the token's tenant. Another
// tenant's event id therefore names a run that does not exist.
func reviewWorkflowID(r *http.Request) (eventID, workflowID string, err error) {
	eventID = r.PathValue("event_id")
	if msg := validEventID(eventID); msg != "" {
		return "", "", badRequest("%s", msg)
	}
	tenantID, err := tenant.Require(r.Context())
	if err != nil {
		return "", "", internalError(err)
	}
	return eventID, temporalx.CopilotWorkflowID(tenantID, eventID), nil
}

// getReview handles GET /v1/reviews/{event_id}: the full status of the
// event's copilot run.
func (h *handler) getReview(w http.ResponseWriter, r *http.Request) error {
	eventID, workflowID, err := reviewWorkflowID(r)
	if err != nil {
		return err
	}

	st, err := h.queryStatus(r.Context(), workflowID)
	if isNotFound(err) {
		return notFound("no copilot run for event %q", eventID)
	}
	if err != nil {
		return upstreamError(err)
	}
	if tid := st.GetTenantId(); tid != "" && tid != claimsFrom(r.Context()).Tenant {
		// The workflow id holds the tenant, so this cannot happen unless a
		// run was started under a wrong id; show nothing of it.
		h.logger.ErrorContext(r.Context(), "copilot status of another tenant",
			"tenant", claimsFrom(r.Context()).Tenant, "workflow_id", workflowID)
		return notFound("no copilot run for event %q", eventID)
	}

	body, err := statusJSON.Marshal(st)
	if err != nil {
		return internalError(fmt.Errorf("encode status: %w", err))
	}
	writeRaw(w, http.StatusOK, contentTypeJSON, body)
	return nil
}

// decideReview handles POST /v1/reviews/{event_id}/{approve,edit,reject}:
// it sends the decision, made by the token's subject, to the run as a
// workflow update. The run accepts one decision: a second one, or one after
// the run decided by itself, is answered 409.
func (h *handler) decideReview(decision string) apiFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		eventID, workflowID, err := reviewWorkflowID(r)
		if err != nil {
			return err
		}
		var req decisionRequest
		if err := decodeJSON(w, r, &req, true); err != nil {
			return err
		}
		if err := req.validate(decision); err != nil {
			return err
		}

		claims := claimsFrom(r.Context())
		review := &keelv1.ReviewDecision{
			Decision:   decision,
			Reviewer:   claims.Subject,
			EditedText: req.Text,
			Note:       req.Note,
		}
		handle, err := h.temporal.UpdateWorkflow(r.Context(), client.UpdateWorkflowOptions{
			WorkflowID:   workflowID,
			UpdateName:   temporalx.ReviewUpdate,
			Args:         []any{review},
			WaitForStage: client.WorkflowUpdateStageCompleted,
		})
		if err == nil {
			err = handle.Get(r.Context(), nil)
		}
		if err := updateRefused(eventID, err); err != nil {
			return err
		}
		if isNotFound(err) {
			return h.signalRefused(r.Context(), eventID, workflowID, err)
		}
		if err != nil {
			return upstreamError(fmt.Errorf("update %s: %w", workflowID, err))
		}

		h.audit(r.Context(), "review.submitted", workflowID, map[string]string{
			"decision": decision,
		})
		writeJSON(w, http.StatusAccepted, decisionResponse{WorkflowID: workflowID, Decision: decision})
		return nil
	}
}

// validate checks a decision body: edit needs the text to send, the other
// decisions take none.
func (req decisionRequest) validate(decision string) error {
	var problems []string
	switch {
	case decision == decisionEdit && strings.TrimSpace(req.Text) == "":
		problems = append(problems, "text is required for edit")
	case decision != decisionEdit && req.Text != "":
		problems = append(problems, "text is only accepted for edit")
	}
	if len(req.Text) > maxEditedTextLen {
		problems = append(problems, fmt.Sprintf("text must be at most %d bytes", maxEditedTextLen))
	}
	if len(req.Note) > maxNoteLen {
		problems = append(problems, fmt.Sprintf("note must be at most %d bytes", maxNoteLen))
	}
	if len(problems) > 0 {
		return badRequest("%s", strings.Join(problems, "; "))
	}
	return nil
}

// updateRefused turns the run's refusal of a review update into 409 (the
// review is decided) or 400 (the decision is malformed); other errors give
// nil.
func updateRefused(eventID string, err error) error {
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		return nil
	}
	switch appErr.Type() {
	case temporalx.ErrTypeReviewDecided:
		return &apiError{
			status: http.StatusConflict,
			kind:   "review-decided",
			title:  "Review already decided",
			detail: fmt.Sprintf("the copilot run for event %q already has its decision", eventID),
			cause:  err,
		}
	case temporalx.ErrTypeInvalidDecision:
		return badRequest("%s", appErr.Message())
	}
	return nil
}

// signalRefused explains a signal that Temporal refused as NotFound: either
// no run has that id (404) or the run has finished, so its review is decided
// (409).
func (h *handler) signalRefused(ctx context.Context, eventID, workflowID string, signalErr error) error {
	desc, err := h.temporal.DescribeWorkflowExecution(ctx, workflowID, "")
	if isNotFound(err) {
		return notFound("no copilot run for event %q", eventID)
	}
	if err != nil {
		return upstreamError(fmt.Errorf("describe %s: %w", workflowID, err))
	}
	if desc.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		// The run finished and a new one started between the two calls, or
		// the signal failed for another reason; either way it was not sent.
		return upstreamError(fmt.Errorf("signal %s: %w", workflowID, signalErr))
	}
	return &apiError{
		status: http.StatusConflict,
		kind:   "review-decided",
		title:  "Review already decided",
		detail: fmt.Sprintf("the copilot run for event %q has finished", eventID),
		cause:  signalErr,
	}
}
