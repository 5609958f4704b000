package redact

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// Model finds entities with a statistical model, such as a named-entity
// recogniser served over HTTP, in addition to the built-in recognisers.
// Findings are byte offsets into text; they take part in overlap
// resolution like any other, so a confident model finding beats a weak
// one from the word lists.
type Model interface {
	Find(ctx context.Context, text string) ([]Finding, error)
}

// WithModel makes every Document ask m too, giving it at most timeout per
// text. When the model fails or is late, the built-in findings are used
// alone and Result.ModelErr says why.
func WithModel(m Model, timeout time.Duration) Option {
	return func(r *Redactor) {
		r.model, r.modelTimeout = m, timeout
	}
}

// modelCandidates asks the Redactor's model for findings in text and
// returns them as candidates; findings whose offsets are outside the text
// or inside a UTF-8 sequence, or whose type is unknown, are dropped.
func (r *Redactor) modelCandidates(ctx context.Context, text string, out []candidate) ([]candidate, error) {
	if r.model == nil || text == "" {
		return out, nil
	}
	if r.modelTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.modelTimeout)
		defer cancel()
	}
	found, err := r.model.Find(ctx, text)
	if err != nil {
		return out, fmt.Errorf("redact: model: %w", err)
	}
	for _, f := range found {
		if _, ok := ParseType(string(f.Type)); !ok || f.Start < 0 || f.Start >= f.End || f.End > len(text) ||
			!utf8.RuneStart(text[f.Start]) || (f.End < len(text) && !utf8.RuneStart(text[f.End])) {
			continue
		}
		f.Score = min(max(f.Score, 0), 1)
		out = append(out, candidate{Finding: f})
	}
	return out, nil
}

// AnalyzerClient is a Model that calls an HTTP service speaking the
// request and response of Presidio Analyzer's POST /analyze: a JSON body
// {"text", "language"} answered by [{"entity_type", "start", "end",
// "score"}] with offsets in code points. Any named-entity server can be put
// behind that shape.
type AnalyzerClient struct {
	url      string
	language string
	client   *http.Client
}

// maxAnalyzerResponse bounds what is read of an analyzer's answer.
const maxAnalyzerResponse = 4 << 20

// NewAnalyzerClient returns a client of the analyzer at baseURL (its
// /analyze endpoint is called) for texts in language, such as "en". A nil
// client means http.DefaultClient.
func NewAnalyzerClient(baseURL, language string, client *http.Client) *AnalyzerClient {
	if client == nil {
		client = http.DefaultClient
	}
	return &AnalyzerClient{url: strings.TrimRight(baseURL, "/") + "/analyze", language: language, client: client}
}

type analyzerRequest struct {
	Text     string `json:"text"`
	Language string `json:"language"`
}

type analyzerResult struct {
	EntityType string  `json:"entity_type"`
	Start      int     `json:"start"`
	End        int     `json:"end"`
	Score      float64 `json:"score"`
}

// Find sends text to the analyzer and returns its findings with byte
// offsets.
func (c *AnalyzerClient) Find(ctx context.Context, text string) ([]Finding, error) {
	body, err := json.Marshal(analyzerRequest{Text: text, Language: c.language})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnalyzerResponse+1))
	if err != nil {
		return nil, fmt.Errorf("read analyzer response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("analyzer answered %s: %s", resp.Status, strings.TrimSpace(string(raw[:min(len(raw), 200)])))
	}
	if len(raw) > maxAnalyzerResponse {
		return nil, errors.New("analyzer response is larger than 4 MiB")
	}
	var results []analyzerResult
	if err := json.Unmarshal(raw, &results); err != nil {
		return nil, fmt.Errorf("decode analyzer response: %w", err)
	}
	offsets := runeOffsets(text)
	out := make([]Finding, 0, len(results))
	for _, r := range results {
		if r.Start < 0 || r.End > len(offsets)-1 || r.Start >= r.End {
			continue
		}
		out = append(out, Finding{Type: Type(r.EntityType), Start: offsets[r.Start], End: offsets[r.End], Score: r.Score})
	}
	return out, nil
}

// runeOffsets returns the byte offset of every code point of text, and
// len(text) last, so that offsets[n] is where code point n starts. Each
// byte of invalid UTF-8 is one code point, as Document counts them.
func runeOffsets(text string) []int {
	offsets := make([]int, 0, len(text)+1)
	for i := 0; i < len(text); {
		offsets = append(offsets, i)
		_, w := utf8.DecodeRuneInString(text[i:])
		i += w
	}
	return append(offsets, len(text))
}
