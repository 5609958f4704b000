package qdranttest

import (
	"cmp"
	"context"
	"maps"
	"math"
	"slices"

	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Qdrant's defaults for the limits of queries, prefetches and facets, and
// for the k of reciprocal rank fusion.
const (
	defaultLimit      = 10
	defaultFacetLimit = 10
	defaultRRFK       = 2
)

// pointsService implements the Points calls over the server's collections.
type pointsService struct {
	qdrant.UnimplementedPointsServer
	s *Server
}

func completed() *qdrant.PointsOperationResponse {
	return &qdrant.PointsOperationResponse{Result: &qdrant.UpdateResult{
		OperationId: qdrant.PtrOf(uint64(0)),
		Status:      qdrant.UpdateStatus_Completed,
	}}
}

// Upsert stores points, replacing whole points that exist. The batch is
// checked before any point is written.
func (ps *pointsService) Upsert(_ context.Context, req *qdrant.UpsertPoints) (*qdrant.PointsOperationResponse, error) {
	if req.UpdateFilter != nil || req.UpdateMode != nil {
		return nil, errUnimplemented("conditional upserts")
	}
	ps.s.mu.Lock()
	defer ps.s.mu.Unlock()
	c, err := ps.s.collectionLocked(req.GetCollectionName())
	if err != nil {
		return nil, err
	}

	batch := make([]*point, 0, len(req.GetPoints()))
	for _, in := range req.GetPoints() {
		p, err := c.newPoint(in)
		if err != nil {
			return nil, err
		}
		batch = append(batch, p)
	}
	for _, p := range batch {
		c.points[p.key] = p
	}
	return completed(), nil
}

// newPoint checks a point against the collection's vectors and returns it
// as stored: cosine vectors normalised, sparse vectors sorted.
func (c *collection) newPoint(in *qdrant.PointStruct) (*point, error) {
	key, err := pointKey(in.GetId())
	if err != nil {
		return nil, err
	}
	p := &point{
		id:      canonicalID(in.GetId()),
		key:     key,
		payload: clonePayload(in.GetPayload()),
		dense:   make(map[string][]float32),
		sparse:  make(map[string]sparseVector),
	}

	named := map[string]*qdrant.Vector{}
	switch v := in.GetVectors().GetVectorsOptions().(type) {
	case *qdrant.Vectors_Vector:
		named[""] = v.Vector
	case *qdrant.Vectors_Vectors:
		named = v.Vectors.GetVectors()
	}
	// Names in order, so that a point with several problems always
	// reports the same one.
	for _, name := range slices.Sorted(maps.Keys(named)) {
		vec := named[name]
		if params, ok := c.dense[name]; ok {
			data, err := denseData(vec)
			if err != nil {
				return nil, err
			}
			if len(data) != int(params.GetSize()) {
				return nil, errDimension(int(params.GetSize()), len(data))
			}
			p.dense[name] = prepareDense(data, params.GetDistance())
			continue
		}
		if _, ok := c.sparse[name]; ok {
			sv, err := sparseData(vec.GetSparse())
			if err != nil {
				return nil, err
			}
			p.sparse[name] = sv
			continue
		}
		return nil, errVectorName(name)
	}
	return p, nil
}

// denseData returns the values of a dense vector. Qdrant 1.17 reads only
// the typed oneof, so the deprecated data field counts as no values.
func denseData(v *qdrant.Vector) ([]float32, error) {
	switch v.GetVector().(type) {
	case *qdrant.Vector_Dense, nil:
		return v.GetDense().GetData(), nil
	case *qdrant.Vector_Sparse:
		return nil, errWrongInput("Conversion between sparse and regular vectors failed")
	default:
		return nil, errUnimplemented("multi-vectors and inference inputs")
	}
}

// sparseData checks a sparse vector and sorts it by index.
func sparseData(v *qdrant.SparseVector) (sparseVector, error) {
	if v == nil {
		return sparseVector{}, errWrongInput("Conversion between sparse and regular vectors failed")
	}
	if len(v.GetIndices()) != len(v.GetValues()) {
		return sparseVector{}, status.Error(codes.InvalidArgument,
			"Validation error in body: [sparse vector: indices and values must have the same length]")
	}
	order := make([]int, len(v.GetIndices()))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(v.GetIndices()[a], v.GetIndices()[b]) })
	sv := sparseVector{}
	for n, i := range order {
		if n > 0 && v.GetIndices()[i] == sv.indices[n-1] {
			return sparseVector{}, status.Error(codes.InvalidArgument,
				"Validation error in body: [sparse vector: indices must be unique]")
		}
		sv.indices = append(sv.indices, v.GetIndices()[i])
		sv.values = append(sv.values, v.GetValues()[i])
	}
	return sv, nil
}

