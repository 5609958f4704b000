package hnsw

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// encode returns what x.WriteTo writes or fails the test.
func encode(t testing.TB, x *Index) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := x.WriteTo(&buf)
	if err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	if n != int64(buf.Len()) {
		t.Fatalf("WriteTo returned %d bytes, wrote %d", n, buf.Len())
	}
	return buf.Bytes()
}

// decode returns the index data holds or fails the test.
func decode(t testing.TB, data []byte) *Index {
	t.Helper()
	var x Index
	n, err := x.ReadFrom(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("ReadFrom: %v", err)
	}
	if n != int64(len(data)) {
		t.Fatalf("ReadFrom returned %d bytes, input has %d", n, len(data))
	}
	return &x
}

// smallIndex returns an index of n random vectors of dim components with
// some deleted and some replaced, so a file holds tombstones too. M 2
// gives many levels.
func smallIndex(t testing.TB, n, dim, m int) *Index {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(n), uint64(dim)))
	x := buildIndex(t, randomVectors(rng, n, dim), Options{M: m, EfConstruction: 20, Seed: 8})
	for i := 0; i < n; i += 7 {
		x.Delete(idOf(i))
	}
	for i := 3; i < n; i += 11 {
		if err := x.Add(idOf(i), randomVectors(rng, 1, dim)[0]); err != nil {
			t.Fatalf("Add: %v", err)
		}
	}
	return x
}

func TestWriteToReadFromRoundTrip(t *testing.T) {
	t.Parallel()
	const n, dim = 800, 16
	x := smallIndex(t, n, dim, 8)
	if x.g.deletedCount == 0 {
		t.Fatal("test index holds no tombstones")
	}
	y := decode(t, encode(t, x))

	if x.Len() != y.Len() || x.Dim() != y.Dim() {
		t.Fatalf("loaded index has Len %d, Dim %d; want %d, %d", y.Len(), y.Dim(), x.Len(), x.Dim())
	}
	rng := rand.New(rand.NewPCG(22, 23))
	even := func(id string) bool { return id[len(id)-1]%2 == 0 }
	for _, q := range randomVectors(rng, 40, dim) {
		for _, accept := range []func(string) bool{nil, even} {
			want, err := x.Search(q, 10, 0, accept)
			if err != nil {
				t.Fatalf("Search: %v", err)
			}
			got, err := y.Search(q, 10, 0, accept)
			if err != nil {
				t.Fatalf("Search of the loaded index: %v", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("Search of the loaded index mismatch (-want +got):\n%s", diff)
			}
		}
	}

	// The level generator's state travels too: the same changes to both
	// leave them alike.
	for i, v := range randomVectors(rng, 50, dim) {
		for _, idx := range []*Index{x, y} {
			if err := idx.Add(idOf(n+i), v); err != nil {
				t.Fatalf("Add: %v", err)
			}
		}
	}
	if !bytes.Equal(encode(t, x), encode(t, y)) {
		t.Errorf("after the same Adds the loaded index differs from the original")
	}
}

func TestReadFromEmptyIndex(t *testing.T) {
	t.Parallel()
	y := decode(t, encode(t, newIndex(t, 4, Options{M: 5, EfSearch: 9})))
	if y.Len() != 0 || y.Dim() != 4 || y.g.maxLinks != 5 || y.efSearch != 9 {
		t.Fatalf("loaded empty index: Len %d, Dim %d, M %d, EfSearch %d; want 0, 4, 5, 9",
			y.Len(), y.Dim(), y.g.maxLinks, y.efSearch)
	}
	if got := search(t, y, []float32{1, 2, 3, 4}, 3, 0, nil); len(got) != 0 {
		t.Errorf("Search of an empty index = %v, want none", got)
	}
	if err := y.Add("a", []float32{1, 2, 3, 4}); err != nil {
		t.Fatalf("Add to a loaded empty index: %v", err)
	}
	if got := search(t, y, []float32{1, 2, 3, 4}, 3, 0, nil); len(got) != 1 {
		t.Errorf("Search after one Add = %v, want one result", got)
	}
}

func TestReadFromRejectsDamagedInput(t *testing.T) {
	t.Parallel()
	data := encode(t, smallIndex(t, 40, 4, 2))
	other := smallIndex(t, 30, 8, 4)
	otherLen, otherFile := other.Len(), encode(t, other)

	// rejected checks that input fails to load and leaves other as it was.
	rejected := func(t *testing.T, what string, input []byte) {
		t.Helper()
		_, err := other.ReadFrom(bytes.NewReader(input))
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedVersion) {
			t.Fatalf("ReadFrom of %s: error %v, want ErrCorrupt or ErrUnsupportedVersion", what, err)
		}
		if other.Len() != otherLen || other.Dim() != 8 {
			t.Fatalf("after ReadFrom of %s failed the index has Len %d, Dim %d; want %d, 8",
				what, other.Len(), other.Dim(), otherLen)
		}
	}

	t.Run("truncated", func(t *testing.T) {
		for size := range len(data) {
			rejected(t, "a truncated file", data[:size])
		}
	})
	t.Run("one byte changed", func(t *testing.T) {
		for i := range data {
			for _, flip := range []byte{0x01, 0x80, 0xff} {
				damaged := bytes.Clone(data)
				damaged[i] ^= flip
				rejected(t, "a damaged file", damaged)
			}
		}
	})
	t.Run("data after the checksum", func(t *testing.T) {
		rejected(t, "a file with a trailing byte", append(bytes.Clone(data), 0))
	})
	t.Run("other version", func(t *testing.T) {
		damaged := bytes.Clone(data)
		binary.LittleEndian.PutUint32(damaged[len(fileMagic):], fileVersion+1)
		_, err := other.ReadFrom(bytes.NewReader(withChecksum(damaged)))
		if !errors.Is(err, ErrUnsupportedVersion) {
			t.Errorf("ReadFrom of version %d: error %v, want ErrUnsupportedVersion", fileVersion+1, err)
		}
	})

	if !bytes.Equal(encode(t, other), otherFile) {
		t.Errorf("failed loads changed the index")
	}
}

