// Package store defines what the retrieve service asks of a vector store:
// the Backend interface, the chunks it keeps and the queries it answers.
// Two backends implement it: the embedded index (package index) for
// `keel dev` and single machines, and Qdrant (package qdrant) for
// production. Package storetest holds the behaviour both must show.
package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/keelhq/keel/pkg/tenant"
)

// DefaultTopK is the number of results of a Query that leaves TopK 0.
const DefaultTopK = 5

// The legs of a hybrid search, as named in Response.Missing.
const (
	LegDense   = "dense"
	LegKeyword = "keyword"
)

var (
	// ErrInvalidTenant is returned when a tenant id is empty or malformed:
	// a tenant is never a wildcard.
	ErrInvalidTenant = errors.New("store: invalid tenant")
	// ErrInvalidBatch is returned by Replace for a document without an id or
	// with chunks that lack an id or repeat one.
	ErrInvalidBatch = errors.New("store: invalid chunk batch")
	// ErrInvalidQuery is returned by Search for a query no leg can answer or
	// with contradictory filters.
	ErrInvalidQuery = errors.New("store: invalid query")
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("store: closed")
)

// Backend keeps the chunks of every tenant and searches them. Every method
// works within one tenant, named by a valid tenant id; nothing reads or
// changes another tenant's chunks. Implementations are safe for concurrent
// use.
type Backend interface {
	// Replace makes chunks the whole content of document docID: the
	// document's previous chunks go first, so replaying a batch changes
	// nothing. Empty chunks removes the document.
	Replace(ctx context.Context, tenantID, docID string, chunks []Chunk) error
	// DeleteDocuments removes documents and returns how many chunks went.
	// A document that is not stored is not an error.
	DeleteDocuments(ctx context.Context, tenantID string, docIDs []string) (chunks int, err error)
	// SubjectDocuments returns the ids of the documents that name subject
	// among their data subjects, sorted.
	SubjectDocuments(ctx context.Context, tenantID, subject string) ([]string, error)
	// Search runs a hybrid query. When ctx ends before a leg answers, the
	// response holds what the other leg found and names the missing leg;
	// when no leg answers, Search returns ctx's error.
	Search(ctx context.Context, tenantID string, q Query) (Response, error)
	// Stats counts the documents and chunks of a tenant.
	Stats(ctx context.Context, tenantID string) (documents, chunks int, err error)
	// Empty reports whether no tenant holds any chunk, as for a new data
	// directory or collection.
	Empty(ctx context.Context) (bool, error)
	// Close releases the backend; pending writes are flushed.
	Close() error
}

// Chunk is one stored passage of a document.
type Chunk struct {
	ID      string
	DocID   string
	Ordinal int
	Title   string
	Text    string
	Kind    string
	Source  string
	// ACL lists the principals that may read the chunk; empty means every
	// principal of the tenant.
	ACL []string
	// Vector is the chunk's embedding and Model the model that made it.
	Vector []float32
	Model  string
	// Start and End are byte offsets of Text in the source document.
	Start, End int
	// HeadingPath is the section the chunk comes from, outermost first.
	HeadingPath []string
	// Header is what the chunk continues (a table's header row, a diff's
	// hunk header); it counts for keyword search but is not part of Text.
	Header string
	// Quoted marks a chunk of an email's quoted reply chain.
	Quoted bool
	// Tags label the document; Query.Tags filters by them.
	Tags []string
	// Created is when the document was written; zero when unknown.
	Created time.Time
	// Subjects are the data subjects the document is about.
	Subjects []string
}

// Query is one hybrid search.
type Query struct {
	// Text feeds the keyword leg.
	Text string
	// Vector feeds the dense leg; without it only the keyword leg runs.
	Vector []float32
	// Model made Vector; chunks embedded by another model are left out of the
	// dense leg. Empty compares with every chunk of the same dimension.
	Model string
	// TopK is the number of results (default DefaultTopK).
	TopK int
	// Kinds, Sources and Tags keep only chunks with one of the listed
	// values; empty means any.
	Kinds   []string
	Sources []string
	Tags    []string
	// CreatedAfter and CreatedBefore keep only chunks created in
	// [CreatedAfter, CreatedBefore); a zero bound is open. A chunk without
	// a creation time passes only when both bounds are open.
	CreatedAfter, CreatedBefore time.Time
	// Principals the caller acts as. A chunk with an ACL is returned only
	// when one of them is on it.
	Principals []string
}

// Result is one chunk found by Search.
type Result struct {
	// Chunk is a copy of the stored chunk without its vector.
	Chunk Chunk
	// Score is the fused reciprocal rank score.
	Score float64
	// VectorScore is the cosine similarity to the query vector, 0 when the
	// dense leg did not run or the backend does not report it.
	VectorScore float64
	// KeywordScore is the keyword leg's score, 0 without a matching term or
	// when the backend does not report it.
	KeywordScore float64
}

// Response is the outcome of one Search.
type Response struct {
	// Results are the best chunks, best first.
	Results []Result
	// Missing names the legs that were asked for but did not answer in
	// time; the results are then partial.
	Missing []string
}

// Partial reports whether a leg is missing from r.
func (r Response) Partial() bool {
	return len(r.Missing) > 0
}

// ValidTenant returns an error wrapping ErrInvalidTenant for an empty or
// malformed tenant id.
func ValidTenant(id string) error {
	if err := tenant.Valid(id); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidTenant, err)
	}
	return nil
}

