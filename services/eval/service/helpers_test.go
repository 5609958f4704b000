package service

import (
	"testing"

	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/eval/internal/score"
)

func scoreOf(t *testing.T, req *keelv1.EvaluateRequest) score.Result {
	t.Helper()
	in := score.Input{Customer: req.GetInput(), Draft: req.GetDraft(), Citations: req.GetCitations()}
	for _, p := range req.GetPassages() {
		in.Passages = append(in.Passages, score.Passage{ChunkID: p.GetChunkId(), Text: p.GetText()})
	}
	return score.Evaluate(in)
}
