// Package telemetry sets up OpenTelemetry tracing and metrics for a process.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"os"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Exporters accepted by Setup.
const (
	// ExporterNone records spans (so trace ids propagate) but exports none.
	ExporterNone = "none"
	// ExporterStdout writes spans as JSON to standard error.
	ExporterStdout = "stdout"
	// ExporterOTLP sends spans over OTLP/gRPC to the collector named by the
	// standard OTEL_EXPORTER_OTLP_ENDPOINT variable.
	ExporterOTLP = "otlp"
)

// ExporterEnv names the environment variable that selects the exporter.
const ExporterEnv = "KEEL_TELEMETRY_EXPORTER"

// FromEnv calls Setup with the exporter named by KEEL_TELEMETRY_EXPORTER
// (none when unset).
func FromEnv(ctx context.Context, service, version string) (func(context.Context) error, error) {
	return Setup(ctx, service, version, os.Getenv(ExporterEnv))
}

// Setup installs tracer and meter providers for service as the process-wide
// OpenTelemetry providers, with the W3C trace-context propagator. The
// returned function flushes and stops them.
//
// TODO: export metrics over OTLP too; only spans leave the process today.
func Setup(ctx context.Context, service, version, exporter string) (func(context.Context) error, error) {
	res := resource.NewSchemaless(
		attribute.String("service.name", service),
		attribute.String("service.version", version),
	)
	topts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	switch exporter {
	case "", ExporterNone:
	case ExporterStdout:
		exp, err := stdouttrace.New(stdouttrace.WithWriter(os.Stderr))
		if err != nil {
			return nil, fmt.Errorf("create stdout exporter: %w", err)
		}
		topts = append(topts, sdktrace.WithBatcher(exp))
	case ExporterOTLP:
		exp, err := otlptracegrpc.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("create otlp exporter: %w", err)
		}
		topts = append(topts, sdktrace.WithBatcher(exp))
	default:
		return nil, fmt.Errorf("unknown telemetry exporter %q", exporter)
	}
	tp := sdktrace.NewTracerProvider(topts...)
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res))

	otel.SetTracerProvider(tp)
	otel.SetMeterProvider(mp)
	otel.SetTextMapPropagator(propagation.TraceContext{})

	return func(ctx context.Context) error {
		return errors.Join(tp.Shutdown(ctx), mp.Shutdown(ctx))
	}, nil
}
