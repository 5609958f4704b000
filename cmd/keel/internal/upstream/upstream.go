// Package upstream turns files an upstream system exports (help-centre
// articles, emails, ticket exports) into ingest events and publishes them
// the way that system would: one event per record, with a stable id.
package upstream

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/keelhq/keel/pkg/bus"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

// Publish sends ev to keel.ingest.<tenant>.<kind> with its event id as the
// message id, and reports whether JetStream had already accepted it.
func Publish(ctx context.Context, pub *bus.Publisher, tenantID string, ev *keelv1.IngestEvent) (bool, error) {
	ev.TenantId = tenantID
	return pub.Publish(ctx, bus.IngestSubject(tenantID, ev.GetKind()), ev.GetEventId(), tenantID, ev)
}

// ArticleEvent reads a Markdown help-centre article; its first "# " line is
// the title and its id is derived from the file name.
func ArticleEvent(path string) (*keelv1.IngestEvent, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read article: %w", err)
	}
	text := string(raw)
	title := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	if first, rest, ok := strings.Cut(text, "\n"); ok && strings.HasPrefix(first, "# ") {
		title = strings.TrimSpace(strings.TrimPrefix(first, "# "))
		text = strings.TrimSpace(rest)
	}
	sum := sha256.Sum256(raw)
	return &keelv1.IngestEvent{
		EventId:    "kb-" + strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)),
		Kind:       "article",
		Source:     "helpcentre",
		Title:      title,
		Subject:    title,
		Body:       text,
		ReceivedAt: timestamppb.New(time.Now()),
		Metadata:   map[string]string{"path": filepath.Base(path), "sha256": hex.EncodeToString(sum[:8])},
	}, nil
}
