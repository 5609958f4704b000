package sources

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ReadEML reads one RFC 5322 message from an .eml file. The stream yields
// one Record, or one Problem when the file cannot be read or parsed.
func ReadEML(path string) Stream {
	return func(yield func(Record, *Problem) bool) {
		rec, prob := readEMLFile(path, MaxMessageBytes)
		yield(rec, prob)
	}
}

// ReadEMLDir reads every .eml file under dir, in lexical order, descending
// into subfolders. Each file yields one Record or one Problem; a folder
// that cannot be listed yields a Problem and is skipped.
func ReadEMLDir(dir string) Stream {
	return func(yield func(Record, *Problem) bool) {
		_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				prob := &Problem{Path: path, Err: fmt.Errorf("list folder: %w", err)}
				if !yield(Record{}, prob) {
					return fs.SkipAll
				}
				if d != nil && d.IsDir() {
					return fs.SkipDir
				}

				return nil
			}
			if d.IsDir() || !strings.EqualFold(filepath.Ext(path), ".eml") {
				return nil
			}

			if !yield(readEMLFile(path, MaxMessageBytes)) {
				return fs.SkipAll
			}

			return nil
		})
	}
}

// readEMLFile reads and parses one .eml file of at most maxBytes.
func readEMLFile(path string, maxBytes int) (Record, *Problem) {
	f, err := os.Open(path)
	if err != nil {
		return Record{}, &Problem{Path: path, Err: fmt.Errorf("%w: %w", ErrReadStopped, err)}
	}
	defer f.Close()

	raw, err := io.ReadAll(io.LimitReader(f, int64(maxBytes)+1))
	if err != nil {
		return Record{}, &Problem{Path: path, Err: fmt.Errorf("%w: read message: %w", ErrReadStopped, err)}
	}
	if len(raw) > maxBytes {
		return Record{}, &Problem{Path: path, Line: 1, Err: fmt.Errorf("%w: message over %d bytes",
			ErrTooLarge, maxBytes)}
	}

	rec, err := parseEmail(raw)
	if err != nil {
		return Record{}, &Problem{Path: path, Line: 1, Err: err}
	}
	rec.Line = 1
	rec.Metadata["file"] = filepath.Base(path)

	return rec, nil
}
