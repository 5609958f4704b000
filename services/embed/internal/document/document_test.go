package document

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

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
