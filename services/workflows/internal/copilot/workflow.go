package copilot

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/keelhq/keel/pkg/temporalx"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

// Limits of the drafting loop.
const (
	// maxToolRounds is how many times the model may ask for tools before it
	// must answer with what it has.
	maxToolRounds = 3
	// maxToolCallsPerRound caps the tools run for one model response; calls
	// beyond it are answered with an error.
	maxToolCallsPerRound = 4
)

// maxAttrLen bounds an audit attribute value; values that come from the
// model (tool names, errors) could otherwise be arbitrarily long.
const maxAttrLen = 256

// Actor is the audit actor of every step the workflow takes itself.
const Actor = "workflows"

// Version markers. When the behaviour under a marker changes, raise its
// maximum and keep the old branch for runs that started before.
const (
	versionToolLoop    = "tool-loop"
	versionEarlyReview = "early-review-signal"
	// versionReviewRules adds review by finding category and by the model's
	// confidence.
	versionReviewRules = "review-rules"
)

// SupportCopilot drafts, reviews and sends the reply to one inbound email.
// Register it under the name temporalx.CopilotWorkflow. It answers the
// temporalx.StatusQuery query with a *keelv1.CopilotStatus at every stage and
// takes a *keelv1.ReviewDecision on the temporalx.ReviewSignal signal. It
// returns the final status; a malformed input fails the run at once.
func SupportCopilot(ctx workflow.Context, in Input) (*keelv1.CopilotStatus, error) {
	// The signal channel exists before the first activity so that a decision
	// sent early is buffered, never lost.
	r := &run{
		in:       in,
		policy:   in.Policy.WithDefaults(),
		reviewCh: workflow.GetSignalChannel(ctx, temporalx.ReviewSignal),
		updateCh: workflow.NewBufferedChannel(ctx, 1),
		logger:   workflow.GetLogger(ctx),
	}
	r.workflowID = workflow.GetInfo(ctx).WorkflowExecution.ID
	r.status = &keelv1.CopilotStatus{
		WorkflowId: r.workflowID,
		EventId:    in.EventID,
		TenantId:   in.TenantID,
		Stage:      StageReceived,
		Subject:    in.Subject,
		Message:    in.Body,
	}
	err := workflow.SetQueryHandler(ctx, temporalx.StatusQuery, func() (*keelv1.CopilotStatus, error) {
		return proto.CloneOf(r.status), nil
	})
	if err != nil {
		return nil, fmt.Errorf("register status query: %w", err)
	}
	err = workflow.SetUpdateHandlerWithOptions(ctx, temporalx.ReviewUpdate, r.takeReviewUpdate,
		workflow.UpdateHandlerOptions{Validator: r.validateReviewUpdate})
	if err != nil {
		return nil, fmt.Errorf("register review update: %w", err)
	}

	if err := in.Validate(); err != nil {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), "InvalidInput", err)
	}

	r.logger = log.With(r.logger, "tenant", in.TenantID, "workflow_id", r.workflowID)
	r.audit = newAuditor(ctx, r.acts)
	return r.execute(ctx)
}

// run is the state of one SupportCopilot execution.
type run struct {
	in     Input
	policy Policy
	// acts is nil: the workflow only names activity methods through it,
	// and the worker runs the *Activities registered under those names.
	acts       *Activities
	workflowID string
	reviewCh   workflow.ReceiveChannel
	// updateCh carries the one review update the run accepts.
	updateCh workflow.Channel
	// decided is set once the run has its decision, from a reviewer or
	// from the policy; later review updates are refused.
	decided bool
	logger  log.Logger
	audit   *auditor

	// status is what the status query returns; every step updates it.
	status *keelv1.CopilotStatus
	// auditSeq numbers the audit events of the run; with the workflow id it
	// makes each event's id.
	auditSeq int
}

// decision is how a run ends: which text goes out (if any), and who decided.
type decision struct {
	outcome  string
	reviewer string
	text     string
}

