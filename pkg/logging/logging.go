// Package logging builds the JSON slog loggers every Keel process uses.
package logging

import (
	"io"
	"log/slog"
	"os"
	"strings"
)

// LevelEnv names the environment variable that sets the log level: debug,
// info (the default), warn or error.
const LevelEnv = "KEEL_LOG_LEVEL"

// New returns a JSON logger on standard error that tags every record with the
// service and version.
func New(service, version string) *slog.Logger {
	return NewWriter(os.Stderr, service, version, ParseLevel(os.Getenv(LevelEnv)))
}

// NewProcess returns a JSON logger on standard error for a process that runs
// several services, such as keel dev: it tags records with the version only,
// and each service adds its own service key.
func NewProcess(version string) *slog.Logger {
	return NewWriter(os.Stderr, "", version, ParseLevel(os.Getenv(LevelEnv)))
}

// NewWriter returns a JSON logger writing to w at level. An empty service
// leaves the service key out.
func NewWriter(w io.Writer, service, version string, level slog.Level) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})
	if service == "" {
		return slog.New(h).With("version", version)
	}
	return slog.New(h).With("service", service, "version", version)
}

// Discard returns a logger that drops everything; tests use it.
func Discard() *slog.Logger {
	return slog.New(slog.DiscardHandler)
}

// ParseLevel maps a level name to its slog level; unknown names mean info.
func ParseLevel(name string) slog.Level {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}
