package auditlog

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"sort"
	"strconv"
	"time"
)

// GenesisHash is the prev_hash of the first record of every chain: the hex
// form of 32 zero bytes.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// ComputeHash returns the chain hash of r linked to r.PrevHash; r.Hash is
// ignored. The hash is the lowercase hex SHA-256 of these fields, in order:
//
//	prev_hash, seq, id, actor, action, subject, occurred_at,
//	number of attributes, then key and value of each attribute by key order
//
// Each field is written as its byte length (8 bytes, big endian) followed by
// its bytes, so that no choice of values can move a field boundary. Numbers
// are written in decimal and occurred_at in UTC as RFC 3339 with nanoseconds
// (time.RFC3339Nano).
func ComputeHash(r Record) string {
	h := sha256.New()
	writeField(h, r.PrevHash)
	writeField(h, strconv.FormatInt(r.Seq, 10))
	writeField(h, r.ID)
	writeField(h, r.Actor)
	writeField(h, r.Action)
	writeField(h, r.Subject)
	writeField(h, r.OccurredAt.UTC().Format(time.RFC3339Nano))

	keys := make([]string, 0, len(r.Attributes))
	for k := range r.Attributes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	writeField(h, strconv.Itoa(len(keys)))
	for _, k := range keys {
		writeField(h, k)
		writeField(h, r.Attributes[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// writeField writes the length-prefixed form of s. A hash.Hash never
// returns an error from Write.
func writeField(h hash.Hash, s string) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(s)))
	h.Write(n[:])
	h.Write([]byte(s))
}
