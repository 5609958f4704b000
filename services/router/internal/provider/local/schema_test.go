package local

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/keelhq/keel/services/router/internal/provider"
)

func TestStructuredReply(t *testing.T) {
	t.Parallel()

	schema := json.RawMessage(`{"type":"object","required":["reply","confidence"],"properties":{
		"reply":{"type":"string"},"confidence":{"type":"number","minimum":0},
		"tone":{"enum":["calm","warm"]},"tags":{"type":"array","items":{"type":"string"},"minItems":1},
		"escalate":{"type":"boolean"}}}`)
	resp, err := New("local").Generate(context.Background(), provider.Request{
		Messages: []provider.Message{{Role: provider.RoleUser, Content: "How long does express shipping take?"}},
		Schema:   &provider.Schema{Name: "draft", JSON: schema},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Reply      string   `json:"reply"`
		Confidence float64  `json:"confidence"`
		Tone       string   `json:"tone"`
		Tags       []string `json:"tags"`
		Escalate   *bool    `json:"escalate"`
	}
	if err := json.Unmarshal([]byte(resp.Text), &got); err != nil {
		t.Fatalf("reply %q is not JSON: %v", resp.Text, err)
	}
	if got.Reply == "" || got.Tone != "calm" || len(got.Tags) != 1 || got.Escalate == nil {
		t.Errorf("shaped reply = %s", resp.Text)
	}
	if resp.FinishReason != provider.FinishStop {
		t.Errorf("finish = %q", resp.FinishReason)
	}
}
