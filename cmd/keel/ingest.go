package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.temporal.io/sdk/client"

	"github.com/keelhq/keel/cmd/keel/internal/devstack"
	"github.com/keelhq/keel/cmd/keel/internal/upstream"
	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/config"
	"github.com/keelhq/keel/pkg/logging"
	"github.com/keelhq/keel/pkg/temporalx"
	"github.com/keelhq/keel/pkg/tenant"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

const ingestUsage = `usage: keel ingest [flags] PATH

PATH is a folder of .eml files, an .eml file, an mbox, or a CSV or JSON Lines
export of helpdesk tickets; with --format kb, a folder of Markdown help
articles. For CSV and JSON Lines, --map names the columns:
  --map 'id=ticket_id,subject=subject,body=description,email=requester_email,name=requester_name,created=created_at'

Each record becomes one ingest event with a stable id, so running the same
file twice creates nothing twice.
`

// ingestSummary counts what happened to the records of one run.
type ingestSummary struct {
	read, published, duplicates, rejected, deadLettered, drafted, waiting int
}

// runIngest publishes the records of a file into a running stack, or into
// one it starts for the purpose.
func runIngest(ctx context.Context, args []string, out, errOut io.Writer) error {
	fs := newFlags("ingest")
	fs.Usage = func() { fmt.Fprint(errOut, ingestUsage); fs.PrintDefaults() }
	format := fs.String("format", "", "eml, mbox, csv, jsonl or kb (default: from the path)")
	mapping := fs.String("map", "", "column mapping for csv and jsonl")
	tenantID := fs.String("tenant", "larkspur", "tenant the events belong to")
	dataDir := fs.String("data-dir", defaultDataDir(), "data directory of keel dev")
	natsURL := fs.String("nats", "", "NATS URL of a running stack (default: from the data directory)")
	wait := fs.Duration("wait", time.Minute, "how long to wait for drafts before the summary (0: do not wait)")
	start := fs.Bool("start", true, "start a stack in this process when none is running")
	if err := fs.Parse(args); err != nil {
		return parseError(err)
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	if err := tenant.Valid(*tenantID); err != nil {
		return fmt.Errorf("--tenant: %w", err)
	}
	path := fs.Arg(0)

	// Read everything first: a bad mapping or an unreadable file fails
	// before anything is published.
	events, problems, err := upstream.ReadEvents(path, *format, *mapping)
	if err != nil {
		return err
	}
	sum := ingestSummary{read: len(events) + len(problems), rejected: len(problems)}
	for _, p := range problems {
		fmt.Fprintf(errOut, "rejected %s\n", p)
	}
	if sum.read == 0 {
		return fmt.Errorf("found no records in %s (for a folder of Markdown articles use --format kb)", path)
	}

	// Find a running stack, or start one.
	info := devstack.ReadInfo(*dataDir)
	if *natsURL != "" {
		info.NATSURL = *natsURL
	}
	nc, err := nats.Connect(info.NATSURL, nats.Timeout(2*time.Second))
	if err != nil {
		if !*start {
			return fmt.Errorf("no stack at %s (start one with keel dev): %w", info.NATSURL, err)
		}
		fmt.Fprintf(errOut, "no stack at %s; starting one in %s\n", info.NATSURL, *dataDir)
		st, err := startStackFor(ctx, *dataDir)
		if err != nil {
			return err
		}
		defer st.Stop()
		info = st.Info
		if nc, err = nats.Connect(info.NATSURL); err != nil {
			return fmt.Errorf("connect nats: %w", err)
		}
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}

	pub := bus.NewPublisher(js)
	bar := newProgress(errOut, len(events))
	var published []*keelv1.IngestEvent
	for _, ev := range events {
		dup, err := upstream.Publish(ctx, pub, *tenantID, ev)
		bar.step()
		switch {
		case err != nil:
			sum.rejected++
			fmt.Fprintf(errOut, "\nrejected %s: %v\n", upstream.Describe(ev), err)
		case dup:
			sum.duplicates++
		default:
			sum.published++
			published = append(published, ev)
		}
	}
	bar.done()

	// Articles start no copilot run: there is nothing to wait for.
	if *wait > 0 && len(published) > 0 && *format != upstream.FormatKB {
		if err := awaitDrafts(ctx, info, js, *tenantID, published, *wait, &sum, errOut); err != nil {
			fmt.Fprintf(errOut, "could not follow the drafts: %v\n", err)
		}
	}
	fmt.Fprintf(out, "read %d, published %d, de-duplicated %d, rejected %d, dead-lettered %d, drafted %d, waiting for review %d\n",
		sum.read, sum.published, sum.duplicates, sum.rejected, sum.deadLettered, sum.drafted, sum.waiting)
	return nil
}

// startStackFor starts a stack for a one-shot ingest run.
func startStackFor(ctx context.Context, dataDir string) (*devstack.Stack, error) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, err
	}
	orders, _ := demoOrders()
	return devstack.Start(ctx, devstack.Options{
		DataDir:     abs,
		DatabaseURL: config.DatabaseURL(),
		OrdersFile:  orders,
		Logger:      logging.Discard(),
	})
}

