//go:build ignore

// Relay is the floor for gateway-bench.sh: a Go HTTP/1.1 server that passes
// each request to the mock provider over pooled connections and copies the
// answer back, doing nothing else (no token, no limits, no JSON, no usage
// events). What it adds over the mock is what any Go gateway pays on the
// machine before it does any work of its own.
//
//	go run deploy/bench/relay/relay.go [-addr 127.0.0.1:8482] [-upstream http://127.0.0.1:18080]
package main

import (
	"bytes"
	"flag"
	"io"
	"log"
	"net/http"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8482", "listen address")
	upstream := flag.String("upstream", "http://127.0.0.1:18080", "the mock provider")
	flag.Parse()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	relay := func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req, err := http.NewRequestWithContext(r.Context(), r.Method, *upstream+r.URL.Path, bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req.Header.Set("Content-Type", r.Header.Get("Content-Type"))
		resp, err := client.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		answer, err := io.ReadAll(resp.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(answer)
	}
	srv := &http.Server{Addr: *addr, Handler: http.HandlerFunc(relay), ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
