// Package temporalx holds the names that the support copilot's callers and
// its worker must agree on, and dials Temporal with Keel's logger.
package temporalx

import (
	"fmt"
	"log/slog"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
)

const (
	// Namespace is the Temporal namespace Keel runs in.
	Namespace = "default"
	// CopilotWorkflow is the workflow type of the support copilot.
	CopilotWorkflow = "SupportCopilot"
	// CopilotTaskQueue is the task queue the copilot worker polls.
	CopilotTaskQueue = "keel-copilot"
	// ReviewSignal carries a keelv1.ReviewDecision to a waiting copilot.
	ReviewSignal = "review"
	// ReviewUpdate carries a keelv1.ReviewDecision as a workflow update:
	// unlike the signal, a second decision, or one after the run decided by
	// itself, is refused with an error of type ErrTypeReviewDecided, and an
	// invalid one with ErrTypeInvalidDecision.
	ReviewUpdate = "review-decision"
	// ErrTypeReviewDecided is the application error type of a refused
	// review update whose run has already decided.
	ErrTypeReviewDecided = "ReviewDecided"
	// ErrTypeInvalidDecision is the application error type of a malformed
	// review update.
	ErrTypeInvalidDecision = "InvalidDecision"
	// StatusQuery returns a keelv1.CopilotStatus.
	StatusQuery = "status"
)

// Stages of a copilot run, as keelv1.CopilotStatus.stage reports them.
const (
	StageReceived       = "received"
	StageRetrieving     = "retrieving"
	StageDrafting       = "drafting"
	StageEvaluating     = "evaluating"
	StageAwaitingReview = "awaiting_review"
	StageEscalated      = "escalated"
	StagePublishing     = "publishing"
	StageCompleted      = "completed"
	StageRejected       = "rejected"
)

// CopilotStages lists every stage in the order a run passes them.
var CopilotStages = []string{
	StageReceived, StageRetrieving, StageDrafting, StageEvaluating, StageAwaitingReview,
	StageEscalated, StagePublishing, StageCompleted, StageRejected,
}

// ReviewPending reports whether a run at stage waits for a reviewer.
func ReviewPending(stage string) bool {
	return stage == StageAwaitingReview || stage == StageEscalated
}

// Settled reports whether a run at stage has drafted and evaluated its
// reply: it waits for a reviewer or has ended.
func Settled(stage string) bool {
	return ReviewPending(stage) || stage == StageCompleted || stage == StageRejected
}

// CopilotWorkflowID returns the workflow id of the copilot run for one
// inbound event. It is a pure function of tenant and event, so a redelivered
// event finds its run instead of starting another.
func CopilotWorkflowID(tenantID, eventID string) string {
	return "copilot/" + tenantID + "/" + eventID
}

// CopilotWorkflowPrefix returns the prefix every copilot workflow id of a
// tenant starts with.
func CopilotWorkflowPrefix(tenantID string) string {
	return "copilot/" + tenantID + "/"
}

// Dial connects a Temporal client to hostPort in namespace, logging through
// logger.
func Dial(hostPort, namespace string, logger *slog.Logger) (client.Client, error) {
	c, err := client.Dial(client.Options{
		HostPort:  hostPort,
		Namespace: namespace,
		Logger:    tlog.NewStructuredLogger(logger),
	})
	if err != nil {
		return nil, fmt.Errorf("dial temporal %s: %w", hostPort, err)
	}
	return c, nil
}
