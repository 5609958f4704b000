package sources

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// ticketMapping is the mapping of the test exports.
var ticketMapping = Mapping{
	Subject:       "subject",
	Body:          "description",
	CustomerEmail: "requester_email",
	CustomerName:  "requester_name",
	TicketID:      "ticket_id",
	CreatedAt:     "created_at",
}

func TestReadCSV(t *testing.T) {
	t.Parallel()

	content := "\uFEFFticket_id,created_at,requester_name,requester_email,subject,description,priority\n" +
		"T-1,2026-11-28T10:02:11Z,Rosa Delgado,rosa@example.com,Toaster,One side stays cold.,normal\n" +
		"T-2,2026-11-29 16:30:02,Olu Adeyemi,\"Olu <olu@example.com>\",Invoice,\"Hello,\nI need an invoice\n\nfor \"\"ORD-10540\"\".\",\n" +
		"\n" +
		"T-3,1764410400,Hannah,hannah@example.com,Rust,Rust spots.,high\n"

	m := ticketMapping
	m.Metadata = []string{"priority"}
	recs, probs := collect(ReadCSV(writeFile(t, "t.csv", content), m))
	if len(probs) != 0 {
		t.Fatalf("problems: %v", probs)
	}

	assertEqual(t, "lines", []int{2, 3, 8}, recordLines(recs))
	assertEqual(t, "ids", []string{"T-1", "T-2", "T-3"}, recordIDs(recs))

	want := Record{
		Line:          3,
		EventID:       "T-2",
		Kind:          KindTicket,
		Subject:       "Invoice",
		Body:          "Hello,\nI need an invoice\n\nfor \"ORD-10540\".",
		CustomerEmail: "olu@example.com",
		CustomerName:  "Olu Adeyemi",
		ReceivedAt:    time.Date(2026, 11, 29, 16, 30, 2, 0, time.UTC),
		Metadata:      map[string]string{},
	}
	assertEqual(t, "record T-2", want, recs[1])
	assertEqual(t, "metadata T-1", map[string]string{"priority": "normal"}, recs[0].Metadata)
	assertEqual(t, "unix time", time.Unix(1764410400, 0).UTC(), recs[2].ReceivedAt)
}