func (r *run) execute(ctx workflow.Context) (*keelv1.CopilotStatus, error) {
	r.record(ctx, Actor, "copilot.started", map[string]string{
		"kind":           orDefault(r.in.Kind, "email"),
		"risk_threshold": formatScore(r.policy.RiskThreshold),
		"always_review":  strconv.FormatBool(r.policy.AlwaysReview),
	})

	// Ground the reply in the tenant's articles.
	r.setStage(StageRetrieving)
	r.retrieve(ctx)

	// Draft, calling tools when the model asks.
	r.setStage(StageDrafting)
	draftErr := r.draft(ctx)

	// Evaluate the draft and publish it for review tooling.
	var evalErr error
	if draftErr == nil {
		r.setStage(StageEvaluating)
		evalErr = r.evaluate(ctx)
	}
	r.status.NeedsReview, r.status.ReviewReason = r.reviewNeeded(ctx, draftErr, evalErr)
	r.publishDraft(ctx)

	// Decide: a reviewer, or the policy.
	d, err := r.decide(ctx)
	if err != nil {
		return nil, err
	}
	r.status.Decision = d.outcome
	r.status.Reviewer = d.reviewer

	if d.outcome == OutcomeRejected {
		r.setStage(StageRejected)
		if err := r.audit.flush(ctx); err != nil {
			return nil, err
		}
		return proto.CloneOf(r.status), nil
	}

	// Send the reply; the audit trail is complete before it leaves.
	r.setStage(StagePublishing)
	if err := r.send(ctx, d); err != nil {
		return nil, err
	}
	r.setStage(StageCompleted)
	if err := r.audit.flush(ctx); err != nil {
		return nil, err
	}
	return proto.CloneOf(r.status), nil
}

func (r *run) retrieve(ctx workflow.Context) {
	ctx = workflow.WithActivityOptions(ctx, shortCall(15*time.Second, 5))

	var resp *keelv1.SearchResponse
	err := workflow.ExecuteActivity(ctx, r.acts.Retrieve, RetrieveInput{
		TenantID:   r.in.TenantID,
		Query:      strings.TrimSpace(r.in.Subject + "\n" + r.in.Body),
		Principals: r.in.principals(),
	}).Get(ctx, &resp)
	if err != nil {
		// Without passages the draft goes to a reviewer; that is the
		// fallback, so the run goes on.
		r.logger.Warn("retrieval failed, drafting without passages", "error", err)
		r.record(ctx, Actor, "passages.retrieved", map[string]string{"count": "0", "error": "retrieval failed"})
		return
	}

	r.status.Passages = resp.GetPassages()
	r.record(ctx, Actor, "passages.retrieved", map[string]string{
		"count":   strconv.Itoa(len(resp.GetPassages())),
		"partial": strconv.FormatBool(resp.GetPartial()),
	})
}

// draft asks the router for a reply. When the model asks for tools, it runs
// them and asks again with their results, at most maxToolRounds times; the
// last request offers no tools, so the model has to answer.
func (r *run) draft(ctx workflow.Context) error {
	_ = workflow.GetVersion(ctx, versionToolLoop, 1, 1)
	genCtx := workflow.WithActivityOptions(ctx, shortCall(60*time.Second, 3))

	messages := []*keelv1.ChatMessage{{Role: "user", Content: r.in.message()}}
	var (
		resp  *keelv1.GenerateResponse
		round int
	)
	for ; ; round++ {
		req := &keelv1.GenerateRequest{
			UseCase:  UseCase,
			Messages: messages,
			Passages: r.status.Passages,
			Subject:  r.workflowID,
		}
		if round < maxToolRounds {
			req.Tools = ToolDefinitions()
		}

		err := workflow.ExecuteActivity(genCtx, r.acts.Generate, GenerateInput{
			TenantID: r.in.TenantID,
			Request:  req,
		}).Get(genCtx, &resp)
		if err != nil {
			r.logger.Warn("drafting failed", "error", err)
			r.record(ctx, Actor, "draft.failed", map[string]string{"round": strconv.Itoa(round)})
			return fmt.Errorf("generate draft: %w", err)
		}
		if len(resp.GetToolCalls()) == 0 || round >= maxToolRounds {
			break
		}

		messages = append(messages, &keelv1.ChatMessage{
			Role:      "assistant",
			Content:   resp.GetText(),
			ToolCalls: resp.GetToolCalls(),
		})
		messages = append(messages, r.callTools(ctx, resp.GetToolCalls())...)
	}

	r.status.Draft = resp.GetText()
	r.status.Citations = resp.GetCitations()
	r.status.Confidence = resp.GetConfidence()
	r.record(ctx, Actor, "draft.generated", map[string]string{
		"route":         resp.GetRoute(),
		"provider":      resp.GetProvider(),
		"model":         resp.GetModel(),
		"finish_reason": resp.GetFinishReason(),
		"confidence":    formatScore(resp.GetConfidence()),
		"citations":     strconv.Itoa(len(resp.GetCitations())),
		"tool_rounds":   strconv.Itoa(round),
		"input_tokens":  strconv.FormatInt(resp.GetUsage().GetInputTokens(), 10),
		"output_tokens": strconv.FormatInt(resp.GetUsage().GetOutputTokens(), 10),
	})
	return nil
}

