// Package demo runs the support-copilot demo against a running stack: it
// loads a knowledge base, publishes customer emails as a helpdesk would,
// shows what the copilot did with each, decides three reviews through the
// gateway, prints the delivered replies and verifies the audit chain.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/keelhq/keel/cmd/keel/internal/upstream"
	"github.com/keelhq/keel/pkg/auth"
	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/grpcx"
	"github.com/keelhq/keel/pkg/temporalx"
	"github.com/keelhq/keel/pkg/tenant"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

// Tenant is the fictional company the demo data belongs to.
const Tenant = "larkspur"

// ServiceName is the caller that keel's own gRPC clients, the demo and
// `keel audit verify`, name in their service tokens.
const ServiceName = "keel-cli"

// Config says where the demo data is and how to reach the stack.
type Config struct {
	// DataRoot is the folder holding kb/, emails/ and orders.json.
	DataRoot string
	// JS publishes upstream events and reads outbound replies.
	JS jetstream.JetStream
	// GatewayURL is the base URL of the gateway.
	GatewayURL string
	// TokenKey signs the reviewer tokens the demo uses.
	TokenKey []byte
	// ServiceKey signs the service tokens of the demo's gRPC calls.
	ServiceKey []byte
	// RetrieveAddr and AuditAddr are gRPC addresses of those services.
	RetrieveAddr string
	AuditAddr    string
	// Out receives the report.
	Out io.Writer
	// Timeout bounds each wait; 2 minutes when zero.
	Timeout time.Duration
}

// Result summarises a demo run for tests.
type Result struct {
	Emails        int
	AutoSent      []string
	AwaitedReview []string
	Approved      string
	Edited        string
	Rejected      string
	Outbound      []*keelv1.OutboundMessage
	AuditRecords  int64
	// StepDurations is the wall time of each step, by step name.
	StepDurations map[string]time.Duration
}

// Run runs the whole demo and returns an error naming the first step that
// failed.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Minute
	}
	d := &runner{cfg: cfg, out: cfg.Out, pub: bus.NewPublisher(cfg.JS), res: &Result{}}
	reviewerTok, err := auth.Mint(cfg.TokenKey, Tenant, "riley", auth.AllScopes, time.Hour, time.Now())
	if err != nil {
		return nil, err
	}
	d.gw = newGatewayClient(cfg.GatewayURL, reviewerTok)

	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"load the knowledge base", d.loadKnowledgeBase},
		{"publish customer emails", d.publishEmails},
		{"show the copilot's work", d.showDrafts},
		{"decide reviews", d.decideReviews},
		{"check tenant isolation", d.checkIsolation},
		{"deliver replies", d.showOutbound},
		{"show the dead-letter queue", d.showDeadLetters},
		{"verify the audit chain", d.verifyAudit},
	}
	took := make([]time.Duration, len(steps))
	for i, s := range steps {
		d.heading(fmt.Sprintf("%d. %s", i+1, s.name))
		start := time.Now()
		if err := s.fn(ctx); err != nil {
			return d.res, fmt.Errorf("%s: %w", s.name, err)
		}
		took[i] = time.Since(start)
	}
	d.res.StepDurations = map[string]time.Duration{}
	for i, s := range steps {
		d.res.StepDurations[s.name] = took[i]
	}
	d.heading("demo complete")
	fmt.Fprintf(d.out, "%d emails: %d sent without review, %d waited for a reviewer.\n",
		d.res.Emails, len(d.res.AutoSent), len(d.res.AwaitedReview))
	fmt.Fprintf(d.out, "approved %s\nedited   %s\nrejected %s\n",
		d.subject(d.res.Approved), d.subject(d.res.Edited), d.subject(d.res.Rejected))
	fmt.Fprintf(d.out, "%d replies delivered with the customers' details restored; audit chain intact over %d records.\n",
		len(d.res.Outbound), d.res.AuditRecords)
	fmt.Fprintln(d.out, "\ntime per step:")
	for i, s := range steps {
		fmt.Fprintf(d.out, "  %-28s %8s\n", s.name, took[i].Round(time.Millisecond))
	}
	return d.res, nil
}

type runner struct {
	cfg    Config
	out    io.Writer
	pub    *bus.Publisher
	gw     *gatewayClient
	res    *Result
	emails []*keelv1.IngestEvent
	final  map[string]*keelv1.CopilotStatus
}

