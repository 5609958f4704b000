// Package copilot is the support copilot: one Temporal workflow per inbound
// email that retrieves grounding passages, drafts a reply through the model
// router (calling order and account tools when the model asks), evaluates the
// draft, waits for a reviewer when the risk or the tenant demands it, and
// publishes the approved reply with the customer's details restored. Every
// step is written to the audit log.
//
// The workflow only ever holds redacted text: the customer's originals are
// restored inside the activity that publishes the reply, so they never enter
// Temporal's history.
package copilot

import (
	"errors"
	"fmt"
	"github.com/keelhq/keel/pkg/temporalx"
	"strings"
	"time"
)

// Stages of a run, as CopilotStatus.stage reports them; the names are the
// contract in temporalx.
const (
	StageReceived       = temporalx.StageReceived
	StageRetrieving     = temporalx.StageRetrieving
	StageDrafting       = temporalx.StageDrafting
	StageEvaluating     = temporalx.StageEvaluating
	StageAwaitingReview = temporalx.StageAwaitingReview
	StageEscalated      = temporalx.StageEscalated
	StagePublishing     = temporalx.StagePublishing
	StageCompleted      = temporalx.StageCompleted
	StageRejected       = temporalx.StageRejected
)

// Reviewer decisions a review signal may carry.
const (
	DecisionApprove = "approve"
	DecisionEdit    = "edit"
	DecisionReject  = "reject"
)

// Outcomes, as CopilotStatus.decision and OutboundMessage.decision report
// them.
const (
	OutcomeApproved     = "approved"
	OutcomeEdited       = "edited"
	OutcomeRejected     = "rejected"
	OutcomeAutoApproved = "auto_approved"
)

// Defaults of Policy.
const (
	DefaultRiskThreshold     = 0.5
	DefaultMinConfidence     = 0.3
	DefaultReviewTimeout     = 24 * time.Hour
	DefaultEscalationTimeout = 24 * time.Hour
)

// DefaultReviewCategories are the evaluator's finding categories that send
// a draft to a reviewer whatever its risk score: a legal threat or an
// attempt to steer the model is never answered by the model alone.
var DefaultReviewCategories = []string{"legal", "threat", "injection", "pii_leak", "foreign_placeholder", "profanity"}

// ReasonReviewExpired is the review reason of a run rejected because no
// reviewer decided before the escalation deadline.
const ReasonReviewExpired = "review expired"

// UseCase is the model router use case that drafts support replies.
const UseCase = "support_reply"

// ArticleKind is the document kind retrieval is limited to: knowledge base
// articles, never other customers' emails.
const ArticleKind = "article"

// ErrInvalidInput is returned (wrapped) by Input.Validate.
var ErrInvalidInput = errors.New("invalid copilot input")

// Input starts one SupportCopilot run. Every text field is already redacted:
// CustomerRef is the placeholder that stands for the customer's email address
// and is resolved through the vault only when the reply is sent.
type Input struct {
	TenantID string
	EventID  string
	// Kind of the inbound event; replies go out on the same kind.
	Kind string
	// VaultRef is the RedactedEvent's vault reference; Redactor.Restore
	// takes it.
	VaultRef    string
	Subject     string
	Body        string
	CustomerRef string
	// CustomerName is the placeholder of the customer's name, if known; the
	// model sees it so that the reply can greet the customer.
	CustomerName string
	AccountID    string
	Policy       Policy
}

// Policy is the tenant's review policy for a run.
type Policy struct {
	// RiskThreshold: a draft whose risk score reaches it waits for a
	// reviewer. Zero means DefaultRiskThreshold.
	RiskThreshold float64
	// AlwaysReview sends every draft to a reviewer.
	AlwaysReview bool
	// ReviewCategories are finding categories that always need a reviewer.
	// Nil means DefaultReviewCategories; an empty, non-nil list means none.
	ReviewCategories []string
	// MinConfidence: a draft the model is less confident of waits for a
	// reviewer. Zero means DefaultMinConfidence; negative turns it off.
	MinConfidence float64
	// ReviewTimeout is how long a draft waits for a reviewer before it is
	// escalated. Zero means DefaultReviewTimeout.
	ReviewTimeout time.Duration
	// EscalationTimeout is how long an escalated draft waits before it is
	// rejected. Zero means DefaultEscalationTimeout.
	EscalationTimeout time.Duration
}

// WithDefaults returns p with zero fields set to their defaults.
func (p Policy) WithDefaults() Policy {
	if p.RiskThreshold == 0 {
		p.RiskThreshold = DefaultRiskThreshold
	}
	if p.ReviewCategories == nil {
		p.ReviewCategories = DefaultReviewCategories
	}
	if p.MinConfidence == 0 {
		p.MinConfidence = DefaultMinConfidence
	}
	if p.ReviewTimeout == 0 {
		p.ReviewTimeout = DefaultReviewTimeout
	}
	if p.EscalationTimeout == 0 {
		p.EscalationTimeout = DefaultEscalationTimeout
	}
	return p
}

// Validate reports every problem of in at once, wrapping ErrInvalidInput.
func (in Input) Validate() error {
	var problems []string
	required := []struct{ name, value string }{
		{"tenant_id", in.TenantID},
		{"event_id", in.EventID},
		{"vault_ref", in.VaultRef},
		{"customer_ref", in.CustomerRef},
	}
	for _, r := range required {
		if strings.TrimSpace(r.value) == "" {
			problems = append(problems, r.name+" is required")
		}
	}
	if strings.TrimSpace(in.Subject) == "" && strings.TrimSpace(in.Body) == "" {
		problems = append(problems, "subject or body is required")
	}

	p := in.Policy
	if p.RiskThreshold < 0 || p.RiskThreshold > 1 {
		problems = append(problems, fmt.Sprintf("risk threshold %v is outside [0, 1]", p.RiskThreshold))
	}
	if p.ReviewTimeout < 0 || p.EscalationTimeout < 0 {
		problems = append(problems, "review timeouts must not be negative")
	}

	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidInput, strings.Join(problems, "; "))
	}
	return nil
}

// message is the customer's redacted email as the model and the evaluator
// see it.
func (in Input) message() string {
	var from string
	if in.CustomerName != "" {
		from = "From: " + in.CustomerName + "\n"
	}
	return from + "Subject: " + in.Subject + "\n\n" + in.Body
}

// replySubject is the subject of the reply, still redacted.
func (in Input) replySubject() string {
	s := strings.TrimSpace(in.Subject)
	if strings.HasPrefix(strings.ToLower(s), "re:") {
		return s
	}
	return "Re: " + s
}

// principals are who retrieval acts as: the customer's account. Chunks
// without an ACL are visible to every principal of the tenant.
func (in Input) principals() []string {
	if in.AccountID == "" {
		return nil
	}
	return []string{"account:" + in.AccountID}
}
