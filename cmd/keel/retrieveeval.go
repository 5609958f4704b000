package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"github.com/keelhq/keel/cmd/keel/internal/demo"
	"github.com/keelhq/keel/cmd/keel/internal/retrieveeval"
)

// goldenSetFile is the retrieval golden set, beside the demo data.
const goldenSetFile = "retrieval-golden.jsonl"

// errBelowMinRecall means the evaluation ran but recall@5 was under the
// -min-recall floor.
var errBelowMinRecall = errors.New("recall@5 below the minimum")

// runRetrieveEval loads the knowledge base into in-process embed and
// retrieve services, asks every golden question and writes the scores.
func runRetrieveEval(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("retrieve eval")
	goldenPath := fs.String("golden", "", "golden set in JSON Lines (default: deploy/demo/"+goldenSetFile+
		" in the current directory or a parent)")
	kbDir := fs.String("kb", "", "folder of Markdown articles (default: deploy/demo/kb in the current directory or a parent)")
	split := fs.String("split", "all", "questions to ask: dev, test or all")
	asJSON := fs.Bool("json", false, "print the whole report, every passage included, as JSON")
	verbose := fs.Bool("v", false, "after the table, list the questions missed in the top 5 and what ranked instead")
	minRecall := fs.Float64("min-recall", 0, "exit non-zero when recall@5 of the questions asked is below `F`")
	if err := fs.Parse(args); err != nil {
		return parseError(err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *minRecall < 0 || *minRecall > 1 || math.IsNaN(*minRecall) {
		return fmt.Errorf("-min-recall %v: want a recall between 0 and 1", *minRecall)
	}
	if !slices.Contains([]string{retrieveeval.SplitDev, retrieveeval.SplitTest, "all"}, *split) {
		return fmt.Errorf("-split %q: want dev, test or all", *split)
	}

	if *goldenPath == "" || *kbDir == "" {
		root, err := demo.DataRoot()
		if err != nil {
			return err
		}
		if *goldenPath == "" {
			*goldenPath = filepath.Join(root, goldenSetFile)
		}
		if *kbDir == "" {
			*kbDir = filepath.Join(root, "kb")
		}
	}
	questions, err := retrieveeval.LoadGolden(*goldenPath)
	if err != nil {
		return err
	}
	questions = retrieveeval.FilterSplit(questions, *split)
	if len(questions) == 0 {
		return fmt.Errorf("no %s questions in %s", *split, *goldenPath)
	}

	report, err := retrieveeval.Run(ctx, retrieveeval.Config{KnowledgeBase: *kbDir, Questions: questions})
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(out)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(report); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	} else if err := writeRetrievalReport(out, report, *verbose); err != nil {
		return err
	}

	if got := report.Overall.RecallAt5; got < *minRecall {
		return fmt.Errorf("%w: %.3f < %.3f", errBelowMinRecall, got, *minRecall)
	}
	return nil
}

// writeRetrievalReport writes the scores per split and overall, then with
// verbose every question whose articles are not in the top 5.
func writeRetrievalReport(out io.Writer, r *retrieveeval.Report, verbose bool) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%d articles, %d chunks, embedding model %s, %d questions\n\n",
		r.Articles, r.Chunks, r.Model, r.Overall.Questions)
	fmt.Fprintf(&b, "%-6s %9s %9s %10s %6s\n", "split", "questions", "recall@5", "recall@10", "MRR")
	row := func(name string, s retrieveeval.Scores) {
		fmt.Fprintf(&b, "%-6s %9d %9.3f %10.3f %6.3f\n", name, s.Questions, s.RecallAt5, s.RecallAt10, s.MRR)
	}
	for _, split := range []string{retrieveeval.SplitDev, retrieveeval.SplitTest} {
		if s, ok := r.Splits[split]; ok {
			row(split, s)
		}
	}
	row("all", r.Overall)

	if verbose {
		writeMisses(&b, r.Outcomes)
	}
	if _, err := io.WriteString(out, b.String()); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// writeMisses lists the questions without a relevant article in the top 5,
// with the rank at which one appeared in the top 10 and what ranked above.
func writeMisses(b *strings.Builder, outcomes []retrieveeval.Outcome) {
	var missed []retrieveeval.Outcome
	for _, o := range outcomes {
		if !o.InShort {
			missed = append(missed, o)
		}
	}
	fmt.Fprintf(b, "\nmissed in the top 5: %d\n", len(missed))
	for _, o := range missed {
		where := "not in the top 10"
		if o.Rank > 0 {
			where = fmt.Sprintf("first relevant at rank %d", o.Rank)
		}
		fmt.Fprintf(b, "\n%s [%s] %q\n  want %s; %s\n", o.ID, o.Split, o.Text,
			strings.Join(o.Relevant, ", "), where)
		for i, h := range o.Long {
			if o.Rank > 0 && i+1 >= o.Rank {
				break
			}
			fmt.Fprintf(b, "  %2d. %-36s %.4f (vector %.3f, keyword %.2f)\n",
				i+1, h.Article, h.Score, h.VectorScore, h.KeywordScore)
		}
	}
}
