package redacteval

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Markers of the record format.
const (
	headerPrefix  = "### "
	markOpen      = '⟦'
	markClose     = '⟧'
	markSep       = '|'
	byteOrderMark = "\ufeff"
)

// maxQuoted bounds how much of a malformed marker an error message repeats.
const maxQuoted = 40

// ParseError is a malformed line of a test-set file.
type ParseError struct {
	// File is the name given to Parse or the path LoadDir read.
	File string
	// Line counts from 1.
	Line int
	// Msg says what is wrong.
	Msg string
}

// Error returns "file:line: message".
func (e *ParseError) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// Parse reads the records of one test-set file, which must be UTF-8. name is
// only used in error messages. It reports every malformed record it finds, each as a
// *ParseError, joined into one error; it then returns no Examples.
func Parse(name string, r io.Reader) ([]Example, error) {
	p := newParser()
	if err := p.parseFile(name, r); err != nil {
		return nil, err
	}
	return p.result()
}

// LoadDir reads every *.txt file of dir in order of name. Ids must be unique
// across the files. It returns an error when dir cannot be read, holds no
// *.txt file or any file is malformed (see Parse).
func LoadDir(dir string) ([]Example, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read test set: %w", err)
	}

	p := newParser()
	files := 0
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".txt") {
			continue
		}
		files++
		if err := p.parseNamedFile(filepath.Join(dir, e.Name())); err != nil {
			return nil, err
		}
	}
	if files == 0 {
		return nil, fmt.Errorf("read test set: no *.txt file in %s", dir)
	}
	return p.result()
}

// parser accumulates the records of one or more files.
type parser struct {
	// seen maps each id to "file:line" of its header, to report duplicates.
	seen     map[string]string
	examples []Example
	errs     []error
}

// record is a header and the raw lines that follow it.
type record struct {
	file   string
	line   int // of the header
	id     string
	kind   string
	lines  []string
	broken bool // the header was malformed; the body is skipped
}

func newParser() *parser {
	return &parser{seen: make(map[string]string)}
}

// result returns the examples read, or every problem found.
func (p *parser) result() ([]Example, error) {
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return p.examples, nil
}

// parseNamedFile opens path and parses it.
func (p *parser) parseNamedFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open test set file: %w", err)
	}
	defer f.Close()
	return p.parseFile(path, f)
}

// parseFile splits a file into records and parses each. Its error is only
// for reading; format problems are collected in p.errs.
func (p *parser) parseFile(name string, r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	content := strings.TrimPrefix(string(raw), byteOrderMark)

	var cur *record
	strayReported := false
	for i, line := range strings.Split(content, "\n") {
		lineNo := i + 1
		if strings.HasPrefix(line, headerPrefix) {
			p.finish(cur)
			cur = p.header(name, lineNo, line)
			continue
		}
		if cur != nil {
			cur.lines = append(cur.lines, line)
			continue
		}
		if !strayReported && strings.TrimSpace(line) != "" {
			p.fail(name, lineNo, `text before the first "### <id> <kind>" header`)
			strayReported = true
		}
	}
	p.finish(cur)
	return nil
}

// header starts a record from its header line.
func (p *parser) header(file string, lineNo int, line string) *record {
	rec := &record{file: file, line: lineNo}
	fields := strings.Fields(strings.TrimPrefix(line, headerPrefix))
	if len(fields) != 2 {
		p.fail(file, lineNo, fmt.Sprintf(`header must be "### <id> <kind>", got %q`, clip(line)))
		rec.broken = true
		return rec
	}
	rec.id, rec.kind = fields[0], fields[1]

	if !validID(rec.id) {
		p.fail(file, lineNo, fmt.Sprintf("id %q may only hold letters, digits, '-' and '_'", clip(rec.id)))
		rec.broken = true
	}
	if !isKnownKind(rec.kind) {
		p.fail(file, lineNo, fmt.Sprintf("unknown kind %q (want email, chat, note, diff or log)", clip(rec.kind)))
		rec.broken = true
	}
	where := fmt.Sprintf("%s:%d", file, lineNo)
	if first, dup := p.seen[rec.id]; dup {
		p.fail(file, lineNo, fmt.Sprintf("duplicate id %q, first used at %s", rec.id, first))
		rec.broken = true
	} else if !rec.broken {
		p.seen[rec.id] = where
	}
	return rec
}

