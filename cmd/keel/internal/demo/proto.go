package demo

import (
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
)

func protoUnmarshal(m jetstream.Msg, dst proto.Message) error {
	return proto.Unmarshal(m.Data(), dst)
}
