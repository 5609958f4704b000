package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	collectorpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/grpc"
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

// metricsCollector is an OTLP metrics service that keeps every request it
// receives.
type metricsCollector struct {
	collectorpb.UnimplementedMetricsServiceServer

	mu       sync.Mutex
	requests []*collectorpb.ExportMetricsServiceRequest
}

func (c *metricsCollector) Export(_ context.Context, req *collectorpb.ExportMetricsServiceRequest) (*collectorpb.ExportMetricsServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests = append(c.requests, req)
	return &collectorpb.ExportMetricsServiceResponse{}, nil
}

// received returns the resource metrics of every request received so far.
func (c *metricsCollector) received() []*metricpb.ResourceMetrics {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*metricpb.ResourceMetrics
	for _, req := range c.requests {
		out = append(out, req.GetResourceMetrics()...)
	}
	return out
}

// startCollector serves an OTLP metrics collector on a loopback port until
// the test ends, and returns it with its address.
func startCollector(t *testing.T) (*metricsCollector, string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	col := &metricsCollector{}
	srv := grpc.NewServer()
	collectorpb.RegisterMetricsServiceServer(srv, col)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Stop()
		if err := <-done; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			t.Errorf("collector: %v", err)
		}
	})
	return col, lis.Addr().String()
}

// recordSample records two values in a histogram and adds 3 and 4 to a
// counter through the global meter provider.
func recordSample(t *testing.T) {
	t.Helper()
	meter := otel.GetMeterProvider().Meter("keel/telemetry/test")
	hist, err := meter.Float64Histogram("test.operation.duration", metric.WithUnit("s"))
	if err != nil {
		t.Fatal(err)
	}
	counter, err := meter.Int64Counter("test.requests")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	attrs := metric.WithAttributes(attribute.String("route", "chat"))
	hist.Record(ctx, 0.5, attrs)
	hist.Record(ctx, 1.5, attrs)
	counter.Add(ctx, 3, attrs)
	counter.Add(ctx, 4, attrs)
}

func TestSetupExportsMetricsOverOTLP(t *testing.T) {
	col, addr := startCollector(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+addr)
	t.Setenv("OTEL_EXPORTER_OTLP_INSECURE", "true")

	shutdown, err := Setup(context.Background(), "metrics-test", "v1", ExporterOTLP)
	if err != nil {
		t.Fatal(err)
	}
	recordSample(t)
	// Shutdown must flush the metrics recorded above: nothing else exports
	// them before the 60-second default interval.
	if err := shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}

	got := map[string]*metricpb.Metric{}
	var services []string
	for _, rm := range col.received() {
		for _, kv := range rm.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				services = append(services, kv.GetValue().GetStringValue())
			}
		}
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				got[m.GetName()] = m
			}
		}
	}
	if len(services) == 0 {
		t.Fatal("the collector received no metrics with a service.name")
	}
	for _, s := range services {
		if s != "metrics-test" {
			t.Errorf("service.name = %q, want metrics-test", s)
		}
	}

	hist := got["test.operation.duration"].GetHistogram()
	if hist == nil || len(hist.GetDataPoints()) != 1 {
		t.Fatalf("histogram test.operation.duration: got %v, want one data point", got["test.operation.duration"])
	}
	hp := hist.GetDataPoints()[0]
	if hp.GetCount() != 2 || hp.GetSum() != 2 {
		t.Errorf("histogram count, sum = %d, %v; want 2, 2", hp.GetCount(), hp.GetSum())
	}
	if !hasStringAttr(hp.GetAttributes(), "route", "chat") {
		t.Errorf("histogram attributes = %v, want route=chat", hp.GetAttributes())
	}
	if unit := got["test.operation.duration"].GetUnit(); unit != "s" {
		t.Errorf("histogram unit = %q, want s", unit)
	}

	sum := got["test.requests"].GetSum()
	if sum == nil || len(sum.GetDataPoints()) != 1 {
		t.Fatalf("counter test.requests: got %v, want one data point", got["test.requests"])
	}
	if !sum.GetIsMonotonic() {
		t.Error("counter test.requests is not monotonic")
	}
	sp := sum.GetDataPoints()[0]
	if sp.GetAsInt() != 7 {
		t.Errorf("counter value = %d, want 7", sp.GetAsInt())
	}
	if !hasStringAttr(sp.GetAttributes(), "route", "chat") {
		t.Errorf("counter attributes = %v, want route=chat", sp.GetAttributes())
	}
}

func hasStringAttr(attrs []*commonpb.KeyValue, key, want string) bool {
	for _, kv := range attrs {
		if kv.GetKey() == key && kv.GetValue().GetStringValue() == want {
			return true
		}
	}
	return false
}

// syncBuffer is a bytes.Buffer safe for the span and metric exporters to
// write to at the same time.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestSetupWritesMetricsToStdout(t *testing.T) {
	out := &syncBuffer{}
	old := stdoutWriter
	stdoutWriter = out
	t.Cleanup(func() { stdoutWriter = old })

	shutdown, err := Setup(context.Background(), "stdout-test", "v1", ExporterStdout)
	if err != nil {
		t.Fatal(err)
	}
	recordSample(t)
	if err := shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	// The exporter writes one JSON document per export; pick out what the
	// test checks from each.
	type dataPoint struct {
		Count *uint64
		Sum   *float64
		Value *float64
	}
	type export struct {
		Resource []struct {
			Key   string
			Value struct{ Value any }
		}
		ScopeMetrics []struct {
			Metrics []struct {
				Name string
				Data struct{ DataPoints []dataPoint }
			}
		}
	}
	points := map[string][]dataPoint{}
	service := ""
	dec := json.NewDecoder(strings.NewReader(out.String()))
	for {
		var e export
		if err := dec.Decode(&e); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode stdout output: %v\n%s", err, out.String())
		}
		for _, kv := range e.Resource {
			if kv.Key == "service.name" {
				service, _ = kv.Value.Value.(string)
			}
		}
		for _, sm := range e.ScopeMetrics {
			for _, m := range sm.Metrics {
				points[m.Name] = append(points[m.Name], m.Data.DataPoints...)
			}
		}
	}
	if service != "stdout-test" {
		t.Errorf("service.name = %q, want stdout-test", service)
	}
	if hp := points["test.operation.duration"]; len(hp) != 1 || hp[0].Count == nil || *hp[0].Count != 2 || hp[0].Sum == nil || *hp[0].Sum != 2 {
		t.Errorf("histogram test.operation.duration not written with count 2, sum 2:\n%s", out.String())
	}
	if cp := points["test.requests"]; len(cp) != 1 || cp[0].Value == nil || *cp[0].Value != 7 {
		t.Errorf("counter test.requests not written with value 7:\n%s", out.String())
	}
}