func TestReadCSVProblems(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name         string
		content      string
		wantProblems []int
		wantRecords  []int
		wantErr      error
		wantText     string
	}{
		{
			name: "wrong number of fields",
			content: "ticket_id,subject,description\n" +
				"T-1,a,b\n" +
				"T-2,a,b, with a comma,x\n" +
				"T-3,a,b\n",
			wantProblems: []int{3},
			wantRecords:  []int{2, 4},
			wantErr:      ErrMalformedRow,
			wantText:     "5 fields, the header has 3",
		},
		{
			name: "bare quote",
			content: "ticket_id,subject,description\n" +
				"T-1,a,b\n" +
				"T-2,the 5\" pan,b\n" +
				"T-3,a,b\n",
			wantProblems: []int{3},
			wantRecords:  []int{2, 4},
			wantErr:      ErrMalformedRow,
			wantText:     "bare",
		},
		{
			name: "quote never closed",
			content: "ticket_id,subject,description\n" +
				"T-1,a,b\n" +
				"T-2,a,\"starts here\n" +
				"T-3,a,b\n" +
				"T-4,a,b\n",
			wantProblems: []int{3},
			wantRecords:  []int{2},
			wantErr:      ErrMalformedRow,
			wantText:     "lines 3 to 5 are skipped",
		},
		{
			name: "bad timestamp",
			content: "ticket_id,created_at,subject,description\n" +
				"T-1,yesterday,a,b\n" +
				"T-2,2026-12-01,a,b\n",
			wantProblems: []int{2},
			wantRecords:  []int{3},
			wantErr:      ErrMalformedRow,
			wantText:     `column "created_at"`,
		},
		{
			name: "empty ticket",
			content: "ticket_id,subject,description\n" +
				"T-1,,\n" +
				"T-2,,body only\n",
			wantProblems: []int{2},
			wantRecords:  []int{3},
			wantErr:      ErrEmptyRecord,
		},
		{
			name:         "metadata column missing from header",
			content:      "ticket_id,subject,description\nT-1,a,b\n",
			wantProblems: []int{1},
			wantRecords:  []int{},
			wantErr:      ErrMissingColumn,
			wantText:     `"priority"`,
		},
		{
			name:         "header with a bare quote",
			content:      "ticket_id,sub\"ject,description\nT-1,a,b\n",
			wantProblems: []int{1},
			wantRecords:  []int{},
			wantErr:      ErrReadStopped,
			wantText:     "header",
		},
		{
			name:         "mapped column missing from header",
			content:      "ticket_id,subject,body\nT-1,a,b\n",
			wantProblems: []int{1},
			wantRecords:  []int{},
			wantErr:      ErrMissingColumn,
			wantText:     `"description"`,
		},
		{
			name:         "empty file",
			content:      "",
			wantProblems: []int{},
			wantRecords:  []int{},
		},
	}

	m := Mapping{Subject: "subject", Body: "description", TicketID: "ticket_id", CreatedAt: "created_at"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			mapping := m
			if !strings.Contains(tt.content, "created_at") {
				mapping.CreatedAt = ""
			}
			if strings.HasPrefix(tt.name, "metadata") {
				mapping.Metadata = []string{"priority"}
			}
			recs, probs := collect(ReadCSV(writeFile(t, "t.csv", tt.content), mapping))

			assertEqual(t, "problem lines", tt.wantProblems, problemLines(probs))
			assertEqual(t, "record lines", tt.wantRecords, recordLines(recs))
			for _, p := range probs {
				if !errors.Is(p, tt.wantErr) {
					t.Errorf("problem %v is not %v", p, tt.wantErr)
				}
				if !strings.Contains(p.Error(), tt.wantText) {
					t.Errorf("problem %q does not mention %q", p.Error(), tt.wantText)
				}
			}
		})
	}
}

func TestReadCSVContentIDs(t *testing.T) {
	t.Parallel()

	// Without a ticket id column, the id hashes the row: stable across
	// reads and across column order, different for different rows.
	m := Mapping{Subject: "subject", Body: "description"}
	a := writeFile(t, "a.csv", "subject,description\nHello,Where is my order?\nHello,Another one\n")
	b := writeFile(t, "b.csv", "description,subject\nWhere is my order?,Hello\n")

	first, _ := collect(ReadCSV(a, m))
	again, _ := collect(ReadCSV(a, m))
	reordered, _ := collect(ReadCSV(b, m))

	assertEqual(t, "ids across reads", recordIDs(first), recordIDs(again))
	assertEqual(t, "id across column order", first[0].EventID, reordered[0].EventID)
	if first[0].EventID == first[1].EventID {
		t.Errorf("different rows share id %q", first[0].EventID)
	}
	if !strings.HasPrefix(first[0].EventID, "sha256-") {
		t.Errorf("id %q is not a content id", first[0].EventID)
	}
}

func TestReadCSVRecordLimit(t *testing.T) {
	t.Parallel()

	content := "ticket_id,description\nT-1,short\nT-2,\"" + strings.Repeat("x", 64<<10) + "\"\nT-3,short\n"
	recs, probs := collect(readCSV(strings.NewReader(content), Mapping{Body: "description", TicketID: "ticket_id"}, 16<<10))

	assertEqual(t, "ids", []string{"T-1"}, recordIDs(recs))
	if len(probs) != 1 || !errors.Is(probs[0], ErrTooLarge) || !errors.Is(probs[0], ErrReadStopped) {
		t.Fatalf("problems = %v, want one ErrTooLarge that stops the file", probs)
	}
}
