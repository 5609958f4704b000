package qdrant

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/qdrant/go-client/qdrant"
)

// Names of the vectors of every Keel collection.
const (
	denseVector   = "dense"
	keywordVector = "keywords"
)

// keywordOnlySuffix names the collection of chunks without an embedding;
// it has the keyword vector only. A model collection always ends in
// "_<dimension>", so the name cannot clash with one.
const keywordOnlySuffix = "keyword_only"

// maxModelNameLen caps the model part of a collection name.
const maxModelNameLen = 64

// keywordIndexes are the payload keys Keel filters on by exact value.
var keywordIndexes = []string{fieldDocID, fieldKind, fieldSource, fieldTags, fieldACL, fieldSubjects, fieldModel}

// collectionInfo is a Keel collection as its name describes it.
type collectionInfo struct {
	name string
	// dim is the dimension of its dense vector; 0 for the keyword-only
	// collection.
	dim int
}

// collectionFor returns the collection of chunks embedded by model with
// dim dimensions: prefix, the model name lowercased with every run of
// other characters than a-z and 0-9 turned into one underscore, and the
// dimension. Two models may share a name this way; their chunks then
// share a collection and the model payload key tells them apart. A chunk
// without a vector goes to the keyword-only collection.
func (b *Backend) collectionFor(model string, dim int) collectionInfo {
	if dim == 0 {
		return collectionInfo{name: b.cfg.CollectionPrefix + keywordOnlySuffix}
	}
	return collectionInfo{name: b.cfg.CollectionPrefix + sanitizeModel(model) + "_" + strconv.Itoa(dim), dim: dim}
}

func sanitizeModel(model string) string {
	var sb strings.Builder
	underscore := false
	for _, r := range strings.ToLower(model) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			sb.WriteRune(r)
			underscore = false
			continue
		}
		if !underscore && sb.Len() > 0 {
			sb.WriteByte('_')
			underscore = true
		}
	}
	name := strings.TrimRight(sb.String(), "_")
	if len(name) > maxModelNameLen {
		name = strings.TrimRight(name[:maxModelNameLen], "_")
	}
	if name == "" {
		return "unnamed"
	}
	return name
}

// parseCollection reads a collection name Keel made; ok is false for
// names of other collections.
func (b *Backend) parseCollection(name string) (collectionInfo, bool) {
	rest, ok := strings.CutPrefix(name, b.cfg.CollectionPrefix)
	if !ok {
		return collectionInfo{}, false
	}
	if rest == keywordOnlySuffix {
		return collectionInfo{name: name}, true
	}
	cut := strings.LastIndexByte(rest, '_')
	if cut <= 0 {
		return collectionInfo{}, false
	}
	dim, err := strconv.Atoi(rest[cut+1:])
	if err != nil || dim <= 0 || strconv.Itoa(dim) != rest[cut+1:] {
		return collectionInfo{}, false
	}
	return collectionInfo{name: name, dim: dim}, true
}

// collections lists the Keel collections on the server. It asks Qdrant
// every time, so collections another process created are seen at once.
//
// TODO: cache the list for a second or two; each call is one round trip.
// TODO: bound the collections a producer can create: every new model name
// or dimension in a batch makes one, and every keyword search visits all.
func (b *Backend) collections(ctx context.Context) ([]collectionInfo, error) {
	names, err := b.client.ListCollections(ctx)
	if err != nil {
		return nil, callError(ctx, "list qdrant collections", err)
	}
	var out []collectionInfo
	for _, name := range names {
		if info, ok := b.parseCollection(name); ok {
			out = append(out, info)
		}
	}
	return out, nil
}

// ensureCollection creates a collection and its payload indexes unless
// this backend has done so already. Another process may create the same
// collection at the same moment: Qdrant then answers AlreadyExists, which
// is success, and the indexes are created again, which changes nothing.
func (b *Backend) ensureCollection(ctx context.Context, info collectionInfo) error {
	b.mu.Lock()
	ready := b.ready[info.name]
	b.mu.Unlock()
	if ready {
		return nil
	}

	create := &qdrant.CreateCollection{
		CollectionName: info.name,
		SparseVectorsConfig: qdrant.NewSparseVectorsConfig(map[string]*qdrant.SparseVectorParams{
			keywordVector: {Modifier: qdrant.Modifier_Idf.Enum()},
		}),
	}
	if info.dim > 0 {
		create.VectorsConfig = qdrant.NewVectorsConfigMap(map[string]*qdrant.VectorParams{
			denseVector: {Size: uint64(info.dim), Distance: qdrant.Distance_Cosine},
		})
	}
	if err := b.client.CreateCollection(ctx, create); err != nil && !isAlreadyExists(err) {
		return callError(ctx, fmt.Sprintf("create qdrant collection %s", info.name), err)
	}

	// The tenant index goes first: Qdrant lays out a collection by tenant
	// only for points written after it exists.
	indexes := []*qdrant.CreateFieldIndexCollection{{
		FieldName: fieldTenant,
		FieldType: qdrant.FieldType_FieldTypeKeyword.Enum(),
		FieldIndexParams: qdrant.NewPayloadIndexParamsKeyword(&qdrant.KeywordIndexParams{
			IsTenant: qdrant.PtrOf(true),
		}),
	}}
	for _, field := range keywordIndexes {
		indexes = append(indexes, &qdrant.CreateFieldIndexCollection{
			FieldName: field,
			FieldType: qdrant.FieldType_FieldTypeKeyword.Enum(),
		})
	}
	indexes = append(indexes, &qdrant.CreateFieldIndexCollection{
		FieldName: fieldCreated,
		FieldType: qdrant.FieldType_FieldTypeDatetime.Enum(),
	})
	for _, idx := range indexes {
		idx.CollectionName = info.name
		idx.Wait = qdrant.PtrOf(true)
		if _, err := b.client.CreateFieldIndex(ctx, idx); err != nil {
			return callError(ctx, fmt.Sprintf("index %s of qdrant collection %s", idx.FieldName, info.name), err)
		}
	}

	b.mu.Lock()
	b.ready[info.name] = true
	b.mu.Unlock()
	return nil
}
