package index

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/keelhq/keel/services/retrieve/internal/hnsw"
)

// Graph files are named <tenant>.hnsw and sit beside the tenant's snapshot.
// They are written like snapshots, to a temporary file renamed over the old
// one, and hold the HNSW graph of each of the tenant's dense groups that
// has one. Every integer is little-endian.
//
//	magic        8 bytes "KEELGRPH"
//	version      uint32, 1
//	tenant       uint16 length, then the tenant id
//	groups       uint32
//	each group, in order of model and dimension:
//	  model      uint32 length, then the model name
//	  dim        uint32
//	  members    uint64, the number of vectors
//	  fingerprint uint64, the group's fingerprint (see denseGroup)
//	  size       uint64, the length of the graph that follows
//	  graph      size bytes written by hnsw.Index.WriteTo
//
// A graph is used only when its model, dimension, member count and
// fingerprint match the group the snapshot loads; hnsw checks the graph's
// own checksum.
const (
	graphExt         = ".hnsw"
	graphMagic       = "KEELGRPH"
	graphFileVersion = 1
	// maxGraphGroups and maxModelBytes bound what a damaged header can make
	// a reader allocate.
	maxGraphGroups = 1 << 16
	maxModelBytes  = 1 << 16
)

var (
	// errGraphCorrupt is reported for a graph file that cannot be read.
	errGraphCorrupt = errors.New("graph file corrupt")
	// errGraphMissing is reported when a group that needs a graph finds
	// none in the tenant's graph file.
	errGraphMissing = errors.New("graph missing")
	// errGraphStale is reported for a graph that does not hold the vectors
	// of the snapshot, as after a crash between writing the two files.
	errGraphStale = errors.New("graph out of date")
)

// savedGraph is one group's graph read from a graph file.
type savedGraph struct {
	members     uint64
	fingerprint uint64
	graph       *hnsw.Index
}

// graphHeader describes one group's graph about to be written.
type graphHeader struct {
	key         denseKey
	members     uint64
	fingerprint uint64
	graph       *hnsw.Index
}

// graphHeaders returns the groups of ti that have a graph, in file order.
// The caller holds mu.
func (ti *tenantIndex) graphHeaders() []graphHeader {
	var out []graphHeader
	for key, g := range ti.dense {
		if g.graph != nil {
			out = append(out, graphHeader{
				key:         key,
				members:     uint64(len(g.members)),
				fingerprint: g.fingerprint,
				graph:       g.graph,
			})
		}
	}
	slices.SortFunc(out, func(a, b graphHeader) int {
		return cmp.Or(cmp.Compare(a.key.model, b.key.model), cmp.Compare(a.key.dim, b.key.dim))
	})
	return out
}

// attachGraphs gives each group of ti that may have a graph (see
// syncGraph) its graph from saved when that holds exactly the group's
// vectors. It returns why a group large enough to need a graph got none,
// for the first such group; syncGraphs then builds it. The caller holds mu
// for writing or has not shared ti yet.
func (ti *tenantIndex) attachGraphs(saved map[denseKey]savedGraph) error {
	var problem error
	for key, g := range ti.dense {
		if len(g.members) < graphDropSize || g.unlinkable > 0 {
			continue
		}
		s, ok := saved[key]
		where := fmt.Sprintf("model %q, dimension %d", key.model, key.dim)
		switch {
		case ok && s.members == uint64(len(g.members)) && s.fingerprint == g.fingerprint &&
			s.graph.Len() == len(g.members) && s.graph.Dim() == key.dim:
			g.useGraph(s.graph)
			continue
		case !g.wantsGraph():
			continue
		case !ok:
			problem = cmp.Or(problem, fmt.Errorf("%s: %w", where, errGraphMissing))
		default:
			problem = cmp.Or(problem, fmt.Errorf("%s: %w", where, errGraphStale))
		}
	}
	return problem
}