// prepareDense normalises a cosine vector to unit length, as Qdrant does
// on upsert and for queries.
func prepareDense(data []float32, distance qdrant.Distance) []float32 {
	out := slices.Clone(data)
	if distance != qdrant.Distance_Cosine {
		return out
	}
	var sum float64
	for _, x := range out {
		sum += float64(x) * float64(x)
	}
	if sum == 0 {
		return out
	}
	norm := float32(math.Sqrt(sum))
	for i := range out {
		out[i] /= norm
	}
	return out
}

func clonePayload(in map[string]*qdrant.Value) map[string]*qdrant.Value {
	out := make(map[string]*qdrant.Value, len(in))
	for k, v := range in {
		out[k] = proto.Clone(v).(*qdrant.Value)
	}
	return out
}

// Delete removes the points named by id or matching a filter.
func (ps *pointsService) Delete(_ context.Context, req *qdrant.DeletePoints) (*qdrant.PointsOperationResponse, error) {
	ps.s.mu.Lock()
	defer ps.s.mu.Unlock()
	c, err := ps.s.collectionLocked(req.GetCollectionName())
	if err != nil {
		return nil, err
	}

	switch sel := req.GetPoints().GetPointsSelectorOneOf().(type) {
	case *qdrant.PointsSelector_Points:
		for _, id := range sel.Points.GetIds() {
			key, err := pointKey(id)
			if err != nil {
				return nil, err
			}
			delete(c.points, key)
		}
	case *qdrant.PointsSelector_Filter:
		if err := validateFilter(sel.Filter); err != nil {
			return nil, err
		}
		for key, p := range c.points {
			if checkFilter(sel.Filter, p) {
				delete(c.points, key)
			}
		}
	default:
		return nil, status.Error(codes.InvalidArgument, "Validation error in body: [points: points selector is empty]")
	}
	return completed(), nil
}

