package sources

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestDetectFormat(t *testing.T) {
	t.Parallel()

	dir := t.TempDir()
	tests := []struct {
		name    string
		file    string
		want    string
		wantErr error
	}{
		{name: "eml", file: "a.EML", want: FormatEML},
		{name: "mbox", file: "a.mbox", want: FormatMbox},
		{name: "mbx", file: "a.mbx", want: FormatMbox},
		{name: "csv", file: "a.csv", want: FormatCSV},
		{name: "jsonl", file: "a.jsonl", want: FormatJSONL},
		{name: "ndjson", file: "a.ndjson", want: FormatJSONL},
		{name: "unknown extension", file: "a.txt", wantErr: ErrUnknownFormat},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			path := filepath.Join(dir, tt.file)
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := DetectFormat(path)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			assertEqual(t, "format", tt.want, got)
		})
	}

	got, err := DetectFormat(dir)
	if err != nil || got != FormatEML {
		t.Errorf("DetectFormat(dir) = %q, %v, want eml", got, err)
	}
	if _, err := DetectFormat(filepath.Join(dir, "missing.csv")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("DetectFormat(missing) error = %v, want ErrNotExist", err)
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()

	dir := t.TempDir()
	csvPath := filepath.Join(dir, "t.csv")
	if err := os.WriteFile(csvPath, []byte("a\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		path    string
		format  string
		mapping Mapping
		want    error
	}{
		{name: "missing path", path: filepath.Join(dir, "nope.csv"), want: fs.ErrNotExist},
		{name: "unknown format", path: csvPath, format: "xml", want: ErrUnknownFormat},
		{name: "directory read as csv", path: dir, format: FormatCSV, mapping: Mapping{Body: "a"}, want: ErrUnknownFormat},
		{name: "csv without body mapping", path: csvPath, want: ErrInvalidMapping},
		{name: "jsonl without body mapping", path: csvPath, format: FormatJSONL, want: ErrInvalidMapping},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			if _, err := Open(tt.path, tt.format, tt.mapping); !errors.Is(err, tt.want) {
				t.Fatalf("Open error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestOpenEMLDir(t *testing.T) {
	t.Parallel()

	dir := t.TempDir()
	files := map[string]string{
		"b.eml":          "From: b@example.com\nSubject: B\n\nsecond\n",
		"a.eml":          "From: a@example.com\nSubject: A\n\nfirst\n",
		"notes.txt":      "not an email",
		"sub/c.EML":      "From: c@example.com\nSubject: C\n\nthird\n",
		"sub/broken.eml": "no header at all",
	}
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	stream, err := Open(dir, "", Mapping{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	recs, probs := collect(stream)

	var emails []string
	for _, r := range recs {
		emails = append(emails, r.CustomerEmail)
	}
	assertEqual(t, "emails in lexical order", []string{"a@example.com", "b@example.com", "c@example.com"}, emails)
	if len(probs) != 1 || probs[0].Path != filepath.Join(dir, "sub", "broken.eml") {
		t.Fatalf("problems = %v, want one for sub/broken.eml", probs)
	}
}

func TestProblemError(t *testing.T) {
	t.Parallel()

	withLine := &Problem{Path: "t.csv", Line: 7, Err: ErrMalformedRow}
	assertEqual(t, "with line", "t.csv:7: malformed row", withLine.Error())
	whole := &Problem{Path: "t.csv", Err: ErrReadStopped}
	assertEqual(t, "whole file", "t.csv: stopped reading file", whole.Error())
	if !errors.Is(withLine, ErrMalformedRow) {
		t.Error("errors.Is does not see the cause of a Problem")
	}
}