// Limits of one chunk, so that a batch cannot make keys collide, results
// too large to answer or lists too long to filter.
const (
	// MaxIDBytes bounds a document or chunk id.
	MaxIDBytes = 1 << 10
	// MaxTextBytes bounds a chunk's text; fifty of them fit a 4 MiB gRPC
	// answer.
	MaxTextBytes = 64 << 10
	// MaxFieldBytes bounds a title, header, kind, source, model, list
	// entry or heading.
	MaxFieldBytes = 4 << 10
	// MaxListLen bounds the ACL, heading path, tags and subjects.
	MaxListLen = 256
)

// ValidBatch returns an error wrapping ErrInvalidBatch when docID is empty
// or a chunk has no id, repeats an id or names another document, or when
// an id or field breaks the limits above. Ids must be UTF-8 without control
// characters, so that no id can run into another in a composite key.
func ValidBatch(docID string, chunks []Chunk) error {
	if err := validID("document id", docID); err != nil {
		return err
	}
	seen := make(map[string]bool, len(chunks))
	for i, c := range chunks {
		if err := validID(fmt.Sprintf("chunk %d id", i), c.ID); err != nil {
			return err
		}
		if err := validFields(c); err != nil {
			return fmt.Errorf("%w: chunk %s: %w", ErrInvalidBatch, c.ID, err)
		}
		if seen[c.ID] {
			return fmt.Errorf("%w: chunk id %s repeats", ErrInvalidBatch, c.ID)
		}
		if c.DocID != "" && c.DocID != docID {
			return fmt.Errorf("%w: chunk %s belongs to document %s", ErrInvalidBatch, c.ID, c.DocID)
		}
		seen[c.ID] = true
	}
	return nil
}

// validID checks one document or chunk id.
func validID(what, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: %s is empty", ErrInvalidBatch, what)
	case len(id) > MaxIDBytes:
		return fmt.Errorf("%w: %s has %d bytes, at most %d", ErrInvalidBatch, what, len(id), MaxIDBytes)
	case !utf8.ValidString(id):
		return fmt.Errorf("%w: %s is not UTF-8", ErrInvalidBatch, what)
	case strings.ContainsFunc(id, unicode.IsControl):
		return fmt.Errorf("%w: %s holds a control character", ErrInvalidBatch, what)
	}
	return nil
}

// validFields checks the sizes of c's fields and that its access list
// names no empty principal. It runs for every chunk ingested, so it
// allocates nothing.
func validFields(c Chunk) error {
	if len(c.Text) > MaxTextBytes {
		return fmt.Errorf("text has %d bytes, at most %d", len(c.Text), MaxTextBytes)
	}
	fields := [...]struct {
		name  string
		value string
	}{{"title", c.Title}, {"header", c.Header}, {"kind", c.Kind}, {"source", c.Source}, {"model", c.Model}}
	for _, f := range fields {
		if len(f.value) > MaxFieldBytes {
			return fmt.Errorf("%s has %d bytes, at most %d", f.name, len(f.value), MaxFieldBytes)
		}
	}
	lists := [...]struct {
		name   string
		values []string
	}{{"acl", c.ACL}, {"heading path", c.HeadingPath}, {"tags", c.Tags}, {"subjects", c.Subjects}}
	for _, l := range lists {
		if len(l.values) > MaxListLen {
			return fmt.Errorf("%s has %d entries, at most %d", l.name, len(l.values), MaxListLen)
		}
		for _, v := range l.values {
			if len(v) > MaxFieldBytes {
				return fmt.Errorf("%s has an entry of %d bytes, at most %d", l.name, len(v), MaxFieldBytes)
			}
		}
	}
	if slices.Contains(c.ACL, "") {
		return errors.New("acl names an empty principal")
	}
	return nil
}

// ValidQuery returns an error wrapping ErrInvalidQuery when q has neither
// text nor vector or a date range that ends before it starts.
func ValidQuery(q Query) error {
	if q.Text == "" && len(q.Vector) == 0 {
		return fmt.Errorf("%w: neither text nor vector", ErrInvalidQuery)
	}
	if !q.CreatedAfter.IsZero() && !q.CreatedBefore.IsZero() && !q.CreatedAfter.Before(q.CreatedBefore) {
		return fmt.Errorf("%w: created_after %s is not before created_before %s", ErrInvalidQuery,
			q.CreatedAfter.Format(time.RFC3339), q.CreatedBefore.Format(time.RFC3339))
	}
	return nil
}

// Accepts reports whether the filters and principals of q let c through.
// The embedded index calls it inside each leg; other backends translate
// the same rules into their own filter language.
func (q Query) Accepts(c *Chunk) bool {
	if len(q.Kinds) > 0 && !slices.Contains(q.Kinds, c.Kind) {
		return false
	}
	if len(q.Sources) > 0 && !slices.Contains(q.Sources, c.Source) {
		return false
	}
	if len(q.Tags) > 0 && !slices.ContainsFunc(c.Tags, func(tag string) bool { return slices.Contains(q.Tags, tag) }) {
		return false
	}
	if !q.CreatedAfter.IsZero() || !q.CreatedBefore.IsZero() {
		if c.Created.IsZero() {
			return false
		}
		if !q.CreatedAfter.IsZero() && c.Created.Before(q.CreatedAfter) {
			return false
		}
		if !q.CreatedBefore.IsZero() && !c.Created.Before(q.CreatedBefore) {
			return false
		}
	}
	return Visible(c.ACL, q.Principals)
}

// Visible reports whether a chunk with acl may be read by a caller acting
// as principals: an empty acl is open to the whole tenant, else a
// principal, never the empty one, must be on it.
func Visible(acl, principals []string) bool {
	if len(acl) == 0 {
		return true
	}
	for _, p := range principals {
		if p != "" && slices.Contains(acl, p) {
			return true
		}
	}
	return false
}
