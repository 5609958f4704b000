package auditlog

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// lengthPrefixed builds the documented hash input by hand, independently of
// ComputeHash.
func lengthPrefixed(fields ...string) []byte {
	var out []byte
	for _, f := range fields {
		out = binary.BigEndian.AppendUint64(out, uint64(len(f)))
		out = append(out, f...)
	}
	return out
}

func TestComputeHashMatchesDocumentedEncoding(t *testing.T) {
	t.Parallel()
	r := Record{
		Seq:        7,
		ID:         "ev-1",
		Actor:      "ingest",
		Action:     "email.redacted",
		Subject:    "doc-9",
		OccurredAt: time.Date(2025, 3, 1, 12, 30, 0, 123456000, time.FixedZone("CET", 3600)),
		Attributes: map[string]string{"kind": "email", "entities": "3"},
		PrevHash:   GenesisHash,
	}
	sum := sha256.Sum256(lengthPrefixed(
		GenesisHash, "7", "ev-1", "ingest", "email.redacted", "doc-9",
		"2025-03-01T11:30:00.123456Z",
		"2", "entities", "3", "kind", "email",
	))
	want := hex.EncodeToString(sum[:])

	if got := ComputeHash(r); got != want {
		t.Errorf("ComputeHash = %s, want %s", got, want)
	}
}

func TestComputeHashSeparatesFields(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	base := Record{
		Seq: 1, ID: "a", Actor: "ab", Action: "c", Subject: "s", OccurredAt: at,
		Attributes: map[string]string{"k": "v"}, PrevHash: GenesisHash,
	}
	tests := []struct {
		name   string
		change func(*Record)
	}{
		{"boundary between actor and action", func(r *Record) { r.Actor, r.Action = "a", "bc" }},
		{"boundary between id and actor", func(r *Record) { r.ID, r.Actor = "ab", "b" }},
		{"boundary between key and value", func(r *Record) {
			r.Attributes = map[string]string{"kv": ""}
		}},
		{"attribute moved into subject", func(r *Record) {
			r.Subject, r.Attributes = "sk", map[string]string{"": "v"}
		}},
		{"seq", func(r *Record) { r.Seq = 2 }},
		{"prev hash", func(r *Record) { r.PrevHash = "1" + GenesisHash[1:] }},
		{"occurred at", func(r *Record) { r.OccurredAt = at.Add(time.Microsecond) }},
		{"extra attribute", func(r *Record) { r.Attributes = map[string]string{"k": "v", "x": ""} }},
	}
	want := ComputeHash(base)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := base
			tt.change(&r)
			if got := ComputeHash(r); got == want {
				t.Errorf("ComputeHash did not change: %s", got)
			}
		})
	}
}

func TestComputeHashIgnoresRepresentation(t *testing.T) {
	t.Parallel()
	instant := time.Date(2025, 1, 2, 3, 4, 5, 6000, time.UTC)
	a := Record{Seq: 3, ID: "x", OccurredAt: instant, PrevHash: GenesisHash,
		Attributes: map[string]string{"b": "2", "a": "1", "c": "3"}}
	b := a
	b.OccurredAt = instant.In(time.FixedZone("PST", -8*3600))
	b.Attributes = map[string]string{"c": "3", "a": "1", "b": "2"}
	b.Hash = "not part of the hash"
	b.RecordedAt = instant.Add(time.Hour)

	if ha, hb := ComputeHash(a), ComputeHash(b); ha != hb {
		t.Errorf("same record hashed differently: %s and %s", ha, hb)
	}
}

func TestChainCheck(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	chain := func(n int) []Record {
		var out []Record
		prev := GenesisHash
		for i := 1; i <= n; i++ {
			r := Record{Seq: int64(i), ID: string(rune('a' + i)), Actor: "t", Action: "x",
				OccurredAt: at, Attributes: map[string]string{}, PrevHash: prev}
			r.Hash = ComputeHash(r)
			prev = r.Hash
			out = append(out, r)
		}
		return out
	}
	headOf := func(rs []Record) head {
		if len(rs) == 0 {
			return head{hash: GenesisHash}
		}
		last := rs[len(rs)-1]
		return head{seq: last.Seq, hash: last.Hash}
	}

	tests := []struct {
		name    string
		records func() ([]Record, head)
		want    Verification
	}{
		{
			name:    "empty chain",
			records: func() ([]Record, head) { return nil, head{hash: GenesisHash} },
			want:    Verification{Intact: true},
		},
		{
			name: "intact chain",
			records: func() ([]Record, head) {
				rs := chain(4)
				return rs, headOf(rs)
			},
			want: Verification{Intact: true, Records: 4},
		},
		{
			name: "changed content",
			records: func() ([]Record, head) {
				rs := chain(4)
				h := headOf(rs)
				rs[1].Action = "y"
				return rs, h
			},
			want: Verification{Records: 4, FirstBrokenSeq: 2,
				Reason: "hash does not match the record's content"},
		},
		{
			name: "rehashed record breaks the link of the next",
			records: func() ([]Record, head) {
				rs := chain(4)
				h := headOf(rs)
				rs[1].Action = "y"
				rs[1].Hash = ComputeHash(rs[1])
				return rs, h
			},
			want: Verification{Records: 4, FirstBrokenSeq: 3,
				Reason: "prev_hash does not match the hash of record 2"},
		},
		{
			name: "first record not linked to genesis",
			records: func() ([]Record, head) {
				rs := chain(2)
				rs[0].PrevHash = rs[1].Hash
				return rs, headOf(rs)
			},
			want: Verification{Records: 2, FirstBrokenSeq: 1,
				Reason: "prev_hash of the first record is not the genesis hash"},
		},
		{
			name: "missing middle record",
			records: func() ([]Record, head) {
				rs := chain(4)
				return append(rs[:2:2], rs[3]), headOf(rs)
			},
			want: Verification{Records: 3, FirstBrokenSeq: 3,
				Reason: "record 3 is missing: the next record is 4"},
		},
		{
			name: "missing tail",
			records: func() ([]Record, head) {
				rs := chain(4)
				return rs[:2], headOf(rs)
			},
			want: Verification{Records: 2, FirstBrokenSeq: 3,
				Reason: "records 3 to 4 are missing: the chain head is at 4"},
		},
		{
			name: "head hash differs",
			records: func() ([]Record, head) {
				rs := chain(3)
				h := headOf(rs)
				h.hash = GenesisHash
				return rs, h
			},
			want: Verification{Records: 3, FirstBrokenSeq: 3,
				Reason: "hash does not match the chain head"},
		},
		{
			name: "records appended after the head was read",
			records: func() ([]Record, head) {
				rs := chain(5)
				return rs, headOf(rs[:3])
			},
			want: Verification{Intact: true, Records: 5},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rs, h := tt.records()
			c := newChainCheck(h)
			for _, r := range rs {
				c.add(r, nil)
			}
			if diff := cmp.Diff(tt.want, c.finish()); diff != "" {
				t.Errorf("verification mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
