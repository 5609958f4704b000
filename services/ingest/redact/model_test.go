package redact

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// analyzerServer answers /analyze like Presidio Analyzer: it reports every
// occurrence of the given words as the given type, offsets in code points.
func analyzerServer(t *testing.T, words map[string]string, delay time.Duration, status int) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/analyze" || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		var req analyzerRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Language != "en" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		if status != http.StatusOK {
			http.Error(w, "model unavailable", status)
			return
		}
		runes := []rune(req.Text)
		var out []analyzerResult
		for word, typ := range words {
			wr := []rune(word)
			for i := 0; i+len(wr) <= len(runes); i++ {
				if string(runes[i:i+len(wr)]) == word {
					out = append(out, analyzerResult{EntityType: typ, Start: i, End: i + len(wr), Score: 0.85})
				}
			}
		}
		// Junk a careless server might send: dropped, never trusted.
		out = append(out,
			analyzerResult{EntityType: "PERSON", Start: 5, End: 2, Score: 0.9},
			analyzerResult{EntityType: "PERSON", Start: 0, End: len(runes) + 7, Score: 0.9},
			analyzerResult{EntityType: "NRP", Start: 0, End: 1, Score: 0.9})
		_ = json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestModelFindingsMergeWithBuiltIns(t *testing.T) {
	t.Parallel()
	// The word lists do not know "Zyxwa Qorbel"; the model does. Offsets
	// count code points, so the text before it is multi-byte on purpose.
	srv := analyzerServer(t, map[string]string{"Zyxwa Qorbel": "PERSON"}, 0, http.StatusOK)
	r := New(WithModel(NewAnalyzerClient(srv.URL, "en", srv.Client()), time.Second))
	res := r.NewDocument().Redact("Grüße — Zyxwa Qorbel wrote from zq@example.com")
	if res.ModelErr != nil {
		t.Fatalf("ModelErr = %v", res.ModelErr)
	}
	if want := "Grüße — [PERSON_1] wrote from [EMAIL_1]"; res.Text != want {
		t.Errorf("text = %q, want %q", res.Text, want)
	}
	if res.Originals["[PERSON_1]"] != "Zyxwa Qorbel" {
		t.Errorf("originals = %v", res.Originals)
	}
}

func TestModelFailureKeepsBuiltIns(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		delay   time.Duration
		status  int
		wantErr string
	}{
		{"server error", 0, http.StatusServiceUnavailable, "503"},
		{"too slow", 2 * time.Second, http.StatusOK, "deadline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := analyzerServer(t, map[string]string{"Zyxwa": "PERSON"}, tc.delay, tc.status)
			r := New(WithModel(NewAnalyzerClient(srv.URL, "en", srv.Client()), 100*time.Millisecond))
			res := r.NewDocument().RedactContext(context.Background(), "Zyxwa: mail zq@example.com")
			if res.ModelErr == nil || !strings.Contains(res.ModelErr.Error(), tc.wantErr) {
				t.Errorf("ModelErr = %v, want it to mention %q", res.ModelErr, tc.wantErr)
			}
			if res.Text != "Zyxwa: mail [EMAIL_1]" {
				t.Errorf("text = %q, want the built-in findings alone", res.Text)
			}
		})
	}
}
