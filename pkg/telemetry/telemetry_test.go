package telemetry

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel"
)

func TestSetupInstallsRecordingTracer(t *testing.T) {
	shutdown, err := Setup(context.Background(), "test", "v0", ExporterNone)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}()
	_, span := otel.Tracer("test").Start(context.Background(), "op")
	defer span.End()
	if !span.SpanContext().IsValid() || !span.IsRecording() {
		t.Fatal("spans are not recorded: trace ids would not propagate")
	}
}

func TestSetupRefusesUnknownExporter(t *testing.T) {
	if _, err := Setup(context.Background(), "test", "v0", "carrier-pigeon"); err == nil {
		t.Fatal("Setup accepted an unknown exporter")
	}
}
