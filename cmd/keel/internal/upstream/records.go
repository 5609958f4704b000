package upstream

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/keelhq/keel/cmd/keel/internal/sources"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

// maxEventIDLen bounds event ids; longer ones are replaced by their hash.
const maxEventIDLen = 128

// EventFromRecord maps a source record onto an ingest event.
func EventFromRecord(rec sources.Record, source string) *keelv1.IngestEvent {
	ev := &keelv1.IngestEvent{
		EventId: EventID(rec.EventID),
		Kind:    rec.Kind,
		Source:  source,
		Subject: rec.Subject,
		Body:    rec.Body,
		Customer: &keelv1.Customer{
			Email:     rec.CustomerEmail,
			Name:      rec.CustomerName,
			AccountId: rec.AccountID,
		},
		Metadata: map[string]string{},
	}
	for k, v := range rec.Metadata {
		ev.Metadata[k] = v
	}
	if rec.EventID != ev.EventId {
		ev.Metadata["source_id"] = rec.EventID
	}
	if !rec.ReceivedAt.IsZero() {
		ev.ReceivedAt = timestamppb.New(rec.ReceivedAt)
	} else {
		ev.ReceivedAt = timestamppb.New(time.Now())
	}
	return ev
}

// EventID turns a source id (a Message-ID, a ticket number) into an event id
// that is safe in a NATS message id, a workflow id and a URL path segment:
// characters other than letters, digits and ".-_@+" become '_', and ids
// longer than 128 bytes are replaced by a hash. The mapping is stable, so
// the same source id always gives the same event id.
func EventID(sourceID string) string {
	var b strings.Builder
	for _, r := range sourceID {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9',
			r == '.', r == '-', r == '_', r == '@', r == '+':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	id := b.String()
	if len(id) > maxEventIDLen || id == "" {
		sum := sha256.Sum256([]byte(sourceID))
		return "sha256-" + hex.EncodeToString(sum[:16])
	}
	return id
}

// FormatKB names a folder of Markdown help articles, one article per file.
const FormatKB = "kb"

// ReadEvents reads every record of path in format (detected when empty)
// into ingest events, with the problems of the records it could not read.
// A problem that stops the whole file, such as a mapped column the header
// lacks, is returned as the error.
func ReadEvents(path, format, mapping string) ([]*keelv1.IngestEvent, []*sources.Problem, error) {
	if format == FormatKB {
		return readArticles(path)
	}
	var m sources.Mapping
	if mapping != "" {
		var err error
		if m, err = sources.ParseMapping(mapping); err != nil {
			return nil, nil, err
		}
	}
	stream, err := sources.Open(path, format, m)
	if err != nil {
		return nil, nil, err
	}
	var events []*keelv1.IngestEvent
	var problems []*sources.Problem
	for rec, prob := range stream {
		if prob != nil && errors.Is(prob, sources.ErrMissingColumn) {
			return nil, nil, prob
		}
		if prob != nil {
			problems = append(problems, prob)
			continue
		}
		events = append(events, EventFromRecord(rec, "helpdesk"))
	}
	return events, problems, nil
}

// readArticles reads every *.md file of dir as a help article.
func readArticles(dir string) ([]*keelv1.IngestEvent, []*sources.Problem, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.md"))
	if err != nil {
		return nil, nil, fmt.Errorf("list articles: %w", err)
	}
	sort.Strings(paths)
	var events []*keelv1.IngestEvent
	var problems []*sources.Problem
	for _, p := range paths {
		ev, err := ArticleEvent(p)
		if err != nil {
			problems = append(problems, &sources.Problem{Path: p, Err: err})
			continue
		}
		events = append(events, ev)
	}
	return events, problems, nil
}

// Describe names a record for progress output.
func Describe(ev *keelv1.IngestEvent) string {
	return fmt.Sprintf("%s %q", ev.GetEventId(), ev.GetSubject())
}
