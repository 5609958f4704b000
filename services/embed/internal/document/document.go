// Package document turns a redacted document into the ChunkBatch the
// retrieve service indexes: its body cut into chunks, each chunk titled with
// the document title and its heading path, and every chunk embedded.
package document

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/embed/internal/chunk"
	"github.com/keelhq/keel/services/embed/internal/embedder"
)

// Defaults for a Builder.
const (
	// DefaultEmbedBatch is how many chunk texts go to the embedder at once.
	DefaultEmbedBatch = 64
	// DefaultMaxChunks keeps a ChunkBatch well below the 1 MiB default NATS
	// message limit: a chunk with a 384-dimension vector is about 2.5 KiB.
	DefaultMaxChunks = 256
)

// titleSeparator joins the document title and the heading path of a chunk.
const titleSeparator = " > "

// Where the format of a document's body comes from.
const (
	// KindEmail is the event kind whose body is an email.
	KindEmail = "email"
	// ContentTypeKey is the metadata key that may name the media type of
	// the body, such as "text/markdown" or "text/html".
	ContentTypeKey = "content_type"
	// TagsKey is the metadata key of the document's tags, comma-separated.
	TagsKey = "tags"
	// DataSubjectsKey is the metadata key of the people the document is
	// about beyond its customer, comma-separated ids.
	DataSubjectsKey = "data_subjects"
)

var (
	// ErrNoDocumentID is returned by Build for an event without an event id.
	ErrNoDocumentID = errors.New("document: event id is empty")
	// ErrTooManyChunks is returned by Build when a document splits into more
	// chunks than one batch may carry.
	ErrTooManyChunks = errors.New("document: too many chunks")
)

// Builder builds chunk batches. It is safe for concurrent use.
type Builder struct {
	splitter   *chunk.Splitter
	embedder   embedder.Embedder
	embedBatch int
	maxChunks  int
}

// NewBuilder returns a Builder that cuts with splitter and embeds with e.
// maxChunks bounds the chunks of one document (DefaultMaxChunks when zero).
func NewBuilder(splitter *chunk.Splitter, e embedder.Embedder, maxChunks int) *Builder {
	if maxChunks <= 0 {
		maxChunks = DefaultMaxChunks
	}
	return &Builder{splitter: splitter, embedder: e, embedBatch: DefaultEmbedBatch, maxChunks: maxChunks}
}

// Model returns the embedding model of the batches the builder makes.
func (b *Builder) Model() string {
	return b.embedder.Model()
}

// Build returns the ChunkBatch of ev for tenantID. The document id is the
// event id. A document without body text gives a batch without chunks, which
// removes an earlier version from the index. It returns ErrNoDocumentID,
// ErrTooManyChunks, or the embedder's error.
func (b *Builder) Build(ctx context.Context, tenantID string, ev *keelv1.RedactedEvent) (*keelv1.ChunkBatch, error) {
	docID := ev.GetEventId()
	if docID == "" {
		return nil, ErrNoDocumentID
	}
	chunks := b.splitter.SplitFormat(docID, ev.GetBody(), Format(ev))
	// TODO: send documents beyond maxChunks in several messages; ChunkBatch
	// needs a part number first so the index can still replace by document.
	if len(chunks) > b.maxChunks {
		return nil, fmt.Errorf("%w: %d, limit %d", ErrTooManyChunks, len(chunks), b.maxChunks)
	}

	// Every chunk is embedded with its title so that the document title and
	// section headings count towards what the chunk is about, and with its
	// header (a table's header row, a diff's hunk header) so that it can be
	// read on its own.
	root := Title(ev)
	tags, subjects := Tags(ev), DataSubjects(ev)
	var created *timestamppb.Timestamp
	if ev.GetReceivedAt().IsValid() {
		created = ev.GetReceivedAt()
	}
	titles := make([]string, len(chunks))
	inputs := make([]string, len(chunks))
	for i, c := range chunks {
		titles[i] = joinNonEmpty(titleSeparator, root, c.HeadingPath())
		inputs[i] = joinNonEmpty("\n\n", titles[i], c.EmbedText())
	}
	vectors, err := b.embed(ctx, inputs)
	if err != nil {
		return nil, err
	}

	batch := &keelv1.ChunkBatch{
		TenantId:       tenantID,
		DocId:          docID,
		EmbeddingModel: b.embedder.Model(),
		Chunks:         make([]*keelv1.Chunk, len(chunks)),
	}
	for i, c := range chunks {
		batch.Chunks[i] = &keelv1.Chunk{
			ChunkId:      c.ID,
			DocId:        docID,
			Ordinal:      int32(c.Ordinal),
			Text:         c.Text,
			Vector:       vectors[i],
			Title:        titles[i],
			Kind:         ev.GetKind(),
			Source:       ev.GetSource(),
			Acl:          ev.GetAcl(),
			StartOffset:  int32(c.Start),
			EndOffset:    int32(c.End),
			HeadingPath:  c.Headings,
			Header:       c.Header,
			Quoted:       c.Quoted,
			Tags:         tags,
			CreatedAt:    created,
			DataSubjects: subjects,
		}
	}
	return batch, nil
}

