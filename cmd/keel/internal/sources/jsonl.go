package sources

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// ReadJSONL reads a ticket export in JSON Lines: one JSON object per line.
// Keys are picked by m, which may name nested keys with dots; top-level
// keys the mapping does not use go to Metadata. Blank lines are skipped.
// A line that is not a JSON object, or is over MaxRowBytes, is reported
// with its line number and the reader goes on with the next line.
func ReadJSONL(path string, m Mapping) Stream {
	return func(yield func(Record, *Problem) bool) {
		f, err := os.Open(path)
		if err != nil {
			yield(Record{}, &Problem{Path: path, Err: fmt.Errorf("%w: %w", ErrReadStopped, err)})

			return
		}
		defer f.Close()

		for rec, prob := range readJSONL(f, m, MaxRowBytes) {
			if prob != nil {
				prob.Path = path
			}
			if !yield(rec, prob) {
				return
			}
		}
	}
}

// readJSONL reads JSON Lines tickets from r; lines over maxBytes are
// reported and skipped.
func readJSONL(r io.Reader, m Mapping, maxBytes int) Stream {
	return func(yield func(Record, *Problem) bool) {
		br := bufio.NewReaderSize(r, 64<<10)
		for lineNo := 1; ; lineNo++ {
			line, tooLong, err := readLimitedLine(br, maxBytes)
			if err != nil && !errors.Is(err, io.EOF) {
				yield(Record{}, &Problem{Line: lineNo, Err: fmt.Errorf("%w: %w", ErrReadStopped, err)})

				return
			}
			if lineNo == 1 {
				line = bytes.TrimPrefix(line, []byte("\uFEFF"))
			}

			var (
				rec  Record
				prob *Problem
				skip = len(bytes.TrimSpace(line)) == 0 && !tooLong
			)
			switch {
			case skip:
			case tooLong:
				prob = &Problem{Line: lineNo, Err: fmt.Errorf("%w: line over %d bytes", ErrTooLarge, maxBytes)}
			default:
				rec, prob = jsonlRecord(lineNo, line, m)
			}
			if !skip && !yield(rec, prob) {
				return
			}

			if errors.Is(err, io.EOF) {
				return
			}
		}
	}
}

// jsonlRecord decodes and maps one JSON line.
func jsonlRecord(lineNo int, line []byte, m Mapping) (Record, *Problem) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()

	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return Record{}, &Problem{Line: lineNo, Err: fmt.Errorf("%w: %w", ErrMalformedRow, describeJSONError(err))}
	}
	if obj == nil {
		return Record{}, &Problem{Line: lineNo, Err: fmt.Errorf("%w: line is not a JSON object", ErrMalformedRow)}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Record{}, &Problem{Line: lineNo, Err: fmt.Errorf("%w: text after the JSON object", ErrMalformedRow)}
	}

	fields := make(map[string]string, len(obj))
	for k, v := range obj {
		fields[k] = jsonText(v)
	}
	r := row{
		line:   lineNo,
		lookup: func(column string) (string, bool) { return lookupJSON(obj, column) },
		fields: fields,
	}

	rec, err := m.toRecord(r)
	if err != nil {
		return Record{}, &Problem{Line: lineNo, Err: err}
	}

	return rec, nil
}

// describeJSONError adds the byte offset to JSON syntax errors.
func describeJSONError(err error) error {
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		return fmt.Errorf("invalid JSON at byte %d: %w", syntax.Offset, err)
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return fmt.Errorf("line is a JSON %s, not an object", typeErr.Value)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("invalid JSON: the line ends inside a value: %w", err)
	}

	return err
}

// lookupJSON finds a key, first as written and then as a dotted path into
// nested objects.
func lookupJSON(obj map[string]any, key string) (string, bool) {
	if v, ok := obj[key]; ok {
		return jsonText(v), true
	}

	var cur any = obj
	for part := range strings.SplitSeq(key, ".") {
		o, ok := cur.(map[string]any)
		if !ok {
			return "", false
		}
		if cur, ok = o[part]; !ok {
			return "", false
		}
	}

	return jsonText(cur), true
}

// jsonText renders a JSON value as text: strings as they are, null as
// empty, other scalars in JSON syntax, objects and arrays as compact JSON.
func jsonText(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		if v {
			return "true"
		}

		return "false"
	}

	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}

	return string(b)
}

// readLimitedLine reads one line without its line ending. A line longer
// than max is consumed but not returned, and tooLong is set. err is io.EOF
// on the last line, which may be empty.
func readLimitedLine(br *bufio.Reader, max int) (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(chunk) > max+2 {
				tooLong, buf = true, nil
			} else {
				buf = append(buf, chunk...)
			}
		}

		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		buf = bytes.TrimSuffix(buf, []byte("\n"))
		buf = bytes.TrimSuffix(buf, []byte("\r"))
		if tooLong {
			buf = nil
		}

		return buf, tooLong, err
	}
}
