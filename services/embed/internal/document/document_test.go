package document

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/embed/internal/chunk"
	"github.com/keelhq/keel/services/embed/internal/embedder"
)

func newBuilder(maxChunks int) *Builder {
	return NewBuilder(chunk.NewSplitter(chunk.Options{}), embedder.NewHashing(), maxChunks)
}

func article() *keelv1.RedactedEvent {
	return &keelv1.RedactedEvent{
		EventId:  "kb-42",
		TenantId: "acme",
		Kind:     "article",
		Source:   "helpdesk",
		Title:    "Refund policy",
		Body:     "We refund unused items.\n\n## Exceptions\n\nGift cards are final.",
		Acl:      []string{"group:support"},
	}
}

func TestBuild(t *testing.T) {
	t.Parallel()
	ev := article()

	batch, err := newBuilder(0).Build(context.Background(), "acme", ev)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}

	if batch.GetTenantId() != "acme" || batch.GetDocId() != "kb-42" || batch.GetEmbeddingModel() != embedder.HashingModel {
		t.Errorf("batch header = %q %q %q", batch.GetTenantId(), batch.GetDocId(), batch.GetEmbeddingModel())
	}
	type view struct {
		Title, Text string
		Ordinal     int32
		Kind, Src   string
		ACL         []string
		Dims        int
		Body        string
	}
	var got []view
	for _, c := range batch.GetChunks() {
		got = append(got, view{
			Title: c.GetTitle(), Text: c.GetText(), Ordinal: c.GetOrdinal(), Kind: c.GetKind(), Src: c.GetSource(),
			ACL: c.GetAcl(), Dims: len(c.GetVector()), Body: ev.GetBody()[c.GetStartOffset():c.GetEndOffset()],
		})
		if c.GetDocId() != "kb-42" || len(c.GetChunkId()) != chunk.IDLength {
			t.Errorf("chunk %d: doc id %q, chunk id %q", c.GetOrdinal(), c.GetDocId(), c.GetChunkId())
		}
	}
	acl := []string{"group:support"}
	want := []view{
		{Title: "Refund policy", Text: "We refund unused items.", Ordinal: 0, Kind: "article", Src: "helpdesk", ACL: acl, Dims: 384, Body: "We refund unused items."},
		{Title: "Refund policy > Exceptions", Text: "Gift cards are final.", Ordinal: 1, Kind: "article", Src: "helpdesk", ACL: acl, Dims: 384, Body: "Gift cards are final."},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Build chunks mismatch (-want +got):\n%s", diff)
	}
}

