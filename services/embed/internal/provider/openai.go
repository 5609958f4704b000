package provider

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/keelhq/keel/services/embed/internal/embedder"
)

// Names of the providers, as the configuration spells them and as errors
// name them.
const (
	// ProviderOpenAI is any server that speaks the OpenAI embeddings API:
	// OpenAI itself, Ollama, vLLM, text-embeddings-inference and others.
	ProviderOpenAI = "openai"
	// ProviderGemini is the Gemini API of Google AI Studio.
	ProviderGemini = "gemini"
)

// DefaultOpenAIBaseURL is the OpenAI API root, version included.
const DefaultOpenAIBaseURL = "https://api.openai.com/v1"

// OpenAIMaxInputs is the most texts OpenAI accepts in one embeddings
// request.
const OpenAIMaxInputs = 2048

// OpenAIConfig configures an OpenAI client.
type OpenAIConfig struct {
	// BaseURL is the API root including the version path, such as
	// "https://api.openai.com/v1" or "http://127.0.0.1:11434/v1";
	// DefaultOpenAIBaseURL when empty.
	BaseURL string
	// Model names the embedding model. Required.
	Model string
	// Dimensions is the length of every vector. Required.
	Dimensions int
	// SendDimensions asks the server for Dimensions values per vector
	// ("dimensions" in the request), for models that can shorten their
	// vectors such as text-embedding-3-*. Many other servers reject the
	// field, so it is off by default.
	SendDimensions bool
	// APIKey is sent as a bearer token; empty sends none, as local servers
	// expect.
	APIKey string
	// MaxInputs bounds the texts of one request; OpenAIMaxInputs when zero
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

// OpenAI is an Embedder that calls an OpenAI-compatible embeddings
// endpoint, POST {base_url}/embeddings. It is safe for concurrent use.
type OpenAI struct {
	http           httpClient
	endpoint       string
	header         http.Header
	model          string
	dims           int
	sendDimensions bool
	maxInputs      int
}

var _ embedder.Embedder = (*OpenAI)(nil)

// NewOpenAI returns an OpenAI client for cfg. It returns an error when the
// model or the dimensions are missing.
func NewOpenAI(cfg OpenAIConfig) (*OpenAI, error) {
	if cfg.Model == "" {
		return nil, errors.New("openai embeddings: model is required")
	}
	if cfg.Dimensions < 1 {
		return nil, errors.New("openai embeddings: dimensions must be at least 1")
	}
	baseURL := cfg.BaseURL
	if baseURL == "" {
		baseURL = DefaultOpenAIBaseURL
	}
	maxInputs := cfg.MaxInputs
	if maxInputs <= 0 || maxInputs > OpenAIMaxInputs {
		maxInputs = OpenAIMaxInputs
	}
	header := http.Header{}
	if cfg.APIKey != "" {
		header.Set("Authorization", "Bearer "+cfg.APIKey)
	}
	return &OpenAI{
		http:           newHTTPClient(ProviderOpenAI, cfg.HTTPClient, cfg.Timeout, cfg.APIKey, cfg.Now),
		endpoint:       strings.TrimSuffix(baseURL, "/") + "/embeddings",
		header:         header,
		model:          cfg.Model,
		dims:           cfg.Dimensions,
		sendDimensions: cfg.SendDimensions,
		maxInputs:      maxInputs,
	}, nil
}

// Model returns the configured model.
func (o *OpenAI) Model() string {
	return o.model
}

// Dimensions returns the configured dimensions.
func (o *OpenAI) Dimensions() int {
	return o.dims
}

// Embed returns one vector per text, in order. Blank texts are not sent and
// get the zero vector. More texts than MaxInputs go in several requests,
// one after the other. Errors are *Error values wrapping a class sentinel
// such as ErrRateLimited or ErrMalformedResponse, except the context's own
// error when ctx ends first.
func (o *OpenAI) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	return embedSplit(ctx, texts, o.dims, o.maxInputs, o.send)
}

// openAIRequest is the body of POST /embeddings.
type openAIRequest struct {
	Model          string   `json:"model"`
	Input          []string `json:"input"`
	EncodingFormat string   `json:"encoding_format"`
	Dimensions     int      `json:"dimensions,omitempty"`
}

// openAIResponse is the body of a successful response.
type openAIResponse struct {
	Object string `json:"object"`
	Data   []struct {
		Object    string    `json:"object"`
		Index     *int      `json:"index"`
		Embedding []float32 `json:"embedding"`
	} `json:"data"`
	Model string `json:"model"`
	Usage *struct {
		PromptTokens int `json:"prompt_tokens"`
		TotalTokens  int `json:"total_tokens"`
	} `json:"usage"`
	Error json.RawMessage `json:"error"`
}