// writeGraphFile writes the graphs of tenantID to dir atomically, or
// removes the tenant's graph file when it has no graph. Graphs may not
// change while it runs.
func writeGraphFile(dir, tenantID string, graphs []graphHeader) (err error) {
	path := filepath.Join(dir, tenantID+graphExt)
	if len(graphs) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove graph file of %s: %w", tenantID, err)
		}
		return nil
	}

	f, err := os.CreateTemp(dir, tenantID+".*"+snapshotTempExt)
	if err != nil {
		return fmt.Errorf("create graph file of %s: %w", tenantID, err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()

	if err := encodeGraphs(f, tenantID, graphs); err != nil {
		return fmt.Errorf("write graph file of %s: %w", tenantID, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync graph file of %s: %w", tenantID, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close graph file of %s: %w", tenantID, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("replace graph file of %s: %w", tenantID, err)
	}
	return nil
}

// encodeGraphs writes the content of a graph file to f. The size of each
// graph is known only once it is written, so it is filled in afterwards.
func encodeGraphs(f *os.File, tenantID string, graphs []graphHeader) error {
	w := bufio.NewWriterSize(f, 1<<16)
	var head []byte
	head = append(head, graphMagic...)
	head = binary.LittleEndian.AppendUint32(head, graphFileVersion)
	head = binary.LittleEndian.AppendUint16(head, uint16(len(tenantID)))
	head = append(head, tenantID...)
	head = binary.LittleEndian.AppendUint32(head, uint32(len(graphs)))
	if _, err := w.Write(head); err != nil {
		return err
	}
	offset := int64(len(head))

	for _, g := range graphs {
		head = head[:0]
		head = binary.LittleEndian.AppendUint32(head, uint32(len(g.key.model)))
		head = append(head, g.key.model...)
		head = binary.LittleEndian.AppendUint32(head, uint32(g.key.dim))
		head = binary.LittleEndian.AppendUint64(head, g.members)
		head = binary.LittleEndian.AppendUint64(head, g.fingerprint)
		sizeAt := offset + int64(len(head))
		head = binary.LittleEndian.AppendUint64(head, 0)
		if _, err := w.Write(head); err != nil {
			return err
		}
		size, err := g.graph.WriteTo(w)
		if err != nil {
			return err
		}
		if err := w.Flush(); err != nil {
			return err
		}
		if _, err := f.WriteAt(binary.LittleEndian.AppendUint64(nil, uint64(size)), sizeAt); err != nil {
			return err
		}
		offset += int64(len(head)) + size
	}
	return w.Flush()
}

// readGraphFile returns the graphs of tenantID's graph file in dir. It
// returns an error wrapping os.ErrNotExist when there is no file, and one
// wrapping errGraphCorrupt when the file cannot be read whole.
func readGraphFile(dir, tenantID string) (map[denseKey]savedGraph, error) {
	f, err := os.Open(filepath.Join(dir, tenantID+graphExt))
	if err != nil {
		return nil, fmt.Errorf("open graph file: %w", err)
	}
	defer f.Close()

	graphs, err := decodeGraphs(bufio.NewReaderSize(f, 1<<16), tenantID)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errGraphCorrupt, err)
	}
	return graphs, nil
}

// decodeGraphs reads the content of a graph file of tenantID from r.
func decodeGraphs(r *bufio.Reader, tenantID string) (map[denseKey]savedGraph, error) {
	magic := make([]byte, len(graphMagic))
	if _, err := io.ReadFull(r, magic); err != nil {
		return nil, err
	}
	if string(magic) != graphMagic {
		return nil, errors.New("not a graph file")
	}
	var version uint32
	var tenantLen uint16
	if err := readInts(r, &version, &tenantLen); err != nil {
		return nil, err
	}
	if version != graphFileVersion {
		return nil, fmt.Errorf("version %d, want %d", version, graphFileVersion)
	}
	owner := make([]byte, tenantLen)
	if _, err := io.ReadFull(r, owner); err != nil {
		return nil, err
	}
	if string(owner) != tenantID {
		return nil, fmt.Errorf("file holds tenant %q", owner)
	}
	var count uint32
	if err := readInts(r, &count); err != nil {
		return nil, err
	}
	if count > maxGraphGroups {
		return nil, fmt.Errorf("%d groups", count)
	}

	graphs := make(map[denseKey]savedGraph, count)
	for range count {
		key, saved, err := decodeGraph(r)
		if err != nil {
			return nil, err
		}
		graphs[key] = saved
	}
	if _, err := r.ReadByte(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the last graph")
	}
	return graphs, nil
}

// decodeGraph reads one group's graph.
func decodeGraph(r *bufio.Reader) (denseKey, savedGraph, error) {
	var modelLen uint32
	if err := readInts(r, &modelLen); err != nil {
		return denseKey{}, savedGraph{}, err
	}
	if modelLen > maxModelBytes {
		return denseKey{}, savedGraph{}, fmt.Errorf("model name of %d bytes", modelLen)
	}
	model := make([]byte, modelLen)
	if _, err := io.ReadFull(r, model); err != nil {
		return denseKey{}, savedGraph{}, err
	}
	var dim uint32
	var saved savedGraph
	var size uint64
	if err := readInts(r, &dim, &saved.members, &saved.fingerprint, &size); err != nil {
		return denseKey{}, savedGraph{}, err
	}

	saved.graph = new(hnsw.Index)
	if _, err := saved.graph.ReadFrom(io.LimitReader(r, int64(min(size, 1<<62)))); err != nil {
		return denseKey{}, savedGraph{}, err
	}
	return denseKey{model: string(model), dim: int(dim)}, saved, nil
}

// readInts reads little-endian fixed-size integers into each of values.
func readInts(r io.Reader, values ...any) error {
	for _, v := range values {
		if err := binary.Read(r, binary.LittleEndian, v); err != nil {
			return err
		}
	}
	return nil
}
