package anthropic

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/keelhq/keel/services/router/internal/provider"
)

func TestCheck(t *testing.T) {
	t.Parallel()

	var status atomic.Int32
	status.Store(http.StatusOK)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/v1/models/claude-x" || r.Header.Get("x-api-key") != "key-1" {
			t.Errorf("check sent %s %s with key %q", r.Method, r.URL.Path, r.Header.Get("x-api-key"))
		}
		w.WriteHeader(int(status.Load()))
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	p := New(Config{Name: "p", BaseURL: srv.URL, APIKey: "key-1"})

	if err := p.Check(context.Background(), "claude-x"); err != nil {
		t.Errorf("Check against a healthy server: %v", err)
	}
	status.Store(529)
	if err := p.Check(context.Background(), "claude-x"); !errors.Is(err, provider.ErrOverloaded) {
		t.Errorf("Check against a 529: %v, want ErrOverloaded", err)
	}
}
