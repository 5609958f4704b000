// Package retrieveeval scores retrieval on a golden set of questions: it
// loads a knowledge base through the embed and retrieve services running in
// process on an embedded NATS server, asks every question through
// RetrieverService.Search and reports recall@5, recall@10 and the mean
// reciprocal rank of the articles that answer each question.
package retrieveeval

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Splits of a golden set: tune against dev, report test.
const (
	SplitDev  = "dev"
	SplitTest = "test"
)

// Question is one line of a golden set.
type Question struct {
	// ID names the question in reports.
	ID string `json:"id"`
	// Text is what a customer asked, in their words.
	Text string `json:"question"`
	// Relevant lists the file stems of the articles that answer the
	// question; finding any one of them counts as a hit.
	Relevant []string `json:"relevant"`
	// Split is SplitDev or SplitTest.
	Split string `json:"split"`
}

// ErrInvalidGolden is returned by LoadGolden when a line is malformed or
// breaks a rule of the format; the error names every such line.
var ErrInvalidGolden = errors.New("invalid golden set")

// LoadGolden reads a golden set in JSON Lines, one Question per line; blank
// lines are skipped. It returns ErrInvalidGolden, wrapped with every problem
// found, when a line is not a Question, an id repeats, a question or its
// relevant list is empty or the split is neither dev nor test.
func LoadGolden(path string) ([]Question, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open golden set: %w", err)
	}
	defer f.Close()

	var (
		questions []Question
		problems  []error
		seen      = map[string]int{}
	)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		raw := strings.TrimSpace(sc.Text())
		if raw == "" {
			continue
		}
		var q Question
		dec := json.NewDecoder(strings.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&q); err != nil {
			problems = append(problems, fmt.Errorf("line %d: %w", line, err))
			continue
		}
		if err := q.validate(); err != nil {
			problems = append(problems, fmt.Errorf("line %d: %w", line, err))
			continue
		}
		if first, ok := seen[q.ID]; ok {
			problems = append(problems, fmt.Errorf("line %d: id %q already used on line %d", line, q.ID, first))
			continue
		}
		seen[q.ID] = line
		questions = append(questions, q)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read golden set: %w", err)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w %s: %w", ErrInvalidGolden, path, errors.Join(problems...))
	}
	if len(questions) == 0 {
		return nil, fmt.Errorf("%w %s: no questions", ErrInvalidGolden, path)
	}
	return questions, nil
}

// validate reports the first rule q breaks.
func (q Question) validate() error {
	switch {
	case strings.TrimSpace(q.ID) == "":
		return errors.New("id is empty")
	case strings.TrimSpace(q.Text) == "":
		return fmt.Errorf("question %s is empty", q.ID)
	case len(q.Relevant) == 0:
		return fmt.Errorf("question %s lists no relevant article", q.ID)
	case q.Split != SplitDev && q.Split != SplitTest:
		return fmt.Errorf("question %s has split %q, want %q or %q", q.ID, q.Split, SplitDev, SplitTest)
	}
	for _, r := range q.Relevant {
		if strings.TrimSpace(r) == "" {
			return fmt.Errorf("question %s lists an empty article", q.ID)
		}
	}
	return nil
}

// FilterSplit returns the questions of split, or all of them when split is
// "all" or empty.
func FilterSplit(questions []Question, split string) []Question {
	if split == "" || split == "all" {
		return questions
	}
	var out []Question
	for _, q := range questions {
		if q.Split == split {
			out = append(out, q)
		}
	}
	return out
}
