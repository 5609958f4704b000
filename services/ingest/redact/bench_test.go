package redact

import (
	"strings"
	"testing"
)

// benchmarkEmail builds a support email of about 4 KiB with a handful of
// entities spread through ordinary prose, order numbers and dates.
func benchmarkEmail() string {
	var b strings.Builder
	b.WriteString("Subject: Refund request for order ORD-2024-118822\n\n")
	b.WriteString("Hello support team,\n\n")
	paragraph := "I ordered a pair of running shoes on 2024-03-02 (order ORD-118822) and " +
		"they arrived with a torn sole. The tracking page still says version 2.4.1 of " +
		"your app could not load the return label, and support ticket #448812 has had " +
		"no reply since Tuesday. I would like a refund to the original payment method, " +
		"or an exchange for the same model in size 42 if that is quicker for you.\n\n"
	for b.Len() < 3500 {
		b.WriteString(paragraph)
	}
	b.WriteString("You can reach me on +44 7700 900123 or at jane.doe@example.com. " +
		"The card used was 4111 1111 1111 1111; refunds can also go to " +
		"GB82 WEST 1234 5698 7654 32. My login came from 203.0.113.42.\n\n" +
		"Kind regards,\nJane Doe\n")
	return b.String()
}

func BenchmarkRedactEmail(b *testing.B) {
	r := New()
	text := benchmarkEmail()
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		doc := r.NewDocument()
		doc.Replace(TypePerson, "Jane Doe")
		doc.Replace(TypeEmail, "jane.doe@example.com")
		res := doc.Redact(text)
		if len(res.Entities) != 6 {
			b.Fatalf("got %d entities, want 6", len(res.Entities))
		}
	}
}
