package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `keel - operator CLI of the Keel backend

Usage:
  keel dev     [flags]         run every service on embedded infrastructure
  keel demo    [flags]         run the support-copilot demo and exit
  keel gateway [flags]         serve only the OpenAI-compatible model gateway (router + chat API)
  keel ingest  [flags] PATH    publish .eml folders, mbox, CSV or JSON Lines
  keel redact  [flags]         redact text read on standard input
  keel redact eval [flags]     score redaction on the labelled test set
  keel retrieve eval [flags]   score retrieval on the demo golden questions
  keel retrieve search [flags] QUERY   search a tenant of the running stack
  keel retrieve delete [flags] delete a document (--doc) or a data subject's (--subject)
  keel streams [flags]         declare the JetStream streams (production)
  keel token   [flags]         mint a short-lived bearer token
  keel audit verify [flags]    verify a tenant's audit hash chain
  keel version

Run "keel <command> -h" for the flags of a command.
`

// errUsage means the command line was wrong; usage has been printed.
var errUsage = errors.New("invalid command line")

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return errUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "dev":
		return runDev(ctx, rest)
	case "gateway":
		return runGateway(ctx, rest, os.Stdout)
	case "demo":
		return runDemo(ctx, rest, os.Stdout)
	case "ingest":
		return runIngest(ctx, rest, os.Stdout, os.Stderr)
	case "redact":
		return runRedact(ctx, rest, os.Stdin, os.Stdout)
	case "retrieve":
		sub := ""
		if len(rest) > 0 {
			sub = rest[0]
		}
		switch sub {
		case "eval":
			return runRetrieveEval(ctx, rest[1:], os.Stdout)
		case "search":
			return runRetrieveSearch(ctx, rest[1:], os.Stdout)
		case "delete":
			return runRetrieveDelete(ctx, rest[1:], os.Stdout)
		default:
			fmt.Fprint(os.Stderr, "usage: keel retrieve eval|search|delete [flags]\n")
			return errUsage
		}
	case "streams":
		return runStreams(ctx, rest, os.Stdout)
	case "token":
		return runToken(rest, os.Stdout)
	case "audit":
		if len(rest) == 0 || rest[0] != "verify" {
			fmt.Fprint(os.Stderr, "usage: keel audit verify [flags]\n")
			return errUsage
		}
		return runAuditVerify(ctx, rest[1:], os.Stdout)
	case "version":
		fmt.Println(version)
		return nil
	case "help", "-h", "--help":
		fmt.Print(usage)
		return nil
	default:
		fmt.Fprint(os.Stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

// parseError turns a flag parsing error into what run returns: nothing for
// -h, which printed the usage as asked, else errUsage.
func parseError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return errUsage
}

// newFlags returns a flag set that prints its usage to stderr.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("keel "+name, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	return fs
}

// defaultDataDir is where keel dev keeps its state: $KEEL_DATA_DIR or .data.
func defaultDataDir() string {
	if d := os.Getenv("KEEL_DATA_DIR"); d != "" {
		return d
	}
	return ".data"
}
