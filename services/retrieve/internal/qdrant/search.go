package qdrant

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/qdrant/go-client/qdrant"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/keelhq/keel/services/retrieve/internal/store"
)

// rrfK is the k of Qdrant's reciprocal rank fusion, which scores a hit at
// 0-based position pos with 1/(pos + k). 61 gives the embedded index's
// 1/(60 + rank) with 1-based ranks, so both backends fuse alike.
const rrfK = 61

// searchPlan is what one collection contributes to a search.
type searchPlan struct {
	coll    collectionInfo
	dense   bool
	keyword bool
}

// Search runs a hybrid query over a tenant's chunks.
//
// The dense leg reaches the collection of q.Model at the query's
// dimension, keeping only chunks of that model; with q.Model empty it
// reaches every collection of that dimension, whatever the model, as the
// store contract asks. The keyword leg reaches every Keel collection,
// since keywords do not depend on the embedding. Each collection answers
// one Query whose prefetches (one per leg) each carry the full filter;
// their rankings are fused there with reciprocal rank fusion, and the
// lists of several collections are merged by fused score.
//
// A query without a vector runs the keyword leg only, one without text
// (or whose text has only stopwords) the dense leg only. A missing
// collection has no results; a vector no collection can compare with
// makes the dense leg missing from the response. Search returns store.ErrInvalidTenant,
// store.ErrInvalidQuery, store.ErrClosed, or an error of the call that
// failed, which wraps ctx's error when ctx ended first.
func (b *Backend) Search(ctx context.Context, tenantID string, q store.Query) (store.Response, error) {
	if err := b.usable(tenantID); err != nil {
		return store.Response{}, err
	}
	if err := store.ValidQuery(q); err != nil {
		return store.Response{}, err
	}
	topK := q.TopK
	if topK <= 0 {
		topK = store.DefaultTopK
	}
	ctx, cancel := b.withTimeout(ctx)
	defer cancel()

	colls, err := b.collections(ctx)
	if err != nil {
		return store.Response{}, err
	}
	terms := queryTerms(q.Text)
	var plans []searchPlan
	for _, coll := range colls {
		plan := searchPlan{
			coll:    coll,
			dense:   len(q.Vector) > 0 && coll.dim == len(q.Vector),
			keyword: len(terms.indices) > 0,
		}
		if plan.dense && q.Model != "" && coll.name != b.collectionFor(q.Model, coll.dim).name {
			plan.dense = false
		}
		if plan.dense || plan.keyword {
			plans = append(plans, plan)
		}
	}

	// A vector that no collection can compare with (the documents were
	// embedded by another model) leaves the dense leg out; the answer says
	// so rather than passing the keyword leg off as whole.
	var missing []string
	if len(q.Vector) > 0 && !slices.ContainsFunc(plans, func(p searchPlan) bool { return p.dense }) {
		missing = []string{store.LegDense}
	}

	// Query the collections side by side.
	found := make([][]store.Result, len(plans))
	g, gctx := errgroup.WithContext(ctx)
	for i, plan := range plans {
		g.Go(func() error {
			results, err := b.searchCollection(gctx, tenantID, q, terms, topK, plan)
			found[i] = results
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return store.Response{}, err
	}
	return store.Response{Results: mergeResults(found, topK), Missing: missing}, nil
}

// searchCollection runs one collection's fused query.
func (b *Backend) searchCollection(
	ctx context.Context,
	tenantID string,
	q store.Query,
	terms sparseTerms,
	topK int,
	plan searchPlan,
) ([]store.Result, error) {
	depth := uint64(max(topK*10, 100))
	req := &qdrant.QueryPoints{
		CollectionName: plan.coll.name,
		Query:          qdrant.NewQueryRRF(&qdrant.Rrf{K: qdrant.PtrOf(uint32(rrfK))}),
		Limit:          qdrant.PtrOf(uint64(topK)),
		WithPayload:    qdrant.NewWithPayload(true),
	}
	if plan.dense {
		filter := searchFilter(tenantID, q)
		if q.Model != "" {
			filter.Must = append(filter.Must, qdrant.NewMatchKeyword(fieldModel, q.Model))
		}
		req.Prefetch = append(req.Prefetch, &qdrant.PrefetchQuery{
			Query:  qdrant.NewQueryDense(q.Vector),
			Using:  qdrant.PtrOf(denseVector),
			Filter: filter,
			Limit:  qdrant.PtrOf(depth),
		})
		req.WithVectors = qdrant.NewWithVectorsInclude(denseVector)
	}
	if plan.keyword {
		req.Prefetch = append(req.Prefetch, &qdrant.PrefetchQuery{
			Query:  qdrant.NewQuerySparse(terms.indices, terms.values),
			Using:  qdrant.PtrOf(keywordVector),
			Filter: searchFilter(tenantID, q),
			Limit:  qdrant.PtrOf(depth),
		})
	}

	points, err := b.client.Query(ctx, req)
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, callError(ctx, fmt.Sprintf("query qdrant collection %s", plan.coll.name), err)
	}

	queryNorm := norm(q.Vector)
	results := make([]store.Result, 0, len(points))
	for _, p := range points {
		r := store.Result{Chunk: chunkFromPayload(p.GetPayload()), Score: float64(p.GetScore())}
		if plan.dense && (q.Model == "" || r.Chunk.Model == q.Model) {
			r.VectorScore = cosine(denseOf(p), q.Vector, queryNorm)
		}
		results = append(results, r)
	}
	return results, nil
}

// searchFilter is the filter of every leg: the tenant always; kinds,
// sources and tags as any-of; the creation range; and the permission
// rule, an empty ACL or one naming a principal of the caller. It holds
// for a chunk exactly when q.Accepts does. The permission rule is a
// nested filter under must, so that merging this filter with another
// never turns its should into an alternative of the other's.
func searchFilter(tenantID string, q store.Query) *qdrant.Filter {
	f := tenantFilter(tenantID)
	if len(q.Kinds) > 0 {
		f.Must = append(f.Must, qdrant.NewMatchKeywords(fieldKind, q.Kinds...))
	}
	if len(q.Sources) > 0 {
		f.Must = append(f.Must, qdrant.NewMatchKeywords(fieldSource, q.Sources...))
	}
	if len(q.Tags) > 0 {
		f.Must = append(f.Must, qdrant.NewMatchKeywords(fieldTags, q.Tags...))
	}
	if !q.CreatedAfter.IsZero() || !q.CreatedBefore.IsZero() {
		r := &qdrant.DatetimeRange{}
		if !q.CreatedAfter.IsZero() {
			r.Gte = timestamppb.New(q.CreatedAfter)
		}
		if !q.CreatedBefore.IsZero() {
			r.Lt = timestamppb.New(q.CreatedBefore)
		}
		f.Must = append(f.Must, qdrant.NewDatetimeRange(fieldCreated, r))
	}
	if len(q.Principals) == 0 {
		f.Must = append(f.Must, qdrant.NewIsEmpty(fieldACL))
		return f
	}
	f.Must = append(f.Must, qdrant.NewFilterAsCondition(&qdrant.Filter{Should: []*qdrant.Condition{
		qdrant.NewIsEmpty(fieldACL),
		qdrant.NewMatchKeywords(fieldACL, q.Principals...),
	}}))
	return f
}

// denseOf returns the dense vector of a scored point.
func denseOf(p *qdrant.ScoredPoint) []float32 {
	v := p.GetVectors().GetVectors().GetVectors()[denseVector]
	if d := v.GetDense().GetData(); len(d) > 0 {
		return d
	}
	return v.GetData()
}

func norm(v []float32) float64 {
	var sum float64
	for _, x := range v {
		sum += float64(x) * float64(x)
	}
	return math.Sqrt(sum)
}

// cosine returns the cosine similarity of two vectors of the same length,
// 0 when either is missing or zero.
func cosine(stored, query []float32, queryNorm float64) float64 {
	if len(stored) != len(query) || len(stored) == 0 || queryNorm == 0 {
		return 0
	}
	storedNorm := norm(stored)
	if storedNorm == 0 {
		return 0
	}
	var dot float64
	for i := range stored {
		dot += float64(stored[i]) * float64(query[i])
	}
	return dot / (storedNorm * queryNorm)
}

// mergeResults merges the lists of several collections, keeps one result
// per chunk (a chunk moving between models may briefly be in two), and
// returns the best topK, in the embedded index's order.
func mergeResults(lists [][]store.Result, topK int) []store.Result {
	best := map[[2]string]store.Result{}
	for _, list := range lists {
		for _, r := range list {
			key := [2]string{r.Chunk.DocID, r.Chunk.ID}
			if prev, ok := best[key]; !ok || r.Score > prev.Score {
				best[key] = r
			}
		}
	}
	out := make([]store.Result, 0, len(best))
	for _, r := range best {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b store.Result) int {
		return cmp.Or(
			cmp.Compare(b.Score, a.Score),
			cmp.Compare(b.VectorScore, a.VectorScore),
			cmp.Compare(b.KeywordScore, a.KeywordScore),
			cmp.Compare(a.Chunk.DocID, b.Chunk.DocID),
			cmp.Compare(a.Chunk.Ordinal, b.Chunk.Ordinal),
			cmp.Compare(a.Chunk.ID, b.Chunk.ID),
		)
	})
	return out[:min(topK, len(out))]
}
