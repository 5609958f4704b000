package routing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/services/router/internal/provider"
)

// FollowUsage counts the calls of other router replicas against this
// router's limits and budgets, and after a restart the calls made earlier in
// the current budget periods. It reads the USAGE stream from the start of
// the longest budget period the routes file sets (from a minute ago when it
// sets only rates), or from the last budget snapshot (snapshot.go), then
// follows the stream until ctx ends. Events whose router_instance is
// instance were counted by this process when it made them and only go into
// its budget book; with no budgets to keep, messages whose Keel-Origin
// header is instance are skipped without decoding them.
//
// caughtUp, when not nil, is closed once the events already in the stream
// have been counted, so that a caller can hold back traffic until budgets
// are whole. A routes file without limits reads nothing and closes it at
// once.
//
// Replicas see each other's calls once they are published (the outbox
// lingers up to 10 ms), so calls made at the same moment on two
// replicas can together pass a limit by what they reserved.
func (r *Router) FollowUsage(ctx context.Context, js jetstream.JetStream, instance string, caughtUp chan<- struct{}) error {
	signal := func() {
		if caughtUp != nil {
			close(caughtUp)
			caughtUp = nil
		}
	}
	defer signal()
	now := r.now()
	from, ok := r.usageHorizon(now)
	if !ok {
		return nil
	}
	book := r.openBudgetBook(ctx, js, now)
	from = book.resumeFrom(from)
	// The book is saved once more on the way out, so that the next start
	// reads as little as it can.
	defer func() {
		saveCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		book.save(saveCtx)
	}()

	cons, err := js.OrderedConsumer(ctx, bus.StreamUsage, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"keel." + bus.RootUsage + ".>"},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &from,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("follow usage: %w", err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("follow usage: %w", err)
	}
	if info.NumPending == 0 {
		signal()
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("follow usage: %w", err)
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	defer it.Stop()

	var counted int
	rd := r.newUsageReader()
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			r.logger.Warn("follow usage: read failed, retrying", "error", err)
			if sleepContext(ctx, time.Second) != nil {
				return nil
			}
			continue
		}
		meta, metaErr := msg.Metadata()
		own := msg.Headers().Get(bus.HeaderOrigin) == instance
		tenant, _ := bus.SubjectTenant(msg.Subject())
		switch {
		case book != nil && metaErr == nil && !book.counted(tenant, meta.Sequence.Stream):
			// Own messages are read too: the book counts every call.
			counted += r.countUsage(rd, msg.Subject(), msg.Data(), instance, true, book)
		case book != nil && metaErr == nil && !own:
			// The snapshot holds this message's cost: only its rates count.
			counted += r.countUsage(rd, msg.Subject(), msg.Data(), instance, false, nil)
		case !own:
			// This process's own messages need not be decoded to be skipped.
			counted += r.countUsage(rd, msg.Subject(), msg.Data(), instance, true, nil)
		}
		if book != nil && metaErr == nil {
			book.moved(meta.Sequence.Stream, meta.Timestamp)
			book.maybeSave(ctx)
		}
		if caughtUp != nil && metaErr == nil && meta.NumPending == 0 {
			r.logger.Info("limits caught up with the usage stream", "since", from, "calls_counted", counted)
			signal()
		}
	}
}

// usageHorizon is how far back the use that limits count can reach: the
// start of the longest budget period configured, or a minute for rates;
// false when no limits are set.
func (r *Router) usageHorizon(now time.Time) (time.Time, bool) {
	all := []Limits{r.file.Tenants.Default}
	for _, l := range r.file.Tenants.Overrides {
		all = append(all, l)
	}
	for _, route := range r.file.Routes {
		all = append(all, route.Limits)
	}
	var (
		from  time.Time
		found bool
	)
	for _, l := range all {
		if l.zero() {
			continue
		}
		start := now.Add(-time.Minute)
		if l.BudgetMicros > 0 {
			start = periodStart(l.BudgetPeriod, now)
		}
		if !found || start.Before(from) {
			from = start
		}
		found = true
	}
	return from, found
}

// usageReader reads USAGE messages for FollowUsage with one buffer and the
// route names of the routes file, so that reading a message allocates
// nothing: a router reads every call its replicas and itself make.
type usageReader struct {
	counts []bus.UsageCount
	routes map[string]string
}

func (r *Router) newUsageReader() *usageReader {
	rd := &usageReader{routes: make(map[string]string, len(r.file.Routes))}
	for name := range r.file.Routes {
		rd.routes[name] = name
	}
	return rd
}

// route returns the route named b, as the routes file spells it when it
// has one by that name.
func (rd *usageReader) route(b []byte) string {
	if name, ok := rd.routes[string(b)]; ok {
		return name
	}
	return string(b)
}

// countUsage counts the events of one USAGE message that another router
// instance made against the limits (their cost too when withCost), and
// returns how many it counted; every event's cost goes into book when it is
// not nil. Events that took nothing from limits where they were made (not
// reserved: refused before, answered from the cache, shadow calls) are left
// out, as are events that do not belong to the tenant of their subject.
func (r *Router) countUsage(rd *usageReader, subject string, data []byte, instance string, withCost bool, book *budgetBook) int {
	t, err := bus.SubjectTenant(subject)
	if err != nil {
		return 0
	}
	rd.counts, err = bus.AppendUsageCounts(rd.counts[:0], subject, data)
	if err != nil {
		r.logger.Warn("follow usage: undecodable message", "subject", subject, "error", err)
		return 0
	}
	now := r.now()
	n := 0
	for i := range rd.counts {
		ev := &rd.counts[i]
		if !tookFromLimits(ev) || (len(ev.TenantID) > 0 && string(ev.TenantID) != t) {
			continue
		}
		// Counts out of bounds (negative ones would hand budget back) are
		// bounded as a provider's are; no router publishes them.
		micros := min(max(ev.CostMicros, 0), maxCostMicros)
		route := rd.route(ev.Route)
		if book != nil {
			book.add(t, route, micros, ev.OccurredAt)
		}
		if string(ev.RouterInstance) == instance {
			continue
		}
		if !withCost {
			micros = 0
		}
		tenantLimits, routeLimits := r.limitsOf(t, route)
		u := provider.Usage{InputTokens: ev.InputTokens, OutputTokens: ev.OutputTokens}.Sane()
		r.limits.AddUse(t, route, tenantLimits, routeLimits,
			u.InputTokens+u.OutputTokens, micros, ev.OccurredAt, now)
		n++
	}
	return n
}

func tookFromLimits(ev *bus.UsageCount) bool {
	return ev.Reserved && !ev.Shadow && !ev.Cached
}

// limitsOf returns the limits of tenant t and of route.
func (r *Router) limitsOf(t, route string) (tenantLimits, routeLimits Limits) {
	tenantLimits = r.file.Tenants.Default
	if o, ok := r.file.Tenants.Overrides[t]; ok {
		tenantLimits = o
	}
	return tenantLimits, r.file.Routes[route].Limits
}
