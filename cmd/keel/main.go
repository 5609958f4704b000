// Command keel is Keel's operator CLI: it runs the whole stack locally,
// runs the demo, mints tokens, publishes upstream files and verifies the
// audit chain.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "keel:", err)
		stop()
		os.Exit(1)
	}
}
