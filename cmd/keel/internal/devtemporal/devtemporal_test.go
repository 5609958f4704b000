package devtemporal

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

const greetQueue = "devtemporal-test"

// greet is the trivial workflow the tests run end to end: one activity.
func greet(ctx workflow.Context, name string) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
	})

	var greeting string
	err := workflow.ExecuteActivity(ctx, shout, name).Get(ctx, &greeting)
	return greeting, err
}

func shout(_ context.Context, name string) (string, error) {
	return "HELLO " + strings.ToUpper(name), nil
}

func startServer(t *testing.T, opts Options) *Server {
	t.Helper()

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	srv, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return srv
}

func dial(t *testing.T, hostPort string) client.Client {
	t.Helper()

	c, err := client.Dial(client.Options{
		HostPort:  hostPort,
		Namespace: DefaultNamespace,
		Logger:    sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
	})
	if err != nil {
		t.Fatalf("dial %s: %v", hostPort, err)
	}
	t.Cleanup(c.Close)
	return c
}

// runGreet starts a worker, runs greet to completion and returns its result.
func runGreet(t *testing.T, c client.Client, workflowID string) string {
	t.Helper()

	w := worker.New(c, greetQueue, worker.Options{})
	w.RegisterWorkflow(greet)
	w.RegisterActivity(shout)
	if err := w.Start(); err != nil {
		t.Fatalf("start worker: %v", err)
	}
	defer w.Stop()

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:        workflowID,
		TaskQueue: greetQueue,
	}, greet, "keel")
	if err != nil {
		t.Fatalf("execute workflow: %v", err)
	}

	var got string
	if err := run.Get(ctx, &got); err != nil {
		t.Fatalf("workflow result: %v", err)
	}
	return got
}

func TestServerRunsWorkflowInMemory(t *testing.T) {
	srv := startServer(t, Options{})

	if !strings.HasPrefix(srv.HostPort(), "127.0.0.1:") || strings.HasSuffix(srv.HostPort(), ":0") {
		t.Fatalf("HostPort() = %q, want a concrete loopback port", srv.HostPort())
	}

	c := dial(t, srv.HostPort())
	if got, want := runGreet(t, c, "greet-memory"), "HELLO KEEL"; got != want {
		t.Errorf("workflow result = %q, want %q", got, want)
	}
}

func TestServerKeepsHistoryInDataDir(t *testing.T) {
	dir := t.TempDir()

	first, err := Start(t.Context(), Options{DataDir: dir})
	if err != nil {
		t.Fatalf("first Start: %v", err)
	}
	c := dial(t, first.HostPort())
	runGreet(t, c, "greet-persisted")
	c.Close()
	if err := first.Stop(); err != nil {
		t.Fatalf("first Stop: %v", err)
	}

	// A second server over the same directory sees the finished run.
	second := startServer(t, Options{DataDir: dir})
	c = dial(t, second.HostPort())

	desc, err := c.DescribeWorkflowExecution(t.Context(), "greet-persisted", "")
	if err != nil {
		t.Fatalf("describe workflow after restart: %v", err)
	}
	got := desc.GetWorkflowExecutionInfo().GetStatus()
	if got != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		t.Errorf("status after restart = %v, want COMPLETED", got)
	}
}

func TestStartRejectsBadFrontendAddr(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		addr string
	}{
		{name: "not loopback", addr: "0.0.0.0:7233"},
		{name: "no port", addr: "127.0.0.1"},
		{name: "port out of range", addr: "127.0.0.1:70000"},
		{name: "hostname", addr: "example.com:7233"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			if _, err := Start(t.Context(), Options{FrontendAddr: tt.addr}); err == nil {
				t.Errorf("Start(%q) succeeded, want an error", tt.addr)
			}
		})
	}
}

func TestStartFailsOnTakenPort(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	srv, err := Start(ctx, Options{FrontendAddr: taken.Addr().String()})
	if err == nil {
		_ = srv.Stop()
		t.Fatalf("Start on taken port %s succeeded, want an error", taken.Addr())
	}
	t.Logf("Start on a taken port: %v", err)
}

func TestFrontendAddrPicksFreePort(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		addr     string
		wantHost string
	}{
		{name: "empty", addr: "", wantHost: "127.0.0.1"},
		{name: "port zero", addr: "127.0.0.1:0", wantHost: "127.0.0.1"},
		{name: "localhost", addr: "localhost:0", wantHost: "127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, err := frontendAddr(tt.addr)
			if err != nil {
				t.Fatalf("frontendAddr(%q): %v", tt.addr, err)
			}
			if got.IP.String() != tt.wantHost || got.Port == 0 {
				t.Errorf("frontendAddr(%q) = %v, want %s with a nonzero port", tt.addr, got, tt.wantHost)
			}
		})
	}
}
