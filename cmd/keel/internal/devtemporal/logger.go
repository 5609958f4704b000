package devtemporal

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// slogLogger adapts a *slog.Logger to the Temporal server's log.Logger. It
// drops every record below its minimum level before converting tags, so a
// quiet server costs little.
type slogLogger struct {
	logger *slog.Logger
	min    slog.Level
}

var (
	_ log.Logger     = (*slogLogger)(nil)
	_ log.WithLogger = (*slogLogger)(nil)
)

func newSlogLogger(logger *slog.Logger, min slog.Level) *slogLogger {
	return &slogLogger{logger: logger, min: min}
}

func (l *slogLogger) Debug(msg string, tags ...tag.Tag) { l.emit(slog.LevelDebug, msg, tags) }
func (l *slogLogger) Info(msg string, tags ...tag.Tag)  { l.emit(slog.LevelInfo, msg, tags) }
func (l *slogLogger) Warn(msg string, tags ...tag.Tag)  { l.emit(slog.LevelWarn, msg, tags) }
func (l *slogLogger) Error(msg string, tags ...tag.Tag) { l.emit(slog.LevelError, msg, tags) }

// DPanic logs at error level; the embedded server is never run in
// development mode, where it would panic.
func (l *slogLogger) DPanic(msg string, tags ...tag.Tag) { l.emit(slog.LevelError, msg, tags) }

// Panic logs at error level and panics, as the server expects.
func (l *slogLogger) Panic(msg string, tags ...tag.Tag) {
	l.emit(slog.LevelError, msg, tags)
	panic(describe(msg, tags))
}

// Fatal logs at error level and panics instead of exiting the process: the
// server runs inside keel, and only keel's main may exit.
func (l *slogLogger) Fatal(msg string, tags ...tag.Tag) {
	l.emit(slog.LevelError, msg, tags)
	panic(describe(msg, tags))
}

// With returns a logger that adds tags to every record.
func (l *slogLogger) With(tags ...tag.Tag) log.Logger {
	return &slogLogger{logger: l.logger.With(attrs(tags)...), min: l.min}
}

func (l *slogLogger) emit(level slog.Level, msg string, tags []tag.Tag) {
	if level < l.min {
		return
	}

	ctx := context.Background()
	if !l.logger.Enabled(ctx, level) {
		return
	}
	l.logger.Log(ctx, level, msg, attrs(tags)...)
}

// describe renders a record as one line, for a panic value.
func describe(msg string, tags []tag.Tag) string {
	var b strings.Builder
	b.WriteString(msg)
	for _, t := range tags {
		fmt.Fprintf(&b, " %s=%v", t.Key(), tagValue(t.Value()))
	}
	return b.String()
}

func attrs(tags []tag.Tag) []any {
	out := make([]any, 0, len(tags))
	for _, t := range tags {
		out = append(out, slog.Any(t.Key(), tagValue(t.Value())))
	}
	return out
}

// tagValue turns values slog cannot render usefully (errors, stringers
// behind interfaces) into strings.
func tagValue(v any) any {
	switch v := v.(type) {
	case error:
		return v.Error()
	case fmt.Stringer:
		return v.String()
	default:
		return v
	}
}
