// Package telemetry sets up OpenTelemetry tracing and metrics for a process.
// Spans and metrics leave the process through the same exporter, chosen by
// name (see Setup).
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Exporters accepted by Setup.
const (
	// ExporterNone records spans (so trace ids propagate) and metrics but
	// exports neither.
	ExporterNone = "none"
	// ExporterStdout writes spans and metrics as JSON to standard error.
	ExporterStdout = "stdout"
	// ExporterOTLP sends spans and metrics over OTLP/gRPC to the collector
	// named by the standard OTEL_EXPORTER_OTLP_ENDPOINT variable.
	ExporterOTLP = "otlp"
)

// ExporterEnv names the environment variable that selects the exporter.
const ExporterEnv = "KEEL_TELEMETRY_EXPORTER"

// stdoutWriter is where the stdout exporter writes. It is standard error;
// tests replace it to read what was exported.
var stdoutWriter io.Writer = os.Stderr

// FromEnv calls Setup with the exporter named by KEEL_TELEMETRY_EXPORTER
// (none when unset).
func FromEnv(ctx context.Context, service, version string) (func(context.Context) error, error) {
	return Setup(ctx, service, version, os.Getenv(ExporterEnv))
}

// Setup installs tracer and meter providers for service as the process-wide
// OpenTelemetry providers, with the W3C trace-context propagator. The
// exporter names where spans and metrics go: ExporterNone (or "") keeps
// them in the process, ExporterStdout writes both to standard error, and
// ExporterOTLP sends both over OTLP/gRPC, configured by the standard
// OTEL_EXPORTER_OTLP_* variables. Any other name is an error.
//
// Metrics are collected and exported periodically, every 60 seconds unless
// the standard OTEL_METRIC_EXPORT_INTERVAL variable (in milliseconds) says
// otherwise. The returned function flushes what is still pending, spans and
// metrics alike, and stops both providers.
func Setup(ctx context.Context, service, version, exporter string) (func(context.Context) error, error) {
	res := resource.NewSchemaless(
		attribute.String("service.name", service),
		attribute.String("service.version", version),
	)
	topts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	mopts := []sdkmetric.Option{sdkmetric.WithResource(res)}
	switch exporter {
	case "", ExporterNone:
	case ExporterStdout:
		texp, err := stdouttrace.New(stdouttrace.WithWriter(stdoutWriter))
		if err != nil {
			return nil, fmt.Errorf("create stdout span exporter: %w", err)
		}
		mexp, err := stdoutmetric.New(stdoutmetric.WithWriter(stdoutWriter))
		if err != nil {
			return nil, errors.Join(fmt.Errorf("create stdout metric exporter: %w", err), texp.Shutdown(ctx))
		}
		topts = append(topts, sdktrace.WithBatcher(texp))
		mopts = append(mopts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(mexp)))
	case ExporterOTLP:
		texp, err := otlptracegrpc.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("create otlp span exporter: %w", err)
		}
		mexp, err := otlpmetricgrpc.New(ctx)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("create otlp metric exporter: %w", err), texp.Shutdown(ctx))
		}
		topts = append(topts, sdktrace.WithBatcher(texp))
		mopts = append(mopts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(mexp)))
	default:
		return nil, fmt.Errorf("unknown telemetry exporter %q", exporter)
	}
	tp := sdktrace.NewTracerProvider(topts...)
	mp := sdkmetric.NewMeterProvider(mopts...)

	otel.SetTracerProvider(tp)
	otel.SetMeterProvider(mp)
	otel.SetTextMapPropagator(propagation.TraceContext{})

	return func(ctx context.Context) error {
		return errors.Join(tp.Shutdown(ctx), mp.Shutdown(ctx))
	}, nil
}
