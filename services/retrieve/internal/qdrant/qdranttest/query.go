package qdranttest

import (
	"cmp"
	"context"
	"math"
	"slices"

	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// scored is a point with its score in one stage of a query.
type scored struct {
	p     *point
	score float32
}

// stage is one level of a query: its prefetches, its own query, the vector
// it uses, the filter it applies and how many points it keeps.
type stage struct {
	prefetch  []*qdrant.PrefetchQuery
	query     *qdrant.Query
	using     string
	filter    *qdrant.Filter
	limit     uint64
	threshold *float32
}

// Query runs a universal query: nearest-neighbour search on a dense or
// sparse vector, or fusion of prefetches. The filter of each level is
// added to the filters of the prefetches below it, so every leaf search
// applies all the filters above it.
func (ps *pointsService) Query(_ context.Context, req *qdrant.QueryPoints) (*qdrant.QueryResponse, error) {
	if err := validateQueryFilters(req.GetFilter(), req.GetPrefetch()); err != nil {
		return nil, err
	}
	if req.LookupFrom != nil || req.Params != nil && req.Params.Quantization != nil {
		return nil, errUnimplemented("lookup_from and quantization parameters")
	}
	ps.s.mu.Lock()
	defer ps.s.mu.Unlock()
	c, err := ps.s.collectionLocked(req.GetCollectionName())
	if err != nil {
		return nil, err
	}

	limit := uint64(defaultLimit)
	if req.Limit != nil {
		limit = req.GetLimit()
	}
	offset := req.GetOffset()
	hits, err := c.run(stage{
		prefetch:  req.GetPrefetch(),
		query:     req.GetQuery(),
		using:     req.GetUsing(),
		filter:    req.GetFilter(),
		limit:     limit + offset,
		threshold: req.ScoreThreshold,
	})
	if err != nil {
		return nil, err
	}
	hits = hits[min(uint64(len(hits)), offset):]

	resp := &qdrant.QueryResponse{}
	for _, h := range hits {
		resp.Result = append(resp.Result, &qdrant.ScoredPoint{
			Id:      h.p.id,
			Payload: selectPayload(h.p.payload, req.GetWithPayload()),
			Score:   h.score,
			Vectors: c.selectVectors(h.p, req.GetWithVectors()),
		})
	}
	return resp, nil
}

func validateQueryFilters(filter *qdrant.Filter, prefetch []*qdrant.PrefetchQuery) error {
	if err := validateFilter(filter); err != nil {
		return err
	}
	for _, pf := range prefetch {
		if pf.LookupFrom != nil {
			return errUnimplemented("lookup_from")
		}
		if err := validateQueryFilters(pf.GetFilter(), pf.GetPrefetch()); err != nil {
			return err
		}
	}
	return nil
}

// run answers one stage, best first.
func (c *collection) run(st stage) ([]scored, error) {
	var hits []scored
	var err error
	if len(st.prefetch) > 0 {
		hits, err = c.fuse(st)
	} else {
		hits, err = c.nearest(st)
	}
	if err != nil {
		return nil, err
	}
	return hits[:min(uint64(len(hits)), st.limit)], nil
}

// fuse runs the prefetches of st, each under st's filter and its own, and
// fuses their rankings.
func (c *collection) fuse(st stage) ([]scored, error) {
	sources := make([][]scored, 0, len(st.prefetch))
	for _, pf := range st.prefetch {
		limit := uint64(defaultLimit)
		if pf.Limit != nil {
			limit = pf.GetLimit()
		}
		hits, err := c.run(stage{
			prefetch:  pf.GetPrefetch(),
			query:     pf.GetQuery(),
			using:     pf.GetUsing(),
			filter:    andFilters(st.filter, pf.GetFilter()),
			limit:     limit,
			threshold: pf.ScoreThreshold,
		})
		if err != nil {
			return nil, err
		}
		sources = append(sources, hits)
	}

	switch q := st.query.GetVariant().(type) {
	case *qdrant.Query_Fusion:
		if q.Fusion != qdrant.Fusion_RRF {
			return nil, errUnimplemented("fusion " + q.Fusion.String())
		}
		return rrf(sources, defaultRRFK, nil)
	case *qdrant.Query_Rrf:
		k := uint32(defaultRRFK)
		if q.Rrf.K != nil {
			k = q.Rrf.GetK()
		}
		if k == 0 {
			return nil, status.Error(codes.InvalidArgument,
				"Validation error in body: [query.rrf.k: value 0 invalid, must be 1 or larger]")
		}
		return rrf(sources, k, q.Rrf.GetWeights())
	case nil:
		return nil, errUnimplemented("prefetch without a query")
	default:
		return nil, errUnimplemented("rescoring prefetches with a query other than fusion")
	}
}

// andFilters returns a filter that holds when both hold.
func andFilters(a, b *qdrant.Filter) *qdrant.Filter {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewFilterAsCondition(a), qdrant.NewFilterAsCondition(b)}}
}

