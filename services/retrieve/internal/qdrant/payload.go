package qdrant

import (
	"time"

	"github.com/google/uuid"
	"github.com/qdrant/go-client/qdrant"

	"github.com/keelhq/keel/services/retrieve/internal/store"
)

// Payload keys of a point. Every key Keel filters on has a payload index.
const (
	fieldTenant      = "tenant"
	fieldDocID       = "doc_id"
	fieldChunkID     = "chunk_id"
	fieldOrdinal     = "ordinal"
	fieldTitle       = "title"
	fieldText        = "text"
	fieldKind        = "kind"
	fieldSource      = "source"
	fieldACL         = "acl"
	fieldStart       = "start"
	fieldEnd         = "end"
	fieldHeadingPath = "heading_path"
	fieldHeader      = "header"
	fieldQuoted      = "quoted"
	fieldTags        = "tags"
	fieldCreated     = "created"
	fieldSubjects    = "subjects"
	fieldModel       = "model"
)

// pointNamespace is the namespace of Keel's name-based point ids.
var pointNamespace = uuid.MustParse("6b0f9f43-6c56-4a43-9d1e-8f5bb1f2a0c7")

// pointID returns the id of a chunk's point: a version 5 UUID of tenant,
// document and chunk id, so that replaying a batch overwrites the same
// points and two tenants never share one.
func pointID(tenantID, docID, chunkID string) *qdrant.PointId {
	name := tenantID + "\x00" + docID + "\x00" + chunkID
	return qdrant.NewIDUUID(uuid.NewSHA1(pointNamespace, []byte(name)).String())
}

// chunkPayload returns the payload of a chunk's point. A chunk without a
// creation time has no created key, so that a date range never matches
// it; empty lists are stored as empty arrays, which is_empty matches.
func chunkPayload(tenantID, docID string, c *store.Chunk) map[string]*qdrant.Value {
	p := map[string]*qdrant.Value{
		fieldTenant:      qdrant.NewValueString(tenantID),
		fieldDocID:       qdrant.NewValueString(docID),
		fieldChunkID:     qdrant.NewValueString(c.ID),
		fieldOrdinal:     qdrant.NewValueInt(int64(c.Ordinal)),
		fieldTitle:       qdrant.NewValueString(c.Title),
		fieldText:        qdrant.NewValueString(c.Text),
		fieldKind:        qdrant.NewValueString(c.Kind),
		fieldSource:      qdrant.NewValueString(c.Source),
		fieldACL:         stringList(c.ACL),
		fieldStart:       qdrant.NewValueInt(int64(c.Start)),
		fieldEnd:         qdrant.NewValueInt(int64(c.End)),
		fieldHeadingPath: stringList(c.HeadingPath),
		fieldHeader:      qdrant.NewValueString(c.Header),
		fieldQuoted:      qdrant.NewValueBool(c.Quoted),
		fieldTags:        stringList(c.Tags),
		fieldSubjects:    stringList(c.Subjects),
		fieldModel:       qdrant.NewValueString(c.Model),
	}
	if !c.Created.IsZero() {
		p[fieldCreated] = qdrant.NewValueString(c.Created.UTC().Format(time.RFC3339Nano))
	}
	return p
}

func stringList(values []string) *qdrant.Value {
	list := make([]*qdrant.Value, len(values))
	for i, v := range values {
		list[i] = qdrant.NewValueString(v)
	}
	return qdrant.NewValueFromList(list...)
}

// chunkFromPayload rebuilds a chunk, without its vector, from a point's
// payload. Keys that are missing or of another type leave zero values.
func chunkFromPayload(p map[string]*qdrant.Value) store.Chunk {
	c := store.Chunk{
		ID:          p[fieldChunkID].GetStringValue(),
		DocID:       p[fieldDocID].GetStringValue(),
		Ordinal:     int(p[fieldOrdinal].GetIntegerValue()),
		Title:       p[fieldTitle].GetStringValue(),
		Text:        p[fieldText].GetStringValue(),
		Kind:        p[fieldKind].GetStringValue(),
		Source:      p[fieldSource].GetStringValue(),
		ACL:         listStrings(p[fieldACL]),
		Model:       p[fieldModel].GetStringValue(),
		Start:       int(p[fieldStart].GetIntegerValue()),
		End:         int(p[fieldEnd].GetIntegerValue()),
		HeadingPath: listStrings(p[fieldHeadingPath]),
		Header:      p[fieldHeader].GetStringValue(),
		Quoted:      p[fieldQuoted].GetBoolValue(),
		Tags:        listStrings(p[fieldTags]),
		Subjects:    listStrings(p[fieldSubjects]),
	}
	if created := p[fieldCreated].GetStringValue(); created != "" {
		if t, err := time.Parse(time.RFC3339Nano, created); err == nil {
			c.Created = t
		}
	}
	return c
}

// listStrings returns the strings of a list value; nil for an empty or
// missing list, as the chunk had it.
func listStrings(v *qdrant.Value) []string {
	values := v.GetListValue().GetValues()
	if len(values) == 0 {
		return nil
	}
	out := make([]string, 0, len(values))
	for _, x := range values {
		out = append(out, x.GetStringValue())
	}
	return out
}
