package service_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/keelhq/keel/pkg/auth"
	"github.com/keelhq/keel/pkg/grpcx"
	"github.com/keelhq/keel/pkg/logging"
	"github.com/keelhq/keel/pkg/tenant"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/gateway/internal/temporalfake"
	"github.com/keelhq/keel/services/gateway/service"
)

// routerServer is a ModelRouterService on gRPC that records the tenant and
// deadline of every call. Use case "limited" fails with a retry delay,
// "invalid" with field violations, and "hang" streams one delta and then
// waits for the call to be cancelled, closing cancelled.
type routerServer struct {
	keelv1.UnimplementedModelRouterServiceServer

	cancelled chan struct{}

	mu        sync.Mutex
	tenants   []string
	deadlines []time.Time // zero for a call without one
}

func (s *routerServer) record(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, _ := tenant.From(ctx)
	s.tenants = append(s.tenants, t)
	dl, _ := ctx.Deadline()
	s.deadlines = append(s.deadlines, dl)
}

func (s *routerServer) calls() ([]string, []time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.tenants...), append([]time.Time(nil), s.deadlines...)
}

func routerFailure(useCase string) error {
	switch useCase {
	case "limited":
		st, _ := status.New(codes.ResourceExhausted, "tenant requests limit reached; retry in 2.5s").
			WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(2500 * time.Millisecond)})
		return st.Err()
	case "invalid":
		st, _ := status.New(codes.InvalidArgument, "invalid generate request").WithDetails(&errdetails.BadRequest{
			FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "temperature", Description: "must be between 0 and 2"}},
		})
		return st.Err()
	}
	return nil
}

func (s *routerServer) Generate(ctx context.Context, req *keelv1.GenerateRequest) (*keelv1.GenerateResponse, error) {
	s.record(ctx)
	if err := routerFailure(req.GetUseCase()); err != nil {
		return nil, err
	}
	return &keelv1.GenerateResponse{
		Text: "over grpc", Provider: "hosted", Model: "gpt-test", Route: req.GetUseCase(), FinishReason: "stop",
		Usage: &keelv1.Usage{InputTokens: 5, OutputTokens: 2},
	}, nil
}

func (s *routerServer) GenerateStream(
	in *keelv1.GenerateStreamRequest,
	stream grpc.ServerStreamingServer[keelv1.GenerateStreamResponse],
) error {
	ctx := stream.Context()
	s.record(ctx)
	req := in.GetRequest()
	if err := routerFailure(req.GetUseCase()); err != nil {
		return err
	}
	if err := stream.Send(&keelv1.GenerateStreamResponse{Delta: "over "}); err != nil {
		return err
	}
	if req.GetUseCase() == "hang" {
		<-ctx.Done()
		close(s.cancelled)
		return ctx.Err()
	}
	if err := stream.Send(&keelv1.GenerateStreamResponse{Delta: "grpc"}); err != nil {
		return err
	}
	return stream.Send(&keelv1.GenerateStreamResponse{Final: &keelv1.GenerateResponse{
		Text: "over grpc", Provider: "hosted", Model: "gpt-test", Route: req.GetUseCase(), FinishReason: "stop",
		Usage: &keelv1.Usage{InputTokens: 5, OutputTokens: 2},
	}})
}

func (s *routerServer) ListRoutes(ctx context.Context, _ *keelv1.ListRoutesRequest) (*keelv1.ListRoutesResponse, error) {
	s.record(ctx)
	return &keelv1.ListRoutesResponse{Routes: []*keelv1.RouteInfo{{
		Name:       "support",
		Candidates: []*keelv1.RouteCandidate{{Provider: "hosted", Model: "gpt-test", Retention: "none"}},
	}}}, nil
}

// startGatewayWithGRPCRouter runs the gateway with its chat endpoints on
// the gRPC router adapter, talking to rs on a loopback port, and returns
// the gateway's base URL.
func startGatewayWithGRPCRouter(t *testing.T, rs *routerServer) string {
	t.Helper()
	routerLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := grpcx.NewServer(logging.Discard())
	keelv1.RegisterModelRouterServiceServer(srv, rs)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- grpcx.Serve(ctx, srv, routerLis) }()

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	cfg := service.DefaultConfig()
	cfg.TokenKey = base64.StdEncoding.EncodeToString([]byte(testKey))
	cfg.RouterAddr = routerLis.Addr().String()
	cfg.IngestAddr = routerLis.Addr().String() // never called by these tests
	cfg.NATSURL = ""
	done := make(chan error, 1)
	go func() {
		done <- service.Run(ctx, cfg, service.Deps{
			Logger: logging.Discard(), Listener: lis, Temporal: temporalfake.New(),
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run gateway: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("serve router: %v", err)
		}
	})
	return "http://" + lis.Addr().String()
}