// openAIError is the error object of an OpenAI-compatible server. Code is
// a string at OpenAI and a number at some other servers.
type openAIError struct {
	Message string          `json:"message"`
	Type    string          `json:"type"`
	Code    json.RawMessage `json:"code"`
}

// openAIErrorBody is the body of a failed response. OpenAI and most
// compatible servers nest an openAIError under "error"; some older servers
// put its fields at the top level, and text-embeddings-inference sends the
// message as the string "error" with an "error_type".
type openAIErrorBody struct {
	Error     json.RawMessage `json:"error"`
	Message   string          `json:"message"`
	Type      string          `json:"type"`
	ErrorType string          `json:"error_type"`
	Code      json.RawMessage `json:"code"`
}

// send makes one request for texts, none of them blank.
func (o *OpenAI) send(ctx context.Context, texts []string) ([][]float32, error) {
	req := openAIRequest{Model: o.model, Input: texts, EncodingFormat: "float"}
	if o.sendDimensions {
		req.Dimensions = o.dims
	}
	body, err := o.http.post(ctx, o.endpoint, o.header, req, responseLimit(len(texts), o.dims), decodeOpenAIError)
	if err != nil {
		return nil, err
	}
	return decodeOpenAIResponse(body, len(texts), o.dims)
}

// decodeOpenAIResponse returns the n vectors of dims values in body, placed
// by their index. It returns an ErrMalformedResponse error for a body that
// is not such a response: bad JSON, a count other than n, a missing,
// repeated or out-of-range index, a vector of another length or a value
// that is not finite.
func decodeOpenAIResponse(body []byte, n, dims int) ([][]float32, error) {
	var resp openAIResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, &Error{Provider: ProviderOpenAI, Class: ErrMalformedResponse, Message: "decode response", Err: err}
	}
	if len(resp.Error) > 0 && string(resp.Error) != "null" {
		details := decodeOpenAIError(body)
		return nil, malformed(ProviderOpenAI, "successful response holds an error: %s", cleanMessage(details.message, ""))
	}
	if len(resp.Data) != n {
		return nil, malformed(ProviderOpenAI, "%d embeddings for %d texts", len(resp.Data), n)
	}

	vectors := make([][]float32, n)
	for k, d := range resp.Data {
		if d.Index == nil {
			return nil, malformed(ProviderOpenAI, "embedding %d has no index", k)
		}
		i := *d.Index
		if i < 0 || i >= n {
			return nil, malformed(ProviderOpenAI, "embedding index %d out of range for %d texts", i, n)
		}
		if vectors[i] != nil {
			return nil, malformed(ProviderOpenAI, "embedding index %d repeated", i)
		}
		if err := checkVector(ProviderOpenAI, i, d.Embedding, dims); err != nil {
			return nil, err
		}
		vectors[i] = d.Embedding
	}
	return vectors, nil
}

// decodeOpenAIError reads what an OpenAI-compatible server said about a
// failed request. OpenAI marks an exhausted quota or billing problem with
// the type or code "insufficient_quota".
func decodeOpenAIError(body []byte) errorDetails {
	var eb openAIErrorBody
	if json.Unmarshal(body, &eb) != nil {
		return errorDetails{}
	}
	e := openAIError{Message: eb.Message, Type: eb.Type, Code: eb.Code}
	switch {
	case len(eb.Error) > 0 && eb.Error[0] == '{':
		_ = json.Unmarshal(eb.Error, &e)
	case len(eb.Error) > 0 && eb.Error[0] == '"':
		_ = json.Unmarshal(eb.Error, &e.Message)
		e.Type = eb.ErrorType
	}

	code := rawCode(e.Code)
	if code == "" {
		code = e.Type
	}
	kind := strings.ToLower(e.Type + " " + code)
	return errorDetails{
		code:    code,
		message: e.Message,
		quota:   strings.Contains(kind, "insufficient_quota") || strings.Contains(kind, "billing"),
	}
}

// rawCode returns a JSON string or number as text, and "" for anything
// else.
func rawCode(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// newHTTPClient fills in the defaults of an httpClient.
func newHTTPClient(
	provider string,
	client *http.Client,
	timeout time.Duration,
	apiKey string,
	now func() time.Time,
) httpClient {
	if client == nil {
		client = &http.Client{}
	}
	if now == nil {
		now = time.Now
	}
	return httpClient{provider: provider, client: client, timeout: timeout, apiKey: apiKey, now: now}
}