// callTools runs the calls of one model response in parallel and returns
// the tool messages that answer them, in the order of the calls.
func (r *run) callTools(ctx workflow.Context, calls []*keelv1.ToolCall) []*keelv1.ChatMessage {
	toolCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    500 * time.Millisecond,
			BackoffCoefficient: 2,
			MaximumInterval:    5 * time.Second,
			MaximumAttempts:    3,
		},
	})

	futures := make([]workflow.Future, len(calls))
	for i, call := range calls {
		if i >= maxToolCallsPerRound {
			break
		}
		futures[i] = workflow.ExecuteActivity(toolCtx, r.acts.CallTool, ToolInput{
			TenantID:    r.in.TenantID,
			VaultRef:    r.in.VaultRef,
			CustomerRef: r.in.CustomerRef,
			AccountID:   r.in.AccountID,
			Call:        call,
		})
	}

	out := make([]*keelv1.ChatMessage, 0, len(calls))
	for i, call := range calls {
		result := &keelv1.ToolResult{Name: call.GetName(), ArgumentsJson: call.GetArgumentsJson()}
		switch {
		case futures[i] == nil:
			result.Error = fmt.Sprintf("at most %d tool calls per response", maxToolCallsPerRound)
		default:
			var got *keelv1.ToolResult
			if err := futures[i].Get(ctx, &got); err != nil {
				r.logger.Warn("tool call failed", "tool", call.GetName(), "error", err)
				result.Error = "tool unavailable"
			} else {
				result = got
			}
		}

		r.status.ToolResults = append(r.status.ToolResults, result)
		attrs := map[string]string{"tool": call.GetName(), "ok": strconv.FormatBool(result.GetError() == "")}
		if result.GetError() != "" {
			attrs["error"] = result.GetError()
		}
		r.record(ctx, Actor, "tool.called", attrs)

		out = append(out, &keelv1.ChatMessage{
			Role:       "tool",
			ToolCallId: call.GetId(),
			Content:    toolMessage(result),
		})
	}
	return out
}

func (r *run) evaluate(ctx workflow.Context) error {
	ctx = workflow.WithActivityOptions(ctx, shortCall(15*time.Second, 5))

	var resp *keelv1.EvaluateResponse
	err := workflow.ExecuteActivity(ctx, r.acts.Evaluate, EvaluateInput{
		TenantID: r.in.TenantID,
		Request: &keelv1.EvaluateRequest{
			Input:       r.in.message(),
			Draft:       r.status.Draft,
			Passages:    r.status.Passages,
			Citations:   r.status.Citations,
			Subject:     r.workflowID,
			ToolResults: r.toolResultsJSON(),
		},
	}).Get(ctx, &resp)
	if err != nil {
		r.logger.Warn("evaluation failed, sending the draft to review", "error", err)
		r.record(ctx, Actor, "draft.evaluated", map[string]string{"error": "evaluation failed"})
		return fmt.Errorf("evaluate draft: %w", err)
	}

	r.status.RiskScore = resp.GetRiskScore()
	r.status.Findings = resp.GetFindings()

	categories := make([]string, 0, len(resp.GetFindings()))
	for _, f := range resp.GetFindings() {
		if !slices.Contains(categories, f.GetCategory()) {
			categories = append(categories, f.GetCategory())
		}
	}
	r.record(ctx, Actor, "draft.evaluated", map[string]string{
		"risk_score": formatScore(resp.GetRiskScore()),
		"findings":   strconv.Itoa(len(resp.GetFindings())),
		"categories": strings.Join(categories, ","),
	})
	return nil
}

// toolResultsJSON returns the results of the tool calls that succeeded.
func (r *run) toolResultsJSON() []string {
	var out []string
	for _, t := range r.status.ToolResults {
		if t.GetError() == "" && t.GetResultJson() != "" {
			out = append(out, t.GetResultJson())
		}
	}
	return out
}

