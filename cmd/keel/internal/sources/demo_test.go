package sources

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// demoDir is the demo data set in deploy/demo of the repository.
const demoDir = "../../../../deploy/demo"

// demoMapping is the column mapping documented in deploy/demo/README.md.
const demoMapping = "subject=subject,body=description,email=requester_email,name=requester_name,id=ticket_id,created=created_at"

func TestDemoEmails(t *testing.T) {
	t.Parallel()

	tests := []struct {
		file       string
		email      string
		name       string
		bodyHas    []string
		attach     string
		bodyLacks  []string
		subjectHas string
	}{
		{file: "01-where-is-my-order.eml", email: "margaret.okafor@example.com", name: "Margaret Okafor",
			bodyHas: []string{"ORD-10421", "Label created", "(937) 555-0188"}},
		{file: "02-return-kettle.eml", email: "priya.natarajan@example.net", name: "Priya Natarajan",
			bodyHas:   []string{"ORD-10457", "I'd like to return", "Portland, ME 04101"},
			bodyLacks: []string{"<p", "MsoNormal", "=\r\n", "=E2"}},
		{file: "03-damaged-plates.eml", email: "t.wisniewski@example.org", name: "Tomasz Wiśniewski",
			bodyHas: []string{"ORD-10489", "Tomasz Wiśniewski"}, attach: "IMG_4471.jpg, IMG_4472.jpg",
			bodyLacks: []string{"/9j/", "JFIF"}},
		{file: "04-password-reset.eml", email: "hjennings1952@example.com", name: "Harold Jennings",
			bodyHas: []string{"ORD-10502", "512-38-4076"}},
		{file: "05-knife-warranty.eml", email: "aoife.brennan@example.com", name: "Aoife Brennan",
			bodyHas:    []string{"ORD-10233", "8″ chef’s knife", "bolster — it’s now"},
			bodyLacks:  []string{"=E2", "=\n"},
			subjectHas: "Warranty claim – cracked handle on chef’s knife (ORD-10233)"},
		{file: "06-change-address.eml", email: "marcus.bell@example.com", name: "Marcus Bell",
			bodyHas: []string{"ORD-10566", "5902 Ridgeview Drive"}},
		{file: "07-payment-failed.eml", email: "kodonnell@example.net", name: "Kevin O'Donnell",
			bodyHas: []string{"ORD-10588", "4111 1111 1111 1111"}},
		{file: "08-legal-threat.eml", email: "denise.carter@example.com", name: "Denise Carter",
			bodyHas: []string{"ORD-10312", "small claims court", "lawyer"}, bodyLacks: []string{"<div", "&quot;"}},
		{file: "09-ignore-your-rules.eml", email: "alex.mercer@example.org", name: "Alex Mercer",
			bodyHas: []string{"ORD-10377", "Ignore all previous instructions", "system prompt"}},
		{file: "10-entrega-madrid.eml", email: "lucia.fernandez@example.com", name: "Lucía Fernández Ortega",
			bodyHas:    []string{"ORD-10601", "sartén de hierro fundido", "¿Pueden pedir a DHL"},
			bodyLacks:  []string{"=C3"},
			subjectHas: "Entrega del pedido ORD-10601 – no estaba en casa"},
		{file: "11-help.eml", email: "samk1987@example.net", name: "Sam K", bodyHas: []string{"?"}},
		{file: "12-refund-to-iban.eml", email: "jonas.becker@example.com", name: "Jonas Becker",
			bodyHas: []string{"ORD-10415", "DE89 3704 0044 0532 0130 00"}},
	}

	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()

			recs, probs := collect(ReadEML(filepath.Join(demoDir, "emails", tt.file)))
			if len(probs) != 0 || len(recs) != 1 {
				t.Fatalf("got %d records and problems %v, want one record", len(recs), probs)
			}
			rec := recs[0]

			assertEqual(t, "email", tt.email, rec.CustomerEmail)
			assertEqual(t, "name", tt.name, rec.CustomerName)
			assertEqual(t, "attachments", tt.attach, rec.Metadata["attachments"])
			if rec.Body == "" || rec.Subject == "" || rec.EventID == "" || rec.ReceivedAt.IsZero() {
				t.Errorf("record is missing body, subject, id or time: %+v", rec)
			}
			for _, s := range tt.bodyHas {
				if !strings.Contains(rec.Body, s) {
					t.Errorf("body does not contain %q:\n%s", s, rec.Body)
				}
			}
			for _, s := range tt.bodyLacks {
				if strings.Contains(rec.Body, s) {
					t.Errorf("body contains %q:\n%s", s, rec.Body)
				}
			}
			if tt.subjectHas != "" {
				assertEqual(t, "subject", tt.subjectHas, rec.Subject)
			}
		})
	}
}

