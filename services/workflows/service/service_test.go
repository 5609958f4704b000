package service

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keelhq/keel/pkg/config"
	"github.com/keelhq/keel/services/workflows/internal/copilot"
	"github.com/keelhq/keel/services/workflows/internal/starter"
)

func TestDefaultConfigIsValid(t *testing.T) {
	t.Parallel()

	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("DefaultConfig().Validate() = %v", err)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		change func(c *Config)
		want   []string
	}{
		{
			name: "missing addresses",
			change: func(c *Config) {
				c.NATS.URL = ""
				c.Temporal.Addr = ""
				c.Services.RouterAddr = ""
			},
			want: []string{"KEEL_NATS_URL", "KEEL_TEMPORAL_ADDR", "KEEL_ROUTER_ADDR"},
		},
		{
			name: "bad review policy",
			change: func(c *Config) {
				c.Review.RiskThreshold = 1.5
				c.Review.TenantThresholds = map[string]float64{"Acme Corp": 0.2, "acme": 0}
				c.Review.AlwaysReview = []string{"no.dots"}
				c.Review.Timeout = 0
			},
			want: []string{
				"risk_threshold 1.5", `tenant_thresholds: tenant: invalid id: "Acme Corp"`,
				"tenant_thresholds[acme] 0", `always_review: tenant: invalid id: "no.dots"`,
				"timeout and escalation_timeout must be positive",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			cfg := DefaultConfig()
			tt.change(&cfg)
			err := cfg.Validate()
			if err == nil {
				t.Fatal("Validate() = nil, want errors")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to mention %q", err, w)
				}
			}
		})
	}
}

func TestConfigFromEnvironment(t *testing.T) {
	t.Setenv("KEEL_TEMPORAL_ADDR", "127.0.0.1:17233")
	t.Setenv("KEEL_REVIEW_ALWAYS", "acme, globex")
	t.Setenv("KEEL_REVIEW_TIMEOUT", "90m")
	t.Setenv("KEEL_REVIEW_RISK_THRESHOLD", "0.4")

	cfg := DefaultConfig()
	if err := config.Load("", &cfg); err != nil {
		t.Fatalf("Load: %v", err)
	}

	want := starter.Policies{
		RiskThreshold:     0.4,
		AlwaysReview:      []string{"acme", "globex"},
		ReviewTimeout:     90 * time.Minute,
		EscalationTimeout: copilot.DefaultEscalationTimeout,
	}
	if diff := cmp.Diff(want, cfg.Review.policies()); diff != "" {
		t.Errorf("policies (-want +got):\n%s", diff)
	}
	if cfg.Temporal.Addr != "127.0.0.1:17233" {
		t.Errorf("temporal addr = %q", cfg.Temporal.Addr)
	}
}

func TestRunRejectsBadConfigAndOrders(t *testing.T) {
	t.Parallel()

	bad := DefaultConfig()
	bad.NATS.URL = ""
	if err := Run(context.Background(), bad, Deps{}); err == nil || !strings.Contains(err.Error(), "invalid config") {
		t.Errorf("Run with bad config = %v, want invalid config", err)
	}

	missing := DefaultConfig()
	missing.Orders.File = t.TempDir() + "/nope.json"
	err := Run(context.Background(), missing, Deps{})
	if err == nil || !strings.Contains(err.Error(), "read order book") {
		t.Errorf("Run with a missing orders file = %v, want read order book", err)
	}
	if errors.Is(err, context.Canceled) {
		t.Errorf("unexpected cancellation: %v", err)
	}
}
