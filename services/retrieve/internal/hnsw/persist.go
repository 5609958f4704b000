package hnsw

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"math/rand/v2"
)

// The file format, version 1. Every integer is little-endian.
//
//	magic           8 bytes "KEELHNSW"
//	version         uint32, 1
//	dim             uint32
//	M               uint32
//	EfConstruction  uint32
//	EfSearch        uint32
//	rng length      uint8, then that many bytes: the level generator's
//	                state (math/rand/v2 PCG.MarshalBinary)
//	nodes           uint32, live and deleted
//	entry           uint32, the entry point; noEntry when nodes is 0
//	nodes records, in node order:
//	  flags         uint8, bit 0 set for a deleted node
//	  level         uint8
//	  id length     uint16, then the id; 0 for a deleted node
//	  level 0 slot  2*M+1 uint32: count, then 2*M links, unused ones 0
//	  upper slots   level times M+1 uint32, for levels 1 to level
//	vectors         nodes*dim float32 (IEEE 754 bits), node after node
//	checksum        uint32, CRC-32 (Castagnoli) of every byte before it
//
// Link slots are written whole, so the memory a file makes ReadFrom
// allocate grows with the file's length and not with any count in it.
const (
	fileMagic   = "KEELHNSW"
	fileVersion = 1
	// noEntry is the entry of a file without nodes.
	noEntry = math.MaxUint32
	// flagDeleted marks a deleted node's record.
	flagDeleted = 1
	// maxRNGState bounds the stored generator state.
	maxRNGState = 64
	// unitTolerance is how far from 1 the squared norm of a stored vector
	// may be.
	unitTolerance = 1e-3
	// ioChunk is the size of the buffers for vectors and link slots.
	ioChunk = 64 << 10
)

var (
	// ErrCorrupt is returned by ReadFrom for input that is truncated,
	// fails its checksum, or does not describe a well-formed index.
	ErrCorrupt = errors.New("hnsw: corrupt index file")
	// ErrUnsupportedVersion is returned by ReadFrom for a file written in a
	// format version this package does not read; rebuild the index.
	ErrUnsupportedVersion = errors.New("hnsw: unsupported index file version")
)

// WriteTo writes the whole index to w, implementing io.WriterTo, and
// returns the number of bytes written. Searches may run meanwhile; Add and
// Delete wait. It returns the first error from w.
func (x *Index) WriteTo(w io.Writer) (int64, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	g := x.g

	state, err := x.levelSource.MarshalBinary()
	if err != nil {
		return 0, fmt.Errorf("write index: save level generator: %w", err)
	}
	e := &encoder{w: w, table: crc32.MakeTable(crc32.Castagnoli)}
	e.string(fileMagic)
	e.uint32(fileVersion)
	for _, v := range []int{g.dim, g.maxLinks, x.efConstruction, x.efSearch} {
		e.uint32(uint32(v))
	}
	e.uint8(uint8(len(state)))
	e.bytes(state)
	e.uint32(uint32(g.nodeCount()))
	entry := uint32(noEntry)
	if g.nodeCount() > 0 {
		entry = g.entry
	}
	e.uint32(entry)

	for n := range g.nodeCount() {
		node := uint32(n)
		var flags uint8
		if g.deleted[node] {
			flags = flagDeleted
		}
		e.uint8(flags)
		e.uint8(g.levels[node])
		e.uint16(uint16(len(g.ids[node])))
		e.string(g.ids[node])
		for level := range int(g.levels[node]) + 1 {
			for _, v := range g.slot(node, level) {
				e.uint32(v)
			}
		}
	}
	// The file keeps float32 components, so that its format does not
	// depend on how the graph holds them in memory.
	for _, page := range g.vectors {
		for _, v := range page {
			e.uint32(math.Float32bits(fromHalf(v)))
		}
	}

	if err := e.finish(); err != nil {
		return e.written, fmt.Errorf("write index: %w", err)
	}
	return e.written, nil
}

