package service

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	valid := DefaultConfig()
	valid.Database.URL = "postgres://127.0.0.1/keel"

	tests := []struct {
		name     string
		change   func(*Config)
		problems []string
	}{
		{name: "defaults with a database", change: func(*Config) {}},
		{name: "default has no database", change: func(c *Config) { c.Database.URL = "" },
			problems: []string{"database url"}},
		{name: "with a service key", change: func(c *Config) {
			c.ServiceKey = "a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s="
		}},
		{name: "malformed service key", change: func(c *Config) { c.ServiceKey = "c2hvcnQ=" },
			problems: []string{"service key", "too short", "KEEL_SERVICE_KEY"}},
		{name: "everything missing", change: func(c *Config) { *c = Config{} },
			problems: []string{"nats url", "database url", "grpc addr", "max_deliver", "max_backoff"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := valid
			tt.change(&c)
			err := c.Validate()
			if len(tt.problems) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate accepted an invalid config")
			}
			for _, p := range tt.problems {
				if !strings.Contains(err.Error(), p) {
					t.Errorf("Validate error %q does not mention %q", err, p)
				}
			}
		})
	}
}

func TestConsumerBackoff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		max  time.Duration
		want []time.Duration
	}{
		{"minute", time.Minute, []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, time.Minute}},
		{"short", 2 * time.Second, []time.Duration{time.Second, 2 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := ConsumerConfig{MaxBackoff: tt.max}.backoff()
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("backoff mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
