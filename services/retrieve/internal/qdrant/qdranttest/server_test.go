package qdranttest_test

import (
	"context"
	"errors"
	"math"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/keelhq/keel/services/retrieve/internal/qdrant/qdranttest"
)

func connect(t *testing.T, srv *qdranttest.Server, apiKey string) *qdrant.Client {
	t.Helper()
	host, portText, err := net.SplitHostPort(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(portText)
	// The key goes in by interceptor: the go-client's own warns on every
	// connection without TLS.
	withKey := func(
		ctx context.Context, method string, req, reply any,
		cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption,
	) error {
		if apiKey != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "api-key", apiKey)
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	c, err := qdrant.NewClient(&qdrant.Config{
		Host: host, Port: port, PoolSize: 1, SkipCompatibilityCheck: true,
		GrpcOptions: []grpc.DialOption{grpc.WithChainUnaryInterceptor(withKey)},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// setup creates collection "c" with a 2-dimensional cosine vector "d" and
// an IDF sparse vector "s", and stores points.
func setup(t *testing.T, c *qdrant.Client, points ...*qdrant.PointStruct) {
	t.Helper()
	ctx := context.Background()
	err := c.CreateCollection(ctx, &qdrant.CreateCollection{
		CollectionName: "c",
		VectorsConfig: qdrant.NewVectorsConfigMap(map[string]*qdrant.VectorParams{
			"d": {Size: 2, Distance: qdrant.Distance_Cosine},
		}),
		SparseVectorsConfig: qdrant.NewSparseVectorsConfig(map[string]*qdrant.SparseVectorParams{
			"s": {Modifier: qdrant.Modifier_Idf.Enum()},
		}),
	})
	if err != nil {
		t.Fatalf("CreateCollection: %v", err)
	}
	if len(points) == 0 {
		return
	}
	if _, err := c.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: "c", Points: points}); err != nil {
		t.Fatalf("Upsert: %v", err)
	}
}

func pt(id uint64, group string, dense []float32, idx []uint32, vals []float32) *qdrant.PointStruct {
	vectors := map[string]*qdrant.Vector{}
	if dense != nil {
		vectors["d"] = qdrant.NewVectorDense(dense)
	}
	if idx != nil {
		vectors["s"] = qdrant.NewVectorSparse(idx, vals)
	}
	return &qdrant.PointStruct{
		Id:      qdrant.NewIDNum(id),
		Payload: qdrant.NewValueMap(map[string]any{"group": group}),
		Vectors: qdrant.NewVectorsMap(vectors),
	}
}

func wantStatus(t *testing.T, err error, code codes.Code, msg string) {
	t.Helper()
	// The go-client wraps the status; its message is the server's.
	var se interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &se) || se.GRPCStatus().Code() != code || (msg != "" && se.GRPCStatus().Message() != msg) {
		t.Errorf("got %v, want %s %q", err, code, msg)
	}
}

func ids(points []*qdrant.ScoredPoint) []uint64 {
	out := make([]uint64, len(points))
	for i, p := range points {
		out[i] = p.GetId().GetNum()
	}
	return out
}

func TestErrors(t *testing.T) {
	t.Parallel()
	srv := qdranttest.Start(t)
	c := connect(t, srv, "")
	ctx := context.Background()
	setup(t, c)

	err := c.CreateCollection(ctx, &qdrant.CreateCollection{CollectionName: "c"})
	wantStatus(t, err, codes.AlreadyExists, "Wrong input: Collection `c` already exists!")

	_, err = c.Count(ctx, &qdrant.CountPoints{CollectionName: "nope"})
	wantStatus(t, err, codes.NotFound, "Not found: Collection `nope` doesn't exist!")
	_, err = c.Query(ctx, &qdrant.QueryPoints{CollectionName: "nope", Query: qdrant.NewQueryDense([]float32{1, 0})})
	wantStatus(t, err, codes.NotFound, "Not found: Collection `nope` doesn't exist!")

	_, err = c.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: "c", Points: []*qdrant.PointStruct{
		pt(1, "a", []float32{1, 0, 0}, nil, nil),
	}})
	wantStatus(t, err, codes.InvalidArgument, "Wrong input: Vector dimension error: expected dim: 2, got 3")

	_, err = c.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: "c", Points: []*qdrant.PointStruct{{
		Id:      qdrant.NewIDNum(1),
		Vectors: qdrant.NewVectorsMap(map[string]*qdrant.Vector{"x": qdrant.NewVectorDense([]float32{1, 0})}),
	}}})
	wantStatus(t, err, codes.InvalidArgument, "Wrong input: Not existing vector name error: x")

	// Qdrant 1.17 reads only the typed oneof of a vector.
	_, err = c.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: "c", Points: []*qdrant.PointStruct{{
		Id:      qdrant.NewIDNum(1),
		Vectors: qdrant.NewVectorsMap(map[string]*qdrant.Vector{"d": {Data: []float32{1, 0}}}),
	}}})
	wantStatus(t, err, codes.InvalidArgument, "Wrong input: Vector dimension error: expected dim: 2, got 0")

	_, err = c.Query(ctx, &qdrant.QueryPoints{
		CollectionName: "c", Query: qdrant.NewQueryDense([]float32{1}), Using: qdrant.PtrOf("d"),
	})
	wantStatus(t, err, codes.InvalidArgument, "Wrong input: Vector dimension error: expected dim: 2, got 1")
	_, err = c.Query(ctx, &qdrant.QueryPoints{
		CollectionName: "c", Query: qdrant.NewQueryDense([]float32{1, 0}), Using: qdrant.PtrOf("e"),
	})
	wantStatus(t, err, codes.InvalidArgument, "Wrong input: Not existing vector name error: e")

	_, err = c.Facet(ctx, &qdrant.FacetCounts{CollectionName: "c", Key: "group"})
	wantStatus(t, err, codes.InvalidArgument, "")

	_, err = c.Upsert(ctx, &qdrant.UpsertPoints{CollectionName: "c", Points: []*qdrant.PointStruct{
		pt(1, "a", nil, []uint32{3, 3}, []float32{1, 1}),
	}})
	wantStatus(t, err, codes.InvalidArgument, "")
	if n, _ := c.Count(ctx, &qdrant.CountPoints{CollectionName: "c"}); n != 0 {
		t.Errorf("refused upserts stored %d points", n)
	}
}

