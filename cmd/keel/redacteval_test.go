package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keelhq/keel/services/ingest/redact/redacteval"
)

// writeLabelledSet writes a two-record test set into dir and returns dir.
// MY_TYPE is a type no detector knows, so it is always a false negative.
func writeLabelledSet(t *testing.T, dir string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	content := "### email-1 email\nWrite to ⟦EMAIL_ADDRESS|ana.lopez@example.com⟧ today.\n\n" +
		"### chat-1 chat\nthe code word is ⟦MY_TYPE|bluebird⟧\n"
	if err := os.WriteFile(filepath.Join(dir, "set.txt"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRedactEvalTable(t *testing.T) {
	t.Parallel()
	dir := writeLabelledSet(t, t.TempDir())
	var out bytes.Buffer
	if err := runRedactEval([]string{"--data", dir}, &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"2 examples, 2 gold spans", "kind chat", "kind email", "group structured", "total"} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "errors (") {
		t.Errorf("errors printed without --errors:\n%s", got)
	}
}

func TestRedactEvalJSON(t *testing.T) {
	t.Parallel()
	dir := writeLabelledSet(t, t.TempDir())
	var out bytes.Buffer
	if err := runRedactEval([]string{"--json", "--data", dir}, &out); err != nil {
		t.Fatal(err)
	}
	var report redacteval.Report
	if err := json.Unmarshal(out.Bytes(), &report); err != nil {
		t.Fatalf("output is not a JSON report: %v\n%s", err, out.String())
	}

	if report.Examples != 2 || report.Total.Support != 2 {
		t.Errorf("examples %d, support %d, want 2 and 2", report.Examples, report.Total.Support)
	}
	rows := make(map[string]redacteval.Score)
	for _, s := range report.Types {
		rows[s.Name] = s
	}
	// The address is found with its exact offsets, which proves the entities
	// of the redactor reach the evaluation as spans.
	if email := rows["EMAIL_ADDRESS"]; email.TP != 1 || email.FP != 0 {
		t.Errorf("EMAIL_ADDRESS row = %+v, want one true positive", email)
	}
	if mine := rows["MY_TYPE"]; mine.FN != 1 {
		t.Errorf("MY_TYPE row = %+v, want one false negative", mine)
	}
	if len(report.Errors) == 0 {
		t.Error("JSON report has no errors, want the MY_TYPE false negative")
	}
}

func TestRedactEvalErrors(t *testing.T) {
	t.Parallel()
	dir := writeLabelledSet(t, t.TempDir())
	var out bytes.Buffer
	if err := runRedactEval([]string{"--data", dir, "--errors", "3"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `FN MY_TYPE chat-1 "bluebird"`) {
		t.Errorf("output lacks the MY_TYPE false negative:\n%s", out.String())
	}
}

func TestRedactEvalBadInput(t *testing.T) {
	t.Parallel()
	broken := t.TempDir()
	if err := os.WriteFile(filepath.Join(broken, "x.txt"), []byte("### x-1 email\n⟦PERSON|Ana\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"extra argument", []string{"--data", broken, "more"}, `unexpected argument "more"`},
		{"unknown flag", []string{"--nope"}, errUsage.Error()},
		{"malformed set", []string{"--data", broken}, "x.txt:2: unbalanced ⟦"},
		{"missing dir", []string{"--data", filepath.Join(broken, "absent")}, "read test set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := runRedactEval(tt.args, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("runRedactEval(%q) = %v, want an error with %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestRedactEvalFindsLabelledSet(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	want := writeLabelledSet(t, filepath.Join(root, labelledSetPath))
	deep := filepath.Join(root, "services", "ingest", "redact")

	for _, start := range []string{root, deep} {
		got, err := findLabelledSet(start)
		if err != nil || got != want {
			t.Errorf("findLabelledSet(%s) = %q, %v, want %q", start, got, err, want)
		}
	}
	if _, err := findLabelledSet(t.TempDir()); !errors.Is(err, errNoLabelledSet) || !strings.Contains(err.Error(), "--data") {
		t.Errorf("findLabelledSet without a set = %v, want errNoLabelledSet naming --data", err)
	}
}

// TestRedactEvalDefaultDir changes directory, so it cannot run in parallel.
func TestRedactEvalDefaultDir(t *testing.T) {
	root := t.TempDir()
	writeLabelledSet(t, filepath.Join(root, labelledSetPath))
	sub := filepath.Join(root, "cmd", "keel")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(sub)

	var out bytes.Buffer
	if err := runRedactEval([]string{"--json"}, &out); err != nil {
		t.Fatal(err)
	}
	var report redacteval.Report
	if err := json.Unmarshal(out.Bytes(), &report); err != nil {
		t.Fatal(err)
	}
	if report.Examples != 2 {
		t.Errorf("found %d examples from %s, want the 2 of the set above it", report.Examples, sub)
	}
}