func TestReadFromPassesReaderErrors(t *testing.T) {
	t.Parallel()
	errBroken := errors.New("disk on fire")
	data := encode(t, smallIndex(t, 20, 4, 4))
	r := ioFunc(func(p []byte) (int, error) {
		if len(data) == 0 {
			return 0, errBroken
		}
		n := copy(p, data[:min(len(data), 100)])
		data = data[n:]
		return n, nil
	})
	var x Index
	if _, err := x.ReadFrom(r); !errors.Is(err, errBroken) {
		t.Errorf("ReadFrom error = %v, want %v", err, errBroken)
	}
}

// ioFunc turns a function into an io.Reader.
type ioFunc func(p []byte) (int, error)

func (f ioFunc) Read(p []byte) (int, error) { return f(p) }

// TestReadFromForgedCountsAllocateLittle feeds headers that promise the
// largest index the format allows and stop: the decoder must fail having
// allocated memory in proportion to the input, not to the promise.
func TestReadFromForgedCountsAllocateLittle(t *testing.T) {
	header := func(dim, m, nodes uint32) []byte {
		var b []byte
		b = append(b, fileMagic...)
		for _, v := range []uint32{fileVersion, dim, m, 200, 64} {
			b = binary.LittleEndian.AppendUint32(b, v)
		}
		state, err := rand.NewPCG(1, 2).MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		b = append(b, byte(len(state)))
		b = append(b, state...)
		b = binary.LittleEndian.AppendUint32(b, nodes)
		return binary.LittleEndian.AppendUint32(b, 0)
	}
	// A few thousand well-formed level-0 records of M=2 under a dimension
	// of MaxDim, then no vectors.
	manyNodes := header(MaxDim, 2, 5000)
	for range 5000 {
		manyNodes = append(manyNodes, flagDeleted, 0, 0, 0)
		manyNodes = append(manyNodes, make([]byte, 4*(2*2+1))...)
	}

	tests := []struct {
		name  string
		input []byte
	}{
		{name: "header only", input: header(MaxDim, MaxM, maxNodes)},
		{name: "records without vectors", input: manyNodes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			var x Index
			_, err := x.ReadFrom(bytes.NewReader(tt.input))
			runtime.ReadMemStats(&after)

			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("ReadFrom error = %v, want ErrCorrupt", err)
			}
			const limit = 4 << 20
			if grew := after.TotalAlloc - before.TotalAlloc; grew > limit {
				t.Errorf("ReadFrom of %d bytes allocated %d bytes, want at most %d", len(tt.input), grew, limit)
			}
		})
	}
}

// withChecksum returns data with its last four bytes replaced by the
// checksum of the rest, so that a test reaches the checks behind it.
func withChecksum(data []byte) []byte {
	if len(data) < 4 {
		return data
	}
	body := data[:len(data)-4]
	sum := crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli))
	return binary.LittleEndian.AppendUint32(bytes.Clone(body), sum)
}

func FuzzReadFrom(f *testing.F) {
	f.Add(encode(f, newIndex(f, 3, Options{})))
	f.Add(encode(f, smallIndex(f, 12, 3, 2)))
	f.Add(encode(f, smallIndex(f, 25, 2, 3)))
	f.Add([]byte(fileMagic))

	f.Fuzz(func(t *testing.T, data []byte) {
		for _, input := range [][]byte{data, withChecksum(data)} {
			var x Index
			if _, err := x.ReadFrom(bytes.NewReader(input)); err != nil {
				if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedVersion) {
					t.Fatalf("ReadFrom error %v wraps neither ErrCorrupt nor ErrUnsupportedVersion", err)
				}
				continue
			}

			// What loads is a working index that writes the same bytes.
			if got := encode(t, &x); !bytes.Equal(got, input) {
				t.Fatalf("loaded index writes %d bytes different from the %d read", len(got), len(input))
			}
			q := make([]float32, x.Dim())
			q[0] = 1
			for _, accept := range []func(string) bool{nil, func(id string) bool { return len(id)%2 == 0 }} {
				if _, err := x.Search(q, 3, 0, accept); err != nil {
					t.Fatalf("Search of a loaded index: %v", err)
				}
			}
			if err := x.Add("fuzz", q); err != nil {
				t.Fatalf("Add to a loaded index: %v", err)
			}
		}
	})
}
