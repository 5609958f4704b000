// Package temporalfake is an in-memory stand-in for the few Temporal client
// calls the gateway makes, for tests. Payloads go through the SDK's default
// data converter, as they would over the wire.
package temporalfake

import (
	"context"
	"slices"
	"strconv"
	"sync"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/keelhq/keel/pkg/temporalx"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

// Signal is one review decision the fake received, as a signal or an
// update.
type Signal struct {
	WorkflowID string
	Name       string
	Decision   *keelv1.ReviewDecision
}

// Client fakes ListWorkflow, QueryWorkflow, SignalWorkflow, UpdateWorkflow and
// DescribeWorkflowExecution over a set of copilot runs. It implements
// client.Client so that it can stand in wherever one is expected; every
// other method panics. It is safe for concurrent use.
type Client struct {
	client.Client

	mu sync.Mutex
	// runs by workflow id, in the order they were added.
	order []string
	runs  map[string]*run
	// PageSize is how many runs ListWorkflow returns per page; 0 means 2, so
	// that callers must follow page tokens.
	PageSize int

	queried   []string
	described []string
	signals   []Signal
	lists     []string
	queryErr  error
}

type run struct {
	status  *keelv1.CopilotStatus
	closed  bool
	decided bool
}

// New returns a fake with no runs.
func New() *Client {
	return &Client{runs: map[string]*run{}}
}

// AddRun adds a running copilot run whose status query answers st.
func (c *Client) AddRun(workflowID string, st *keelv1.CopilotStatus) {
	c.add(workflowID, st, false)
}

// AddClosedRun adds a finished copilot run; queries still answer st.
func (c *Client) AddClosedRun(workflowID string, st *keelv1.CopilotStatus) {
	c.add(workflowID, st, true)
}

func (c *Client) add(workflowID string, st *keelv1.CopilotStatus, closed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.order = append(c.order, workflowID)
	c.runs[workflowID] = &run{status: st, closed: closed}
}

// FailQueries makes every later QueryWorkflow return err.
func (c *Client) FailQueries(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.queryErr = err
}

// Queried returns the workflow ids QueryWorkflow was asked about, in order.
func (c *Client) Queried() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.queried)
}

// Described returns the workflow ids DescribeWorkflowExecution was asked
// about.
func (c *Client) Described() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.described)
}

// Signals returns the signals received, in order.
func (c *Client) Signals() []Signal {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.signals)
}

// ListQueries returns the visibility queries ListWorkflow received.
func (c *Client) ListQueries() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.lists)
}

// ListWorkflow returns the running copilot runs of every tenant, PageSize at
// a time, which is what the gateway's visibility query selects. It records
// the query but does not parse it.
func (c *Client) ListWorkflow(
	_ context.Context,
	req *workflowservice.ListWorkflowExecutionsRequest,
) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lists = append(c.lists, req.GetQuery())

	var running []string
	for _, id := range c.order {
		if !c.runs[id].closed {
			running = append(running, id)
		}
	}
	start := 0
	if tok := string(req.GetNextPageToken()); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 || n > len(running) {
			return nil, serviceerror.NewInvalidArgument("bad page token")
		}
		start = n
	}
	size := c.PageSize
	if size <= 0 {
		size = 2
	}
	end := min(start+size, len(running))

	resp := &workflowservice.ListWorkflowExecutionsResponse{}
	for _, id := range running[start:end] {
		resp.Executions = append(resp.Executions, &workflowpb.WorkflowExecutionInfo{
			Execution: &commonpb.WorkflowExecution{WorkflowId: id, RunId: "run-" + id},
			Type:      &commonpb.WorkflowType{Name: temporalx.CopilotWorkflow},
			Status:    enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING,
		})
	}
	if end < len(running) {
		resp.NextPageToken = []byte(strconv.Itoa(end))
	}
	return resp, nil
}

// QueryWorkflow answers the status query of a run with its status.
func (c *Client) QueryWorkflow(
	_ context.Context,
	workflowID, _, queryType string,
	_ ...any,
) (converter.EncodedValue, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.queried = append(c.queried, workflowID)

	if c.queryErr != nil {
		return nil, c.queryErr
	}
	r, ok := c.runs[workflowID]
	if !ok {
		return nil, serviceerror.NewNotFound("workflow not found for ID: " + workflowID)
	}
	if queryType != temporalx.StatusQuery || r.status == nil {
		return nil, serviceerror.NewQueryFailed("unknown queryType " + queryType)
	}
	payload, err := converter.GetDefaultDataConverter().ToPayload(r.status)
	if err != nil {
		return nil, err
	}
	return encodedValue{payload: payload}, nil
}

