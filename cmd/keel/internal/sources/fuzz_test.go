package sources

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

// checkStream drains a stream and checks what every reader promises: no
// panic, UTF-8 text, a line and an id on every record, a cause on every
// problem, and lines that never go backwards.
func checkStream(t *testing.T, s Stream) {
	t.Helper()

	last := 0
	for rec, prob := range s {
		line := rec.Line
		if prob != nil {
			if prob.Err == nil {
				t.Fatalf("problem without a cause at line %d", prob.Line)
			}
			if prob.Line == 0 {
				continue
			}
			line = prob.Line
		} else {
			if rec.EventID == "" || rec.Line < 1 {
				t.Fatalf("record without id or line: %+v", rec)
			}
			if !utf8.ValidString(rec.Body) || !utf8.ValidString(rec.Subject) || !utf8.ValidString(rec.CustomerName) {
				t.Fatalf("record text is not UTF-8: %+v", rec)
			}
			if rec.Body == "" && rec.Subject == "" {
				t.Fatalf("empty record: %+v", rec)
			}
		}
		if line < last {
			t.Fatalf("line %d comes after line %d", line, last)
		}
		last = line
	}
}

// addDemoSeeds adds every file matching pattern under deploy/demo.
func addDemoSeeds(f *testing.F, pattern string, add func(data []byte)) {
	f.Helper()

	paths, err := filepath.Glob(filepath.Join(demoDir, pattern))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		add(data)
	}
}

func FuzzParseEmail(f *testing.F) {
	addDemoSeeds(f, "emails/*.eml", func(data []byte) { f.Add(data) })
	f.Add([]byte(header + "Content-Type: multipart/alternative; boundary=x\n\n--x\nContent-Type: text/html\n\n<p>a&amp;b</p>\n--x--\n"))
	f.Add([]byte("From: =?iso-8859-1?q?Jos=E9?= <j@example.com>\nSubject: =?utf-8?b?w6k=?=\n\nx"))
	f.Add([]byte("From: a@example.com\nContent-Transfer-Encoding: base64\n\nw6k=\n"))

	f.Fuzz(func(t *testing.T, raw []byte) {
		rec, err := parseEmail(raw)
		if err != nil {
			return
		}
		if rec.EventID == "" || rec.CustomerEmail == "" {
			t.Fatalf("record without id or sender: %+v", rec)
		}
		if !utf8.ValidString(rec.Body) || !utf8.ValidString(rec.Subject) ||
			!utf8.ValidString(rec.CustomerName) || !utf8.ValidString(rec.CustomerEmail) {
			t.Fatalf("record text is not UTF-8: %+v", rec)
		}
		again, err := parseEmail(raw)
		if err != nil || again.EventID != rec.EventID || again.Body != rec.Body {
			t.Fatalf("second parse differs: %+v, %v", again, err)
		}
	})
}

func FuzzReadMbox(f *testing.F) {
	addDemoSeeds(f, "mbox/*.mbox", func(data []byte) { f.Add(data) })
	f.Add([]byte(threeMessages))
	f.Add([]byte("junk\nFrom \nFrom: a@b\n\n>From x\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		checkStream(t, readMbox(bytes.NewReader(data), 4<<10))
	})
}

func FuzzReadCSV(f *testing.F) {
	addDemoSeeds(f, "tickets.csv", func(data []byte) { f.Add(data, demoMapping) })
	f.Add([]byte("ticket_id,description\nT-1,\"a\nb\"\nT-2,x\"y\n"), "body=description,id=ticket_id")
	f.Add([]byte("a,b\n1,2,3\n"), "body=b,created=a")

	f.Fuzz(func(t *testing.T, data []byte, mapping string) {
		m, err := ParseMapping(mapping)
		if err != nil {
			return
		}
		checkStream(t, readCSV(bytes.NewReader(data), m, 4<<10))
	})
}

func FuzzReadJSONL(f *testing.F) {
	addDemoSeeds(f, "tickets.jsonl", func(data []byte) { f.Add(data, demoMapping) })
	f.Add([]byte(`{"a":{"b":"x"},"n":1}`+"\n[1]\n{\n"), "body=a.b,id=n")
	f.Add([]byte("\uFEFF{\"d\":\"x\"}\r\n\r\n"), "body=d,created=d")

	f.Fuzz(func(t *testing.T, data []byte, mapping string) {
		m, err := ParseMapping(mapping)
		if err != nil {
			return
		}
		checkStream(t, readJSONL(bytes.NewReader(data), m, 4<<10))
	})
}