func TestAPIKey(t *testing.T) {
	t.Parallel()
	srv := qdranttest.Start(t, qdranttest.WithAPIKey("k"))
	ctx := context.Background()

	_, err := connect(t, srv, "").ListCollections(ctx)
	wantStatus(t, err, codes.PermissionDenied, "Must provide an API key or an Authorization bearer token")
	_, err = connect(t, srv, "bad").ListCollections(ctx)
	wantStatus(t, err, codes.PermissionDenied, "Invalid API key or JWT")
	if _, err := connect(t, srv, "k").ListCollections(ctx); err != nil {
		t.Errorf("right key: %v", err)
	}
	if _, err := connect(t, srv, "").HealthCheck(ctx); err != nil {
		t.Errorf("health check needs no key: %v", err)
	}
}

func TestCosineNormalisedOnUpsert(t *testing.T) {
	t.Parallel()
	c := connect(t, qdranttest.Start(t), "")
	setup(t, c, pt(1, "a", []float32{3, 4}, nil, nil))

	got, err := c.Query(context.Background(), &qdrant.QueryPoints{
		CollectionName: "c",
		Query:          qdrant.NewQueryDense([]float32{10, 0}),
		Using:          qdrant.PtrOf("d"),
		WithVectors:    qdrant.NewWithVectorsInclude("d"),
	})
	if err != nil || len(got) != 1 {
		t.Fatalf("Query: %v, %v", got, err)
	}
	if math.Abs(float64(got[0].GetScore())-0.6) > 1e-6 {
		t.Errorf("score %v, want the cosine 0.6", got[0].GetScore())
	}
	stored := got[0].GetVectors().GetVectors().GetVectors()["d"].GetDense().GetData()
	if diff := cmp.Diff([]float32{0.6, 0.8}, stored); diff != "" {
		t.Errorf("stored vector (-want +got):\n%s", diff)
	}
	if got[0].GetPayload() != nil {
		t.Errorf("payload returned without with_payload")
	}
}

