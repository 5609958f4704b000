package index

import (
	"bytes"
	"encoding/gob"
	"errors"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func snapshotChunks() []Chunk {
	return []Chunk{
		{
			ID: "c1", DocID: "kb/refunds", Ordinal: 2, Title: "Refunds > Timing", Text: "Refunds take 5–10 days. ✓",
			Kind: "article", Source: "kb", ACL: []string{"group:support", ""}, Vector: []float32{0.5, -0.25, float32(math.Inf(1)), 1e-40},
			Model: "m", Start: 10, End: -1, HeadingPath: []string{"Refunds", "Timing"}, Header: "| a | b |",
			Quoted: true, Tags: []string{"refunds"}, Created: time.Date(2026, 11, 30, 8, 1, 2, 3, time.UTC),
			Subjects: []string{"cust-1", "cust-2"},
		},
		{ID: "c2", DocID: "email-1", Text: "", Ordinal: math.MaxInt32, Start: math.MinInt32},
	}
}

func TestSnapshotFormatRoundTrip(t *testing.T) {
	dir := t.TempDir()
	want := snapshotChunks()
	if err := writeSnapshot(dir, snapshot{Tenant: "acme", Chunks: want}); err != nil {
		t.Fatalf("writeSnapshot: %v", err)
	}
	got, err := readSnapshot(filepath.Join(dir, "acme"+snapshotExt), "acme")
	if err != nil {
		t.Fatalf("readSnapshot: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if _, err := readSnapshot(filepath.Join(dir, "acme"+snapshotExt), "globex"); !errors.Is(err, ErrSnapshotCorrupt) {
		t.Errorf("snapshot read as another tenant's: %v", err)
	}
}

// TestSnapshotReadsGobVersion1 reads a snapshot as earlier releases wrote
// it.
func TestSnapshotReadsGobVersion1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "acme"+snapshotExt)
	want := snapshotChunks()[:1]
	want[0].Vector = []float32{0.5, -0.25}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(snapshot{Version: snapshotVersion, Tenant: "acme", Chunks: want}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := readSnapshot(path, "acme")
	if err != nil {
		t.Fatalf("readSnapshot of version 1: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("version 1 (-want +got):\n%s", diff)
	}
}

func TestSnapshotDamageIsCorrupt(t *testing.T) {
	var buf bytes.Buffer
	if err := encodeSnapshot(&buf, "acme", snapshotChunks()); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	for name, data := range map[string][]byte{
		"truncated":    good[:len(good)-7],
		"flipped byte": flipByte(good, len(good)/2),
		"magic only":   []byte(snapshotMagic),
		"extra bytes":  append(append([]byte{}, good...), 0),
	} {
		path := filepath.Join(t.TempDir(), "acme"+snapshotExt)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := readSnapshot(path, "acme"); !errors.Is(err, ErrSnapshotCorrupt) {
			t.Errorf("%s: got %v, want ErrSnapshotCorrupt", name, err)
		}
	}
}

func flipByte(b []byte, i int) []byte {
	out := append([]byte{}, b...)
	out[i] ^= 0x20
	return out
}

// FuzzDecodeSnapshot feeds the decoder arbitrary bytes after the magic,
// with a valid checksum so that the field parsing itself is exercised: it
// must fail cleanly or return chunks that encode back to the same bytes.
func FuzzDecodeSnapshot(f *testing.F) {
	var buf bytes.Buffer
	if err := encodeSnapshot(&buf, "acme", snapshotChunks()); err != nil {
		f.Fatal(err)
	}
	good := buf.Bytes()
	f.Add(good[len(snapshotMagic) : len(good)-4])
	f.Add([]byte{2, 0, 0, 0, 4, 'a', 'c', 'm', 'e', 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, body []byte) {
		data := append([]byte(snapshotMagic), body...)
		data = append(data, 0, 0, 0, 0)
		sum := crc32Of(data[:len(data)-4])
		copy(data[len(data)-4:], sum)
		tenantID, chunks, err := decodeSnapshot(data)
		if err != nil {
			return
		}
		var again bytes.Buffer
		if err := encodeSnapshot(&again, tenantID, chunks); err != nil {
			t.Fatal(err)
		}
		if _, back, err := decodeSnapshot(again.Bytes()); err != nil || len(back) != len(chunks) {
			t.Fatalf("re-encoded snapshot does not decode: %v", err)
		}
	})
}

func crc32Of(b []byte) []byte {
	var out [4]byte
	sum := crc32.Checksum(b, snapshotCRC)
	out[0], out[1], out[2], out[3] = byte(sum), byte(sum>>8), byte(sum>>16), byte(sum>>24)
	return out[:]
}
