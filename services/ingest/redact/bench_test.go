package redact

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
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

// BenchmarkRedactEmailLatency redacts the same 4 KiB email and reports the
// 50th and 99th percentile of the time one redaction takes.
func BenchmarkRedactEmailLatency(b *testing.B) {
	r := New()
	text := benchmarkEmail()
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	samples := make([]time.Duration, 0, 1<<16)
	for b.Loop() {
		start := time.Now()
		doc := r.NewDocument()
		doc.Replace(TypePerson, "Jane Doe")
		doc.Replace(TypeEmail, "jane.doe@example.com")
		doc.Redact(text)
		if len(samples) < cap(samples) {
			samples = append(samples, time.Since(start))
		}
	}
	slices.Sort(samples)
	if len(samples) > 0 {
		b.ReportMetric(float64(samples[len(samples)/2].Nanoseconds()), "p50-ns")
		b.ReportMetric(float64(samples[len(samples)*99/100].Nanoseconds()), "p99-ns")
	}
}

// BenchmarkRedactLabelledSet redacts every record of the labelled test set
// in turn: real mixes of emails, chat, notes, diffs and logs, far denser in
// personal data than ordinary mail.
func BenchmarkRedactLabelledSet(b *testing.B) {
	texts := labelledTexts(b)
	total := 0
	for _, t := range texts {
		total += len(t)
	}
	r := New()
	b.SetBytes(int64(total))
	b.ReportAllocs()
	for b.Loop() {
		for _, t := range texts {
			r.NewDocument().Redact(t)
		}
	}
}

// labelledTexts reads the records of testdata/labelled with their markers
// taken out. It parses only what the benchmark needs: the evaluator in
// redacteval owns the format.
func labelledTexts(b *testing.B) []string {
	b.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "labelled", "*.txt"))
	if err != nil || len(files) == 0 {
		b.Fatalf("no labelled set in testdata/labelled: %v", err)
	}
	unmark := strings.NewReplacer("⟧", "")
	var texts []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		for _, rec := range strings.Split(string(data), "\n### ") {
			_, body, _ := strings.Cut(rec, "\n")
			var out strings.Builder
			for {
				i := strings.Index(body, "⟦")
				if i < 0 {
					break
				}
				out.WriteString(body[:i])
				body = body[i+len("⟦"):]
				if j := strings.IndexByte(body, '|'); j >= 0 {
					body = body[j+1:]
				}
			}
			out.WriteString(body)
			texts = append(texts, unmark.Replace(out.String()))
		}
	}
	return texts
}
