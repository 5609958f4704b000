package sources

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestReadJSONL(t *testing.T) {
	t.Parallel()

	content := `{"ticket_id":"T-1","created_at":"2026-11-28T10:02:11Z","requester_name":"Rosa","requester_email":"rosa@example.com","subject":"Toaster","description":"One side\nstays cold.","priority":"normal","tags":["toaster","warranty"],"score":4.5,"vip":false}` + "\r\n" +
		"\n" +
		"   \n" +
		`{"ticket_id":3101,"subject":"Numeric id","description":"ok","extra":null}` + "\n" +
		`{"subject":"No id","description":"hash me"}`

	// "extra" and "channel" are not copied: one is null, the other is not
	// listed; "secret_notes" is never asked for.
	m := ticketMapping
	m.Metadata = []string{"priority", "tags", "score", "vip", "extra", "channel"}
	content = strings.Replace(content, `"vip":false}`, `"vip":false,"secret_notes":"call me on 555-0100"}`, 1)
	recs, probs := collect(ReadJSONL(writeFile(t, "t.jsonl", content), m))
	if len(probs) != 0 {
		t.Fatalf("problems: %v", probs)
	}

	assertEqual(t, "lines", []int{1, 4, 5}, recordLines(recs))
	want := Record{
		Line:          1,
		EventID:       "T-1",
		Kind:          KindTicket,
		Subject:       "Toaster",
		Body:          "One side\nstays cold.",
		CustomerEmail: "rosa@example.com",
		CustomerName:  "Rosa",
		ReceivedAt:    time.Date(2026, 11, 28, 10, 2, 11, 0, time.UTC),
		Metadata: map[string]string{
			"priority": "normal",
			"tags":     `["toaster","warranty"]`,
			"score":    "4.5",
			"vip":      "false",
		},
	}
	assertEqual(t, "first record", want, recs[0])
	assertEqual(t, "numeric id", "3101", recs[1].EventID)
	assertEqual(t, "null metadata dropped", map[string]string{}, recs[1].Metadata)
	if !strings.HasPrefix(recs[2].EventID, "sha256-") {
		t.Errorf("row without id has id %q", recs[2].EventID)
	}
}

func TestReadJSONLNestedKeys(t *testing.T) {
	t.Parallel()

	content := `{"id":"T-9","requester":{"email":"ana@example.com","name":"Ana"},"ticket":{"body":"Nested body"},"a.b":"flat wins"}` + "\n"
	m := Mapping{Body: "ticket.body", CustomerEmail: "requester.email", CustomerName: "requester.name",
		TicketID: "id", Subject: "a.b"}

	recs, probs := collect(ReadJSONL(writeFile(t, "t.jsonl", content), m))
	if len(probs) != 0 {
		t.Fatalf("problems: %v", probs)
	}
	assertEqual(t, "body", "Nested body", recs[0].Body)
	assertEqual(t, "email", "ana@example.com", recs[0].CustomerEmail)
	assertEqual(t, "name", "Ana", recs[0].CustomerName)
	assertEqual(t, "subject from a flat dotted key", "flat wins", recs[0].Subject)
}

func TestReadJSONLProblems(t *testing.T) {
	t.Parallel()

	content := `{"ticket_id":"T-1","description":"fine"}` + "\n" +
		`{"ticket_id":"T-2","description":"cut off` + "\n" +
		`["an","array"]` + "\n" +
		`"a string"` + "\n" +
		`null` + "\n" +
		`{"ticket_id":"T-6","description":"x"} {"second":"object"}` + "\n" +
		`{"ticket_id":"T-7","subject":""}` + "\n" +
		`{"ticket_id":"T-8","description":"bad time","created_at":"soon"}` + "\n" +
		`{"ticket_id":"T-9","description":"last one"}` + "\n"

	recs, probs := collect(ReadJSONL(writeFile(t, "t.jsonl", content), ticketMapping))

	assertEqual(t, "record ids", []string{"T-1", "T-9"}, recordIDs(recs))
	assertEqual(t, "record lines", []int{1, 9}, recordLines(recs))
	assertEqual(t, "problem lines", []int{2, 3, 4, 5, 6, 7, 8}, problemLines(probs))

	wantErrs := []error{ErrMalformedRow, ErrMalformedRow, ErrMalformedRow, ErrMalformedRow,
		ErrMalformedRow, ErrEmptyRecord, ErrMalformedRow}
	for i, p := range probs {
		if !errors.Is(p, wantErrs[i]) {
			t.Errorf("problem %d = %v, want %v", i, p, wantErrs[i])
		}
	}
	if !strings.Contains(probs[1].Error(), "array, not an object") {
		t.Errorf("array problem %q does not say what it found", probs[1].Error())
	}
}

func TestReadJSONLLongLine(t *testing.T) {
	t.Parallel()

	content := `{"ticket_id":"T-1","description":"` + strings.Repeat("x", 300<<10) + `"}` + "\n" +
		`{"ticket_id":"T-2","description":"short"}` + "\n"

	recs, probs := collect(readJSONL(strings.NewReader(content), ticketMapping, 100<<10))
	if len(probs) != 1 || !errors.Is(probs[0], ErrTooLarge) || probs[0].Line != 1 {
		t.Fatalf("problems = %v, want one ErrTooLarge on line 1", probs)
	}
	assertEqual(t, "ids", []string{"T-2"}, recordIDs(recs))
	assertEqual(t, "lines", []int{2}, recordLines(recs))
}