func TestSparseIDF(t *testing.T) {
	t.Parallel()
	c := connect(t, qdranttest.Start(t), "")
	// Index 1 is in every point, index 2 in one of four.
	setup(t, c,
		pt(1, "a", nil, []uint32{1, 2}, []float32{1, 2}),
		pt(2, "a", nil, []uint32{1}, []float32{1}),
		pt(3, "a", nil, []uint32{1}, []float32{1}),
		pt(4, "a", nil, []uint32{1, 9}, []float32{1, 1}),
		pt(5, "a", []float32{1, 0}, nil, nil))

	got, err := c.Query(context.Background(), &qdrant.QueryPoints{
		CollectionName: "c",
		Query:          qdrant.NewQuerySparse([]uint32{2, 1}, []float32{1, 0.5}),
		Using:          qdrant.PtrOf("s"),
	})
	if err != nil {
		t.Fatal(err)
	}
	idf := func(n float64) float64 { return math.Log((4-n+0.5)/(n+0.5) + 1) }
	want := map[uint64]float64{1: 2*idf(1) + 0.5*idf(4), 2: 0.5 * idf(4), 3: 0.5 * idf(4), 4: 0.5 * idf(4)}
	if diff := cmp.Diff([]uint64{1, 2, 3, 4}, ids(got)); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
	for _, p := range got {
		if math.Abs(float64(p.GetScore())-want[p.GetId().GetNum()]) > 1e-5 {
			t.Errorf("point %d score %v, want %v", p.GetId().GetNum(), p.GetScore(), want[p.GetId().GetNum()])
		}
	}
}

func TestFusionAndPrefetch(t *testing.T) {
	t.Parallel()
	c := connect(t, qdranttest.Start(t), "")
	setup(t, c,
		pt(1, "a", []float32{1, 0}, []uint32{7}, []float32{1}),
		pt(2, "a", []float32{0.8, 0.6}, []uint32{7}, []float32{2}),
		pt(3, "b", []float32{0.99, 0.01}, []uint32{7}, []float32{5}),
		pt(4, "a", []float32{0, 1}, nil, nil))
	ctx := context.Background()
	groupA := &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatch("group", "a")}}

	// Dense ranks 1, 2, 4; sparse ranks 2, 1: RRF with k 2 gives 2 and 1
	// 1/2 + 1/3 each, 4 1/4.
	got, err := c.Query(ctx, &qdrant.QueryPoints{
		CollectionName: "c",
		Prefetch: []*qdrant.PrefetchQuery{
			{Query: qdrant.NewQueryDense([]float32{1, 0}), Using: qdrant.PtrOf("d"), Filter: groupA},
			{Query: qdrant.NewQuerySparse([]uint32{7}, []float32{1}), Using: qdrant.PtrOf("s"), Filter: groupA},
		},
		Query: qdrant.NewQueryFusion(qdrant.Fusion_RRF),
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]uint64{1, 2, 4}, ids(got)); diff != "" {
		t.Errorf("RRF ids (-want +got):\n%s", diff)
	}
	wantScores := []float32{1.0/2 + 1.0/3, 1.0/2 + 1.0/3, 1.0 / 4}
	for i, p := range got {
		if math.Abs(float64(p.GetScore()-wantScores[i])) > 1e-6 {
			t.Errorf("RRF score %d: %v, want %v", i, p.GetScore(), wantScores[i])
		}
	}

	// A prefetch limit cuts its ranking before fusion; k is a parameter;
	// the root filter reaches the prefetches below it.
	got, err = c.Query(ctx, &qdrant.QueryPoints{
		CollectionName: "c",
		Prefetch: []*qdrant.PrefetchQuery{
			{Query: qdrant.NewQueryDense([]float32{1, 0}), Using: qdrant.PtrOf("d"), Limit: qdrant.PtrOf(uint64(1))},
		},
		Query:  qdrant.NewQueryRRF(&qdrant.Rrf{K: qdrant.PtrOf(uint32(61))}),
		Filter: groupA,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].GetId().GetNum() != 1 || math.Abs(float64(got[0].GetScore())-1.0/61) > 1e-7 {
		t.Errorf("limited prefetch under a root filter: %v", got)
	}

	// Weighted RRF needs a weight per prefetch.
	_, err = c.Query(ctx, &qdrant.QueryPoints{
		CollectionName: "c",
		Prefetch: []*qdrant.PrefetchQuery{
			{Query: qdrant.NewQueryDense([]float32{1, 0}), Using: qdrant.PtrOf("d")},
		},
		Query: qdrant.NewQueryRRF(&qdrant.Rrf{Weights: []float32{1, 2}}),
	})
	wantStatus(t, err, codes.InvalidArgument, "")
}