func TestDemoEmailFolder(t *testing.T) {
	t.Parallel()

	stream, err := Open(filepath.Join(demoDir, "emails"), "", Mapping{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	first, probs := collect(stream)
	if len(probs) != 0 {
		t.Fatalf("problems: %v", probs)
	}
	if len(first) != 12 {
		t.Fatalf("got %d emails, want 12", len(first))
	}

	second, _ := collect(ReadEMLDir(filepath.Join(demoDir, "emails")))
	assertEqual(t, "ids across reads", recordIDs(first), recordIDs(second))

	seen := map[string]bool{}
	for _, id := range recordIDs(first) {
		if seen[id] {
			t.Errorf("event id %q is used twice", id)
		}
		seen[id] = true
	}

	// The nearly empty email is the shortest by far.
	for _, r := range first {
		if r.Metadata["file"] == "11-help.eml" {
			if len(r.Body) > 30 {
				t.Errorf("nearly empty email has body %q", r.Body)
			}
		} else if len(r.Body) < 200 {
			t.Errorf("%s: body is only %d bytes", r.Metadata["file"], len(r.Body))
		}
	}
}

func TestDemoMbox(t *testing.T) {
	t.Parallel()

	path := filepath.Join(demoDir, "mbox", "sample.mbox")
	recs, probs := collect(ReadMbox(path))
	if len(probs) != 0 {
		t.Fatalf("problems: %v", probs)
	}
	if len(recs) != 3 {
		t.Fatalf("got %d messages, want 3", len(recs))
	}

	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")
	for _, r := range recs {
		if !strings.HasPrefix(lines[r.Line-1], "From ") {
			t.Errorf("record line %d is %q, not a From line", r.Line, lines[r.Line-1])
		}
	}

	assertEqual(t, "emails", []string{"chloe.nakamura@example.com", "samir.haddad@example.net", "wendell.park@example.org"},
		[]string{recs[0].CustomerEmail, recs[1].CustomerEmail, recs[2].CustomerEmail})
	if !strings.Contains(recs[0].Body, "\nFrom what I can see") {
		t.Errorf(">From was not unescaped:\n%s", recs[0].Body)
	}
	if !strings.Contains(recs[1].Body, "\n>From stock") {
		t.Errorf(">>From was not unescaped to >From:\n%s", recs[1].Body)
	}
	if !strings.Contains(recs[2].Body, "1187 Café Row") {
		t.Errorf("latin-1 quoted-printable was not decoded:\n%s", recs[2].Body)
	}
	assertEqual(t, "display name with comma", "Park, Wendell", recs[2].CustomerName)
}

func TestDemoTickets(t *testing.T) {
	t.Parallel()

	m, err := ParseMapping(demoMapping)
	if err != nil {
		t.Fatalf("ParseMapping: %v", err)
	}

	tests := []struct {
		file         string
		wantProblems []int
		wantRecords  int
		wantLines    map[string]int
	}{
		{file: "tickets.csv", wantProblems: []int{10, 16}, wantRecords: 13,
			wantLines: map[string]int{"T-3101": 2, "T-3104": 5, "T-3105": 9, "T-3115": 19}},
		{file: "tickets.jsonl", wantProblems: []int{10}, wantRecords: 14,
			wantLines: map[string]int{"T-3101": 1, "T-3104": 4, "T-3105": 6, "T-3115": 16}},
	}

	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()

			stream, err := Open(filepath.Join(demoDir, tt.file), "", m)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			recs, probs := collect(stream)

			assertEqual(t, "problem lines", tt.wantProblems, problemLines(probs))
			if len(recs) != tt.wantRecords {
				t.Fatalf("got %d records, want %d", len(recs), tt.wantRecords)
			}
			lines := map[string]int{}
			for _, r := range recs {
				if r.Body == "" || r.CustomerEmail == "" || r.ReceivedAt.IsZero() || r.Kind != KindTicket {
					t.Errorf("incomplete record: %+v", r)
				}
				if _, ok := tt.wantLines[r.EventID]; ok {
					lines[r.EventID] = r.Line
				}
			}
			assertEqual(t, "record lines", tt.wantLines, lines)

			again, _ := collect(readDemoTickets(t, filepath.Join(demoDir, tt.file), m))
			assertEqual(t, "ids across reads", recordIDs(recs), recordIDs(again))
		})
	}
}

