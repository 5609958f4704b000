//go:build ignore

// Tcprelay is the floor under gateway-bench.sh's relay: it copies bytes
// between each client connection and a connection of its own to the mock
// provider, parsing nothing, not even HTTP. What it adds over the mock is
// the cost of one more hop on the machine (two more processes woken per
// request), which no gateway avoids.
//
//	go run deploy/bench/tcprelay/tcprelay.go [-addr 127.0.0.1:8486] [-upstream 127.0.0.1:18080]
package main

import (
	"flag"
	"io"
	"log"
	"net"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8486", "listen address")
	upstream := flag.String("upstream", "127.0.0.1:18080", "the mock provider's host:port")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	for {
		client, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go func() {
			defer client.Close()
			up, err := net.Dial("tcp", *upstream)
			if err != nil {
				log.Print(err)
				return
			}
			defer up.Close()
			go func() {
				_, _ = io.Copy(up, client)
				_ = up.(*net.TCPConn).CloseWrite()
			}()
			_, _ = io.Copy(client, up)
		}()
	}
}
