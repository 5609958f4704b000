package message

// Default limits returned by DefaultLimits.
const (
	defaultMaxBytes       = 10 << 20
	defaultMaxParts       = 100
	defaultMaxDepth       = 10
	defaultMaxHeaderBytes = 256 << 10
)

// Limits bound the work done on one input. A zero or negative field takes
// its value from DefaultLimits.
type Limits struct {
	// MaxBytes is the longest input accepted; longer input is rejected
	// with ErrTooLarge.
	MaxBytes int
	// MaxParts is the most MIME parts one message may have, multipart
	// containers included; more is ErrMalformed.
	MaxParts int
	// MaxDepth is the deepest nesting of multipart containers; deeper is
	// ErrMalformed.
	MaxDepth int
	// MaxHeaderBytes is the longest header section of the message or of
	// one of its parts; longer is ErrMalformed.
	MaxHeaderBytes int
}

// DefaultLimits returns 10 MiB of input, 100 MIME parts, a multipart depth
// of 10 and 256 KiB of header per message or part.
func DefaultLimits() Limits {
	return Limits{
		MaxBytes:       defaultMaxBytes,
		MaxParts:       defaultMaxParts,
		MaxDepth:       defaultMaxDepth,
		MaxHeaderBytes: defaultMaxHeaderBytes,
	}
}

// withDefaults replaces unset fields with their defaults.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxBytes <= 0 {
		l.MaxBytes = d.MaxBytes
	}
	if l.MaxParts <= 0 {
		l.MaxParts = d.MaxParts
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = d.MaxHeaderBytes
	}

	return l
}