// finish turns the lines of rec into an Example.
func (p *parser) finish(rec *record) {
	if rec == nil || rec.broken {
		return
	}
	lines := rec.lines
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	text, gold, err := parseMarkers(strings.Join(lines, "\n"))
	if err != nil {
		// The body starts on the line after the header.
		p.fail(rec.file, rec.line+1+err.line, err.msg)
		return
	}
	p.examples = append(p.examples, Example{ID: rec.id, Kind: rec.kind, Text: text, Gold: gold})
}

func (p *parser) fail(file string, line int, msg string) {
	p.errs = append(p.errs, &ParseError{File: file, Line: line, Msg: msg})
}

// markerError is a malformed marker; line counts from 0 within the record.
type markerError struct {
	line int
	msg  string
}

// markerState is where parseMarkers is within a ⟦TYPE|value⟧ marker.
type markerState int

const (
	outsideMarker markerState = iota
	inMarkerType
	inMarkerValue
)

// parseMarkers removes the markers of a record body and returns the
// labelled text and the gold spans, or the first malformed marker.
func parseMarkers(body string) (string, []Span, *markerError) {
	var (
		out      strings.Builder
		gold     []Span
		typ      strings.Builder
		state    = outsideMarker
		pos      int // code points written to out
		line     int // newlines read so far
		openLine int // line of the current ⟦
		start    int // code point where the current value starts
	)
	out.Grow(len(body))
	for i := 0; i < len(body); {
		r, size := utf8.DecodeRuneInString(body[i:])
		if r == utf8.RuneError && size == 1 {
			// Invalid bytes either side of a marker could join into one
			// character and shift every offset after them.
			return "", nil, &markerError{line, "invalid UTF-8"}
		}
		chunk := body[i : i+size]
		i += size

		switch state {
		case outsideMarker:
			switch r {
			case markOpen:
				state, openLine = inMarkerType, line
				typ.Reset()
			case markClose:
				return "", nil, &markerError{line, "unbalanced ⟧: no ⟦ opens it"}
			default:
				out.WriteString(chunk)
				pos++
			}
		case inMarkerType:
			switch r {
			case markSep:
				if msg := checkType(typ.String()); msg != "" {
					return "", nil, &markerError{openLine, msg}
				}
				state, start = inMarkerValue, pos
			case markOpen:
				return "", nil, &markerError{line, "nested markers: ⟦ inside a marker"}
			case markClose, '\n':
				return "", nil, &markerError{openLine,
					fmt.Sprintf("missing '|' in marker ⟦%s", clip(typ.String()))}
			default:
				typ.WriteString(chunk)
			}
		case inMarkerValue:
			switch r {
			case markOpen:
				return "", nil, &markerError{line, "nested markers: ⟦ inside a marker"}
			case markClose:
				if pos == start {
					return "", nil, &markerError{line, fmt.Sprintf("empty value in marker ⟦%s|⟧", clip(typ.String()))}
				}
				gold = append(gold, Span{Type: typ.String(), Start: start, End: pos})
				state = outsideMarker
			default:
				out.WriteString(chunk)
				pos++
			}
		}
		if r == '\n' {
			line++
		}
	}
	if state != outsideMarker {
		return "", nil, &markerError{openLine, "unbalanced ⟦: the marker is never closed"}
	}
	return out.String(), gold, nil
}

// checkType returns what is wrong with an entity type, or "".
func checkType(t string) string {
	if t == "" {
		return "empty entity type in marker ⟦|"
	}
	if strings.IndexFunc(t, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return fmt.Sprintf("entity type %q holds a space or control character (missing '|'?)", clip(t))
	}
	return ""
}

// validID reports whether id holds only ASCII letters, digits, '-' and '_'.
func validID(id string) bool {
	for _, r := range id {
		ok := r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !ok {
			return false
		}
	}
	return id != ""
}

// clip shortens s for an error message.
func clip(s string) string {
	if utf8.RuneCountInString(s) <= maxQuoted {
		return s
	}
	return string([]rune(s)[:maxQuoted]) + "…"
}
