package index

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"time"
)

// The snapshot format from version 2 on. Gob, which version 1 used, spends
// most of a save encoding vectors one float at a time; this format writes
// them as raw little-endian words and everything else length-prefixed:
//
//	magic "KEELSNAP", version uint32, tenant string, chunks uvarint,
//	then per chunk: id, doc id, title, text, kind, source, model, header
//	(strings), ordinal, start, end (varints), ACL, heading path, tags,
//	subjects (string lists), flags byte (1 quoted, 2 created set),
//	created (int64 Unix nanoseconds, only when set), vector (uvarint
//	length and float32 words),
//
// and a CRC-32C of everything before it. A string is a uvarint length and
// its bytes; a list is a uvarint count and its strings. The reader never
// trusts a length beyond what the file can still hold.
const (
	snapshotMagic = "KEELSNAP"
	// snapshotFormat is the version this file writes; snapshotVersion (1)
	// is the gob format, still read.
	snapshotFormat = 2
	// maxSnapshotString bounds one string or list in a snapshot.
	maxSnapshotString = 64 << 20
)

var snapshotCRC = crc32.MakeTable(crc32.Castagnoli)

// errSnapshotShort is returned for a file that ends inside a field.
var errSnapshotShort = errors.New("snapshot ends early")

// encodeSnapshot writes tenantID's chunks to w in the current format.
func encodeSnapshot(w io.Writer, tenantID string, chunks []Chunk) error {
	crc := crc32.New(snapshotCRC)
	bw := bufio.NewWriterSize(io.MultiWriter(w, crc), 1<<20)
	var scratch [binary.MaxVarintLen64]byte
	uvarint := func(x uint64) { bw.Write(binary.AppendUvarint(scratch[:0], x)) }
	varint := func(x int64) { bw.Write(binary.AppendVarint(scratch[:0], x)) }
	str := func(s string) {
		uvarint(uint64(len(s)))
		bw.WriteString(s)
	}
	list := func(values []string) {
		uvarint(uint64(len(values)))
		for _, v := range values {
			str(v)
		}
	}

	bw.WriteString(snapshotMagic)
	bw.Write(binary.LittleEndian.AppendUint32(scratch[:0], snapshotFormat))
	str(tenantID)
	uvarint(uint64(len(chunks)))
	var words []byte
	for i := range chunks {
		c := &chunks[i]
		for _, s := range [...]string{c.ID, c.DocID, c.Title, c.Text, c.Kind, c.Source, c.Model, c.Header} {
			str(s)
		}
		varint(int64(c.Ordinal))
		varint(int64(c.Start))
		varint(int64(c.End))
		list(c.ACL)
		list(c.HeadingPath)
		list(c.Tags)
		list(c.Subjects)
		var flags byte
		if c.Quoted {
			flags |= 1
		}
		if !c.Created.IsZero() {
			flags |= 2
		}
		bw.WriteByte(flags)
		if !c.Created.IsZero() {
			bw.Write(binary.LittleEndian.AppendUint64(scratch[:0], uint64(c.Created.UnixNano())))
		}
		uvarint(uint64(len(c.Vector)))
		words = words[:0]
		for _, x := range c.Vector {
			words = binary.LittleEndian.AppendUint32(words, math.Float32bits(x))
		}
		bw.Write(words)
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	_, err := w.Write(binary.LittleEndian.AppendUint32(nil, crc.Sum32()))
	return err
}

// decodeSnapshot reads a snapshot in the current format from data, which
// starts with snapshotMagic, and returns its tenant and chunks.
func decodeSnapshot(data []byte) (string, []Chunk, error) {
	if len(data) < len(snapshotMagic)+4+4 {
		return "", nil, errSnapshotShort
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.Checksum(body, snapshotCRC) != sum {
		return "", nil, errors.New("checksum mismatch")
	}
	d := snapDecoder{buf: body[len(snapshotMagic):]}
	if v := d.uint32(); v != snapshotFormat {
		return "", nil, fmt.Errorf("format %d, want %d", v, snapshotFormat)
	}
	tenantID := d.str()
	n := d.uvarint()
	// Every chunk takes at least 16 bytes, so a count the file cannot hold
	// is refused before anything is allocated for it.
	if d.err == nil && n > uint64(len(d.buf))/16 {
		return "", nil, fmt.Errorf("%d chunks in %d bytes", n, len(d.buf))
	}
	chunks := make([]Chunk, 0, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		var c Chunk
		for _, s := range [...]*string{&c.ID, &c.DocID, &c.Title, &c.Text, &c.Kind, &c.Source, &c.Model, &c.Header} {
			*s = d.str()
		}
		c.Ordinal, c.Start, c.End = d.int(), d.int(), d.int()
		c.ACL, c.HeadingPath, c.Tags, c.Subjects = d.list(), d.list(), d.list(), d.list()
		flags := d.byte()
		c.Quoted = flags&1 != 0
		if flags&2 != 0 {
			c.Created = time.Unix(0, int64(d.uint64())).UTC()
		}
		if dim := d.uvarint(); dim > 0 {
			raw := d.bytes(dim, 4)
			if raw != nil {
				c.Vector = make([]float32, dim)
				for k := range c.Vector {
					c.Vector[k] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*k:]))
				}
			}
		}
		chunks = append(chunks, c)
	}
	if d.err != nil {
		return "", nil, d.err
	}
	if len(d.buf) != 0 {
		return "", nil, fmt.Errorf("%d bytes after the last chunk", len(d.buf))
	}
	return tenantID, chunks, nil
}

// snapDecoder reads the fields of a snapshot; the first problem sticks in
// err and every later read returns a zero value.
type snapDecoder struct {
	buf []byte
	err error
}

func (d *snapDecoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.buf = nil
}

// bytes returns the next n items of size bytes each.
func (d *snapDecoder) bytes(n, size uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.buf))/size {
		d.fail(errSnapshotShort)
		return nil
	}
	b := d.buf[:n*size]
	d.buf = d.buf[n*size:]
	return b
}

func (d *snapDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	x, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.fail(errSnapshotShort)
		return 0
	}
	d.buf = d.buf[n:]
	return x
}

func (d *snapDecoder) int() int {
	if d.err != nil {
		return 0
	}
	x, n := binary.Varint(d.buf)
	if n <= 0 || x < math.MinInt32 || x > math.MaxInt32 {
		d.fail(errors.New("bad integer"))
		return 0
	}
	d.buf = d.buf[n:]
	return int(x)
}

func (d *snapDecoder) byte() byte {
	if b := d.bytes(1, 1); b != nil {
		return b[0]
	}
	return 0
}

func (d *snapDecoder) uint32() uint32 {
	if b := d.bytes(1, 4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (d *snapDecoder) uint64() uint64 {
	if b := d.bytes(1, 8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (d *snapDecoder) str() string {
	n := d.uvarint()
	if n > maxSnapshotString {
		d.fail(fmt.Errorf("string of %d bytes", n))
		return ""
	}
	return string(d.bytes(n, 1))
}

func (d *snapDecoder) list() []string {
	n := d.uvarint()
	if n == 0 {
		return nil
	}
	// Every string takes at least its length byte.
	if n > uint64(len(d.buf)) {
		d.fail(errSnapshotShort)
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = d.str()
	}
	return out
}
