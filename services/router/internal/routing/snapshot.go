package routing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/keelhq/keel/pkg/bus"
)

// A budget book adds up, per budget, the cost of every call in the USAGE
// stream during the budget's current period, this router's own calls
// included, and keeps the sums with the stream sequence they reach in the
// ROUTER_BUDGETS bucket. A router starting up takes the sums from there and
// reads the stream only after them (and the last minute, for the rates),
// instead of from the start of a month.
//
// Every replica keeps a book and saves it; the sums up to a sequence are
// the same whoever counted them, and a save never replaces a snapshot that
// reaches further.

// snapshotKey is the one key of the bucket.
const snapshotKey = "spent"

// DefaultSnapshotEvery is how often a router saves its budget book while
// the stream moves.
const DefaultSnapshotEvery = 30 * time.Second

// maxSnapshotBytes keeps a snapshot under NATS's default payload limit. A
// book larger than that (tens of thousands of budgets) is not saved, and a
// restart reads the whole period.
//
// TODO: shard the snapshot by tenant to lift this bound.
const maxSnapshotBytes = 900 << 10

// budgetSnapshot is what the bucket holds.
type budgetSnapshot struct {
	// Budgets names the budgets the sums are kept for (budgetKeys): sums
	// kept under other settings are not used.
	Budgets string `json:"budgets"`
	// Seq is the last USAGE stream sequence counted, At when it was stored.
	Seq   uint64        `json:"seq"`
	At    time.Time     `json:"at"`
	Spent []periodSpend `json:"spent"`
}

// periodSpend is one budget's sum: a tenant's (Route empty) or a tenant's
// on one route, in the period starting at Period.
type periodSpend struct {
	Tenant string    `json:"tenant"`
	Route  string    `json:"route,omitempty"`
	Period time.Time `json:"period"`
	Micros int64     `json:"micros"`
}

type budgetBook struct {
	r       *Router
	kv      jetstream.KeyValue
	budgets string

	seq       uint64
	at        time.Time
	spent     map[limitKey]periodSpend
	savedSeq  uint64
	savedAt   time.Time
	tooLarge  bool
	saveFails int
}

// budgetKeys names the budgets r keeps and the period of each, which is
// all a snapshot's sums depend on (not the amounts).
func (r *Router) budgetKeys() string {
	// The period as periodStart reads it: anything but a month is a day.
	period := func(l Limits) string {
		if l.BudgetPeriod == "month" {
			return "month"
		}
		return "day"
	}
	var keys []string
	if l := r.file.Tenants.Default; l.BudgetMicros > 0 {
		keys = append(keys, "tenants:"+period(l))
	}
	for t, l := range r.file.Tenants.Overrides {
		if l.BudgetMicros > 0 {
			keys = append(keys, "tenant "+t+":"+period(l))
		}
	}
	for name, route := range r.file.Routes {
		if l := route.Limits; l.BudgetMicros > 0 {
			keys = append(keys, "route "+name+":"+period(l))
		}
	}
	slices.Sort(keys)
	return strings.Join(keys, ",")
}

// openBudgetBook returns r's budget book, with the sums of the snapshot in
// the bucket counted into r's limits; nil when r keeps no budgets or the
// bucket cannot be read (the stream is then read from the period's start).
func (r *Router) openBudgetBook(ctx context.Context, js jetstream.JetStream, now time.Time) *budgetBook {
	budgets := r.budgetKeys()
	if budgets == "" {
		return nil
	}
	kv, err := js.KeyValue(ctx, bus.BucketRouterBudgets)
	if err != nil {
		r.logger.Warn("budget snapshots off: bucket unavailable; restarts read the whole period",
			"bucket", bus.BucketRouterBudgets, "error", err)
		return nil
	}
	book := &budgetBook{r: r, kv: kv, budgets: budgets, spent: make(map[limitKey]periodSpend)}
	snap, err := loadSnapshot(ctx, kv)
	switch {
	case err != nil:
		r.logger.Warn("budget snapshot unreadable; reading the whole period", "error", err)
		return book
	case snap == nil:
		return book
	case snap.Budgets != budgets:
		r.logger.Info("budget snapshot kept under other budgets; reading the whole period")
		return book
	}
	for _, s := range snap.Spent {
		key := limitKey{tenant: s.Tenant, route: s.Route}
		lim := r.budgetLimits(key)
		if lim.BudgetMicros <= 0 || !periodStart(lim.BudgetPeriod, now).Equal(s.Period) {
			continue // a period that has ended
		}
		r.limits.addSpent(key, lim, s.Micros, now)
		book.spent[key] = s
	}
	book.seq, book.at = snap.Seq, snap.At
	book.savedSeq, book.savedAt = snap.Seq, time.Now()
	return book
}

