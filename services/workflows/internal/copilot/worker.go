package copilot

import (
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/keelhq/keel/pkg/temporalx"
)

// Register adds SupportCopilot, under temporalx.CopilotWorkflow, and the
// methods of acts to reg.
func Register(reg worker.Registry, acts *Activities) {
	RegisterWorkflow(reg)
	reg.RegisterActivity(acts)
}

// RegisterWorkflow adds only SupportCopilot to reg, under its workflow type
// name; replayers and tests that mock activities use it.
func RegisterWorkflow(reg worker.WorkflowRegistry) {
	reg.RegisterWorkflowWithOptions(SupportCopilot, workflow.RegisterOptions{
		Name: temporalx.CopilotWorkflow,
	})
}
