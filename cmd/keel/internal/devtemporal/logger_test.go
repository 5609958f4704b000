package devtemporal

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"go.temporal.io/server/common/log/tag"
)

func TestSlogLoggerFiltersAndTags(t *testing.T) {
	t.Parallel()

	var buf bytes.Buffer
	base := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	logger := newSlogLogger(base, slog.LevelWarn).With(tag.NewStringTag("service", "history"))

	logger.Info("dropped below warn")
	logger.Warn("shard moved", tag.NewInt("shard", 3))
	logger.Error("persistence failed", tag.Error(errors.New("disk full")))

	out := buf.String()
	tests := []struct {
		name    string
		want    string
		present bool
	}{
		{name: "info dropped", want: "dropped below warn", present: false},
		{name: "warn kept", want: `msg="shard moved" service=history shard=3`, present: true},
		{name: "error as text", want: `error="disk full"`, present: true},
	}
	for _, tt := range tests {
		if got := strings.Contains(out, tt.want); got != tt.present {
			t.Errorf("%s: output contains %q = %v, want %v\n%s", tt.name, tt.want, got, tt.present, out)
		}
	}
}

func TestSlogLoggerFatalPanicsWithDetails(t *testing.T) {
	t.Parallel()

	logger := newSlogLogger(slog.New(slog.DiscardHandler), slog.LevelWarn)
	defer func() {
		r := recover()
		msg, _ := r.(string)
		if !strings.Contains(msg, "listener failed") || !strings.Contains(msg, "port=7233") {
			t.Errorf("panic value = %v, want the message and its tags", r)
		}
	}()
	logger.Fatal("listener failed", tag.NewInt("port", 7233))
}
