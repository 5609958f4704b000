package provider

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestNewBuildsTheStack(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name         string
		wire         wireFormat
		cacheEntries int
		wantRequests int
	}{
		{name: "openai with cache", wire: openAIWire, cacheEntries: 100, wantRequests: 1},
		{name: "openai without cache", wire: openAIWire, cacheEntries: 0, wantRequests: 2},
		{name: "gemini with cache", wire: geminiWire, cacheEntries: 100, wantRequests: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := newFakeProvider(t, tt.wire, 6)
			baseURL := fake.srv.URL
			if tt.wire.name == ProviderOpenAI {
				baseURL += "/v1"
			}
			e, err := New(Config{
				Provider: tt.wire.name, BaseURL: baseURL, Model: "m", Dimensions: 6, APIKey: testKey,
				BatchWait: -1, RequestTimeout: time.Minute, CacheEntries: tt.cacheEntries,
			})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if e.Model() != "m" || e.Dimensions() != 6 {
				t.Errorf("Model(), Dimensions() = %q, %d", e.Model(), e.Dimensions())
			}

			texts := []string{"refund", "shipping"}
			for range 2 {
				got, err := e.Embed(context.Background(), texts)
				if err != nil {
					t.Fatalf("Embed: %v", err)
				}
				if diff := cmp.Diff(fakeVectors(texts, 6), got); diff != "" {
					t.Errorf("vectors mismatch (-want +got):\n%s", diff)
				}
			}
			if n := len(fake.requests()); n != tt.wantRequests {
				t.Errorf("provider got %d requests, want %d", n, tt.wantRequests)
			}
		})
	}
}

func TestNewReadsKeyFile(t *testing.T) {
	t.Parallel()
	fake := newFakeProvider(t, openAIWire, 2)
	path := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(path, []byte(testKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	e, err := New(Config{Provider: ProviderOpenAI, BaseURL: fake.srv.URL, Model: "m", Dimensions: 2, APIKeyFile: path})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if _, err := e.Embed(context.Background(), []string{"refund"}); err != nil {
		t.Fatalf("Embed: %v", err)
	}
	if got := fake.requests()[0].header.Get("Authorization"); got != "Bearer "+testKey {
		t.Errorf("Authorization = %q, want the key from the file without its line break", got)
	}
}

func TestReadKeyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()

	tests := []struct {
		name    string
		content string
		want    string
		wantErr bool
	}{
		{name: "plain", content: "abc", want: "abc"},
		{name: "trailing line break", content: "abc\n", want: "abc"},
		{name: "windows line break", content: "abc\r\n", want: "abc"},
		{name: "empty", content: "\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_"))
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := ReadKeyFile(path)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ReadKeyFile() = %q, %v, want %q (error %v)", got, err, tt.want, tt.wantErr)
			}
		})
	}
	if _, err := ReadKeyFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("ReadKeyFile of a missing file returned no error")
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()

	err := Config{
		Provider:   "cohere",
		BaseURL:    "localhost:8080",
		APIKey:     "k",
		APIKeyFile: "/run/secrets/key",
		BatchSize:  -1,
	}.Validate()
	for _, want := range []string{`"cohere"`, "model", "dimensions", "base url", "not both", "negative"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %s", err, want)
		}
	}

	err = Config{Provider: ProviderGemini, Model: "m", Dimensions: 8}.Validate()
	if err == nil || !strings.Contains(err.Error(), "api key") {
		t.Errorf("Validate() of gemini without a key = %v, want it to ask for one", err)
	}
	if _, err := New(Config{Provider: ProviderGemini, Model: "m", Dimensions: 8}); err == nil {
		t.Error("New with an invalid config returned no error")
	}
}

func TestConfigHidesKey(t *testing.T) {
	t.Parallel()
	cfg := Config{Provider: ProviderOpenAI, Model: "m", Dimensions: 8, APIKey: testKey}

	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "embedding", cfg)
	for name, out := range map[string]string{
		"String":   cfg.String(),
		"%v":       fmt.Sprintf("%v", cfg),
		"%+v":      fmt.Sprintf("%+v", cfg),
		"%#v":      fmt.Sprintf("%#v", cfg),
		"LogValue": buf.String(),
	} {
		if strings.Contains(out, testKey) {
			t.Errorf("%s shows the key: %s", name, out)
		}
		if !strings.Contains(out, "[redacted]") {
			t.Errorf("%s does not say a key is set: %s", name, out)
		}
	}
}