// reviewCategoriesFound returns, in order, the categories of the draft's
// findings that the policy always sends to a reviewer.
func (r *run) reviewCategoriesFound() []string {
	var out []string
	for _, f := range r.status.Findings {
		if slices.Contains(r.policy.ReviewCategories, f.GetCategory()) && !slices.Contains(out, f.GetCategory()) {
			out = append(out, f.GetCategory())
		}
	}
	return out
}

// reviewNeeded applies the tenant's policy and says why a reviewer must
// look at the draft, or that none needs to.
func (r *run) reviewNeeded(ctx workflow.Context, draftErr, evalErr error) (bool, string) {
	var reasons []string
	switch {
	case draftErr != nil:
		reasons = append(reasons, "drafting failed")
	case strings.TrimSpace(r.status.Draft) == "":
		reasons = append(reasons, "empty draft")
	}
	if evalErr != nil {
		reasons = append(reasons, "evaluation failed")
	}
	if draftErr == nil && evalErr == nil && r.status.RiskScore >= r.policy.RiskThreshold {
		reasons = append(reasons, fmt.Sprintf("risk %s reaches threshold %s",
			formatScore(r.status.RiskScore), formatScore(r.policy.RiskThreshold)))
	}
	if len(r.status.Passages) == 0 {
		reasons = append(reasons, "no grounding passages")
	}
	if workflow.GetVersion(ctx, versionReviewRules, workflow.DefaultVersion, 1) >= 1 && draftErr == nil {
		if cats := r.reviewCategoriesFound(); len(cats) > 0 {
			reasons = append(reasons, "findings that always need review: "+strings.Join(cats, ", "))
		}
		if r.policy.MinConfidence > 0 && r.status.Confidence < r.policy.MinConfidence {
			reasons = append(reasons, fmt.Sprintf("model confidence %s below %s",
				formatScore(r.status.Confidence), formatScore(r.policy.MinConfidence)))
		}
	}
	if r.policy.AlwaysReview {
		reasons = append(reasons, "tenant reviews every reply")
	}
	return len(reasons) > 0, strings.Join(reasons, "; ")
}

func (r *run) publishDraft(ctx workflow.Context) {
	if r.status.Draft == "" {
		return
	}
	ctx = workflow.WithActivityOptions(ctx, shortCall(15*time.Second, 5))

	err := workflow.ExecuteActivity(ctx, r.acts.PublishDraft, &keelv1.DraftEvent{
		TenantId:    r.in.TenantID,
		WorkflowId:  r.workflowID,
		EventId:     r.in.EventID,
		Draft:       r.status.Draft,
		RiskScore:   r.status.RiskScore,
		NeedsReview: r.status.NeedsReview,
	}).Get(ctx, nil)
	if err != nil {
		// The drafts stream feeds optional tooling; the run does not depend
		// on it.
		r.logger.Warn("publish draft failed", "error", err)
	}
}

// decide returns how the run ends. Without a need for review the draft is
// sent, unless a reviewer already decided otherwise; with one, it waits for
// the reviewer's signal.
func (r *run) decide(ctx workflow.Context) (decision, error) {
	d, err := r.decideOnce(ctx)
	r.decided = true
	return d, err
}

func (r *run) decideOnce(ctx workflow.Context) (decision, error) {
	if !r.status.NeedsReview {
		if v := workflow.GetVersion(ctx, versionEarlyReview, 1, 1); v >= 1 {
			if d, ok := r.earlyDecision(ctx); ok {
				return d, nil
			}
		}
		return decision{outcome: OutcomeAutoApproved, text: r.status.Draft}, nil
	}

	r.record(ctx, Actor, "review.requested", map[string]string{
		"reason":     r.status.ReviewReason,
		"risk_score": formatScore(r.status.RiskScore),
	})
	return r.awaitReview(ctx)
}

// earlyDecision takes a valid decision that a reviewer sent although the
// draft needs no review.
func (r *run) earlyDecision(ctx workflow.Context) (decision, bool) {
	var upd *keelv1.ReviewDecision
	if r.updateCh.ReceiveAsync(&upd) {
		return r.acceptSignal(ctx, upd)
	}
	for {
		var sig *keelv1.ReviewDecision
		ok := r.reviewCh.ReceiveAsync(&sig)
		if !ok {
			return decision{}, false
		}
		if d, ok := r.acceptSignal(ctx, sig); ok {
			return d, true
		}
	}
}

