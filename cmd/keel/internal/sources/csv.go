package sources

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// ReadCSV reads a ticket export in CSV with a header row. Columns are
// picked by m; unmapped columns go to Metadata. Each record yields a Record
// or a Problem at the record's first line. A row with the wrong number of
// fields or a misplaced quote is reported and skipped. A quote that is
// never closed swallows the lines after it; the Problem names them. A
// header without a mapped column stops the file with ErrMissingColumn.
func ReadCSV(path string, m Mapping) Stream {
	return func(yield func(Record, *Problem) bool) {
		f, err := os.Open(path)
		if err != nil {
			yield(Record{}, &Problem{Path: path, Err: fmt.Errorf("%w: %w", ErrReadStopped, err)})

			return
		}
		defer f.Close()

		for rec, prob := range readCSV(f, m, MaxRowBytes) {
			if prob != nil {
				prob.Path = path
			}
			if !yield(rec, prob) {
				return
			}
		}
	}
}

// readCSV reads CSV tickets from r; a record over maxBytes stops it.
func readCSV(r io.Reader, m Mapping, maxBytes int) Stream {
	return func(yield func(Record, *Problem) bool) {
		limit := &recordLimiter{r: r, max: maxBytes}
		cr := csv.NewReader(limit)
		cr.FieldsPerRecord = -1

		// Header.
		header, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			prob := csvProblem(err, 1, limit)
			if !errors.Is(prob.Err, ErrReadStopped) {
				prob.Err = fmt.Errorf("%w: header: %w", ErrReadStopped, prob.Err)
			}
			yield(Record{}, prob)

			return
		}
		if len(header) > 0 {
			header[0] = strings.TrimPrefix(header[0], "\uFEFF")
		}
		index := map[string]int{}
		for i, name := range header {
			name = strings.TrimSpace(name)
			if _, dup := index[name]; !dup {
				index[name] = i
			}
		}
		headerLine, _ := cr.FieldPos(0)
		for _, col := range m.columns() {
			if _, ok := index[col]; !ok {
				err := fmt.Errorf("%w: %w: header has no column %q", ErrReadStopped, ErrMissingColumn, col)
				yield(Record{}, &Problem{Line: headerLine, Err: err})

				return
			}
		}

		// Records.
		for {
			limit.reset()
			fields, err := cr.Read()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				prob := csvProblem(err, 0, limit)
				if !yield(Record{}, prob) || errors.Is(prob.Err, ErrReadStopped) {
					return
				}

				continue
			}

			line, _ := cr.FieldPos(0)
			if len(fields) != len(header) {
				err := fmt.Errorf("%w: %d fields, the header has %d", ErrMalformedRow, len(fields), len(header))
				if !yield(Record{}, &Problem{Line: line, Err: err}) {
					return
				}

				continue
			}

			rec, err := m.toRecord(csvRow(line, header, index, fields))
			if err != nil {
				if !yield(Record{}, &Problem{Line: line, Err: err}) {
					return
				}

				continue
			}
			if !yield(rec, nil) {
				return
			}
		}
	}
}

// csvRow wraps one CSV record for Mapping.toRecord.
func csvRow(line int, header []string, index map[string]int, fields []string) row {
	all := make(map[string]string, len(header))
	for i, name := range header {
		name = strings.TrimSpace(name)
		if _, seen := all[name]; !seen {
			all[name] = fields[i]
		}
	}

	return row{
		line: line,
		lookup: func(column string) (string, bool) {
			i, ok := index[column]
			if !ok {
				return "", false
			}

			return fields[i], true
		},
		fields: all,
	}
}

// csvProblem turns a csv.Reader error into a Problem. Errors that are not
// about one record's syntax stop the file.
func csvProblem(err error, line int, limit *recordLimiter) *Problem {
	if limit.exceeded {
		return &Problem{Line: line, Err: fmt.Errorf("%w: %w: a record is over %d bytes",
			ErrReadStopped, ErrTooLarge, limit.max)}
	}

	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		return &Problem{Line: line, Err: fmt.Errorf("%w: %w", ErrReadStopped, err)}
	}

	if pe.StartLine > 0 {
		line = pe.StartLine
	}
	if errors.Is(pe.Err, csv.ErrQuote) && pe.Line > pe.StartLine {
		err := fmt.Errorf("%w: a quoted field opened on line %d is not closed; lines %d to %d are skipped",
			ErrMalformedRow, pe.StartLine, pe.StartLine, pe.Line)

		return &Problem{Line: line, Err: err}
	}

	return &Problem{Line: line, Err: fmt.Errorf("%w: column %d: %w", ErrMalformedRow, pe.Column, pe.Err)}
}

// recordLimiter fails reads once more than max bytes were read since the
// last reset, so that one unterminated quoted field cannot pull a whole
// file into memory. The count includes the csv.Reader's read-ahead.
type recordLimiter struct {
	r        io.Reader
	max      int
	n        int
	exceeded bool
}

// errRecordLimit is returned by recordLimiter; csvProblem reports it.
var errRecordLimit = errors.New("record limit reached")

func (l *recordLimiter) Read(p []byte) (int, error) {
	if l.n > l.max {
		l.exceeded = true

		return 0, errRecordLimit
	}
	n, err := l.r.Read(p)
	l.n += n

	return n, err
}

func (l *recordLimiter) reset() { l.n = 0 }