// rrf fuses rankings by reciprocal rank: a point at 0-based position pos
// of a source with weight w earns 1 / ((pos+1)/w + k - 1), which is
// 1 / (pos + k) for weight 1, Qdrant's formula.
func rrf(sources [][]scored, k uint32, weights []float32) ([]scored, error) {
	if len(weights) > 0 && len(weights) != len(sources) {
		return nil, errWrongInput("Number of weights in RRF should match number of pre-fetches: got %d, expected %d",
			len(weights), len(sources))
	}
	fused := map[string]*scored{}
	for i, source := range sources {
		w := float32(1)
		if len(weights) > 0 {
			w = weights[i]
		}
		for pos, h := range source {
			var add float32
			if w > 0 {
				add = 1 / (float32(pos+1)/w + float32(k) - 1)
			}
			if f, ok := fused[h.p.key]; ok {
				f.score += add
				continue
			}
			fused[h.p.key] = &scored{p: h.p, score: add}
		}
	}
	out := make([]scored, 0, len(fused))
	for _, f := range fused {
		out = append(out, *f)
	}
	sortHits(out, true)
	return out, nil
}

// sortHits orders hits by score, best first, equal scores by point id.
func sortHits(hits []scored, higherIsBetter bool) {
	slices.SortFunc(hits, func(a, b scored) int {
		byScore := cmp.Compare(b.score, a.score)
		if !higherIsBetter {
			byScore = -byScore
		}
		return cmp.Or(byScore, cmp.Compare(a.p.key, b.p.key))
	})
}

// nearest runs a leaf stage: the points passing the filter that hold the
// used vector, ordered by similarity to the query vector.
func (c *collection) nearest(st stage) ([]scored, error) {
	q, ok := st.query.GetVariant().(*qdrant.Query_Nearest)
	if !ok {
		return nil, errUnimplemented("queries other than nearest without prefetch")
	}
	input := q.Nearest
	if id, ok := input.GetVariant().(*qdrant.VectorInput_Id); ok {
		resolved, err := c.vectorOf(id.Id, st.using)
		if err != nil {
			return nil, err
		}
		input = resolved
	}

	switch v := input.GetVariant().(type) {
	case *qdrant.VectorInput_Dense:
		return c.nearestDense(st, v.Dense.GetData())
	case *qdrant.VectorInput_Sparse:
		sv, err := sparseData(v.Sparse)
		if err != nil {
			return nil, err
		}
		return c.nearestSparse(st, sv)
	default:
		return nil, errUnimplemented("multi-vector and inference queries")
	}
}

// vectorOf returns the vector a point holds under name, as a query input.
func (c *collection) vectorOf(id *qdrant.PointId, name string) (*qdrant.VectorInput, error) {
	key, err := pointKey(id)
	if err != nil {
		return nil, err
	}
	p, ok := c.points[key]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Not found: No point with id %s found", key[2:])
	}
	if d, ok := p.dense[name]; ok {
		return qdrant.NewVectorInputDense(d), nil
	}
	if s, ok := p.sparse[name]; ok {
		return qdrant.NewVectorInputSparse(s.indices, s.values), nil
	}
	return nil, errVectorName(name)
}

func (c *collection) nearestDense(st stage, query []float32) ([]scored, error) {
	params, ok := c.dense[st.using]
	if !ok {
		if _, sparse := c.sparse[st.using]; sparse {
			return nil, errWrongInput("Conversion between sparse and regular vectors failed")
		}
		return nil, errVectorName(st.using)
	}
	if len(query) != int(params.GetSize()) {
		return nil, errDimension(int(params.GetSize()), len(query))
	}
	query = prepareDense(query, params.GetDistance())

	var hits []scored
	for _, p := range c.points {
		vec, ok := p.dense[st.using]
		if !ok || !checkFilter(st.filter, p) {
			continue
		}
		var score float64
		switch params.GetDistance() {
		case qdrant.Distance_Euclid:
			for i := range vec {
				d := float64(vec[i] - query[i])
				score += d * d
			}
			score = math.Sqrt(score)
		default:
			for i := range vec {
				score += float64(vec[i]) * float64(query[i])
			}
		}
		hits = append(hits, scored{p: p, score: float32(score)})
	}
	higherIsBetter := params.GetDistance() != qdrant.Distance_Euclid
	hits = applyThreshold(hits, st.threshold, higherIsBetter)
	sortHits(hits, higherIsBetter)
	return hits, nil
}

