package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

// errNotFound is returned by gatewayClient when the gateway answers 404.
var errNotFound = errors.New("not found")

// gatewayClient calls the gateway's review API as one token holder.
type gatewayClient struct {
	base  string
	token string
	http  *http.Client
}

func newGatewayClient(base, token string) *gatewayClient {
	return &gatewayClient{base: base, token: token, http: &http.Client{Timeout: 15 * time.Second}}
}

// review returns the copilot status of one event.
func (c *gatewayClient) review(ctx context.Context, eventID string) (*keelv1.CopilotStatus, error) {
	body, err := c.do(ctx, http.MethodGet, "/v1/reviews/"+url.PathEscape(eventID), nil)
	if err != nil {
		return nil, err
	}
	var st keelv1.CopilotStatus
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, &st); err != nil {
		return nil, fmt.Errorf("decode review %s: %w", eventID, err)
	}
	return &st, nil
}

// pending lists the event ids that wait for a reviewer.
func (c *gatewayClient) pending(ctx context.Context) ([]string, error) {
	body, err := c.do(ctx, http.MethodGet, "/v1/reviews", nil)
	if err != nil {
		return nil, err
	}
	var list struct {
		Reviews []struct {
			EventID string `json:"event_id"`
		} `json:"reviews"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("decode review list: %w", err)
	}
	ids := make([]string, 0, len(list.Reviews))
	for _, r := range list.Reviews {
		ids = append(ids, r.EventID)
	}
	return ids, nil
}

// decide sends a reviewer's decision: approve, edit or reject.
func (c *gatewayClient) decide(ctx context.Context, eventID, decision, text, note string) error {
	body := map[string]string{"note": note}
	if text != "" {
		body["text"] = text
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, http.MethodPost, "/v1/reviews/"+url.PathEscape(eventID)+"/"+decision, payload)
	return err
}

// status returns only the HTTP status of a GET, for the isolation checks.
func (c *gatewayClient) status(ctx context.Context, path string) (int, error) {
	return c.statusOf(ctx, http.MethodGet, path, nil)
}

// statusOf returns only the HTTP status of a request.
func (c *gatewayClient) statusOf(ctx context.Context, method, path string, payload []byte) (int, error) {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return 0, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func (c *gatewayClient) do(ctx context.Context, method, path string, payload []byte) ([]byte, error) {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", method, path, err)
	}
	if resp.StatusCode == http.StatusNotFound {
		return nil, errNotFound
	}
	if resp.StatusCode >= 300 {
		return nil, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(raw))
	}
	return raw, nil
}
