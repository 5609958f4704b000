package routing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
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

// The book is kept under snapshotShards keys, "spent.00" to "spent.31":
// a tenant's budgets (its own and its routes') in the shard its name hashes
// to. Each shard is saved with the sequence it reaches and on its own, so a
// shard too large to save, or one a save missed, costs a longer replay of
// its tenants only, never a wrong sum.
const snapshotShards = 32

// DefaultSnapshotEvery is how often a router saves its budget book while
// the stream moves.
const DefaultSnapshotEvery = 30 * time.Second

// maxSnapshotBytes keeps one shard under NATS's default payload limit: the
// book holds about 300,000 budgets with spend before a shard of it is left
// unsaved (logged; a restart then reads that shard's tenants from the
// start of their period).
const maxSnapshotBytes = 900 << 10

func shardKey(i int) string { return fmt.Sprintf("spent.%02d", i) }

// tenantShard returns the shard that keeps tenant t's budgets.
func tenantShard(t string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(t))
	return int(h.Sum32() % snapshotShards)
}

// budgetSnapshot is what one key of the bucket holds.
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

	// seq and at are the last stream message counted.
	seq   uint64
	at    time.Time
	spent map[limitKey]periodSpend
	// loaded is the sequence each shard's snapshot reached when the book
	// was opened (0: none), and loadedAt the time of the last message the
	// furthest behind of them counted; the sums of shard i hold the
	// messages up to loaded[i].
	loaded    [snapshotShards]uint64
	loadedAt  time.Time
	savedSeq  uint64
	savedAt   time.Time
	tooLarge  [snapshotShards]bool
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
	// A USAGE stream made after a snapshot's last message (deleted and
	// declared again) numbers its messages from 1 anew: all of them came
	// after the snapshot, whatever their sequence.
	var streamCreated time.Time
	if stream, err := js.Stream(ctx, bus.StreamUsage); err == nil {
		streamCreated = stream.CachedInfo().Created
	}
	for i := range snapshotShards {
		snap, err := loadSnapshot(ctx, kv, i)
		switch {
		case err != nil:
			r.logger.Warn("budget snapshot unreadable; reading its tenants' whole period", "key", shardKey(i), "error", err)
			continue
		case snap == nil:
			continue
		case snap.Budgets != budgets:
			r.logger.Info("budget snapshot kept under other budgets; reading its tenants' whole period", "key", shardKey(i))
			continue
		}
		for _, s := range snap.Spent {
			key := limitKey{tenant: s.Tenant, route: s.Route}
			lim := r.budgetLimits(key)
			if tenantShard(s.Tenant) != i || lim.BudgetMicros <= 0 || !periodStart(lim.BudgetPeriod, now).Equal(s.Period) {
				continue // another shard's, or a period that has ended
			}
			r.limits.addSpent(key, lim, s.Micros, now)
			book.spent[key] = s
		}
		if streamCreated.After(snap.At) {
			r.logger.Warn("USAGE stream is newer than the budget snapshot; counting all of it on top", "key", shardKey(i))
			continue
		}
		book.loaded[i] = snap.Seq
		if book.loadedAt.IsZero() || snap.At.Before(book.loadedAt) {
			book.loadedAt = snap.At
		}
	}
	book.savedAt = time.Now()
	return book
}

// resumeFrom is where the stream is read from with the book's snapshots
// counted: a minute before the last message the furthest behind of them
// counted, so that the rates see the last minute of calls; from, the start
// of the longest period, when a shard has none.
func (b *budgetBook) resumeFrom(from time.Time) time.Time {
	if b == nil || slices.Contains(b.loaded[:], 0) {
		return from
	}
	if start := b.loadedAt.Add(-time.Minute); start.After(from) {
		return start
	}
	return from
}

// counted reports whether the book's snapshot of tenant t already holds
// the cost of stream message seq.
func (b *budgetBook) counted(t string, seq uint64) bool { return seq <= b.loaded[tenantShard(t)] }

// ahead reports whether some shard loaded holds messages past the last one
// counted: saved now, it would claim less than it holds.
func (b *budgetBook) ahead() bool { return b.seq < slices.Max(b.loaded[:]) }

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

// save writes the book's current sums to the bucket, every shard with the
// sequence the book reaches, but no shard over a snapshot there that
// reaches further.
func (b *budgetBook) save(ctx context.Context) {
	if b == nil || b.seq == b.savedSeq || b.ahead() {
		return
	}
	b.savedAt = time.Now()
	r := b.r
	now := r.now()
	var shards [snapshotShards]budgetSnapshot
	for i := range shards {
		shards[i] = budgetSnapshot{Budgets: b.budgets, Seq: b.seq, At: b.at, Spent: []periodSpend{}}
	}
	for key, s := range b.spent {
		lim := r.budgetLimits(key)
		if !periodStart(lim.BudgetPeriod, now).Equal(s.Period) {
			delete(b.spent, key) // its period has ended
			continue
		}
		i := tenantShard(key.tenant)
		shards[i].Spent = append(shards[i].Spent, s)
	}
	var failed error
	for i := range shards {
		data, err := json.Marshal(shards[i])
		if err == nil && len(data) > maxSnapshotBytes {
			// The shard in the bucket stays, true up to its own sequence.
			if !b.tooLarge[i] {
				b.tooLarge[i] = true
				r.logger.Warn("budget snapshot shard too large to save; restarts read its tenants further back",
					"key", shardKey(i), "bytes", len(data), "budgets", len(shards[i].Spent))
			}
			continue
		}
		b.tooLarge[i] = false
		if err == nil {
			err = storeSnapshot(ctx, b.kv, shardKey(i), b.seq, data)
		}
		if err != nil {
			if ctx.Err() != nil {
				return // stopping: the save on the way out tries again
			}
			failed = err
		}
	}
	if failed != nil {
		// The next save tries again; a restart meanwhile reads further back.
		b.saveFails++
		if b.saveFails == 1 || b.saveFails%100 == 0 {
			r.logger.Warn("budget snapshot not saved", "error", failed, "failures", b.saveFails)
		}
		return
	}
	b.savedSeq, b.saveFails = b.seq, 0
}

// loadSnapshot returns shard i of the snapshot in kv, nil when there is
// none.
func loadSnapshot(ctx context.Context, kv jetstream.KeyValue, i int) (*budgetSnapshot, error) {
	entry, err := kv.Get(ctx, shardKey(i))
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

// storeSnapshot writes data, a shard reaching seq, under key unless the
// one in kv reaches as far. A replica that wrote in between wins.
func storeSnapshot(ctx context.Context, kv jetstream.KeyValue, key string, seq uint64, data []byte) error {
	entry, err := kv.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		_, err = kv.Create(ctx, key, data)
	case err != nil:
		return err
	default:
		var cur budgetSnapshot
		if json.Unmarshal(entry.Value(), &cur) == nil && cur.Seq >= seq {
			return nil
		}
		_, err = kv.Update(ctx, key, data, entry.Revision())
	}
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return nil
	}
	return err
}
