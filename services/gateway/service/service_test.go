package service_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

	"github.com/keelhq/keel/pkg/auth"
	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/grpcx"
	"github.com/keelhq/keel/pkg/logging"
	"github.com/keelhq/keel/pkg/natstest"
	"github.com/keelhq/keel/pkg/tenant"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/gateway/internal/temporalfake"
	"github.com/keelhq/keel/services/gateway/service"
)

const testKey = "service-test-key-0123456789abcdef"

// ingestServer is an ingest gRPC service that records what it receives.
type ingestServer struct {
	keelv1.UnimplementedIngestServiceServer

	mu      sync.Mutex
	tenants []string
	events  []*keelv1.IngestEvent
}

func (s *ingestServer) Submit(ctx context.Context, req *keelv1.SubmitRequest) (*keelv1.SubmitResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, _ := tenant.From(ctx)
	s.tenants = append(s.tenants, t)
	s.events = append(s.events, proto.Clone(req.GetEvent()).(*keelv1.IngestEvent))
	return &keelv1.SubmitResponse{EventId: req.GetEvent().GetEventId()}, nil
}

// startIngest serves s with Keel's gRPC server on a loopback port.
func startIngest(t *testing.T, s *ingestServer) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := grpcx.NewServer(logging.Discard())
	keelv1.RegisterIngestServiceServer(srv, s)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- grpcx.Serve(ctx, srv, lis) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve ingest: %v", err)
		}
	})
	return lis.Addr().String()
}

// post sends body to url with a bearer token and returns the response.
func post(t *testing.T, url, tok, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("post %s: %v", url, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestRunServesAPIAndPublishesAudit(t *testing.T) {
	nc, js := natstest.Start(t)
	ingest := &ingestServer{}
	temporal := temporalfake.New()
	temporal.AddRun("copilot/acme/msg-1", &keelv1.CopilotStatus{Stage: "awaiting_review"})

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	base := "http://" + lis.Addr().String()
	cfg := service.DefaultConfig()
	cfg.TokenKey = base64.StdEncoding.EncodeToString([]byte(testKey))
	cfg.IngestAddr = startIngest(t, ingest)
	cfg.NATSURL = ""

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- service.Run(ctx, cfg, service.Deps{
			Logger:   logging.Discard(),
			NATS:     nc,
			Listener: lis,
			Temporal: temporal,
		})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()

	// The listener exists before Run, so the first request is served.
	health, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatalf("healthz: %v", err)
	}
	health.Body.Close()
	if health.StatusCode != http.StatusOK {
		t.Fatalf("healthz status = %d", health.StatusCode)
	}

	tok, err := auth.Mint([]byte(testKey), "acme", "ana", auth.AllScopes, time.Hour, time.Now())
	if err != nil {
		t.Fatalf("mint: %v", err)
	}

	// The email reaches ingest over gRPC with the token's tenant in metadata.
	resp := post(t, base+"/v1/emails", tok,
		`{"event_id":"msg-1","subject":"Hi","body":"Where is order 12?","from_email":"jo@example.com","from_name":"Jo"}`)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("submit status = %d", resp.StatusCode)
	}
	ingest.mu.Lock()
	tenants, events := ingest.tenants, ingest.events
	ingest.mu.Unlock()
	if diff := cmp.Diff([]string{"acme"}, tenants); diff != "" {
		t.Errorf("tenants seen by ingest (-want +got):\n%s", diff)
	}
	if len(events) != 1 || events[0].GetTenantId() != "" || events[0].GetEventId() != "msg-1" {
		t.Errorf("ingest events = %v, want msg-1 without tenant_id", events)
	}

	// The decision is signalled and audited on keel.audit.acme.
	resp = post(t, base+"/v1/reviews/msg-1/approve", tok, `{"note":"ok"}`)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("approve status = %d", resp.StatusCode)
	}
	stream, err := js.Stream(ctx, "AUDIT")
	if err != nil {
		t.Fatalf("audit stream: %v", err)
	}
	raw, err := stream.GetLastMsgForSubject(ctx, bus.AuditSubject("acme"))
	if err != nil {
		t.Fatalf("last audit message: %v", err)
	}
	var ev keelv1.AuditEvent
	if err := proto.Unmarshal(raw.Data, &ev); err != nil {
		t.Fatalf("decode audit event: %v", err)
	}
	if ev.GetAction() != "review.submitted" || ev.GetActor() != "user:ana" ||
		ev.GetSubject() != "copilot/acme/msg-1" || ev.GetAttributes()["decision"] != "approve" {
		t.Errorf("audit event = %v, want review.submitted by user:ana on copilot/acme/msg-1", &ev)
	}
	if got := raw.Header.Get(tenant.Header); got != "acme" {
		t.Errorf("audit message tenant header = %q, want acme", got)
	}
}