// awaitReview waits for a valid review decision. When the review deadline
// passes it escalates and waits once more; when the escalation deadline
// passes too, the draft is rejected.
func (r *run) awaitReview(ctx workflow.Context) (decision, error) {
	r.setStage(StageAwaitingReview)
	wait := r.policy.ReviewTimeout
	for escalated := false; ; escalated = true {
		d, ok, err := r.waitForSignal(ctx, wait)
		if err != nil {
			return decision{}, err
		}
		if ok {
			return d, nil
		}

		if escalated {
			r.status.ReviewReason = ReasonReviewExpired
			r.record(ctx, Actor, "review.rejected", map[string]string{"reason": ReasonReviewExpired})
			return decision{outcome: OutcomeRejected}, nil
		}
		r.status.Escalated = true
		r.setStage(StageEscalated)
		r.record(ctx, Actor, "review.escalated", map[string]string{"waited": wait.String()})
		wait = r.policy.EscalationTimeout
	}
}

// waitForSignal waits up to wait for a valid decision, recording and
// skipping invalid ones. ok is false when the time ran out.
func (r *run) waitForSignal(ctx workflow.Context, wait time.Duration) (d decision, ok bool, err error) {
	r.status.ReviewDeadline = timestamppb.New(workflow.Now(ctx).Add(wait))

	timerCtx, cancelTimer := workflow.WithCancel(ctx)
	defer cancelTimer()
	timer := workflow.NewTimer(timerCtx, wait)

	expired := false
	var timerErr error
	sel := workflow.NewSelector(ctx)
	sel.AddFuture(timer, func(f workflow.Future) {
		expired = true
		timerErr = f.Get(ctx, nil)
	})
	sel.AddReceive(r.reviewCh, func(c workflow.ReceiveChannel, _ bool) {
		var sig *keelv1.ReviewDecision
		// ReceiveAsync drops a signal that does not decode (the SDK logs
		// it), where Receive would block for the next one and ignore the
		// deadline.
		if !c.ReceiveAsync(&sig) {
			return
		}
		d, ok = r.acceptSignal(ctx, sig)
	})

	sel.AddReceive(r.updateCh, func(c workflow.ReceiveChannel, _ bool) {
		var upd *keelv1.ReviewDecision
		c.Receive(ctx, &upd)
		d, ok = r.acceptSignal(ctx, upd)
	})

	for !ok && !expired {
		sel.Select(ctx)
	}
	if timerErr != nil {
		return decision{}, false, fmt.Errorf("wait for review: %w", timerErr)
	}
	return d, ok, nil
}

// acceptSignal validates a review signal. A valid one is recorded and turned
// into a decision; an invalid one is recorded as review.invalid and
// ignored.
func (r *run) acceptSignal(ctx workflow.Context, sig *keelv1.ReviewDecision) (decision, bool) {
	actor := Actor
	if reviewer := strings.TrimSpace(sig.GetReviewer()); reviewer != "" {
		actor = "user:" + reviewer
	}

	if err := validateDecision(sig); err != nil {
		r.logger.Warn("ignoring invalid review decision", "error", err, "reviewer", sig.GetReviewer())
		r.record(ctx, actor, "review.invalid", map[string]string{
			"decision": truncate(sig.GetDecision(), 32),
			"reason":   err.Error(),
		})
		return decision{}, false
	}

	d := decision{reviewer: sig.GetReviewer()}
	var action string
	switch sig.GetDecision() {
	case DecisionApprove:
		d.outcome, d.text, action = OutcomeApproved, r.status.Draft, "review.approved"
	case DecisionEdit:
		d.outcome, d.text, action = OutcomeEdited, sig.GetEditedText(), "review.edited"
	case DecisionReject:
		d.outcome, action = OutcomeRejected, "review.rejected"
	}
	r.record(ctx, actor, action, map[string]string{"stage": r.status.Stage})
	return d, true
}

// validateReviewUpdate refuses a review update that is malformed, or that
// comes after the run has a decision (from a reviewer or from its policy).
// It changes nothing: a refused update leaves no trace in the history.
func (r *run) validateReviewUpdate(_ workflow.Context, d *keelv1.ReviewDecision) error {
	if err := validateDecision(d); err != nil {
		return temporal.NewApplicationError(err.Error(), temporalx.ErrTypeInvalidDecision)
	}
	if r.decided || r.status.GetDecision() != "" {
		return temporal.NewApplicationError("the review is already decided", temporalx.ErrTypeReviewDecided)
	}
	return nil
}

