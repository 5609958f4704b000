package sources

import (
	"errors"
	"strings"
	"testing"
)

const threeMessages = `From alice@example.com Mon Nov 30 10:00:00 2026
From: Alice <alice@example.com>
Subject: First
Message-ID: <m1@example.com>

Line one.
>From the start of a line.
>>From a quoted line.

From bob@example.com Mon Nov 30 11:00:00 2026
From: Bob <bob@example.com>
Subject: Second

Bob's body.
From carol@example.com Mon Nov 30 12:00:00 2026
From: Carol <carol@example.com>
Subject: Third
Message-ID: <m3@example.com>

Carol's body.
`

func TestReadMbox(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		content string
	}{
		{name: "LF", content: threeMessages},
		{name: "CRLF", content: crlf(threeMessages)},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			path := writeFile(t, "in.mbox", tt.content)
			recs, probs := collect(ReadMbox(path))
			if len(probs) != 0 {
				t.Fatalf("problems: %v", probs)
			}

			assertEqual(t, "lines", []int{1, 10, 15}, recordLines(recs))
			assertEqual(t, "emails", "alice@example.com bob@example.com carol@example.com",
				recs[0].CustomerEmail+" "+recs[1].CustomerEmail+" "+recs[2].CustomerEmail)
			assertEqual(t, "first body",
				"Line one.\nFrom the start of a line.\n>From a quoted line.", recs[0].Body)
			assertEqual(t, "second body", "Bob's body.", recs[1].Body)
			assertEqual(t, "ids", "m1@example.com", recs[0].EventID)
			if !strings.HasPrefix(recs[1].EventID, "sha256-") {
				t.Errorf("message without Message-ID has id %q", recs[1].EventID)
			}
		})
	}
}

func TestReadMboxStableIDs(t *testing.T) {
	t.Parallel()

	path := writeFile(t, "in.mbox", threeMessages)
	first, _ := collect(ReadMbox(path))
	second, _ := collect(ReadMbox(path))
	assertEqual(t, "ids", recordIDs(first), recordIDs(second))
}

func TestReadMboxProblems(t *testing.T) {
	t.Parallel()

	content := "stray text before any message\n" +
		"From x Mon Nov 30 10:00:00 2026\n" +
		"not a header line\n" +
		"\n" +
		"From y Mon Nov 30 10:00:00 2026\n" +
		"From: y@example.com\n" +
		"Subject: fine\n" +
		"\n" +
		"ok\n"

	path := writeFile(t, "bad.mbox", content)
	recs, probs := collect(ReadMbox(path))

	assertEqual(t, "problem lines", []int{1, 2}, problemLines(probs))
	if !errors.Is(probs[1], ErrMalformedMessage) {
		t.Errorf("problem %v is not ErrMalformedMessage", probs[1])
	}
	if probs[1].Path != path {
		t.Errorf("problem path = %q, want %q", probs[1].Path, path)
	}
	assertEqual(t, "record lines", []int{5}, recordLines(recs))
}

func TestReadMboxTooLarge(t *testing.T) {
	t.Parallel()

	content := "From a\nFrom: a@example.com\nSubject: big\n\n" + strings.Repeat("long line\n", 50) +
		"From b\nFrom: b@example.com\nSubject: small\n\nok\n"

	recs, probs := collect(readMbox(strings.NewReader(content), 200))
	if len(probs) != 1 || !errors.Is(probs[0], ErrTooLarge) || probs[0].Line != 1 {
		t.Fatalf("problems = %v, want one ErrTooLarge on line 1", probs)
	}
	assertEqual(t, "record lines", []int{55}, recordLines(recs))
}

func TestReadMboxLongLines(t *testing.T) {
	t.Parallel()

	// Lines longer than the read buffer must neither split messages nor
	// shift line numbers.
	long := strings.Repeat("y", 200<<10)
	content := "From a\nFrom: a@example.com\nSubject: long\n\n" + long + "From not a separator\n" +
		"From b\nFrom: b@example.com\nSubject: next\n\nok\n"

	recs, probs := collect(readMbox(strings.NewReader(content), MaxMessageBytes))
	if len(probs) != 0 {
		t.Fatalf("problems: %v", probs)
	}
	assertEqual(t, "record lines", []int{1, 6}, recordLines(recs))
	if !strings.HasSuffix(recs[0].Body, "From not a separator") {
		t.Errorf("long line was split: body ends %q", recs[0].Body[len(recs[0].Body)-30:])
	}
}

func TestReadMboxStopsEarly(t *testing.T) {
	t.Parallel()

	path := writeFile(t, "in.mbox", threeMessages)
	n := 0
	for range ReadMbox(path) {
		n++
		break
	}
	assertEqual(t, "records seen", 1, n)
}
