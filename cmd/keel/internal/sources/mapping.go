package sources

import (
	"errors"
	"fmt"
	"net/mail"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Mapping names the columns (CSV) or keys (JSON Lines) that fill a Record.
// A JSON key may be a dotted path into nested objects, such as
// "requester.email". Body is required; every other column is optional.
type Mapping struct {
	Subject       string
	Body          string
	CustomerEmail string
	CustomerName  string
	AccountID     string
	TicketID      string
	CreatedAt     string
	// Metadata lists columns copied into Record.Metadata under their own
	// names. Other columns are dropped: they may hold customer data that
	// the redactor does not look at.
	Metadata []string
}

// mappingKeys lists the keys ParseMapping accepts, in the order they are
// documented.
var mappingKeys = []string{"subject", "body", "email", "name", "account", "id", "created"}

// ParseMapping reads a mapping written as comma-separated key=column pairs,
// for example "subject=subject,body=description,email=requester_email,
// name=requester_name,id=ticket_id,created=created_at,meta=priority". The
// keys are subject, body, email, name, account, id and created, each at
// most once, and meta, once per metadata column. It returns
// ErrInvalidMapping for an unknown or repeated key, a pair without "=" or
// a column, and a mapping without body.
func ParseMapping(s string) (Mapping, error) {
	var (
		m    Mapping
		errs []error
		seen = map[string]bool{}
	)

	for pair := range strings.SplitSeq(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}

		key, column, ok := strings.Cut(pair, "=")
		key = strings.ToLower(strings.TrimSpace(key))
		column = strings.TrimSpace(column)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%q is not key=column", pair))
			continue
		case column == "":
			errs = append(errs, fmt.Errorf("key %q has no column", key))
			continue
		case key == "meta":
			m.Metadata = append(m.Metadata, column)
			continue
		case seen[key]:
			errs = append(errs, fmt.Errorf("key %q is given twice", key))
			continue
		}
		seen[key] = true

		field := m.field(key)
		if field == nil {
			errs = append(errs, fmt.Errorf("unknown key %q (want one of %s or meta)",
				key, strings.Join(mappingKeys, ", ")))
			continue
		}
		*field = column
	}

	if len(errs) == 0 && m.Body == "" {
		errs = append(errs, errors.New("body is required"))
	}
	if len(errs) > 0 {
		return Mapping{}, fmt.Errorf("%w: %w", ErrInvalidMapping, errors.Join(errs...))
	}

	return m, nil
}

// Validate reports ErrInvalidMapping when the mapping has no body column.
func (m Mapping) Validate() error {
	if strings.TrimSpace(m.Body) == "" {
		return fmt.Errorf("%w: body is required", ErrInvalidMapping)
	}

	return nil
}

// String returns the mapping in the form ParseMapping reads.
func (m Mapping) String() string {
	var pairs []string
	for _, key := range mappingKeys {
		if column := *m.field(key); column != "" {
			pairs = append(pairs, key+"="+column)
		}
	}
	for _, column := range m.Metadata {
		pairs = append(pairs, "meta="+column)
	}

	return strings.Join(pairs, ",")
}

// field returns the Mapping field for a ParseMapping key, or nil.
func (m *Mapping) field(key string) *string {
	switch key {
	case "subject":
		return &m.Subject
	case "body":
		return &m.Body
	case "email":
		return &m.CustomerEmail
	case "name":
		return &m.CustomerName
	case "account":
		return &m.AccountID
	case "id":
		return &m.TicketID
	case "created":
		return &m.CreatedAt
	}

	return nil
}

// columns returns every column the mapping reads.
func (m Mapping) columns() []string {
	var cols []string
	for _, key := range mappingKeys {
		if column := *m.field(key); column != "" {
			cols = append(cols, column)
		}
	}

	return append(cols, m.Metadata...)
}

// row is one ticket as read from a file: a lookup for mapped columns and
// every top-level column as text.
type row struct {
	line int
	// lookup returns the value of a mapped column and whether it exists.
	lookup func(column string) (string, bool)
	// fields holds every top-level column as text for the content hash.
	fields map[string]string
}

// toRecord maps a row onto a Record. It returns an error wrapping
// ErrMalformedRow or ErrEmptyRecord.
func (m Mapping) toRecord(r row) (Record, error) {
	get := func(column string) string {
		if column == "" {
			return ""
		}
		v, _ := r.lookup(column)

		return strings.TrimSpace(v)
	}

	rec := Record{
		Line:         r.line,
		Kind:         KindTicket,
		EventID:      get(m.TicketID),
		Subject:      get(m.Subject),
		Body:         normalizeText(get(m.Body)),
		CustomerName: get(m.CustomerName),
		AccountID:    get(m.AccountID),
		Metadata:     map[string]string{},
	}
	if rec.Subject == "" && rec.Body == "" {
		return Record{}, ErrEmptyRecord
	}

	rec.CustomerEmail = get(m.CustomerEmail)
	if addr, err := mail.ParseAddress(rec.CustomerEmail); err == nil {
		rec.CustomerEmail = addr.Address
		if rec.CustomerName == "" {
			rec.CustomerName = addr.Name
		}
	}

	if raw := get(m.CreatedAt); raw != "" {
		at, err := parseTimestamp(raw)
		if err != nil {
			return Record{}, fmt.Errorf("%w: column %q: %w", ErrMalformedRow, m.CreatedAt, err)
		}
		rec.ReceivedAt = at
	}

	if rec.EventID == "" {
		rec.EventID = contentID(canonicalFields(r.fields))
	}

	for _, column := range m.Metadata {
		if v := get(column); v != "" {
			rec.Metadata[column] = v
		}
	}

	return rec, nil
}

// canonicalFields encodes fields with sorted keys, so that the same content
// hashes the same whatever the column order.
func canonicalFields(fields map[string]string) []byte {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	var b strings.Builder
	for _, k := range keys {
		b.WriteString(strconv.Quote(k))
		b.WriteByte('=')
		b.WriteString(strconv.Quote(fields[k]))
		b.WriteByte('\n')
	}

	return []byte(b.String())
}

// timestampLayouts are the creation time layouts tickets use. Layouts
// without a zone are read as UTC.
var timestampLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05",
	"2006-01-02 15:04",
	time.RFC1123Z,
	time.RFC1123,
	"2006-01-02",
}

// parseTimestamp reads a creation time in one of timestampLayouts, or as
// Unix seconds or milliseconds.
func parseTimestamp(s string) (time.Time, error) {
	for _, layout := range timestampLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}

	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
		if n >= 1e12 {
			return time.UnixMilli(n).UTC(), nil
		}

		return time.Unix(n, 0).UTC(), nil
	}

	return time.Time{}, fmt.Errorf("time %q is not RFC 3339, a date or Unix seconds", s)
}
