package temporalx

import "testing"

func TestStagePredicates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		stage           string
		pending, settle bool
	}{
		{stage: StageDrafting},
		{stage: StagePublishing},
		{stage: StageAwaitingReview, pending: true, settle: true},
		{stage: StageEscalated, pending: true, settle: true},
		{stage: StageCompleted, settle: true},
		{stage: StageRejected, settle: true},
		{stage: "unknown"},
	}
	for _, tc := range tests {
		t.Run(tc.stage, func(t *testing.T) {
			t.Parallel()
			if got := ReviewPending(tc.stage); got != tc.pending {
				t.Errorf("ReviewPending(%q) = %v, want %v", tc.stage, got, tc.pending)
			}
			if got := Settled(tc.stage); got != tc.settle {
				t.Errorf("Settled(%q) = %v, want %v", tc.stage, got, tc.settle)
			}
		})
	}
	if CopilotWorkflowID("acme", "e1") != CopilotWorkflowPrefix("acme")+"e1" {
		t.Error("a workflow id does not start with its tenant's prefix")
	}
}
