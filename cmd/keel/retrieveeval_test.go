package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel/cmd/keel/internal/retrieveeval"
)

// TestRetrieveEvalGoldenSet runs the evaluation end to end on the demo
// knowledge base and the repository's golden set, through the embed and
// retrieve services on embedded NATS, and holds retrieval to its quality
// floor on both splits.
func TestRetrieveEvalGoldenSet(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	var out bytes.Buffer
	if err := runRetrieveEval(ctx, []string{"-json"}, &out); err != nil {
		t.Fatalf("retrieve eval: %v", err)
	}
	var report retrieveeval.Report
	if err := json.Unmarshal(out.Bytes(), &report); err != nil {
		t.Fatalf("output is not a JSON report: %v\n%s", err, out.String())
	}

	if report.Articles < 30 || report.Chunks < int64(report.Articles) {
		t.Errorf("index held %d articles in %d chunks, want the whole demo knowledge base", report.Articles, report.Chunks)
	}
	floors := map[string]float64{retrieveeval.SplitDev: 0.9, retrieveeval.SplitTest: 0.8}
	for split, floor := range floors {
		s, ok := report.Splits[split]
		if !ok || s.Questions == 0 {
			t.Errorf("no %s questions in the report", split)
			continue
		}
		if s.RecallAt5 < floor {
			t.Errorf("%s recall@5 = %.3f, want at least %.2f", split, s.RecallAt5, floor)
		}
		if s.RecallAt10 < s.RecallAt5 {
			t.Errorf("%s recall@10 = %.3f is below recall@5 = %.3f", split, s.RecallAt10, s.RecallAt5)
		}
	}
	if len(report.Outcomes) != report.Overall.Questions {
		t.Errorf("report has %d outcomes for %d questions", len(report.Outcomes), report.Overall.Questions)
	}
}

// TestRetrieveEvalTableAndFloor checks the table, the misses under -v and
// that -min-recall above what is reached fails the command.
func TestRetrieveEvalTableAndFloor(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	var out bytes.Buffer
	err := runRetrieveEval(ctx, []string{"-split", "dev", "-v", "-min-recall", "1"}, &out)
	if !errors.Is(err, errBelowMinRecall) {
		t.Errorf("retrieve eval -min-recall 1: err = %v, want errBelowMinRecall", err)
	}
	got := out.String()
	for _, want := range []string{"recall@5", "recall@10", "MRR", "\ndev ", "\nall ", "missed in the top 5:"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "\ntest ") {
		t.Errorf("-split dev printed a test row:\n%s", got)
	}
}

func TestRetrieveEvalFlags(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		args []string
	}{
		{name: "unknown split", args: []string{"-split", "train"}},
		{name: "extra argument", args: []string{"questions.jsonl"}},
		{name: "recall above one", args: []string{"-min-recall", "2"}},
		{name: "negative recall", args: []string{"-min-recall", "-1"}},
		{name: "missing golden set", args: []string{"-golden", "does-not-exist.jsonl"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			var out bytes.Buffer
			if err := runRetrieveEval(context.Background(), tt.args, &out); err == nil {
				t.Errorf("retrieve eval %v succeeded, want an error", tt.args)
			}
		})
	}
}
