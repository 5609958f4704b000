package provider

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/keelhq/keel/services/embed/internal/embedder"
)

// DefaultGeminiBaseURL is the root of the Gemini API, without the version.
const DefaultGeminiBaseURL = "https://generativelanguage.googleapis.com"

// GeminiMaxInputs is the most texts the Gemini API accepts in one
// batchEmbedContents request.
const GeminiMaxInputs = 100

// Gemini task types: what the vectors will be used for. Documents and the
// queries that search them are embedded differently.
const (
	// TaskRetrievalDocument embeds texts to be searched.
	TaskRetrievalDocument = "RETRIEVAL_DOCUMENT"
	// TaskRetrievalQuery embeds search queries.
	TaskRetrievalQuery = "RETRIEVAL_QUERY"
)

// Type URLs of the google.rpc error details Gemini sends.
const (
	retryInfoType    = "type.googleapis.com/google.rpc.RetryInfo"
	quotaFailureType = "type.googleapis.com/google.rpc.QuotaFailure"
)

// GeminiConfig configures a Gemini client.
type GeminiConfig struct {
	// BaseURL is the API root without the version, DefaultGeminiBaseURL
	// when empty.
	BaseURL string
	// Model names the embedding model without the "models/" prefix, such
	// as "gemini-embedding-001". Required.
	Model string
	// Dimensions is the length of every vector; it is sent as the output
	// dimensionality of every text. Required.
	Dimensions int
	// TaskType is sent with every text; TaskRetrievalDocument when empty.
	TaskType string
	// APIKey is sent in the x-goog-api-key header.
	APIKey string
	// MaxInputs bounds the texts of one request; GeminiMaxInputs when zero
	// or larger.
	MaxInputs int
	// Timeout bounds one request; zero leaves it to the context.
	Timeout time.Duration
	// HTTPClient sends the requests; nil uses a client without its own
	// timeout.
	HTTPClient *http.Client
	// Now reads Retry-After dates; time.Now when nil.
	Now func() time.Time
}

// Gemini is an Embedder that calls the Gemini API's batchEmbedContents
// method. It is safe for concurrent use.
type Gemini struct {
	http      httpClient
	endpoint  string
	header    http.Header
	model     string
	dims      int
	taskType  string
	maxInputs int
}

var _ embedder.Embedder = (*Gemini)(nil)

// NewGemini returns a Gemini client for cfg. It returns an error when the
// model or the dimensions are missing.
func NewGemini(cfg GeminiConfig) (*Gemini, error) {
	if cfg.Model == "" {
		return nil, errors.New("gemini embeddings: model is required")
	}
	if cfg.Dimensions < 1 {
		return nil, errors.New("gemini embeddings: dimensions must be at least 1")
	}
	baseURL := cfg.BaseURL
	if baseURL == "" {
		baseURL = DefaultGeminiBaseURL
	}
	model := strings.TrimPrefix(cfg.Model, "models/")
	taskType := cfg.TaskType
	if taskType == "" {
		taskType = TaskRetrievalDocument
	}
	maxInputs := cfg.MaxInputs
	if maxInputs <= 0 || maxInputs > GeminiMaxInputs {
		maxInputs = GeminiMaxInputs
	}
	header := http.Header{}
	if cfg.APIKey != "" {
		header.Set("x-goog-api-key", cfg.APIKey)
	}
	return &Gemini{
		http:      newHTTPClient(ProviderGemini, cfg.HTTPClient, cfg.Timeout, cfg.APIKey, cfg.Now),
		endpoint:  strings.TrimSuffix(baseURL, "/") + "/v1beta/models/" + url.PathEscape(model) + ":batchEmbedContents",
		header:    header,
		model:     model,
		dims:      cfg.Dimensions,
		taskType:  taskType,
		maxInputs: maxInputs,
	}, nil
}

// Model returns the configured model, without the "models/" prefix.
func (g *Gemini) Model() string {
	return g.model
}

// Dimensions returns the configured dimensions.
func (g *Gemini) Dimensions() int {
	return g.dims
}

