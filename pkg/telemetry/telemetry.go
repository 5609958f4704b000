// Package telemetry sets up OpenTelemetry tracing and metrics for a process.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"os"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
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
)

// Setup installs tracer and meter providers for service as the process-wide
// OpenTelemetry providers, with the W3C trace-context propagator. The
// returned function flushes and stops them.
//
// TODO: OTLP export to a collector for production; only none and stdout
// exist so far.
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
