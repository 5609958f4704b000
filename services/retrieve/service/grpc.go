package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/keelhq/keel/pkg/bus"
	"github.com/keelhq/keel/pkg/tenant"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/retrieve/internal/querycache"
	"github.com/keelhq/keel/services/retrieve/internal/store"
)

// Limits of one Search call.
const (
	// DefaultTopK is the number of passages when a request leaves top_k 0.
	DefaultTopK = 5
	// MaxTopK is the most passages one search returns.
	MaxTopK = 50
	// MaxQueryBytes is the longest query.
	MaxQueryBytes = 4 << 10
)

// keywordReserve is the part of a request's deadline kept back from the
// query embedding, so that a slow embedder still leaves time to answer from
// the keyword index.
const keywordReserve = 50 * time.Millisecond

// MaxFilterValues bounds the values of one search filter or the
// principals of one request.
const MaxFilterValues = 64

// retrieverServer implements RetrieverService over a store.
type retrieverServer struct {
	keelv1.UnimplementedRetrieverServiceServer
	store         *indexWriter
	cache         *querycache.Cache
	pub           *bus.Publisher
	embedder      keelv1.EmbedderServiceClient
	embedTimeout  time.Duration
	searchTimeout time.Duration
	logger        *slog.Logger
}

// Search runs a hybrid search over the caller's tenant. It answers
// Unauthenticated without a tenant, InvalidArgument for an empty or too
// long query, a negative top_k or a bad filter, and results with partial
// set and the missing legs named when the query could not be embedded or
// a leg did not answer in time. A repeated search is answered from the
// tenant's query cache until the tenant's index changes.
func (s *retrieverServer) Search(ctx context.Context, req *keelv1.SearchRequest) (*keelv1.SearchResponse, error) {
	tenantID, err := tenant.Require(ctx)
	if err != nil {
		return nil, status.Error(codes.Unauthenticated, err.Error())
	}
	q, err := searchQuery(req)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.searchTimeout)
	defer cancel()

	// The key is taken before the query is embedded, so it holds no model:
	// should the embed service switch models, answers cached under the old
	// one are served until the tenant changes or the TTL passes.
	key := querycache.KeyOf(q)
	if resp, ok := s.cache.Get(tenantID, key); ok {
		return searchResponse(resp, true), nil
	}
	generation := s.cache.Generation(tenantID)

	// The dense leg needs the query vector; without it the keyword leg
	// answers alone and the answer says the dense leg is missing.
	vector, model, embedErr := s.embedQuery(ctx, q.Text)
	if embedErr != nil {
		s.logger.Warn("query embedding failed; answering from keywords only", "tenant", tenantID, "error", embedErr)
	}
	if err := ctx.Err(); err != nil {
		return nil, status.FromContextError(err).Err()
	}
	q.Vector, q.Model = vector, model

	resp, err := s.store.Search(ctx, tenantID, q)
	if err != nil {
		return nil, storeStatus(err)
	}
	if embedErr != nil {
		resp.Missing = append(resp.Missing, store.LegDense)
	} else if slices.Contains(resp.Missing, store.LegDense) && ctx.Err() == nil {
		s.logger.Warn("no chunk of the tenant was embedded by the query's model; answering from keywords only "+
			"until its documents are embedded again", "tenant", tenantID, "model", model, "dimensions", len(vector))
	}
	s.cache.Put(tenantID, key, generation, resp)
	return searchResponse(resp, false), nil
}

// searchQuery checks req and returns its query without a vector.
func searchQuery(req *keelv1.SearchRequest) (store.Query, error) {
	query := strings.TrimSpace(req.GetQuery())
	switch {
	case query == "":
		return store.Query{}, invalidArgument("query", "a query is required")
	case len(query) > MaxQueryBytes:
		return store.Query{}, invalidArgument("query", fmt.Sprintf("%d bytes, at most %d", len(query), MaxQueryBytes))
	case req.GetTopK() < 0:
		return store.Query{}, invalidArgument("top_k", "must not be negative")
	}
	topK := int(req.GetTopK())
	if topK == 0 {
		topK = DefaultTopK
	}
	q := store.Query{
		Text:       query,
		TopK:       min(topK, MaxTopK),
		Kinds:      req.GetFilter().GetKinds(),
		Sources:    req.GetFilter().GetSources(),
		Tags:       req.GetFilter().GetTags(),
		Principals: req.GetPrincipals(),
	}
	lists := []struct {
		field  string
		values []string
	}{{"filter.kinds", q.Kinds}, {"filter.sources", q.Sources}, {"filter.tags", q.Tags}, {"principals", q.Principals}}
	for _, l := range lists {
		if len(l.values) > MaxFilterValues {
			return store.Query{}, invalidArgument(l.field, fmt.Sprintf("%d values, at most %d", len(l.values), MaxFilterValues))
		}
	}
	var err error
	if q.CreatedAfter, err = filterTime("filter.created_after", req.GetFilter().GetCreatedAfter()); err != nil {
		return store.Query{}, err
	}
	if q.CreatedBefore, err = filterTime("filter.created_before", req.GetFilter().GetCreatedBefore()); err != nil {
		return store.Query{}, err
	}
	if err := store.ValidQuery(q); err != nil {
		return store.Query{}, invalidArgument("filter", strings.TrimPrefix(err.Error(), store.ErrInvalidQuery.Error()+": "))
	}
	return q, nil
}

