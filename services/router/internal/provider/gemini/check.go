package gemini

import (
	"context"
	"io"
	"net/http"
	"strings"

	"github.com/keelhq/keel/services/router/internal/provider"
)

// Check asks for the model (GET {base}/models/{model}), which costs no
// tokens; any answer but 200 is an error of its class.
func (p *Provider) Check(ctx context.Context, model string) error {
	u, err := p.endpoint(model, false)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(u, ":generateContent"), nil)
	if err != nil {
		return err
	}
	if p.apiKey != "" {
		req.Header.Set("x-goog-api-key", p.apiKey)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return provider.TransportError(ctx, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if resp.StatusCode != http.StatusOK {
		return statusError(resp, body, p.now(), p.apiKey)
	}
	return nil
}