// embed sends inputs to the embedder in batches of embedBatch.
func (b *Builder) embed(ctx context.Context, inputs []string) ([][]float32, error) {
	vectors := make([][]float32, 0, len(inputs))
	for start := 0; start < len(inputs); start += b.embedBatch {
		end := min(start+b.embedBatch, len(inputs))
		got, err := b.embedder.Embed(ctx, inputs[start:end])
		if err != nil {
			return nil, fmt.Errorf("embed chunks %d-%d: %w", start, end-1, err)
		}
		if len(got) != end-start {
			return nil, fmt.Errorf("embed chunks %d-%d: got %d vectors", start, end-1, len(got))
		}
		vectors = append(vectors, got...)
	}
	return vectors, nil
}

// Format returns the format the body of ev is written in: an email for
// events of KindEmail, else the format the media type in the metadata
// (ContentTypeKey) names, else the format the body looks like.
func Format(ev *keelv1.RedactedEvent) chunk.Format {
	if ev.GetKind() == KindEmail {
		return chunk.FormatEmail
	}
	return chunk.DetectFormat(ev.GetMetadata()[ContentTypeKey], ev.GetBody())
}

// Tags returns the tags of ev named in its metadata (TagsKey): trimmed,
// without empty or repeated ones, in order.
func Tags(ev *keelv1.RedactedEvent) []string {
	return splitList(ev.GetMetadata()[TagsKey])
}

// DataSubjects returns the people ev is about: its customer's account id
// and the ids its metadata names (DataSubjectsKey), without repeats.
func DataSubjects(ev *keelv1.RedactedEvent) []string {
	return splitList(ev.GetCustomer().GetAccountId() + "," + ev.GetMetadata()[DataSubjectsKey])
}

// splitList splits a comma-separated list, trimming each value and
// dropping empty and repeated ones.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// Title is the title every chunk of ev carries before its heading path: the
// article title and the subject, whichever are set.
func Title(ev *keelv1.RedactedEvent) string {
	title, subject := strings.TrimSpace(ev.GetTitle()), strings.TrimSpace(ev.GetSubject())
	if title == subject {
		return title
	}
	return joinNonEmpty(": ", title, subject)
}

// ContentHash returns a hex digest of everything that shapes the batch of
// ev: the embedding model and its dimensions, the chunking rules and
// limits and the event fields that reach a chunk. Two events with the same
// hash give the same batch.
func (b *Builder) ContentHash(ev *keelv1.RedactedEvent) string {
	opts := b.splitter.Options()
	h := sha256.New()
	writeField(h, b.embedder.Model())
	writeField(h, strconv.Itoa(b.embedder.Dimensions()))
	writeField(h, strings.Join([]string{
		chunk.Version,
		strconv.Itoa(opts.MaxChars),
		strconv.Itoa(opts.MaxWords),
		strconv.Itoa(opts.MaxTokens),
		strconv.Itoa(opts.OverlapTokens),
		strconv.Itoa(opts.OverlapSentences),
		strconv.Itoa(opts.MinAlnum),
	}, "/"))
	writeField(h, string(Format(ev)))
	writeField(h, ev.GetKind())
	writeField(h, ev.GetSource())
	writeField(h, ev.GetTitle())
	writeField(h, ev.GetSubject())
	writeField(h, ev.GetBody())
	// Lists are written with their length first so that values cannot move
	// from one list to the next.
	for _, list := range [][]string{ev.GetAcl(), Tags(ev), DataSubjects(ev)} {
		writeField(h, strconv.Itoa(len(list)))
		for _, v := range list {
			writeField(h, v)
		}
	}
	received := ""
	if ev.GetReceivedAt().IsValid() {
		received = ev.GetReceivedAt().AsTime().UTC().Format(time.RFC3339Nano)
	}
	writeField(h, received)
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// MsgID is the Nats-Msg-Id of a batch: the document id and content hash, so
// publishing an unchanged document again is a duplicate.
func MsgID(docID, contentHash string) string {
	return docID + ":" + contentHash
}

// writeField writes s length-prefixed, so field boundaries cannot shift.
func writeField(h hash.Hash, s string) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(s)))
	h.Write(n[:])
	h.Write([]byte(s))
}

func joinNonEmpty(sep string, parts ...string) string {
	kept := parts[:0:0]
	for _, p := range parts {
		if p != "" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, sep)
}
