package openai

import (
	"io"

	"github.com/keelhq/keel/services/router/internal/provider/sse"
)

// The event stream decoder is shared by every provider (package sse).

type sseEvent = sse.Event

const maxSSELine = sse.MaxLine

var errSSELineTooLong = sse.ErrLineTooLong

func newSSEDecoder(r io.Reader) *sse.Decoder { return sse.NewDecoder(r) }
