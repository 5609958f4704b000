package bus

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// UsageCount is what limits and budgets take from one usage event. Its
// byte fields point into the message it was read from.
type UsageCount struct {
	TenantID, Route, RouterInstance []byte
	InputTokens, OutputTokens       int64
	CostMicros                      int64
	OccurredAt                      time.Time
	Reserved, Cached, Shadow        bool
}

// The field numbers of keel.v1.UsageEvent, UsageBatch and
// google.protobuf.Timestamp that AppendUsageCounts reads (events.proto).
const (
	fieldBatchEvents = 1

	fieldID             = 1
	fieldTenantID       = 2
	fieldUseCase        = 3
	fieldRoute          = 4
	fieldProvider       = 5
	fieldModel          = 6
	fieldInputTokens    = 7
	fieldOutputTokens   = 8
	fieldCostMicros     = 9
	fieldOccurredAt     = 11
	fieldCached         = 17
	fieldShadow         = 18
	fieldErrorClass     = 19
	fieldTemplate       = 20
	fieldRouterInstance = 23
	fieldFinishReason   = 24
	fieldReserved       = 27

	fieldSeconds = 1
	fieldNanos   = 2
)

var errUsageWire = errors.New("invalid protobuf")

// AppendUsageCounts reads a message of the USAGE stream as UsageEvents
// does, but only the fields of UsageCount and without allocating: a router
// reads every usage event its replicas and itself publish, most of it
// strings it has no use for. It appends the counts of the message's events
// to dst; on an error it returns dst as it was.
//
// Every message UsageEvents decodes gives the same counts. The one
// difference is in what is refused: an event's audit record is skipped
// unread, so a message UsageEvents refuses only for what is inside that
// record (wire data that does not parse as an AuditEvent, a string that is
// not UTF-8) is counted here.
func AppendUsageCounts(dst []UsageCount, subject string, data []byte) ([]UsageCount, error) {
	n := len(dst)
	var err error
	if SubjectKind(subject) == KindBatch {
		dst, err = appendBatchCounts(dst, data)
	} else {
		dst, err = appendEventCount(dst, data)
	}
	if err != nil {
		return dst[:n], fmt.Errorf("decode usage on %s: %w", subject, err)
	}
	return dst, nil
}

func appendBatchCounts(dst []UsageCount, b []byte) ([]UsageCount, error) {
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n < 0 {
			return dst, errUsageWire
		}
		b = b[n:]
		if num == fieldBatchEvents && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return dst, errUsageWire
			}
			b = b[n:]
			var err error
			if dst, err = appendEventCount(dst, v); err != nil {
				return dst, err
			}
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return dst, errUsageWire
		}
		b = b[n:]
	}
	return dst, nil
}

func appendEventCount(dst []UsageCount, b []byte) ([]UsageCount, error) {
	var (
		u       UsageCount
		seconds int64 // an absent occurred_at reads as the Unix epoch,
		nanos   int32 // as a nil Timestamp's AsTime does
	)
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n < 0 {
			return dst, errUsageWire
		}
		b = b[n:]
		switch {
		case typ == protowire.VarintType && isVarintField(num):
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return dst, errUsageWire
			}
			b = b[n:]
			switch num {
			case fieldInputTokens:
				u.InputTokens = int64(v)
			case fieldOutputTokens:
				u.OutputTokens = int64(v)
			case fieldCostMicros:
				u.CostMicros = int64(v)
			case fieldCached:
				u.Cached = v != 0
			case fieldShadow:
				u.Shadow = v != 0
			case fieldReserved:
				u.Reserved = v != 0
			}
		case typ == protowire.BytesType && isStringField(num):
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return dst, errUsageWire
			}
			b = b[n:]
			if !utf8.Valid(v) {
				return dst, errors.New("invalid UTF-8 in a string field")
			}
			switch num {
			case fieldTenantID:
				u.TenantID = v
			case fieldRoute:
				u.Route = v
			case fieldRouterInstance:
				u.RouterInstance = v
			}
		case typ == protowire.BytesType && num == fieldOccurredAt:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return dst, errUsageWire
			}
			b = b[n:]
			// A message field met again merges into what came before.
			if err := readTimestamp(v, &seconds, &nanos); err != nil {
				return dst, err
			}
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return dst, errUsageWire
			}
			b = b[n:]
		}
	}
	u.OccurredAt = time.Unix(seconds, int64(nanos)).UTC()
	return append(dst, u), nil
}

func readTimestamp(b []byte, seconds *int64, nanos *int32) error {
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n < 0 {
			return errUsageWire
		}
		b = b[n:]
		if typ == protowire.VarintType && (num == fieldSeconds || num == fieldNanos) {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return errUsageWire
			}
			b = b[n:]
			if num == fieldSeconds {
				*seconds = int64(v)
			} else {
				*nanos = int32(v)
			}
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return errUsageWire
		}
		b = b[n:]
	}
	return nil
}

// consumeTag reads a field's tag as proto.Unmarshal does in a message it
// decodes: a field number above protowire.MaxValidNumber is refused there,
// though protowire.ConsumeTag takes numbers up to math.MaxInt32.
func consumeTag(b []byte) (protowire.Number, protowire.Type, int) {
	num, typ, n := protowire.ConsumeTag(b)
	if n >= 0 && num > protowire.MaxValidNumber {
		return 0, 0, -1
	}
	return num, typ, n
}

// isVarintField reports whether num is a varint field of UsageEvent that a
// count reads.
func isVarintField(num protowire.Number) bool {
	switch num {
	case fieldInputTokens, fieldOutputTokens, fieldCostMicros, fieldCached, fieldShadow, fieldReserved:
		return true
	}
	return false
}

// isStringField reports whether num is a string field of UsageEvent, all
// of which must hold UTF-8.
func isStringField(num protowire.Number) bool {
	switch num {
	case fieldID, fieldTenantID, fieldUseCase, fieldRoute, fieldProvider, fieldModel,
		fieldErrorClass, fieldTemplate, fieldRouterInstance, fieldFinishReason:
		return true
	}
	return false
}
