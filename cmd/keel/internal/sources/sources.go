// Package sources turns upstream exports (raw emails, mbox archives and
// helpdesk ticket exports in CSV or JSON Lines) into neutral records that
// the operator CLI can publish as ingest events.
//
// Every reader streams its input: it holds one message or one row in memory
// at a time and yields either a Record or a Problem for it. A Problem names
// the physical line it was found on and never stops the reader, unless the
// rest of the file cannot be read (see ErrReadStopped).
package sources

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Record kinds.
const (
	// KindEmail marks a record read from an email message.
	KindEmail = "email"
	// KindTicket marks a record read from a ticket export row.
	KindTicket = "ticket"
)

// Formats accepted by Open.
const (
	FormatEML   = "eml"
	FormatMbox  = "mbox"
	FormatCSV   = "csv"
	FormatJSONL = "jsonl"
)

// Size limits that keep one hostile record from exhausting memory.
const (
	// MaxMessageBytes is the largest email, in an .eml file or an mbox,
	// that is read. Larger messages become a Problem.
	MaxMessageBytes = 32 << 20
	// MaxRowBytes is the largest CSV record or JSON line that is read.
	MaxRowBytes = 16 << 20
)

var (
	// ErrUnknownFormat is returned by Open and DetectFormat when the format
	// is not one of the Format constants or cannot be told from the path.
	ErrUnknownFormat = errors.New("unknown source format")
	// ErrInvalidMapping is returned by ParseMapping, and by Open for CSV
	// and JSONL sources, when a column mapping is unusable.
	ErrInvalidMapping = errors.New("invalid column mapping")
	// ErrUnsupportedCharset is the cause of a Problem for a message whose
	// text is in a character set this package cannot convert to UTF-8.
	ErrUnsupportedCharset = errors.New("unsupported charset")
	// ErrMalformedMessage is the cause of a Problem for an email that
	// cannot be parsed.
	ErrMalformedMessage = errors.New("malformed message")
	// ErrMalformedRow is the cause of a Problem for a CSV record or JSON
	// line that cannot be parsed or mapped.
	ErrMalformedRow = errors.New("malformed row")
	// ErrMissingColumn is the cause of a Problem when a CSV header lacks a
	// column that the mapping names. The rest of the file is not read.
	ErrMissingColumn = errors.New("missing column")
	// ErrEmptyRecord is the cause of a Problem for a message or row that
	// has neither a subject nor a body.
	ErrEmptyRecord = errors.New("record has no subject and no body")
	// ErrTooLarge is the cause of a Problem for a message or row above
	// MaxMessageBytes or MaxRowBytes.
	ErrTooLarge = errors.New("record too large")
	// ErrReadStopped wraps the cause of a Problem after which the reader
	// gives up on the rest of the file, for example an I/O error.
	ErrReadStopped = errors.New("stopped reading file")
)

// Record is one upstream item in neutral form: an email or a ticket.
type Record struct {
	// Line is the 1-based physical line on which the item starts in its
	// file: 1 for an .eml file, the From line in an mbox, the first line
	// of a CSV record or the line of a JSON Lines row.
	Line int
	// EventID is stable across reads of the same input: the Message-ID or
	// ticket id, else "sha256-" and the hash of the item's content.
	EventID string
	// Kind is KindEmail or KindTicket.
	Kind          string
	Subject       string
	Body          string
	CustomerEmail string
	CustomerName  string
	AccountID     string
	// ReceivedAt is the Date header or the mapped creation time, in UTC;
	// zero when the input has none.
	ReceivedAt time.Time
	// Metadata holds details about the item: for emails "file",
	// "attachments", "in_reply_to" and "body_format"; for tickets the
	// columns listed in Mapping.Metadata. Attachment names and metadata
	// columns come from the customer or the upstream system, so they are
	// not free of personal data.
	Metadata map[string]string
}

// Problem describes an item that could not be turned into a Record.
type Problem struct {
	// Path is the file the item is in.
	Path string
	// Line is the 1-based line the item starts on; 0 for the whole file.
	Line int
	// Err is the cause. It wraps one of the package's Err values.
	Err error
}

// Error returns the problem as "path:line: cause".
func (p *Problem) Error() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", p.Path, p.Line, p.Err)
	}

	return fmt.Sprintf("%s: %v", p.Path, p.Err)
}

// Unwrap returns the cause, so errors.Is works on a Problem.
func (p *Problem) Unwrap() error { return p.Err }

// Stream is what every reader returns. Each step yields either a Record
// and a nil Problem, or a zero Record and a Problem.
type Stream = iter.Seq2[Record, *Problem]

// Open checks path, format and mapping and returns the stream of the
// matching reader. An empty format is detected from the path with
// DetectFormat. The mapping is used only by CSV and JSONL sources. Open
// returns ErrUnknownFormat, ErrInvalidMapping, or the error of os.Stat.
func Open(path, format string, m Mapping) (Stream, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("open source: %w", err)
	}

	if format == "" {
		format, err = DetectFormat(path)
		if err != nil {
			return nil, err
		}
	}

	if info.IsDir() && format != FormatEML {
		return nil, fmt.Errorf("%w: %s is a directory; only %q reads directories",
			ErrUnknownFormat, path, FormatEML)
	}

	switch format {
	case FormatEML:
		if info.IsDir() {
			return ReadEMLDir(path), nil
		}

		return ReadEML(path), nil
	case FormatMbox:
		return ReadMbox(path), nil
	case FormatCSV, FormatJSONL:
		if err := m.Validate(); err != nil {
			return nil, err
		}
		if format == FormatCSV {
			return ReadCSV(path, m), nil
		}

		return ReadJSONL(path, m), nil
	default:
		return nil, fmt.Errorf("%w: %q (want eml, mbox, csv or jsonl)", ErrUnknownFormat, format)
	}
}

// DetectFormat names the format of path: a directory is a folder of .eml
// files; otherwise the extension decides (.eml, .mbox or .mbx, .csv,
// .jsonl or .ndjson). It returns ErrUnknownFormat for anything else, and
// the error of os.Stat when path does not exist.
func DetectFormat(path string) (string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("detect format: %w", err)
	}
	if info.IsDir() {
		return FormatEML, nil
	}

	switch strings.ToLower(filepath.Ext(path)) {
	case ".eml":
		return FormatEML, nil
	case ".mbox", ".mbx":
		return FormatMbox, nil
	case ".csv":
		return FormatCSV, nil
	case ".jsonl", ".ndjson":
		return FormatJSONL, nil
	}

	return "", fmt.Errorf("%w: cannot tell the format of %s from its extension", ErrUnknownFormat, path)
}

// contentID returns the fallback event id for content without an id of its
// own.
func contentID(content []byte) string {
	sum := sha256.Sum256(content)

	return "sha256-" + hex.EncodeToString(sum[:])
}
