package sources

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// collect drains a stream.
func collect(s Stream) ([]Record, []*Problem) {
	var (
		recs  []Record
		probs []*Problem
	)
	for rec, prob := range s {
		if prob != nil {
			probs = append(probs, prob)

			continue
		}
		recs = append(recs, rec)
	}

	return recs, probs
}

// writeFile writes content to name in a fresh temporary folder and
// returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()

	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatalf("write %s: %v", name, err)
	}

	return path
}

// crlf turns "\n" line endings into "\r\n".
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// problemLines returns the line of each problem.
func problemLines(probs []*Problem) []int {
	lines := []int{}
	for _, p := range probs {
		lines = append(lines, p.Line)
	}

	return lines
}

// recordLines returns the line of each record.
func recordLines(recs []Record) []int {
	lines := []int{}
	for _, r := range recs {
		lines = append(lines, r.Line)
	}

	return lines
}

// recordIDs returns the event id of each record.
func recordIDs(recs []Record) []string {
	ids := []string{}
	for _, r := range recs {
		ids = append(ids, r.EventID)
	}

	return ids
}

// assertEqual fails the test when got differs from want.
func assertEqual[T any](t *testing.T, what string, want, got T) {
	t.Helper()

	if !reflect.DeepEqual(want, got) {
		t.Errorf("%s mismatch:\nwant %#v\ngot  %#v", what, want, got)
	}
}