// subject returns the quoted subject of the email with event id id.
func (d *runner) subject(id string) string {
	for _, ev := range d.emails {
		if ev.GetEventId() == id {
			return quote(ev.GetSubject(), 60)
		}
	}
	return id
}

func (d *runner) heading(s string) {
	fmt.Fprintf(d.out, "\n=== %s %s\n", s, strings.Repeat("=", max(0, 72-len(s))))
}

// loadKnowledgeBase publishes every article and waits until retrieval has
// indexed them all.
func (d *runner) loadKnowledgeBase(ctx context.Context) error {
	paths, err := filepath.Glob(filepath.Join(d.cfg.DataRoot, "kb", "*.md"))
	if err != nil || len(paths) == 0 {
		return fmt.Errorf("no articles under %s/kb", d.cfg.DataRoot)
	}
	sort.Strings(paths)
	for _, p := range paths {
		ev, err := upstream.ArticleEvent(p)
		if err != nil {
			return err
		}
		if _, err := upstream.Publish(ctx, d.pub, Tenant, ev); err != nil {
			return err
		}
	}
	fmt.Fprintf(d.out, "published %d help-centre articles; waiting for them to be redacted, embedded and indexed\n", len(paths))

	conn, err := grpcx.Dial(d.cfg.RetrieveAddr, grpcx.WithServiceToken(d.cfg.ServiceKey, ServiceName))
	if err != nil {
		return err
	}
	defer conn.Close()
	retriever := keelv1.NewRetrieverServiceClient(conn)
	tctx := tenant.With(ctx, Tenant)
	var stats *keelv1.StatsResponse
	err = d.waitUntil(ctx, "articles indexed", func() (bool, error) {
		stats, err = retriever.Stats(tctx, &keelv1.StatsRequest{})
		if status.Code(err) == codes.Unauthenticated {
			return false, fmt.Errorf("retrieve refused the demo: %w", err)
		}
		if err != nil {
			return false, nil
		}
		return stats.GetDocuments() >= int64(len(paths)), nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "index of %s: %d documents, %d chunks\n", Tenant, stats.GetDocuments(), stats.GetChunks())
	return nil
}

// publishEmails publishes every .eml file as the helpdesk would.
func (d *runner) publishEmails(ctx context.Context) error {
	events, problems, err := upstream.ReadEvents(filepath.Join(d.cfg.DataRoot, "emails"), "eml", "")
	if err != nil {
		return err
	}
	for _, p := range problems {
		return fmt.Errorf("demo email unreadable: %s", p)
	}
	if len(events) < 10 {
		return fmt.Errorf("only %d demo emails, want at least 10", len(events))
	}
	for _, ev := range events {
		if _, err := upstream.Publish(ctx, d.pub, Tenant, ev); err != nil {
			return err
		}
		fmt.Fprintf(d.out, "published %-44s from %s\n", quote(ev.GetSubject(), 42), ev.GetCustomer().GetEmail())
	}
	// Publishing the same events again is what a retrying upstream does: every
	// one of them must be recognised as a duplicate.
	dupes := 0
	for _, ev := range events {
		dup, err := upstream.Publish(ctx, d.pub, Tenant, ev)
		if err != nil {
			return err
		}
		if dup {
			dupes++
		}
	}
	if dupes != len(events) {
		return fmt.Errorf("republished %d emails but only %d were de-duplicated", len(events), dupes)
	}
	fmt.Fprintf(d.out, "republished all %d: %d recognised as duplicates, nothing processed twice\n", len(events), dupes)
	d.emails = events
	d.res.Emails = len(events)
	return nil
}

// showDrafts waits for each email's copilot run to draft and evaluate, then
// prints what it did.
func (d *runner) showDrafts(ctx context.Context) error {
	d.final = map[string]*keelv1.CopilotStatus{}
	for _, ev := range d.emails {
		var st *keelv1.CopilotStatus
		err := d.waitUntil(ctx, "copilot run of "+ev.GetEventId(), func() (bool, error) {
			s, err := d.gw.review(ctx, ev.GetEventId())
			if errors.Is(err, errNotFound) {
				return false, nil
			}
			if err != nil {
				return false, err
			}
			st = s
			return temporalx.Settled(s.GetStage()), nil
		})
		if err != nil {
			return err
		}
		d.final[ev.GetEventId()] = st
		d.printStatus(ev, st)
		if temporalx.ReviewPending(st.GetStage()) {
			d.res.AwaitedReview = append(d.res.AwaitedReview, ev.GetEventId())
		} else {
			d.res.AutoSent = append(d.res.AutoSent, ev.GetEventId())
		}
	}
	return nil
}

func (d *runner) printStatus(ev *keelv1.IngestEvent, st *keelv1.CopilotStatus) {
	w := d.out
	fmt.Fprintf(w, "\n--- %s  [%s]\n", quote(ev.GetSubject(), 60), ev.GetEventId())
	fmt.Fprintf(w, "redacted message:\n%s\n", indent(st.GetMessage()))
	fmt.Fprintln(w, "passages retrieved:")
	if len(st.GetPassages()) == 0 {
		fmt.Fprintln(w, "    (none)")
	}
	for i, p := range st.GetPassages() {
		fmt.Fprintf(w, "    [%d] %s (score %.3f)\n", i+1, p.GetTitle(), p.GetScore())
	}
	for _, t := range st.GetToolResults() {
		fmt.Fprintf(w, "tool %s(%s) -> %s%s\n", t.GetName(), t.GetArgumentsJson(), t.GetResultJson(), t.GetError())
	}
	fmt.Fprintf(w, "draft:\n%s\n", indent(st.GetDraft()))
	fmt.Fprintf(w, "evaluation: risk %.2f", st.GetRiskScore())
	if len(st.GetFindings()) == 0 {
		fmt.Fprint(w, ", no findings")
	}
	fmt.Fprintln(w)
	for _, f := range st.GetFindings() {
		fmt.Fprintf(w, "    - %s: %s\n", f.GetCategory(), f.GetReason())
	}
	if temporalx.ReviewPending(st.GetStage()) {
		fmt.Fprintf(w, "=> WAITS FOR A REVIEWER (%s)\n", st.GetReviewReason())
	} else {
		fmt.Fprintf(w, "=> sent without review (stage %s)\n", st.GetStage())
	}
}

// decideReviews approves, edits and rejects one waiting draft each through
// the gateway.
func (d *runner) decideReviews(ctx context.Context) error {
	pending, err := d.gw.pending(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "the gateway lists %d drafts waiting for review\n", len(pending))
	for _, id := range d.res.AwaitedReview {
		if !slices.Contains(pending, id) {
			return fmt.Errorf("review %s is waiting but not listed by the gateway", id)
		}
	}
	if len(d.res.AwaitedReview) < 3 {
		return fmt.Errorf("only %d drafts wait for review; the demo needs 3", len(d.res.AwaitedReview))
	}
	d.res.Approved, d.res.Edited, d.res.Rejected = d.pickDecisions()

	// The edit keeps the customer's name as its placeholder: the workflow
	// restores it when the reply is sent.
	edited := "Hello [PERSON_1],\n\nI am sorry for the trouble and for the wait. I have looked into this personally, and a manager from our customer care team will call you within one business day to put it right.\n\nKind regards,\nRiley, Larkspur Home Goods"
	decisions := []struct{ id, decision, text, note string }{
		{d.res.Approved, "approve", "", "checked against the policy"},
		{d.res.Edited, "edit", edited, "a manager answers this one personally"},
		{d.res.Rejected, "reject", "", "the message tries to steer the model; answer by hand"},
	}
	for _, dec := range decisions {
		if err := d.gw.decide(ctx, dec.id, dec.decision, dec.text, dec.note); err != nil {
			return err
		}
		fmt.Fprintf(d.out, "%-8s %s (%q)\n", dec.decision, d.subject(dec.id), dec.note)
	}
	for _, dec := range decisions {
		want := map[string]string{
			"approve": temporalx.StageCompleted, "edit": temporalx.StageCompleted, "reject": temporalx.StageRejected,
		}[dec.decision]
		err := d.waitUntil(ctx, "decision on "+dec.id, func() (bool, error) {
			st, err := d.gw.review(ctx, dec.id)
			if err != nil {
				return false, err
			}
			d.final[dec.id] = st
			return st.GetStage() == want, nil
		})
		if err != nil {
			return err
		}
	}
	fmt.Fprintln(d.out, "all three decisions reached their workflows")

	// A run takes one decision: a second reviewer is refused.
	code, err := d.gw.statusOf(ctx, http.MethodPost, "/v1/reviews/"+url.PathEscape(d.res.Approved)+"/reject", []byte(`{}`))
	if err != nil {
		return err
	}
	if code != http.StatusConflict {
		return fmt.Errorf("a second decision on %s got HTTP %d, want 409", d.res.Approved, code)
	}
	fmt.Fprintf(d.out, "a second reviewer rejecting the approved draft: HTTP %d\n", code)
	return nil
}

// pickDecisions chooses what the reviewer does: reject the draft answering
// a prompt injection, rewrite the one answering a legal threat, approve an
// ordinary one. Without such drafts it takes the waiting ones in order.
func (d *runner) pickDecisions() (approve, edit, reject string) {
	taken := map[string]bool{}
	find := func(category string) string {
		for _, id := range d.res.AwaitedReview {
			if taken[id] {
				continue
			}
			for _, f := range d.final[id].GetFindings() {
				if category == "" || f.GetCategory() == category {
					taken[id] = true
					return id
				}
			}
			if category == "" {
				taken[id] = true
				return id
			}
		}
		return ""
	}
	reject = find("injection")
	edit = find("legal")
	if reject == "" {
		reject = find("")
	}
	if edit == "" {
		edit = find("")
	}
	// An ordinary draft: the first waiting one without findings, else any.
	for _, id := range d.res.AwaitedReview {
		if !taken[id] && len(d.final[id].GetFindings()) == 0 {
			taken[id] = true
			return id, edit, reject
		}
	}
	return find(""), edit, reject
}

// checkIsolation shows that a token of another tenant cannot see these
// reviews and that a missing token is refused.
func (d *runner) checkIsolation(ctx context.Context) error {
	otherTok, err := auth.Mint(d.cfg.TokenKey, "globex", "mallory", auth.AllScopes, time.Hour, time.Now())
	if err != nil {
		return err
	}
	other := newGatewayClient(d.cfg.GatewayURL, otherTok)
	anon := newGatewayClient(d.cfg.GatewayURL, "")
	path := "/v1/reviews/" + d.res.Approved
	code, err := other.status(ctx, path)
	if err != nil {
		return err
	}
	if code != 404 && code != 403 {
		return fmt.Errorf("tenant globex read a larkspur review: HTTP %d", code)
	}
	fmt.Fprintf(d.out, "globex token reading a larkspur review: HTTP %d\n", code)
	code, err = anon.status(ctx, path)
	if err != nil {
		return err
	}
	if code != 401 {
		return fmt.Errorf("request without a token got HTTP %d, want 401", code)
	}
	fmt.Fprintf(d.out, "request without a token: HTTP %d\n", code)
	return nil
}

// showOutbound reads the delivered replies, as the delivery system would.
func (d *runner) showOutbound(ctx context.Context) error {
	want := len(d.res.AutoSent) + 2
	cons, err := d.cfg.JS.CreateOrUpdateConsumer(ctx, bus.StreamOutbound, jetstream.ConsumerConfig{
		Durable:       "demo-delivery",
		FilterSubject: "keel.outbound." + Tenant + ".>",
		AckPolicy:     jetstream.AckExplicitPolicy,
	})
	if err != nil {
		return fmt.Errorf("open outbound consumer: %w", err)
	}
	seen := map[string]bool{}
	err = d.waitUntil(ctx, fmt.Sprintf("%d outbound replies", want), func() (bool, error) {
		batch, err := cons.Fetch(50, jetstream.FetchMaxWait(500*time.Millisecond))
		if err != nil {
			return false, nil
		}
		for m := range batch.Messages() {
			var out keelv1.OutboundMessage
			if err := proto.Unmarshal(m.Data(), &out); err != nil {
				return false, err
			}
			_ = m.Ack()
			if !seen[out.GetEventId()] {
				seen[out.GetEventId()] = true
				d.res.Outbound = append(d.res.Outbound, &out)
			}
		}
		return len(d.res.Outbound) >= want, nil
	})
	if err != nil {
		return err
	}
	for _, o := range d.res.Outbound {
		fmt.Fprintf(d.out, "\n--- to %s  (%s)\nsubject: %s\n%s\n", o.GetTo(), decidedBy(o),
			o.GetSubject(), indent(o.GetBody()))
		if strings.Contains(o.GetTo(), "[EMAIL_") {
			return fmt.Errorf("reply %s went to an unrestored placeholder %q", o.GetEventId(), o.GetTo())
		}
		if o.GetEventId() == d.res.Rejected {
			return fmt.Errorf("the rejected draft %s was delivered", o.GetEventId())
		}
	}
	return nil
}

// showDeadLetters publishes a malformed event and shows that it lands in the
// dead-letter queue with its reason while the rest kept flowing.
func (d *runner) showDeadLetters(ctx context.Context) error {
	msg := nats.NewMsg(bus.IngestSubject(Tenant, "email"))
	msg.Header.Set(bus.HeaderContentType, bus.ContentTypeJSON)
	msg.Header.Set(jetstream.MsgIDHeader, "demo-malformed-1")
	msg.Data = []byte(`{"eventId": "demo-malformed-1", "kind": "email", "subject": "no body and a bad field", "body": 42}`)
	if _, err := d.cfg.JS.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("publish malformed event: %w", err)
	}
	stream, err := d.cfg.JS.Stream(ctx, bus.StreamDLQ)
	if err != nil {
		return err
	}
	var reason string
	err = d.waitUntil(ctx, "dead letter", func() (bool, error) {
		m, err := stream.GetLastMsgForSubject(ctx, bus.DLQSubject(Tenant, "ingest"))
		if err != nil {
			return false, nil
		}
		reason = m.Header.Get(bus.HeaderDLQError)
		return m.Header.Get(bus.HeaderDLQMsgID) == "demo-malformed-1", nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "malformed event dead-lettered on %s\nreason: %s\n", bus.DLQSubject(Tenant, "ingest"), reason)
	return nil
}

// verifyAudit waits for the audit log to hold the final step of every run,
// then verifies the tenant's chain.
func (d *runner) verifyAudit(ctx context.Context) error {
	conn, err := grpcx.Dial(d.cfg.AuditAddr, grpcx.WithServiceToken(d.cfg.ServiceKey, ServiceName))
	if err != nil {
		return err
	}
	defer conn.Close()
	client := keelv1.NewAuditLogServiceClient(conn)
	tctx := tenant.With(ctx, Tenant)

	err = d.waitUntil(ctx, "audit records of delivered replies", func() (bool, error) {
		res, err := client.ListRecords(tctx, &keelv1.ListRecordsRequest{Limit: 1000})
		if status.Code(err) == codes.Unauthenticated {
			return false, fmt.Errorf("audit refused the demo: %w", err)
		}
		if err != nil {
			return false, nil
		}
		sent := 0
		for _, r := range res.GetRecords() {
			if r.GetAction() == "reply.sent" {
				sent++
			}
		}
		return sent >= len(d.res.Outbound), nil
	})
	if err != nil {
		return err
	}
	res, err := client.VerifyChain(tctx, &keelv1.VerifyChainRequest{})
	if err != nil {
		return fmt.Errorf("verify chain: %w", err)
	}
	if !res.GetIntact() {
		return fmt.Errorf("audit chain broken at record %d: %s", res.GetFirstBrokenSeq(), res.GetReason())
	}
	d.res.AuditRecords = res.GetRecords()
	fmt.Fprintf(d.out, "audit chain of %s intact: %d hash-chained records\n", Tenant, res.GetRecords())
	return nil
}

// waitUntil polls cond until it holds, fails, or the timeout passes.
func (d *runner) waitUntil(ctx context.Context, what string, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out waiting for %s", what)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func indent(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return "    (empty)"
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

func quote(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		s = string(r[:n-1]) + "…"
	}
	return fmt.Sprintf("%q", s)
}

// decidedBy says how a reply came to be sent.
func decidedBy(o *keelv1.OutboundMessage) string {
	if o.GetReviewer() == "" {
		return "sent without review"
	}
	return o.GetDecision() + " by " + o.GetReviewer()
}

// DataRoot finds deploy/demo from the working directory or its parents.
func DataRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "deploy", "demo")
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("deploy/demo not found; run from the repository")
		}
		dir = parent
	}
}
