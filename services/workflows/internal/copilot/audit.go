package copilot

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"go.temporal.io/sdk/workflow"

	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

// auditor publishes a run's audit events one after another, in the order
// they were recorded, from a coroutine of its own: the run does not wait for
// each event, yet the log reads in step order. Record never fails; flush
// reports the first event that could not be stored.
type auditor struct {
	queue []*keelv1.AuditEvent
	busy  bool
	err   error
}

// newAuditor starts the coroutine; acts only names the Record activity.
func newAuditor(ctx workflow.Context, acts *Activities) *auditor {
	a := &auditor{}
	actx := workflow.WithActivityOptions(ctx, reliableCall(10*time.Second))
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			if err := workflow.Await(ctx, func() bool { return len(a.queue) > 0 }); err != nil {
				return
			}
			ev := a.queue[0]
			a.busy = true

			err := workflow.ExecuteActivity(actx, acts.Record, ev).Get(ctx, nil)
			if err != nil && a.err == nil {
				a.err = fmt.Errorf("record audit event %s: %w", ev.GetAction(), err)
			}
			a.queue = a.queue[1:]
			a.busy = false
		}
	})
	return a
}

func (a *auditor) enqueue(ev *keelv1.AuditEvent) {
	a.queue = append(a.queue, ev)
}

// flush waits until every queued event is published and returns the first
// error any of them met.
func (a *auditor) flush(ctx workflow.Context) error {
	if err := workflow.Await(ctx, func() bool { return len(a.queue) == 0 && !a.busy }); err != nil {
		return fmt.Errorf("wait for audit events: %w", err)
	}
	return a.err
}

// auditID is the id of the seq-th audit event of a workflow: stable across
// replays and retries, unique across runs.
func auditID(workflowID string, seq int, action string) string {
	sum := sha256.Sum256([]byte(workflowID + "\x00" + strconv.Itoa(seq) + "\x00" + action))
	return hex.EncodeToString(sum[:16])
}
