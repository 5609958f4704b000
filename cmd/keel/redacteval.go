package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/keelhq/keel/services/ingest/redact"
	"github.com/keelhq/keel/services/ingest/redact/redacteval"
)

// labelledSetPath is where the labelled redaction test set lives, relative
// to the repository root.
const labelledSetPath = "services/ingest/redact/testdata/labelled"

// runRedactEval scores the redactor on a labelled test set and writes a
// table, or the whole report as JSON, to out.
func runRedactEval(args []string, out io.Writer) error {
	fs := newFlags("redact eval")
	dataDir := fs.String("data", "", "labelled test set directory (default: "+labelledSetPath+
		" in the current directory or a parent)")
	asJSON := fs.Bool("json", false, "print the whole report, every error included, as JSON")
	showErrors := fs.Int("errors", 0, "after the table, print the first `N` false positives and negatives")
	if err := fs.Parse(args); err != nil {
		return parseError(err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}

	dir := *dataDir
	if dir == "" {
		cwd, err := os.Getwd()
		if err != nil {
			return fmt.Errorf("find labelled test set: %w", err)
		}
		if dir, err = findLabelledSet(cwd); err != nil {
			return err
		}
	}
	examples, err := redacteval.LoadDir(dir)
	if err != nil {
		return err
	}

	report := redacteval.Evaluate(examples, detectWithRedactor(redact.New()))
	if *asJSON {
		enc := json.NewEncoder(out)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	if err := report.WriteTable(out); err != nil {
		return err
	}
	if *showErrors <= 0 {
		return nil
	}
	if _, err := io.WriteString(out, "\n"); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return report.WriteErrors(out, *showErrors)
}

// detectWithRedactor adapts r to redacteval.Evaluate. Each text gets a fresh
// Document, so no name learnt in one example helps another.
func detectWithRedactor(r *redact.Redactor) func(kind, text string) []redacteval.Span {
	return func(kind, text string) []redacteval.Span {
		doc := r.NewDocument()
		switch kind {
		case "diff":
			doc.SetProfile(redact.ProfileCode)
		case "log":
			doc.SetProfile(redact.ProfileLog)
		}
		res := doc.Redact(text)
		spans := make([]redacteval.Span, 0, len(res.Entities))
		for _, e := range res.Entities {
			spans = append(spans, redacteval.Span{Type: string(e.Type), Start: e.RuneStart, End: e.RuneEnd})
		}
		return spans
	}
}

// errNoLabelledSet means no directory on the way up holds the test set.
var errNoLabelledSet = errors.New("no " + labelledSetPath + " here or in a parent directory; pass --data DIR")

// findLabelledSet looks for labelledSetPath in start and each of its parents.
func findLabelledSet(start string) (string, error) {
	for dir := start; ; {
		candidate := filepath.Join(dir, labelledSetPath)
		if info, err := os.Stat(candidate); err == nil && info.IsDir() {
			return candidate, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errNoLabelledSet
		}
		dir = parent
	}
}
