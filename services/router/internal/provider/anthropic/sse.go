package anthropic

import (
	"io"

	ssedec "github.com/keelhq/keel/services/router/internal/provider/sse"
)

// The event stream decoder is shared by every provider (package ssedec here).

type sseEvent = ssedec.Event

const maxSSELine = ssedec.MaxLine

var errSSELineTooLong = ssedec.ErrLineTooLong

func newSSEDecoder(r io.Reader) *ssedec.Decoder { return ssedec.NewDecoder(r) }