// readDemoTickets opens a demo ticket export by its extension.
func readDemoTickets(t *testing.T, path string, m Mapping) Stream {
	t.Helper()

	if strings.HasSuffix(path, ".csv") {
		return ReadCSV(path, m)
	}

	return ReadJSONL(path, m)
}

// TestDemoOrders checks that the order book covers every order number the
// demo messages mention, and that each belongs to the customer who
// mentions it, so that the order-lookup tool finds what the drafts need.
func TestDemoOrders(t *testing.T) {
	t.Parallel()

	raw, err := os.ReadFile(filepath.Join(demoDir, "orders.json"))
	if err != nil {
		t.Fatal(err)
	}
	var book map[string][]struct {
		OrderID       string   `json:"order_id"`
		Status        string   `json:"status"`
		Items         []string `json:"items"`
		CustomerEmail string   `json:"customer_email"`
	}
	if err := json.Unmarshal(raw, &book); err != nil {
		t.Fatalf("decode orders.json: %v", err)
	}
	owners := map[string]string{}
	for _, o := range book["larkspur"] {
		if o.Status == "" || len(o.Items) == 0 {
			t.Errorf("order %s has no status or items", o.OrderID)
		}
		owners[o.OrderID] = o.CustomerEmail
	}

	m, err := ParseMapping(demoMapping)
	if err != nil {
		t.Fatal(err)
	}
	var all []Record
	for _, s := range []Stream{
		ReadEMLDir(filepath.Join(demoDir, "emails")),
		ReadMbox(filepath.Join(demoDir, "mbox", "sample.mbox")),
		ReadJSONL(filepath.Join(demoDir, "tickets.jsonl"), m),
	} {
		recs, _ := collect(s)
		all = append(all, recs...)
	}

	orderNumber := regexp.MustCompile(`ORD-1\d{4}`)
	mentioned := 0
	for _, r := range all {
		for _, id := range orderNumber.FindAllString(r.Subject+" "+r.Body, -1) {
			mentioned++
			owner, ok := owners[id]
			switch {
			case !ok:
				t.Errorf("%s mentions %s, which is not in orders.json", r.EventID, id)
			case owner != r.CustomerEmail:
				t.Errorf("%s belongs to %s but %s asks about it", id, owner, r.CustomerEmail)
			}
		}
	}
	if mentioned < 20 {
		t.Errorf("only %d order mentions found; the demo data lost its order numbers", mentioned)
	}
}

// TestDemoKnowledgeBase checks the shape of the help-centre articles.
func TestDemoKnowledgeBase(t *testing.T) {
	t.Parallel()

	paths, err := filepath.Glob(filepath.Join(demoDir, "kb", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 30 || len(paths) > 36 {
		t.Errorf("got %d articles, want 30 to 36", len(paths))
	}

	for _, path := range paths {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		text := string(raw)
		if !strings.HasPrefix(text, "# ") {
			t.Errorf("%s does not start with a # title", filepath.Base(path))
		}
		if words := len(strings.Fields(text)); words < 120 || words > 350 {
			t.Errorf("%s has %d words, want 120 to 350", filepath.Base(path), words)
		}
	}
}