// awaitDrafts follows the copilot runs of the published events until each
// has drafted (or was dead-lettered) or the wait ends, and counts them.
func awaitDrafts(
	ctx context.Context,
	info devstack.Info,
	js jetstream.JetStream,
	tenantID string,
	events []*keelv1.IngestEvent,
	wait time.Duration,
	sum *ingestSummary,
	errOut io.Writer,
) error {
	tc, err := temporalx.Dial(info.TemporalAddr, temporalx.Namespace, logging.Discard())
	if err != nil {
		return err
	}
	defer tc.Close()

	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	pending := map[string]bool{}
	for _, ev := range events {
		pending[ev.GetEventId()] = true
	}
	for len(pending) > 0 {
		for id, reason := range deadLettered(ctx, js, tenantID, pending) {
			delete(pending, id)
			sum.deadLettered++
			fmt.Fprintf(errOut, "dead-lettered %s: %s\n", id, reason)
		}
		for id := range pending {
			stage, err := copilotStage(ctx, tc, tenantID, id)
			if err != nil {
				continue
			}
			if !temporalx.Settled(stage) {
				continue
			}
			sum.drafted++
			if temporalx.ReviewPending(stage) {
				sum.waiting++
			}
			delete(pending, id)
		}
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d events still in progress after %s", len(pending), wait)
		case <-time.After(500 * time.Millisecond):
		}
	}
	return nil
}

func copilotStage(ctx context.Context, tc client.Client, tenantID, eventID string) (string, error) {
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	v, err := tc.QueryWorkflow(qctx, temporalx.CopilotWorkflowID(tenantID, eventID), "", temporalx.StatusQuery)
	if err != nil {
		return "", err
	}
	var st keelv1.CopilotStatus
	if err := v.Get(&st); err != nil {
		return "", err
	}
	return st.GetStage(), nil
}

// deadLettered returns the pending event ids found in the tenant's
// dead-letter subjects, with the reason each was given up on.
func deadLettered(ctx context.Context, js jetstream.JetStream, tenantID string, pending map[string]bool) map[string]string {
	found := map[string]string{}
	cons, err := js.OrderedConsumer(ctx, bus.StreamDLQ, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"keel.dlq." + tenantID + ".>"},
	})
	if err != nil {
		return found
	}
	batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(300*time.Millisecond))
	if err != nil {
		return found
	}
	for m := range batch.Messages() {
		id := m.Headers().Get(bus.HeaderDLQMsgID)
		if pending[id] {
			found[id] = m.Headers().Get(bus.HeaderDLQStage) + ": " + m.Headers().Get(bus.HeaderDLQError)
		}
	}
	return found
}

// progress draws a bar on a terminal, or a line per tenth elsewhere.
type progress struct {
	w       io.Writer
	total   int
	n       int
	tty     bool
	lastPct int
	started time.Time
}

func newProgress(w io.Writer, total int) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progress{w: w, total: total, tty: tty, lastPct: -1, started: time.Now()}
}

func (p *progress) step() {
	p.n++
	if p.total == 0 {
		return
	}
	pct := p.n * 100 / p.total
	if p.tty {
		const width = 30
		filled := pct * width / 100
		rate := float64(p.n) / max(time.Since(p.started).Seconds(), 0.001)
		fmt.Fprintf(p.w, "\r[%s%s] %3d%% %d/%d %.0f/s", strings.Repeat("#", filled), strings.Repeat(".", width-filled), pct, p.n, p.total, rate)
		return
	}
	if pct/10 != p.lastPct/10 {
		p.lastPct = pct
		fmt.Fprintf(p.w, "sent %d/%d (%d%%)\n", p.n, p.total, pct)
	}
}

func (p *progress) done() {
	if p.tty && p.total > 0 {
		fmt.Fprintln(p.w)
	}
}
