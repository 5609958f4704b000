// Package qdrant keeps the retrieve service's chunks in Qdrant and searches
// them there: a store.Backend over Qdrant's gRPC API.
//
// Layout. Chunks live in one collection per embedding model and
// dimension, named by collectionFor, created on first use with a named
// dense vector (cosine) and a named sparse vector for keywords that
// carries Qdrant's IDF modifier. Chunks without an embedding live in a
// keyword-only collection. Every tenant shares these collections; the
// tenant payload key, indexed with is_tenant, separates them, and every
// read and delete filters on it. A point's id is a name-based UUID of
// tenant, document and chunk id, so replays overwrite in place.
//
// Search runs, in each collection that can answer, one Query with a dense
// prefetch and a keyword prefetch, each carrying the whole filter (tenant,
// metadata, dates, permissions), fused by reciprocal rank fusion with
// k = 61 so that scores equal the embedded index's 1/(60 + rank).
//
// Known limits:
//   - Qdrant computes IDF over a whole collection, so one tenant's
//     documents shift the keyword weights another tenant sees (not which
//     chunks it may see). The embedded index computes IDF per tenant, so
//     keyword rankings of the two backends can differ.
//   - A query that reaches several collections (the keyword leg reaches
//     all of them) is fused per collection and the lists are merged by
//     fused score, which approximates one fusion over all of them.
//   - Both legs come back from one call, so a search is never partial: it
//     answers whole or fails, and Response.Missing stays empty.
//   - KeywordScore is 0: Qdrant reports only the fused score, and the IDF
//     it applied is not visible to the client. VectorScore is computed
//     from the stored (normalised) vector Qdrant returns.
//   - Creation times are compared by Qdrant's datetime index, at
//     microsecond precision.
package qdrant

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/keelhq/keel/services/retrieve/internal/store"
)

// upsertBatch is the most points one Upsert call carries.
const upsertBatch = 256

// Backend is a store.Backend over Qdrant. It is safe for concurrent use.
type Backend struct {
	cfg    Config
	client *qdrant.Client
	closed atomic.Bool

	mu sync.Mutex
	// ready holds the collections this backend has created or found, with
	// their payload indexes.
	ready map[string]bool
}

var _ store.Backend = (*Backend)(nil)

// Open connects to Qdrant and checks that it answers and accepts the API
// key by listing its collections. It returns an error wrapping
// ErrUnavailable when Qdrant cannot be reached, ErrUnauthorized when it
// refuses the key, or the configuration's problems.
func Open(ctx context.Context, cfg Config) (*Backend, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	host, port, _ := cfg.hostPort()

	client, err := qdrant.NewClient(&qdrant.Config{
		Host:                   host,
		Port:                   port,
		UseTLS:                 cfg.TLS,
		PoolSize:               1,
		SkipCompatibilityCheck: true,
		GrpcOptions:            []grpc.DialOption{grpc.WithChainUnaryInterceptor(apiKeyInterceptor(cfg.APIKey))},
	})
	if err != nil {
		return nil, fmt.Errorf("connect to qdrant at %s: %w", cfg.Address, err)
	}
	b := &Backend{cfg: cfg, client: client, ready: make(map[string]bool)}

	ctx, cancel := b.withTimeout(ctx)
	defer cancel()
	if _, err := b.collections(ctx); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("open qdrant at %s: %w", cfg.Address, err)
	}
	return b, nil
}

// apiKeyInterceptor sends key as the api-key metadata of every call. It
// replaces the go-client's own, which logs a warning through the default
// logger when TLS is off; this package does not log.
func apiKeyInterceptor(key string) grpc.UnaryClientInterceptor {
	return func(
		ctx context.Context,
		method string,
		req, reply any,
		cc *grpc.ClientConn,
		invoker grpc.UnaryInvoker,
		opts ...grpc.CallOption,
	) error {
		if key != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "api-key", key)
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

// withTimeout bounds ctx by the configured timeout unless it ends sooner.
func (b *Backend) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= b.cfg.Timeout {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, b.cfg.Timeout)
}

// Close closes the connection. Writes wait for Qdrant before they return,
// so nothing is pending. Every later call returns store.ErrClosed.
func (b *Backend) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	if err := b.client.Close(); err != nil {
		return fmt.Errorf("close qdrant connection: %w", err)
	}
	return nil
}

func (b *Backend) usable(tenantID string) error {
	if b.closed.Load() {
		return store.ErrClosed
	}
	return store.ValidTenant(tenantID)
}

// tenantFilter keeps the points of one tenant, and of one of docIDs when
// there are any.
func tenantFilter(tenantID string, docIDs ...string) *qdrant.Filter {
	f := &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchKeyword(fieldTenant, tenantID)}}
	if len(docIDs) > 0 {
		f.Must = append(f.Must, qdrant.NewMatchKeywords(fieldDocID, docIDs...))
	}
	return f
}