func TestFacetAndCount(t *testing.T) {
	t.Parallel()
	c := connect(t, qdranttest.Start(t), "")
	setup(t, c,
		pt(1, "a", []float32{1, 0}, nil, nil),
		pt(2, "a", []float32{1, 0}, nil, nil),
		pt(3, "b", []float32{1, 0}, nil, nil),
		pt(4, "c", []float32{1, 0}, nil, nil))
	ctx := context.Background()
	_, err := c.CreateFieldIndex(ctx, &qdrant.CreateFieldIndexCollection{
		CollectionName: "c", FieldName: "group", FieldType: qdrant.FieldType_FieldTypeKeyword.Enum(),
	})
	if err != nil {
		t.Fatal(err)
	}

	hits, err := c.Facet(ctx, &qdrant.FacetCounts{
		CollectionName: "c", Key: "group", Limit: qdrant.PtrOf(uint64(2)),
		Filter: &qdrant.Filter{MustNot: []*qdrant.Condition{qdrant.NewHasID(qdrant.NewIDNum(4))}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range hits {
		got = append(got, h.GetValue().GetStringValue()+":"+strconv.FormatUint(h.GetCount(), 10))
	}
	if diff := cmp.Diff([]string{"a:2", "b:1"}, got); diff != "" {
		t.Errorf("facet (-want +got):\n%s", diff)
	}

	n, err := c.Count(ctx, &qdrant.CountPoints{
		CollectionName: "c",
		Filter:         &qdrant.Filter{Must: []*qdrant.Condition{qdrant.NewMatchKeywords("group", "a", "c")}},
	})
	if err != nil || n != 3 {
		t.Errorf("Count: %d, %v; want 3", n, err)
	}
	if _, err := c.Delete(ctx, &qdrant.DeletePoints{
		CollectionName: "c", Points: qdrant.NewPointsSelector(qdrant.NewIDNum(1), qdrant.NewIDNum(9)),
	}); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.Count(ctx, &qdrant.CountPoints{CollectionName: "c"}); n != 3 {
		t.Errorf("after deleting by id: %d points, want 3", n)
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	srv := qdranttest.Start(t)
	c := connect(t, srv, "")
	ctx := context.Background()

	srv.FailNext(qdrant.Collections_List_FullMethodName, 2, codes.Unavailable)
	for range 2 {
		_, err := c.ListCollections(ctx)
		wantStatus(t, err, codes.Unavailable, "")
	}
	if _, err := c.ListCollections(ctx); err != nil {
		t.Errorf("after the faults: %v", err)
	}

	srv.SetDelay(time.Minute)
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	_, err := c.ListCollections(short)
	if status.Code(err) != codes.DeadlineExceeded && !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow call: got %v, want DeadlineExceeded", err)
	}
	srv.SetDelay(0)

	var methods []string
	for _, r := range srv.Requests() {
		methods = append(methods, r.Method)
	}
	want := []string{
		qdrant.Collections_List_FullMethodName, qdrant.Collections_List_FullMethodName,
		qdrant.Collections_List_FullMethodName, qdrant.Collections_List_FullMethodName,
	}
	if diff := cmp.Diff(want, methods); diff != "" {
		t.Errorf("recorded (-want +got):\n%s", diff)
	}
}
