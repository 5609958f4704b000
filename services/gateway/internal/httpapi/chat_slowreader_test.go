package httpapi_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/gateway/internal/h1"
	"github.com/keelhq/keel/services/gateway/internal/httpapi"
	"github.com/keelhq/keel/services/gateway/internal/temporalfake"
)

// A client that stops reading a stream loses it once a piece has waited
// WriteTimeout: the router's send fails, so the model call (and the
// capacity it holds) ends instead of waiting on the client for good.
func TestStreamEndsForAClientThatStopsReading(t *testing.T) {
	t.Parallel()
	forEachServer(t, testStreamEndsForAClientThatStopsReading)
}

func testStreamEndsForAClientThatStopsReading(t *testing.T, serve func(http.Handler) string) {

	sendErr := make(chan error, 1)
	big := strings.Repeat("x", 64<<10)
	router := &fakeRouter{stream: func(ctx context.Context, _ *keelv1.GenerateRequest, send func(*keelv1.GenerateStreamResponse) error) error {
		for {
			if err := send(&keelv1.GenerateStreamResponse{Delta: big}); err != nil {
				sendErr <- err
				return err
			}
			if ctx.Err() != nil {
				sendErr <- ctx.Err()
				return ctx.Err()
			}
		}
	}}
	h, err := httpapi.NewHandler(httpapi.Options{
		TokenKey: []byte(testKey), Ingest: &fakeIngest{}, Temporal: temporalfake.New(),
		Logger: slog.New(slog.DiscardHandler), Now: testNow, Router: router,
		WriteTimeout: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	sendAndStopReading(t, serve(h), `{"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]}`)

	// Nothing is read: the socket buffers fill and a write waits.
	select {
	case err := <-sendErr:
		if err == nil {
			t.Fatal("send ended without an error")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the stream to a client that reads nothing never ended")
	}

}

// A large reply that is not streamed is given up when the client takes
// none of it within the write timeout: the handler returns instead of
// holding the reply for as long as the client keeps the connection.
func TestWholeReplyGivenUpForAClientThatStopsReading(t *testing.T) {
	t.Parallel()
	forEachServer(t, testWholeReplyGivenUpForAClientThatStopsReading)
}

func testWholeReplyGivenUpForAClientThatStopsReading(t *testing.T, serve func(http.Handler) string) {

	big := strings.Repeat("y", 8<<20)
	router := &fakeRouter{generate: func(context.Context, *keelv1.GenerateRequest) (*keelv1.GenerateResponse, error) {
		return &keelv1.GenerateResponse{Text: big, Provider: "p", Model: "m", FinishReason: "stop"}, nil
	}}
	inner, err := httpapi.NewHandler(httpapi.Options{
		TokenKey: []byte(testKey), Ingest: &fakeIngest{}, Temporal: temporalfake.New(),
		Logger: slog.New(slog.DiscardHandler), Now: testNow, Router: router,
		WriteTimeout: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	returned := make(chan struct{}, 1)
	addr := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner.ServeHTTP(w, r)
		returned <- struct{}{}
	}))

	sendAndStopReading(t, addr, `{"model":"chat","messages":[{"role":"user","content":"hi"}]}`)

	select {
	case <-returned:
	case <-time.After(30 * time.Second):
		t.Fatal("the handler still holds the reply of a client that reads nothing")
	}
}

// forEachServer runs test with each HTTP server the gateway can use; serve
// starts one with a handler and returns its address.
func forEachServer(t *testing.T, test func(t *testing.T, serve func(http.Handler) string)) {
	t.Run("net/http", func(t *testing.T) {
		t.Parallel()
		test(t, func(h http.Handler) string {
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)
			return srv.Listener.Addr().String()
		})
	})
	t.Run("keel", func(t *testing.T) {
		t.Parallel()
		test(t, func(h http.Handler) string {
			lis, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := &h1.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
			go func() { _ = srv.Serve(lis) }()
			t.Cleanup(func() { _ = srv.Close() })
			return lis.Addr().String()
		})
	})
}

// sendAndStopReading posts body to the chat endpoint at addr on a
// connection with a small receive buffer that reads nothing back; it is
// closed at the end of the test.
func sendAndStopReading(t *testing.T, addr, body string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4 << 10)
	}
	fmt.Fprintf(conn, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", invokeToken(t), len(body), body)
}
