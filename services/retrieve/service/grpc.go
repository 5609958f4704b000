package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/keelhq/keel/pkg/tenant"
	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
	"github.com/keelhq/keel/services/retrieve/internal/index"
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

// retrieverServer implements RetrieverService over the index.
type retrieverServer struct {
	keelv1.UnimplementedRetrieverServiceServer
	store        *index.Store
	embedder     keelv1.EmbedderServiceClient
	embedTimeout time.Duration
	logger       *slog.Logger
}

// Search runs a hybrid search over the caller's tenant. It answers
// Unauthenticated without a tenant, InvalidArgument for an empty or too
// long query or a negative top_k, and keyword results alone with partial
// set when the query could not be embedded in time.
func (s *retrieverServer) Search(ctx context.Context, req *keelv1.SearchRequest) (*keelv1.SearchResponse, error) {
	tenantID, err := tenant.Require(ctx)
	if err != nil {
		return nil, status.Error(codes.Unauthenticated, err.Error())
	}
	query := strings.TrimSpace(req.GetQuery())
	switch {
	case query == "":
		return nil, invalidArgument("query", "a query is required")
	case len(query) > MaxQueryBytes:
		return nil, invalidArgument("query", fmt.Sprintf("%d bytes, at most %d", len(query), MaxQueryBytes))
	case req.GetTopK() < 0:
		return nil, invalidArgument("top_k", "must not be negative")
	}
	topK := int(req.GetTopK())
	if topK == 0 {
		topK = DefaultTopK
	}
	topK = min(topK, MaxTopK)

	// The dense leg needs the query vector; without it the keyword leg
	// answers alone.
	vector, model, err := s.embedQuery(ctx, query)
	partial := err != nil
	if partial {
		s.logger.Warn("query embedding failed; answering from keywords only", "tenant", tenantID, "error", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, status.FromContextError(err).Err()
	}

	results, err := s.store.Search(tenantID, index.Query{
		Text:       query,
		Vector:     vector,
		Model:      model,
		TopK:       topK,
		Kinds:      req.GetFilter().GetKinds(),
		Sources:    req.GetFilter().GetSources(),
		Principals: req.GetPrincipals(),
	})
	if err != nil {
		return nil, indexStatus(err)
	}

	resp := &keelv1.SearchResponse{Partial: partial, Passages: make([]*keelv1.Passage, len(results))}
	for i, r := range results {
		resp.Passages[i] = &keelv1.Passage{
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
		}
	}
	return resp, nil
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
	docs, chunks, err := s.store.Stats(tenantID)
	if err != nil {
		return nil, indexStatus(err)
	}
	return &keelv1.StatsResponse{Documents: int64(docs), Chunks: int64(chunks)}, nil
}

// indexStatus maps an index error to a gRPC status.
func indexStatus(err error) error {
	switch {
	case errors.Is(err, index.ErrInvalidTenant):
		return status.Error(codes.Unauthenticated, err.Error())
	case errors.Is(err, index.ErrClosed):
		return status.Error(codes.Unavailable, "the index is shutting down")
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
