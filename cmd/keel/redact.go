package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/keelhq/keel/services/ingest/redact"
)

// maxRedactInput bounds what keel redact reads from standard input.
const maxRedactInput = 16 << 20

// redactEntity is one finding in the --json output. start and end count
// Unicode code points of the input, end exclusive; type uses Presidio's
// entity names.
type redactEntity struct {
	Type     string  `json:"type"`
	Start    int     `json:"start"`
	End      int     `json:"end"`
	Score    float64 `json:"score"`
	Operator string  `json:"operator"`
}

// redactOutput is the --json output of keel redact.
type redactOutput struct {
	Text     string         `json:"text"`
	Entities []redactEntity `json:"entities"`
}

// operatorReplace names what keel redact does with every finding: it
// replaces it with a typed placeholder.
const operatorReplace = "replace"

// runRedact reads text on in and writes it redacted to out, as text or as
// one JSON object. It needs no running stack.
func runRedact(args []string, in io.Reader, out io.Writer) error {
	fs := newFlags("redact")
	asJSON := fs.Bool("json", false, `print {"text", "entities": [{"type", "start", "end", "score", "operator"}]}`)
	if err := fs.Parse(args); err != nil {
		return parseError(err)
	}
	raw, err := io.ReadAll(io.LimitReader(in, maxRedactInput+1))
	if err != nil {
		return fmt.Errorf("read standard input: %w", err)
	}
	if len(raw) > maxRedactInput {
		return fmt.Errorf("input is larger than %d bytes", maxRedactInput)
	}

	res := redact.New().Redact(string(raw))
	if !*asJSON {
		_, err := io.WriteString(out, res.Text)
		return err
	}
	doc := redactOutput{Text: res.Text, Entities: make([]redactEntity, 0, len(res.Entities))}
	for _, e := range res.Entities {
		doc.Entities = append(doc.Entities, redactEntity{
			Type:     string(e.Type),
			Start:    e.RuneStart,
			End:      e.RuneEnd,
			Score:    e.Score,
			Operator: operatorReplace,
		})
	}
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	return enc.Encode(doc)
}