func TestRunStopsWhenContextEnds(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	cfg := service.DefaultConfig()
	cfg.TokenKey = base64.StdEncoding.EncodeToString([]byte(testKey))
	cfg.NATSURL = ""
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	err = service.Run(ctx, cfg, service.Deps{
		Logger:   logging.Discard(),
		Listener: lis,
		Temporal: temporalfake.New(),
	})

	if err != nil {
		t.Fatalf("run = %v, want nil after the context ended", err)
	}
	if _, err := net.Dial("tcp", lis.Addr().String()); err == nil {
		t.Error("listener still accepts connections after Run returned")
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	goodKey := base64.StdEncoding.EncodeToString([]byte(testKey))

	tests := []struct {
		name  string
		edit  func(*service.Config)
		wants []string
	}{
		{name: "defaults with key", edit: func(c *service.Config) { c.TokenKey = goodKey }},
		{
			name:  "no key",
			edit:  func(*service.Config) {},
			wants: []string{"token_key is required"},
		},
		{
			name:  "short key",
			edit:  func(c *service.Config) { c.TokenKey = base64.StdEncoding.EncodeToString([]byte("short")) },
			wants: []string{"token_key", "too short"},
		},
		{
			name:  "service key set",
			edit:  func(c *service.Config) { c.TokenKey, c.ServiceKey = goodKey, goodKey },
			wants: nil,
		},
		{
			name:  "malformed service key",
			edit:  func(c *service.Config) { c.TokenKey, c.ServiceKey = goodKey, "not base64!" },
			wants: []string{"service key", "KEEL_SERVICE_KEY"},
		},
		{
			name:  "short service key",
			edit:  func(c *service.Config) { c.TokenKey, c.ServiceKey = goodKey, "c2hvcnQ=" },
			wants: []string{"service key", "too short"},
		},
		{
			name: "everything wrong at once",
			edit: func(c *service.Config) {
				*c = service.Config{HTTPAddr: "nohost"}
			},
			wants: []string{"http_addr", "token_key is required", "ingest_addr", "temporal_addr", "namespace"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := service.DefaultConfig()
			tt.edit(&cfg)

			err := cfg.Validate()

			if len(tt.wants) == 0 {
				if err != nil {
					t.Fatalf("validate = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("validate = nil, want an error")
			}
			for _, want := range tt.wants {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("validate = %q, want it to mention %q", err, want)
				}
			}
		})
	}
}

func TestRunRefusesInvalidConfig(t *testing.T) {
	t.Parallel()

	err := service.Run(context.Background(), service.Config{}, service.Deps{Logger: logging.Discard()})

	if err == nil || errors.Is(err, context.Canceled) {
		t.Fatalf("run = %v, want a config error", err)
	}
}

func TestConfigLogValueHidesKey(t *testing.T) {
	t.Parallel()
	var buf strings.Builder
	logger := logging.NewWriter(&buf, "gateway", "test", 0)
	cfg := service.DefaultConfig()
	cfg.TokenKey = base64.StdEncoding.EncodeToString([]byte(testKey))
	cfg.ServiceKey = base64.StdEncoding.EncodeToString([]byte(strings.ToUpper(testKey)))

	logger.Info("config", "config", cfg)

	if strings.Contains(buf.String(), cfg.TokenKey) {
		t.Errorf("log %s holds the token key", buf.String())
	}
	if strings.Contains(buf.String(), cfg.ServiceKey) {
		t.Errorf("log %s holds the service key", buf.String())
	}
	if !strings.Contains(buf.String(), cfg.HTTPAddr) {
		t.Errorf("log %s lacks the http address", buf.String())
	}
}