// Embed returns one vector per text, in order. Blank texts are not sent and
// get the zero vector. More than MaxInputs texts go in several requests,
// one after the other. Errors are *Error values wrapping a class sentinel
// such as ErrRateLimited or ErrMalformedResponse, except the context's own
// error when ctx ends first.
func (g *Gemini) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	return embedSplit(ctx, texts, g.dims, g.maxInputs, g.send)
}

// geminiRequest is the body of batchEmbedContents.
type geminiRequest struct {
	Requests []geminiEmbedRequest `json:"requests"`
}

type geminiEmbedRequest struct {
	Model                string        `json:"model"`
	Content              geminiContent `json:"content"`
	TaskType             string        `json:"taskType,omitempty"`
	OutputDimensionality int           `json:"outputDimensionality,omitempty"`
}

type geminiContent struct {
	Parts []geminiPart `json:"parts"`
}

type geminiPart struct {
	Text string `json:"text"`
}

// geminiResponse is the body of a successful response: the embeddings in
// the order of the requests.
type geminiResponse struct {
	Embeddings []struct {
		Values []float32 `json:"values"`
	} `json:"embeddings"`
}

// geminiErrorBody is the body of a failed response.
type geminiErrorBody struct {
	Error struct {
		Code    int               `json:"code"`
		Message string            `json:"message"`
		Status  string            `json:"status"`
		Details []json.RawMessage `json:"details"`
	} `json:"error"`
}

// geminiDetail holds the fields of the error details Gemini uses.
type geminiDetail struct {
	Type       string `json:"@type"`
	RetryDelay string `json:"retryDelay"`
	Violations []struct {
		QuotaID string `json:"quotaId"`
	} `json:"violations"`
}

// send makes one request for texts, none of them blank.
func (g *Gemini) send(ctx context.Context, texts []string) ([][]float32, error) {
	req := geminiRequest{Requests: make([]geminiEmbedRequest, len(texts))}
	for i, text := range texts {
		req.Requests[i] = geminiEmbedRequest{
			Model:                "models/" + g.model,
			Content:              geminiContent{Parts: []geminiPart{{Text: text}}},
			TaskType:             g.taskType,
			OutputDimensionality: g.dims,
		}
	}
	body, err := g.http.post(ctx, g.endpoint, g.header, req, responseLimit(len(texts), g.dims), decodeGeminiError)
	if err != nil {
		return nil, err
	}
	return decodeGeminiResponse(body, len(texts), g.dims)
}

// decodeGeminiResponse returns the n vectors of dims values in body. It
// returns an ErrMalformedResponse error for a body that is not such a
// response: bad JSON, a count other than n, a vector of another length or a
// value that is not finite.
func decodeGeminiResponse(body []byte, n, dims int) ([][]float32, error) {
	var resp geminiResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, &Error{Provider: ProviderGemini, Class: ErrMalformedResponse, Message: "decode response", Err: err}
	}
	if len(resp.Embeddings) != n {
		return nil, malformed(ProviderGemini, "%d embeddings for %d texts", len(resp.Embeddings), n)
	}

	vectors := make([][]float32, n)
	for i, e := range resp.Embeddings {
		if err := checkVector(ProviderGemini, i, e.Values, dims); err != nil {
			return nil, err
		}
		vectors[i] = e.Values
	}
	return vectors, nil
}

// decodeGeminiError reads what Gemini said about a failed request: the
// status name, the message, the retry delay of a RetryInfo detail and
// whether a QuotaFailure names a daily quota, which waiting seconds does
// not refill.
func decodeGeminiError(body []byte) errorDetails {
	var eb geminiErrorBody
	if json.Unmarshal(body, &eb) != nil {
		return errorDetails{}
	}
	details := errorDetails{code: eb.Error.Status, message: eb.Error.Message}
	for _, raw := range eb.Error.Details {
		var d geminiDetail
		if json.Unmarshal(raw, &d) != nil {
			continue
		}
		switch d.Type {
		case retryInfoType:
			if delay, err := time.ParseDuration(d.RetryDelay); err == nil && delay > 0 {
				details.retryAfter = delay
			}
		case quotaFailureType:
			for _, v := range d.Violations {
				if strings.Contains(v.QuotaID, "PerDay") {
					details.quota = true
				}
			}
		}
	}
	return details
}
