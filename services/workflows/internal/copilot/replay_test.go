package copilot

import (
	"log/slog"
	"path/filepath"
	"testing"

	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
)

// TestReplayRecordedHistory replays the history of a real run, recorded
// against the embedded Temporal server, through today's workflow code: a
// change that breaks determinism for runs already in flight fails here. The
// run drafted with one tool call, waited for review and was approved.
//
// To record it again: KEEL_WRITE_COPILOT_HISTORY=1 go test
// -run TestSupportCopilotOnEmbeddedServer ./internal/devtemporal (in
// cmd/keel). Record a new file, and keep the old one, when a change is
// versioned with workflow.GetVersion.
func TestReplayRecordedHistory(t *testing.T) {
	replayer := worker.NewWorkflowReplayer()
	RegisterWorkflow(replayer)

	logger := sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))
	path := filepath.Join("testdata", "support_copilot_history.json")
	if err := replayer.ReplayWorkflowHistoryFromJSONFile(logger, path); err != nil {
		t.Fatalf("replay %s: %v", path, err)
	}
}
