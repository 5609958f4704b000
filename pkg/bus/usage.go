package bus

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	keelv1 "github.com/keelhq/keel/proto/gen/go/keel/v1"
)

// UsageEvents decodes a message of the USAGE stream: one UsageEvent on
// keel.usage.<tenant>, or the events of a UsageBatch on
// keel.usage.<tenant>.batch.
func UsageEvents(subject string, data []byte) ([]*keelv1.UsageEvent, error) {
	if SubjectKind(subject) == KindBatch {
		var batch keelv1.UsageBatch
		if err := proto.Unmarshal(data, &batch); err != nil {
			return nil, fmt.Errorf("decode usage batch on %s: %w", subject, err)
		}
		return batch.GetEvents(), nil
	}
	ev := new(keelv1.UsageEvent)
	if err := proto.Unmarshal(data, ev); err != nil {
		return nil, fmt.Errorf("decode usage event on %s: %w", subject, err)
	}
	return []*keelv1.UsageEvent{ev}, nil
}