// resumeFrom is where the stream is read from with the book's snapshot
// counted: a minute before its last message, so that the rates see the
// last minute of calls; never before from, the start of the longest period.
func (b *budgetBook) resumeFrom(from time.Time) time.Time {
	if b == nil || b.seq == 0 {
		return from
	}
	if start := b.at.Add(-time.Minute); start.After(from) {
		return start
	}
	return from
}

// counted reports whether the book's snapshot already holds the cost of
// stream message seq.
func (b *budgetBook) counted(seq uint64) bool { return seq <= b.seq }

// budgetLimits returns the limits whose budget key keeps.
func (r *Router) budgetLimits(key limitKey) Limits {
	tenantLimits, routeLimits := r.limitsOf(key.tenant, key.route)
	if key.route == "" {
		return tenantLimits
	}
	return routeLimits
}

// add counts micros spent by tenant t on route at time at.
func (b *budgetBook) add(t, route string, micros int64, at time.Time) {
	if micros <= 0 {
		return
	}
	tenantLimits, routeLimits := b.r.limitsOf(t, route)
	b.addTo(limitKey{tenant: t}, tenantLimits, micros, at)
	b.addTo(limitKey{tenant: t, route: route}, routeLimits, micros, at)
}

func (b *budgetBook) addTo(key limitKey, lim Limits, micros int64, at time.Time) {
	if lim.BudgetMicros <= 0 {
		return
	}
	period := periodStart(lim.BudgetPeriod, at)
	s := b.spent[key]
	switch {
	case s.Period.Before(period):
		s = periodSpend{Tenant: key.tenant, Route: key.route, Period: period}
	case period.Before(s.Period):
		return // a call of a period that has ended
	}
	s.Micros = addSat(s.Micros, micros)
	b.spent[key] = s
}

// moved records that the stream has been counted up to message seq,
// stored at at.
func (b *budgetBook) moved(seq uint64, at time.Time) { b.seq, b.at = seq, at }

// maybeSave saves the book when it has moved and the last save is older
// than the router's snapshotEvery.
func (b *budgetBook) maybeSave(ctx context.Context) {
	if b.seq == b.savedSeq || time.Since(b.savedAt) < b.r.snapshotEvery {
		return
	}
	b.save(ctx)
}

// save writes the book's current sums to the bucket, unless the snapshot
// there already reaches further.
func (b *budgetBook) save(ctx context.Context) {
	if b == nil || b.seq == b.savedSeq || b.tooLarge {
		return
	}
	b.savedAt = time.Now()
	snap := budgetSnapshot{Budgets: b.budgets, Seq: b.seq, At: b.at}
	r := b.r
	now := r.now()
	for key, s := range b.spent {
		lim := r.budgetLimits(key)
		if !periodStart(lim.BudgetPeriod, now).Equal(s.Period) {
			delete(b.spent, key) // its period has ended
			continue
		}
		snap.Spent = append(snap.Spent, s)
	}
	data, err := json.Marshal(snap)
	if err == nil && len(data) > maxSnapshotBytes {
		b.tooLarge = true
		r.logger.Warn("budget snapshot too large to save; restarts read the whole period",
			"bytes", len(data), "budgets", len(snap.Spent))
		return
	}
	if err == nil {
		err = storeSnapshot(ctx, b.kv, snap.Seq, data)
	}
	if err != nil {
		if ctx.Err() != nil {
			return // stopping: the save on the way out tries again
		}
		// The next save tries again; a restart meanwhile reads further back.
		b.saveFails++
		if b.saveFails == 1 || b.saveFails%100 == 0 {
			r.logger.Warn("budget snapshot not saved", "error", err, "failures", b.saveFails)
		}
		return
	}
	b.savedSeq, b.saveFails = snap.Seq, 0
}

// loadSnapshot returns the snapshot in kv, nil when there is none.
func loadSnapshot(ctx context.Context, kv jetstream.KeyValue) (*budgetSnapshot, error) {
	entry, err := kv.Get(ctx, snapshotKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var snap budgetSnapshot
	if err := json.Unmarshal(entry.Value(), &snap); err != nil {
		return nil, fmt.Errorf("decode budget snapshot: %w", err)
	}
	return &snap, nil
}

// storeSnapshot writes data, a snapshot reaching seq, unless the one in kv
// reaches as far. A replica that wrote in between wins.
func storeSnapshot(ctx context.Context, kv jetstream.KeyValue, seq uint64, data []byte) error {
	entry, err := kv.Get(ctx, snapshotKey)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		_, err = kv.Create(ctx, snapshotKey, data)
	case err != nil:
		return err
	default:
		var cur budgetSnapshot
		if json.Unmarshal(entry.Value(), &cur) == nil && cur.Seq >= seq {
			return nil
		}
		_, err = kv.Update(ctx, snapshotKey, data, entry.Revision())
	}
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return nil
	}
	return err
}
