package qdranttest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// collection is one stored collection. The server's mu guards it.
type collection struct {
	name string
	// dense maps vector names to their parameters; the unnamed vector of
	// a collection configured with plain params has the name "".
	dense  map[string]*qdrant.VectorParams
	sparse map[string]*qdrant.SparseVectorParams
	// indexes maps payload keys to their index schema.
	indexes map[string]*qdrant.PayloadSchemaInfo
	points  map[string]*point
}

// point is one stored point.
type point struct {
	id      *qdrant.PointId
	key     string
	payload map[string]*qdrant.Value
	dense   map[string][]float32
	sparse  map[string]sparseVector
}

// sparseVector is a sparse vector as stored: indices ascending and unique.
type sparseVector struct {
	indices []uint32
	values  []float32
}

// collectionLocked returns the named collection or Qdrant's NotFound
// error. The caller holds mu.
func (s *Server) collectionLocked(name string) (*collection, error) {
	c, ok := s.collections[name]
	if !ok {
		return nil, errCollectionNotFound(name)
	}
	return c, nil
}

// validCollectionName applies Qdrant's rules for collection names.
func validCollectionName(name string) error {
	if name == "" || len(name) > 255 {
		return status.Error(codes.InvalidArgument,
			"Validation error in body: [collection_name: length must be between 1 and 255]")
	}
	if i := strings.IndexAny(name, "<>:\"/\\|?*\x00\u001f"); i >= 0 {
		return status.Errorf(codes.InvalidArgument,
			"Validation error in body: [collection_name: Collection name cannot contain %q char]", name[i])
	}
	return nil
}

// List returns the names of every collection.
func (s *Server) List(context.Context, *qdrant.ListCollectionsRequest) (*qdrant.ListCollectionsResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := slices.Sorted(maps.Keys(s.collections))
	resp := &qdrant.ListCollectionsResponse{}
	for _, name := range names {
		resp.Collections = append(resp.Collections, &qdrant.CollectionDescription{Name: name})
	}
	return resp, nil
}

// CollectionExists reports whether a collection exists.
func (s *Server) CollectionExists(
	_ context.Context,
	req *qdrant.CollectionExistsRequest,
) (*qdrant.CollectionExistsResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.collections[req.GetCollectionName()]
	return &qdrant.CollectionExistsResponse{Result: &qdrant.CollectionExists{Exists: ok}}, nil
}

// Create creates a collection. An existing name fails with AlreadyExists,
// as Qdrant has answered since 1.8.
func (s *Server) Create(_ context.Context, req *qdrant.CreateCollection) (*qdrant.CollectionOperationResponse, error) {
	name := req.GetCollectionName()
	if err := validCollectionName(name); err != nil {
		return nil, err
	}
	c := &collection{
		name:    name,
		dense:   make(map[string]*qdrant.VectorParams),
		sparse:  make(map[string]*qdrant.SparseVectorParams),
		indexes: make(map[string]*qdrant.PayloadSchemaInfo),
		points:  make(map[string]*point),
	}
	switch cfg := req.GetVectorsConfig().GetConfig().(type) {
	case *qdrant.VectorsConfig_Params:
		c.dense[""] = cfg.Params
	case *qdrant.VectorsConfig_ParamsMap:
		for vname, params := range cfg.ParamsMap.GetMap() {
			c.dense[vname] = params
		}
	}
	for vname, params := range c.dense {
		if params.GetSize() == 0 {
			return nil, status.Errorf(codes.InvalidArgument,
				"Validation error in body: [vectors_config.%s.size: value 0 invalid, must be 1 or larger]", vname)
		}
		switch params.GetDistance() {
		case qdrant.Distance_Cosine, qdrant.Distance_Dot, qdrant.Distance_Euclid:
		default:
			return nil, errUnimplemented(fmt.Sprintf("distance %s", params.GetDistance()))
		}
		if params.MultivectorConfig != nil {
			return nil, errUnimplemented("multivectors")
		}
	}
	for vname, params := range req.GetSparseVectorsConfig().GetMap() {
		if _, clash := c.dense[vname]; clash {
			return nil, errWrongInput("Vector name %s is used for both dense and sparse vectors", vname)
		}
		c.sparse[vname] = params
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.collections[name]; ok {
		return nil, status.Errorf(codes.AlreadyExists, "Wrong input: Collection `%s` already exists!", name)
	}
	s.collections[name] = c
	return &qdrant.CollectionOperationResponse{Result: true}, nil
}

// Delete removes a collection; a missing one is not an error.
func (s *Server) Delete(_ context.Context, req *qdrant.DeleteCollection) (*qdrant.CollectionOperationResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.collections[req.GetCollectionName()]
	delete(s.collections, req.GetCollectionName())
	return &qdrant.CollectionOperationResponse{Result: ok}, nil
}

// Get describes a collection: its vectors, payload indexes and point
// count.
func (s *Server) Get(
	_ context.Context,
	req *qdrant.GetCollectionInfoRequest,
) (*qdrant.GetCollectionInfoResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.collectionLocked(req.GetCollectionName())
	if err != nil {
		return nil, err
	}

	params := &qdrant.CollectionParams{ShardNumber: 1, ReplicationFactor: qdrant.PtrOf(uint32(1))}
	if p, ok := c.dense[""]; ok && len(c.dense) == 1 {
		params.VectorsConfig = qdrant.NewVectorsConfig(proto.Clone(p).(*qdrant.VectorParams))
	} else if len(c.dense) > 0 {
		m := make(map[string]*qdrant.VectorParams, len(c.dense))
		for vname, p := range c.dense {
			m[vname] = proto.Clone(p).(*qdrant.VectorParams)
		}
		params.VectorsConfig = qdrant.NewVectorsConfigMap(m)
	}
	if len(c.sparse) > 0 {
		m := make(map[string]*qdrant.SparseVectorParams, len(c.sparse))
		for vname, p := range c.sparse {
			m[vname] = proto.Clone(p).(*qdrant.SparseVectorParams)
		}
		params.SparseVectorsConfig = qdrant.NewSparseVectorsConfig(m)
	}
	schema := make(map[string]*qdrant.PayloadSchemaInfo, len(c.indexes))
	for key, info := range c.indexes {
		info = proto.Clone(info).(*qdrant.PayloadSchemaInfo)
		info.Points = qdrant.PtrOf(uint64(c.indexedPoints(key)))
		schema[key] = info
	}
	return &qdrant.GetCollectionInfoResponse{Result: &qdrant.CollectionInfo{
		Status:        qdrant.CollectionStatus_Green,
		SegmentsCount: 1,
		Config:        &qdrant.CollectionConfig{Params: params},
		PayloadSchema: schema,
		PointsCount:   qdrant.PtrOf(uint64(len(c.points))),
	}}, nil
}

// indexedPoints counts the points with a value under key.
func (c *collection) indexedPoints(key string) int {
	n := 0
	for _, p := range c.points {
		if len(flatValues(payloadValues(p.payload, key))) > 0 {
			n++
		}
	}
	return n
}
