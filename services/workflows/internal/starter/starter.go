// Package starter starts one support copilot run per redacted inbound email
// or helpdesk ticket it reads from JetStream. The workflow id is a function of tenant and event
// id and Temporal refuses a second run under it, so a redelivered or
// replayed event never starts the copilot twice.
package starter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/temporalx"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/workflows/internal/copilot"
)

// Consumer settings: the durable name and dead-letter stage are the
// service's name.
const (
	Durable = "workflows"
	Stage   = "workflows"
	// FilterSubject selects redacted emails of every tenant.
	FilterSubject = "keel.redacted.*.email"
	// TicketFilterSubject selects redacted helpdesk tickets, which are
	// customer messages answered the same way.
	TicketFilterSubject = "keel.redacted.*.ticket"
)

// WorkflowStarter starts workflows; client.Client is one.
type WorkflowStarter interface {
	ExecuteWorkflow(
		ctx context.Context,
		options client.StartWorkflowOptions,
		workflow any,
		args ...any,
	) (client.WorkflowRun, error)
}

// Policies are the review policies of every tenant.
type Policies struct {
	// RiskThreshold applies to tenants without their own; zero means
	// copilot.DefaultRiskThreshold.
	RiskThreshold float64
	// TenantThresholds override RiskThreshold per tenant.
	TenantThresholds map[string]float64
	// AlwaysReview lists tenants whose every reply waits for a reviewer.
	AlwaysReview []string
	// ReviewTimeout and EscalationTimeout are passed to every run; zero
	// means the copilot's defaults.
	ReviewTimeout     time.Duration
	EscalationTimeout time.Duration
}

// For returns the policy of tenantID.
func (p Policies) For(tenantID string) copilot.Policy {
	threshold := p.RiskThreshold
	if t, ok := p.TenantThresholds[tenantID]; ok {
		threshold = t
	}
	return copilot.Policy{
		RiskThreshold:     threshold,
		AlwaysReview:      slices.Contains(p.AlwaysReview, tenantID),
		ReviewTimeout:     p.ReviewTimeout,
		EscalationTimeout: p.EscalationTimeout,
	}.WithDefaults()
}

// Starter consumes redacted emails and starts a copilot run for each.
type Starter struct {
	js       jetstream.JetStream
	temporal WorkflowStarter
	policies Policies
	logger   *slog.Logger
}

// New returns a Starter reading from js and starting runs through temporal.
func New(js jetstream.JetStream, temporal WorkflowStarter, policies Policies, logger *slog.Logger) *Starter {
	return &Starter{js: js, temporal: temporal, policies: policies, logger: logger}
}

// Run consumes until ctx ends and returns nil then; it returns an error
// when the consumer cannot be set up.
func (s *Starter) Run(ctx context.Context) error {
	return bus.Consume(ctx, s.js, bus.ConsumerConfig{
		Stream:         bus.StreamRedacted,
		Durable:        Durable,
		Stage:          Stage,
		FilterSubjects: []string{FilterSubject, TicketFilterSubject},
	}, func() *keelv1.RedactedEvent { return new(keelv1.RedactedEvent) }, s.handle, s.logger)
}

// handle starts the run of one event. An event that cannot become a valid
// copilot input is dead-lettered; a failure to reach Temporal is retried.
func (s *Starter) handle(ctx context.Context, d bus.Delivery[*keelv1.RedactedEvent]) error {
	ev := d.Msg
	if ev.GetTenantId() != "" && ev.GetTenantId() != d.Tenant {
		return bus.Permanent(fmt.Errorf("event tenant %q does not match subject tenant %q", ev.GetTenantId(), d.Tenant))
	}

	in := Input(d.Tenant, bus.SubjectKind(d.Subject), ev, s.policies.For(d.Tenant))
	if err := in.Validate(); err != nil {
		return bus.Permanent(err)
	}

	workflowID := temporalx.CopilotWorkflowID(d.Tenant, ev.GetEventId())
	log := s.logger.With("tenant", d.Tenant, "workflow_id", workflowID)

	run, err := s.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:        workflowID,
		TaskQueue: temporalx.CopilotTaskQueue,
		// A finished run is never repeated, a running one is joined.
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}, temporalx.CopilotWorkflow, in)

	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		log.Info("copilot already ran for event", "event_id", ev.GetEventId())
		return nil
	}
	if err != nil {
		return fmt.Errorf("start copilot %s: %w", workflowID, err)
	}

	log.Info("copilot started", "event_id", ev.GetEventId(), "run_id", run.GetRunID())
	return nil
}

// Input maps a redacted event of kind for tenantID to the copilot's input.
func Input(tenantID, kind string, ev *keelv1.RedactedEvent, policy copilot.Policy) copilot.Input {
	return copilot.Input{
		TenantID:     tenantID,
		EventID:      ev.GetEventId(),
		Kind:         kind,
		VaultRef:     ev.GetVaultRef(),
		Subject:      ev.GetSubject(),
		Body:         ev.GetBody(),
		CustomerRef:  ev.GetCustomer().GetEmail(),
		CustomerName: ev.GetCustomer().GetName(),
		AccountID:    ev.GetCustomer().GetAccountId(),
		Policy:       policy,
	}
}