// ReadFrom replaces the whole index, its dimension and options included,
// by the one read from r, implementing io.ReaderFrom: it reads r to its end
// and returns the number of bytes read. On error the index is left as it
// was. It returns an error wrapping ErrCorrupt for input that is truncated,
// damaged or followed by more data, ErrUnsupportedVersion for another
// format version, or the error from r.
func (x *Index) ReadFrom(r io.Reader) (int64, error) {
	d := &decoder{r: bufio.NewReaderSize(r, ioChunk), table: crc32.MakeTable(crc32.Castagnoli)}
	loaded, err := d.index()
	if err != nil {
		return d.read, fmt.Errorf("read index: %w", err)
	}

	x.mu.Lock()
	defer x.mu.Unlock()
	x.g = loaded.g
	x.efConstruction = loaded.efConstruction
	x.efSearch = loaded.efSearch
	x.levelSource = loaded.levelSource
	x.rng = rand.New(loaded.levelSource)
	return d.read, nil
}

// encoder buffers little-endian values on their way to w, keeping the
// checksum of what it writes. After an error it writes nothing more.
type encoder struct {
	w       io.Writer
	table   *crc32.Table
	buf     []byte
	crc     uint32
	written int64
	err     error
}

func (e *encoder) uint8(v uint8) {
	e.buf = append(e.buf, v)
	e.flushIfFull()
}

func (e *encoder) uint16(v uint16) {
	e.buf = binary.LittleEndian.AppendUint16(e.buf, v)
	e.flushIfFull()
}

func (e *encoder) uint32(v uint32) {
	e.buf = binary.LittleEndian.AppendUint32(e.buf, v)
	e.flushIfFull()
}

func (e *encoder) bytes(b []byte) {
	e.buf = append(e.buf, b...)
	e.flushIfFull()
}

func (e *encoder) string(s string) {
	e.buf = append(e.buf, s...)
	e.flushIfFull()
}

// flushIfFull writes the buffer out once it holds ioChunk bytes.
func (e *encoder) flushIfFull() {
	if len(e.buf) >= ioChunk {
		e.flush()
	}
}

func (e *encoder) flush() {
	if e.err == nil {
		e.crc = crc32.Update(e.crc, e.table, e.buf)
		n, err := e.w.Write(e.buf)
		e.written += int64(n)
		e.err = err
	}
	e.buf = e.buf[:0]
}

// finish writes what is buffered and the checksum after it.
func (e *encoder) finish() error {
	e.flush()
	if e.err != nil {
		return e.err
	}
	trailer := binary.LittleEndian.AppendUint32(nil, e.crc)
	n, err := e.w.Write(trailer)
	e.written += int64(n)
	return err
}

// decoder reads little-endian values from r, keeping the checksum of what
// it reads.
type decoder struct {
	r     *bufio.Reader
	table *crc32.Table
	crc   uint32
	read  int64
	buf   []byte
}

// next returns the next n bytes, valid until the next call.
func (d *decoder) next(n int) ([]byte, error) {
	if cap(d.buf) < n {
		d.buf = make([]byte, n)
	}
	b := d.buf[:n]
	m, err := io.ReadFull(d.r, b)
	d.read += int64(m)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("%w: truncated after %d bytes", ErrCorrupt, d.read)
	}
	if err != nil {
		return nil, err
	}
	d.crc = crc32.Update(d.crc, d.table, b)
	return b, nil
}