// SignalWorkflow records a signal to a running workflow. Like Temporal, it
// answers NotFound for an unknown or finished run.
func (c *Client) SignalWorkflow(_ context.Context, workflowID, _, signalName string, arg any) error {
	c.mu.Lock()
	defer c.mu.Unlock()

	r, ok := c.runs[workflowID]
	if !ok {
		return serviceerror.NewNotFound("workflow not found for ID: " + workflowID)
	}
	if r.closed {
		return serviceerror.NewNotFound("workflow execution already completed")
	}

	// Round-trip the argument as a real client and worker would.
	payload, err := converter.GetDefaultDataConverter().ToPayload(arg)
	if err != nil {
		return err
	}
	var decision *keelv1.ReviewDecision
	if err := converter.GetDefaultDataConverter().FromPayload(payload, &decision); err != nil {
		return serviceerror.NewInvalidArgument("signal argument is not a ReviewDecision")
	}
	c.signals = append(c.signals, Signal{WorkflowID: workflowID, Name: signalName, Decision: decision})
	return nil
}

// UpdateWorkflow takes a review update the way the copilot run does: a
// malformed decision is refused as InvalidDecision, a second decision or one
// to a run whose status already has a decision as ReviewDecided. Like
// Temporal, it answers NotFound for an unknown or finished run.
func (c *Client) UpdateWorkflow(_ context.Context, opts client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	c.mu.Lock()
	defer c.mu.Unlock()

	r, ok := c.runs[opts.WorkflowID]
	if !ok {
		return nil, serviceerror.NewNotFound("workflow not found for ID: " + opts.WorkflowID)
	}
	if r.closed {
		return nil, serviceerror.NewNotFound("workflow execution already completed")
	}
	if len(opts.Args) != 1 {
		return nil, serviceerror.NewInvalidArgument("update takes one argument")
	}
	payload, err := converter.GetDefaultDataConverter().ToPayload(opts.Args[0])
	if err != nil {
		return nil, err
	}
	var decision *keelv1.ReviewDecision
	if err := converter.GetDefaultDataConverter().FromPayload(payload, &decision); err != nil {
		return nil, serviceerror.NewInvalidArgument("update argument is not a ReviewDecision")
	}

	h := updateHandle{workflowID: opts.WorkflowID}
	switch {
	case decision.GetDecision() != "approve" && decision.GetDecision() != "edit" && decision.GetDecision() != "reject":
		h.err = temporal.NewApplicationError("unknown decision", temporalx.ErrTypeInvalidDecision)
	case r.decided || r.status.GetDecision() != "":
		h.err = temporal.NewApplicationError("the review is already decided", temporalx.ErrTypeReviewDecided)
	default:
		r.decided = true
		c.signals = append(c.signals, Signal{WorkflowID: opts.WorkflowID, Name: opts.UpdateName, Decision: decision})
	}
	return h, nil
}

// updateHandle is a completed update.
type updateHandle struct {
	workflowID string
	err        error
}

func (h updateHandle) WorkflowID() string { return h.workflowID }
func (h updateHandle) RunID() string      { return "run-" + h.workflowID }
func (h updateHandle) UpdateID() string   { return "update-" + h.workflowID }
func (h updateHandle) Get(context.Context, any) error {
	return h.err
}

// DescribeWorkflowExecution reports whether a run is running or completed.
func (c *Client) DescribeWorkflowExecution(
	_ context.Context,
	workflowID, _ string,
) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.described = append(c.described, workflowID)

	r, ok := c.runs[workflowID]
	if !ok {
		return nil, serviceerror.NewNotFound("workflow not found for ID: " + workflowID)
	}
	status := enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	if r.closed {
		status = enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED
	}
	return &workflowservice.DescribeWorkflowExecutionResponse{
		WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{
			Execution: &commonpb.WorkflowExecution{WorkflowId: workflowID, RunId: "run-" + workflowID},
			Type:      &commonpb.WorkflowType{Name: temporalx.CopilotWorkflow},
			Status:    status,
		},
	}, nil
}

// Close does nothing; the fake holds no connection.
func (c *Client) Close() {}

// encodedValue is a query result as the SDK hands it to callers.
type encodedValue struct {
	payload *commonpb.Payload
}

func (v encodedValue) HasValue() bool { return v.payload != nil }

func (v encodedValue) Get(valuePtr any) error {
	return converter.GetDefaultDataConverter().FromPayload(v.payload, valuePtr)
}
