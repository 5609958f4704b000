package h1

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// referenceHeader is what writeHeader must write: the extras set in a copy
// of h, written by net/http.
func referenceHeader(h http.Header, contentLength int64, date string) string {
	h = h.Clone()
	if h == nil {
		h = http.Header{}
	}
	if _, ok := h["Content-Length"]; !ok && contentLength >= 0 {
		h.Set("Content-Length", strconv.FormatInt(contentLength, 10))
	}
	if _, ok := h["Date"]; !ok && date != "" {
		h.Set("Date", date)
	}
	var b bytes.Buffer
	_ = h.Write(&b)
	return b.String()
}

func ownHeader(h http.Header, contentLength int64, date string) string {
	var b bytes.Buffer
	bw := bufio.NewWriterSize(&b, 64) // small, so that AppendInt meets a full buffer
	writeHeader(bw, h, contentLength, date)
	_ = bw.Flush()
	return b.String()
}

func TestWriteHeaderAsNetHTTP(t *testing.T) {
	date := "Sat, 05 Dec 2026 12:00:00 GMT"
	many := http.Header{}
	for i := range maxSortedFields + 3 {
		many.Set(fmt.Sprintf("X-Field-%02d", maxSortedFields+3-i), strconv.Itoa(i))
	}
	exactly := http.Header{}
	for i := range maxSortedFields - 1 {
		exactly.Set(fmt.Sprintf("X-F-%02d", i), "v")
	}
	cases := map[string]struct {
		h    http.Header
		cl   int64
		date string
	}{
		"chat reply": {http.Header{
			"Content-Type": {"application/json"}, "Cache-Control": {"no-store"},
			"X-Content-Type-Options": {"nosniff"}, "X-Keel-Route": {"gpt-4o-mini"},
			"X-Keel-Provider": {"mock"}, "X-Request-Id": {"abc"},
		}, 512, date},
		"none":                {nil, -1, ""},
		"extras only":         {http.Header{}, 0, date},
		"own date kept":       {http.Header{"Date": {"yesterday"}}, 5, date},
		"own length kept":     {http.Header{"Content-Length": {"7"}}, 5, ""},
		"newlines and spaces": {http.Header{"X-A": {" a\r\nb ", "\tc\n"}}, -1, ""},
		"invalid name":        {http.Header{"Bad Name": {"x"}, "Ok": {"y"}, "": {"z"}}, 1, ""},
		"several values":      {http.Header{"Set-Cookie": {"a=1", "b=2"}, "A": {"1"}}, 3, date},
		"lower-case name":     {http.Header{"content-type": {"text/plain"}, "Zz": {"1"}}, 9, date},
		"too many to sort":    {many, 42, date},
		"filled by extras":    {exactly, 42, date},
		"empty value":         {http.Header{"X-Empty": {""}, "X-None": {}}, -1, date},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got, want := ownHeader(c.h, c.cl, c.date), referenceHeader(c.h, c.cl, c.date); got != want {
				t.Fatalf("wrote\n%q\nnet/http writes\n%q", got, want)
			}
		})
	}
}

func FuzzWriteHeader(f *testing.F) {
	f.Add("Content-Type\x00application/json\x00X-Keel-Route\x00r", int64(12), true)
	f.Add("A\x00 x\r\ny \x00a\x00z\x00Date\x00d", int64(-1), false)
	f.Add(strings.Repeat("K\x00v\x00", 40), int64(0), true)
	f.Fuzz(func(t *testing.T, fields string, contentLength int64, withDate bool) {
		h := http.Header{}
		parts := strings.Split(fields, "\x00")
		for i := 0; i+1 < len(parts); i += 2 {
			h[parts[i]] = append(h[parts[i]], parts[i+1])
		}
		date := ""
		if withDate {
			date = "Sat, 05 Dec 2026 12:00:00 GMT"
		}
		if got, want := ownHeader(h, contentLength, date), referenceHeader(h, contentLength, date); got != want {
			t.Fatalf("header %q, length %d, date %q: wrote\n%q\nnet/http writes\n%q", h, contentLength, date, got, want)
		}
	})
}

// A reply's header is written without allocating.
func TestWriteHeaderAllocations(t *testing.T) {
	h := http.Header{
		"Content-Type": {"application/json"}, "Cache-Control": {"no-store"},
		"X-Content-Type-Options": {"nosniff"}, "X-Keel-Route": {"gpt-4o-mini"},
		"X-Keel-Provider": {"mock"}, "X-Request-Id": {"abc"},
	}
	bw := bufio.NewWriterSize(io.Discard, 4096)
	if n := testing.AllocsPerRun(100, func() {
		writeHeader(bw, h, 1234, "Sat, 05 Dec 2026 12:00:00 GMT")
	}); n != 0 {
		t.Fatalf("%v allocations per header written, want 0", n)
	}
}