// filterTime returns the time of a filter bound, zero when unset, and
// answers InvalidArgument for a timestamp out of range.
func filterTime(field string, ts *timestamppb.Timestamp) (time.Time, error) {
	if ts == nil {
		return time.Time{}, nil
	}
	if err := ts.CheckValid(); err != nil {
		return time.Time{}, invalidArgument(field, err.Error())
	}
	return ts.AsTime(), nil
}

// searchResponse turns a store response into the RPC's.
func searchResponse(resp store.Response, cached bool) *keelv1.SearchResponse {
	out := &keelv1.SearchResponse{
		Partial:     resp.Partial(),
		MissingLegs: resp.Missing,
		Cached:      cached,
		Passages:    make([]*keelv1.Passage, len(resp.Results)),
	}
	for i, r := range resp.Results {
		p := &keelv1.Passage{
			ChunkId:      r.Chunk.ID,
			DocId:        r.Chunk.DocID,
			Title:        r.Chunk.Title,
			Text:         r.Chunk.Text,
			Score:        r.Score,
			VectorScore:  r.VectorScore,
			KeywordScore: r.KeywordScore,
			StartOffset:  int32(r.Chunk.Start),
			EndOffset:    int32(r.Chunk.End),
			Kind:         r.Chunk.Kind,
			HeadingPath:  r.Chunk.HeadingPath,
			Quoted:       r.Chunk.Quoted,
			Source:       r.Chunk.Source,
			Tags:         r.Chunk.Tags,
		}
		if !r.Chunk.Created.IsZero() {
			p.CreatedAt = timestamppb.New(r.Chunk.Created)
		}
		out.Passages[i] = p
	}
	return out
}

// embedQuery asks the embed service for the query vector within the embed
// timeout, and within the request deadline less keywordReserve.
func (s *retrieverServer) embedQuery(ctx context.Context, query string) ([]float32, string, error) {
	deadline := time.Now().Add(s.embedTimeout)
	if d, ok := ctx.Deadline(); ok && d.Add(-keywordReserve).Before(deadline) {
		deadline = d.Add(-keywordReserve)
	}
	if !deadline.After(time.Now()) {
		return nil, "", errors.New("no time left to embed the query")
	}
	ectx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()

	resp, err := s.embedder.Embed(ectx, &keelv1.EmbedRequest{Texts: []string{query}})
	if err != nil {
		return nil, "", fmt.Errorf("embed query: %w", err)
	}
	if len(resp.GetVectors()) != 1 {
		return nil, "", fmt.Errorf("embed query: got %d vectors, want 1", len(resp.GetVectors()))
	}
	return resp.GetVectors()[0].GetValues(), resp.GetModel(), nil
}

// Stats counts the documents and chunks of the caller's tenant. It answers
// Unauthenticated without a tenant.
func (s *retrieverServer) Stats(ctx context.Context, _ *keelv1.StatsRequest) (*keelv1.StatsResponse, error) {
	tenantID, err := tenant.Require(ctx)
	if err != nil {
		return nil, status.Error(codes.Unauthenticated, err.Error())
	}
	docs, chunks, err := s.store.Stats(ctx, tenantID)
	if err != nil {
		return nil, storeStatus(err)
	}
	return &keelv1.StatsResponse{Documents: int64(docs), Chunks: int64(chunks)}, nil
}

// storeStatus maps a store error to a gRPC status.
func storeStatus(err error) error {
	switch {
	case errors.Is(err, store.ErrInvalidTenant):
		return status.Error(codes.Unauthenticated, err.Error())
	case errors.Is(err, store.ErrInvalidQuery):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, store.ErrClosed):
		return status.Error(codes.Unavailable, "the index is shutting down")
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return status.FromContextError(err).Err()
	default:
		return status.Errorf(codes.Internal, "search index: %v", err)
	}
}

// invalidArgument returns an InvalidArgument status with a BadRequest
// detail for field.
func invalidArgument(field, description string) error {
	st := status.New(codes.InvalidArgument, field+": "+description)
	detailed, err := st.WithDetails(&errdetails.BadRequest{
		FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: description}},
	})
	if err != nil {
		return st.Err()
	}
	return detailed.Err()
}