// collectionBatch is the part of a document that goes to one collection.
type collectionBatch struct {
	info   collectionInfo
	points []*qdrant.PointStruct
	ids    []*qdrant.PointId
}

// Replace makes chunks the whole content of a document. It first upserts
// the new points, waiting for Qdrant to apply them, then deletes the
// document's other points in every Keel collection, so a search running
// meanwhile sees the old or the new chunks but never neither. It returns
// store.ErrInvalidTenant, store.ErrInvalidBatch, store.ErrClosed, or an
// error of the call that failed (see callError).
func (b *Backend) Replace(ctx context.Context, tenantID, docID string, chunks []store.Chunk) error {
	if err := b.usable(tenantID); err != nil {
		return err
	}
	if err := store.ValidBatch(docID, chunks); err != nil {
		return err
	}
	ctx, cancel := b.withTimeout(ctx)
	defer cancel()

	// Group the points by collection.
	batches := map[string]*collectionBatch{}
	for i := range chunks {
		c := chunks[i]
		c.DocID = docID
		info := b.collectionFor(c.Model, len(c.Vector))
		batch, ok := batches[info.name]
		if !ok {
			batch = &collectionBatch{info: info}
			batches[info.name] = batch
		}
		id := pointID(tenantID, docID, c.ID)
		batch.ids = append(batch.ids, id)
		batch.points = append(batch.points, &qdrant.PointStruct{
			Id:      id,
			Payload: chunkPayload(tenantID, docID, &c),
			Vectors: chunkVectors(&c),
		})
	}

	// Write the new points.
	for _, name := range sortedKeys(batches) {
		if err := b.upsert(ctx, batches[name]); err != nil {
			return err
		}
	}

	// Delete what the document held before, wherever it was.
	colls, err := b.collections(ctx)
	if err != nil {
		return err
	}
	for _, coll := range colls {
		filter := tenantFilter(tenantID, docID)
		if batch, ok := batches[coll.name]; ok {
			filter.MustNot = []*qdrant.Condition{qdrant.NewHasID(batch.ids...)}
		}
		if err := b.deleteWhere(ctx, coll.name, filter); err != nil {
			return err
		}
	}
	return nil
}

// chunkVectors returns a chunk's named vectors: the dense embedding when
// there is one and the keyword vector when the chunk has any token.
func chunkVectors(c *store.Chunk) *qdrant.Vectors {
	vectors := map[string]*qdrant.Vector{}
	if len(c.Vector) > 0 {
		vectors[denseVector] = qdrant.NewVectorDense(c.Vector)
	}
	if terms := chunkTerms(c); len(terms.indices) > 0 {
		vectors[keywordVector] = qdrant.NewVectorSparse(terms.indices, terms.values)
	}
	return qdrant.NewVectorsMap(vectors)
}

// upsert writes a batch to its collection, creating the collection first
// when needed, or again when it has been deleted behind this backend.
func (b *Backend) upsert(ctx context.Context, batch *collectionBatch) error {
	for attempt := 0; ; attempt++ {
		if err := b.ensureCollection(ctx, batch.info); err != nil {
			return err
		}
		err := b.upsertPoints(ctx, batch)
		if err == nil || !isNotFound(err) || attempt > 0 {
			return callError(ctx, fmt.Sprintf("upsert into qdrant collection %s", batch.info.name), err)
		}
		b.mu.Lock()
		delete(b.ready, batch.info.name)
		b.mu.Unlock()
	}
}

