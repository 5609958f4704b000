package anthropic

import (
	"context"
	"io"
	"net/http"
	neturl "net/url"
	"strings"

	"github.com/keelhq/keel/services/router/internal/provider"
)

// Check asks for the model (GET /v1/models/{model}), which costs no tokens;
// any answer but 200 is an error of its class.
func (p *Provider) Check(ctx context.Context, model string) error {
	url := strings.TrimSuffix(p.endpoint, "/messages") + "/models/" + neturl.PathEscape(model)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("anthropic-version", APIVersion)
	if p.apiKey != "" {
		req.Header.Set("x-api-key", p.apiKey)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return provider.TransportError(ctx, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if resp.StatusCode != http.StatusOK {
		return statusError(resp, []byte(scrub(string(body), p.apiKey)), p.now(), p.apiKey)
	}
	return nil
}