// takeReviewUpdate hands an accepted review update to the waiting run. The
// run counts as decided from here on, so a second update is refused even
// before the first is applied.
func (r *run) takeReviewUpdate(_ workflow.Context, d *keelv1.ReviewDecision) (string, error) {
	r.decided = true
	r.updateCh.SendAsync(d)
	return d.GetDecision(), nil
}

// ErrInvalidDecision is the reason a review signal is ignored.
var ErrInvalidDecision = errors.New("invalid review decision")

// validateDecision checks a review signal: a known decision, a named
// reviewer, and for edit a reply text.
func validateDecision(sig *keelv1.ReviewDecision) error {
	var problems []string
	switch sig.GetDecision() {
	case DecisionApprove, DecisionReject:
	case DecisionEdit:
		if strings.TrimSpace(sig.GetEditedText()) == "" {
			problems = append(problems, "edit without edited_text")
		}
	default:
		problems = append(problems, fmt.Sprintf("unknown decision %q", truncate(sig.GetDecision(), 32)))
	}
	if strings.TrimSpace(sig.GetReviewer()) == "" {
		problems = append(problems, "no reviewer")
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidDecision, strings.Join(problems, "; "))
	}
	return nil
}

// send restores and publishes the reply once every earlier audit event is
// stored, then records reply.sent.
func (r *run) send(ctx workflow.Context, d decision) error {
	if err := r.audit.flush(ctx); err != nil {
		return err
	}
	ctx = workflow.WithActivityOptions(ctx, reliableCall(30*time.Second))

	var res SendResult
	err := workflow.ExecuteActivity(ctx, r.acts.SendReply, SendInput{
		TenantID:    r.in.TenantID,
		WorkflowID:  r.workflowID,
		EventID:     r.in.EventID,
		Kind:        r.in.Kind,
		VaultRef:    r.in.VaultRef,
		CustomerRef: r.in.CustomerRef,
		Subject:     r.in.replySubject(),
		Body:        d.text,
		Decision:    d.outcome,
		Reviewer:    d.reviewer,
		SentAt:      workflow.Now(ctx),
	}).Get(ctx, &res)
	if err != nil {
		r.record(ctx, Actor, "reply.failed", map[string]string{"decision": d.outcome})
		_ = r.audit.flush(ctx)
		return fmt.Errorf("send reply: %w", err)
	}

	r.status.FinalText = d.text
	r.record(ctx, Actor, "reply.sent", map[string]string{
		"decision":             d.outcome,
		"duplicate":            strconv.FormatBool(res.Duplicate),
		"unknown_placeholders": strconv.Itoa(res.UnknownPlaceholders),
	})
	return nil
}

func (r *run) setStage(stage string) {
	r.status.Stage = stage
}

// record queues an audit event. Its id is derived from the workflow id and
// its place in the run, so the event of a replayed or retried step keeps its
// id and the stream drops the copy.
func (r *run) record(ctx workflow.Context, actor, action string, attrs map[string]string) {
	r.auditSeq++
	if attrs == nil {
		attrs = make(map[string]string, 1)
	}
	for k, v := range attrs {
		if v == "" {
			delete(attrs, k)
			continue
		}
		attrs[k] = truncate(v, maxAttrLen)
	}
	attrs["workflow_id"] = r.workflowID

	r.audit.enqueue(&keelv1.AuditEvent{
		Id:         auditID(r.workflowID, r.auditSeq, action),
		TenantId:   r.in.TenantID,
		Actor:      actor,
		Action:     action,
		Subject:    r.in.EventID,
		OccurredAt: timestamppb.New(workflow.Now(ctx)),
		Attributes: attrs,
	})
}

// shortCall are the options of a call that may fail for good: bounded
// attempts, after which the workflow takes its fallback.
func shortCall(timeout time.Duration, attempts int32) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: timeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    30 * time.Second,
			MaximumAttempts:    attempts,
		},
	}
}

// reliableCall are the options of a call that must happen eventually: it is
// retried until it succeeds or fails with a non-retryable error.
func reliableCall(timeout time.Duration) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: timeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
		},
	}
}

func formatScore(f float64) string {
	return strconv.FormatFloat(f, 'f', 3, 64)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