// nearestSparse scores by dot product over shared indices; with the IDF
// modifier each query weight is first multiplied by
// ln((N - n + 0.5) / (n + 0.5) + 1), where N counts the points of the
// collection holding the vector and n those with a non-zero value at the
// index. Only points sharing an index with the query are found.
func (c *collection) nearestSparse(st stage, query sparseVector) ([]scored, error) {
	params, ok := c.sparse[st.using]
	if !ok {
		if _, dense := c.dense[st.using]; dense {
			return nil, errWrongInput("Conversion between sparse and regular vectors failed")
		}
		return nil, errVectorName(st.using)
	}
	weights := slices.Clone(query.values)
	if params.GetModifier() == qdrant.Modifier_Idf {
		for i, idx := range query.indices {
			weights[i] *= float32(c.idf(st.using, idx))
		}
	}

	var hits []scored
	for _, p := range c.points {
		vec, ok := p.sparse[st.using]
		if !ok || !checkFilter(st.filter, p) {
			continue
		}
		var score float32
		shared := false
		for i, idx := range query.indices {
			if j, found := slices.BinarySearch(vec.indices, idx); found {
				shared = true
				score += weights[i] * vec.values[j]
			}
		}
		if shared {
			hits = append(hits, scored{p: p, score: score})
		}
	}
	hits = applyThreshold(hits, st.threshold, true)
	sortHits(hits, true)
	return hits, nil
}

// idf returns the inverse document frequency of a sparse index over the
// whole collection.
func (c *collection) idf(name string, index uint32) float64 {
	var total, containing float64
	for _, p := range c.points {
		vec, ok := p.sparse[name]
		if !ok {
			continue
		}
		total++
		if j, found := slices.BinarySearch(vec.indices, index); found && vec.values[j] != 0 {
			containing++
		}
	}
	return math.Log((total-containing+0.5)/(containing+0.5) + 1)
}

func applyThreshold(hits []scored, threshold *float32, higherIsBetter bool) []scored {
	if threshold == nil {
		return hits
	}
	return slices.DeleteFunc(hits, func(h scored) bool {
		if higherIsBetter {
			return h.score < *threshold
		}
		return h.score > *threshold
	})
}

// selectPayload applies a with_payload selector; without one, Query
// returns no payload.
func selectPayload(payload map[string]*qdrant.Value, sel *qdrant.WithPayloadSelector) map[string]*qdrant.Value {
	switch s := sel.GetSelectorOptions().(type) {
	case *qdrant.WithPayloadSelector_Enable:
		if s.Enable {
			return clonePayload(payload)
		}
	case *qdrant.WithPayloadSelector_Include:
		out := map[string]*qdrant.Value{}
		for _, k := range s.Include.GetFields() {
			if v, ok := payload[k]; ok {
				out[k] = v
			}
		}
		return clonePayload(out)
	case *qdrant.WithPayloadSelector_Exclude:
		out := clonePayload(payload)
		for _, k := range s.Exclude.GetFields() {
			delete(out, k)
		}
		return out
	}
	return nil
}

// selectVectors applies a with_vectors selector; without one, no vectors.
func (c *collection) selectVectors(p *point, sel *qdrant.WithVectorsSelector) *qdrant.VectorsOutput {
	var names []string
	switch s := sel.GetSelectorOptions().(type) {
	case *qdrant.WithVectorsSelector_Enable:
		if !s.Enable {
			return nil
		}
		for name := range p.dense {
			names = append(names, name)
		}
		for name := range p.sparse {
			names = append(names, name)
		}
	case *qdrant.WithVectorsSelector_Include:
		names = s.Include.GetNames()
	default:
		return nil
	}

	out := map[string]*qdrant.VectorOutput{}
	for _, name := range names {
		if d, ok := p.dense[name]; ok {
			out[name] = &qdrant.VectorOutput{Vector: &qdrant.VectorOutput_Dense{
				Dense: &qdrant.DenseVector{Data: slices.Clone(d)},
			}}
		}
		if s, ok := p.sparse[name]; ok {
			out[name] = &qdrant.VectorOutput{Vector: &qdrant.VectorOutput_Sparse{
				Sparse: &qdrant.SparseVector{Indices: slices.Clone(s.indices), Values: slices.Clone(s.values)},
			}}
		}
	}
	if v, ok := out[""]; ok && len(c.dense) == 1 && len(c.sparse) == 0 {
		return &qdrant.VectorsOutput{VectorsOptions: &qdrant.VectorsOutput_Vector{Vector: v}}
	}
	return &qdrant.VectorsOutput{VectorsOptions: &qdrant.VectorsOutput_Vectors{
		Vectors: &qdrant.NamedVectorsOutput{Vectors: out},
	}}
}