// Count counts the points matching a filter; counts are always exact.
func (ps *pointsService) Count(_ context.Context, req *qdrant.CountPoints) (*qdrant.CountResponse, error) {
	if err := validateFilter(req.GetFilter()); err != nil {
		return nil, err
	}
	ps.s.mu.Lock()
	defer ps.s.mu.Unlock()
	c, err := ps.s.collectionLocked(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	n := 0
	for _, p := range c.points {
		if checkFilter(req.GetFilter(), p) {
			n++
		}
	}
	return &qdrant.CountResponse{Result: &qdrant.CountResult{Count: uint64(n)}}, nil
}

// fieldSchemaTypes maps index field types to the schema types Get reports.
var fieldSchemaTypes = map[qdrant.FieldType]qdrant.PayloadSchemaType{
	qdrant.FieldType_FieldTypeKeyword:  qdrant.PayloadSchemaType_Keyword,
	qdrant.FieldType_FieldTypeInteger:  qdrant.PayloadSchemaType_Integer,
	qdrant.FieldType_FieldTypeFloat:    qdrant.PayloadSchemaType_Float,
	qdrant.FieldType_FieldTypeGeo:      qdrant.PayloadSchemaType_Geo,
	qdrant.FieldType_FieldTypeText:     qdrant.PayloadSchemaType_Text,
	qdrant.FieldType_FieldTypeBool:     qdrant.PayloadSchemaType_Bool,
	qdrant.FieldType_FieldTypeDatetime: qdrant.PayloadSchemaType_Datetime,
	qdrant.FieldType_FieldTypeUuid:     qdrant.PayloadSchemaType_Uuid,
}

// CreateFieldIndex creates or replaces the payload index of a key.
// Creating the same index again changes nothing.
func (ps *pointsService) CreateFieldIndex(
	_ context.Context,
	req *qdrant.CreateFieldIndexCollection,
) (*qdrant.PointsOperationResponse, error) {
	if req.FieldType == nil {
		return nil, errWrongInput("Field type is required to create the index of %s", req.GetFieldName())
	}
	schemaType, ok := fieldSchemaTypes[req.GetFieldType()]
	if !ok {
		return nil, errWrongInput("Unknown field type %d", req.GetFieldType())
	}
	if err := checkIndexParams(req.GetFieldType(), req.GetFieldIndexParams()); err != nil {
		return nil, err
	}
	ps.s.mu.Lock()
	defer ps.s.mu.Unlock()
	c, err := ps.s.collectionLocked(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	info := &qdrant.PayloadSchemaInfo{DataType: schemaType}
	if req.FieldIndexParams != nil {
		info.Params = proto.Clone(req.FieldIndexParams).(*qdrant.PayloadIndexParams)
	}
	c.indexes[req.GetFieldName()] = info
	return completed(), nil
}

// checkIndexParams rejects index parameters of another type than the
// field's.
func checkIndexParams(ft qdrant.FieldType, params *qdrant.PayloadIndexParams) error {
	if params == nil {
		return nil
	}
	var match bool
	switch params.GetIndexParams().(type) {
	case *qdrant.PayloadIndexParams_KeywordIndexParams:
		match = ft == qdrant.FieldType_FieldTypeKeyword
	case *qdrant.PayloadIndexParams_IntegerIndexParams:
		match = ft == qdrant.FieldType_FieldTypeInteger
	case *qdrant.PayloadIndexParams_FloatIndexParams:
		match = ft == qdrant.FieldType_FieldTypeFloat
	case *qdrant.PayloadIndexParams_GeoIndexParams:
		match = ft == qdrant.FieldType_FieldTypeGeo
	case *qdrant.PayloadIndexParams_TextIndexParams:
		match = ft == qdrant.FieldType_FieldTypeText
	case *qdrant.PayloadIndexParams_BoolIndexParams:
		match = ft == qdrant.FieldType_FieldTypeBool
	case *qdrant.PayloadIndexParams_DatetimeIndexParams:
		match = ft == qdrant.FieldType_FieldTypeDatetime
	case *qdrant.PayloadIndexParams_UuidIndexParams:
		match = ft == qdrant.FieldType_FieldTypeUuid
	}
	if !match {
		return errWrongInput("Index params do not match field type %s", ft)
	}
	return nil
}

// Facet counts, for each value of an indexed keyword, integer or bool key,
// the points matching the filter that hold it; most frequent first.
func (ps *pointsService) Facet(_ context.Context, req *qdrant.FacetCounts) (*qdrant.FacetResponse, error) {
	if err := validateFilter(req.GetFilter()); err != nil {
		return nil, err
	}
	if req.Limit != nil && req.GetLimit() == 0 {
		return nil, status.Error(codes.InvalidArgument,
			"Validation error in body: [limit: value 0 invalid, must be 1 or larger]")
	}
	ps.s.mu.Lock()
	defer ps.s.mu.Unlock()
	c, err := ps.s.collectionLocked(req.GetCollectionName())
	if err != nil {
		return nil, err
	}
	key := req.GetKey()
	index := c.indexes[key]
	switch index.GetDataType() {
	case qdrant.PayloadSchemaType_Keyword, qdrant.PayloadSchemaType_Integer, qdrant.PayloadSchemaType_Bool:
	default:
		return nil, status.Errorf(codes.InvalidArgument, "Bad request: Index required but not found for \"%s\" "+
			"of one of the following types: [keyword, integer, bool]. "+
			"Help: Create an index for this key or use a different filter.", key)
	}

	type facetKey struct {
		kind string
		s    string
		n    int64
		b    bool
	}
	wantKind := map[qdrant.PayloadSchemaType]string{
		qdrant.PayloadSchemaType_Keyword: "s",
		qdrant.PayloadSchemaType_Integer: "n",
		qdrant.PayloadSchemaType_Bool:    "b",
	}[index.GetDataType()]
	counts := map[facetKey]uint64{}
	for _, p := range c.points {
		if !checkFilter(req.GetFilter(), p) {
			continue
		}
		seen := map[facetKey]bool{}
		for _, v := range flatValues(payloadValues(p.payload, key)) {
			var k facetKey
			switch x := v.GetKind().(type) {
			case *qdrant.Value_StringValue:
				k = facetKey{kind: "s", s: x.StringValue}
			case *qdrant.Value_IntegerValue:
				k = facetKey{kind: "n", n: x.IntegerValue}
			case *qdrant.Value_BoolValue:
				k = facetKey{kind: "b", b: x.BoolValue}
			default:
				continue
			}
			if k.kind != wantKind || seen[k] {
				continue
			}
			seen[k] = true
			counts[k]++
		}
	}

	keys := slices.Collect(maps.Keys(counts))
	slices.SortFunc(keys, func(a, b facetKey) int {
		return cmp.Or(
			cmp.Compare(counts[b], counts[a]),
			cmp.Compare(a.s, b.s),
			cmp.Compare(a.n, b.n),
			boolCompare(a.b, b.b),
		)
	})
	limit := defaultFacetLimit
	if req.Limit != nil {
		limit = int(min(req.GetLimit(), math.MaxInt32))
	}
	resp := &qdrant.FacetResponse{}
	for _, k := range keys[:min(limit, len(keys))] {
		hit := &qdrant.FacetHit{Count: counts[k]}
		switch k.kind {
		case "s":
			hit.Value = &qdrant.FacetValue{Variant: &qdrant.FacetValue_StringValue{StringValue: k.s}}
		case "n":
			hit.Value = &qdrant.FacetValue{Variant: &qdrant.FacetValue_IntegerValue{IntegerValue: k.n}}
		case "b":
			hit.Value = &qdrant.FacetValue{Variant: &qdrant.FacetValue_BoolValue{BoolValue: k.b}}
		}
		resp.Hits = append(resp.Hits, hit)
	}
	return resp, nil
}

func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	default:
		return 1
	}
}
