package auditlog

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on what one audit entry may hold. They keep rows small and make
// sure that an entry which could never be stored is rejected up front.
const (
	MaxIDLen        = 200
	MaxFieldLen     = 1024
	MaxAttributes   = 64
	MaxAttrKeyLen   = 128
	MaxAttrValueLen = 4096
	minOccurredYear = 1
	maxOccurredYear = 9999
)

// ErrInvalidEntry is returned by Append when an entry lacks a required field,
// exceeds a limit or holds text Postgres cannot store. Retrying cannot help.
var ErrInvalidEntry = errors.New("invalid audit entry")

// Entry is what a caller asks to append: one step of work done for a tenant.
type Entry struct {
	// ID identifies the entry; appending an ID already stored is a no-op.
	ID string
	// Actor is the service or person that acted, for example "ingest".
	Actor string
	// Action is what happened, for example "email.redacted".
	Action string
	// Subject is what it happened to: an event, workflow or document id.
	Subject string
	// OccurredAt is when it happened. It is stored with microsecond
	// precision, the precision of a Postgres timestamptz.
	OccurredAt time.Time
	// Attributes are details; they never hold raw customer text.
	Attributes map[string]string
}

// Record is a stored entry with its place in the tenant's chain.
type Record struct {
	Seq        int64
	ID         string
	Actor      string
	Action     string
	Subject    string
	OccurredAt time.Time
	Attributes map[string]string
	// PrevHash is the Hash of the record before, or GenesisHash for seq 1.
	PrevHash string
	// Hash is ComputeHash of this record.
	Hash string
	// RecordedAt is when the database stored the record; it is not hashed.
	RecordedAt time.Time
}

// Receipt tells the caller of Append where its entry sits in the chain.
type Receipt struct {
	Seq  int64
	Hash string
	// Duplicate is true when the entry's ID was already stored; Seq and Hash
	// then describe the earlier record and nothing was written.
	Duplicate bool
}

// normalize returns e ready for hashing and storing: OccurredAt in UTC,
// truncated to what Postgres keeps. It returns ErrInvalidEntry, wrapped with
// every problem found on one line, when e cannot be stored.
func normalize(e Entry) (Entry, error) {
	var problems []string
	check := func(name, value string, required bool, maxLen int) {
		switch {
		case required && strings.TrimSpace(value) == "":
			problems = append(problems, name+" is required")
		case len(value) > maxLen:
			problems = append(problems, fmt.Sprintf("%s is longer than %d bytes", name, maxLen))
		case !storable(value):
			problems = append(problems, name+" is not valid UTF-8 text")
		}
	}
	check("id", e.ID, true, MaxIDLen)
	check("actor", e.Actor, true, MaxFieldLen)
	check("action", e.Action, true, MaxFieldLen)
	check("subject", e.Subject, false, MaxFieldLen)

	if e.OccurredAt.IsZero() {
		problems = append(problems, "occurred_at is required")
	} else if y := e.OccurredAt.UTC().Year(); y < minOccurredYear || y > maxOccurredYear {
		problems = append(problems, fmt.Sprintf("occurred_at year %d is out of range", y))
	}

	if len(e.Attributes) > MaxAttributes {
		problems = append(problems, fmt.Sprintf("more than %d attributes", MaxAttributes))
	}
	for k, v := range e.Attributes {
		check("attribute key", k, true, MaxAttrKeyLen)
		check("attribute "+quoteKey(k), v, false, MaxAttrValueLen)
	}

	if len(problems) > 0 {
		// Sorted so that the message is the same for the same entry.
		sort.Strings(problems)
		return Entry{}, fmt.Errorf("%w: %s", ErrInvalidEntry, strings.Join(problems, "; "))
	}
	e.OccurredAt = e.OccurredAt.UTC().Truncate(time.Microsecond)
	// A copy, never nil: the caller may reuse its map, and pgx would store a
	// nil map as SQL NULL.
	attrs := make(map[string]string, len(e.Attributes))
	for k, v := range e.Attributes {
		attrs[k] = v
	}
	e.Attributes = attrs
	return e, nil
}

// storable reports whether Postgres can store s in a text or jsonb column:
// valid UTF-8 without NUL characters.
func storable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// quoteKey quotes a possibly hostile attribute key for an error message,
// cut short so that the message stays small.
func quoteKey(k string) string {
	const keep = 32
	if len(k) > keep {
		k = k[:keep] + "..."
	}
	return fmt.Sprintf("%q", k)
}