func (b *Backend) upsertPoints(ctx context.Context, batch *collectionBatch) error {
	for part := range slices.Chunk(batch.points, upsertBatch) {
		_, err := b.client.Upsert(ctx, &qdrant.UpsertPoints{
			CollectionName: batch.info.name,
			Wait:           qdrant.PtrOf(true),
			Points:         part,
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// deleteWhere deletes the points of a collection that match filter; a
// collection deleted meanwhile has nothing left to delete.
func (b *Backend) deleteWhere(ctx context.Context, collection string, filter *qdrant.Filter) error {
	_, err := b.client.Delete(ctx, &qdrant.DeletePoints{
		CollectionName: collection,
		Wait:           qdrant.PtrOf(true),
		Points:         qdrant.NewPointsSelectorFilter(filter),
	})
	if err != nil && !isNotFound(err) {
		return callError(ctx, fmt.Sprintf("delete from qdrant collection %s", collection), err)
	}
	return nil
}

// count counts the points of a collection matching filter exactly; a
// missing collection holds none.
func (b *Backend) count(ctx context.Context, collection string, filter *qdrant.Filter) (int, error) {
	n, err := b.client.Count(ctx, &qdrant.CountPoints{
		CollectionName: collection,
		Filter:         filter,
		Exact:          qdrant.PtrOf(true),
	})
	if err != nil {
		if isNotFound(err) {
			return 0, nil
		}
		return 0, callError(ctx, fmt.Sprintf("count in qdrant collection %s", collection), err)
	}
	return int(n), nil
}

// DeleteDocuments removes documents of a tenant from every Keel collection
// and returns how many chunks went. Each collection is counted, then
// deleted from; a chunk written between the two by a concurrent Replace is
// deleted without being counted. It returns store.ErrInvalidTenant,
// store.ErrClosed or an error of the call that failed.
func (b *Backend) DeleteDocuments(ctx context.Context, tenantID string, docIDs []string) (int, error) {
	if err := b.usable(tenantID); err != nil {
		return 0, err
	}
	if len(docIDs) == 0 {
		return 0, nil
	}
	ctx, cancel := b.withTimeout(ctx)
	defer cancel()

	colls, err := b.collections(ctx)
	if err != nil {
		return 0, err
	}
	filter := tenantFilter(tenantID, docIDs...)
	total := 0
	for _, coll := range colls {
		n, err := b.count(ctx, coll.name, filter)
		if err != nil {
			return total, err
		}
		if n == 0 {
			continue
		}
		if err := b.deleteWhere(ctx, coll.name, filter); err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// documents returns the distinct document ids of the points of a
// collection matching filter, and how many points matched. It counts the
// points exactly, then asks a facet over doc_id for as many values as
// there are points, so no document is cut off.
//
// TODO: page with Scroll when a tenant's facet grows past what one
// response should carry (a facet hit is ~40 bytes; 4 MB is ~100k
// documents per collection).
func (b *Backend) documents(ctx context.Context, collection string, filter *qdrant.Filter) ([]string, int, error) {
	n, err := b.count(ctx, collection, filter)
	if err != nil || n == 0 {
		return nil, 0, err
	}
	hits, err := b.client.Facet(ctx, &qdrant.FacetCounts{
		CollectionName: collection,
		Key:            fieldDocID,
		Filter:         filter,
		Limit:          qdrant.PtrOf(uint64(n)),
		Exact:          qdrant.PtrOf(true),
	})
	if err != nil {
		if isNotFound(err) {
			return nil, 0, nil
		}
		return nil, 0, callError(ctx, fmt.Sprintf("facet doc_id in qdrant collection %s", collection), err)
	}
	docs := make([]string, 0, len(hits))
	for _, hit := range hits {
		docs = append(docs, hit.GetValue().GetStringValue())
	}
	return docs, n, nil
}

// SubjectDocuments returns, sorted, the ids of a tenant's documents that
// name subject among their data subjects. An empty subject names none.
// It returns store.ErrInvalidTenant, store.ErrClosed or an error of the
// call that failed.
func (b *Backend) SubjectDocuments(ctx context.Context, tenantID, subject string) ([]string, error) {
	if err := b.usable(tenantID); err != nil {
		return nil, err
	}
	if subject == "" {
		return nil, nil
	}
	ctx, cancel := b.withTimeout(ctx)
	defer cancel()

	colls, err := b.collections(ctx)
	if err != nil {
		return nil, err
	}
	filter := tenantFilter(tenantID)
	filter.Must = append(filter.Must, qdrant.NewMatchKeyword(fieldSubjects, subject))
	seen := map[string]bool{}
	for _, coll := range colls {
		docs, _, err := b.documents(ctx, coll.name, filter)
		if err != nil {
			return nil, err
		}
		for _, d := range docs {
			seen[d] = true
		}
	}
	return sortedKeys(seen), nil
}

// Stats counts a tenant's documents and chunks over every Keel
// collection; a document with chunks in two collections counts once. It
// returns store.ErrInvalidTenant, store.ErrClosed or an error of the call
// that failed.
func (b *Backend) Stats(ctx context.Context, tenantID string) (int, int, error) {
	if err := b.usable(tenantID); err != nil {
		return 0, 0, err
	}
	ctx, cancel := b.withTimeout(ctx)
	defer cancel()

	colls, err := b.collections(ctx)
	if err != nil {
		return 0, 0, err
	}
	seen := map[string]bool{}
	chunks := 0
	for _, coll := range colls {
		docs, n, err := b.documents(ctx, coll.name, tenantFilter(tenantID))
		if err != nil {
			return 0, 0, err
		}
		chunks += n
		for _, d := range docs {
			seen[d] = true
		}
	}
	return len(seen), chunks, nil
}

// Empty reports whether no Keel collection holds a point. It returns
// store.ErrClosed or an error of the call that failed.
func (b *Backend) Empty(ctx context.Context) (bool, error) {
	if b.closed.Load() {
		return false, store.ErrClosed
	}
	ctx, cancel := b.withTimeout(ctx)
	defer cancel()

	colls, err := b.collections(ctx)
	if err != nil {
		return false, err
	}
	for _, coll := range colls {
		n, err := b.count(ctx, coll.name, nil)
		if err != nil {
			return false, err
		}
		if n > 0 {
			return false, nil
		}
	}
	return true, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