func TestBuildErrors(t *testing.T) {
	t.Parallel()

	noID := article()
	noID.EventId = ""
	if _, err := newBuilder(0).Build(context.Background(), "acme", noID); !errors.Is(err, ErrNoDocumentID) {
		t.Errorf("Build without event id: err = %v, want ErrNoDocumentID", err)
	}

	long := article()
	long.Body = strings.Repeat("A sentence about refunds.\n\n", 400)
	if _, err := newBuilder(1).Build(context.Background(), "acme", long); !errors.Is(err, ErrTooManyChunks) {
		t.Errorf("Build of a long document: err = %v, want ErrTooManyChunks", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := newBuilder(0).Build(ctx, "acme", article()); !errors.Is(err, context.Canceled) {
		t.Errorf("Build on a cancelled context: err = %v, want context.Canceled", err)
	}
}

func TestBuildEmptyBodyGivesEmptyBatch(t *testing.T) {
	t.Parallel()
	ev := article()
	ev.Body = " \n---\n "

	batch, err := newBuilder(0).Build(context.Background(), "acme", ev)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if batch.GetDocId() != "kb-42" || len(batch.GetChunks()) != 0 {
		t.Errorf("Build = doc %q with %d chunks, want kb-42 with none", batch.GetDocId(), len(batch.GetChunks()))
	}
}

func TestBuildCarriesTagsDateAndSubjects(t *testing.T) {
	t.Parallel()
	ev := article()
	received := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	ev.ReceivedAt = timestamppb.New(received)
	ev.Customer = &keelv1.Customer{Email: "<EMAIL_1>", AccountId: "cust-7"}
	ev.Metadata = map[string]string{TagsKey: " refunds, vip ,,refunds", DataSubjectsKey: "cust-9, cust-7"}

	batch, err := newBuilder(0).Build(context.Background(), "acme", ev)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if len(batch.GetChunks()) == 0 {
		t.Fatal("no chunks")
	}
	for _, c := range batch.GetChunks() {
		if strings.Join(c.GetTags(), ",") != "refunds,vip" {
			t.Errorf("tags = %q, want refunds,vip", c.GetTags())
		}
		if strings.Join(c.GetDataSubjects(), ",") != "cust-7,cust-9" {
			t.Errorf("data subjects = %q, want cust-7,cust-9", c.GetDataSubjects())
		}
		if !c.GetCreatedAt().AsTime().Equal(received) {
			t.Errorf("created at = %v, want %v", c.GetCreatedAt().AsTime(), received)
		}
	}
}

func TestContentHash(t *testing.T) {
	t.Parallel()
	b := newBuilder(0)
	base := b.ContentHash(article())

	tests := []struct {
		name   string
		change func(*keelv1.RedactedEvent)
		same   bool
	}{
		{name: "unchanged", change: func(*keelv1.RedactedEvent) {}, same: true},
		{name: "vault ref only", change: func(ev *keelv1.RedactedEvent) { ev.VaultRef = "v2" }, same: true},
		{name: "body", change: func(ev *keelv1.RedactedEvent) { ev.Body += "!" }},
		{name: "acl", change: func(ev *keelv1.RedactedEvent) { ev.Acl = append(ev.Acl, "user:ana") }},
		{name: "title", change: func(ev *keelv1.RedactedEvent) { ev.Title = "Returns" }},
		{name: "field boundary", change: func(ev *keelv1.RedactedEvent) { ev.Title, ev.Subject = "Refund", " policy" }},
		{name: "content type", change: func(ev *keelv1.RedactedEvent) { ev.Metadata = map[string]string{ContentTypeKey: "text/html"} }},
		{name: "tags", change: func(ev *keelv1.RedactedEvent) { ev.Metadata = map[string]string{TagsKey: "vip"} }},
		{name: "tag order", change: func(ev *keelv1.RedactedEvent) { ev.Metadata = map[string]string{TagsKey: "b,a"} }},
		{name: "subject", change: func(ev *keelv1.RedactedEvent) { ev.Customer = &keelv1.Customer{AccountId: "cust-1"} }},
		{name: "received", change: func(ev *keelv1.RedactedEvent) { ev.ReceivedAt = timestamppb.New(time.Unix(1e9, 0)) }},
		{name: "acl into tags", change: func(ev *keelv1.RedactedEvent) {
			ev.Acl = ev.Acl[:len(ev.Acl)-1]
			ev.Metadata = map[string]string{TagsKey: "1"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			ev := proto.Clone(article()).(*keelv1.RedactedEvent)
			tt.change(ev)
			if got := b.ContentHash(ev); (got == base) != tt.same {
				t.Errorf("ContentHash = %s, base %s, want same=%v", got, base, tt.same)
			}
		})
	}
	if got := MsgID("kb-42", base); got != "kb-42:"+base {
		t.Errorf("MsgID = %q", got)
	}
}

func TestTitle(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name, title, subject, want string
	}{
		{name: "article", title: "Refund policy", want: "Refund policy"},
		{name: "email", subject: "Where is my parcel?", want: "Where is my parcel?"},
		{name: "both", title: "Refunds", subject: "Store credit", want: "Refunds: Store credit"},
		{name: "same", title: "Refunds", subject: " Refunds ", want: "Refunds"},
		{name: "none", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			if got := Title(&keelv1.RedactedEvent{Title: tt.title, Subject: tt.subject}); got != tt.want {
				t.Errorf("Title = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		kind     string
		metadata map[string]string
		body     string
		want     chunk.Format
	}{
		{name: "email kind", kind: KindEmail, body: "# Not markdown here", want: chunk.FormatEmail},
		{name: "content type", kind: "article", metadata: map[string]string{ContentTypeKey: "text/html"}, body: "Hi", want: chunk.FormatHTML},
		{name: "markdown body", kind: "article", body: "# Refunds\n\nText.", want: chunk.FormatMarkdown},
		{name: "diff body", kind: "note", body: "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b", want: chunk.FormatDiff},
		{name: "plain body", kind: "ticket", body: "My parcel is late.", want: chunk.FormatPlain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev := &keelv1.RedactedEvent{Kind: tt.kind, Metadata: tt.metadata, Body: tt.body}
			if got := Format(ev); got != tt.want {
				t.Errorf("Format() = %q, want %q", got, tt.want)
			}
		})
	}
}

// recordingEmbedder embeds with the hashing embedder and keeps the texts.
type recordingEmbedder struct {
	embedder.Embedder
	mu    sync.Mutex
	texts []string
}

func (r *recordingEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	r.mu.Lock()
	r.texts = append(r.texts, texts...)
	r.mu.Unlock()
	return r.Embedder.Embed(ctx, texts)
}

func TestBuildStructuredDocuments(t *testing.T) {
	t.Parallel()

	type view struct {
		Title, Text, Input, Body string
		Path, Header             string
		Quoted                   bool
	}
	tests := []struct {
		name string
		ev   *keelv1.RedactedEvent
		want []view
	}{
		{
			name: "email with a quoted reply",
			ev: &keelv1.RedactedEvent{
				EventId: "e-1", Kind: KindEmail, Subject: "Refund",
				Body: "Still waiting for it.\n\nOn Mon, Support wrote:\n> Your refund is on its way.",
			},
			want: []view{
				{Title: "Refund", Text: "Still waiting for it.", Input: "Refund\n\nStill waiting for it.", Body: "Still waiting for it."},
				{
					Title: "Refund > On Mon, Support wrote:",
					Text:  "> Your refund is on its way.",
					Input: "Refund > On Mon, Support wrote:\n\n> Your refund is on its way.",
					Body:  "> Your refund is on its way.",
					Path:  "On Mon, Support wrote:", Quoted: true,
				},
			},
		},
		{
			name: "diff",
			ev: &keelv1.RedactedEvent{
				EventId: "pr-7", Kind: "note", Title: "PR 7",
				Body: "--- a/pay.go\n+++ b/pay.go\n@@ -1,2 +1,2 @@ func Pay()\n-\treturn 1\n+\treturn 2\n",
			},
			want: []view{{
				Title: "PR 7 > pay.go",
				Text:  "-\treturn 1\n+\treturn 2",
				Input: "PR 7 > pay.go\n\n@@ -1,2 +1,2 @@ func Pay()\n-\treturn 1\n+\treturn 2",
				Body:  "-\treturn 1\n+\treturn 2",
				Path:  "pay.go", Header: "@@ -1,2 +1,2 @@ func Pay()",
			}},
		},
		{
			name: "html by content type",
			ev: &keelv1.RedactedEvent{
				EventId: "kb-9", Kind: "article", Title: "Help",
				Metadata: map[string]string{ContentTypeKey: "text/html; charset=utf-8"},
				Body:     "<h1>Returns</h1><p>Keep the <b>box</b> &amp; receipt.</p>",
			},
			want: []view{{
				Title: "Help > Returns",
				Text:  "Keep the box & receipt.",
				Input: "Help > Returns\n\nKeep the box & receipt.",
				Body:  "Keep the <b>box</b> &amp; receipt.",
				Path:  "Returns",
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &recordingEmbedder{Embedder: embedder.NewHashing()}
			b := NewBuilder(chunk.NewSplitter(chunk.Options{}), rec, 0)

			batch, err := b.Build(context.Background(), "acme", tt.ev)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			var got []view
			for i, c := range batch.GetChunks() {
				got = append(got, view{
					Title: c.GetTitle(),
					Text:  c.GetText(),
					Input: rec.texts[i],
					Body:  tt.ev.GetBody()[c.GetStartOffset():c.GetEndOffset()],
					Path:  strings.Join(c.GetHeadingPath(), " > "), Header: c.GetHeader(), Quoted: c.GetQuoted(),
				})
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Build chunks mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBuildIsIdempotent(t *testing.T) {
	t.Parallel()
	ev := article()
	ev.Body = "# Refunds\n\nWe refund unused items.\n\n## Exceptions\n\nGift cards are final.\n\n## Process\n\nOpen a ticket."

	first, err := newBuilder(0).Build(context.Background(), "acme", ev)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	again, err := newBuilder(0).Build(context.Background(), "acme", proto.Clone(ev).(*keelv1.RedactedEvent))
	if err != nil {
		t.Fatalf("Build again: %v", err)
	}
	if diff := cmp.Diff(first, again, protocmp.Transform()); diff != "" {
		t.Errorf("re-ingesting the same document changed the batch (-first +again):\n%s", diff)
	}

	// An edit of one section changes the id of its chunk only.
	edited := proto.Clone(ev).(*keelv1.RedactedEvent)
	edited.Body = strings.Replace(ev.Body, "Gift cards are final.", "Gift cards can be refunded.", 1)
	second, err := newBuilder(0).Build(context.Background(), "acme", edited)
	if err != nil {
		t.Fatalf("Build edited: %v", err)
	}
	var changed []string
	for i, c := range second.GetChunks() {
		if c.GetChunkId() != first.GetChunks()[i].GetChunkId() {
			changed = append(changed, c.GetText())
		}
	}
	if diff := cmp.Diff([]string{"Gift cards can be refunded."}, changed); diff != "" {
		t.Errorf("chunks with new ids mismatch (-want +got):\n%s", diff)
	}
}