func (d *decoder) uint8() (uint8, error) {
	b, err := d.next(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (d *decoder) uint16() (uint16, error) {
	b, err := d.next(2)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint16(b), nil
}

func (d *decoder) uint32() (uint32, error) {
	b, err := d.next(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

// uint32s appends n values to dst, reading at most ioChunk bytes at a time
// so that dst grows only as fast as input arrives.
func (d *decoder) uint32s(dst []uint32, n int) ([]uint32, error) {
	for n > 0 {
		batch := min(n, ioChunk/4)
		b, err := d.next(4 * batch)
		if err != nil {
			return dst, err
		}
		for i := range batch {
			dst = append(dst, binary.LittleEndian.Uint32(b[4*i:]))
		}
		n -= batch
	}
	return dst, nil
}

// loadedIndex is what a file holds.
type loadedIndex struct {
	g              *graph
	efConstruction int
	efSearch       int
	levelSource    *rand.PCG
}

// index decodes a whole file and checks it.
func (d *decoder) index() (*loadedIndex, error) {
	loaded, nodes, entry, err := d.header()
	if err != nil {
		return nil, err
	}
	g := loaded.g
	for n := range nodes {
		if err := d.node(g, n, nodes); err != nil {
			return nil, err
		}
	}
	if err := d.vectors(g); err != nil {
		return nil, err
	}

	if err := g.checkLinks(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if err := g.checkEntry(entry); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if err := d.trailer(); err != nil {
		return nil, err
	}
	return loaded, nil
}

// header decodes everything before the node records and returns an empty
// graph of the file's shape, the number of nodes and the entry point.
func (d *decoder) header() (*loadedIndex, int, uint32, error) {
	magic, err := d.next(len(fileMagic))
	if err != nil {
		return nil, 0, 0, err
	}
	if string(magic) != fileMagic {
		return nil, 0, 0, fmt.Errorf("%w: not an hnsw index file", ErrCorrupt)
	}
	version, err := d.uint32()
	if err != nil {
		return nil, 0, 0, err
	}
	if version != fileVersion {
		return nil, 0, 0, fmt.Errorf("%w: version %d, want %d",
			ErrUnsupportedVersion, version, fileVersion)
	}

	var shape [4]int
	for i := range shape {
		v, err := d.uint32()
		if err != nil {
			return nil, 0, 0, err
		}
		shape[i] = int(min(v, math.MaxInt32))
	}
	dim, m, efConstruction, efSearch := shape[0], shape[1], shape[2], shape[3]
	if err := validateShape(dim, m, efConstruction, efSearch); err != nil {
		return nil, 0, 0, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}

	levels, err := d.levelGenerator()
	if err != nil {
		return nil, 0, 0, err
	}
	nodes, err := d.uint32()
	if err != nil {
		return nil, 0, 0, err
	}
	if nodes > maxNodes {
		return nil, 0, 0, fmt.Errorf("%w: %d nodes", ErrCorrupt, nodes)
	}
	entry, err := d.uint32()
	if err != nil {
		return nil, 0, 0, err
	}

	// The graph starts without room for nodes: its slabs grow only as the
	// records filling them arrive (see reserve).
	loaded := &loadedIndex{
		g:              newGraph(dim, m, 0),
		efConstruction: efConstruction,
		efSearch:       efSearch,
		levelSource:    levels,
	}
	return loaded, int(nodes), entry, nil
}

// levelGenerator decodes the state of the generator of node levels.
func (d *decoder) levelGenerator() (*rand.PCG, error) {
	size, err := d.uint8()
	if err != nil {
		return nil, err
	}
	if size > maxRNGState {
		return nil, fmt.Errorf("%w: level generator state of %d bytes", ErrCorrupt, size)
	}
	state, err := d.next(int(size))
	if err != nil {
		return nil, err
	}
	levels := new(rand.PCG)
	if err := levels.UnmarshalBinary(state); err != nil {
		return nil, fmt.Errorf("%w: level generator: %w", ErrCorrupt, err)
	}
	return levels, nil
}

// node decodes the record of node n of nodes and appends it to g, links
// unchecked and vector not yet read.
func (d *decoder) node(g *graph, n, nodes int) error {
	flags, err := d.uint8()
	if err != nil {
		return err
	}
	level, err := d.uint8()
	if err != nil {
		return err
	}
	idLen, err := d.uint16()
	if err != nil {
		return err
	}
	if flags&^flagDeleted != 0 || level > levelCap {
		return fmt.Errorf("%w: node %d has flags %#x and level %d", ErrCorrupt, n, flags, level)
	}
	deleted := flags&flagDeleted != 0
	if deleted != (idLen == 0) {
		return fmt.Errorf("%w: node %d: a deleted node must have no id, a live one an id", ErrCorrupt, n)
	}
	idBytes, err := d.next(int(idLen))
	if err != nil {
		return err
	}
	id := string(idBytes)
	if _, dup := g.live[id]; dup && !deleted {
		return fmt.Errorf("%w: node %d repeats id %q", ErrCorrupt, n, id)
	}

	g.links0 = reserve(g.links0, g.maxLinks0+1, nodes*(g.maxLinks0+1))
	g.links0, err = d.uint32s(g.links0, g.maxLinks0+1)
	if err != nil {
		return err
	}
	var upper []uint32
	if level > 0 {
		upper, err = d.uint32s(make([]uint32, 0, int(level)*(g.maxLinks+1)), int(level)*(g.maxLinks+1))
		if err != nil {
			return err
		}
	}

	g.upper = append(g.upper, upper)
	g.levels = append(g.levels, level)
	g.ids = append(g.ids, id)
	g.deleted = append(g.deleted, deleted)
	if deleted {
		g.deletedCount++
	} else {
		g.live[id] = uint32(n)
	}
	return nil
}

// vectors decodes the vectors of every node of g and checks that each is a
// finite unit vector.
func (d *decoder) vectors(g *graph) error {
	// One node's vector at a time, so that a file claiming more nodes than
	// it holds fails on its first missing vector, not after allocating for
	// all of them.
	vec := make([]float32, g.dim)
	for range g.nodeCount() {
		b, err := d.next(4 * g.dim)
		if err != nil {
			return err
		}
		for i := range vec {
			vec[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		g.appendVector(vec, 1)
	}

	for n := range g.nodeCount() {
		var sum float64
		for _, h := range g.vector(uint32(n)) {
			v := fromHalf(h)
			sum += float64(v) * float64(v)
		}
		// NaN fails this test too, and an infinity makes sum infinite.
		if !(math.Abs(sum-1) <= unitTolerance) {
			return fmt.Errorf("%w: node %d has no unit vector", ErrCorrupt, n)
		}
	}
	return nil
}

// trailer checks the checksum and that nothing follows it.
func (d *decoder) trailer() error {
	want := d.crc
	got, err := d.uint32()
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%w: checksum %#08x, want %#08x", ErrCorrupt, got, want)
	}
	switch _, err := d.r.ReadByte(); {
	case err == nil:
		return fmt.Errorf("%w: data after the checksum", ErrCorrupt)
	case !errors.Is(err, io.EOF):
		return err
	}
	return nil
}

// checkLinks checks that every link slot of g counts no more links than its
// level allows, that each link names another node present on that level,
// and that unused places are zero.
func (g *graph) checkLinks() error {
	for n := range g.nodeCount() {
		node := uint32(n)
		for level := range int(g.levels[node]) + 1 {
			slot := g.slot(node, level)
			count := int(slot[0])
			if count > len(slot)-1 {
				return fmt.Errorf("node %d has %d links on level %d", n, count, level)
			}
			for i, nb := range slot[1:] {
				if i >= count {
					if nb != 0 {
						return fmt.Errorf("node %d has a stray link on level %d", n, level)
					}
					continue
				}
				if int(nb) >= g.nodeCount() || nb == node || int(g.levels[nb]) < level {
					return fmt.Errorf("node %d links to node %d on level %d", n, nb, level)
				}
			}
		}
	}
	return nil
}

// checkEntry checks entry, the entry point a file names, and sets it with
// the graph's top level.
func (g *graph) checkEntry(entry uint32) error {
	if g.nodeCount() == 0 {
		if entry != noEntry {
			return fmt.Errorf("entry point %d in an empty graph", entry)
		}
		return nil
	}
	if int64(entry) >= int64(g.nodeCount()) {
		return fmt.Errorf("entry point %d of %d nodes", entry, g.nodeCount())
	}
	top := 0
	for _, level := range g.levels {
		top = max(top, int(level))
	}
	if int(g.levels[entry]) != top {
		return fmt.Errorf("entry point %d is on level %d, the graph reaches %d",
			entry, g.levels[entry], top)
	}
	g.entry, g.maxLevel = entry, top
	return nil
}

// reserve returns s with room for need more elements. A slab that a file
// says will hold total elements grows by doubling from ioChunk elements up
// to exactly total, so beyond its first chunk it never holds more than
// twice what has been read into it, and it ends without spare capacity.
func reserve[E any](s []E, need, total int) []E {
	if len(s)+need <= cap(s) {
		return s
	}
	size := min(max(2*cap(s), len(s)+need, ioChunk), max(total, len(s)+need))
	grown := make([]E, len(s), size)
	copy(grown, s)
	return grown
}
