package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/keelhq/keel/services/router/internal/provider"
	"github.com/keelhq/keel/services/router/internal/provider/sse"
)

// streamResult is what accumulating a stream gave: the emitted deltas and
// the final state, or the error.
type streamResult struct {
	Text    string
	Calls   []provider.ToolCall
	Finish  string
	Done    bool
	ErrText string
}

// accumulate runs the stream decoder and accumulator over r, as Stream
// does after the HTTP response.
func accumulate(r io.Reader) streamResult {
	var (
		acc streamAccumulator
		out streamResult
		b   strings.Builder
	)
	emit := func(d provider.Delta) error {
		b.WriteString(d.Text)
		if d.ToolCall != nil {
			out.Calls = append(out.Calls, *d.ToolCall)
		}
		return nil
	}
	dec := sse.NewDecoder(r)
	for {
		ev, err := dec.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			out.ErrText = err.Error()
			break
		}
		done, err := acc.add(ev, emit)
		if err != nil {
			out.ErrText = err.Error()
			break
		}
		if done {
			break
		}
	}
	if out.ErrText == "" {
		if err := acc.flushToolCalls(emit); err != nil {
			out.ErrText = err.Error()
		}
	}
	out.Text, out.Finish, out.Done = b.String(), acc.finishReason, acc.done
	return out
}

// FuzzStream checks that any bytes accumulate without panicking, that the
// result does not depend on how the bytes are split into reads, that the
// emitted text is the accumulated text, and that every emitted tool call
// carries complete JSON arguments.
func FuzzStream(f *testing.F) {
	for _, name := range []string{"stream.sse", "stream_tool_calls.sse", "stream_error.sse"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, uint8(1))
		f.Add(data, uint8(7))
	}
	f.Add([]byte("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\\u00e9\"}}]}\n\n"), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, split uint8) {
		whole := accumulate(bytes.NewReader(data))
		if split > 0 {
			pieces := accumulate(&chunkedReader{data: bytes.Clone(data), size: int(split)})
			if !reflect.DeepEqual(whole, pieces) {
				t.Fatalf("split into %d-byte reads:\n%+v\nwhole:\n%+v", split, pieces, whole)
			}
		}
		for _, c := range whole.Calls {
			if !json.Valid([]byte(c.Arguments)) {
				t.Fatalf("emitted tool call with arguments %q", c.Arguments)
			}
		}
	})
}

// chunkedReader returns at most size bytes per Read.
type chunkedReader struct {
	data []byte
	size int
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), c.size, len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

func TestAPIKeyNeverInErrors(t *testing.T) {
	t.Parallel()

	const key = "sk-SUPERSECRET-abc123"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		echo := "Incorrect API key provided: " + r.Header.Get("Authorization")
		if r.URL.Query().Get("s") != "" || strings.Contains(r.URL.Path, "stream") {
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = io.WriteString(w, `data: {"error":{"message":"`+echo+`","type":"server_error"}}`+"\n\n")
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":{"message":"`+echo+`","type":"invalid_request_error"}}`)
	}))
	t.Cleanup(srv.Close)

	req := provider.Request{Model: "m", Messages: []provider.Message{{Role: provider.RoleUser, Content: "hi"}}}
	p := New(Config{Name: "p", BaseURL: srv.URL + "/v1", APIKey: key})
	_, err := p.Generate(context.Background(), req)
	if err == nil || strings.Contains(err.Error(), key) {
		t.Errorf("Generate error = %v; must not hold the key", err)
	}
	ps := New(Config{Name: "p", BaseURL: srv.URL + "/stream", APIKey: key})
	_, err = ps.Stream(context.Background(), req, func(provider.Delta) error { return nil })
	if err == nil || strings.Contains(err.Error(), key) {
		t.Errorf("Stream error = %v; must not hold the key", err)
	}
	if err := p.Check(context.Background(), "m"); err == nil || strings.Contains(err.Error(), key) {
		t.Errorf("Check error = %v; must not hold the key", err)
	}
}

func TestStreamBounded(t *testing.T) {
	t.Parallel()

	chunk := strings.Repeat("x", 512<<10)
	for name, frag := range map[string]string{
		"text":           `{"choices":[{"index":0,"delta":{"content":"` + chunk + `"}}]}`,
		"tool arguments": `{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c","function":{"name":"f","arguments":"` + chunk + `"}}]}}]}`,
	} {
		var b strings.Builder
		for range 20 { // 10 MiB in all
			b.WriteString("data: " + frag + "\n\n")
		}
		got := accumulate(strings.NewReader(b.String()))
		if !strings.Contains(got.ErrText, "stream longer than a response may be") {
			t.Errorf("%s: 10 MiB stream gave %q, want the bound", name, got.ErrText)
		}
	}
}