func chatToken(t *testing.T) string {
	t.Helper()
	tok, err := auth.Mint([]byte(testKey), "acme", "ana", []string{auth.ScopeModelsInvoke}, time.Hour, time.Now())
	if err != nil {
		t.Fatalf("mint: %v", err)
	}
	return tok
}

// TestChatOverGRPCRouter serves the chat endpoints through the gRPC adapter
// the gateway uses when the router runs apart: the token's tenant reaches
// the router, replies and streams come back, and the router's status
// details (retry delay, field violations) survive the wire.
func TestChatOverGRPCRouter(t *testing.T) {
	rs := &routerServer{}
	base := startGatewayWithGRPCRouter(t, rs)
	tok := chatToken(t)

	start := time.Now()
	resp := post(t, base+"/v1/chat/completions", tok, `{"model":"support","messages":[{"role":"user","content":"hi"}]}`)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"content":"over grpc"`) {
		t.Fatalf("completion: status %d body %s", resp.StatusCode, body)
	}
	if resp.Header.Get("X-Keel-Provider") != "hosted" {
		t.Errorf("X-Keel-Provider = %q", resp.Header.Get("X-Keel-Provider"))
	}

	// A non-streamed completion is bounded by the route's deadlines, not
	// by grpcx's default for calls without one (10 s), which would cut
	// every answer slower than that. The router's own default for a whole
	// call is 2 minutes.
	_, deadlines := rs.calls()
	if len(deadlines) != 1 {
		t.Fatalf("router calls = %d, want 1", len(deadlines))
	}
	if dl := deadlines[0]; !dl.IsZero() && !dl.After(start.Add(2*time.Minute)) {
		t.Errorf("router call deadline is %v after the request, shorter than the router's own call timeout",
			dl.Sub(start).Round(time.Second))
	}

	resp = post(t, base+"/v1/chat/completions", tok,
		`{"model":"support","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	body, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: status %d type %q body %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if !strings.Contains(string(body), `"content":"over "`) || !strings.Contains(string(body), `"content":"grpc"`) ||
		!strings.HasSuffix(string(body), "data: [DONE]\n\n") {
		t.Errorf("stream body = %s", body)
	}

	req, _ := http.NewRequest(http.MethodGet, base+"/v1/models", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	models, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(models.Body)
	models.Body.Close()
	if models.StatusCode != http.StatusOK || !strings.Contains(string(body), `"id":"support"`) {
		t.Errorf("models: status %d body %s", models.StatusCode, body)
	}

	for _, stream := range []bool{false, true} {
		reqBody := `{"model":"limited","stream":` + map[bool]string{false: "false", true: "true"}[stream] +
			`,"messages":[{"role":"user","content":"hi"}]}`
		resp = post(t, base+"/v1/chat/completions", tok, reqBody)
		body, _ = io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "3" ||
			!strings.Contains(string(body), `"code":"rate_limit_exceeded"`) {
			t.Errorf("limited (stream %v): status %d, Retry-After %q, body %s",
				stream, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
	resp = post(t, base+"/v1/chat/completions", tok, `{"model":"invalid","messages":[{"role":"user","content":"hi"}]}`)
	body, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "temperature: must be between 0 and 2") {
		t.Errorf("invalid: status %d body %s", resp.StatusCode, body)
	}

	tenants, _ := rs.calls()
	for i, tn := range tenants {
		if tn != "acme" {
			t.Errorf("router call %d tenant = %q, want acme", i, tn)
		}
	}
}

// TestChatStreamOverGRPCEndsWithClient checks that a client hanging up in
// the middle of a stream cancels the gRPC stream to the router.
func TestChatStreamOverGRPCEndsWithClient(t *testing.T) {
	rs := &routerServer{cancelled: make(chan struct{})}
	base := startGatewayWithGRPCRouter(t, rs)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reqCtx, hangUp := context.WithCancel(ctx)
	defer hangUp()
	req, err := http.NewRequestWithContext(reqCtx, http.MethodPost, base+"/v1/chat/completions",
		strings.NewReader(`{"model":"hang","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+chatToken(t))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	defer resp.Body.Close()

	// The first delta arrives while the router still holds the stream.
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil {
		t.Fatalf("read first event: %v", err)
	}
	var chunk struct {
		Choices []struct {
			Delta struct {
				Content string `json:"content"`
			} `json:"delta"`
		} `json:"choices"`
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(strings.TrimSpace(line), "data: ")), &chunk); err != nil ||
		len(chunk.Choices) != 1 || chunk.Choices[0].Delta.Content != "over " {
		t.Fatalf("first event = %q (%v)", line, err)
	}

	hangUp()
	select {
	case <-rs.cancelled:
	case <-ctx.Done():
		t.Fatal("the router's stream was not cancelled after the client hung up")
	}
}
